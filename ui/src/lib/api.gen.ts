// Generated from crates/gateway/src/api/ by `UPDATE_TS=1 cargo test -p switchboard-gateway --lib api`; do not edit.

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

export type Diagnostic = { line: number, col: number, message: string, };

export type ReloadFailure = { at_unix_ms: number, 
/**
 * `file:line:col: message` lines (or one line for a read error).
 */
message: string, diagnostics: Array<Diagnostic>, };

export type ConfigFileState = { 
/**
 * Content hash of the text now serving; `None` on the embedded default.
 */
revision: string | null, loaded_at_unix_ms: number, 
/**
 * The last rejected reload, cleared by the next successful one.
 */
last_error: ReloadFailure | null, };

export type ConfigStatus = { loaded: boolean, 
/**
 * `None` when running on the embedded default.
 */
path: string | null, loaded_at_unix: number, providers: number, aliases: number, };

export type LogHealth = { path: string, ok: boolean, error: string | null, written: number, dropped: number, 
/**
 * At start the file at the path was not a usable log and was moved here, with why.
 */
set_aside: string | null, 
/**
 * Bytes in use, as of the last pruning pass.
 */
size_bytes: number | null, oldest_ts_ms: number | null, 
/**
 * The oldest row's time, RFC 3339 in UTC.
 */
oldest_at: string | null, 
/**
 * Rows pruned since start.
 */
pruned_rows: number, retain_days: number | null, max_mb: number | null, };

export type LedgerHealth = { ok: boolean, error: string | null, written: number, 
/**
 * Rows waiting for the database (in the queue or spilled to memory).
 */
pending: number, };

export type TraceExport = { enabled: boolean, 
/**
 * The OTLP/HTTP traces URL, when enabled.
 */
endpoint: string | null, exported_spans: number, 
/**
 * Spans dropped because the export queue was full (the collector is slow or down).
 */
dropped_queue_full: number, 
/**
 * Spans in batches the collector refused or did not answer.
 */
dropped_export_failed: number, last_error: string | null, };

export type Readiness = { 
/**
 * A config is loaded and the request log and the spend ledger are writable.
 */
ready: boolean, config: ConfigStatus, 
/**
 * Revision and the last rejected reload, if any (the previous config keeps serving).
 */
config_file: ConfigFileState, database: LogHealth, spend_ledger: LedgerHealth, trace_export: TraceExport, };

export type AliasInfo = { name: string, description: string | null, 
/**
 * `provider/model`, in the config's order.
 */
targets: Array<string>, fallbacks: Array<string>, };

export type StatusReport = { readiness: Readiness, aliases: Array<AliasInfo>, };

export type BreakerPhase = "closed" | "open" | "half_open";

export type OpenedFor = "slowness" | "failures";

export type TargetStatus = { target: string, 
/**
 * `healthy`, `open`, `half_open` or `misconfigured`.
 */
state: string, breaker: BreakerPhase, 
/**
 * While not closed: why it opened.
 */
opened_for: OpenedFor | null, consecutive_failures: number, retry_in_ms: number | null, in_flight: number, latency_avg_ms: number | null, last_error: string | null, misconfigured: string | null, };

export type TargetList = { targets: Array<TargetStatus>, };

export type ResetTargets = { 
/**
 * `provider/model`; absent resets every target.
 */
target: string | null, };

export type ResetOutcome = { 
/**
 * How many targets were reset.
 */
reset: number, targets: Array<TargetStatus>, };

export type BackendHealth = { provider: string, kind: string, up: boolean, latency_ms: number, error: string | null, };

export type HealthReport = { 
/**
 * Every backend answered its probe. The log and ledger are reported, not judged here.
 */
healthy: boolean, backends: Array<BackendHealth>, targets: Array<TargetStatus>, database: LogHealth, spend_ledger: LedgerHealth, };

export type CacheSavings = { input_tokens: number, cache_read_tokens: number, 
/**
 * `cache_read_tokens / input_tokens` (0 without input).
 */
cache_share: number, 
/**
 * The period's spend with every input token at the input rate.
 */
uncached_usd: number, };

export type BudgetStatus = { name: string, description: string | null, 
/**
 * `day`, `week` or `month`.
 */
period: string, usd: number, spent_usd: number, remaining_usd: number, alert_at: number, 
/**
 * `ok`, `alert` (past the alert threshold) or `spent`.
 */
state: string, 
/**
 * `refuse`, or `reroute:ALIAS`.
 */
when_spent: string, period_start: string, resets_at: string, timezone: string, 
/**
 * Who counts against it: `provider:x`, `alias:y`, `token:z`, `tenant:w`.
 */
charged_by: Array<string>, cache: CacheSavings, };

export type PriceTableInfo = { source: string, as_of: string, };

export type PriceFileInfo = { path: string, source: string, as_of: string, 
/**
 * Models it prices.
 */
models: number, };

export type BudgetsReport = { budgets: Array<BudgetStatus>, 
/**
 * Cloud targets without a known price: their spend is not counted until one is set.
 */
unpriced_targets: Array<string>, price_table: PriceTableInfo, 
/**
 * The price file `[spend] prices_file` names, which wins over the built-in table.
 */
price_file: PriceFileInfo | null, };

export type KeyInfo = { 
/**
 * The keychain name, variable or path.
 */
name: string, 
/**
 * `keychain`, `env` or `file`.
 */
location: string, reference: string, 
/**
 * Who uses it: `provider openai`, `server.admin_token`.
 */
used_by: Array<string>, present: boolean, 
/**
 * Why it cannot be read, when it cannot.
 */
problem: string | null, };

export type KeyList = { keys: Array<KeyInfo>, };

export type KeyValue = { value: string, };

export type KeyChanged = { name: string, stored?: boolean | null, deleted?: boolean | null, };

export type TokenLimits = { rpm?: number | null, tpm?: number | null, concurrent?: number | null, };

export type CreateToken = { name: string, 
/**
 * Tenant label for logs, limits and budgets.
 */
tenant: string | null, 
/**
 * Aliases the token may call; all when absent.
 */
aliases: Array<string> | null, description: string | null, 
/**
 * A `[budgets.NAME]` this token's spend counts against.
 */
budget: string | null, limits: TokenLimits | null, };

export type TokenCreated = { name: string, token: string, 
/**
 * The config file's revision after the write.
 */
revision: string, };

export type ReloadOutcome = { revision: string, 
/**
 * False when the file's content was already serving (nothing swapped).
 */
changed: boolean, duration_ms: number, 
/**
 * Settings that only take effect after a restart, when they changed.
 */
needs_restart: Array<string>, };

export type WriteOutcome = { revision: string, reload: ReloadOutcome, };

export type ConfigDocument = { path: string, revision: string, text: string, };

export type ConfigEntry = { name: string, value: unknown, };

export type ConfigListing = { revision: string, entries: Array<ConfigEntry>, };

export type ConfigEntryDocument = { revision: string, name: string, value: unknown, };

export type ErrorBody = { error: ErrorDetail, };

export type ErrorDetail = { message: string, 
/**
 * `admin_error`, `permission_error`, `invalid_request_error`, ...
 */
type: string, 
/**
 * The specific cause: `stale_revision`, `invalid_config`, `not_found`, ...
 */
code: string, correlation_id: string | null, 
/**
 * With `stale_revision`: the revision to re-read from.
 */
current_revision?: string | null, 
/**
 * With `invalid_config`: every problem the change would cause.
 */
diagnostics?: Array<Diagnostic>, };

export type GatewayEvent = { "type": "config_reloaded", revision: string, } | { "type": "config_rejected", message: string, } | { "type": "breaker_opened", target: string, reason: string, retry_in_ms: number, } | { "type": "breaker_closed", target: string, } | { "type": "target_misconfigured", target: string, reason: string, } | { "type": "budget_alert", budget: string, spent_usd: number, limit_usd: number, alert_at: number, period: string, resets_at: string, } | { "type": "budget_spent", budget: string, spent_usd: number, limit_usd: number, period: string, resets_at: string, };

export type ChangeAction = "create" | "upsert" | "delete";

export type ConfigPreviewRequest = { section: string, name: string, action: ChangeAction, 
/**
 * The entry's new value (ignored for `delete`).
 */
value: unknown, 
/**
 * The revision the editor's copy is based on; `stale` says whether the file moved since.
 */
base_revision: string | null, };

export type FieldError = { 
/**
 * The field, e.g. `aliases.default.targets[0].model`; `None` when the problem has no place
 * in the file (a missing section, an unreadable price file).
 */
path: string | null, message: string, 
/**
 * 1-based, in the file as it would be after the change (0 when there is no place).
 */
line: number, col: number, };

export type ConfigPreview = { 
/**
 * True when the change would be accepted.
 */
ok: boolean, errors: Array<FieldError>, 
/**
 * Unified diff of the file before → after (empty when the change changes nothing).
 */
diff: string, 
/**
 * The revision of the file the change was tried on (send it as `If-Match` to save).
 */
revision: string, 
/**
 * True when `base_revision` was given and the file has changed since.
 */
stale: boolean, 
/**
 * With `stale`: what changed on disk since `base_revision` (unified diff), when the gateway
 * still has that version; empty otherwise.
 */
disk_diff: string, };

export type ConfigVersion = { 
/**
 * `<unix ms>-<revision>`, the name of its file in `config-history/`.
 */
id: string, 
/**
 * When this text was replaced.
 */
at_unix_ms: number, 
/**
 * The revision of this text.
 */
revision: string, 
/**
 * What replaced it: `aliases.chat changed`, `restored <id>`, `a hand edit`.
 */
summary: string, 
/**
 * Bytes.
 */
size: number, };

export type ConfigHistory = { 
/**
 * The file's revision now.
 */
revision: string, versions: Array<ConfigVersion>, };

export type ConfigVersionDocument = { version: ConfigVersion, text: string, 
/**
 * Unified diff of the current file → this version.
 */
diff: string, 
/**
 * The file's revision now (send it as `If-Match` to restore).
 */
revision: string, };

export type ClientKind = { 
/**
 * `opencode`, `claude`, `codex`, `continue`, `zed`, `aider`, `openwebui`, `curl`,
 * `openai-python`, `openai-js`, `anthropic-python`.
 */
name: string, label: string, 
/**
 * "Set it up for me" can write its config file.
 */
writable: boolean, 
/**
 * The file it reads, relative to the home directory, if it has one.
 */
file: string | null, };

export type ClientKindList = { clients: Array<ClientKind>, 
/**
 * The URL clients should use, as this request reached the gateway.
 */
base_url: string, 
/**
 * Client tokens exist, so clients need one.
 */
tokens_required: boolean, };

export type ConnectQuery = { 
/**
 * Default: the config's first alias.
 */
alias: string | null, 
/**
 * A client token to fill in; absent: a placeholder (or none where the gateway needs none).
 */
token: string | null, 
/**
 * Default: the URL the request came in on.
 */
base_url: string | null, };

export type SetupFile = { 
/**
 * Relative to the home directory (`.config/opencode/opencode.json`), or a name in the
 * working directory for files without a fixed place.
 */
path: string, 
/**
 * `json`, `toml`, `yaml`.
 */
format: string, content: string, };

export type EnvVar = { name: string, value: string, };

export type Snippet = { 
/**
 * `shell`, `python`, `javascript`.
 */
format: string, text: string, };

export type ConnectSetup = { client: string, label: string, alias: string, 
/**
 * The gateway's root URL (no `/v1`).
 */
base_url: string, 
/**
 * The config file, when the client reads one (shown without the user's other entries).
 */
file: SetupFile | null, 
/**
 * Variables to export before running the client.
 */
env: Array<EnvVar>, snippet: Snippet | null, 
/**
 * How to try it.
 */
run: string, notes: Array<string>, writable: boolean, 
/**
 * No token was given though the gateway needs one: the setup carries a placeholder.
 */
token_placeholder: boolean, };

export type ConnectWrite = { alias: string | null, token: string | null, base_url: string | null, 
/**
 * Only compute the diff; nothing is written.
 */
dry_run: boolean, };

export type ConnectWritten = { client: string, 
/**
 * The client's config file, absolute.
 */
path: string, 
/**
 * Line diff from the current file (`- `, `+ `, `  ` prefixes).
 */
diff: string, 
/**
 * The file would change.
 */
changed: boolean, 
/**
 * The file was written (false for `dry_run` or when nothing changed).
 */
written: boolean, 
/**
 * Where the previous file was copied, when there was one and it was replaced.
 */
backup: string | null, 
/**
 * Still to export before running the client.
 */
env: Array<EnvVar>, run: string, };

export type ClientTokenInfo = { name: string, tenant: string | null, 
/**
 * Aliases it may call; all when absent.
 */
aliases: Array<string> | null, description: string | null, budget: string | null, limits: TokenLimits | null, 
/**
 * RFC 3339, when the dashboard or `switchboard tokens create` made it.
 */
created: string | null, 
/**
 * The newest request log row made with it.
 */
last_used_ms: number | null, };

export type ClientTokenList = { 
/**
 * The config file's revision (send it as `If-Match` to create or revoke).
 */
revision: string, tokens: Array<ClientTokenInfo>, };

export type AccessSettings = { revision: string, 
/**
 * The main listener (`listen`).
 */
listen: string, 
/**
 * `server.cors_origins`: web origins whose pages may call the model API.
 */
cors_origins: Array<string>, 
/**
 * `server.allowed_hosts`: extra names the gateway may be reached by.
 */
allowed_hosts: Array<string>, 
/**
 * `server.lan_listen`: the second listener for LAN and containers; every call on it
 * needs a client token.
 */
lan_listen: string | null, 
/**
 * How many client tokens exist (the second listener is useless without one).
 */
tokens: number, };

export type AccessUpdate = { cors_origins: Array<string>, allowed_hosts: Array<string>, 
/**
 * Absent or empty: no second listener.
 */
lan_listen: string | null, };

export type PlaygroundRequest = { alias: string, prompt: string, system: string | null, max_tokens: number | null, stream: boolean, 
/**
 * Replay this request log row's captured body on `alias` instead of `prompt`.
 */
replay_of: number | null, };

export type BackendModel = { id: string, 
/**
 * The prompt window the backend reports for it, when it reports one.
 */
max_input_tokens: number | null, };

export type BackendModels = { models: Array<BackendModel>, error: string | null, };

export type ConnectionStep = { 
/**
 * `dns`, `tcp`, `tls`, `http` (the models endpoint with the key), or `local` (demo).
 */
step: string, 
/**
 * `ok`, `warning` or `error`.
 */
severity: string, summary: string, 
/**
 * What to do about it, in words.
 */
fix: string | null, latency_ms: number | null, };

export type ConnectionTest = { provider: string, kind: string, 
/**
 * The URL the HTTP step asked.
 */
url: string | null, 
/**
 * No step failed (warnings allowed).
 */
ok: boolean, steps: Array<ConnectionStep>, 
/**
 * The server's `Date` header (Unix seconds), for clock-skew checks.
 */
server_date_unix: number | null, };

export type UnsavedProvider = { 
/**
 * Shown in the answer; `new` when absent.
 */
name: string | null, 
/**
 * The entry as it would be written under `[providers.NAME]`.
 */
value: unknown, 
/**
 * A key typed in the dialog but not stored yet: used for this test only, never stored,
 * logged or returned. Absent: the key `api_key` names is read.
 */
key: string | null, };

export type DiscoverQuery = { 
/**
 * `NAME=PORT,...` instead of the usual ports (e.g. `ollama=11434,vllm=8000`).
 */
ports: string | null, 
/**
 * Extra hosts to scan besides loopback and the config's own, comma separated.
 */
hosts: string | null, 
/**
 * Milliseconds each server may take (default 1500).
 */
timeout_ms: number | null, };

export type FoundServer = { 
/**
 * `ollama`, `llamacpp`, `vllm`, `lmstudio`, `jan`, or `openai` for others.
 */
server: string, label: string, base_url: string, models: Array<string>, 
/**
 * The config's provider that already points here.
 */
provider: string | null, };

export type ProposedEntry = { 
/**
 * `providers` or `aliases`.
 */
section: string, name: string, 
/**
 * The server (`base_url`) it is for.
 */
base_url: string, value: unknown, };

export type DiscoverReport = { 
/**
 * Every base URL asked.
 */
scanned: Array<string>, servers: Array<FoundServer>, 
/**
 * What `POST /admin/discover/add` would write, against the config's current revision.
 */
proposed: Array<ProposedEntry>, revision: string | null, };

export type DiscoverAdd = { entries: Array<ProposedEntry>, };

export type DiscoverAdded = { 
/**
 * `section.name` of every entry written.
 */
added: Array<string>, revision: string, reload: ReloadOutcome, };

export type CopilotLoginStart = { provider: string | null, };

export type CopilotLogin = { 
/**
 * Poll `GET /admin/copilot/login/{id}` with it.
 */
id: string, provider: string, 
/**
 * Enter this at `verification_uri`.
 */
user_code: string, verification_uri: string, expires_in_s: number, 
/**
 * `pending`, `done` or `failed`.
 */
state: string, error: string | null, 
/**
 * Where the GitHub token went (`keychain:NAME`), once stored.
 */
stored_in: string | null, };
