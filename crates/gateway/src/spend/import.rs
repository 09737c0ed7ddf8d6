//! `switchboard prices import`: LiteLLM's `model_prices_and_context_window.json` (the price data
//! most people already have) → a price file in the built-in table's format, which
//! `[spend] prices_file` names. Prices stay current without the network at run time: importing a
//! newer file is the update.
//!
//! LiteLLM's format: one object per model id, USD *per token* (`input_cost_per_token`,
//! `output_cost_per_token`, `cache_read_input_token_cost`, `cache_creation_input_token_cost`,
//! `cache_creation_input_token_cost_above_1hr`), `litellm_provider`, `mode`, `max_input_tokens`.
//! Only the providers the built-in table covers are kept (`openai`, `anthropic`, `gemini`); a
//! model without an input and output price is left out, so it stays unpriced.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct LiteLlmModel {
    litellm_provider: Option<String>,
    mode: Option<String>,
    input_cost_per_token: Option<f64>,
    output_cost_per_token: Option<f64>,
    cache_read_input_token_cost: Option<f64>,
    cache_creation_input_token_cost: Option<f64>,
    cache_creation_input_token_cost_above_1hr: Option<f64>,
    max_input_tokens: Option<u64>,
}

/// Modes whose prices are per token of text in and out.
const MODES: &[&str] = &["chat", "completion", "responses", "embedding"];

/// The imported price file and what went into it.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub toml: String,
    /// Models written, per family (`openai`, `anthropic`, `gemini`).
    pub models: BTreeMap<&'static str, usize>,
    /// Entries of those families left out (no token prices, or a mode that is not per token).
    pub skipped: usize,
}

/// Converts LiteLLM's JSON. `source` and `as_of` go into the file and are shown by
/// `switchboard budgets` and `GET /admin/budgets`.
pub fn from_litellm_json(json: &str, source: &str, as_of: &str) -> Result<Imported, String> {
    let all: BTreeMap<String, Value> = serde_json::from_str(json).map_err(|e| {
        format!(
            "{}:{}: not LiteLLM's model_prices_and_context_window.json: {e}",
            e.line(),
            e.column()
        )
    })?;
    let mut families: BTreeMap<&'static str, Vec<(String, String)>> = BTreeMap::new();
    let mut skipped = 0;
    for (key, value) in all {
        // Its `sample_spec` documents the fields; anything not an object is not a model.
        let Ok(model) = serde_json::from_value::<LiteLlmModel>(value) else {
            continue;
        };
        let family = match model.litellm_provider.as_deref() {
            Some("openai") => "openai",
            Some("anthropic") => "anthropic",
            Some("gemini") => "gemini",
            _ => continue,
        };
        let per_token = model.mode.as_deref().is_none_or(|m| MODES.contains(&m));
        let (Some(input), Some(output), true) = (
            model.input_cost_per_token,
            model.output_cost_per_token,
            per_token,
        ) else {
            skipped += 1;
            continue;
        };
        // `gemini/gemini-2.5-pro` is model `gemini-2.5-pro` on a gemini provider.
        let id = key
            .strip_prefix(&format!("{family}/"))
            .unwrap_or(&key)
            .to_owned();
        let mut fields = vec![
            format!("input = {}", per_million(input)),
            format!("output = {}", per_million(output)),
        ];
        for (name, rate) in [
            ("cache_read", model.cache_read_input_token_cost),
            ("cache_write", model.cache_creation_input_token_cost),
            (
                "cache_write_1h",
                model.cache_creation_input_token_cost_above_1hr,
            ),
        ] {
            if let Some(rate) = rate {
                fields.push(format!("{name} = {}", per_million(rate)));
            }
        }
        if let Some(window) = model.max_input_tokens {
            fields.push(format!("max_input_tokens = {window}"));
        }
        let line = format!("{} = {{ {} }}", toml_string(&id), fields.join(", "));
        families.entry(family).or_default().push((id, line));
    }
    let mut toml = String::new();
    let _ = writeln!(
        toml,
        "# Written by `switchboard prices import`; USD per million tokens. Import a newer file to\n\
         # update it (the gateway rereads it on every config reload). Format: see prices.toml."
    );
    let _ = writeln!(toml, "source = {}", toml_string(source));
    let _ = writeln!(toml, "as_of = {}", toml_string(as_of));
    let mut models = BTreeMap::new();
    for family in ["openai", "anthropic", "gemini"] {
        let mut lines = families.remove(family).unwrap_or_default();
        // Dated and undated ids can collide after stripping a prefix: the first wins.
        lines.sort();
        lines.dedup_by(|a, b| a.0 == b.0);
        models.insert(family, lines.len());
        let _ = writeln!(toml, "\n[{family}]");
        for (_, line) in lines {
            let _ = writeln!(toml, "{line}");
        }
    }
    Ok(Imported {
        toml,
        models,
        skipped,
    })
}

/// Today's date in the local zone, for `as_of`.
pub fn today() -> String {
    jiff::Zoned::now().date().to_string()
}

/// USD per token → per million as a TOML float, without float noise (`3.75e-06` → `3.75`).
fn per_million(per_token: f64) -> String {
    toml::Value::Float((per_token * 1e6 * 1e9).round() / 1e9).to_string()
}

fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::prices::Table;

    #[test]
    fn litellm_prices_become_a_price_file() {
        let json = r#"{
          "sample_spec": {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0,
                          "litellm_provider": "one of https://docs.litellm.ai/docs/providers", "mode": "one of: chat, embedding"},
          "claude-sonnet-4-5": {"input_cost_per_token": 3e-06, "output_cost_per_token": 1.5e-05,
            "cache_read_input_token_cost": 3e-07, "cache_creation_input_token_cost": 3.75e-06,
            "cache_creation_input_token_cost_above_1hr": 6e-06, "litellm_provider": "anthropic",
            "max_input_tokens": 200000, "max_output_tokens": 64000, "mode": "chat"},
          "gemini/gemini-2.5-flash": {"input_cost_per_token": 3e-07, "output_cost_per_token": 2.5e-06,
            "cache_read_input_token_cost": 3e-08, "litellm_provider": "gemini", "max_input_tokens": 1048576, "mode": "chat"},
          "dall-e-3": {"litellm_provider": "openai", "mode": "image_generation", "output_cost_per_image": 0.04},
          "azure/gpt-4o": {"input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05, "litellm_provider": "azure", "mode": "chat"}
        }"#;
        let imported =
            from_litellm_json(json, "LiteLLM test", "2026-12-01").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(imported.models["anthropic"], 1);
        assert_eq!(imported.models["gemini"], 1);
        assert_eq!(imported.models["openai"], 0);
        assert_eq!(imported.skipped, 1, "dall-e-3 has no token prices");
        let table =
            Table::parse(&imported.toml).unwrap_or_else(|e| panic!("{e}\n{}", imported.toml));
        assert_eq!(table.as_of, "2026-12-01");
        let sonnet = table.anthropic["claude-sonnet-4-5"];
        assert_eq!(
            (
                sonnet.input,
                sonnet.output,
                sonnet.cache_read,
                sonnet.cache_write,
                sonnet.cache_write_1h
            ),
            (3.0, 15.0, Some(0.3), Some(3.75), Some(6.0))
        );
        assert_eq!(sonnet.max_input_tokens, Some(200_000));
        assert_eq!(table.gemini["gemini-2.5-flash"].cache_read, Some(0.03));
        let e = from_litellm_json("{\n  \"x\": ", "s", "d")
            .err()
            .unwrap_or_default();
        assert!(e.starts_with("2:"), "{e}");
    }
}
