//! OpenAI's own dialect: chat completions, completions and embeddings. The body is already the
//! shape routing works on and every adapter takes; answers and errors use OpenAI's shapes.

use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::{ClientRequest, StreamDialect};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::provider::{Dialect, Endpoint};
use crate::server::pipeline::{self, Ingress};
use crate::wire::SseEvent;

pub(in crate::server) async fn chat_completions(
    State(gateway): State<Gateway>,
    request: Request,
) -> Response {
    handle(gateway, Endpoint::ChatCompletions, request).await
}

pub(in crate::server) async fn completions(
    State(gateway): State<Gateway>,
    request: Request,
) -> Response {
    handle(gateway, Endpoint::Completions, request).await
}

pub(in crate::server) async fn embeddings(
    State(gateway): State<Gateway>,
    request: Request,
) -> Response {
    handle(gateway, Endpoint::Embeddings, request).await
}

async fn handle(gateway: Gateway, endpoint: Endpoint, request: Request) -> Response {
    let ingress = Ingress {
        endpoint,
        path: endpoint.path(),
        render: super::openai_error,
    };
    pipeline::handle(gateway, ingress, request, parse).await
}

async fn parse(
    body: Map<String, Value>,
) -> Result<(Map<String, Value>, Box<dyn ClientRequest>), ApiError> {
    Ok((body, Box::new(ChatRequest)))
}

/// A chat-shaped request: nothing to translate.
pub(in crate::server) struct ChatRequest;

impl ClientRequest for ChatRequest {
    fn dialect(&self) -> Dialect {
        Dialect::Chat
    }

    fn hides_usage_chunk(&self) -> bool {
        true
    }

    fn stream(&self) -> Box<dyn StreamDialect> {
        Box::new(ChatStream)
    }
}

pub(in crate::server) struct ChatStream;

impl StreamDialect for ChatStream {
    fn is_terminal(&self, event: &SseEvent) -> bool {
        event.data.trim() == "[DONE]"
    }

    fn error_event(&self, error: &ApiError, _sent: u64) -> Bytes {
        Bytes::from(error.to_sse_event())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn a_stream_ends_with_done_and_fails_with_openais_error_event() -> anyhow::Result<()> {
        let stream = ChatStream;
        assert!(stream.is_terminal(&SseEvent::data("[DONE]")));
        assert!(!stream.is_terminal(&SseEvent::data("{\"choices\":[]}")));
        let error = ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "backend_error",
            "it broke",
        )
        .with_route("chat");
        let event = stream.error_event(&error, 3);
        let text = std::str::from_utf8(&event)?;
        let data = text
            .strip_prefix("data: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .ok_or_else(|| anyhow::anyhow!("not one data event: {text}"))?;
        let body: Value = serde_json::from_str(data)?;
        assert_eq!(body["error"]["code"], "backend_error");
        assert_eq!(body["error"]["route"], "chat");
        Ok(())
    }

    #[test]
    fn chat_hides_the_usage_chunk_it_asked_for() {
        assert!(ChatRequest.hides_usage_chunk());
        assert_eq!(ChatRequest.dialect(), Dialect::Chat);
    }
}
