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

fn sum(parts: &[Option<u64>]) -> Option<u64> {
    parts
        .iter()
        .any(Option::is_some)
        .then(|| parts.iter().map(|p| p.unwrap_or(0)).sum())
}

/// The counts of a nested object (`prompt_tokens_details`, `cache_creation`, …): one shape for
/// all of them, each read for its own keys.
#[derive(Debug, Clone, Copy, Default)]
struct Details {
    cached_tokens: Option<u64>,
    cache_write_tokens: Option<u64>,
    cache_write_1h_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
    ephemeral_5m_input_tokens: Option<u64>,
    ephemeral_1h_input_tokens: Option<u64>,
}

/// Every key of a usage object any dialect uses. `Some(None)`: present but not a count (the
/// dialect is told by which keys are present).
#[derive(Debug, Clone, Copy, Default)]
struct Fields {
    prompt_tokens: Option<Option<u64>>,
    completion_tokens: Option<Option<u64>>,
    prompt_cache_hit_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    prompt_token_count: Option<Option<u64>>,
    candidates_token_count: Option<Option<u64>>,
    thoughts_token_count: Option<u64>,
    cached_content_token_count: Option<u64>,
    prompt_tokens_details: Details,
    completion_tokens_details: Details,
    input_tokens_details: Option<Details>,
    output_tokens_details: Option<Details>,
    cache_creation: Details,
}

/// The keys `Fields` and `Details` read; anything else is skipped.
#[derive(Clone, Copy)]
enum Key {
    PromptTokens,
    CompletionTokens,
    PromptCacheHitTokens,
    CacheReadInputTokens,
    CacheCreationInputTokens,
    InputTokens,
    OutputTokens,
    PromptTokenCount,
    CandidatesTokenCount,
    ThoughtsTokenCount,
    CachedContentTokenCount,
    PromptTokensDetails,
    CompletionTokensDetails,
    InputTokensDetails,
    OutputTokensDetails,
    CacheCreation,
    CachedTokens,
    CacheWriteTokens,
    CacheWrite1hTokens,
    ReasoningTokens,
    Ephemeral5m,
    Ephemeral1h,
    Other,
}

impl Key {
    /// Keys whose value is a nested object of counts.
    fn is_details(self) -> bool {
        matches!(
            self,
            Key::PromptTokensDetails
                | Key::CompletionTokensDetails
                | Key::InputTokensDetails
                | Key::OutputTokensDetails
                | Key::CacheCreation
        )
    }

    fn of(name: &str) -> Key {
        match name {
            "prompt_tokens" => Key::PromptTokens,
            "completion_tokens" => Key::CompletionTokens,
            "prompt_cache_hit_tokens" => Key::PromptCacheHitTokens,
            "cache_read_input_tokens" => Key::CacheReadInputTokens,
            "cache_creation_input_tokens" => Key::CacheCreationInputTokens,
            "input_tokens" => Key::InputTokens,
            "output_tokens" => Key::OutputTokens,
            "promptTokenCount" => Key::PromptTokenCount,
            "candidatesTokenCount" => Key::CandidatesTokenCount,
            "thoughtsTokenCount" => Key::ThoughtsTokenCount,
            "cachedContentTokenCount" => Key::CachedContentTokenCount,
            "prompt_tokens_details" => Key::PromptTokensDetails,
            "completion_tokens_details" => Key::CompletionTokensDetails,
            "input_tokens_details" => Key::InputTokensDetails,
            "output_tokens_details" => Key::OutputTokensDetails,
            "cache_creation" => Key::CacheCreation,
            "cached_tokens" => Key::CachedTokens,
            "cache_write_tokens" => Key::CacheWriteTokens,
            "cache_write_1h_tokens" => Key::CacheWrite1hTokens,
            "reasoning_tokens" => Key::ReasoningTokens,
            "ephemeral_5m_input_tokens" => Key::Ephemeral5m,
            "ephemeral_1h_input_tokens" => Key::Ephemeral1h,
            _ => Key::Other,
        }
    }
}

impl Details {
    fn from_value(value: &Value) -> Details {
        let mut details = Details::default();
        if let Some(map) = value.as_object() {
            for (key, value) in map {
                details.set(Key::of(key), value.as_u64());
            }
        }
        details
    }

    fn set(&mut self, key: Key, count: Option<u64>) {
        match key {
            Key::CachedTokens => self.cached_tokens = count,
            Key::CacheWriteTokens => self.cache_write_tokens = count,
            Key::CacheWrite1hTokens => self.cache_write_1h_tokens = count,
            Key::ReasoningTokens => self.reasoning_tokens = count,
            Key::Ephemeral5m => self.ephemeral_5m_input_tokens = count,
            Key::Ephemeral1h => self.ephemeral_1h_input_tokens = count,
            _ => {}
        }
    }
}

impl Fields {
    fn from_value(usage: &serde_json::Map<String, Value>) -> Fields {
        let mut fields = Fields::default();
        for (key, value) in usage {
            let key = Key::of(key);
            if key.is_details() {
                fields.set_details(key, Details::from_value(value));
            } else {
                fields.set_count(key, value.as_u64());
            }
        }
        fields
    }

    fn set_details(&mut self, key: Key, details: Details) {
        match key {
            Key::PromptTokensDetails => self.prompt_tokens_details = details,
            Key::CompletionTokensDetails => self.completion_tokens_details = details,
            Key::InputTokensDetails => self.input_tokens_details = Some(details),
            Key::OutputTokensDetails => self.output_tokens_details = Some(details),
            Key::CacheCreation => self.cache_creation = details,
            _ => {}
        }
    }

    fn set_count(&mut self, key: Key, count: Option<u64>) {
        match key {
            Key::PromptTokens => self.prompt_tokens = Some(count),
            Key::CompletionTokens => self.completion_tokens = Some(count),
            Key::PromptCacheHitTokens => self.prompt_cache_hit_tokens = count,
            Key::CacheReadInputTokens => self.cache_read_input_tokens = count,
            Key::CacheCreationInputTokens => self.cache_creation_input_tokens = count,
            Key::InputTokens => self.input_tokens = count,
            Key::OutputTokens => self.output_tokens = count,
            Key::PromptTokenCount => self.prompt_token_count = Some(count),
            Key::CandidatesTokenCount => self.candidates_token_count = Some(count),
            Key::ThoughtsTokenCount => self.thoughts_token_count = count,
            Key::CachedContentTokenCount => self.cached_content_token_count = count,
            _ => {}
        }
    }

    /// The dialect is told by its keys: OpenAI chat (`prompt_tokens`,
    /// `prompt_tokens_details.cached_tokens`, and the `cache_write_tokens` OpenRouter and
    /// Switchboard add), OpenAI Responses (`input_tokens_details`), Gemini
    /// (`promptTokenCount`), else Anthropic (`input_tokens` plus `cache_*_input_tokens`).
    fn usage(&self) -> Option<Usage> {
        let parsed = if self.prompt_tokens.is_some() || self.completion_tokens.is_some() {
            let details = &self.prompt_tokens_details;
            Usage::from_openai_counts(
                self.prompt_tokens.flatten(),
                // DeepSeek and LiteLLM report cache hits at the top level.
                details
                    .cached_tokens
                    .or(self.prompt_cache_hit_tokens)
                    .or(self.cache_read_input_tokens),
                details
                    .cache_write_tokens
                    .or(self.cache_creation_input_tokens),
                details.cache_write_1h_tokens,
                self.completion_tokens.flatten(),
                self.completion_tokens_details.reasoning_tokens,
            )
        } else if self.input_tokens_details.is_some() || self.output_tokens_details.is_some() {
            Usage::from_openai_counts(
                self.input_tokens,
                self.input_tokens_details.and_then(|d| d.cached_tokens),
                None,
                None,
                self.output_tokens,
                self.output_tokens_details.and_then(|d| d.reasoning_tokens),
            )
        } else if self.prompt_token_count.is_some() || self.candidates_token_count.is_some() {
            let thoughts = self.thoughts_token_count;
            Usage::from_openai_counts(
                self.prompt_token_count.flatten(),
                self.cached_content_token_count,
                None,
                None,
                sum(&[self.candidates_token_count.flatten(), thoughts]),
                thoughts,
            )
        } else {
            let creation = &self.cache_creation;
            let five = creation.ephemeral_5m_input_tokens;
            let hour = creation.ephemeral_1h_input_tokens;
            Usage {
                fresh_input_tokens: self.input_tokens,
                cache_read_tokens: self.cache_read_input_tokens,
                cache_write_tokens: self
                    .cache_creation_input_tokens
                    .or_else(|| sum(&[five, hour])),
                cache_write_1h_tokens: hour,
                output_tokens: self.output_tokens,
                reasoning_tokens: None,
            }
        };
        (!parsed.is_empty()).then_some(parsed)
    }
}

/// Reading a whole answer's usage straight from its bytes: no `Value` tree of the body or of
/// the usage object (keys are matched in place, every other field is skipped), read the way
/// `Usage::from_json` reads the same object.
mod scan {
    use std::fmt;

    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

    use super::{Details, Fields, Key};

    /// Every kind of JSON value a lenient visitor takes as "not what I read".
    macro_rules! skip_other_values {
        ($value:expr) => {
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok($value)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok($value)
            }
        };
    }

    impl<'de> Deserialize<'de> for Key {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = Key;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a key")
                }
                fn visit_str<E>(self, name: &str) -> Result<Key, E> {
                    Ok(Key::of(name))
                }
            }
            d.deserialize_identifier(V)
        }
    }

    /// A count, or `None` for any other value (as `Value::as_u64`).
    pub(super) struct Count(pub Option<u64>);

    impl<'de> Deserialize<'de> for Count {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Count, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Count;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("any value")
                }
                fn visit_u64<E>(self, n: u64) -> Result<Count, E> {
                    Ok(Count(Some(n)))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Count, A::Error> {
                    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                    Ok(Count(None))
                }
                skip_other_values!(Count(None));
            }
            d.deserialize_any(V)
        }
    }

    impl<'de> Deserialize<'de> for Details {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Details, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Details;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("any value")
                }
                fn visit_u64<E>(self, _: u64) -> Result<Details, E> {
                    Ok(Details::default())
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Details, A::Error> {
                    let mut details = Details::default();
                    while let Some(key) = map.next_key::<Key>()? {
                        let Count(count) = map.next_value()?;
                        details.set(key, count);
                    }
                    Ok(details)
                }
                skip_other_values!(Details::default());
            }
            d.deserialize_any(V)
        }
    }

    /// A usage object's fields; `None` when the value is not an object.
    pub(super) struct Object(pub Option<Fields>);

    impl<'de> Deserialize<'de> for Object {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Object, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Object;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("any value")
                }
                fn visit_u64<E>(self, _: u64) -> Result<Object, E> {
                    Ok(Object(None))
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                    let mut fields = Fields::default();
                    while let Some(key) = map.next_key::<Key>()? {
                        if key.is_details() {
                            fields.set_details(key, map.next_value()?);
                        } else {
                            let Count(count) = map.next_value()?;
                            fields.set_count(key, count);
                        }
                    }
                    Ok(Object(Some(fields)))
                }
                skip_other_values!(Object(None));
            }
            d.deserialize_any(V)
        }
    }
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

    /// Reads a usage object in any dialect the gateway sees (see `Fields::usage`). `None` for
    /// anything else.
    pub fn from_json(usage: &Value) -> Option<Usage> {
        Fields::from_value(usage.as_object()?).usage()
    }

    /// The `usage` of a whole answer's JSON body, read without building a tree of the body
    /// (every other field is skipped). Errors when the body is not JSON.
    pub fn from_body(body: &[u8]) -> serde_json::Result<Option<Usage>> {
        #[derive(serde::Deserialize)]
        struct WithUsage {
            usage: Option<scan::Object>,
        }
        let found = serde_json::from_slice::<WithUsage>(body)?.usage;
        Ok(found.and_then(|o| o.0).and_then(|f| f.usage()))
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
        let body =
            json!({"id": "x", "choices": [{"message": {"content": "usage"}}], "usage": usage});
        let scanned = Usage::from_body(body.to_string().as_bytes()).ok().flatten();
        assert_eq!(
            scanned.unwrap_or_default(),
            u,
            "the body scan reads {usage} the same"
        );
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

    #[test]
    fn the_body_scan_reads_odd_values_like_the_tree() {
        let odd = [
            json!(null),
            json!(7),
            json!("usage"),
            json!([1, 2]),
            json!({}),
            json!({"prompt_tokens": null, "completion_tokens": 3}),
            json!({"prompt_tokens": -1, "completion_tokens": 2.5}),
            json!({"prompt_tokens": 10, "prompt_tokens_details": null}),
            json!({"prompt_tokens": 10, "prompt_tokens_details": [1], "completion_tokens_details": "x"}),
            json!({"input_tokens": 4, "input_tokens_details": null}),
            json!({"input_tokens": {"nested": [1, {"a": 2}]}, "output_tokens": 9}),
            json!({"promptTokenCount": "12", "candidatesTokenCount": 5}),
            json!({"cache_creation": 3, "input_tokens": 1}),
        ];
        for usage in odd {
            let body = json!({"usage": usage, "model": "m"}).to_string();
            assert_eq!(
                Usage::from_body(body.as_bytes()).ok().flatten(),
                Usage::from_json(&usage),
                "{usage}"
            );
        }
        // A repeated key: the last one wins, as in a parsed tree.
        let body =
            br#"{"usage": {"prompt_tokens": 1, "prompt_tokens": 5, "completion_tokens": 2}}"#;
        let usage = Usage::from_body(body).ok().flatten().unwrap_or_default();
        assert_eq!(usage.input_tokens(), Some(5));
        // Escaped keys are still matched.
        let body = br#"{"usage": {"prompt\u005ftokens": 8, "completion_tokens": 2}}"#;
        let usage = Usage::from_body(body).ok().flatten().unwrap_or_default();
        assert_eq!(usage.input_tokens(), Some(8));
        assert_eq!(Usage::from_body(br#"{"choices": []}"#).ok().flatten(), None);
        assert!(Usage::from_body(b"not json").is_err());
        assert!(Usage::from_body(br#"{"usage": {"prompt_tokens": 1}"#).is_err());
    }
}
