//! What a target costs: the config's `[prices]` first, then the built-in table for cloud
//! providers (with its source and date), else 0 for local backends. A cloud model the table does
//! not know is *unpriced*, never guessed.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::config::{Price, Pricing, ProviderConfig, ProviderKind};

const BUILT_IN: &str = include_str!("prices.toml");

#[derive(Debug, Deserialize)]
struct Table {
    source: String,
    as_of: String,
    openai: BTreeMap<String, [f64; 2]>,
    anthropic: BTreeMap<String, [f64; 2]>,
    gemini: BTreeMap<String, [f64; 2]>,
}

fn table() -> Option<&'static Table> {
    static TABLE: OnceLock<Option<Table>> = OnceLock::new();
    // A unit test parses it, so `None` never happens in a released build.
    TABLE.get_or_init(|| toml::from_str(BUILT_IN).ok()).as_ref()
}

/// Where the built-in prices come from and when they were checked.
pub fn built_in_source() -> (String, String) {
    table()
        .map(|t| (t.source.clone(), t.as_of.clone()))
        .unwrap_or_default()
}

/// The price of `model` on `provider`: `[prices."provider/model"]` first, then the built-in table.
/// Called once per target while the config is checked, never per request.
pub fn pricing(
    prices: &BTreeMap<String, Price>,
    provider: &ProviderConfig,
    model: &str,
) -> Pricing {
    if let Some(price) = prices.get(&format!("{}/{model}", provider.name)) {
        return Pricing::Configured(*price);
    }
    let Some(family) = cloud_family(provider) else {
        return Pricing::Local;
    };
    match table().and_then(|t| lookup(t, family, model)) {
        Some(price) => Pricing::BuiltIn(price),
        None => Pricing::Unknown,
    }
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
        ProviderKind::Demo => None,
    }
}

fn lookup(table: &Table, family: ProviderKind, model: &str) -> Option<Price> {
    let prices = match family {
        ProviderKind::OpenAi => &table.openai,
        ProviderKind::Anthropic => &table.anthropic,
        ProviderKind::Gemini => &table.gemini,
        ProviderKind::Demo => return None,
    };
    let model = model.strip_prefix("models/").unwrap_or(model);
    let base = strip_version(model);
    [model, base]
        .iter()
        .find_map(|m| prices.get(*m))
        .map(|[input, output]| Price {
            input: *input,
            output: *output,
        })
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

/// Cost in billionths of a dollar, so sums are exact.
pub fn nano_usd(price: Price, input_tokens: u64, output_tokens: u64) -> i64 {
    // tokens × USD per million × 1e9 / 1e6
    (input_tokens as f64 * price.input * 1000.0 + output_tokens as f64 * price.output * 1000.0)
        .round() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_table_parses_and_names_its_source() {
        assert!(table().is_some(), "prices.toml must parse");
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

    #[test]
    fn cloud_models_use_the_table_local_ones_are_free_and_config_wins() {
        let openai = "[providers.o]\nkind = \"openai\"\nbase_url = \"https://api.openai.com/v1\"\n";
        assert_eq!(
            priced(&format!(
                "{openai}[aliases.a]\ntargets = [\"o/gpt-4o-mini-2024-07-18\"]\n"
            )),
            Pricing::BuiltIn(Price {
                input: 0.15,
                output: 0.60
            })
        );
        assert_eq!(
            priced(&format!(
                "{openai}[aliases.a]\ntargets = [\"o/gpt-9-ultra\"]\n"
            )),
            Pricing::Unknown
        );
        assert_eq!(
            priced("[providers.l]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:11434/v1\"\n[aliases.a]\ntargets = [\"l/llama3\"]\n"),
            Pricing::Local
        );
        assert_eq!(
            priced("[providers.c]\nkind = \"anthropic\"\napi_key = \"env:K\"\n[aliases.a]\ntargets = [\"c/claude-sonnet-4-5-20250929\"]\n"),
            Pricing::BuiltIn(Price {
                input: 3.0,
                output: 15.0
            })
        );
        assert_eq!(
            priced(&format!("{openai}[aliases.a]\ntargets = [\"o/gpt-4o\"]\n[prices.\"o/gpt-4o\"]\ninput = 1\noutput = 2\n")),
            Pricing::Configured(Price {
                input: 1.0,
                output: 2.0
            })
        );
    }

    #[test]
    fn cost_is_exact_in_nano_dollars() {
        let price = Price {
            input: 2.5,
            output: 10.0,
        };
        // 1000 × $2.50/M + 500 × $10/M = $0.0025 + $0.005
        assert_eq!(nano_usd(price, 1000, 500), 7_500_000);
        assert_eq!(nano_usd(Price::default(), 1000, 500), 0);
    }
}
