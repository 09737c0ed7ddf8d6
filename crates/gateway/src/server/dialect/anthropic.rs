//! The Anthropic dialect: `POST /v1/messages` and `POST /v1/messages/count_tokens` in
//! Anthropic's own format, routed by alias like every other request. A backend that speaks
//! Anthropic gets the request untouched; any other gets it translated to OpenAI's shape, and its
//! answer (stream included) is translated back. Errors use Anthropic's envelope with
//! Switchboard's failure summary inside `error`. Client credentials (`x-api-key`,
//! `Authorization`) are never forwarded: adapters build their own headers.

use axum::extract::{Request, State};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{ClientRequest, StreamDialect};
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::provider::{
    Dialect, Endpoint, NativeEndpoint, NativeRequest, ProviderRequest, ProviderResponse,
};
use crate::server::pipeline::{self, Ingress};
use crate::translate;
use crate::translate::anthropic::{request_to_openai, MessagesRequest};
use crate::wire::{SseEvent, UpstreamError};

pub(in crate::server) async fn messages(
    State(gateway): State<Gateway>,
    request: Request,
) -> Response {
    handle(gateway, NativeEndpoint::Messages, request).await
}

pub(in crate::server) async fn count_tokens(
    State(gateway): State<Gateway>,
    request: Request,
) -> Response {
    handle(gateway, NativeEndpoint::CountTokens, request).await
}

pub(in crate::server) async fn handle(
    gateway: Gateway,
    endpoint: NativeEndpoint,
    request: Request,
) -> Response {
    let beta = beta_header(request.headers());
    let ingress = Ingress {
        endpoint: Endpoint::ChatCompletions,
        path: endpoint.path(),
        render: error_response,
    };
    pipeline::handle(gateway, ingress, request, move |native| async move {
        let (body, parsed) = ingress_body(native, endpoint, beta);
        Ok((body, Box::new(parsed) as Box<dyn ClientRequest>))
    })
    .await
}

/// A Messages request on its way: what a native backend gets, and what translation lost.
pub(in crate::server) struct AnthropicRequest {
    endpoint: NativeEndpoint,
    /// The request as the client sent it, for backends that speak Anthropic natively.
    native: Map<String, Value>,
    /// The model the client named (answers translated back name it).
    model: String,
    /// The client's `anthropic-beta` header.
    beta: Option<String>,
    /// What the translation to OpenAI's shape could not carry over.
    dropped: Vec<String>,
    /// Why the body cannot be translated to OpenAI's shape (only native backends can take it).
    untranslatable: Option<String>,
}

/// The client's body → the OpenAI-shaped body routing works on, plus the native request.
/// A body the translation cannot take still routes (on its `model`, `stream` and text) so a
/// backend that speaks Anthropic gets it untouched; only the others refuse it, with the reason.
fn ingress_body(
    native: Map<String, Value>,
    endpoint: NativeEndpoint,
    beta: Option<String>,
) -> (Map<String, Value>, AnthropicRequest) {
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
    let model = native
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    (
        body,
        AnthropicRequest {
            endpoint,
            native,
            model,
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
fn beta_header(headers: &axum::http::HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .collect();
    (!values.is_empty()).then(|| values.join(","))
}

impl ClientRequest for AnthropicRequest {
    fn dialect(&self) -> Dialect {
        Dialect::AnthropicMessages
    }

    fn native(&self, request: &ProviderRequest) -> Option<NativeRequest> {
        let mut body = self.native.clone();
        if let Some(model) = request.body.get("model") {
            body.insert("model".into(), model.clone());
        }
        Some(NativeRequest {
            endpoint: self.endpoint,
            body,
            stream: request.stream,
            correlation_id: request.correlation_id.clone(),
            timeouts: request.timeouts,
            beta: self.beta.clone(),
        })
    }

    fn dropped(&self) -> &[String] {
        &self.dropped
    }

    fn untranslatable(&self) -> Option<&str> {
        self.untranslatable.as_deref()
    }

    /// Only Anthropic counts Anthropic's tokens; elsewhere the estimate answers.
    fn local_answer(&self, estimate: u64) -> Option<Bytes> {
        (self.endpoint == NativeEndpoint::CountTokens)
            .then(|| Bytes::from(serde_json::json!({ "input_tokens": estimate }).to_string()))
    }

    fn render_chat_answer(
        &self,
        answer: ProviderResponse,
        estimate: u64,
    ) -> Result<ProviderResponse, UpstreamError> {
        to_anthropic(answer, &self.model, estimate)
    }

    fn stream(&self) -> Box<dyn StreamDialect> {
        Box::new(AnthropicStream)
    }
}

/// An OpenAI-shaped answer in Anthropic's shape.
fn to_anthropic(
    response: ProviderResponse,
    model: &str,
    input_estimate: u64,
) -> Result<ProviderResponse, UpstreamError> {
    Ok(match response {
        ProviderResponse::Complete { body, usage } => {
            let completion: translate::openai::ChatCompletion = serde_json::from_slice(&body)
                .map_err(|e| {
                    UpstreamError::Protocol(format!("body is not a chat completion ({e})"))
                })?;
            let message = translate::anthropic::response_from_openai(completion, model);
            let body =
                serde_json::to_vec(&message).map_err(|e| UpstreamError::Protocol(e.to_string()))?;
            ProviderResponse::Complete {
                body: Bytes::from(body),
                usage,
            }
        }
        ProviderResponse::Stream(events) => ProviderResponse::Stream(translate::translate_stream(
            events,
            translate::anthropic::FromOpenAiStream::new(model, input_estimate),
        )),
    })
}

struct AnthropicStream;

impl StreamDialect for AnthropicStream {
    fn is_terminal(&self, event: &SseEvent) -> bool {
        event.event.as_deref() == Some("message_stop") || event.data.trim() == "[DONE]"
    }

    fn error_event(&self, error: &ApiError, _sent: u64) -> Bytes {
        Bytes::from(format!("event: error\ndata: {}\n\n", envelope(error)))
    }
}

/// Anthropic's error envelope (`{"type": "error", "error": {"type", "message"}}`) with the
/// same failure summary inside `error`.
fn envelope(error: &ApiError) -> String {
    let mut inner = serde_json::to_value(error).unwrap_or_default();
    if let Some(map) = inner.as_object_mut() {
        map.insert(
            "type".into(),
            translate::anthropic::error_type_for_status(error.status).into(),
        );
    }
    #[derive(Serialize)]
    struct Envelope {
        #[serde(rename = "type")]
        kind: &'static str,
        error: Value,
    }
    serde_json::to_string(&Envelope {
        kind: "error",
        error: inner,
    })
    .unwrap_or_default()
}

/// The response for an Anthropic client whose request failed.
fn error_response(error: ApiError) -> Response {
    let body = envelope(&error);
    error.into_response_with(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn envelope_keeps_the_failure_summary() -> anyhow::Result<()> {
        let mut error = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            "backend_rate_limited",
            "slow down",
        )
        .with_route("claude")
        .with_correlation_id("c1");
        error.retry_after_ms = Some(2000);
        error.provider_family = Some("anthropic");
        let body: Value = serde_json::from_str(&envelope(&error))?;
        assert_eq!(body["type"], "error");
        let e = &body["error"];
        assert_eq!(e["type"], "rate_limit_error");
        assert_eq!(e["message"], "slow down");
        assert_eq!(e["route"], "claude");
        assert_eq!(e["provider_family"], "anthropic");
        assert_eq!(e["retry_after_ms"], 2000);
        assert_eq!(e["correlation_id"], "c1");
        let event = AnthropicStream.error_event(&error, 0);
        assert!(event.starts_with(b"event: error\ndata: {"), "{event:?}");
        let response = error_response(error);
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()["retry-after"], "2");
        Ok(())
    }

    #[test]
    fn a_messages_body_becomes_chat_and_the_native_request_keeps_the_original() {
        let native = object(json!({
            "model": "claude", "max_tokens": 100, "stream": true,
            "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "enabled", "budget_tokens": 1000}
        }));
        let (body, parsed) = ingress_body(native.clone(), NativeEndpoint::Messages, None);
        assert_eq!(body["model"], "claude");
        assert_eq!(body["messages"][0]["content"], "hi");
        assert!(parsed.untranslatable().is_none());
        let request = ProviderRequest {
            raw: None,
            endpoint: Endpoint::ChatCompletions,
            body: object(json!({"model": "claude-sonnet"})),
            stream: true,
            correlation_id: "c".into(),
            timeouts: Default::default(),
            max_tokens: None,
        };
        let sent = parsed
            .native(&request)
            .unwrap_or_else(|| panic!("no native request"));
        assert_eq!(sent.body["model"], "claude-sonnet");
        assert_eq!(sent.body["thinking"], native["thinking"]);
        assert!(sent.stream);
    }

    #[test]
    fn an_untranslatable_body_still_routes_on_its_model() {
        let native = object(json!({"model": "claude", "max_tokens": 5, "messages": "not a list"}));
        let (body, parsed) = ingress_body(native, NativeEndpoint::Messages, None);
        assert_eq!(body["model"], "claude");
        assert!(parsed.untranslatable().is_some());
    }

    #[test]
    fn count_tokens_answers_locally_and_does_not_stream() {
        let native = object(json!({
            "model": "claude", "stream": true, "max_tokens": 5,
            "messages": [{"role": "user", "content": "hi"}]
        }));
        let (body, parsed) = ingress_body(native, NativeEndpoint::CountTokens, None);
        assert!(body.get("stream").is_none() && body.get("max_tokens").is_none());
        assert_eq!(
            parsed.local_answer(42).as_deref(),
            Some(&b"{\"input_tokens\":42}"[..])
        );
        let (_, messages) = ingress_body(
            object(json!({"model": "m"})),
            NativeEndpoint::Messages,
            None,
        );
        assert!(messages.local_answer(42).is_none());
    }

    #[test]
    fn stream_ends_at_message_stop() {
        let mut stop = SseEvent::data("{}");
        stop.event = Some("message_stop".into());
        assert!(AnthropicStream.is_terminal(&stop));
        assert!(!AnthropicStream.is_terminal(&SseEvent::data("{}")));
    }

    #[test]
    fn beta_headers_are_joined_in_order() {
        let mut headers = axum::http::HeaderMap::new();
        headers.append("anthropic-beta", "a".parse().unwrap_or_else(|_| panic!()));
        headers.append("anthropic-beta", " b ".parse().unwrap_or_else(|_| panic!()));
        assert_eq!(beta_header(&headers).as_deref(), Some("a,b"));
        assert_eq!(beta_header(&axum::http::HeaderMap::new()), None);
    }
}
