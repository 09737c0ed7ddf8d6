//! Providers behind one small interface. Each provider kind takes an OpenAI-shaped request and
//! answers with an OpenAI-shaped body or stream of events; the adapter calls the pure
//! translators in `crate::translate` for other dialects, so routing and logging never care which
//! kind served a request. Adapters that speak another client dialect natively (Anthropic's
//! Messages, OpenAI's Responses) declare it in `native_dialects` and take it in `send_native`.

mod anthropic;
mod context;
pub mod copilot;
mod demo;
mod gemini;
mod http;
pub use http::TRACEPARENT;
mod models;
mod openai;

use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;

use crate::config::{ProviderConfig, ProviderSettings, Timeouts};
use crate::wire::{EventStream, TimeoutPhase, UpstreamError, Usage};

pub use anthropic::AnthropicProvider;
pub use context::BuildContext;
pub use copilot::CopilotProvider;
pub use demo::DemoProvider;
pub use gemini::GeminiProvider;
pub use models::ModelEntry;
pub use openai::OpenAiProvider;

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
    /// The body already serialized (the client's bytes with the target's model spliced in),
    /// for an adapter that `sends_chat_as_is`; `body` is then empty.
    pub raw: Option<bytes::Bytes>,
    pub stream: bool,
    pub correlation_id: String,
    pub timeouts: Timeouts,
    /// `max_tokens` to use when the body has none, from the target's config (providers that
    /// require one fall back to `config::DEFAULT_MAX_TOKENS`).
    pub max_tokens: Option<u64>,
}

/// A client API. Chat completions is the shape every adapter takes (`Provider::send`); a
/// backend that lists another in `Provider::native_dialects` gets requests in it untranslated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Chat,
    AnthropicMessages,
    Responses,
}

impl Dialect {
    /// The API's name, for "does not support ..." errors.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Chat => "OpenAI's chat completions",
            Dialect::AnthropicMessages => "Anthropic's Messages API natively",
            Dialect::Responses => "OpenAI's Responses API natively",
        }
    }
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

    pub fn dialect(self) -> Dialect {
        match self {
            NativeEndpoint::Messages | NativeEndpoint::CountTokens => Dialect::AnthropicMessages,
            NativeEndpoint::Responses => Dialect::Responses,
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

pub enum ProviderResponse {
    /// A whole JSON body (non-streaming requests).
    Complete { body: Bytes, usage: Option<Usage> },
    /// Events forwarded one by one as they arrive.
    Stream(EventStream),
}

#[async_trait]
pub trait Provider: Send + Sync {
    /// The wire family, reported in failure summaries (`openai`, `demo`, ...).
    fn family(&self) -> &'static str;

    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, UpstreamError>;

    /// A light check that the backend answers, for `GET /health` and active health checks.
    async fn probe(&self, timeout: Duration) -> Result<(), String>;

    /// The backend's own model list, for the dashboard's pickers.
    async fn models(&self, _timeout: Duration) -> Result<Vec<ModelEntry>, String> {
        Err(format!(
            "{} backends do not list their models",
            self.family()
        ))
    }

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

    /// The client dialects besides chat completions (every adapter's own shape, `send`) that
    /// this backend takes untranslated through `send_native`. The proxy decides passthrough
    /// versus translation from this list alone.
    fn native_dialects(&self) -> &'static [Dialect] {
        &[]
    }

    /// Whether `send` posts the chat body exactly as given (no translation): then the proxy
    /// may hand it the client's bytes with the model spliced in (`ProviderRequest::raw`)
    /// instead of a parsed body to serialize again.
    fn sends_chat_as_is(&self) -> bool {
        false
    }

    /// Sends a request in one of `native_dialects`, untranslated. Streams come back as that
    /// dialect's events.
    async fn send_native(&self, request: NativeRequest) -> Result<ProviderResponse, UpstreamError> {
        Err(UpstreamError::Unsupported(
            request.endpoint.dialect().name(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::SseEvent;

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
