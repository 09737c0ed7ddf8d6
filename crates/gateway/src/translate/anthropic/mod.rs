//! Anthropic's Messages API, both ways.
//!
//! - Provider direction (`anthropic` backends): an OpenAI chat request becomes a Messages request
//!   (`request_from_openai`), the answer becomes a chat completion (`response_to_openai`), and the
//!   event stream becomes OpenAI chunks (`ToOpenAiStream`).
//! - Ingress direction (`POST /v1/messages` to any other backend): a Messages request becomes an
//!   OpenAI chat request (`request_to_openai`), the chat completion becomes a Message
//!   (`response_from_openai`) and OpenAI chunks become Anthropic's events (`FromOpenAiStream`).
//!
//! Wire types follow Anthropic's public API reference (docs.anthropic.com/en/api/messages,
//! /en/api/messages-streaming, /en/api/errors; `anthropic-version: 2023-06-01`). They are kept
//! apart from the internal (OpenAI) types in `super::openai`.

mod request;
mod response;
mod stream;
mod types;

use axum::http::StatusCode;

pub use request::{request_from_openai, request_to_openai};
pub use response::{response_from_openai, response_to_openai};
pub use stream::{FromOpenAiStream, ToOpenAiStream};
pub use types::*;

use crate::wire::{sanitize_upstream_message, UpstreamError};

pub const API_VERSION: &str = "2023-06-01";

// ---- stop reasons, errors ----

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn
        _ => "stop",
    }
}

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// The status a failure summary carries for an Anthropic error type (`http` for `api_error`
/// and unknown types). `overloaded_error` (HTTP 529 at Anthropic) becomes 503 so every client knows it.
pub fn error_status(kind: &str, http: Option<u16>) -> StatusCode {
    match kind {
        "invalid_request_error" => StatusCode::BAD_REQUEST,
        "authentication_error" => StatusCode::UNAUTHORIZED,
        "billing_error" => StatusCode::PAYMENT_REQUIRED,
        "permission_error" => StatusCode::FORBIDDEN,
        "not_found_error" => StatusCode::NOT_FOUND,
        "request_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "rate_limit_error" => StatusCode::TOO_MANY_REQUESTS,
        "overloaded_error" => StatusCode::SERVICE_UNAVAILABLE,
        _ => match http {
            Some(529) => StatusCode::SERVICE_UNAVAILABLE,
            Some(code) if code >= 400 => {
                StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            // An error event inside a stream (no HTTP status of its own), or a 2xx/3xx body.
            _ => StatusCode::BAD_GATEWAY,
        },
    }
}

/// The Anthropic error type for a status, for errors sent to Anthropic-speaking clients.
pub fn error_type_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 405 | 415 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    }
}

/// An Anthropic error body (HTTP or `error` event) as an `UpstreamError`.
pub fn upstream_error(
    body: &[u8],
    http: Option<u16>,
    retry_after_ms: Option<u64>,
) -> UpstreamError {
    let parsed: Option<ErrorEnvelope> = serde_json::from_slice(body).ok();
    let (kind, message) = match parsed {
        Some(e) => (e.error.kind, e.error.message),
        None => (
            String::new(),
            String::from_utf8_lossy(body).chars().take(200).collect(),
        ),
    };
    let status = error_status(&kind, http);
    let message = if kind.is_empty() {
        sanitize_upstream_message(&message)
    } else {
        sanitize_upstream_message(&format!("{kind}: {message}"))
    };
    UpstreamError::Status {
        status,
        message,
        retry_after_ms,
    }
}

#[cfg(test)]
mod tests;
