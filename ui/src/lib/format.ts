// Numbers and times as people read them.

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  if (value < 1) return `${value.toFixed(2)} ms`;
  if (value < 1000) return `${Math.round(value)} ms`;
  if (value < 60_000) return `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
  return `${Math.floor(value / 60_000)} min ${Math.round((value % 60_000) / 1000)} s`;
}

export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (value === 0) return '$0';
  if (Math.abs(value) < 0.01) return `$${value.toFixed(4)}`;
  return `$${value.toFixed(2)}`;
}

export function count(value: number | null | undefined): string {
  if (value === null || value === undefined) return '–';
  if (value < 1000) return String(value);
  if (value < 1_000_000) return `${(value / 1000).toFixed(value < 10_000 ? 1 : 0)}k`;
  return `${(value / 1_000_000).toFixed(1)}M`;
}

export function percent(part: number, whole: number): string {
  if (whole === 0) return '–';
  const p = (100 * part) / whole;
  return `${p < 10 && p > 0 ? p.toFixed(1) : Math.round(p)}%`;
}

// Made once: `toLocaleTimeString` builds a formatter per call, which the live tail pays per row.
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
const day = new Intl.DateTimeFormat(undefined, { dateStyle: 'short' });

export function time(tsMs: number, now: number = Date.now()): string {
  const hms = clock.format(tsMs);
  return startOfToday(now) === startOfToday(tsMs) ? hms : `${day.format(tsMs)} ${hms}`;
}

export function ago(tsMs: number, now: number = Date.now()): string {
  const s = Math.max(0, Math.round((now - tsMs) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86_400)} d ago`;
}

export function statusClass(status: number, errorType: string | null): 'ok' | 'warn' | 'err' {
  if (status >= 500 || (errorType && status < 400)) return 'err';
  if (status >= 400) return 'warn';
  return 'ok';
}

/** Start of today in local time. */
export function startOfToday(now: number = Date.now()): number {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}
