//! A mock of Anthropic's Messages API (`POST /v1/messages`, `/v1/messages/count_tokens`), shaped
//! after docs.anthropic.com/en/api/messages and /en/api/messages-streaming. It checks what the
//! real API insists on (`x-api-key`, `anthropic-version`, `max_tokens`) and plays
//! `scenario::decide`. Model ids steer failures: `fail-<status>` answers with Anthropic's error
//! body for that status (529 is `overloaded_error`), `error-event` streams `message_start` and
//! then an `overloaded_error` event.

use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{json, Value};

use crate::scenario::{decide, pieces, Reply};
use crate::{record, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/messages", post(messages))
        .route("/v1/messages/count_tokens", post(count_tokens))
}

fn error(status: u16, kind: &str, message: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        status,
        Json(json!({"type": "error", "error": {"type": kind, "message": message}})),
    )
        .into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("3"));
    }
    response
}

fn kind_for(status: u16) -> &'static str {
    match status {
        400 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

fn check(headers: &HeaderMap, body: &Value, needs_max_tokens: bool) -> Option<Response> {
    if headers.get("x-api-key").is_none() {
        return Some(error(
            401,
            "authentication_error",
            "x-api-key header is required",
        ));
    }
    if headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some("bad-key") {
        return Some(error(401, "authentication_error", "invalid x-api-key"));
    }
    if headers.get("anthropic-version").is_none() {
        return Some(error(
            400,
            "invalid_request_error",
            "anthropic-version header is required",
        ));
    }
    if needs_max_tokens && body.get("max_tokens").and_then(Value::as_u64).is_none() {
        return Some(error(
            400,
            "invalid_request_error",
            "max_tokens: Field required",
        ));
    }
    let model = body.get("model").and_then(Value::as_str).unwrap_or("");
    if let Some(status) = model
        .strip_prefix("fail-")
        .and_then(|s| s.parse::<u16>().ok())
    {
        let message = if status == 404 {
            format!("model: {model}")
        } else {
            format!("mock failure {status}")
        };
        return Some(error(status, kind_for(status), &message));
    }
    None
}

async fn count_tokens(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    record(&state, "/v1/messages/count_tokens", &headers, &body);
    if let Some(response) = check(&headers, &body, false) {
        return response;
    }
    Json(json!({"input_tokens": 42})).into_response()
}

/// The text of a block list or string.
fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

async fn messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    record(&state, "/v1/messages", &headers, &body);
    if let Some(response) = check(&headers, &body, true) {
        return response;
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let tools: Vec<String> = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let last = messages.last().cloned().unwrap_or(Value::Null);
    // Tool results since the last assistant turn (a mid-conversation system turn may follow).
    let since_assistant = messages
        .iter()
        .rposition(|m| m.get("role").and_then(Value::as_str) == Some("assistant"))
        .map_or(0, |i| i + 1);
    let mut results = Vec::new();
    for message in &messages[since_assistant..] {
        for block in message
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if block.get("type").and_then(Value::as_str) == Some("tool_result") {
                results.push(text_of(block.get("content").unwrap_or(&Value::Null)));
            }
        }
    }
    let last_user = text_of(last.get("content").unwrap_or(&Value::Null));
    let reply = decide("mock-anthropic", &tools, &results, &last_user);
    let (content, stop_reason) = match &reply {
        Reply::Text(text) => (vec![json!({"type": "text", "text": text})], "end_turn"),
        Reply::ToolCalls(calls) => (
            calls
                .iter()
                .enumerate()
                .map(|(i, (name, args))| {
                    let input: Value = serde_json::from_str(args).unwrap_or(Value::Null);
                    json!({"type": "tool_use", "id": format!("toolu_mock{i}"), "name": name, "input": input})
                })
                .collect(),
            "tool_use",
        ),
    };
    let usage = crate::cache_usage(&model, "anthropic")
        .unwrap_or_else(|| json!({"input_tokens": 12, "output_tokens": 9}));
    let usage_out = usage["output_tokens"].clone();
    // `message_start` carries the input side (and one output token so far).
    let mut usage_start = usage.clone();
    usage_start["output_tokens"] = json!(1);
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        return Json(json!({
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": usage,
        }))
        .into_response();
    }

    let mut events: Vec<(&str, Value)> = vec![
        (
            "message_start",
            json!({"type": "message_start", "message": {
            "id": "msg_mock", "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": null, "stop_sequence": null, "usage": usage_start}}),
        ),
        ("ping", json!({"type": "ping"})),
    ];
    if model == "error-event" {
        events.push(("error", json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})));
    } else {
        match &reply {
            Reply::Text(text) => {
                events.push(("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
                for piece in pieces(text, 5) {
                    events.push(("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})));
                }
                events.push((
                    "content_block_stop",
                    json!({"type": "content_block_stop", "index": 0}),
                ));
            }
            Reply::ToolCalls(calls) => {
                for (i, (name, args)) in calls.iter().enumerate() {
                    events.push(("content_block_start", json!({"type": "content_block_start", "index": i,
                        "content_block": {"type": "tool_use", "id": format!("toolu_mock{i}"), "name": name, "input": {}}})));
                    events.push(("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": ""}})));
                    for piece in pieces(args, 3) {
                        events.push(("content_block_delta", json!({"type": "content_block_delta", "index": i, "delta": {"type": "input_json_delta", "partial_json": piece}})));
                    }
                    events.push((
                        "content_block_stop",
                        json!({"type": "content_block_stop", "index": i}),
                    ));
                }
            }
        }
        events.push(("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": usage_out}})));
        events.push(("message_stop", json!({"type": "message_stop"})));
    }
    let mut frames: Vec<Bytes> = events
        .into_iter()
        .map(|(name, data)| Bytes::from(format!("event: {name}\ndata: {data}\n\n")))
        .collect();
    if model == "garbage-stream" {
        // A broken event after the first two: not JSON at all.
        frames.insert(
            2,
            Bytes::from_static(b"event: content_block_delta\ndata: {\"type\": oops\n\n"),
        );
    }
    sse(frames, state.config.chunk_interval)
}

pub(crate) fn sse(frames: Vec<Bytes>, interval: Duration) -> Response {
    let stream =
        futures::stream::unfold(frames.into_iter().enumerate(), move |mut it| async move {
            let (i, frame) = it.next()?;
            if i > 0 && !interval.is_zero() {
                tokio::time::sleep(interval).await;
            }
            Some((Ok::<_, std::io::Error>(frame), it))
        });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}
