//! The OpenAI mock's answers to chat requests with `tools` or tool results: the scenario's tool
//! calls (arguments streamed three characters at a time) or its text, streaming and not.

use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::anthropic::sse;
use crate::scenario::{decide, pieces, Reply};
use crate::MockConfig;

pub(crate) fn chat(config: &MockConfig, model: &str, body: &Value) -> Response {
    let tools: Vec<String> = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(|t| {
                    t.pointer("/function/name")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                })
                .collect()
        })
        .unwrap_or_default();
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Tool results since the last assistant turn (agents may add user or system text after).
    let since_assistant = messages
        .iter()
        .rposition(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .map_or(0, |i| i + 1);
    let results: Vec<String> = messages[since_assistant..]
        .iter()
        .filter(|m| m.get("role").and_then(Value::as_str) == Some("tool"))
        .map(|m| match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        })
        .collect();
    let last_user = messages
        .last()
        .and_then(|m| m.get("content"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let reply = decide("mock-openai", &tools, &results, &last_user);
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let usage = json!({"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21});
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        let (message, finish) = match &reply {
            Reply::Text(text) => (json!({"role": "assistant", "content": text}), "stop"),
            Reply::ToolCalls(calls) => (
                json!({"role": "assistant", "content": null, "tool_calls": calls.iter().enumerate().map(|(i, (name, args))|
                    json!({"id": format!("call_mock{i}"), "type": "function", "function": {"name": name, "arguments": args}})).collect::<Vec<_>>()}),
                "tool_calls",
            ),
        };
        return Json(json!({"id": "chatcmpl-mocktools", "object": "chat.completion", "created": 1_700_000_000, "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish}], "usage": usage}))
        .into_response();
    }
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-mocktools", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut frames = vec![chunk(
        json!({"role": "assistant", "content": null}),
        Value::Null,
    )];
    let finish = match &reply {
        Reply::Text(text) => {
            for piece in pieces(text, 5) {
                frames.push(chunk(json!({"content": piece}), Value::Null));
            }
            "stop"
        }
        Reply::ToolCalls(calls) => {
            for (i, (name, args)) in calls.iter().enumerate() {
                frames.push(chunk(json!({"tool_calls": [{"index": i, "id": format!("call_mock{i}"), "type": "function",
                    "function": {"name": name, "arguments": ""}}]}), Value::Null));
                for piece in pieces(args, 3) {
                    frames.push(chunk(
                        json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                        Value::Null,
                    ));
                }
            }
            "tool_calls"
        }
    };
    frames.push(chunk(json!({}), json!(finish)));
    if include_usage {
        frames.push(json!({"id": "chatcmpl-mocktools", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                           "choices": [], "usage": usage}));
    }
    let mut lines: Vec<Bytes> = frames
        .into_iter()
        .map(|f| Bytes::from(format!("data: {f}\n\n")))
        .collect();
    lines.push(Bytes::from_static(b"data: [DONE]\n\n"));
    sse(lines, config.chunk_interval)
}
