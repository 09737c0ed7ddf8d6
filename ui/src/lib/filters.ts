// The Logs page's filters and time range live in the URL (`#/logs?alias=x&status=5xx&range=1h`),
// so a view can be bookmarked, shared and survives a reload.

export type Filters = {
  alias: string;
  target: string;
  status: string;
  error_type: string;
  client: string;
  correlation_id: string;
  /** `15m`, `1h`, `24h`, `7d` or empty for all time */
  range: string;
};

export const EMPTY: Filters = {
  alias: '',
  target: '',
  status: '',
  error_type: '',
  client: '',
  correlation_id: '',
  range: '',
};

const RANGES: Record<string, number> = { '15m': 15 * 60_000, '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 };

export function rangeMs(range: string): number | null {
  return RANGES[range] ?? null;
}

export function parseFilters(search: string): Filters {
  const q = new URLSearchParams(search);
  const f = { ...EMPTY };
  for (const key of Object.keys(EMPTY) as (keyof Filters)[]) {
    f[key] = q.get(key) ?? '';
  }
  if (f.range && !(f.range in RANGES)) f.range = '';
  return f;
}

export function formatFilters(f: Filters): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) q.set(k, v);
  return q.toString();
}

/** The API query for these filters at time `now`. */
export function toQuery(f: Filters, now: number) {
  const span = rangeMs(f.range);
  return {
    alias: f.alias || null,
    target: f.target || null,
    status: f.status || null,
    error_type: f.error_type || null,
    client: f.client || null,
    correlation_id: f.correlation_id || null,
    from_ms: span === null ? null : now - span,
  };
}

type Row = { alias: string | null; target: string | null; status: number; error_type: string | null; client: string | null; correlation_id: string; ts_ms: number };

/** Whether a live row belongs in the filtered view (the server applies the same rules). */
export function matches(row: Row, f: Filters, now: number): boolean {
  if (f.alias && row.alias !== f.alias) return false;
  if (f.target && row.target !== f.target) return false;
  if (f.error_type && row.error_type !== f.error_type) return false;
  if (f.client && row.client !== f.client) return false;
  if (f.correlation_id && row.correlation_id !== f.correlation_id) return false;
  const failed = row.status >= 400 || row.error_type !== null;
  switch (f.status) {
    case '2xx':
      if (row.status < 200 || row.status >= 300) return false;
      break;
    case '4xx':
      if (!failed || row.status < 400 || row.status >= 500) return false;
      break;
    case '5xx':
      if (!failed || row.status < 500) return false;
      break;
    case 'error':
      if (!failed) return false;
      break;
  }
  const span = rangeMs(f.range);
  return span === null || row.ts_ms >= now - span;
}
