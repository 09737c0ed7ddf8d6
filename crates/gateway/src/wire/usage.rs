//! Token counts split into the parts providers bill differently: fresh input, prompt-cache
//! reads and writes, output (reasoning included). Every dialect's usage object maps onto these
//! parts here, so a request costs the same whichever path it took.
//!
//! The dialects disagree on what "input" means: OpenAI's `prompt_tokens` (and the Responses API's
//! and Gemini's prompt counts) *include* cached tokens; Anthropic's `input_tokens` *excludes*
//! cache reads and writes.

use serde_json::Value;

/// Token counts as reported by the backend. `None`: the backend did not say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Input neither read from nor written to a prompt cache (billed at the input rate).
    pub fresh_input_tokens: Option<u64>,
    pub cache_read_tokens: Option<u64>,
    /// Prompt-cache writes of every lifetime (Anthropic's 5-minute and 1-hour writes).
    pub cache_write_tokens: Option<u64>,
    /// The part of `cache_write_tokens` written for an hour.
    pub cache_write_1h_tokens: Option<u64>,
    /// Output, reasoning included (reasoning is billed as output).
    pub output_tokens: Option<u64>,
    pub reasoning_tokens: Option<u64>,
}

fn count(value: &Value, key: &str) -> Option<u64> {
    value.get(key).and_then(Value::as_u64)
}

fn sum(parts: &[Option<u64>]) -> Option<u64> {
    parts
        .iter()
        .any(Option::is_some)
        .then(|| parts.iter().map(|p| p.unwrap_or(0)).sum())
}

impl Usage {
    /// Usage in OpenAI's terms: `prompt_tokens` counts every input token, cached or not.
    pub fn from_openai_counts(
        prompt_tokens: Option<u64>,
        cached_tokens: Option<u64>,
        cache_write_tokens: Option<u64>,
        cache_write_1h_tokens: Option<u64>,
        completion_tokens: Option<u64>,
        reasoning_tokens: Option<u64>,
    ) -> Usage {
        let cached = cached_tokens.unwrap_or(0) + cache_write_tokens.unwrap_or(0);
        Usage {
            fresh_input_tokens: prompt_tokens.map(|p| p.saturating_sub(cached)),
            cache_read_tokens: cached_tokens,
            cache_write_tokens,
            cache_write_1h_tokens,
            output_tokens: completion_tokens,
            reasoning_tokens,
        }
    }

    /// Reads a usage object in any dialect the gateway sees: OpenAI chat (`prompt_tokens`,
    /// `prompt_tokens_details.cached_tokens`, and the `cache_write_tokens` OpenRouter and
    /// Switchboard add), OpenAI Responses (`input_tokens_details`), Anthropic (`input_tokens`
    /// plus `cache_*_input_tokens`) and Gemini (`promptTokenCount`). `None` for anything else.
    pub fn from_json(usage: &Value) -> Option<Usage> {
        if !usage.is_object() {
            return None;
        }
        let parsed =
            if usage.get("prompt_tokens").is_some() || usage.get("completion_tokens").is_some() {
                let details = usage.get("prompt_tokens_details").unwrap_or(&Value::Null);
                let output = usage
                    .get("completion_tokens_details")
                    .unwrap_or(&Value::Null);
                Usage::from_openai_counts(
                    count(usage, "prompt_tokens"),
                    // DeepSeek and LiteLLM report cache hits at the top level.
                    count(details, "cached_tokens")
                        .or_else(|| count(usage, "prompt_cache_hit_tokens"))
                        .or_else(|| count(usage, "cache_read_input_tokens")),
                    count(details, "cache_write_tokens")
                        .or_else(|| count(usage, "cache_creation_input_tokens")),
                    count(details, "cache_write_1h_tokens"),
                    count(usage, "completion_tokens"),
                    count(output, "reasoning_tokens"),
                )
            } else if usage.get("input_tokens_details").is_some()
                || usage.get("output_tokens_details").is_some()
            {
                let details = usage.get("input_tokens_details").unwrap_or(&Value::Null);
                let output = usage.get("output_tokens_details").unwrap_or(&Value::Null);
                Usage::from_openai_counts(
                    count(usage, "input_tokens"),
                    count(details, "cached_tokens"),
                    None,
                    None,
                    count(usage, "output_tokens"),
                    count(output, "reasoning_tokens"),
                )
            } else if usage.get("promptTokenCount").is_some()
                || usage.get("candidatesTokenCount").is_some()
            {
                let thoughts = count(usage, "thoughtsTokenCount");
                Usage::from_openai_counts(
                    count(usage, "promptTokenCount"),
                    count(usage, "cachedContentTokenCount"),
                    None,
                    None,
                    sum(&[count(usage, "candidatesTokenCount"), thoughts]),
                    thoughts,
                )
            } else {
                let creation = usage.get("cache_creation").unwrap_or(&Value::Null);
                let five = count(creation, "ephemeral_5m_input_tokens");
                let hour = count(creation, "ephemeral_1h_input_tokens");
                Usage {
                    fresh_input_tokens: count(usage, "input_tokens"),
                    cache_read_tokens: count(usage, "cache_read_input_tokens"),
                    cache_write_tokens: count(usage, "cache_creation_input_tokens")
                        .or_else(|| sum(&[five, hour])),
                    cache_write_1h_tokens: hour,
                    output_tokens: count(usage, "output_tokens"),
                    reasoning_tokens: None,
                }
            };
        (!parsed.is_empty()).then_some(parsed)
    }

    pub fn is_empty(&self) -> bool {
        *self == Usage::default()
    }

    /// Every input token, cached or not (OpenAI's `prompt_tokens`); `None` when none was reported.
    pub fn input_tokens(&self) -> Option<u64> {
        sum(&[
            self.fresh_input_tokens,
            self.cache_read_tokens,
            self.cache_write_tokens,
        ])
    }

    /// Cache writes that last five minutes (the default lifetime).
    pub fn cache_write_5m_tokens(&self) -> u64 {
        self.cache_write_tokens
            .unwrap_or(0)
            .saturating_sub(self.cache_write_1h_tokens.unwrap_or(0))
    }

    /// Streams report usage in pieces (Anthropic: input in `message_start`, output in
    /// `message_delta`): what a later event says wins, part by part.
    pub fn merge(self, later: Usage) -> Usage {
        Usage {
            fresh_input_tokens: later.fresh_input_tokens.or(self.fresh_input_tokens),
            cache_read_tokens: later.cache_read_tokens.or(self.cache_read_tokens),
            cache_write_tokens: later.cache_write_tokens.or(self.cache_write_tokens),
            cache_write_1h_tokens: later.cache_write_1h_tokens.or(self.cache_write_1h_tokens),
            output_tokens: later.output_tokens.or(self.output_tokens),
            reasoning_tokens: later.reasoning_tokens.or(self.reasoning_tokens),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parts(usage: &Value) -> (u64, u64, u64, u64, u64, u64) {
        let u = Usage::from_json(usage).unwrap_or_default();
        (
            u.fresh_input_tokens.unwrap_or(0),
            u.cache_read_tokens.unwrap_or(0),
            u.cache_write_tokens.unwrap_or(0),
            u.cache_write_1h_tokens.unwrap_or(0),
            u.output_tokens.unwrap_or(0),
            u.reasoning_tokens.unwrap_or(0),
        )
    }

    #[test]
    fn every_dialect_maps_onto_the_same_parts() {
        let cases = [
            // OpenAI chat: prompt_tokens includes the cached ones.
            (
                json!({"prompt_tokens": 2006, "completion_tokens": 300, "total_tokens": 2306,
                       "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
                       "completion_tokens_details": {"reasoning_tokens": 128}}),
                (86, 1920, 0, 0, 300, 128),
            ),
            // OpenAI chat as Switchboard writes it for an Anthropic backend.
            (
                json!({"prompt_tokens": 12100, "completion_tokens": 50, "total_tokens": 12150,
                       "prompt_tokens_details": {"cached_tokens": 10000, "cache_write_tokens": 2000,
                                                 "cache_write_1h_tokens": 500}}),
                (100, 10000, 2000, 500, 50, 0),
            ),
            // LiteLLM's and DeepSeek's top-level fields.
            (
                json!({"prompt_tokens": 12100, "completion_tokens": 50,
                       "cache_read_input_tokens": 10000, "cache_creation_input_tokens": 2000}),
                (100, 10000, 2000, 0, 50, 0),
            ),
            (
                json!({"prompt_tokens": 1000, "completion_tokens": 5,
                       "prompt_cache_hit_tokens": 800, "prompt_cache_miss_tokens": 200}),
                (200, 800, 0, 0, 5, 0),
            ),
            // OpenAI Responses API: input_tokens includes the cached ones.
            (
                json!({"input_tokens": 2006, "output_tokens": 300,
                       "input_tokens_details": {"cached_tokens": 1920},
                       "output_tokens_details": {"reasoning_tokens": 128}}),
                (86, 1920, 0, 0, 300, 128),
            ),
            // Anthropic: input_tokens excludes cache reads and writes.
            (
                json!({"input_tokens": 100, "output_tokens": 50,
                       "cache_read_input_tokens": 10000, "cache_creation_input_tokens": 2000,
                       "cache_creation": {"ephemeral_5m_input_tokens": 1500,
                                          "ephemeral_1h_input_tokens": 500}}),
                (100, 10000, 2000, 500, 50, 0),
            ),
            (
                json!({"cache_creation": {"ephemeral_5m_input_tokens": 1500,
                                          "ephemeral_1h_input_tokens": 500}}),
                (0, 0, 2000, 500, 0, 0),
            ),
            // Gemini: promptTokenCount includes cached content; thoughts are output.
            (
                json!({"promptTokenCount": 11500, "candidatesTokenCount": 1000,
                       "cachedContentTokenCount": 10000, "thoughtsTokenCount": 10000,
                       "totalTokenCount": 22500}),
                (1500, 10000, 0, 0, 11000, 10000),
            ),
        ];
        for (usage, expected) in cases {
            assert_eq!(parts(&usage), expected, "{usage}");
        }
        assert_eq!(Usage::from_json(&json!(null)), None);
        assert_eq!(Usage::from_json(&json!({})), None);
    }

    #[test]
    fn stream_pieces_merge_part_by_part() {
        let start = Usage::from_json(&json!({"input_tokens": 100, "output_tokens": 1,
            "cache_read_input_tokens": 10000, "cache_creation_input_tokens": 2000}))
        .unwrap_or_default();
        let delta = Usage::from_json(&json!({"output_tokens": 50})).unwrap_or_default();
        let merged = start.merge(delta);
        assert_eq!(merged.input_tokens(), Some(12100));
        assert_eq!(merged.output_tokens, Some(50));
        assert_eq!(merged.cache_read_tokens, Some(10000));
        assert_eq!(merged.cache_write_5m_tokens(), 2000);
    }
}
