//! Providers behind one small interface. Each provider kind takes an OpenAI-shaped request and
//! answers with an OpenAI-shaped body or stream of events; the adapter calls the pure
//! translators in `crate::translate` for other dialects, so routing and logging never care which
//! kind served a request. Adapters that speak Anthropic's format also take it natively
//! (`send_native_anthropic`), for the `/v1/messages` ingress.

mod anthropic;
mod context;
pub mod copilot;
mod demo;
mod gemini;
mod http;
mod openai;
mod usage;

use std::pin::Pin;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::StatusCode;
use bytes::Bytes;
use futures::{Stream, StreamExt};

use crate::config::{ProviderConfig, ProviderSettings, Timeouts};
use crate::error::ApiError;

pub use anthropic::AnthropicProvider;
pub use context::BuildContext;
pub use copilot::CopilotProvider;
pub use demo::DemoProvider;
pub use gemini::GeminiProvider;
pub use openai::OpenAiProvider;
pub use usage::Usage;

/// Which OpenAI endpoint a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    ChatCompletions,
    Completions,
    Embeddings,
}

impl Endpoint {
    /// The path below the provider's base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ChatCompletions => "chat/completions",
            Endpoint::Completions => "completions",
            Endpoint::Embeddings => "embeddings",
        }
    }

    pub fn supports_streaming(self) -> bool {
        !matches!(self, Endpoint::Embeddings)
    }
}

/// One request to one target. `body` already carries the target's model id.
#[derive(Debug, Clone)]
pub struct ProviderRequest {
    pub endpoint: Endpoint,
    pub body: serde_json::Map<String, serde_json::Value>,
    pub stream: bool,
    pub correlation_id: String,
    pub timeouts: Timeouts,
    /// `max_tokens` to use when the body has none, from the target's config (providers that
    /// require one fall back to `config::DEFAULT_MAX_TOKENS`).
    pub max_tokens: Option<u64>,
}

/// Which non-chat endpoint a native (untranslated) request is for: Anthropic's Messages API,
/// or OpenAI's Responses API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeEndpoint {
    Messages,
    CountTokens,
    Responses,
}

impl NativeEndpoint {
    pub fn path(self) -> &'static str {
        match self {
            NativeEndpoint::Messages => "messages",
            NativeEndpoint::CountTokens => "messages/count_tokens",
            NativeEndpoint::Responses => "responses",
        }
    }
}

/// A request in Anthropic's format (or OpenAI's Responses format), passed through to a backend
/// that speaks it. `body` already carries the target's model id.
#[derive(Debug, Clone)]
pub struct NativeRequest {
    pub endpoint: NativeEndpoint,
    pub body: serde_json::Map<String, serde_json::Value>,
    pub stream: bool,
    pub correlation_id: String,
    pub timeouts: Timeouts,
    /// The client's `anthropic-beta` header (feature flags, never credentials).
    pub beta: Option<String>,
}

/// One server-sent event in OpenAI's stream format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn data(data: impl Into<String>) -> Self {
        SseEvent {
            event: None,
            data: data.into(),
        }
    }

    pub fn to_bytes(&self) -> Bytes {
        let mut out = String::with_capacity(self.data.len() + 16);
        if let Some(event) = &self.event {
            out.push_str("event: ");
            out.push_str(event);
            out.push('\n');
        }
        for line in self.data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        Bytes::from(out)
    }
}

pub type EventStream = Pin<Box<dyn Stream<Item = Result<SseEvent, UpstreamError>> + Send>>;

pub enum ProviderResponse {
    /// A whole JSON body (non-streaming requests).
    Complete { body: Bytes, usage: Option<Usage> },
    /// Events forwarded one by one as they arrive.
    Stream(EventStream),
}

/// Why a call to a backend failed. Mapped to the client-facing `ApiError` by `into_api_error`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("timed out waiting for {0}")]
    Timeout(TimeoutPhase),
    #[error("answered {status}: {message}")]
    Status {
        status: StatusCode,
        message: String,
        retry_after_ms: Option<u64>,
    },
    #[error("sent a response Switchboard could not read: {0}")]
    Protocol(String),
    #[error("its key is unavailable: {0}")]
    Secret(String),
    #[error("does not support {0}")]
    Unsupported(&'static str),
    /// The request cannot be expressed in the provider's format (an audio part for Anthropic, ...).
    #[error("cannot take this request: {0}")]
    Untranslatable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    FirstByte,
    Idle,
    Total,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutPhase::FirstByte => "the first byte (first_byte_s)",
            TimeoutPhase::Idle => "the next stream chunk (idle_s)",
            TimeoutPhase::Total => "the whole response (total_s)",
        })
    }
}

impl UpstreamError {
    /// Worth trying another target: the backend is down, slow or overloaded, not the request bad.
    pub fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Connect(_) | UpstreamError::Timeout(_) => true,
            UpstreamError::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            UpstreamError::Protocol(_) | UpstreamError::Secret(_) => true,
            UpstreamError::Unsupported(_) | UpstreamError::Untranslatable(_) => false,
        }
    }

    /// Not transient: a key without access, an unknown model, quota or billing. Routing marks
    /// the target `misconfigured` instead of cooling it down.
    pub fn is_misconfiguration(&self) -> bool {
        match self {
            UpstreamError::Secret(_) => true,
            UpstreamError::Status {
                status, message, ..
            } => {
                let lower = message.to_ascii_lowercase();
                matches!(status.as_u16(), 401..=403)
                    || (status.as_u16() == 404 && lower.contains("model"))
                    || (status.as_u16() == 429
                        && ["quota", "billing", "credit"]
                            .iter()
                            .any(|w| lower.contains(w)))
            }
            _ => false,
        }
    }

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

#[async_trait]
pub trait Provider: Send + Sync {
    /// The wire family, reported in failure summaries (`openai`, `demo`, ...).
    fn family(&self) -> &'static str;

    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, UpstreamError>;

    /// A light check that the backend answers, for `GET /health` and active health checks.
    async fn probe(&self, timeout: Duration) -> Result<(), String>;

    /// A hash of the key in use now, so a target marked misconfigured can be re-enabled when the
    /// key is rotated. `None` for providers without a key.
    fn key_fingerprint(&self) -> Option<String> {
        None
    }

    /// The context window the backend reports for `model` (Copilot's `/models`), used where the
    /// target sets no `max_input_tokens`.
    fn max_input_tokens(&self, _model: &str) -> Option<u64> {
        None
    }

    /// The request parameters (top-level body keys) this provider cannot take for `endpoint`.
    /// The proxy drops them with a note, or refuses the request, per the provider's
    /// `unsupported_params`; they are never forwarded to fail obscurely.
    fn unsupported_params(
        &self,
        _endpoint: Endpoint,
        _body: &serde_json::Map<String, serde_json::Value>,
    ) -> Vec<String> {
        Vec::new()
    }

    /// Whether `send_native_anthropic` works: Anthropic-format requests then pass through
    /// untranslated.
    fn speaks_anthropic(&self) -> bool {
        false
    }

    /// Sends a request in Anthropic's own format. Streams come back as Anthropic's events.
    async fn send_native_anthropic(
        &self,
        _request: NativeRequest,
    ) -> Result<ProviderResponse, UpstreamError> {
        Err(UpstreamError::Unsupported(
            "Anthropic's Messages API natively",
        ))
    }

    /// Whether `send_native_responses` works: Responses API requests then pass through
    /// untranslated.
    fn speaks_responses(&self) -> bool {
        false
    }

    /// Sends a request in OpenAI's Responses format. Streams come back as Responses events.
    async fn send_native_responses(
        &self,
        _request: NativeRequest,
    ) -> Result<ProviderResponse, UpstreamError> {
        Err(UpstreamError::Unsupported(
            "OpenAI's Responses API natively",
        ))
    }
}

/// Builds the adapter for a provider's kind; each takes its own settings.
pub fn build(
    config: &ProviderConfig,
    context: &BuildContext,
) -> Result<std::sync::Arc<dyn Provider>, String> {
    let credentials = &context.credentials;
    Ok(match &config.settings {
        ProviderSettings::OpenAi(s) => {
            std::sync::Arc::new(OpenAiProvider::new(config, s, credentials)?)
        }
        ProviderSettings::Anthropic(s) => {
            std::sync::Arc::new(AnthropicProvider::new(config, s, credentials)?)
        }
        ProviderSettings::Gemini(s) => {
            std::sync::Arc::new(GeminiProvider::new(config, s, credentials)?)
        }
        ProviderSettings::GithubCopilot(s) => {
            std::sync::Arc::new(CopilotProvider::new(config, s, context)?)
        }
        ProviderSettings::Demo => std::sync::Arc::new(DemoProvider),
    })
}

/// Applies the idle-gap and total deadlines to a stream of events.
pub fn with_stream_timeouts(
    stream: EventStream,
    timeouts: Timeouts,
    started: Instant,
) -> EventStream {
    let deadline = tokio::time::Instant::from_std(started + timeouts.total);
    let state = (stream, false);
    Box::pin(futures::stream::unfold(
        state,
        move |(mut stream, failed)| async move {
            if failed {
                return None;
            }
            let idle = tokio::time::Instant::now() + timeouts.idle;
            let (until, phase) = if idle < deadline {
                (idle, TimeoutPhase::Idle)
            } else {
                (deadline, TimeoutPhase::Total)
            };
            match tokio::time::timeout_at(until, stream.next()).await {
                Ok(Some(item)) => {
                    let failed = item.is_err();
                    Some((item, (stream, failed)))
                }
                Ok(None) => None,
                Err(_) => Some((Err(UpstreamError::Timeout(phase)), (stream, true))),
            }
        },
    ))
}

/// A short, single-line, secret-free version of an upstream error text.
pub fn sanitize_upstream_message(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        let looks_secret = word.starts_with("sk-")
            || word.starts_with("Bearer")
            || (word.len() >= 32
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(if looks_secret { "[redacted]" } else { word });
        if out.len() > 300 {
            // Cut on a character boundary (`truncate` panics inside a multi-byte character).
            let cut = (0..=300)
                .rev()
                .find(|i| out.is_char_boundary(*i))
                .unwrap_or(0);
            out.truncate(cut);
            out.push('…');
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_truncates_multi_byte_text_without_panicking() {
        let text = format!("a{}", "é".repeat(400));
        let s = sanitize_upstream_message(&text);
        assert!(s.ends_with('…') && s.len() <= 303, "{}", s.len());
    }

    #[test]
    fn sanitize_redacts_keys_and_truncates() {
        let s =
            sanitize_upstream_message("Incorrect API key provided: sk-abc123.\n  Find yours at x");
        assert_eq!(s, "Incorrect API key provided: [redacted] Find yours at x");
        assert!(
            sanitize_upstream_message(&"word ".repeat(200))
                .chars()
                .count()
                <= 301
        );
    }

    #[test]
    fn sse_event_serializes_multiline_data() {
        let e = SseEvent {
            event: Some("x".into()),
            data: "a\nb".into(),
        };
        assert_eq!(&e.to_bytes()[..], b"event: x\ndata: a\ndata: b\n\n");
    }

    #[tokio::test(start_paused = true)]
    async fn stream_idle_gap_ends_with_a_timeout() {
        let slow = futures::stream::once(async { Ok(SseEvent::data("1")) })
            .chain(futures::stream::pending());
        let timeouts = Timeouts {
            idle: Duration::from_secs(2),
            ..Timeouts::default()
        };
        let items: Vec<_> = with_stream_timeouts(Box::pin(slow), timeouts, Instant::now())
            .collect()
            .await;
        assert_eq!(items.len(), 2);
        assert!(matches!(
            items[1],
            Err(UpstreamError::Timeout(TimeoutPhase::Idle))
        ));
    }
}
