//! The importer's working model: providers, targets, aliases, limits, costs and budgets as
//! read from the LiteLLM config, before they are rendered.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum KeyRef {
    None,
    Env(String),
    /// The n-th distinct literal key seen: only tells providers apart, never written anywhere.
    Literal(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ProviderKey {
    /// `openai` for everything Switchboard can speak, else LiteLLM's provider name.
    pub(crate) kind: String,
    pub(crate) base_url: Option<String>,
    pub(crate) key: KeyRef,
}

pub(crate) struct Provider {
    pub(crate) name: String,
    pub(crate) key: ProviderKey,
    pub(crate) supported: bool,
    /// For a literal key: the variable the output reads it from instead (`NAME_API_KEY`).
    pub(crate) literal_env: Option<String>,
    /// Where the literal key was written, for the report.
    pub(crate) literal_paths: Vec<String>,
    /// LiteLLM's `drop_params` for this provider's deployments, and where it was set.
    pub(crate) drop_params: Option<(bool, String)>,
    /// The `[budgets.NAME]` this provider counts against.
    pub(crate) budget: Option<String>,
    /// LiteLLM's provider name of its first deployment.
    pub(crate) prefix: String,
}

#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) provider: usize,
    pub(crate) model: String,
    pub(crate) total_s: Option<f64>,
    pub(crate) idle_s: Option<f64>,
    pub(crate) order: Option<i64>,
    /// The deployment's share of LiteLLM's traffic: its `weight`, else 1; deployments merged into
    /// this target add theirs.
    pub(crate) weight: f64,
    /// Whether LiteLLM's `weight` was set (on this deployment or one merged into it).
    pub(crate) weight_given: bool,
    /// Whether `rpm` or `tpm` was set: LiteLLM's simple-shuffle picks by them when no weight is.
    pub(crate) rate_given: bool,
    /// `model_info.max_input_tokens`: the context window.
    pub(crate) max_input_tokens: Option<u64>,
    /// Per-token prices from `model_info` or `litellm_params`, written to `[prices]`.
    pub(crate) costs: Costs,
    /// The weight written to the output; `None` for the default (1).
    pub(crate) weight_out: Option<u32>,
    /// LiteLLM's `rpm`, `tpm` and `max_parallel_requests`: the target's limits.
    pub(crate) limits: Limits,
    /// `anthropic` targets: LiteLLM's `max_tokens`, sent when the request has none.
    pub(crate) max_tokens: Option<u64>,
    /// The deployment's `max_budget` (USD) and `budget_duration`, with where they were set.
    pub(crate) budget: Option<BudgetSpec>,
    pub(crate) path: String,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) rpm: Option<u32>,
    pub(crate) tpm: Option<u64>,
    pub(crate) concurrent: Option<u32>,
}

impl Limits {
    pub(crate) fn is_empty(&self) -> bool {
        *self == Limits::default()
    }

    pub(crate) fn table(&self) -> InlineTable {
        let mut table = InlineTable::new();
        if let Some(rpm) = self.rpm {
            table.insert("rpm", i64::from(rpm).into());
        }
        if let Some(tpm) = self.tpm {
            table.insert("tpm", i64::try_from(tpm).unwrap_or(i64::MAX).into());
        }
        if let Some(concurrent) = self.concurrent {
            table.insert("concurrent", i64::from(concurrent).into());
        }
        table
    }

    /// Two deployments merged into one target: each cap is the sum, or none if either had none.
    pub(crate) fn merged(self, other: Limits) -> Limits {
        Limits {
            rpm: self.rpm.zip(other.rpm).map(|(a, b)| a.saturating_add(b)),
            tpm: self.tpm.zip(other.tpm).map(|(a, b)| a.saturating_add(b)),
            concurrent: self
                .concurrent
                .zip(other.concurrent)
                .map(|(a, b)| a.saturating_add(b)),
        }
    }
}

/// A LiteLLM `max_budget` with its `budget_duration`.
#[derive(Clone)]
pub(crate) struct BudgetSpec {
    pub(crate) usd: f64,
    pub(crate) duration: Option<String>,
    pub(crate) path: String,
}

/// A `[budgets.NAME]` table of the output.
pub(crate) struct BudgetOut {
    pub(crate) name: String,
    pub(crate) usd: f64,
    pub(crate) period: &'static str,
    pub(crate) description: String,
}

/// A `[tokens.NAME]` table of the output: a client key LiteLLM accepted.
pub(crate) struct TokenOut {
    pub(crate) name: String,
    /// Lower-case hex SHA-256 of the key, as Switchboard's guard computes it.
    pub(crate) hash: String,
    pub(crate) description: String,
    pub(crate) tenant: Option<String>,
    pub(crate) aliases: Option<Vec<String>>,
    pub(crate) limits: Limits,
    pub(crate) budget: Option<String>,
}

pub(crate) struct Alias {
    pub(crate) name: String,
    /// `model_list[i]` of its first entry.
    pub(crate) first_path: String,
    pub(crate) deployments: usize,
    pub(crate) targets: Vec<Target>,
    /// Deployments on providers Switchboard cannot speak yet (commented out in the output).
    pub(crate) untranslated: Vec<Target>,
    pub(crate) fallbacks: Vec<String>,
    /// From a context-window fallback: (above_tokens, alias).
    pub(crate) long_context: Option<(u64, String)>,
    /// For a `model_group_alias`: the alias it copies.
    pub(crate) copy_of: Option<String>,
    /// The `[budgets.NAME]` this alias counts against.
    pub(crate) budget: Option<String>,
}

/// A deployment's custom prices, USD per token as LiteLLM writes them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Costs {
    pub(crate) input: Option<f64>,
    pub(crate) output: Option<f64>,
    pub(crate) cache_read: Option<f64>,
    pub(crate) cache_write: Option<f64>,
    pub(crate) cache_write_1h: Option<f64>,
    /// Where each was set, for the report.
    pub(crate) paths: Vec<String>,
}

impl Costs {
    /// Takes `key` (at `path`) if it is a per-token price Switchboard keeps; `false` otherwise.
    pub(crate) fn take(&mut self, key: &str, v: &Value, path: &str) -> bool {
        let slot = match key {
            "input_cost_per_token" => &mut self.input,
            "output_cost_per_token" => &mut self.output,
            "cache_read_input_token_cost" => &mut self.cache_read,
            "cache_creation_input_token_cost" => &mut self.cache_write,
            "cache_creation_input_token_cost_above_1hr" => &mut self.cache_write_1h,
            _ => return false,
        };
        match v.as_f64().filter(|n| n.is_finite() && *n >= 0.0) {
            Some(n) => {
                *slot = Some(n);
                self.paths.push(format!("{path}.{key}"));
                true
            }
            None => false,
        }
    }

    /// `{ input = .., output = .., cache_read = .. }` in USD per million tokens, when both the
    /// input and the output price are known.
    pub(crate) fn per_million(&self) -> Option<InlineTable> {
        let mut table = InlineTable::new();
        for (name, rate) in [
            ("input", self.input),
            ("output", self.output),
            ("cache_read", self.cache_read),
            ("cache_write", self.cache_write),
            ("cache_write_1h", self.cache_write_1h),
        ] {
            if let Some(rate) = rate {
                table.insert(name, ((rate * 1e6 * 1e9).round() / 1e9).into());
            }
        }
        (self.input.is_some() && self.output.is_some()).then_some(table)
    }
}

/// What LiteLLM's routing_strategy becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Routing {
    /// simple-shuffle (LiteLLM's default): Switchboard's default strategy, nothing written.
    Shuffle,
    /// A Switchboard strategy written on every alias with more than one target.
    Strategy(&'static str),
    /// No Switchboard equivalent: the default strategy stays.
    Untranslated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FallbackKind {
    Regular,
    ContextWindow,
}

pub(crate) struct FallbackSpec {
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
    pub(crate) kind: FallbackKind,
    pub(crate) path: String,
}

pub(crate) struct Edge {
    pub(crate) to: String,
    pub(crate) path: String,
}

/// A provider resolved for one deployment, before it is named.
pub(crate) struct Resolved {
    pub(crate) key: ProviderKey,
    pub(crate) supported: bool,
    pub(crate) name_hint: String,
    pub(crate) model: String,
    /// Notes to add only when this provider is first created (not once per deployment).
    pub(crate) provider_notes: Vec<String>,
    /// LiteLLM's provider name (`openai`, `anthropic`, ...), as `provider_budget_config` keys it.
    pub(crate) prefix: String,
}

#[derive(Default)]
pub(crate) struct Importer {
    pub(crate) notes: Vec<ImportNote>,
    pub(crate) literals: Vec<String>,
    pub(crate) providers: Vec<Provider>,
    pub(crate) provider_index: HashMap<ProviderKey, usize>,
    pub(crate) used_provider_names: HashSet<String>,
    pub(crate) aliases: Vec<Alias>,
    pub(crate) alias_index: HashMap<String, usize>,
    /// Lower-cased alias name → the name kept.
    pub(crate) lowercase: HashMap<String, String>,
    /// model_name → why it has no alias (case clash, wildcard, ...).
    pub(crate) skipped: HashMap<String, String>,
    pub(crate) fallback_specs: Vec<FallbackSpec>,
    /// (`default_fallbacks` entries, where they were set).
    pub(crate) default_fallbacks: Vec<(Vec<String>, String)>,
    /// (name, the alias it stands for, path).
    pub(crate) group_aliases: Vec<(String, String, String)>,
    pub(crate) router_timeout: Option<f64>,
    pub(crate) router_stream_timeout: Option<f64>,
    pub(crate) request_timeout: Option<f64>,
    /// router_settings.routing_strategy (`None` when not a string) and where it was set.
    pub(crate) routing_strategy: Option<(Option<String>, String)>,
    /// num_retries from router_settings and from litellm_settings, with where each was set.
    pub(crate) router_num_retries: Option<(u32, String)>,
    pub(crate) settings_num_retries: Option<(u32, String)>,
    /// router_settings.retry_after, in seconds (positive).
    pub(crate) retry_after: Option<f64>,
    /// From router_settings.allowed_fails and cooldown_time.
    pub(crate) breaker_failures: Option<u32>,
    pub(crate) breaker_cooldown: Option<f64>,
    /// litellm_settings.drop_params and where it was set.
    pub(crate) drop_params: Option<(bool, String)>,
    /// litellm_settings.max_budget / budget_duration: the proxy-wide budget.
    pub(crate) proxy_budget: Option<f64>,
    pub(crate) proxy_budget_duration: Option<String>,
    pub(crate) budgets: Vec<BudgetOut>,
    /// router_settings.provider_budget_config: (LiteLLM provider, budget, where).
    pub(crate) provider_budgets: Vec<(String, BudgetSpec)>,
    pub(crate) tokens: Vec<TokenOut>,
    /// `server.admin_token` (a reference) from an env-referenced master_key.
    pub(crate) admin_token: Option<String>,
    /// Variable lookups for `os.environ/` master keys; `None` reads the process environment.
    pub(crate) env: Option<std::collections::BTreeMap<String, String>>,
    /// Whether the deployment being read came from a running LiteLLM's /model/info.
    pub(crate) remote_entry: bool,
}
