//! The built-in demo: answers locally, streaming and not, so a newcomer can wire up a client
//! before any backend exists. Its replies say plainly that they come from the demo.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{json, Value};

use super::{Endpoint, Provider, ProviderRequest, ProviderResponse};
use crate::wire::{SseEvent, UpstreamError, Usage};

pub struct DemoProvider;

const REPLY_PREFIX: &str = "Hello from Switchboard's built-in demo model. No backend is configured for this alias yet; add one in the config file. You said:";

#[async_trait]
impl Provider for DemoProvider {
    fn family(&self) -> &'static str {
        "demo"
    }

    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, UpstreamError> {
        let model = request
            .body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or("demo")
            .to_owned();
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let id = format!("demo-{}", request.correlation_id);
        let input = input_text(&request.body);
        let prompt_tokens = estimate_tokens(&input);

        if request.endpoint == Endpoint::Embeddings {
            let inputs: Vec<String> = match request.body.get("input") {
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect(),
                Some(Value::String(s)) => vec![s.clone()],
                _ => vec![String::new()],
            };
            let data: Vec<Value> = inputs
                .iter()
                .enumerate()
                .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": embed(text)}))
                .collect();
            let body = json!({
                "object": "list", "data": data, "model": model,
                "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
            });
            return Ok(complete(body, prompt_tokens, 0));
        }

        let reply = format!("{REPLY_PREFIX} {}", input.trim());
        let completion_tokens = estimate_tokens(&reply);
        let usage = json!({
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        });
        let chat = request.endpoint == Endpoint::ChatCompletions;

        if !request.stream {
            let choice = if chat {
                json!({"index": 0, "message": {"role": "assistant", "content": reply}, "finish_reason": "stop"})
            } else {
                json!({"index": 0, "text": reply, "finish_reason": "stop"})
            };
            let object = if chat {
                "chat.completion"
            } else {
                "text_completion"
            };
            let body = json!({"id": id, "object": object, "created": created, "model": model, "choices": [choice], "usage": usage});
            return Ok(complete(body, prompt_tokens, completion_tokens));
        }

        let object = if chat {
            "chat.completion.chunk"
        } else {
            "text_completion"
        };
        let include_usage = request
            .body
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut events = Vec::new();
        let mut pieces: Vec<String> = reply.split_inclusive(' ').map(str::to_owned).collect();
        if chat {
            events.push(json!({"id": id, "object": object, "created": created, "model": model,
                "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]}));
        }
        let last = pieces.pop();
        for piece in pieces.into_iter().chain(last) {
            let choice = if chat {
                json!({"index": 0, "delta": {"content": piece}, "finish_reason": null})
            } else {
                json!({"index": 0, "text": piece, "finish_reason": null})
            };
            events.push(json!({"id": id, "object": object, "created": created, "model": model, "choices": [choice]}));
        }
        let finish = if chat {
            json!({"index": 0, "delta": {}, "finish_reason": "stop"})
        } else {
            json!({"index": 0, "text": "", "finish_reason": "stop"})
        };
        events.push(json!({"id": id, "object": object, "created": created, "model": model, "choices": [finish]}));
        if include_usage {
            events.push(json!({"id": id, "object": object, "created": created, "model": model, "choices": [], "usage": usage}));
        }
        let mut frames: Vec<Result<SseEvent, UpstreamError>> = events
            .into_iter()
            .map(|e| Ok(SseEvent::data(e.to_string())))
            .collect();
        frames.push(Ok(SseEvent::data("[DONE]")));
        // A small pause between chunks so the demo looks and behaves like a real stream.
        let stream = futures::StreamExt::then(futures::stream::iter(frames), |frame| async move {
            tokio::time::sleep(Duration::from_millis(15)).await;
            frame
        });
        Ok(ProviderResponse::Stream(Box::pin(stream)))
    }

    async fn probe(&self, _timeout: Duration) -> Result<(), String> {
        Ok(())
    }

    /// Any model id answers; the default config's is the one to offer.
    async fn models(&self, _timeout: Duration) -> Result<Vec<super::ModelEntry>, String> {
        Ok(vec![super::ModelEntry {
            id: "switchboard-demo".into(),
            max_input_tokens: None,
        }])
    }
}

fn complete(body: Value, prompt_tokens: u64, completion_tokens: u64) -> ProviderResponse {
    ProviderResponse::Complete {
        body: Bytes::from(body.to_string()),
        usage: Some(Usage {
            fresh_input_tokens: Some(prompt_tokens),
            output_tokens: Some(completion_tokens),
            ..Usage::default()
        }),
    }
}

/// The last user message (chat), the prompt (completions) or the input (embeddings), as text.
fn input_text(body: &serde_json::Map<String, Value>) -> String {
    if let Some(Value::Array(messages)) = body.get("messages") {
        let last_user = messages
            .iter()
            .rev()
            .find(|m| m.get("role").and_then(Value::as_str) == Some("user"));
        return match last_user.and_then(|m| m.get("content")) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        };
    }
    match body.get("prompt").or_else(|| body.get("input")) {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// About four characters per token: close enough for a demo's usage figures.
fn estimate_tokens(text: &str) -> u64 {
    (text.chars().count() as u64).div_ceil(4).max(1)
}

/// A deterministic 8-dimensional unit vector derived from the text.
fn embed(text: &str) -> Vec<f64> {
    let mut v = [0.0f64; 8];
    for (i, b) in text.bytes().enumerate() {
        v[i % 8] += f64::from(b) / 255.0;
    }
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-9);
    v.iter().map(|x| x / norm).collect()
}
