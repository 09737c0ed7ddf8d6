//! What a target costs: the config's `[prices]` first, then the price file named by
//! `[spend] prices_file` (written by `switchboard prices import` from LiteLLM's data), then the
//! built-in table for cloud providers (with its source and date), else 0 for local backends. A
//! cloud model none of them knows is *unpriced*, never guessed.
//!
//! Every price has one rate per usage part (fresh input, cache read, 5-minute and 1-hour cache
//! write, output); a source that gives only some of them gets the provider's published
//! multipliers for the rest (`with_defaults`). Cost is the sum of the parts.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::config::{Price, Pricing, ProviderConfig, ProviderKind};
use crate::wire::Usage;

const BUILT_IN: &str = include_str!("prices.toml");

/// One model's rates in a price table, USD per million tokens. Parts left out get defaults.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub input: f64,
    pub output: f64,
    pub cache_read: Option<f64>,
    pub cache_write: Option<f64>,
    pub cache_write_1h: Option<f64>,
    /// The model's context window, used for routing where a target sets none.
    pub max_input_tokens: Option<u64>,
}

/// A price table: the built-in one or a price file (same format), per provider family.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Table {
    pub source: String,
    pub as_of: String,
    #[serde(default)]
    pub openai: BTreeMap<String, Entry>,
    #[serde(default)]
    pub anthropic: BTreeMap<String, Entry>,
    #[serde(default)]
    pub gemini: BTreeMap<String, Entry>,
}

impl Table {
    /// Parses and checks a table; errors name `line:col` (TOML errors) or the model.
    pub fn parse(text: &str) -> Result<Table, String> {
        let table: Table = toml::from_str(text).map_err(|e| {
            let message = e.message().to_owned();
            match e.span() {
                Some(span) => {
                    let (line, col) = line_col(text, span.start);
                    format!("{line}:{col}: {message}")
                }
                None => message,
            }
        })?;
        for (family, entries) in [
            ("openai", &table.openai),
            ("anthropic", &table.anthropic),
            ("gemini", &table.gemini),
        ] {
            for (model, e) in entries {
                let rates = [
                    ("input", Some(e.input)),
                    ("output", Some(e.output)),
                    ("cache_read", e.cache_read),
                    ("cache_write", e.cache_write),
                    ("cache_write_1h", e.cache_write_1h),
                ];
                for (part, rate) in rates {
                    if let Some(rate) = rate.filter(|r| !(r.is_finite() && *r >= 0.0)) {
                        return Err(format!(
                            "[{family}] {model:?}: `{part}` is USD per million tokens, a number of 0 or more, not {rate}"
                        ));
                    }
                }
            }
        }
        Ok(table)
    }

    fn entries(&self, family: ProviderKind) -> Option<&BTreeMap<String, Entry>> {
        match family {
            ProviderKind::OpenAi => Some(&self.openai),
            ProviderKind::Anthropic => Some(&self.anthropic),
            ProviderKind::Gemini => Some(&self.gemini),
            ProviderKind::GithubCopilot | ProviderKind::Demo => None,
        }
    }

    /// The entry for `model`: exact, else without its date or version suffix.
    fn lookup(&self, family: ProviderKind, model: &str) -> Option<&Entry> {
        let entries = self.entries(family)?;
        let model = model.strip_prefix("models/").unwrap_or(model);
        [model, strip_version(model)]
            .iter()
            .find_map(|m| entries.get(*m))
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// A price file named by `[spend] prices_file`, as read when the config was checked.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceFile {
    pub path: String,
    pub table: Table,
    /// Content hash, so a reload of an unchanged config still picks up a new import.
    pub revision: String,
}

impl PriceFile {
    /// Whether the file on disk is no longer what was read (or cannot be read now).
    pub fn changed_on_disk(&self) -> bool {
        std::fs::read_to_string(&self.path)
            .map(|text| crate::config::file::revision_of(&text) != self.revision)
            .unwrap_or(true)
    }
}

fn table() -> Option<&'static Table> {
    static TABLE: OnceLock<Option<Table>> = OnceLock::new();
    // A unit test parses it, so `None` never happens in a released build.
    TABLE.get_or_init(|| Table::parse(BUILT_IN).ok()).as_ref()
}

/// Where the built-in prices come from and when they were checked.
pub fn built_in_source() -> (String, String) {
    table()
        .map(|t| (t.source.clone(), t.as_of.clone()))
        .unwrap_or_default()
}

/// Fills the parts a source left out with the provider's published multipliers of the input
/// rate. Anthropic: cache reads 0.1×, 5-minute writes 1.25×, 1-hour writes 2×. OpenAI: cached
/// input 0.5× (its original discount; newer models are cheaper, and the built-in table says so
/// per model). Gemini: cached input 0.25× (the 75% discount; 2.5 models are 0.1×, in the table).
/// OpenAI and Gemini charge nothing extra for writing a cache, so a write costs plain input.
pub fn with_defaults(
    family: ProviderKind,
    input: f64,
    output: f64,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    cache_write_1h: Option<f64>,
) -> Price {
    let (read, write, hour) = match family {
        ProviderKind::Anthropic => (0.1, 1.25, Some(2.0)),
        ProviderKind::OpenAi => (0.5, 1.0, None),
        ProviderKind::Gemini => (0.25, 1.0, None),
        ProviderKind::GithubCopilot | ProviderKind::Demo => (1.0, 1.0, None),
    };
    // Rates are published to a few decimals: round away float noise (3 × 0.1 ≠ 0.3).
    let times = |m: f64| (input * m * 1e9).round() / 1e9;
    let cache_write = cache_write.unwrap_or(times(write));
    Price {
        input,
        output,
        cache_read: cache_read.unwrap_or(times(read)),
        cache_write,
        cache_write_1h: cache_write_1h.unwrap_or(hour.map_or(cache_write, times)),
    }
}

fn entry_price(family: ProviderKind, e: &Entry) -> Price {
    with_defaults(
        family,
        e.input,
        e.output,
        e.cache_read,
        e.cache_write,
        e.cache_write_1h,
    )
}

/// The price of `model` on `provider`: `[prices."provider/model"]` first, then the price file,
/// then the built-in table. Called once per target while the config is checked, never per
/// request.
pub fn pricing(
    prices: &BTreeMap<String, Price>,
    file: Option<&PriceFile>,
    provider: &ProviderConfig,
    model: &str,
) -> Pricing {
    if let Some(price) = prices.get(&format!("{}/{model}", provider.name)) {
        return Pricing::Configured(*price);
    }
    let Some(family) = cloud_family(provider) else {
        return Pricing::Local;
    };
    if let Some(e) = file.and_then(|f| f.table.lookup(family, model)) {
        return Pricing::Imported(entry_price(family, e));
    }
    match table().and_then(|t| t.lookup(family, model)) {
        Some(e) => Pricing::BuiltIn(entry_price(family, e)),
        None => Pricing::Unknown,
    }
}

/// The context window the price data names for `model` on a cloud provider, if any.
pub fn context_window(
    file: Option<&PriceFile>,
    provider: &ProviderConfig,
    model: &str,
) -> Option<u64> {
    let family = cloud_family(provider)?;
    file.and_then(|f| f.table.lookup(family, model))
        .and_then(|e| e.max_input_tokens)
        .or_else(|| {
            table()
                .and_then(|t| t.lookup(family, model))
                .and_then(|e| e.max_input_tokens)
        })
}

/// The built-in table a provider is priced from; `None` for local and self-hosted backends.
fn cloud_family(provider: &ProviderConfig) -> Option<ProviderKind> {
    match provider.kind {
        ProviderKind::Anthropic | ProviderKind::Gemini => Some(provider.kind),
        ProviderKind::OpenAi => provider
            .base_url
            .as_deref()
            .and_then(|u| url::Url::parse(u).ok())
            .filter(|u| u.host_str() == Some("api.openai.com"))
            .map(|_| ProviderKind::OpenAi),
        // Copilot is billed by subscription, not per token.
        ProviderKind::GithubCopilot | ProviderKind::Demo => None,
    }
}

/// `gpt-4o-2024-08-06` → `gpt-4o`, `claude-sonnet-4-20250514` → `claude-sonnet-4`,
/// `gemini-1.5-pro-002` → `gemini-1.5-pro`, `claude-3-5-haiku-latest` → `claude-3-5-haiku`.
fn strip_version(model: &str) -> &str {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(base) = model.strip_suffix("-latest") {
        return base;
    }
    let parts: Vec<&str> = model.rsplitn(4, '-').collect();
    // `-YYYY-MM-DD`
    if parts.len() == 4 && digits(parts[2], 4) && digits(parts[1], 2) && digits(parts[0], 2) {
        return parts[3];
    }
    match model.rsplit_once('-') {
        Some((base, tail)) if digits(tail, 8) || digits(tail, 3) => base,
        _ => model,
    }
}

/// What a request cost, in billionths of a dollar so sums are exact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cost {
    pub nano_usd: i64,
    /// The same usage with every input token at the plain input rate.
    pub uncached_nano_usd: i64,
}

/// The sum of the parts, each at its own rate.
pub fn cost(price: Price, usage: &Usage) -> Cost {
    // tokens × USD per million × 1e9 / 1e6
    let part = |tokens: Option<u64>, rate: f64| tokens.unwrap_or(0) as f64 * rate * 1000.0;
    let hour = usage.cache_write_1h_tokens;
    let output = part(usage.output_tokens, price.output);
    let nano = part(usage.fresh_input_tokens, price.input)
        + part(usage.cache_read_tokens, price.cache_read)
        + part(Some(usage.cache_write_5m_tokens()), price.cache_write)
        + part(hour, price.cache_write_1h)
        + output;
    let uncached = part(usage.input_tokens(), price.input) + output;
    Cost {
        nano_usd: nano.round() as i64,
        uncached_nano_usd: uncached.round() as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_table_parses_and_names_its_source() {
        assert!(
            Table::parse(BUILT_IN).is_ok(),
            "{:?}",
            Table::parse(BUILT_IN)
        );
        let (source, as_of) = built_in_source();
        assert!(source.contains("https://"), "{source}");
        assert_eq!(as_of.len(), 10, "{as_of}");
    }

    #[test]
    fn version_suffixes_are_dropped() {
        assert_eq!(strip_version("gpt-4o-2024-08-06"), "gpt-4o");
        assert_eq!(strip_version("claude-sonnet-4-20250514"), "claude-sonnet-4");
        assert_eq!(strip_version("gemini-1.5-pro-002"), "gemini-1.5-pro");
        assert_eq!(strip_version("claude-3-5-haiku-latest"), "claude-3-5-haiku");
        assert_eq!(strip_version("gpt-4o-mini"), "gpt-4o-mini");
        assert_eq!(strip_version("gpt-4.1"), "gpt-4.1");
    }

    fn priced(config: &str) -> Pricing {
        let config = crate::config::Config::parse(config, "t").unwrap_or_else(|e| panic!("{e}"));
        config.aliases["a"].targets[0].pricing
    }

    const OPENAI: &str =
        "[providers.o]\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\n";
    const ANTHROPIC: &str = "[providers.c]\nkind = \"anthropic\"\napi_key = \"env:K\"\n";
    const GEMINI: &str = "[providers.g]\nkind = \"gemini\"\napi_key = \"env:K\"\n";

    fn price(input: f64, output: f64, read: f64, write: f64, hour: f64) -> Price {
        Price {
            input,
            output,
            cache_read: read,
            cache_write: write,
            cache_write_1h: hour,
        }
    }

    #[test]
    fn cloud_models_use_the_table_local_ones_are_free_and_config_wins() {
        assert_eq!(
            priced(&format!(
                "{OPENAI}[aliases.a]\ntargets = [\"o/gpt-4o-mini-2024-07-18\"]\n"
            )),
            Pricing::BuiltIn(price(0.15, 0.60, 0.075, 0.15, 0.15))
        );
        assert_eq!(
            priced(&format!(
                "{OPENAI}[aliases.a]\ntargets = [\"o/gpt-9-ultra\"]\n"
            )),
            Pricing::Unknown
        );
        assert_eq!(
            priced("[providers.l]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:11434/v1\"\n[aliases.a]\ntargets = [\"l/llama3\"]\n"),
            Pricing::Local
        );
        // Anthropic's multipliers fill the cache parts.
        assert_eq!(
            priced(&format!(
                "{ANTHROPIC}[aliases.a]\ntargets = [\"c/claude-sonnet-4-5-20250929\"]\n"
            )),
            Pricing::BuiltIn(price(3.0, 15.0, 0.3, 3.75, 6.0))
        );
        assert_eq!(
            priced(&format!(
                "{ANTHROPIC}[aliases.a]\ntargets = [\"c/claude-3-haiku-20240307\"]\n"
            )),
            Pricing::BuiltIn(price(0.25, 1.25, 0.03, 0.30, 0.50))
        );
        assert_eq!(
            priced(&format!("{OPENAI}[aliases.a]\ntargets = [\"o/gpt-4o\"]\n[prices.\"o/gpt-4o\"]\ninput = 1\noutput = 2\n")),
            Pricing::Configured(price(1.0, 2.0, 0.5, 1.0, 1.0))
        );
        assert_eq!(
            priced(&format!("{ANTHROPIC}[aliases.a]\ntargets = [\"c/m\"]\n[prices.\"c/m\"]\ninput = 2\noutput = 4\ncache_read = 0.5\n")),
            Pricing::Configured(price(2.0, 4.0, 0.5, 2.5, 4.0))
        );
    }

    fn cost_of(config: &str, usage: &serde_json::Value) -> Cost {
        let price = priced(config).price().unwrap_or_else(|| panic!("unpriced"));
        cost(price, &Usage::from_json(usage).unwrap_or_default())
    }

    #[test]
    fn the_worked_examples_cost_what_the_providers_bill() {
        // Anthropic, claude-sonnet-4-5 ($3 in / $15 out): 100 × $3 + 10,000 × $0.30 +
        // 2,000 × $3.75 + 50 × $15 per million = $0.01155.
        let sonnet = format!("{ANTHROPIC}[aliases.a]\ntargets = [\"c/claude-sonnet-4-5\"]\n");
        let usage = serde_json::json!({"input_tokens": 100, "cache_read_input_tokens": 10000,
            "cache_creation_input_tokens": 2000, "output_tokens": 50});
        let c = cost_of(&sonnet, &usage);
        assert_eq!(c.nano_usd, 11_550_000);
        // Without the cache: 12,100 × $3 + 50 × $15 per million.
        assert_eq!(c.uncached_nano_usd, 37_050_000);
        // A 1-hour write costs 2× input: 500 of the 2,000 at $6 instead of $3.75.
        let hour = serde_json::json!({"input_tokens": 100, "cache_read_input_tokens": 10000,
            "cache_creation_input_tokens": 2000, "output_tokens": 50,
            "cache_creation": {"ephemeral_5m_input_tokens": 1500, "ephemeral_1h_input_tokens": 500}});
        assert_eq!(cost_of(&sonnet, &hour).nano_usd, 11_550_000 + 500 * 2250);

        // OpenAI, gpt-4.1 ($2 in, $0.50 cached, $8 out): 10,000 prompt tokens of which 8,000
        // cached, 500 out = 2,000 × $2 + 8,000 × $0.50 + 500 × $8 per million = $0.012.
        let usage = serde_json::json!({"prompt_tokens": 10000, "completion_tokens": 500,
            "prompt_tokens_details": {"cached_tokens": 8000}});
        let c = cost_of(
            &format!("{OPENAI}[aliases.a]\ntargets = [\"o/gpt-4.1-2025-04-14\"]\n"),
            &usage,
        );
        assert_eq!(c.nano_usd, 12_000_000);
        assert_eq!(c.uncached_nano_usd, 24_000_000);

        // Gemini, gemini-2.5-pro ($1.25 in, $0.125 cached, $10 out, thoughts billed as output):
        // promptTokenCount 11,500 of which 10,000 cached, 1,000 candidates + 10,000 thoughts =
        // 1,500 × $1.25 + 10,000 × $0.125 + 11,000 × $10 per million = $0.113125.
        let usage = serde_json::json!({"promptTokenCount": 11500, "candidatesTokenCount": 1000,
            "cachedContentTokenCount": 10000, "thoughtsTokenCount": 10000});
        let c = cost_of(
            &format!("{GEMINI}[aliases.a]\ntargets = [\"g/gemini-2.5-pro\"]\n"),
            &usage,
        );
        assert_eq!(c.nano_usd, 113_125_000);
    }

    #[test]
    fn a_price_file_wins_over_the_table_and_names_context_windows() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("prices.toml");
        std::fs::write(
            &path,
            "source = \"test\"\nas_of = \"2026-12-01\"\n[anthropic]\n\"claude-sonnet-4-5\" = { input = 1.0, output = 2.0, max_input_tokens = 1000 }\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let config = format!(
            "[spend]\nprices_file = {:?}\n{ANTHROPIC}[aliases.a]\ntargets = [\"c/claude-sonnet-4-5-20250929\", {{ model = \"c/claude-sonnet-4-5\", max_input_tokens = 50 }}, \"c/claude-opus-4\"]\n",
            path.display().to_string()
        );
        let config = crate::config::Config::parse(&config, "t").unwrap_or_else(|e| panic!("{e}"));
        let targets = &config.aliases["a"].targets;
        assert_eq!(
            targets[0].pricing,
            Pricing::Imported(price(1.0, 2.0, 0.1, 1.25, 2.0))
        );
        assert_eq!(targets[0].max_input_tokens, Some(1000));
        // The target's own window wins.
        assert_eq!(targets[1].max_input_tokens, Some(50));
        // Not in the file: the built-in table, no window.
        assert!(matches!(targets[2].pricing, Pricing::BuiltIn(_)));
        assert_eq!(targets[2].max_input_tokens, None);
    }

    #[test]
    fn price_file_errors_name_line_and_column() {
        let e = Table::parse(
            "source = \"s\"\nas_of = \"d\"\n[openai]\n\"m\" = { input = 1, outptu = 2 }\n",
        )
        .err()
        .unwrap_or_default();
        assert!(e.starts_with("4:"), "{e}");
        assert!(e.contains("outptu"), "{e}");
        let e = Table::parse(
            "source = \"s\"\nas_of = \"d\"\n[openai]\n\"m\" = { input = -1, output = 2 }\n",
        )
        .err()
        .unwrap_or_default();
        assert!(e.contains("`input`"), "{e}");
    }
}
