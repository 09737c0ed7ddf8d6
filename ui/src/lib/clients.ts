// Logic of the clients pages (tokens, Connect, Access, Playground) apart from the components,
// so tests need no browser; and their calls to the admin API.
import { apiUrl, call, CSRF_HEADER, ifMatch } from './api';
import type {
  AccessSettings,
  AccessUpdate,
  ClientKindList,
  ClientTokenList,
  ConnectSetup,
  ConnectWritten,
  CreateToken,
  PlaygroundRequest,
  RequestList,
  TokenCreated,
  TokenLimits,
  WriteOutcome,
} from './api.gen';

export const OBSIDIAN_ORIGIN = 'app://obsidian.md';

function send<T>(method: string, path: string, body?: unknown, revision?: string): Promise<T> {
  return call<T>(method, path, body, revision ? ifMatch(revision) : {});
}

function q(params: Record<string, string | undefined>): string {
  const s = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => !!e[1])).toString();
  return s ? '?' + s : '';
}

export const clientsApi = {
  tokens: () => send<ClientTokenList>('GET', '/admin/clients'),
  createToken: (request: CreateToken, revision: string) => send<TokenCreated>('POST', '/admin/tokens', request, revision),
  revokeToken: (name: string, revision: string) => send<WriteOutcome>('DELETE', `/admin/config/tokens/${encodeURIComponent(name)}`, undefined, revision),
  clients: () => send<ClientKindList>('GET', '/admin/connect'),
  setup: (client: string, alias: string, token: string, baseUrl: string) =>
    send<ConnectSetup>('GET', `/admin/connect/${encodeURIComponent(client)}` + q({ alias, token, base_url: baseUrl })),
  write: (client: string, alias: string, token: string, baseUrl: string, dryRun: boolean) =>
    send<ConnectWritten>('POST', `/admin/connect/${encodeURIComponent(client)}/write`, { alias, token: token || null, base_url: baseUrl, dry_run: dryRun }),
  access: () => send<AccessSettings>('GET', '/admin/access'),
  saveAccess: (update: AccessUpdate, revision: string) => send<WriteOutcome>('PUT', '/admin/access', update, revision),
  rowsFor: (correlationId: string) => send<RequestList>('GET', '/admin/requests' + q({ correlation_id: correlationId })),
  playground: (request: PlaygroundRequest, signal?: AbortSignal) =>
    fetch(apiUrl('/admin/playground'), {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', [CSRF_HEADER]: '1' },
      body: JSON.stringify(request),
      signal,
    }),
};

/** `a, b` or one per line → trimmed, non-empty, unique entries. */
export function parseList(text: string): string[] {
  const out: string[] = [];
  for (const item of text.split(/[\n,]/)) {
    const t = item.trim();
    if (t && !out.includes(t)) out.push(t);
  }
  return out;
}

/** Adds `item` unless there; removes it when there. */
export function toggle(list: string[], item: string): string[] {
  return list.includes(item) ? list.filter((x) => x !== item) : [...list, item];
}

/** Why `origin` would be refused by the gateway's validator, or null. */
export function originProblem(origin: string): string | null {
  if (origin === '*') return 'no wildcards: name each origin';
  const m = origin.match(/^([a-z][a-z0-9+.-]*):\/\/([^/?#\s]+)(.*)$/i);
  if (!m) return 'an origin looks like http://localhost:3000 or app://obsidian.md';
  if (m[3]) return 'an origin has no path (and no trailing slash)';
  return null;
}

/** Why `addr` is not a listen address (`0.0.0.0:4001`, `[::]:4001`), or null. */
export function listenProblem(addr: string): string | null {
  if (!addr) return null;
  const m = addr.match(/^(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:]+\]):(\d{1,5})$/i);
  if (!m || Number(m[2]) > 65535) return 'write it as IP:port, like 0.0.0.0:4001';
  return null;
}

/** "30 rpm · 50k tpm · 2 at once", or "none". */
export function limitsText(limits: TokenLimits | null | undefined): string {
  if (!limits) return 'none';
  const parts: string[] = [];
  if (limits.rpm != null) parts.push(`${limits.rpm} rpm`);
  if (limits.tpm != null) parts.push(`${limits.tpm >= 1000 ? Math.round(limits.tpm / 1000) + 'k' : limits.tpm} tpm`);
  if (limits.concurrent != null) parts.push(`${limits.concurrent} at once`);
  return parts.length ? parts.join(' · ') : 'none';
}

/** A number field's value, or null when empty; NaN stays out. */
export function optionalNumber(text: string): number | null {
  const t = text.trim();
  if (!t) return null;
  const n = Number(t);
  return Number.isFinite(n) && n >= 0 ? Math.floor(n) : null;
}

export type StreamUpdate = { text: string; usage: { input: number | null; output: number | null } | null };

/**
 * Reads a streamed answer as it arrives: OpenAI chat chunks, Anthropic message events or
 * Responses events; `push` takes raw text and returns what the new complete events added.
 */
export class StreamReader {
  private buffer = '';

  push(chunk: string): StreamUpdate {
    this.buffer += chunk;
    const update: StreamUpdate = { text: '', usage: null };
    let end: number;
    while ((end = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, end).replace(/\r$/, '');
      this.buffer = this.buffer.slice(end + 1);
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (!data || data === '[DONE]') continue;
      let v: Record<string, unknown>;
      try {
        v = JSON.parse(data);
      } catch {
        continue;
      }
      update.text += deltaText(v);
      const usage = usageOf(v);
      if (usage) update.usage = usage;
    }
    return update;
  }
}

function deltaText(v: Record<string, unknown>): string {
  const choices = v.choices as { delta?: { content?: string | null } }[] | undefined;
  if (Array.isArray(choices)) return choices.map((c) => c.delta?.content ?? '').join('');
  const delta = v.delta as { text?: string } | string | undefined;
  if (v.type === 'response.output_text.delta' && typeof delta === 'string') return delta;
  if (typeof delta === 'object' && delta?.text) return delta.text;
  return '';
}

function usageOf(v: Record<string, unknown>): StreamUpdate['usage'] {
  const u = (v.usage ?? (v.response as { usage?: unknown } | undefined)?.usage ?? (v.message as { usage?: unknown } | undefined)?.usage) as
    | Record<string, number | undefined>
    | null
    | undefined;
  if (!u) return null;
  const input = u.prompt_tokens ?? u.input_tokens ?? null;
  const output = u.completion_tokens ?? u.output_tokens ?? null;
  return input == null && output == null ? null : { input, output };
}

/** The text of a whole (not streamed) answer of any of the three APIs. */
export function answerText(body: unknown): string {
  const b = body as {
    choices?: { message?: { content?: string | null } }[];
    content?: { type: string; text?: string }[];
    output?: { content?: { text?: string }[] }[];
    output_text?: string;
  };
  if (b?.choices) return b.choices.map((c) => c.message?.content ?? '').join('');
  if (Array.isArray(b?.content)) return b.content.map((c) => c.text ?? '').join('');
  if (typeof b?.output_text === 'string') return b.output_text;
  if (Array.isArray(b?.output)) return b.output.flatMap((o) => o.content ?? []).map((c) => c.text ?? '').join('');
  return '';
}
