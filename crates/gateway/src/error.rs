//! One error type that is the response: every failure becomes OpenAI's error envelope with the
//! typed failure summary Switchboard adds (`route`, `provider_family`, `retry_after_ms`,
//! `correlation_id`), so SDKs parse it and people can act on it. Other client dialects wrap the
//! same summary in their own envelope (`server::dialect`), through `into_response_with`.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::wire::UpstreamError;

/// A failure, ready to be sent to the client.
#[derive(Debug, Clone, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    pub message: String,
    /// Broad class, as in OpenAI's envelope (`invalid_request_error`, `upstream_error`, ...).
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The specific cause (`model_not_found`, `backend_unreachable`, ...).
    pub code: &'static str,
    /// The alias the request was routed through, when it got that far.
    pub route: Option<String>,
    /// The `provider/model` target that failed, when one was tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub provider_family: Option<&'static str>,
    pub retry_after_ms: Option<u64>,
    /// When a spent budget resets (`budget_exceeded`), RFC 3339 in the budget's time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resets_at: Option<String>,
    pub correlation_id: Option<String>,
    /// Closest alias names, for `model_not_found`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suggestions: Vec<String>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            message: message.into(),
            kind,
            code,
            route: None,
            target: None,
            provider_family: None,
            retry_after_ms: None,
            resets_at: None,
            correlation_id: None,
            suggestions: Vec::new(),
        }
    }

    pub fn invalid_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request_error",
            code,
            message,
        )
    }

    pub fn invalid_json(error: &serde_json::Error) -> Self {
        Self::invalid_request(
            "invalid_json",
            format!(
                "request body is not valid JSON: {} (line {}, column {})",
                strip_position(&error.to_string()),
                error.line(),
                error.column()
            ),
        )
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request_error",
            "request_too_large",
            format!(
                "request body is larger than the {} MB limit (server.max_body_mb)",
                (limit as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0
            ),
        )
    }

    pub fn model_not_found(requested: &str, suggestions: Vec<String>) -> Self {
        let message = if suggestions.is_empty() {
            format!("model `{requested}` is not a configured alias; GET /v1/models lists them")
        } else {
            format!(
                "model `{requested}` is not a configured alias; did you mean {}?",
                suggestions
                    .iter()
                    .map(|s| format!("`{s}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )
        };
        let mut error = Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "model_not_found",
            message,
        );
        error.suggestions = suggestions;
        error
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request_error",
            "unsupported_media_type",
            "send the request body as JSON with `Content-Type: application/json`",
        )
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal_error",
            message,
        )
    }

    pub fn with_route(mut self, alias: &str) -> Self {
        self.route = Some(alias.to_owned());
        self
    }

    pub fn with_correlation_id(mut self, id: &str) -> Self {
        self.correlation_id = Some(id.to_owned());
        self
    }

    /// The body as one SSE event, for errors that happen after a stream has started.
    pub fn to_sse_event(&self) -> String {
        format!("data: {}\n\n", self.body_json())
    }

    /// The response with `body` as its JSON (a client dialect's own envelope of this error):
    /// the status, and `Retry-After` when the failure says when to come back.
    pub fn into_response_with(self, body: String) -> Response {
        let mut response = (
            self.status,
            [(
                axum::http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response();
        if let Some(ms) = self.retry_after_ms {
            let secs = ms.div_ceil(1000).max(1);
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response
                    .headers_mut()
                    .insert(axum::http::header::RETRY_AFTER, value);
            }
        }
        response
    }

    fn body_json(&self) -> String {
        #[derive(Serialize)]
        struct Envelope<'a> {
            error: &'a ApiError,
        }
        serde_json::to_string(&Envelope { error: self }).unwrap_or_else(|_| {
            r#"{"error":{"message":"internal error","type":"internal_error"}}"#.to_owned()
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body_json();
        self.into_response_with(body)
    }
}

/// serde_json appends " at line X column Y"; we say it our own way.
fn strip_position(message: &str) -> &str {
    message.split(" at line ").next().unwrap_or(message)
}

// Here rather than beside `UpstreamError`: the wire leaf must not depend on the response type.
impl UpstreamError {
    /// The client-facing error for a failure of `target` (`provider/model`).
    pub fn into_api_error(self, target: &str, family: &'static str) -> ApiError {
        let provider = target.split('/').next().unwrap_or(target);
        let message = format!("backend `{target}` {self}");
        let mut error = match &self {
            UpstreamError::Connect(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "upstream_error",
                "backend_unreachable",
                message,
            ),
            UpstreamError::Timeout(_) => ApiError::new(
                StatusCode::GATEWAY_TIMEOUT,
                "timeout_error",
                "backend_timeout",
                message,
            ),
            UpstreamError::Status {
                status,
                retry_after_ms,
                ..
            } => {
                let (kind, code) = match status.as_u16() {
                    401 | 403 => ("authentication_error", "backend_auth_failed"),
                    404 => ("invalid_request_error", "backend_model_not_found"),
                    429 => ("rate_limit_error", "backend_rate_limited"),
                    400..=499 => ("invalid_request_error", "backend_rejected_request"),
                    _ => ("upstream_error", "backend_error"),
                };
                let mut e = ApiError::new(*status, kind, code, message);
                e.retry_after_ms = *retry_after_ms;
                e
            }
            UpstreamError::Protocol(_) => ApiError::new(
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "backend_protocol_error",
                message,
            ),
            UpstreamError::Secret(_) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "configuration_error",
                "provider_key_unavailable",
                format!("provider `{provider}`: {self}"),
            ),
            UpstreamError::Unsupported(_) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "unsupported_by_provider",
                message,
            ),
            UpstreamError::Untranslatable(_) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "untranslatable_request",
                message,
            ),
        };
        error.target = Some(target.to_owned());
        error.provider_family = Some(family);
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_the_failure_summary_fields() -> anyhow::Result<()> {
        let error = ApiError::model_not_found("Local/Chatt", vec!["local/chat".into()])
            .with_route("Local/Chatt")
            .with_correlation_id("abc");
        let body: serde_json::Value = serde_json::from_str(&error.body_json())?;
        let e = &body["error"];
        assert_eq!(e["type"], "invalid_request_error");
        assert_eq!(e["code"], "model_not_found");
        assert_eq!(e["correlation_id"], "abc");
        assert_eq!(e["route"], "Local/Chatt");
        assert!(e["provider_family"].is_null() && e["retry_after_ms"].is_null());
        assert!(e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("`local/chat`"));
        Ok(())
    }
}
