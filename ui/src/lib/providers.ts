// The providers vertical's calls (config CRUD with If-Match, keys, models, test connection,
// discovery, Copilot login) and the pure logic the Providers page and onboarding share.
import { ApiError, call, ifMatch } from './api';
import type {
  BackendModels,
  ConfigEntry,
  ConfigListing,
  ConnectionTest,
  CopilotLogin,
  DiscoverAdded,
  DiscoverReport,
  HealthReport,
  KeyList,
  ProposedEntry,
  WriteOutcome,
} from './api.gen';

const STALE =
  'The config file changed on disk since this page read it: review the new version (the page has reloaded it) and try again.';

async function send<T>(method: string, path: string, body?: unknown, revision?: string): Promise<T> {
  try {
    return await call<T>(method, path, body, revision ? ifMatch(revision) : {});
  } catch (e) {
    if (e instanceof ApiError && e.code === 'stale_revision') throw new ApiError(STALE, e.status, e.code);
    throw e;
  }
}

const enc = encodeURIComponent;

export const providersApi = {
  list: () => send<ConfigListing>('GET', '/admin/config/providers'),
  aliases: () => send<ConfigListing>('GET', '/admin/config/aliases'),
  create: (section: string, entry: ConfigEntry, revision: string) =>
    send<WriteOutcome>('POST', `/admin/config/${section}`, entry, revision),
  update: (section: string, name: string, value: unknown, revision: string) =>
    send<WriteOutcome>('PUT', `/admin/config/${section}/${enc(name)}`, value, revision),
  remove: (section: string, name: string, revision: string) =>
    send<WriteOutcome>('DELETE', `/admin/config/${section}/${enc(name)}`, undefined, revision),
  keys: () => send<KeyList>('GET', '/admin/keys'),
  health: () => send<HealthReport>('GET', '/health'),
  setKey: (name: string, value: string) => send<unknown>('PUT', `/admin/keys/${enc(name)}`, { value }),
  deleteKey: (name: string) => send<unknown>('DELETE', `/admin/keys/${enc(name)}`),
  models: (provider: string) => send<BackendModels>('GET', `/admin/providers/${enc(provider)}/models`),
  test: (provider: string) => send<ConnectionTest>('POST', `/admin/providers/${enc(provider)}/test`, {}),
  testUnsaved: (name: string, value: unknown, key?: string) =>
    send<ConnectionTest>('POST', '/admin/providers/test', { name, value, key: key?.trim() || null }),
  discover: (q = '') => send<DiscoverReport>('GET', '/admin/discover' + q),
  discoverAdd: (entries: ProposedEntry[], revision: string) =>
    send<DiscoverAdded>('POST', '/admin/discover/add', { entries }, revision),
  copilotLogin: (provider: string) => send<CopilotLogin>('POST', '/admin/copilot/login', { provider }),
  copilotPoll: (id: string) => send<CopilotLogin>('GET', `/admin/copilot/login/${enc(id)}`),
};

export type Kind = 'openai' | 'anthropic' | 'gemini' | 'github_copilot' | 'demo';

export const KINDS: { kind: Kind; label: string; base_url: string; key: boolean }[] = [
  { kind: 'openai', label: 'OpenAI-compatible (OpenAI, Ollama, vLLM, llama.cpp, LM Studio, OpenRouter, …)', base_url: 'https://api.openai.com/v1', key: true },
  { kind: 'anthropic', label: 'Anthropic', base_url: 'https://api.anthropic.com', key: true },
  { kind: 'gemini', label: 'Google Gemini', base_url: 'https://generativelanguage.googleapis.com/v1beta', key: true },
  { kind: 'github_copilot', label: 'GitHub Copilot (log in with GitHub)', base_url: '', key: false },
  { kind: 'demo', label: 'Built-in demo (no backend)', base_url: '', key: false },
];

/** What the add/edit dialog edits; everything else in the entry is kept as it was. */
export type ProviderForm = {
  name: string;
  kind: Kind;
  base_url: string;
  api_key: string;
  github_url: string;
};

export function kindOf(value: unknown): Kind {
  const kind = (value as { kind?: string } | null)?.kind;
  return KINDS.some((k) => k.kind === kind) ? (kind as Kind) : 'openai';
}

/** A keychain name for a provider: letters, digits, `-`, `_`, `.` (what the keychain takes). */
export function keyName(provider: string): string {
  return provider.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'key';
}

export function blankForm(kind: Kind = 'openai', name = ''): ProviderForm {
  const k = KINDS.find((x) => x.kind === kind) ?? KINDS[0];
  return {
    name,
    kind,
    base_url: k.base_url,
    api_key: k.key ? `keychain:${keyName(name || kind)}` : kind === 'github_copilot' ? 'keychain:github_copilot' : '',
    github_url: '',
  };
}

export function formFrom(name: string, value: unknown): ProviderForm {
  const v = (value ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : '');
  return { name, kind: kindOf(v), base_url: str('base_url'), api_key: str('api_key'), github_url: str('github_url') };
}

/** The config entry for `form`, on top of `previous` (fields the dialog does not show are kept). */
export function entryFrom(form: ProviderForm, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const out: Record<string, unknown> = { ...previous, kind: form.kind };
  const set = (k: string, v: string) => {
    if (v.trim()) out[k] = v.trim();
    else delete out[k];
  };
  if (form.kind === 'demo') {
    for (const k of ['base_url', 'api_key', 'github_url']) delete out[k];
    return out;
  }
  if (form.kind === 'github_copilot') {
    delete out.base_url;
    set('github_url', form.github_url);
  } else {
    set('base_url', form.base_url);
    delete out.github_url;
  }
  set('api_key', form.api_key);
  return out;
}

/** The keychain entry a reference names (`keychain:openai` → `openai`), else null. */
export function keychainName(reference: string | null | undefined): string | null {
  const m = /^keychain:(.+)$/.exec((reference ?? '').trim());
  return m ? m[1] : null;
}

/** Problems a person can fix before saving; the gateway's validator has the last word. */
export function formProblems(form: ProviderForm, taken: string[], editing: boolean): string[] {
  const out: string[] = [];
  if (!form.name.trim()) out.push('Give the provider a name (used in targets: name/model).');
  else if (form.name.includes('/')) out.push('A provider name cannot contain “/”: targets are written provider/model.');
  else if (!editing && taken.includes(form.name.trim())) out.push(`A provider named “${form.name}” exists already.`);
  if ((form.kind === 'openai' || form.kind === 'anthropic' || form.kind === 'gemini') && form.base_url.trim()) {
    try {
      const u = new URL(form.base_url.trim());
      if (u.protocol !== 'http:' && u.protocol !== 'https:') out.push('The base URL must start with http:// or https://.');
    } catch {
      out.push('The base URL is not a URL (e.g. http://127.0.0.1:11434/v1).');
    }
  }
  if (form.kind === 'openai' && !form.base_url.trim()) out.push('An OpenAI-compatible provider needs a base URL.');
  if (form.api_key.trim() && !/^(keychain|env|file):.+/.test(form.api_key.trim()))
    out.push('The key reference is keychain:NAME, env:VAR or file:PATH — never the key itself (type the key in the key field).');
  return out;
}

/** An alias name for a backend model (`ollama` + `qwen2.5:7b` → `ollama/qwen2.5:7b`), unique among `taken`. */
export function aliasFor(provider: string, model: string, taken: string[]): string {
  const base = `${provider}/${model}`;
  if (!taken.includes(base)) return base;
  for (let n = 2; ; n++) if (!taken.includes(`${base}-${n}`)) return `${base}-${n}`;
}

/** The alias entry that sends an alias to one backend model. */
export function aliasEntry(provider: string, model: string): Record<string, unknown> {
  return { description: `${model} on ${provider} (added from the dashboard)`, targets: [`${provider}/${model}`] };
}

/** True when the config has nothing but the built-in demo: the overview then offers onboarding. */
export function isEmptyConfig(providers: ConfigEntry[], aliases: ConfigEntry[]): boolean {
  const realProviders = providers.filter((p) => kindOf(p.value) !== 'demo');
  const realAliases = aliases.filter((a) => {
    const targets = ((a.value as { targets?: unknown[] } | null)?.targets ?? []).map((t) =>
      typeof t === 'string' ? t : String((t as { model?: string }).model ?? ''),
    );
    return !targets.every((t) => providers.some((p) => kindOf(p.value) === 'demo' && t.startsWith(p.name + '/')));
  });
  return realProviders.length === 0 && realAliases.length === 0;
}

/** The proposals to write for the chosen servers: each chosen server's provider and aliases. */
export function chosenEntries(proposed: ProposedEntry[], chosen: Set<string>): ProposedEntry[] {
  return proposed.filter((p) => chosen.has(p.base_url));
}

export function severityTone(severity: string): 'ok' | 'warn' | 'err' {
  return severity === 'ok' ? 'ok' : severity === 'warning' ? 'warn' : 'err';
}
