// The one way the UI talks to the gateway: same-origin fetches under the page's own base (so a
// reverse-proxy prefix works), the session cookie, the CSRF header on writes, and errors in words.
import type { RequestDetail, RequestList, RequestQuery, SessionInfo, Stats, StatsQuery } from './api.gen';
import type { BudgetsReport, Status, TargetStatus } from './types';

export const CSRF_HEADER = 'x-switchboard-csrf';

/** An answer that was not a success, with a sentence a person can act on. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

/** The gateway's root URL as seen from this page (`…/ui/` → `…/`). */
export function gatewayRoot(href: string = location.href): string {
  const url = new URL(href);
  url.hash = '';
  url.search = '';
  url.pathname = url.pathname.replace(/\/ui(\/.*)?$/, '/');
  return url.toString();
}

export function apiUrl(path: string, root: string = gatewayRoot()): string {
  return new URL(path.replace(/^\//, ''), root).toString();
}

/** Query string from an object, skipping empty values. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export function describe(status: number, body: unknown): { message: string; code: string } {
  const error = (body as { error?: { message?: string; code?: string } } | null)?.error;
  if (status === 401) {
    return {
      message: 'You are not logged in (or the session ended when the gateway restarted). Run `switchboard dashboard` in a terminal for a new login link.',
      code: error?.code ?? 'unauthorized',
    };
  }
  if (error?.message) return { message: error.message, code: error.code ?? 'error' };
  return { message: `The gateway answered ${status} without an explanation.`, code: 'http_' + status };
}

/** The header a write sends so it applies only to the config revision the page read. */
export const ifMatch = (revision: string): Record<string, string> => ({ 'if-match': `"${revision}"` });

export async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(apiUrl(path), {
      method,
      credentials: 'same-origin',
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(method === 'GET' ? {} : { [CSRF_HEADER]: '1' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError('Switchboard is not answering. Is `switchboard serve` (or the tray app) running?', 0, 'unreachable');
  }
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!response.ok) {
    const { message, code } = describe(response.status, parsed);
    throw new ApiError(message, response.status, code);
  }
  return parsed as T;
}

export const api = {
  session: () => call<SessionInfo>('GET', '/admin/session'),
  logout: () => call<null>('POST', '/admin/logout'),
  status: () => call<Status>('GET', '/admin/status'),
  requests: (q: Partial<RequestQuery>) => call<RequestList>('GET', '/admin/requests' + query(q)),
  request: (id: number) => call<RequestDetail>('GET', `/admin/requests/${id}`),
  stats: (q: Partial<StatsQuery>) => call<Stats>('GET', '/admin/stats' + query(q)),
  targets: () => call<{ targets: TargetStatus[] }>('GET', '/admin/targets'),
  resetTarget: (target: string | null) =>
    call<{ reset: number; targets: TargetStatus[] }>('POST', '/admin/targets/reset', { target }),
  budgets: () => call<BudgetsReport>('GET', '/admin/budgets'),
};
