// Shapes of the admin answers not yet generated into api.gen.ts (they live in routing.rs,
// spend/mod.rs and admin.rs, which other work is reshaping): kept to the fields the UI reads.

export type TargetStatus = {
  target: string;
  /** healthy, open, half_open or misconfigured */
  state: string;
  consecutive_failures: number;
  retry_in_ms: number | null;
  in_flight: number;
  latency_avg_ms: number | null;
  last_error: string | null;
  misconfigured: string | null;
};

export type BudgetStatus = {
  name: string;
  description: string | null;
  period: string;
  usd: number;
  spent_usd: number;
  remaining_usd: number;
  alert_at: number;
  /** ok, alert or spent */
  state: string;
  when_spent: string;
  period_start: string;
  resets_at: string;
  timezone: string;
  charged_by: string[];
  /** prompt caching over the current period (spend/cache.rs) */
  cache: { input_tokens: number; cache_read_tokens: number; cache_share: number; uncached_usd: number };
};

export type BudgetsReport = {
  budgets: BudgetStatus[];
  unpriced_targets: string[];
  price_table: { source: string; as_of: string };
};

export type AliasInfo = {
  name: string;
  description: string | null;
  targets: string[];
  fallbacks: string[];
};

export type Readiness = {
  ready: boolean;
  config: { loaded: boolean; path: string | null; loaded_at_unix: number; providers: number; aliases: number };
  config_file: {
    revision: string | null;
    loaded_at_unix_ms: number;
    last_error: { at_unix_ms: number; message: string } | null;
  };
  database: { path: string; ok: boolean; error: string | null; written: number; dropped: number };
};

export type Status = { readiness: Readiness; aliases: AliasInfo[] };
