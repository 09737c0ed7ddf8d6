//! The Anthropic ingress: `POST /v1/messages` and `POST /v1/messages/count_tokens` in
//! Anthropic's own format, routed by alias like every other request. A backend that speaks
//! Anthropic gets the request untouched; any other gets it translated to OpenAI's shape, and its
//! answer (stream included) is translated back. Errors use Anthropic's envelope with
//! Switchboard's failure summary inside `error`. Client credentials (`x-api-key`,
//! `Authorization`) are never forwarded: adapters build their own headers.

use axum::extract::{Request, State};
use axum::response::Response;
use axum::Extension;
use serde_json::{Map, Value};

use super::proxy::{self, AnthropicIngress};
use super::CorrelationId;
use crate::gateway::Gateway;
use crate::provider::NativeEndpoint;
use crate::translate::anthropic::{request_to_openai, MessagesRequest};

pub(super) async fn messages(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    request: Request,
) -> Response {
    proxy::handle_anthropic(gateway, NativeEndpoint::Messages, id.0, request).await
}

pub(super) async fn count_tokens(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    request: Request,
) -> Response {
    proxy::handle_anthropic(gateway, NativeEndpoint::CountTokens, id.0, request).await
}

/// The client's body → the OpenAI-shaped body routing works on, plus the native request. An
/// Err is why the body is not a Messages request (a 400).
pub(super) fn ingress(
    native: Map<String, Value>,
    endpoint: NativeEndpoint,
    beta: Option<String>,
) -> Result<(Map<String, Value>, AnthropicIngress), String> {
    let parsed: MessagesRequest = serde_json::from_value(Value::Object(native.clone()))
        .map_err(|e| format!("the body is not an Anthropic Messages request: {e}"))?;
    let (chat, dropped) = request_to_openai(parsed)?;
    let mut body = match serde_json::to_value(chat) {
        Ok(Value::Object(map)) => map,
        _ => return Err("the request could not be translated".into()),
    };
    if endpoint == NativeEndpoint::CountTokens {
        body.remove("stream");
        body.remove("max_tokens");
    }
    Ok((
        body,
        AnthropicIngress {
            endpoint,
            native,
            beta,
            dropped,
        },
    ))
}
