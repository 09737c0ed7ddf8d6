//! Typed reads of LiteLLM values (seconds, counts, USD, weights, `model_info`), each noting
//! what it could not take.

use super::*;

impl Importer {
    pub(crate) fn seconds(&mut self, v: &Value, path: &str, key: &str) -> Option<f64> {
        let seconds = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match seconds {
            Some(s) if s.is_finite() && s > 0.0 && s < 1.0e7 => Some(s),
            _ => {
                self.note(
                    path,
                    format!("`{key}` not imported: it must be a positive number of seconds"),
                );
                None
            }
        }
    }

    /// A whole number from 1 (a rate or token cap). `None` (with a note) otherwise.
    pub(crate) fn whole(&mut self, v: &Value, path: &str, key: &str) -> Option<u64> {
        let n = match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if n >= 1 && n < u64::from(u32::MAX) * 1000 => Some(n),
            _ => {
                self.note(
                    path,
                    format!(
                        "`{key}`{} not imported: it must be a whole number from 1",
                        shown(v)
                    ),
                );
                None
            }
        }
    }

    /// A positive amount of US dollars. `None` (with a note) otherwise.
    pub(crate) fn usd(&mut self, v: &Value, path: &str) -> Option<f64> {
        let usd = match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match usd {
            Some(usd) if usd.is_finite() && usd > 0.0 => Some(usd),
            _ => {
                self.note(
                    path,
                    format!(
                        "max_budget{} not imported: it must be a positive amount of USD",
                        shown(v)
                    ),
                );
                None
            }
        }
    }

    /// LiteLLM's `weight`: a number from 0 up. `None` (with a note) when it is not one.
    pub(crate) fn weight(&mut self, v: &Value, path: &str) -> Option<f64> {
        match v.as_f64() {
            Some(w) if w.is_finite() && w > 0.0 && w <= MAX_WEIGHT => Some(w),
            Some(0.0) => {
                self.note(
                    path,
                    "weight = 0: LiteLLM's simple-shuffle never picked this deployment, but Switchboard's weights start at 1, so it gets the lowest weight; remove the target by hand if it should get no traffic",
                );
                Some(0.0)
            }
            _ => {
                self.note(
                    path,
                    format!(
                        "`weight`{} not imported: it must be a number from 0 to {MAX_WEIGHT}",
                        shown(v)
                    ),
                );
                None
            }
        }
    }

    /// `model_info`: `max_input_tokens` is the target's context window, per-token prices go to
    /// `costs`; the rest is reported.
    pub(crate) fn model_info(&mut self, v: &Value, path: &str, costs: &mut Costs) -> Option<u64> {
        let map = match v {
            Value::Mapping(map) => map,
            Value::Null => return None,
            other => {
                self.note(
                    path,
                    format!(
                        "model_info not imported: expected a mapping, found {}",
                        type_name(other)
                    ),
                );
                return None;
            }
        };
        let mut max_input_tokens = None;
        for (key, v) in map {
            let key = key_text(key);
            let at = format!("{path}.{key}");
            match key.as_str() {
                "max_input_tokens" => match v.as_f64() {
                    Some(n) if n >= 1.0 && n.fract() == 0.0 && n < 1.0e12 => {
                        max_input_tokens = Some(n as u64);
                    }
                    _ => self.note(
                        at,
                        format!("max_input_tokens{} not imported: it must be a whole number of tokens, at least 1", shown(v)),
                    ),
                },
                "max_tokens" | "max_output_tokens" => self.note(
                    at,
                    format!("{key}{} not imported: Switchboard uses only max_input_tokens (the context window) from model_info", shown(v)),
                ),
                k if costs.take(k, v, path) => {}
                k if k.contains("cost") => self.note(
                    at,
                    format!("{key}{} not imported: Switchboard prices input, output, cache reads and cache writes per token (input_cost_per_token, output_cost_per_token, cache_read_input_token_cost, cache_creation_input_token_cost)", shown(v)),
                ),
                _ => self.note(
                    at,
                    format!("`{key}`{} not imported: Switchboard keeps no per-model metadata besides max_input_tokens", shown(v)),
                ),
            }
        }
        max_input_tokens
    }
}
