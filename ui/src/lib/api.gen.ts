// Generated from crates/gateway/src/api.rs by `UPDATE_TS=1 cargo test -p switchboard-gateway --lib api`; do not edit.

export type RequestQuery = { alias: string | null, target: string | null, 
/**
 * `2xx`, `4xx`, `5xx` or `error` (any status from 400 on, or a failed stream).
 */
status: string | null, error_type: string | null, client: string | null, correlation_id: string | null, 
/**
 * Unix milliseconds, inclusive.
 */
from_ms: number | null, 
/**
 * Unix milliseconds, exclusive.
 */
to_ms: number | null, 
/**
 * `next_cursor` of the previous page.
 */
cursor: string | null, 
/**
 * Rows per page (default 100, at most 1000).
 */
limit: number | null, };

export type RequestRow = { 
/**
 * The row id: the `Last-Event-ID` of `GET /admin/events`.
 */
id: number, ts_ms: number, correlation_id: string, endpoint: string, requested_model: string | null, alias: string | null, target: string | null, provider: string | null, status: number, error_type: string | null, latency_ms: number, ttft_ms: number | null, input_tokens: number | null, output_tokens: number | null, streamed: boolean, client: string | null, tenant: string | null, cost_usd: number | null, };

export type RequestList = { rows: Array<RequestRow>, 
/**
 * Pass as `cursor` for the next (older) page; `None` on the last page.
 */
next_cursor: string | null, };

export type Attempt = { target: string | null, outcome: string | null, ms: number | null, note: string | null, };

export type CapturedBodies = { 
/**
 * The client's JSON body.
 */
request: string | null, 
/**
 * The JSON answer, or for a stream the events as sent (`data: ...` lines).
 */
response: string | null, 
/**
 * Either body was cut at `capture_max_kb`.
 */
truncated: boolean, };

export type RequestDetail = { row: RequestRow, attempts: Array<Attempt>, 
/**
 * `None` when bodies were not captured for this request.
 */
bodies: CapturedBodies | null, };

export type GroupBy = "alias" | "target" | "client";

export type StatsQuery = { 
/**
 * Default: 24 hours before `to_ms`.
 */
from_ms: number | null, 
/**
 * Default: now.
 */
to_ms: number | null, 
/**
 * Default: the smallest round step (1 s to 1 day) giving at most 60 buckets. At most
 * 2,000 buckets. Whole-minute (hour) steps round `from_ms` down to the minute (hour).
 */
step_ms: number | null, group_by: GroupBy | null, };

export type StatsBucket = { 
/**
 * Bucket start (unix ms); the range start for totals.
 */
t_ms: number, 
/**
 * The alias, target or client; `None` without grouping (or for rows without one).
 */
group: string | null, count: number, 
/**
 * Requests answered with a status from 400 on, or streams that failed after starting.
 */
errors: number, latency_p50_ms: number | null, latency_p95_ms: number | null, ttft_p50_ms: number | null, ttft_p95_ms: number | null, input_tokens: number, output_tokens: number, cost_usd: number, };

export type Stats = { from_ms: number, to_ms: number, step_ms: number, group_by: GroupBy | null, 
/**
 * Only buckets with requests, ordered by time then group.
 */
buckets: Array<StatsBucket>, totals: StatsBucket, };

export type LoginLink = { 
/**
 * Path and query, relative to the gateway's base URL (`/admin/login?code=...`).
 */
path: string, expires_in_s: number, };

export type SessionInfo = { 
/**
 * `session` (the dashboard's cookie) or `bearer` (the admin secret or token).
 */
via: string, 
/**
 * Send this header (any value) with POST/PUT/DELETE when using the cookie.
 */
csrf_header: string, 
/**
 * The address the gateway listens on, as configured.
 */
listen: string, version: string, };

export type GatewayEvent = { "type": "config_reloaded", revision: string, } | { "type": "config_rejected", message: string, } | { "type": "breaker_opened", target: string, reason: string, retry_in_ms: number, } | { "type": "breaker_closed", target: string, } | { "type": "target_misconfigured", target: string, reason: string, } | { "type": "budget_alert", budget: string, spent_usd: number, limit_usd: number, alert_at: number, period: string, resets_at: string, } | { "type": "budget_spent", budget: string, spent_usd: number, limit_usd: number, period: string, resets_at: string, };
