//! Config: phase one (`raw`) is the file's shape; phase two (`validate`) checks it and builds the
//! runtime types below, which the rest of the gateway uses. Nothing downstream sees an unchecked
//! value.

mod diagnostics;
pub mod edit;
pub mod file;
pub mod history;
pub mod prices;
mod raw;
mod unknown_keys;
mod validate;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use diagnostics::{closest, closest_n, ConfigError, Diagnostic};
pub use validate::telemetry::{HeaderValueSource, TelemetrySettings};

use crate::secret::SecretRef;

/// The commented default written on first start.
pub const DEFAULT_CONFIG: &str = include_str!("default.toml");

/// A checked, immutable config.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub server: ServerSettings,
    /// `None` means the platform data dir.
    pub database_path: Option<PathBuf>,
    /// Which request and response bodies the log keeps (`[database] capture_bodies`).
    pub capture: crate::capture::CaptureSettings,
    /// `[database] retain_days` and `max_mb`: how much request log is kept.
    pub log_retention: LogRetention,
    pub providers: BTreeMap<String, ProviderConfig>,
    pub aliases: BTreeMap<String, AliasConfig>,
    /// Client tokens by name. When any exist, model calls need one.
    pub tokens: BTreeMap<String, ClientToken>,
    /// Limits and budget per tenant label (tokens carry the label).
    pub tenants: BTreeMap<String, TenantConfig>,
    /// Spending caps by name; providers, aliases, tokens and tenants refer to them.
    pub budgets: BTreeMap<String, BudgetConfig>,
    pub spend: SpendSettings,
    /// Price overrides by `provider/model` (USD per million tokens).
    pub prices: BTreeMap<String, Price>,
    /// `[telemetry]`: OTLP trace export.
    pub telemetry: TelemetrySettings,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantConfig {
    pub limits: Limits,
    pub budget: Option<String>,
}

/// USD per million tokens, per part of the usage. Every part is set (the provider's published
/// multipliers fill the ones a price source leaves out: `config::prices::with_defaults`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Price {
    /// Fresh input (neither read from nor written to a prompt cache).
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    /// A 5-minute cache write (Anthropic), or any write where the provider has one lifetime.
    pub cache_write: f64,
    pub cache_write_1h: f64,
}

/// How a target's price was found (`config::prices`), settled once when the config is checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pricing {
    /// Set in the config's `[prices]`.
    Configured(Price),
    /// From the built-in table.
    BuiltIn(Price),
    /// From the price file named by `[spend] prices_file` (`switchboard prices import`).
    Imported(Price),
    /// A local or self-hosted backend with no price set: free.
    Local,
    /// A cloud model missing from the table: its spend cannot be counted.
    Unknown,
}

impl Pricing {
    pub fn price(self) -> Option<Price> {
        match self {
            Pricing::Configured(p) | Pricing::BuiltIn(p) | Pricing::Imported(p) => Some(p),
            Pricing::Local => Some(Price::default()),
            Pricing::Unknown => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    /// Monday to Sunday (ISO 8601).
    Week,
    Month,
}

impl Period {
    pub const NAMES: [&'static str; 3] = ["day", "week", "month"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Period::Day => "day",
            Period::Week => "week",
            Period::Month => "month",
        }
    }
}

/// What happens to requests once a budget is spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhenSpent {
    /// 429 `budget_exceeded`, with when the budget resets.
    Refuse,
    /// Serve the request from another alias instead (typically a local one).
    Reroute(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct BudgetConfig {
    pub name: String,
    pub usd: f64,
    pub period: Period,
    pub when_spent: WhenSpent,
    /// Fraction of `usd` at which the alert event fires.
    pub alert_at: f64,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SpendSettings {
    /// Where budget periods begin and end.
    pub timezone: jiff::tz::TimeZone,
    /// As written (`local` when not set).
    pub timezone_name: String,
    /// The price file named by `prices_file`, read when the config is checked.
    pub price_file: Option<std::sync::Arc<crate::config::prices::PriceFile>>,
}

impl Default for SpendSettings {
    fn default() -> Self {
        SpendSettings {
            timezone: jiff::tz::TimeZone::system(),
            timezone_name: "local".to_owned(),
            price_file: None,
        }
    }
}

/// The client name the dashboard's playground requests are logged with (reserved: no token
/// may be named so).
pub const DASHBOARD_CLIENT: &str = "dashboard";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientToken {
    pub name: String,
    /// Lower-case hex SHA-256 of the token.
    pub hash: String,
    pub tenant: Option<String>,
    /// `None`: every alias.
    pub aliases: Option<Vec<String>>,
    pub description: Option<String>,
    pub limits: Limits,
    pub budget: Option<String>,
}

/// Caps for one scope (client token, tenant, alias or target). `None`: no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub rpm: Option<u32>,
    pub tpm: Option<u64>,
    pub concurrent: Option<u32>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.rpm.is_none() && self.tpm.is_none() && self.concurrent.is_none()
    }
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// Bearer token the admin API requires; the admin API is off without one.
    pub admin_token: Option<SecretRef>,
    /// Lower-cased host names accepted in `Host`, besides the loopback names.
    pub allowed_hosts: Vec<String>,
    /// Origins allowed to call `/v1` from a browser.
    pub cors_origins: Vec<String>,
    /// The token-only second listener (`server.lan_listen`).
    pub lan_listen: Option<std::net::SocketAddr>,
    pub max_body_bytes: usize,
    /// An extra, lower-cased header naming a session for affinity (`server.affinity_header`).
    pub affinity_header: Option<axum::http::HeaderName>,
    pub shutdown_grace: Duration,
    pub health_timeout: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderKind {
    /// Any server speaking OpenAI's HTTP API (OpenAI, vLLM, llama.cpp, Ollama, LM Studio, ...).
    OpenAi,
    /// Anthropic's Messages API (translated both ways).
    Anthropic,
    /// Google's Gemini API (native `generateContent`, translated both ways).
    Gemini,
    /// GitHub Copilot's API: a GitHub token (from `switchboard login copilot`) exchanged for
    /// short-lived Copilot tokens; OpenAI's wire format.
    GithubCopilot,
    /// The built-in demo: answers locally.
    Demo,
}

impl ProviderKind {
    pub const NAMES: [&'static str; 5] =
        ["openai", "anthropic", "gemini", "github_copilot", "demo"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "openai" => Some(ProviderKind::OpenAi),
            "anthropic" => Some(ProviderKind::Anthropic),
            "gemini" => Some(ProviderKind::Gemini),
            "github_copilot" => Some(ProviderKind::GithubCopilot),
            "demo" => Some(ProviderKind::Demo),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::OpenAi => "openai",
            ProviderKind::Anthropic => "anthropic",
            ProviderKind::Gemini => "gemini",
            ProviderKind::GithubCopilot => "github_copilot",
            ProviderKind::Demo => "demo",
        }
    }

    /// The base URL used when the config sets none (`None`: the kind needs one).
    pub fn default_base_url(self) -> Option<&'static str> {
        match self {
            ProviderKind::Anthropic => Some("https://api.anthropic.com"),
            ProviderKind::Gemini => Some("https://generativelanguage.googleapis.com/v1beta"),
            // Copilot's API base comes from its token exchange (`api_url` overrides it).
            ProviderKind::OpenAi | ProviderKind::GithubCopilot | ProviderKind::Demo => None,
        }
    }
}

/// GitHub's web URL for `github_copilot` providers when `github_url` is not set.
pub const GITHUB_URL: &str = "https://github.com";

/// What to do with request parameters a provider cannot take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ParamPolicy {
    /// Leave them out and name them in `x-switchboard-dropped-params`.
    #[default]
    Drop,
    /// Answer 400 `unsupported_params` with the list.
    Refuse,
}

impl ParamPolicy {
    pub const NAMES: [&'static str; 2] = ["drop", "refuse"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "drop" => Some(ParamPolicy::Drop),
            "refuse" => Some(ParamPolicy::Refuse),
            _ => None,
        }
    }
}

/// `max_tokens` sent to Anthropic when neither the request nor the config sets one.
pub const DEFAULT_MAX_TOKENS: u64 = 4096;

#[derive(Debug, Clone, PartialEq)]
pub struct ProviderConfig {
    pub name: String,
    /// What only this provider's kind takes (its URLs and credentials).
    pub settings: ProviderSettings,
    pub headers: Vec<(String, String)>,
    pub timeouts: Timeouts,
    pub breaker: BreakerSettings,
    pub health_check: Option<Duration>,
    pub unsupported_params: ParamPolicy,
    pub budget: Option<String>,
}

/// A provider's settings for its kind; each adapter takes its own variant.
#[derive(Debug, Clone, PartialEq)]
pub enum ProviderSettings {
    OpenAi(OpenAiSettings),
    Anthropic(AnthropicSettings),
    Gemini(GeminiSettings),
    GithubCopilot(CopilotSettings),
    Demo,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OpenAiSettings {
    /// Without a trailing slash.
    pub base_url: String,
    /// `None`: a local server that takes no key.
    pub api_key: Option<SecretRef>,
    /// Responses API requests pass through to `/responses` untranslated.
    pub responses: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AnthropicSettings {
    pub base_url: String,
    pub api_key: Option<SecretRef>,
    /// `max_tokens` when neither request nor target sets one.
    pub default_max_tokens: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GeminiSettings {
    pub base_url: String,
    pub api_key: Option<SecretRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CopilotSettings {
    /// GitHub's web URL (device login; the token exchange goes to its API).
    pub github_url: String,
    /// The Copilot API base; `None`: the one the token exchange names.
    pub api_url: Option<String>,
    /// The GitHub token `switchboard login copilot` stored (`keychain:github_copilot` unless set).
    pub github_token: SecretRef,
    /// The models served support `/responses`.
    pub responses: bool,
}

impl ProviderConfig {
    pub fn kind(&self) -> ProviderKind {
        self.settings.kind()
    }

    /// The HTTP base requests go to (`None` for the demo, and for Copilot until its token
    /// exchange names one).
    pub fn base_url(&self) -> Option<&str> {
        match &self.settings {
            ProviderSettings::OpenAi(s) => Some(&s.base_url),
            ProviderSettings::Anthropic(s) => Some(&s.base_url),
            ProviderSettings::Gemini(s) => Some(&s.base_url),
            ProviderSettings::GithubCopilot(s) => s.api_url.as_deref(),
            ProviderSettings::Demo => None,
        }
    }

    /// The credential the provider reads (for Copilot, the GitHub token).
    pub fn api_key(&self) -> Option<&SecretRef> {
        match &self.settings {
            ProviderSettings::OpenAi(s) => s.api_key.as_ref(),
            ProviderSettings::Anthropic(s) => s.api_key.as_ref(),
            ProviderSettings::Gemini(s) => s.api_key.as_ref(),
            ProviderSettings::GithubCopilot(s) => Some(&s.github_token),
            ProviderSettings::Demo => None,
        }
    }
}

impl ProviderSettings {
    pub fn kind(&self) -> ProviderKind {
        match self {
            ProviderSettings::OpenAi(_) => ProviderKind::OpenAi,
            ProviderSettings::Anthropic(_) => ProviderKind::Anthropic,
            ProviderSettings::Gemini(_) => ProviderKind::Gemini,
            ProviderSettings::GithubCopilot(_) => ProviderKind::GithubCopilot,
            ProviderSettings::Demo => ProviderKind::Demo,
        }
    }
}

/// Bounds on the request log (never the spend ledger); `None` turns a bound off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogRetention {
    pub max_age: Option<Duration>,
    pub max_bytes: Option<u64>,
}

impl LogRetention {
    pub const DEFAULT_DAYS: f64 = 30.0;
    pub const DEFAULT_MB: f64 = 500.0;

    /// Neither bound: keeps everything.
    pub const UNBOUNDED: LogRetention = LogRetention {
        max_age: None,
        max_bytes: None,
    };
}

impl Default for LogRetention {
    fn default() -> Self {
        LogRetention {
            max_age: Some(Duration::from_secs_f64(Self::DEFAULT_DAYS * 86_400.0)),
            max_bytes: Some((Self::DEFAULT_MB * 1024.0 * 1024.0) as u64),
        }
    }
}

/// When a target's circuit breaker opens and how it heals.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerSettings {
    /// Consecutive failures that open the breaker.
    pub failures: u32,
    /// Error rate over `window` that opens it (with at least `min_requests` in the window).
    pub error_rate: f64,
    pub window: Duration,
    pub min_requests: u32,
    /// First cooldown; doubles after each failed half-open probe, up to `max_cooldown`.
    pub cooldown: Duration,
    pub max_cooldown: Duration,
    /// The time-to-first-token rule; `None` (the default): slowness never counts as a failure.
    pub slow_first_token: Option<SlowFirstToken>,
}

/// A streamed answer whose first token came later than `factor` times the target's median time
/// to first token (over its last answers) and later than `floor` counts as a failure. Total
/// latency is never judged: it grows with the answer's length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlowFirstToken {
    pub factor: f64,
    /// Below this, no first token is slow (so microsecond jitter never counts).
    pub floor: Duration,
}

impl SlowFirstToken {
    pub const DEFAULT_FLOOR: Duration = Duration::from_secs(2);
}

impl Default for BreakerSettings {
    fn default() -> Self {
        BreakerSettings {
            failures: 3,
            error_rate: 0.5,
            window: Duration::from_secs(60),
            min_requests: 10,
            cooldown: Duration::from_secs(5),
            max_cooldown: Duration::from_secs(300),
            slow_first_token: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    WeightedRoundRobin,
    LeastInFlight,
    LowestLatency,
}

impl Strategy {
    pub const NAMES: [&'static str; 3] = ["weighted", "least_inflight", "lowest_latency"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "weighted" => Some(Strategy::WeightedRoundRobin),
            "least_inflight" => Some(Strategy::LeastInFlight),
            "lowest_latency" => Some(Strategy::LowestLatency),
            _ => None,
        }
    }
}

/// Retries inside an alias, on another healthy target when there is one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retries {
    /// Most attempts in all, the first included.
    pub attempts: u32,
    /// Pause before retrying the same target; doubles each time.
    pub backoff: Duration,
    /// A backend's `Retry-After` is honoured up to this long; longer, and the target is skipped.
    pub max_retry_after: Duration,
}

impl Default for Retries {
    fn default() -> Self {
        Retries {
            attempts: 3,
            backoff: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongContext {
    pub above_tokens: u64,
    pub alias: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeouts {
    pub connect: Duration,
    /// Until the response headers arrive.
    pub first_byte: Duration,
    /// Longest gap between two chunks of a streamed body.
    pub idle: Duration,
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(300),
            idle: Duration::from_secs(120),
            total: Duration::from_secs(600),
        }
    }
}

#[derive(Debug, Clone)]
pub struct AliasConfig {
    pub name: String,
    pub description: Option<String>,
    pub targets: Vec<TargetConfig>,
    /// Other aliases tried in order when every target fails. Empty: fail fast.
    pub fallbacks: Vec<String>,
    pub strategy: Strategy,
    pub retries: Retries,
    /// Requests estimated above `above_tokens` input tokens go to another alias.
    pub long_context: Option<LongContext>,
    pub limits: Limits,
    pub budget: Option<String>,
    /// Requests of one agent session stick to the target that served it (`affinity`).
    pub affinity: bool,
}

#[derive(Debug, Clone)]
pub struct TargetConfig {
    pub provider: String,
    /// The model id sent upstream.
    pub model: String,
    /// The provider's timeouts with this target's overrides applied.
    pub timeouts: Timeouts,
    pub weight: u32,
    /// The target's context window, when known; larger inputs skip it.
    pub max_input_tokens: Option<u64>,
    pub breaker: BreakerSettings,
    pub limits: Limits,
    /// `max_tokens` for requests without one: the target's, else its provider's
    /// `default_max_tokens` (anthropic providers only).
    pub max_tokens: Option<u64>,
    /// What its usage costs.
    pub pricing: Pricing,
}

impl TargetConfig {
    /// `provider/model`, as written in the config.
    pub fn label(&self) -> String {
        format!("{}/{}", self.provider, self.model)
    }
}

impl Config {
    /// Parses and validates config text. `origin` names the file in diagnostics.
    pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
        validate::parse(text).map_err(|diagnostics| ConfigError {
            origin: origin.to_owned(),
            diagnostics,
        })
    }

    /// The embedded default config.
    pub fn embedded_default() -> Config {
        match Config::parse(DEFAULT_CONFIG, "<default>") {
            Ok(config) => config,
            // The default is checked by a unit test, so this cannot happen in a released build.
            Err(e) => unreachable!("embedded default config is invalid: {e}"),
        }
    }

    /// Finds an alias by exact name, then case-insensitively (case drift is common in clients).
    pub fn find_alias(&self, name: &str) -> Option<&AliasConfig> {
        self.aliases.get(name).or_else(|| {
            self.aliases
                .values()
                .find(|a| a.name.eq_ignore_ascii_case(name))
        })
    }

    /// `alias`, then its fallbacks in order: every alias a request to it may be served by.
    pub fn alias_chain<'a>(
        &'a self,
        alias: &'a AliasConfig,
    ) -> impl Iterator<Item = &'a AliasConfig> + 'a {
        std::iter::once(alias).chain(
            alias
                .fallbacks
                .iter()
                .filter_map(|name| self.aliases.get(name)),
        )
    }

    /// The budget a provider's spend counts against, if it names one.
    pub fn provider_budget(&self, provider: &str) -> Option<&str> {
        self.providers
            .get(provider)
            .and_then(|p| p.budget.as_deref())
    }

    /// Aliases whose names are closest to `name`, for "did you mean" in 404s.
    pub fn suggest_aliases(&self, name: &str) -> Vec<&str> {
        closest_n(name, self.aliases.keys().map(String::as_str), 3)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the default config to {path}: {source}")]
    WriteDefault {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Invalid(#[from] ConfigError),
}

/// Reads and validates a config file.
pub fn load_file(path: &Path) -> Result<Config, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(Config::parse(&text, &path.display().to_string())?)
}

/// Reads the config at `path`, writing the commented default there first if no file exists.
/// Returns the config and whether the default was just written.
pub fn load_or_init(path: &Path) -> Result<(Config, bool), LoadError> {
    let created = if path.exists() {
        false
    } else {
        let write = |path: &Path| -> std::io::Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, DEFAULT_CONFIG)
        };
        write(path).map_err(|source| LoadError::WriteDefault {
            path: path.to_owned(),
            source,
        })?;
        true
    };
    Ok((load_file(path)?, created))
}

/// The config path: `explicit` (from `--config` or `SWITCHBOARD_CONFIG`) or the platform default
/// (`$XDG_CONFIG_HOME/switchboard/config.toml` on Linux,
/// `~/Library/Application Support/switchboard/config.toml` on macOS).
pub fn config_path(explicit: Option<&Path>) -> PathBuf {
    match explicit {
        Some(path) => path.to_owned(),
        None => dirs::config_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("switchboard")
            .join("config.toml"),
    }
}

/// The default database path in the platform data dir.
pub fn default_database_path() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("switchboard")
        .join("switchboard.db")
}
