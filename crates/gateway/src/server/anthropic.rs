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

/// The client's body → the OpenAI-shaped body routing works on, plus the native request.
/// A body the translation cannot take still routes (on its `model`, `stream` and text) so a
/// backend that speaks Anthropic gets it untouched; only the others refuse it, with the reason.
pub(super) fn ingress(
    native: Map<String, Value>,
    endpoint: NativeEndpoint,
    beta: Option<String>,
) -> (Map<String, Value>, AnthropicIngress) {
    let (mut body, dropped, untranslatable) = match translate(&native) {
        Ok((body, dropped)) => (body, dropped, None),
        Err(reason) => {
            // What routing reads: the model, streaming, and the text for the token estimate.
            let body = [
                "model",
                "stream",
                "max_tokens",
                "system",
                "messages",
                "tools",
            ]
            .into_iter()
            .filter_map(|k| native.get(k).map(|v| (k.to_owned(), v.clone())))
            .collect();
            (body, Vec::new(), Some(reason))
        }
    };
    if endpoint == NativeEndpoint::CountTokens {
        body.remove("stream");
        body.remove("max_tokens");
    }
    (
        body,
        AnthropicIngress {
            endpoint,
            native,
            beta,
            dropped,
            untranslatable,
        },
    )
}

fn translate(native: &Map<String, Value>) -> Result<(Map<String, Value>, Vec<String>), String> {
    crate::translate::shape::check_anthropic(native).map_err(|e| e.to_string())?;
    let parsed: MessagesRequest = serde_json::from_value(Value::Object(native.clone()))
        .map_err(|e| format!("the body is not an Anthropic Messages request: {e}"))?;
    let (chat, dropped) = request_to_openai(parsed)?;
    match serde_json::to_value(chat) {
        Ok(Value::Object(map)) => Ok((map, dropped)),
        _ => Err("the request could not be translated".into()),
    }
}

/// Every `anthropic-beta` value the client sent, in order (several headers are joined, as
/// HTTP allows), forwarded unchanged to Anthropic backends.
pub(super) fn beta_header(headers: &axum::http::HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}
