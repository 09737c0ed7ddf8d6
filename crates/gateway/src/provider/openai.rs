//! Any OpenAI-compatible server: requests pass through unchanged, streams are re-framed event by
//! event as they arrive.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use axum::http::StatusCode;
use eventsource_stream::Eventsource;
use futures::StreamExt;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};

use super::{
    sanitize_upstream_message, with_stream_timeouts, Provider, ProviderRequest, ProviderResponse,
    SseEvent, TimeoutPhase, UpstreamError, Usage,
};
use crate::config::ProviderConfig;
use crate::secret::SecretRef;

pub struct OpenAiProvider {
    name: String,
    base_url: String,
    api_key: Option<SecretRef>,
    /// One pool per provider: connections are kept alive between requests.
    client: reqwest::Client,
}

impl OpenAiProvider {
    pub fn new(config: &ProviderConfig) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            headers.insert(name, value);
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .connect_timeout(config.timeouts.connect)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(OpenAiProvider {
            name: config.name.clone(),
            base_url: config.base_url.clone().unwrap_or_default(),
            api_key: config.api_key.clone(),
            client,
        })
    }

    fn authorize(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, UpstreamError> {
        match &self.api_key {
            None => Ok(builder),
            Some(reference) => {
                let key = reference
                    .resolve()
                    .map_err(|e| UpstreamError::Secret(e.to_string()))?;
                let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose()))
                    .map_err(|_| {
                        UpstreamError::Secret(format!(
                            "the key in `{reference}` contains characters not allowed in a header"
                        ))
                    })?;
                value.set_sensitive(true);
                Ok(builder.header(AUTHORIZATION, value))
            }
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
        let url = format!("{}/{}", self.base_url, request.endpoint.path());
        let body = serde_json::to_vec(&request.body)
            .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        let builder = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("x-correlation-id", &request.correlation_id)
            .body(body);
        let builder = self.authorize(builder)?;

        let first_byte = request.timeouts.first_byte.min(request.timeouts.total);
        let response = match tokio::time::timeout(first_byte, builder.send()).await {
            Err(_) => {
                let phase = if first_byte == request.timeouts.total {
                    TimeoutPhase::Total
                } else {
                    TimeoutPhase::FirstByte
                };
                return Err(UpstreamError::Timeout(phase));
            }
            Ok(Err(e)) => return Err(classify_reqwest_error(&e)),
            Ok(Ok(response)) => response,
        };

        let status = response.status();
        if !status.is_success() {
            return Err(status_error(&self.name, response).await);
        }

        if request.stream {
            let events = response
                .bytes_stream()
                .eventsource()
                .filter_map(|item| async move {
                    match item {
                        Ok(event) if event.data.is_empty() && event.event == "message" => None,
                        Ok(event) => Some(Ok(SseEvent {
                            event: (event.event != "message").then_some(event.event),
                            data: event.data,
                        })),
                        Err(e) => Some(Err(UpstreamError::Protocol(format!("stream broke: {e}")))),
                    }
                });
            return Ok(ProviderResponse::Stream(with_stream_timeouts(
                Box::pin(events),
                request.timeouts,
                started,
            )));
        }

        let remaining = request.timeouts.total.saturating_sub(started.elapsed());
        let body = match tokio::time::timeout(remaining, response.bytes()).await {
            Err(_) => return Err(UpstreamError::Timeout(TimeoutPhase::Total)),
            Ok(Err(e)) => return Err(classify_reqwest_error(&e)),
            Ok(Ok(body)) => body,
        };
        #[derive(serde::Deserialize)]
        struct WithUsage {
            usage: Option<Usage>,
        }
        let usage = serde_json::from_slice::<WithUsage>(&body)
            .map_err(|e| UpstreamError::Protocol(format!("body is not the expected JSON ({e})")))?
            .usage;
        Ok(ProviderResponse::Complete { body, usage })
    }

    fn key_fingerprint(&self) -> Option<String> {
        let key = self.api_key.as_ref()?.resolve().ok()?;
        Some(crate::config::file::revision_of(key.expose()))
    }

    async fn probe(&self, timeout: Duration) -> Result<(), String> {
        let builder = self
            .client
            .get(format!("{}/models", self.base_url))
            .timeout(timeout);
        let builder = self.authorize(builder).map_err(|e| e.to_string())?;
        match builder.send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(status_error(&self.name, response).await.to_string()),
            Err(e) => Err(classify_reqwest_error(&e).to_string()),
        }
    }
}

fn classify_reqwest_error(error: &reqwest::Error) -> UpstreamError {
    if error.is_timeout() {
        return UpstreamError::Timeout(TimeoutPhase::FirstByte);
    }
    // The innermost cause is the useful part ("Connection refused"), without the URL.
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    if error.is_connect() {
        UpstreamError::Connect(source.to_string())
    } else {
        UpstreamError::Protocol(source.to_string())
    }
}

async fn status_error(provider: &str, response: reqwest::Response) -> UpstreamError {
    let status = response.status();
    let retry_after_ms = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|secs| (secs.max(0.0) * 1000.0) as u64);
    let body = response.bytes().await.unwrap_or_default();
    let message = upstream_error_message(&body)
        .map(|m| sanitize_upstream_message(&m))
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    tracing::debug!(provider, %status, "backend answered with an error");
    UpstreamError::Status {
        status: StatusCode::from_u16(status.as_u16()).unwrap_or(StatusCode::BAD_GATEWAY),
        message,
        retry_after_ms,
    }
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
