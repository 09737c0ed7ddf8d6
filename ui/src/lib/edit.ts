// The config editor's logic, free of the DOM so Vitest covers it: form ⇄ TOML value mapping
// for aliases, budgets, limits and prices (every field the schema has, crates/gateway/src/
// config/raw.rs), field errors matched to form fields, and unified diffs split into lines to
// render. The gateway validates; these only shape what is sent.

import type { FieldError } from './api.gen';

type Json = Record<string, unknown>;

/** Text inputs hold numbers as strings: '' means unset; other text is sent as it is, so the
 * gateway's validator names the field instead of the form guessing. */
function num(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  const n = Number(t);
  return Number.isFinite(n) ? n : t;
}

function str(value: unknown): string {
  return value === undefined || value === null ? '' : String(value);
}

/** Drops unset keys (and empty objects), so the file gets only what was set. */
function compact(obj: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(obj)) {
    if (v === undefined || v === '' || v === null) continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as Json).length === 0) continue;
    out[k] = v;
  }
  return out;
}

export type LimitsForm = { rpm: string; tpm: string; concurrent: string };
export const emptyLimits = (): LimitsForm => ({ rpm: '', tpm: '', concurrent: '' });

export function limitsToForm(value: unknown): LimitsForm {
  const v = (value ?? {}) as Json;
  return { rpm: str(v.rpm), tpm: str(v.tpm), concurrent: str(v.concurrent) };
}

export function formToLimits(form: LimitsForm): Json | undefined {
  const out = compact({ rpm: num(form.rpm), tpm: num(form.tpm), concurrent: num(form.concurrent) });
  return Object.keys(out).length ? out : undefined;
}

export type TimeoutsForm = { connect_s: string; first_byte_s: string; idle_s: string; total_s: string };
const emptyTimeouts = (): TimeoutsForm => ({ connect_s: '', first_byte_s: '', idle_s: '', total_s: '' });

export type TargetForm = {
  provider: string;
  model: string;
  weight: string;
  max_input_tokens: string;
  max_tokens: string;
  timeouts: TimeoutsForm;
  limits: LimitsForm;
};

export const emptyTarget = (provider = ''): TargetForm => ({
  provider,
  model: '',
  weight: '',
  max_input_tokens: '',
  max_tokens: '',
  timeouts: emptyTimeouts(),
  limits: emptyLimits(),
});

export type AliasForm = {
  description: string;
  targets: TargetForm[];
  fallbacks: string[];
  strategy: string;
  retries: { attempts: string; backoff_ms: string; max_retry_after_s: string };
  limits: LimitsForm;
  long_context: { above_tokens: string; alias: string };
  budget: string;
  /** '' = the default (on with more than one target). */
  affinity: '' | 'on' | 'off';
};

export const emptyAlias = (provider = ''): AliasForm => ({
  description: '',
  targets: [emptyTarget(provider)],
  fallbacks: [],
  strategy: '',
  retries: { attempts: '', backoff_ms: '', max_retry_after_s: '' },
  limits: emptyLimits(),
  long_context: { above_tokens: '', alias: '' },
  budget: '',
  affinity: '',
});

/** `provider/model` splits at the first slash: model ids may have slashes of their own. */
export function splitTarget(label: string): { provider: string; model: string } {
  const i = label.indexOf('/');
  return i < 0 ? { provider: '', model: label } : { provider: label.slice(0, i), model: label.slice(i + 1) };
}

function targetToForm(value: unknown): TargetForm {
  if (typeof value === 'string') return { ...emptyTarget(), ...splitTarget(value) };
  const v = (value ?? {}) as Json;
  const t = (v.timeouts ?? {}) as Json;
  return {
    ...splitTarget(str(v.model)),
    weight: str(v.weight),
    max_input_tokens: str(v.max_input_tokens),
    max_tokens: str(v.max_tokens),
    timeouts: { connect_s: str(t.connect_s), first_byte_s: str(t.first_byte_s), idle_s: str(t.idle_s), total_s: str(t.total_s) },
    limits: limitsToForm(v.limits),
  };
}

/** A target with no settings of its own is written short: `"provider/model"`. */
function formToTarget(form: TargetForm): unknown {
  const model = form.provider ? `${form.provider}/${form.model}` : form.model;
  const t = form.timeouts;
  const table = compact({
    model,
    weight: num(form.weight),
    max_input_tokens: num(form.max_input_tokens),
    max_tokens: num(form.max_tokens),
    timeouts: compact({ connect_s: num(t.connect_s), first_byte_s: num(t.first_byte_s), idle_s: num(t.idle_s), total_s: num(t.total_s) }),
    limits: formToLimits(form.limits),
  });
  return Object.keys(table).length === 1 ? model : table;
}

export function aliasToForm(value: unknown): AliasForm {
  const v = (value ?? {}) as Json;
  const r = (v.retries ?? {}) as Json;
  const lc = (v.long_context ?? {}) as Json;
  const targets = Array.isArray(v.targets) ? v.targets.map(targetToForm) : [];
  return {
    description: str(v.description),
    targets: targets.length ? targets : [emptyTarget()],
    fallbacks: Array.isArray(v.fallbacks) ? v.fallbacks.map(str) : [],
    strategy: str(v.strategy),
    retries: { attempts: str(r.attempts), backoff_ms: str(r.backoff_ms), max_retry_after_s: str(r.max_retry_after_s) },
    limits: limitsToForm(v.limits),
    long_context: { above_tokens: str(lc.above_tokens), alias: str(lc.alias) },
    budget: str(v.budget),
    affinity: v.affinity === true ? 'on' : v.affinity === false ? 'off' : '',
  };
}

export function formToAlias(form: AliasForm): Json {
  const r = form.retries;
  const lc = form.long_context;
  const fallbacks = form.fallbacks.map((f) => f.trim()).filter(Boolean);
  return compact({
    description: form.description.trim() || undefined,
    targets: form.targets.map(formToTarget),
    fallbacks: fallbacks.length ? fallbacks : undefined,
    strategy: form.strategy || undefined,
    retries: compact({ attempts: num(r.attempts), backoff_ms: num(r.backoff_ms), max_retry_after_s: num(r.max_retry_after_s) }),
    limits: formToLimits(form.limits),
    long_context: lc.above_tokens.trim() || lc.alias.trim() ? compact({ above_tokens: num(lc.above_tokens) ?? 0, alias: lc.alias.trim() }) : undefined,
    budget: form.budget || undefined,
    affinity: form.affinity === 'on' ? true : form.affinity === 'off' ? false : undefined,
  });
}

export type BudgetForm = {
  usd: string;
  period: string;
  alert_at: string;
  /** 'refuse', 'reroute' (to `reroute`) or '' (the default: refuse). */
  when_spent: '' | 'refuse' | 'reroute';
  reroute: string;
  description: string;
};

export const emptyBudget = (): BudgetForm => ({ usd: '', period: 'month', alert_at: '0.8', when_spent: 'refuse', reroute: '', description: '' });

export function budgetToForm(value: unknown): BudgetForm {
  const v = (value ?? {}) as Json;
  const ws = v.when_spent;
  const reroute = typeof ws === 'object' && ws !== null ? str((ws as Json).reroute) : '';
  return {
    usd: str(v.usd),
    period: str(v.period),
    alert_at: str(v.alert_at),
    when_spent: reroute ? 'reroute' : ws === 'refuse' ? 'refuse' : '',
    reroute,
    description: str(v.description),
  };
}

export function formToBudget(form: BudgetForm): Json {
  return compact({
    usd: num(form.usd),
    period: form.period,
    when_spent: form.when_spent === 'reroute' ? { reroute: form.reroute.trim() } : form.when_spent === 'refuse' ? 'refuse' : undefined,
    alert_at: num(form.alert_at),
    description: form.description.trim() || undefined,
  });
}

export type PriceForm = { input: string; output: string; cache_read: string; cache_write: string; cache_write_1h: string };
export const emptyPrice = (): PriceForm => ({ input: '', output: '', cache_read: '', cache_write: '', cache_write_1h: '' });

export function priceToForm(value: unknown): PriceForm {
  const v = (value ?? {}) as Json;
  return { input: str(v.input), output: str(v.output), cache_read: str(v.cache_read), cache_write: str(v.cache_write), cache_write_1h: str(v.cache_write_1h) };
}

export function formToPrice(form: PriceForm): Json {
  return compact({
    input: num(form.input),
    output: num(form.output),
    cache_read: num(form.cache_read),
    cache_write: num(form.cache_write),
    cache_write_1h: num(form.cache_write_1h),
  });
}

/** An entry (token or tenant) with its `limits` replaced and every other field kept. */
export function withLimits(value: unknown, limits: LimitsForm): Json {
  const out: Json = { ...((value ?? {}) as Json) };
  const l = formToLimits(limits);
  if (l) out.limits = l;
  else delete out.limits;
  return out;
}

/** A key as TOML writes it in a dotted path (the gateway's `toml_key`). */
export function tomlKey(key: string): string {
  return /^[A-Za-z0-9_-]+$/.test(key) ? key : JSON.stringify(key);
}

/** Errors of one entry, keyed by the field path inside it (`targets[0].model`; '' for the
 * entry itself). Errors elsewhere in the file come back under `other`. */
export function errorsByField(errors: FieldError[], section: string, name: string): { fields: Map<string, string[]>; other: FieldError[] } {
  const prefix = `${section}.${tomlKey(name)}`;
  const fields = new Map<string, string[]>();
  const other: FieldError[] = [];
  for (const e of errors) {
    const path = e.path ?? '';
    let field: string | null = null;
    if (path === prefix) field = '';
    else if (path.startsWith(prefix + '.')) field = path.slice(prefix.length + 1);
    else if (path.startsWith(prefix + '[')) field = path.slice(prefix.length);
    if (field === null) other.push(e);
    else fields.set(field, [...(fields.get(field) ?? []), e.message]);
  }
  return { fields, other };
}

/** Messages for `field` and everything under it (`targets[0]` takes `targets[0].model`). */
export function fieldMessages(fields: Map<string, string[]>, field: string, exact = false): string[] {
  const out: string[] = [];
  for (const [k, v] of fields) {
    if (k === field || (!exact && (k.startsWith(field + '.') || k.startsWith(field + '[')))) out.push(...v);
  }
  return out;
}

export type DiffLine = { kind: 'add' | 'del' | 'ctx' | 'hunk' | 'file'; text: string; old: number | null; new: number | null };

/** A unified diff as lines with their kind and numbers in the old and new file. */
export function parseDiff(diff: string): DiffLine[] {
  const out: DiffLine[] = [];
  let oldNo = 0;
  let newNo = 0;
  if (!diff) return out;
  const lines = diff.split('\n');
  if (diff.endsWith('\n')) lines.pop();
  for (const line of lines) {
    if (line.startsWith('--- ') || line.startsWith('+++ ')) {
      out.push({ kind: 'file', text: line, old: null, new: null });
    } else if (line.startsWith('@@')) {
      const m = line.match(/^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/);
      oldNo = m ? Number(m[1]) : 0;
      newNo = m ? Number(m[2]) : 0;
      out.push({ kind: 'hunk', text: line, old: null, new: null });
    } else if (line.startsWith('+')) {
      out.push({ kind: 'add', text: line.slice(1), old: null, new: newNo++ });
    } else if (line.startsWith('-')) {
      out.push({ kind: 'del', text: line.slice(1), old: oldNo++, new: null });
    } else if (line.startsWith('\\')) {
      out.push({ kind: 'ctx', text: line, old: null, new: null });
    } else {
      out.push({ kind: 'ctx', text: line.slice(1), old: oldNo++, new: newNo++ });
    }
  }
  return out;
}

/** Lines added and removed. */
export function diffStat(diff: string): { added: number; removed: number } {
  const lines = parseDiff(diff);
  return { added: lines.filter((l) => l.kind === 'add').length, removed: lines.filter((l) => l.kind === 'del').length };
}

/** Calls `fn` once `ms` after the last call. */
export function debounce<A extends unknown[]>(fn: (...args: A) => void, ms: number): ((...args: A) => void) & { cancel: () => void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const wrapped = (...args: A) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}
