//! The Responses API ingress: `POST /v1/responses` (streaming or not), `GET` and `DELETE
//! /v1/responses/{id}`. Routed by alias like every other request: a backend that speaks the
//! Responses API (`responses = true` on an `openai` provider; on by default for api.openai.com)
//! gets the request untouched, any other gets it translated to chat completions
//! (`translate::responses`) and its answer, stream included, translated back. Answers are stored
//! unless the request says `store: false`, so `previous_response_id` can continue them; the
//! gateway expands that history itself, for every backend kind. Errors use OpenAI's envelope
//! with the failure summary; a stream that fails after it started ends with `response.failed`.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Map, Value};

use super::{ClientRequest, StreamDialect};
use crate::error::ApiError;
use crate::gateway::{now_ms, Gateway};
use crate::provider::{
    Dialect, Endpoint, NativeEndpoint, NativeRequest, ProviderRequest, ProviderResponse,
};
use crate::server::guard::ClientIdentity;
use crate::server::pipeline::{self, Ingress};
use crate::server::CorrelationId;
use crate::store::responses::{ResponseStore, StoredResponse};
use crate::translate::responses::{
    failed_event, request_to_chat, response_from_chat, Input, ResponseContext, ResponsesRequest,
    ToResponsesStream,
};
use crate::translate::translate_stream;
use crate::wire::{EventStream, SseEvent, UpstreamError};

pub(in crate::server) async fn create(
    State(gateway): State<Gateway>,
    request: Request,
) -> Response {
    let entry = Ingress {
        endpoint: Endpoint::ChatCompletions,
        path: NativeEndpoint::Responses.path(),
        render: super::openai_error,
    };
    // Affinity by session headers only; `SessionKey::response(previous_response_id)` is the
    // hook for keying a Responses conversation.
    let client = request
        .extensions()
        .get::<ClientIdentity>()
        .map(|i| i.token.clone());
    let store = gateway.inner.responses.clone();
    pipeline::handle(gateway, entry, request, move |native| async move {
        let (body, parsed) = ingress(&store, native, client.as_deref()).await?;
        Ok((body, Box::new(parsed) as Box<dyn ClientRequest>))
    })
    .await
}

pub(in crate::server) async fn get(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    identity: Option<Extension<ClientIdentity>>,
    Path(response_id): Path<String>,
) -> Response {
    let client = identity.map(|i| i.0.token.clone());
    match find(&gateway.inner.responses, &response_id, client.as_deref()).await {
        Ok(stored) => Json(stored.response).into_response(),
        Err(error) => error.with_correlation_id(&id.0).into_response(),
    }
}

pub(in crate::server) async fn delete(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    identity: Option<Extension<ClientIdentity>>,
    Path(response_id): Path<String>,
) -> Response {
    let client = identity.map(|i| i.0.token.clone());
    let store = &gateway.inner.responses;
    if let Err(error) = find(store, &response_id, client.as_deref()).await {
        return error.with_correlation_id(&id.0).into_response();
    }
    store.delete(&response_id).await;
    Json(json!({"id": response_id, "object": "response", "deleted": true})).into_response()
}

/// A stored response the caller may see: its own (or any, without client tokens).
async fn find(
    store: &ResponseStore,
    id: &str,
    client: Option<&str>,
) -> Result<StoredResponse, ApiError> {
    match store.get(id).await {
        Some(stored) if client.is_none() || stored.client.as_deref() == client => Ok(stored),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            "response_not_found",
            format!(
                "response `{id}` is not stored here: it expired (kept 7 days), was deleted, was created with `store: false`, or belongs to another client"
            ),
        )),
    }
}

/// A Responses request on its way: what a native backend gets, what the answer echoes, and
/// where it is stored.
pub(in crate::server) struct ResponsesIngress {
    /// The request as the client sent it, `previous_response_id` expanded into `input`.
    native: Map<String, Value>,
    context: ResponseContext,
    /// What the translation to chat completions could not carry over.
    dropped: Vec<String>,
    remember: Option<Remember>,
}

/// Stores a finished answer with the input it answered, for follow-ups.
#[derive(Clone)]
struct Remember {
    store: ResponseStore,
    client: Option<String>,
    input: Vec<Value>,
}

impl Remember {
    fn keep(&self, response: &Value) {
        let Some(id) = response.get("id").and_then(Value::as_str) else {
            return;
        };
        let mut context = self.input.clone();
        if let Some(output) = response.get("output").and_then(Value::as_array) {
            context.extend(output.iter().cloned());
        }
        self.store.put(StoredResponse {
            id: id.to_owned(),
            created_ms: now_ms() as i64,
            client: self.client.clone(),
            response: response.clone(),
            context,
        });
    }
}

/// The client's body → the chat-shaped body routing works on, plus the native request.
async fn ingress(
    store: &ResponseStore,
    mut native: Map<String, Value>,
    client: Option<&str>,
) -> Result<(Map<String, Value>, ResponsesIngress), ApiError> {
    let mut parsed: ResponsesRequest = serde_json::from_value(Value::Object(native.clone()))
        .map_err(|e| {
            ApiError::invalid_request(
                "invalid_body",
                format!("the body is not a Responses API request: {e}"),
            )
        })?;
    let mut input = parsed
        .input
        .take()
        .map(Input::into_items)
        .unwrap_or_default();
    if let Some(previous) = &parsed.previous_response_id {
        let stored = find(store, previous, client).await.map_err(|mut e| {
            e.code = "previous_response_not_found";
            e
        })?;
        let mut history = stored.context;
        history.append(&mut input);
        input = history;
        // Expanded here for every backend: a native backend never saw our ids.
        native.remove("previous_response_id");
        native.insert("input".into(), Value::Array(input.clone()));
    }
    parsed.input = Some(Input::Items(input.clone()));
    let (chat, dropped) =
        request_to_chat(&parsed).map_err(|e| ApiError::invalid_request("invalid_body", e))?;
    let body = match serde_json::to_value(chat) {
        Ok(Value::Object(map)) => map,
        _ => return Err(ApiError::internal("the request could not be translated")),
    };
    let remember = (parsed.store != Some(false)).then(|| Remember {
        store: store.clone(),
        client: client.map(str::to_owned),
        input,
    });
    Ok((
        body,
        ResponsesIngress {
            native,
            context: ResponseContext::new(&parsed),
            dropped,
            remember,
        },
    ))
}

impl ResponsesIngress {
    /// A chat completion (or chat stream) as a Response (or Responses events).
    fn translate_answer(
        &self,
        response: ProviderResponse,
    ) -> Result<ProviderResponse, UpstreamError> {
        Ok(match response {
            ProviderResponse::Complete { body, usage } => {
                let response =
                    response_from_chat(&body, &self.context).map_err(UpstreamError::Protocol)?;
                let value = serde_json::to_value(&response)
                    .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
                if let Some(remember) = &self.remember {
                    remember.keep(&value);
                }
                ProviderResponse::Complete {
                    body: Bytes::from(value.to_string()),
                    usage,
                }
            }
            ProviderResponse::Stream(events) => ProviderResponse::Stream(self.tap(
                translate_stream(events, ToResponsesStream::new(self.context.clone())),
            )),
        })
    }

    /// A native backend's answer, passed through (and stored).
    fn native_answer(&self, response: ProviderResponse) -> ProviderResponse {
        match response {
            ProviderResponse::Complete { body, usage } => {
                if let (Some(remember), Ok(value)) =
                    (&self.remember, serde_json::from_slice::<Value>(&body))
                {
                    remember.keep(&value);
                }
                ProviderResponse::Complete { body, usage }
            }
            ProviderResponse::Stream(events) => ProviderResponse::Stream(self.tap(events)),
        }
    }

    /// Stores the response of a stream's `response.completed` as it passes.
    fn tap(&self, events: EventStream) -> EventStream {
        let Some(remember) = self.remember.clone() else {
            return events;
        };
        Box::pin(events.inspect(move |item| {
            if let Ok(event) = item {
                let completed = event.event.as_deref() == Some("response.completed")
                    || (event.event.is_none() && event.data.contains("\"response.completed\""));
                if completed {
                    if let Ok(value) = serde_json::from_str::<Value>(&event.data) {
                        if value.get("type").and_then(Value::as_str) == Some("response.completed") {
                            remember.keep(value.get("response").unwrap_or(&Value::Null));
                        }
                    }
                }
            }
        }))
    }
}

impl ClientRequest for ResponsesIngress {
    fn dialect(&self) -> Dialect {
        Dialect::Responses
    }

    fn native(&self, request: &ProviderRequest) -> Option<NativeRequest> {
        let mut body = self.native.clone();
        if let Some(model) = request.body.get("model") {
            body.insert("model".into(), model.clone());
        }
        Some(NativeRequest {
            endpoint: NativeEndpoint::Responses,
            body,
            stream: request.stream,
            correlation_id: request.correlation_id.clone(),
            timeouts: request.timeouts,
            beta: None,
        })
    }

    fn dropped(&self) -> &[String] {
        &self.dropped
    }

    fn render_chat_answer(
        &self,
        answer: ProviderResponse,
        _estimate: u64,
    ) -> Result<ProviderResponse, UpstreamError> {
        self.translate_answer(answer)
    }

    fn render_native_answer(&self, answer: ProviderResponse) -> ProviderResponse {
        self.native_answer(answer)
    }

    fn stream(&self) -> Box<dyn StreamDialect> {
        Box::new(ResponsesStream {
            id: self.context.id.clone(),
            model: self.context.model.clone(),
        })
    }
}

/// A Responses stream: `response.failed` for response `id` ends one that fails.
struct ResponsesStream {
    id: String,
    model: String,
}

impl StreamDialect for ResponsesStream {
    fn observe(&mut self, event: &SseEvent, sent: u64) {
        if sent > 0 {
            return;
        }
        // A native backend names the response itself (in `response.created`).
        if let Some(own) = serde_json::from_str::<Value>(&event.data)
            .ok()
            .and_then(|v| v.pointer("/response/id")?.as_str().map(str::to_owned))
        {
            self.id = own;
        }
    }

    fn is_terminal(&self, event: &SseEvent) -> bool {
        matches!(
            event.event.as_deref(),
            Some("response.completed" | "response.incomplete")
        ) || event.data.trim() == "[DONE]"
    }

    fn error_event(&self, error: &ApiError, sent: u64) -> Bytes {
        let summary = serde_json::to_value(error).unwrap_or_default();
        failed_event(&self.id, &self.model, sent, summary).to_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    #[test]
    fn the_failed_event_names_the_backends_own_response_id() -> anyhow::Result<()> {
        let mut stream = ResponsesStream {
            id: "resp_ours".into(),
            model: "m".into(),
        };
        let mut created =
            SseEvent::data(r#"{"type":"response.created","response":{"id":"resp_theirs"}}"#);
        created.event = Some("response.created".into());
        stream.observe(&created, 0);
        // Only the first event names the response.
        stream.observe(&SseEvent::data(r#"{"response":{"id":"later"}}"#), 1);
        let error = ApiError::new(
            StatusCode::BAD_GATEWAY,
            "upstream_error",
            "backend_error",
            "x",
        );
        let event = stream.error_event(&error, 2);
        let text = std::str::from_utf8(&event)?;
        assert!(
            text.contains("resp_theirs") && !text.contains("later"),
            "{text}"
        );
        assert!(
            text.contains("response.failed") && text.contains("backend_error"),
            "{text}"
        );
        Ok(())
    }

    #[test]
    fn completed_and_incomplete_end_a_stream() {
        let mut done = SseEvent::data("{}");
        done.event = Some("response.completed".into());
        assert!(ResponsesStream {
            id: String::new(),
            model: String::new()
        }
        .is_terminal(&done));
        done.event = Some("response.output_text.delta".into());
        assert!(!ResponsesStream {
            id: String::new(),
            model: String::new()
        }
        .is_terminal(&done));
    }
}
