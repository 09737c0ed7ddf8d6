//! OpenAI's Responses API (`POST /v1/responses`), for the gateway's native passthrough: plays the
//! scenario's conversation (tool calls, then text quoting the results), streaming and not, with
//! the event order the official SDKs read.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{json, Value};

use crate::anthropic::sse;
use crate::scenario::{decide, pieces, Reply};
use crate::{misbehave, model_of, record, AppState};

static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/v1/responses", post(responses))
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

async fn responses(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    record(&state, "/v1/responses", &headers, &body);
    let model = model_of(&body);
    if let Some(response) = misbehave(&model).await {
        return response;
    }
    let tools: Vec<String> = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter(|t| t.get("type").and_then(Value::as_str) == Some("function"))
                .filter_map(|t| t.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let items = match body.get("input") {
        Some(Value::String(text)) => vec![json!({"role": "user", "content": text})],
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    let results: Vec<String> = items
        .iter()
        .rev()
        .take_while(|i| i.get("type").and_then(Value::as_str) == Some("function_call_output"))
        .map(|i| text_of(i.get("output").unwrap_or(&Value::Null)))
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    let last_user = items
        .iter()
        .rev()
        .find(|i| i.get("role").and_then(Value::as_str) == Some("user"))
        .map(|i| text_of(i.get("content").unwrap_or(&Value::Null)))
        .unwrap_or_default();
    let reply = decide("mock-responses", &tools, &results, &last_user);
    let mut output: Vec<Value> = match &reply {
        Reply::Text(text) => vec![json!({"type": "message", "id": "msg_mock", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]})],
        Reply::ToolCalls(calls) => calls
            .iter()
            .enumerate()
            .map(|(i, (name, args))| json!({"type": "function_call", "id": format!("fc_mock{i}"), "call_id": format!("call_mock{i}"),
                "name": name, "arguments": args, "status": "completed"}))
            .collect(),
    };
    let usage = json!({"input_tokens": 14, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": 8,
        "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 22});
    // Distinct ids, like a real backend: the gateway stores answers under them.
    let id = format!("resp_mock{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let response = |status: &str, output: Vec<Value>, usage: Value| {
        json!({"id": id, "object": "response", "created_at": 1_700_000_000, "status": status,
            "model": model, "output": output, "usage": usage, "error": null, "incomplete_details": null,
            "parallel_tool_calls": true, "tool_choice": "auto", "tools": body.get("tools").cloned().unwrap_or(json!([]))})
    };
    if body.get("stream").and_then(Value::as_bool) != Some(true) {
        return Json(response("completed", output, usage)).into_response();
    }
    let mut events: Vec<Value> = vec![
        json!({"type": "response.created", "response": response("in_progress", vec![], Value::Null)}),
        json!({"type": "response.in_progress", "response": response("in_progress", vec![], Value::Null)}),
    ];
    let failed = model == "failed-stream";
    if failed {
        // Fails after it started, as OpenAI does on a server error mid-answer.
        let mut failed = response("failed", vec![], Value::Null);
        failed["error"] = json!({"code": "server_error", "message": "mock failed mid-stream"});
        events.push(json!({"type": "response.failed", "response": failed}));
        output.clear();
    }
    for (index, item) in output.iter().enumerate() {
        let mut added = item.clone();
        added["status"] = json!("in_progress");
        let id = item["id"].clone();
        if item["type"] == "message" {
            added["content"] = json!([]);
            let text = item["content"][0]["text"].as_str().unwrap_or("").to_owned();
            events.push(
                json!({"type": "response.output_item.added", "output_index": index, "item": added}),
            );
            events.push(json!({"type": "response.content_part.added", "item_id": id, "output_index": index, "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []}}));
            for piece in pieces(&text, 5) {
                events.push(json!({"type": "response.output_text.delta", "item_id": id, "output_index": index, "content_index": 0, "delta": piece}));
            }
            events.push(json!({"type": "response.output_text.done", "item_id": id, "output_index": index, "content_index": 0, "text": text}));
            events.push(json!({"type": "response.content_part.done", "item_id": id, "output_index": index, "content_index": 0,
                "part": item["content"][0]}));
        } else {
            added["arguments"] = json!("");
            let args = item["arguments"].as_str().unwrap_or("").to_owned();
            events.push(
                json!({"type": "response.output_item.added", "output_index": index, "item": added}),
            );
            for piece in pieces(&args, 3) {
                events.push(json!({"type": "response.function_call_arguments.delta", "item_id": id, "output_index": index, "delta": piece}));
            }
            events.push(json!({"type": "response.function_call_arguments.done", "item_id": id, "output_index": index, "arguments": args}));
        }
        events.push(
            json!({"type": "response.output_item.done", "output_index": index, "item": item}),
        );
    }
    if !failed {
        events.push(
            json!({"type": "response.completed", "response": response("completed", output, usage)}),
        );
    }
    let frames = events
        .into_iter()
        .enumerate()
        .map(|(seq, mut event)| {
            event["sequence_number"] = json!(seq);
            let kind = event["type"].as_str().unwrap_or("").to_owned();
            Bytes::from(format!("event: {kind}\ndata: {event}\n\n"))
        })
        .collect();
    sse(frames, state.config.chunk_interval)
}
