//! The admin API's wire contract: every request and answer body of `/admin/*` and `/health*`,
//! one definition used by the HTTP handlers (`server::admin`, `server::dashboard`), the typed
//! client (`admin_client`, used by the CLI) and, generated with ts-rs into
//! `ui/src/lib/api.gen.ts`, the dashboard. Change a type here and `cargo test` tells you to
//! regenerate the TypeScript (`UPDATE_TS=1 cargo test -p switchboard-gateway --lib api`).
//! The same types describe the endpoints in the OpenAPI document (`GET /admin/openapi.json`).
//!
//! These are copies of the internal state's shape, not the internal types themselves
//! (`admin` converts): the contract changes only when this file does. A leaf: no `crate::`
//! imports.

mod edit;
pub use edit::*;

use serde::{Deserialize, Serialize};
#[cfg(test)]
use ts_rs::TS;

mod clients;
mod otel;
pub use clients::*;
mod providers;
pub use otel::TraceExport;
pub use providers::*;

/// Filters for `GET /admin/requests`; every one optional, all must match.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[cfg_attr(test, derive(TS))]
pub struct RequestQuery {
    pub alias: Option<String>,
    pub target: Option<String>,
    /// `2xx`, `4xx`, `5xx` or `error` (any status from 400 on, or a failed stream).
    pub status: Option<String>,
    pub error_type: Option<String>,
    pub client: Option<String>,
    pub correlation_id: Option<String>,
    /// Unix milliseconds, inclusive.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub from_ms: Option<i64>,
    /// Unix milliseconds, exclusive.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub to_ms: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Rows per page (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// One row of the request log.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct RequestRow {
    /// The row id: the `Last-Event-ID` of `GET /admin/events`.
    #[cfg_attr(test, ts(type = "number"))]
    pub id: i64,
    #[cfg_attr(test, ts(type = "number"))]
    pub ts_ms: i64,
    pub correlation_id: String,
    pub endpoint: String,
    pub requested_model: Option<String>,
    pub alias: Option<String>,
    pub target: Option<String>,
    pub provider: Option<String>,
    pub status: u16,
    pub error_type: Option<String>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    #[cfg_attr(test, ts(type = "number | null"))]
    pub input_tokens: Option<i64>,
    #[cfg_attr(test, ts(type = "number | null"))]
    pub output_tokens: Option<i64>,
    pub streamed: bool,
    pub client: Option<String>,
    pub tenant: Option<String>,
    pub cost_usd: Option<f64>,
}

/// A page of `GET /admin/requests`, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct RequestList {
    pub rows: Vec<RequestRow>,
    /// Pass as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One step on the path a request took: a target tried (with its outcome and time) or a
/// routing note (e.g. a long-context reroute).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct Attempt {
    pub target: Option<String>,
    pub outcome: Option<String>,
    pub ms: Option<f64>,
    pub note: Option<String>,
}

/// Bodies kept with `[database] capture_bodies`, credentials redacted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct CapturedBodies {
    /// The client's JSON body.
    pub request: Option<String>,
    /// The JSON answer, or for a stream the events as sent (`data: ...` lines).
    pub response: Option<String>,
    /// Either body was cut at `capture_max_kb`.
    pub truncated: bool,
}

/// `GET /admin/requests/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct RequestDetail {
    pub row: RequestRow,
    pub attempts: Vec<Attempt>,
    /// `None` when bodies were not captured for this request.
    pub bodies: Option<CapturedBodies>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Alias,
    Target,
    Client,
}

impl GroupBy {
    pub fn column(self) -> &'static str {
        match self {
            GroupBy::Alias => "alias",
            GroupBy::Target => "target",
            GroupBy::Client => "client",
        }
    }
}

/// `GET /admin/stats`: `[from_ms, to_ms)` in buckets of `step_ms`, optionally per group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[cfg_attr(test, derive(TS))]
pub struct StatsQuery {
    /// Default: 24 hours before `to_ms`.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub from_ms: Option<i64>,
    /// Default: now.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub to_ms: Option<i64>,
    /// Default: the smallest round step (1 s to 1 day) giving at most 60 buckets. At most
    /// 2,000 buckets. Whole-minute (hour) steps round `from_ms` down to the minute (hour).
    #[cfg_attr(test, ts(type = "number | null"))]
    pub step_ms: Option<i64>,
    pub group_by: Option<GroupBy>,
}

/// Counts and percentiles for one time bucket (and group), or for the whole range.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct StatsBucket {
    /// Bucket start (unix ms); the range start for totals.
    #[cfg_attr(test, ts(type = "number"))]
    pub t_ms: i64,
    /// The alias, target or client; `None` without grouping (or for rows without one).
    pub group: Option<String>,
    pub count: u32,
    /// Requests answered with a status from 400 on, or streams that failed after starting.
    pub errors: u32,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    #[cfg_attr(test, ts(type = "number"))]
    pub input_tokens: i64,
    #[cfg_attr(test, ts(type = "number"))]
    pub output_tokens: i64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct Stats {
    #[cfg_attr(test, ts(type = "number"))]
    pub from_ms: i64,
    #[cfg_attr(test, ts(type = "number"))]
    pub to_ms: i64,
    #[cfg_attr(test, ts(type = "number"))]
    pub step_ms: i64,
    pub group_by: Option<GroupBy>,
    /// Only buckets with requests, ordered by time then group.
    pub buckets: Vec<StatsBucket>,
    pub totals: StatsBucket,
}

/// `POST /admin/login-links`: a one-time link to open the dashboard with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct LoginLink {
    /// Path and query, relative to the gateway's base URL (`/admin/login?code=...`).
    pub path: String,
    pub expires_in_s: u32,
}

/// `GET /admin/session`: who is calling and how to make state-changing calls.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct SessionInfo {
    /// `session` (the dashboard's cookie) or `bearer` (the admin secret or token).
    pub via: String,
    /// Send this header (any value) with POST/PUT/DELETE when using the cookie.
    pub csrf_header: String,
    /// The address the gateway listens on, as configured.
    pub listen: String,
    pub version: String,
}

/// One problem in a config file, with a 1-based line and column.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct Diagnostic {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// A reload that was refused; the previous config keeps serving.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ReloadFailure {
    #[cfg_attr(test, ts(type = "number"))]
    pub at_unix_ms: u64,
    /// `file:line:col: message` lines (or one line for a read error).
    pub message: String,
    pub diagnostics: Vec<Diagnostic>,
}

/// What the gateway knows about its config file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConfigFileState {
    /// Content hash of the text now serving; `None` on the embedded default.
    pub revision: Option<String>,
    #[cfg_attr(test, ts(type = "number"))]
    pub loaded_at_unix_ms: u64,
    /// The last rejected reload, cleared by the next successful one.
    pub last_error: Option<ReloadFailure>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConfigStatus {
    pub loaded: bool,
    /// `None` when running on the embedded default.
    pub path: Option<String>,
    #[cfg_attr(test, ts(type = "number"))]
    pub loaded_at_unix: u64,
    pub providers: usize,
    pub aliases: usize,
}

/// The request log: writes, drops, size and retention.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct LogHealth {
    pub path: String,
    pub ok: bool,
    pub error: Option<String>,
    #[cfg_attr(test, ts(type = "number"))]
    pub written: u64,
    #[cfg_attr(test, ts(type = "number"))]
    pub dropped: u64,
    /// At start the file at the path was not a usable log and was moved here, with why.
    pub set_aside: Option<String>,
    /// Bytes in use, as of the last pruning pass.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub size_bytes: Option<u64>,
    #[cfg_attr(test, ts(type = "number | null"))]
    pub oldest_ts_ms: Option<i64>,
    /// The oldest row's time, RFC 3339 in UTC.
    pub oldest_at: Option<String>,
    /// Rows pruned since start.
    #[cfg_attr(test, ts(type = "number"))]
    pub pruned_rows: u64,
    pub retain_days: Option<f64>,
    pub max_mb: Option<f64>,
}

/// The spend ledger (never drops rows: spills to memory and retries).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct LedgerHealth {
    pub ok: bool,
    pub error: Option<String>,
    #[cfg_attr(test, ts(type = "number"))]
    pub written: u64,
    /// Rows waiting for the database (in the queue or spilled to memory).
    #[cfg_attr(test, ts(type = "number"))]
    pub pending: u64,
}

/// `GET /health/readiness` (503 when not ready) and part of `GET /admin/status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct Readiness {
    /// A config is loaded and the request log and the spend ledger are writable.
    pub ready: bool,
    pub config: ConfigStatus,
    /// Revision and the last rejected reload, if any (the previous config keeps serving).
    pub config_file: ConfigFileState,
    pub database: LogHealth,
    pub spend_ledger: LedgerHealth,
    #[serde(default)]
    pub trace_export: TraceExport,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct AliasInfo {
    pub name: String,
    pub description: Option<String>,
    /// `provider/model`, in the config's order.
    pub targets: Vec<String>,
    pub fallbacks: Vec<String>,
}

/// `GET /admin/status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct StatusReport {
    pub readiness: Readiness,
    pub aliases: Vec<AliasInfo>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum BreakerPhase {
    #[default]
    Closed,
    Open,
    HalfOpen,
}

/// Why a breaker opened. Only `slowness` leaves the target usable as an alias's last resort.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum OpenedFor {
    Slowness,
    Failures,
}

/// Routing state of one target (`provider/model`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct TargetStatus {
    pub target: String,
    /// `healthy`, `open`, `half_open` or `misconfigured`.
    pub state: String,
    pub breaker: BreakerPhase,
    /// While not closed: why it opened.
    pub opened_for: Option<OpenedFor>,
    pub consecutive_failures: u32,
    #[cfg_attr(test, ts(type = "number | null"))]
    pub retry_in_ms: Option<u64>,
    pub in_flight: u32,
    pub latency_avg_ms: Option<f64>,
    pub last_error: Option<String>,
    pub misconfigured: Option<String>,
}

impl TargetStatus {
    /// Open or misconfigured: not taking requests.
    pub fn is_down(&self) -> bool {
        matches!(self.state.as_str(), "open" | "misconfigured")
    }
}

/// `GET /admin/targets`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct TargetList {
    pub targets: Vec<TargetStatus>,
}

/// `POST /admin/targets/reset` (an empty body resets every target).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ResetTargets {
    /// `provider/model`; absent resets every target.
    #[serde(default)]
    pub target: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ResetOutcome {
    /// How many targets were reset.
    pub reset: usize,
    pub targets: Vec<TargetStatus>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct BackendHealth {
    pub provider: String,
    pub kind: String,
    pub up: bool,
    pub latency_ms: f64,
    pub error: Option<String>,
}

/// `GET /health` (503 when a backend is down).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct HealthReport {
    /// Every backend answered its probe. The log and ledger are reported, not judged here.
    pub healthy: bool,
    pub backends: Vec<BackendHealth>,
    pub targets: Vec<TargetStatus>,
    pub database: LogHealth,
    pub spend_ledger: LedgerHealth,
}

/// A budget's prompt-cache figures for its current period.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct CacheSavings {
    #[cfg_attr(test, ts(type = "number"))]
    pub input_tokens: u64,
    #[cfg_attr(test, ts(type = "number"))]
    pub cache_read_tokens: u64,
    /// `cache_read_tokens / input_tokens` (0 without input).
    pub cache_share: f64,
    /// The period's spend with every input token at the input rate.
    pub uncached_usd: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct BudgetStatus {
    pub name: String,
    pub description: Option<String>,
    /// `day`, `week` or `month`.
    pub period: String,
    pub usd: f64,
    pub spent_usd: f64,
    pub remaining_usd: f64,
    pub alert_at: f64,
    /// `ok`, `alert` (past the alert threshold) or `spent`.
    pub state: String,
    /// `refuse`, or `reroute:ALIAS`.
    pub when_spent: String,
    pub period_start: String,
    pub resets_at: String,
    pub timezone: String,
    /// Who counts against it: `provider:x`, `alias:y`, `token:z`, `tenant:w`.
    pub charged_by: Vec<String>,
    pub cache: CacheSavings,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct PriceTableInfo {
    pub source: String,
    pub as_of: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct PriceFileInfo {
    pub path: String,
    pub source: String,
    pub as_of: String,
    /// Models it prices.
    pub models: usize,
}

/// `GET /admin/budgets`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct BudgetsReport {
    pub budgets: Vec<BudgetStatus>,
    /// Cloud targets without a known price: their spend is not counted until one is set.
    pub unpriced_targets: Vec<String>,
    pub price_table: PriceTableInfo,
    /// The price file `[spend] prices_file` names, which wins over the built-in table.
    pub price_file: Option<PriceFileInfo>,
}

/// One secret reference in the config and where it lives. Never carries the value.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct KeyInfo {
    /// The keychain name, variable or path.
    pub name: String,
    /// `keychain`, `env` or `file`.
    pub location: String,
    pub reference: String,
    /// Who uses it: `provider openai`, `server.admin_token`.
    pub used_by: Vec<String>,
    pub present: bool,
    /// Why it cannot be read, when it cannot.
    pub problem: Option<String>,
}

/// `GET /admin/keys`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct KeyList {
    pub keys: Vec<KeyInfo>,
}

/// `PUT /admin/keys/{name}`: the value to store. Never logged or echoed.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct KeyValue {
    pub value: String,
}

impl std::fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyValue { value: <redacted> }")
    }
}

/// The answer to `PUT` (`stored`) and `DELETE /admin/keys/{name}` (`deleted`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct KeyChanged {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stored: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
}

/// A token's own request limits (`[tokens.NAME.limits]`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct TokenLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rpm: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(test, ts(type = "number | null"))]
    pub tpm: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrent: Option<u32>,
}

impl TokenLimits {
    pub fn is_empty(&self) -> bool {
        self.rpm.is_none() && self.tpm.is_none() && self.concurrent.is_none()
    }
}

/// `POST /admin/tokens` (with `If-Match`): a new client token. Only its hash is written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct CreateToken {
    pub name: String,
    /// Tenant label for logs, limits and budgets.
    #[serde(default)]
    pub tenant: Option<String>,
    /// Aliases the token may call; all when absent.
    #[serde(default)]
    pub aliases: Option<Vec<String>>,
    #[serde(default)]
    pub description: Option<String>,
    /// A `[budgets.NAME]` this token's spend counts against.
    #[serde(default)]
    pub budget: Option<String>,
    #[serde(default)]
    pub limits: Option<TokenLimits>,
}

/// The only place a client token is ever shown.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct TokenCreated {
    pub name: String,
    pub token: String,
    /// The config file's revision after the write.
    pub revision: String,
}

impl std::fmt::Debug for TokenCreated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCreated")
            .field("name", &self.name)
            .field("token", &"<redacted>")
            .field("revision", &self.revision)
            .finish()
    }
}

/// What a reload did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ReloadOutcome {
    pub revision: String,
    /// False when the file's content was already serving (nothing swapped).
    pub changed: bool,
    pub duration_ms: f64,
    /// Settings that only take effect after a restart, when they changed.
    pub needs_restart: Vec<String>,
}

/// The answer to a config write: the file's new revision and the reload it caused.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct WriteOutcome {
    pub revision: String,
    pub reload: ReloadOutcome,
}

/// `GET /admin/config`: the whole file.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConfigDocument {
    pub path: String,
    pub revision: String,
    pub text: String,
}

/// One named entry of a section (`providers.openai`), as JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConfigEntry {
    pub name: String,
    #[schema(value_type = Object)]
    #[cfg_attr(test, ts(type = "unknown"))]
    pub value: serde_json::Value,
}

/// `GET /admin/config/{section}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConfigListing {
    pub revision: String,
    pub entries: Vec<ConfigEntry>,
}

/// `GET /admin/config/{section}/{name}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConfigEntryDocument {
    pub revision: String,
    pub name: String,
    #[schema(value_type = Object)]
    #[cfg_attr(test, ts(type = "unknown"))]
    pub value: serde_json::Value,
}

/// Every refusal of the admin API: `{"error": {...}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ErrorDetail {
    pub message: String,
    /// `admin_error`, `permission_error`, `invalid_request_error`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// The specific cause: `stale_revision`, `invalid_config`, `not_found`, ...
    pub code: String,
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// With `stale_revision`: the revision to re-read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<String>,
    /// With `invalid_config`: every problem the change would cause.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<Diagnostic>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TypeScript the dashboard compiles against, from the types above.
    fn typescript() -> String {
        let mut out = String::from(
            "// Generated from crates/gateway/src/api/ by `UPDATE_TS=1 cargo test -p switchboard-gateway --lib api`; do not edit.\n\n",
        );
        for decl in [
            RequestQuery::decl(),
            RequestRow::decl(),
            RequestList::decl(),
            Attempt::decl(),
            CapturedBodies::decl(),
            RequestDetail::decl(),
            GroupBy::decl(),
            StatsQuery::decl(),
            StatsBucket::decl(),
            Stats::decl(),
            LoginLink::decl(),
            SessionInfo::decl(),
            Diagnostic::decl(),
            ReloadFailure::decl(),
            ConfigFileState::decl(),
            ConfigStatus::decl(),
            LogHealth::decl(),
            LedgerHealth::decl(),
            TraceExport::decl(),
            Readiness::decl(),
            AliasInfo::decl(),
            StatusReport::decl(),
            BreakerPhase::decl(),
            OpenedFor::decl(),
            TargetStatus::decl(),
            TargetList::decl(),
            ResetTargets::decl(),
            ResetOutcome::decl(),
            BackendHealth::decl(),
            HealthReport::decl(),
            CacheSavings::decl(),
            BudgetStatus::decl(),
            PriceTableInfo::decl(),
            PriceFileInfo::decl(),
            BudgetsReport::decl(),
            KeyInfo::decl(),
            KeyList::decl(),
            KeyValue::decl(),
            KeyChanged::decl(),
            TokenLimits::decl(),
            CreateToken::decl(),
            TokenCreated::decl(),
            ReloadOutcome::decl(),
            WriteOutcome::decl(),
            ConfigDocument::decl(),
            ConfigEntry::decl(),
            ConfigListing::decl(),
            ConfigEntryDocument::decl(),
            ErrorBody::decl(),
            ErrorDetail::decl(),
            crate::events::GatewayEvent::decl(),
        ]
        .into_iter()
        .chain(edit::decls())
        .chain(clients::typescript_decls())
        .chain(providers::ts_decls())
        {
            out.push_str("export ");
            out.push_str(&decl);
            out.push_str("\n\n");
        }
        out.trim_end().to_owned() + "\n"
    }

    #[test]
    fn generated_typescript_is_current() -> anyhow::Result<()> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/api.gen.ts");
        let wanted = typescript();
        if std::env::var_os("UPDATE_TS").is_some() {
            std::fs::write(&path, &wanted)?;
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == wanted,
            "{} is out of date: run `UPDATE_TS=1 cargo test -p switchboard-gateway --lib api`",
            path.display()
        );
        Ok(())
    }
}
