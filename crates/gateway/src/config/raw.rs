//! Phase one of config loading: the file's shape, exactly as written. Every struct rejects unknown
//! keys; nothing here is checked beyond its type. `validate` turns this into `Config`.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    pub listen: Option<String>,
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub database: RawDatabase,
    #[serde(default)]
    pub providers: BTreeMap<String, RawProvider>,
    #[serde(default)]
    pub aliases: BTreeMap<String, RawAlias>,
    #[serde(default)]
    pub tokens: BTreeMap<String, RawToken>,
    #[serde(default)]
    pub tenants: BTreeMap<String, RawTenant>,
    #[serde(default)]
    pub budgets: BTreeMap<String, RawBudget>,
    #[serde(default)]
    pub spend: RawSpend,
    /// USD per million tokens, keyed by `provider/model`; overrides the built-in table.
    #[serde(default)]
    pub prices: BTreeMap<String, RawPrice>,
    /// OpenTelemetry traces over OTLP (`otel` feature).
    #[serde(default)]
    pub telemetry: RawTelemetry,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTelemetry {
    pub enabled: Option<bool>,
    /// OTLP/HTTP traces URL.
    pub endpoint: Option<String>,
    /// Sent with every export; values may be `env:`/`keychain:`/`file:` references.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub service_name: Option<String>,
    pub sample_ratio: Option<f64>,
    pub capture_content: Option<bool>,
}

/// A spending cap shared by every provider, alias, client token and tenant that names it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBudget {
    pub usd: f64,
    /// `day`, `week` (from Monday) or `month`.
    pub period: String,
    /// `"refuse"` or `{ reroute = "alias" }`.
    pub when_spent: Option<RawWhenSpent>,
    /// Fraction of `usd` at which an alert event fires (default 0.8).
    pub alert_at: Option<f64>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawWhenSpent {
    Action(String),
    Reroute { reroute: String },
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawSpend {
    /// IANA time zone for budget periods (`Europe/Berlin`), or `local` (the default).
    pub timezone: Option<String>,
    /// A price file written by `switchboard prices import` (absolute or `~/` path).
    pub prices_file: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    /// USD per million input tokens.
    pub input: f64,
    /// USD per million output tokens.
    pub output: f64,
    /// USD per million input tokens read from a prompt cache.
    pub cache_read: Option<f64>,
    /// USD per million input tokens written to a prompt cache (Anthropic: the 5-minute write).
    pub cache_write: Option<f64>,
    /// USD per million input tokens written to Anthropic's 1-hour cache.
    pub cache_write_1h: Option<f64>,
}

/// A client token: who may call models, as what tenant. Only the token's hash is stored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawToken {
    pub hash: String,
    pub tenant: Option<String>,
    /// Aliases this token may call; absent means all.
    pub aliases: Option<Vec<String>>,
    pub description: Option<String>,
    pub limits: Option<RawLimits>,
    pub budget: Option<String>,
    /// When it was made (RFC 3339); shown by the Client tokens page, which reads the file.
    #[allow(dead_code)]
    pub created: Option<String>,
}

/// Requests per minute, tokens per minute and requests at once, for one scope.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub concurrent: Option<u32>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTenant {
    pub limits: Option<RawLimits>,
    pub budget: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub admin_token: Option<String>,
    /// Host names (besides localhost, 127.0.0.1, [::1]) clients may use to reach the gateway.
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Web origins allowed to call the model API from a browser (CORS).
    #[serde(default)]
    pub cors_origins: Vec<String>,
    /// A second listener for the LAN and containers (`"0.0.0.0:4001"`); every request on it
    /// needs a client token, and it serves no admin API or dashboard.
    pub lan_listen: Option<String>,
    pub max_body_mb: Option<f64>,
    /// A client header that names a session, checked before the agents' own.
    pub affinity_header: Option<String>,
    pub shutdown_grace_s: Option<f64>,
    pub health_timeout_s: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub path: Option<String>,
    /// `off` (default), `errors` or `all`: keep request and response bodies for the dashboard.
    pub capture_bodies: Option<String>,
    /// Size cap per captured body, in KB (default 64).
    pub capture_max_kb: Option<u32>,
    /// Request log rows older than this go (0: kept forever).
    pub retain_days: Option<f64>,
    /// Oldest request log rows go while the database is larger (0: no cap).
    pub max_mb: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    pub kind: String,
    pub base_url: Option<String>,
    pub api_key: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub timeouts: Option<RawTimeouts>,
    pub breaker: Option<RawBreaker>,
    /// Probe the backend this often (seconds) and feed the result to its breakers.
    pub health_check_s: Option<f64>,
    /// `anthropic` only: `max_tokens` sent when neither the request nor the target sets one.
    pub default_max_tokens: Option<u64>,
    /// `drop` (default) or `refuse` request parameters the provider cannot take.
    pub unsupported_params: Option<String>,
    pub budget: Option<String>,
    /// `openai` only: the backend speaks the Responses API (`/responses`), so Responses requests
    /// pass through untranslated. Default: on for api.openai.com.
    pub responses: Option<bool>,
    /// `github_copilot` only: GitHub's URL (GitHub Enterprise, tests). Default https://github.com.
    pub github_url: Option<String>,
    /// `github_copilot` only: the Copilot API base, instead of the one the token exchange names.
    pub api_url: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawBreaker {
    pub failures: Option<u32>,
    pub error_rate: Option<f64>,
    pub window_s: Option<f64>,
    pub min_requests: Option<u32>,
    pub cooldown_s: Option<f64>,
    pub max_cooldown_s: Option<f64>,
    /// Off when absent: a streamed first token this many times the median is a failure.
    pub slow_first_token_factor: Option<f64>,
    pub slow_first_token_floor_ms: Option<f64>,
    /// Retired (it judged total latency); accepted so old files load, and ignored with a warning.
    pub slow_factor: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawRetries {
    pub attempts: Option<u32>,
    pub backoff_ms: Option<f64>,
    pub max_retry_after_s: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLongContext {
    pub above_tokens: u64,
    pub alias: String,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawTimeouts {
    pub connect_s: Option<f64>,
    pub first_byte_s: Option<f64>,
    pub idle_s: Option<f64>,
    pub total_s: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAlias {
    pub description: Option<String>,
    pub targets: Vec<RawTarget>,
    #[serde(default)]
    pub fallbacks: Vec<String>,
    pub strategy: Option<String>,
    pub retries: Option<RawRetries>,
    pub limits: Option<RawLimits>,
    pub long_context: Option<RawLongContext>,
    pub budget: Option<String>,
    /// Keep an agent session on one target (default: on with more than one target).
    pub affinity: Option<bool>,
}

/// A target is either `"provider/model"` or a table with per-target settings.
#[derive(Debug, Clone)]
pub enum RawTarget {
    Short(String),
    Full(RawTargetTable),
}

// Hand-written rather than `#[serde(untagged)]` so a mistake inside a target table reports the
// real cause ("unknown field ...") instead of "did not match any variant".
impl<'de> Deserialize<'de> for RawTarget {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TargetVisitor;
        impl<'de> serde::de::Visitor<'de> for TargetVisitor {
            type Value = RawTarget;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#""provider/model" or a table like { model = "provider/model" }"#)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawTarget, E> {
                Ok(RawTarget::Short(v.to_owned()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<RawTarget, A::Error> {
                RawTargetTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawTarget::Full)
            }
        }
        deserializer.deserialize_any(TargetVisitor)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTargetTable {
    pub model: String,
    pub timeouts: Option<RawTimeouts>,
    pub weight: Option<u32>,
    pub max_input_tokens: Option<u64>,
    pub limits: Option<RawLimits>,
    /// `anthropic` targets only: `max_tokens` sent when the request has none.
    pub max_tokens: Option<u64>,
}

impl RawTarget {
    pub fn model(&self) -> &str {
        match self {
            RawTarget::Short(model) => model,
            RawTarget::Full(table) => &table.model,
        }
    }
}
