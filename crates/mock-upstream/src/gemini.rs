//! A mock of Google's Gemini API (`models/{model}:generateContent`,
//! `:streamGenerateContent?alt=sse`, `:batchEmbedContents`, `GET models`), shaped after
//! ai.google.dev/api/generate-content and /api/embeddings. It wants `x-goog-api-key` (the key
//! `bad-key` gets Google's real answer to a wrong key: 400 `INVALID_ARGUMENT`, "API key not
//! valid") and plays `scenario::decide`. Model ids `fail-<status>` answer with Google's error
//! body. Streams are framed with CRLF, as Google's are.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{json, Value};

use crate::anthropic::sse;
use crate::scenario::{decide, pieces, Reply};
use crate::{record, AppState};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1beta/models", get(list))
        .route("/v1beta/models/{call}", post(call))
}

fn error(status: u16, text: &str, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (
        code,
        Json(json!({"error": {"code": status, "message": message, "status": text}})),
    )
        .into_response();
    if status == 429 {
        response
            .headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("4"));
    }
    response
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "INVALID_ARGUMENT",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        _ => "INTERNAL",
    }
}

fn check_key(headers: &HeaderMap) -> Option<Response> {
    match headers.get("x-goog-api-key").and_then(|v| v.to_str().ok()) {
        None => Some(error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")),
        Some("bad-key") => Some(error(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")),
        Some(_) => None,
    }
}

async fn list(headers: HeaderMap) -> Response {
    if let Some(response) = check_key(&headers) {
        return response;
    }
    Json(json!({"models": [{"name": "models/gemini-mock"}]})).into_response()
}

async fn call(
    State(state): State<AppState>,
    Path(call): Path<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    record(&state, &format!("/v1beta/models/{call}"), &headers, &body);
    if let Some(response) = check_key(&headers) {
        return response;
    }
    let Some((model, action)) = call.split_once(':') else {
        return error(404, "NOT_FOUND", "unknown method");
    };
    if let Some(status) = model
        .strip_prefix("fail-")
        .and_then(|s| s.parse::<u16>().ok())
    {
        let message = if status == 404 {
            format!("models/{model} is not found for API version v1beta, or is not supported for generateContent.")
        } else {
            format!("mock failure {status}")
        };
        return error(status, status_text(status), &message);
    }
    match action {
        "generateContent" => generate(&state, model, &body, false),
        "streamGenerateContent" => generate(&state, model, &body, true),
        "batchEmbedContents" => {
            let count = body
                .get("requests")
                .and_then(Value::as_array)
                .map(Vec::len)
                .unwrap_or(0);
            let embeddings: Vec<Value> = (0..count)
                .map(|i| json!({"values": [0.5, -0.25, i as f64]}))
                .collect();
            Json(json!({"embeddings": embeddings})).into_response()
        }
        _ => error(404, "NOT_FOUND", "unknown method"),
    }
}

fn generate(state: &AppState, model: &str, body: &Value, stream: bool) -> Response {
    let tools: Vec<String> = body
        .pointer("/tools/0/functionDeclarations")
        .and_then(Value::as_array)
        .map(|d| {
            d.iter()
                .filter_map(|d| d.get("name").and_then(Value::as_str).map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let last_parts = body
        .get("contents")
        .and_then(Value::as_array)
        .and_then(|c| c.last())
        .and_then(|c| c.get("parts"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let results: Vec<String> = last_parts
        .iter()
        .filter_map(|p| p.pointer("/functionResponse/response"))
        .map(Value::to_string)
        .collect();
    let last_user = last_parts
        .iter()
        .filter_map(|p| p.get("text").and_then(Value::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let reply = decide("mock-gemini", &tools, &results, &last_user);
    let usage = crate::cache_usage(model, "gemini").unwrap_or_else(
        || json!({"promptTokenCount": 12, "candidatesTokenCount": 9, "totalTokenCount": 21}),
    );
    let candidate = |parts: Vec<Value>, finish: Option<&str>| {
        let mut c = json!({"content": {"role": "model", "parts": parts}, "index": 0});
        if let Some(f) = finish {
            c["finishReason"] = json!(f);
        }
        c
    };
    let call_parts = |calls: &Vec<(String, String)>| -> Vec<Value> {
        calls
            .iter()
            .map(|(name, args)| {
                let args: Value = serde_json::from_str(args).unwrap_or(Value::Null);
                json!({"functionCall": {"name": name, "args": args}})
            })
            .collect()
    };
    if !stream {
        let parts = match &reply {
            Reply::Text(text) => vec![json!({"text": text})],
            Reply::ToolCalls(calls) => call_parts(calls),
        };
        return Json(
            json!({"candidates": [candidate(parts, Some("STOP"))], "usageMetadata": usage,
                           "modelVersion": model, "responseId": "mock-response"}),
        )
        .into_response();
    }
    let mut events: Vec<Value> = Vec::new();
    match &reply {
        Reply::Text(text) => {
            for piece in pieces(text, 6) {
                events.push(json!({"candidates": [candidate(vec![json!({"text": piece})], None)], "modelVersion": model}));
            }
        }
        Reply::ToolCalls(calls) => {
            events.push(
                json!({"candidates": [candidate(call_parts(calls), None)], "modelVersion": model}),
            );
        }
    }
    events.push(json!({"candidates": [candidate(vec![json!({"text": ""})], Some("STOP"))], "usageMetadata": usage, "modelVersion": model}));
    let frames: Vec<Bytes> = events
        .into_iter()
        .map(|e| Bytes::from(format!("data: {e}\r\n\r\n")))
        .collect();
    sse(frames, state.config.chunk_interval)
}
