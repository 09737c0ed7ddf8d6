//! Client dialects: one module per client API (`chat` for OpenAI's chat, completions and
//! embeddings; `anthropic` for Messages; `responses` for OpenAI's Responses). Each parses its
//! request into the chat-shaped body the pipeline routes on, and renders the answer, its errors
//! and its stream events back. Whether a backend gets the client's request untouched or
//! translated is decided here, in `passthrough`, from the adapter's `native_dialects` alone.

pub(super) mod anthropic;
pub(super) mod chat;
pub(super) mod responses;

use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::error::ApiError;
use crate::provider::{Dialect, NativeRequest, Provider, ProviderRequest, ProviderResponse};
use crate::wire::{SseEvent, UpstreamError};

/// A parsed client request, as the pipeline sees it.
pub(super) trait ClientRequest: Send + Sync {
    fn dialect(&self) -> Dialect;

    /// The request for a backend that speaks this dialect natively, carrying `request`'s model,
    /// stream flag, correlation id and timeouts. `None` for chat (its native form is `request`).
    fn native(&self, _request: &ProviderRequest) -> Option<NativeRequest> {
        None
    }

    /// What the translation to chat could not carry over (told in a response header).
    fn dropped(&self) -> &[String] {
        &[]
    }

    /// Why the request cannot be translated to chat: only a native backend can take it.
    fn untranslatable(&self) -> Option<&str> {
        None
    }

    /// The gateway's own answer for a backend that cannot answer this request untranslated
    /// (Anthropic's `count_tokens` anywhere but Anthropic): the estimate, in the dialect.
    fn local_answer(&self, _estimate: u64) -> Option<Bytes> {
        None
    }

    /// A chat answer (whole or streamed) rendered in the dialect.
    fn render_chat_answer(
        &self,
        answer: ProviderResponse,
        _estimate: u64,
    ) -> Result<ProviderResponse, UpstreamError> {
        Ok(answer)
    }

    /// A native backend's answer on its way back (passed through; the dialect may keep it).
    fn render_native_answer(&self, answer: ProviderResponse) -> ProviderResponse {
        answer
    }

    /// Whether the usage-only chunk the gateway asks for in streams is hidden from the client
    /// (only a chat client can have asked for it itself).
    fn hides_usage_chunk(&self) -> bool {
        false
    }

    /// How this request's stream ends and fails.
    fn stream(&self) -> Box<dyn StreamDialect>;
}

/// A dialect's stream rules, used by the forwarder for the whole stream.
pub(super) trait StreamDialect: Send {
    /// Sees each event before it is sent (`sent` counts the events before it).
    fn observe(&mut self, _event: &SseEvent, _sent: u64) {}

    /// The dialect's last event of a successful stream.
    fn is_terminal(&self, event: &SseEvent) -> bool;

    /// The event that ends a stream failing after `sent` events went out.
    fn error_event(&self, error: &ApiError, sent: u64) -> Bytes;
}

/// How a dialect renders an error that ends the request before any answer.
pub(super) type RenderError = fn(ApiError) -> Response;

/// OpenAI's error envelope: chat and Responses clients.
pub(super) fn openai_error(error: ApiError) -> Response {
    error.into_response()
}

/// Whether `provider` gets requests in `dialect` untouched; otherwise they go as chat (the
/// translation is the identity for chat clients) and its answers come back rendered in the
/// dialect. The one place this is decided.
pub(super) fn passthrough(provider: &dyn Provider, dialect: Dialect) -> bool {
    provider.native_dialects().contains(&dialect)
}

/// Sends one attempt: the client's own request when `passthrough`, else the chat request with
/// its answer rendered back in the client's dialect.
pub(super) async fn send(
    provider: &dyn Provider,
    client: &dyn ClientRequest,
    passthrough: bool,
    request: ProviderRequest,
    estimate: u64,
) -> Result<ProviderResponse, UpstreamError> {
    if passthrough {
        if let Some(native) = client.native(&request) {
            let answer = provider.send_native(native).await?;
            return Ok(client.render_native_answer(answer));
        }
    }
    let answer = provider.send(request).await?;
    client.render_chat_answer(answer, estimate)
}
