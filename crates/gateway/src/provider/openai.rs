//! Any OpenAI-compatible server: requests pass through unchanged, streams are re-framed event by
//! event as they arrive.

use std::time::{Duration, Instant};

use ::http::header::{AUTHORIZATION, CONTENT_TYPE};
use async_trait::async_trait;
use axum::http::StatusCode;
use futures::StreamExt;

use super::{
    http, with_stream_timeouts, Dialect, Endpoint, NativeRequest, Provider, ProviderRequest,
    ProviderResponse,
};
use crate::config::{OpenAiSettings, ProviderConfig};
use crate::credentials::{Credential, Credentials};
use crate::wire::{sanitize_upstream_message, SseEvent, UpstreamError, Usage};

pub struct OpenAiProvider {
    name: String,
    base_url: String,
    /// `base_url` joined with each endpoint's path (chat completions, completions, embeddings),
    /// parsed once instead of per request.
    endpoint_urls: [Option<::http::Uri>; 3],
    api_key: Option<Credential>,
    /// The backend speaks the Responses API (`responses` in its config).
    responses: bool,
    /// One pool per provider: connections are kept alive between requests.
    client: http::Client,
}

impl OpenAiProvider {
    pub fn new(
        config: &ProviderConfig,
        settings: &OpenAiSettings,
        credentials: &Credentials,
    ) -> Result<Self, String> {
        let base_url = settings.base_url.clone();
        let endpoint_urls = [
            Endpoint::ChatCompletions,
            Endpoint::Completions,
            Endpoint::Embeddings,
        ]
        .map(|endpoint| {
            format!("{base_url}/{}", endpoint.path())
                .parse::<::http::Uri>()
                .ok()
        });
        Ok(OpenAiProvider {
            name: config.name.clone(),
            base_url,
            endpoint_urls,
            api_key: settings.api_key.as_ref().map(|r| credentials.credential(r)),
            responses: settings.responses,
            client: http::Client::new(config)?,
        })
    }

    async fn authorize<'a>(
        &self,
        builder: http::RequestBuilder<'a>,
    ) -> Result<http::RequestBuilder<'a>, UpstreamError> {
        match &self.api_key {
            None => Ok(builder),
            Some(key) => Ok(builder.header(
                AUTHORIZATION,
                http::key_header(key, |key| format!("Bearer {key}")).await?,
            )),
        }
    }
}

#[async_trait]
impl Provider for OpenAiProvider {
    fn family(&self) -> &'static str {
        "openai"
    }

    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, UpstreamError> {
        let started = Instant::now();
        let body = match request.raw {
            Some(raw) => raw,
            None => serde_json::to_vec(&request.body)
                .map_err(|e| UpstreamError::Protocol(e.to_string()))?
                .into(),
        };
        let index = match request.endpoint {
            Endpoint::ChatCompletions => 0,
            Endpoint::Completions => 1,
            Endpoint::Embeddings => 2,
        };
        let builder = match &self.endpoint_urls[index] {
            Some(url) => self.client.post(url.clone()),
            // Unparsable: sending reports it as it would for any bad URL.
            None => self
                .client
                .post(format!("{}/{}", self.base_url, request.endpoint.path())),
        };
        let builder = builder
            .header(CONTENT_TYPE, "application/json")
            .header("x-correlation-id", &request.correlation_id)
            .body(body);
        let builder = self.authorize(builder).await?;

        let response = http::send(builder, &request.timeouts).await?;

        let status = response.status();
        if !status.is_success() {
            return Err(status_error(&self.name, response).await);
        }

        if request.stream {
            let events = http::sse_events(response);
            return Ok(ProviderResponse::Stream(with_stream_timeouts(
                events,
                request.timeouts,
                started,
            )));
        }

        let body = http::read_body(response, &request.timeouts, started).await?;
        complete(body)
    }

    fn sends_chat_as_is(&self) -> bool {
        true
    }

    fn native_dialects(&self) -> &'static [Dialect] {
        if self.responses {
            &[Dialect::Responses]
        } else {
            &[]
        }
    }

    async fn send_native(&self, request: NativeRequest) -> Result<ProviderResponse, UpstreamError> {
        if request.endpoint.dialect() != Dialect::Responses {
            return Err(UpstreamError::Unsupported(
                request.endpoint.dialect().name(),
            ));
        }
        let started = Instant::now();
        let body = serde_json::to_vec(&request.body)
            .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        let builder = self
            .client
            .post(format!("{}/{}", self.base_url, request.endpoint.path()))
            .header(CONTENT_TYPE, "application/json")
            .header("x-correlation-id", &request.correlation_id)
            .body(body);
        let response = http::send(self.authorize(builder).await?, &request.timeouts).await?;
        if !response.status().is_success() {
            return Err(status_error(&self.name, response).await);
        }
        responses_answer(response, &request, started).await
    }

    fn key_fingerprint(&self) -> Option<String> {
        http::key_fingerprint(self.api_key.as_ref())
    }

    async fn probe(&self, timeout: Duration) -> Result<(), String> {
        let builder = self
            .client
            .get(format!("{}/models", self.base_url))
            .timeout(timeout);
        let builder = self.authorize(builder).await.map_err(|e| e.to_string())?;
        match builder.send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(status_error(&self.name, response).await.to_string()),
            Err(e) => Err(e.to_string()),
        }
    }

    async fn models(&self, timeout: Duration) -> Result<Vec<super::ModelEntry>, String> {
        let builder = self.client.get(format!("{}/models", self.base_url));
        let builder = self.authorize(builder).await.map_err(|e| e.to_string())?;
        let body = super::models::fetch(builder, timeout, |response| async move {
            status_error(&self.name, response).await.to_string()
        })
        .await?;
        super::models::parse_data_list(&body)
    }
}

/// A native Responses answer, streamed or whole. Events pass through, except `error` and
/// `response.failed`: they become an `UpstreamError`, so an error before anything was sent can
/// go to the next target, and a later one ends the stream with Switchboard's own
/// `response.failed` (the failure summary inside, and the request logged as failed).
pub(super) async fn responses_answer(
    response: http::Response,
    request: &NativeRequest,
    started: Instant,
) -> Result<ProviderResponse, UpstreamError> {
    if request.stream {
        let events = http::sse_events(response).map(|item| match item {
            Ok(event) => match responses_stream_error(&event) {
                Some(message) => Err(UpstreamError::Status {
                    status: StatusCode::BAD_GATEWAY,
                    message: sanitize_upstream_message(&message),
                    retry_after_ms: None,
                }),
                None => Ok(event),
            },
            other => other,
        });
        return Ok(ProviderResponse::Stream(with_stream_timeouts(
            Box::pin(events),
            request.timeouts,
            started,
        )));
    }
    complete(http::read_body(response, &request.timeouts, started).await?)
}

/// A whole answer and the usage it reports (in any dialect `Usage::from_json` reads).
pub(super) fn complete(body: bytes::Bytes) -> Result<ProviderResponse, UpstreamError> {
    let usage = Usage::from_body(&body)
        .map_err(|e| UpstreamError::Protocol(format!("body is not the expected JSON ({e})")))?;
    Ok(ProviderResponse::Complete { body, usage })
}

pub(super) async fn status_error(provider: &str, response: http::Response) -> UpstreamError {
    let (status, retry_after_ms, body) = http::error_parts(response).await;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    let message = upstream_error_message(&body)
        .map(|m| sanitize_upstream_message(&m))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    tracing::debug!(provider, %status, "backend answered with an error");
    UpstreamError::Status {
        status,
        message,
        retry_after_ms,
    }
}

/// The message of a Responses stream's `error` or `response.failed` event; `None` for others.
fn responses_stream_error(event: &SseEvent) -> Option<String> {
    let named = event.event.as_deref();
    if !matches!(named, None | Some("error") | Some("response.failed")) {
        return None;
    }
    if !event.data.contains("\"error") && !event.data.contains("response.failed") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(&event.data).ok()?;
    let kind = value.get("type").and_then(|t| t.as_str()).or(named)?;
    let message = match kind {
        "error" => value
            .get("message")
            .or_else(|| value.pointer("/error/message")),
        "response.failed" => value.pointer("/response/error/message"),
        _ => return None,
    };
    Some(
        message
            .and_then(|m| m.as_str())
            .unwrap_or("the backend failed mid-stream")
            .to_owned(),
    )
}

/// The human message inside an OpenAI-style error body (`{"error": {"message": ...}}`), if any.
fn upstream_error_message(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?;
    error
        .get("message")
        .and_then(|m| m.as_str())
        .or_else(|| error.as_str())
        .map(str::to_owned)
}
