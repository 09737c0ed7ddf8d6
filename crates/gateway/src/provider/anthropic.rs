//! Anthropic's Messages API. OpenAI-shaped requests are translated (`translate::anthropic`);
//! Anthropic-shaped ones from the `/v1/messages` ingress pass through untouched.
//! Headers: `x-api-key` and `anthropic-version: 2023-06-01` (docs.anthropic.com/en/api/versioning).

use std::time::{Duration, Instant};

use ::http::header::CONTENT_TYPE;
use async_trait::async_trait;
use futures::StreamExt;
use serde_json::{Map, Value};

use super::{
    http, with_stream_timeouts, Dialect, Endpoint, NativeEndpoint, NativeRequest, Provider,
    ProviderRequest, ProviderResponse,
};
use crate::config::{AnthropicSettings, ProviderConfig, Timeouts, DEFAULT_MAX_TOKENS};
use crate::credentials::{Credential, Credentials};
use crate::translate::anthropic::{self as wire, API_VERSION};
use crate::translate::{openai as oa, translate_stream};
use crate::wire::{UpstreamError, Usage};

pub struct AnthropicProvider {
    base_url: String,
    api_key: Option<Credential>,
    client: http::Client,
}

/// OpenAI chat parameters the translation carries over; anything else is unsupported.
const SUPPORTED: &[&str] = &[
    "model",
    "messages",
    "stream",
    "stream_options",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "response_format",
    "user",
    "n",
];

impl AnthropicProvider {
    pub fn new(
        config: &ProviderConfig,
        settings: &AnthropicSettings,
        credentials: &Credentials,
    ) -> Result<Self, String> {
        Ok(AnthropicProvider {
            base_url: settings.base_url.clone(),
            api_key: settings.api_key.as_ref().map(|r| credentials.credential(r)),
            client: http::Client::new(config)?,
        })
    }

    async fn request<'a>(
        &self,
        builder: http::RequestBuilder<'a>,
    ) -> Result<http::RequestBuilder<'a>, UpstreamError> {
        let builder = builder.header("anthropic-version", API_VERSION);
        match &self.api_key {
            None => Ok(builder),
            Some(key) => {
                Ok(builder.header("x-api-key", http::key_header(key, str::to_owned).await?))
            }
        }
    }

    /// POSTs `body` to `/v1/{path}`; a non-2xx answer becomes the mapped `UpstreamError`.
    async fn post(
        &self,
        path: &str,
        body: Vec<u8>,
        correlation_id: &str,
        beta: Option<&str>,
        timeouts: &Timeouts,
    ) -> Result<http::Response, UpstreamError> {
        let mut builder = self
            .client
            .post(format!("{}/v1/{path}", self.base_url))
            .header(CONTENT_TYPE, "application/json")
            .header("x-correlation-id", correlation_id)
            .body(body);
        if let Some(beta) = beta {
            builder = builder.header("anthropic-beta", beta);
        }
        let response = http::send(self.request(builder).await?, timeouts).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let (status, retry_after, body) = http::error_parts(response).await;
        tracing::debug!(status, "anthropic backend answered with an error");
        Err(wire::upstream_error(&body, Some(status), retry_after))
    }
}

#[async_trait]
impl Provider for AnthropicProvider {
    fn family(&self) -> &'static str {
        "anthropic"
    }

    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, UpstreamError> {
        match request.endpoint {
            Endpoint::ChatCompletions => {}
            Endpoint::Embeddings => return Err(UpstreamError::Unsupported("embeddings")),
            Endpoint::Completions => {
                return Err(UpstreamError::Unsupported(
                    "the legacy /completions endpoint (use /chat/completions)",
                ))
            }
        }
        let started = Instant::now();
        let chat: oa::ChatRequest = serde_json::from_value(Value::Object(request.body))
            .map_err(|e| UpstreamError::Untranslatable(format!("not a chat request: {e}")))?;
        let mut body =
            wire::request_from_openai(&chat, request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS))
                .map_err(UpstreamError::Untranslatable)?;
        body.stream = request.stream.then_some(true);
        let bytes =
            serde_json::to_vec(&body).map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        let response = self
            .post(
                "messages",
                bytes,
                &request.correlation_id,
                None,
                &request.timeouts,
            )
            .await?;
        if request.stream {
            let translator = wire::ToOpenAiStream::new(&chat.model, chat.include_usage());
            let events = translate_stream(http::sse_events(response), translator);
            return Ok(ProviderResponse::Stream(with_stream_timeouts(
                events,
                request.timeouts,
                started,
            )));
        }
        let body = http::read_body(response, &request.timeouts, started).await?;
        let message: wire::MessagesResponse = serde_json::from_slice(&body).map_err(|e| {
            UpstreamError::Protocol(format!("body is not an Anthropic message ({e})"))
        })?;
        let usage = Some(message.usage.to_usage());
        let completion = wire::response_to_openai(message);
        let body =
            serde_json::to_vec(&completion).map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        Ok(ProviderResponse::Complete {
            body: body.into(),
            usage,
        })
    }

    fn unsupported_params(&self, endpoint: Endpoint, body: &Map<String, Value>) -> Vec<String> {
        if endpoint != Endpoint::ChatCompletions {
            return Vec::new();
        }
        let mut out = http::keys_outside(body, SUPPORTED);
        // Structured output is representable (output_config.format); bare JSON mode is not.
        if body
            .get("response_format")
            .and_then(|f| f.get("type"))
            .and_then(Value::as_str)
            == Some("json_object")
        {
            out.push("response_format".into());
        }
        if body.get("n").is_some_and(|n| n.as_u64() != Some(1)) {
            out.push("n".into());
        }
        out
    }

    fn native_dialects(&self) -> &'static [Dialect] {
        &[Dialect::AnthropicMessages]
    }

    async fn send_native(&self, request: NativeRequest) -> Result<ProviderResponse, UpstreamError> {
        if request.endpoint.dialect() != Dialect::AnthropicMessages {
            return Err(UpstreamError::Unsupported(
                request.endpoint.dialect().name(),
            ));
        }
        let started = Instant::now();
        let bytes = serde_json::to_vec(&request.body)
            .map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        let response = self
            .post(
                request.endpoint.path(),
                bytes,
                &request.correlation_id,
                request.beta.as_deref(),
                &request.timeouts,
            )
            .await?;
        if request.stream && request.endpoint == NativeEndpoint::Messages {
            // Events pass through untouched, except `error`: it becomes an `UpstreamError`, so
            // an error before anything was sent can go to the next target, and a later one ends
            // the stream with Switchboard's failure summary.
            let events = http::sse_events(response).map(|item| match item {
                Ok(event) if event.event.as_deref() == Some("error") => {
                    Err(wire::upstream_error(event.data.as_bytes(), None, None))
                }
                other => other,
            });
            return Ok(ProviderResponse::Stream(with_stream_timeouts(
                Box::pin(events),
                request.timeouts,
                started,
            )));
        }
        let body = http::read_body(response, &request.timeouts, started).await?;
        let usage = Usage::from_body(&body)
            .map_err(|e| UpstreamError::Protocol(format!("body is not the expected JSON ({e})")))?;
        Ok(ProviderResponse::Complete { body, usage })
    }

    fn key_fingerprint(&self) -> Option<String> {
        http::key_fingerprint(self.api_key.as_ref())
    }

    async fn probe(&self, timeout: Duration) -> Result<(), String> {
        let builder = self
            .client
            .get(format!("{}/v1/models", self.base_url))
            .timeout(timeout);
        let builder = self.request(builder).await.map_err(|e| e.to_string())?;
        match builder.send().await {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => {
                let (status, retry_after, body) = http::error_parts(response).await;
                Err(wire::upstream_error(&body, Some(status), retry_after).to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn models(&self, timeout: Duration) -> Result<Vec<super::ModelEntry>, String> {
        let builder = self.client.get(format!("{}/v1/models", self.base_url));
        let builder = self.request(builder).await.map_err(|e| e.to_string())?;
        let body = super::models::fetch(builder, timeout, |response| async move {
            let (status, retry_after, body) = http::error_parts(response).await;
            wire::upstream_error(&body, Some(status), retry_after).to_string()
        })
        .await?;
        super::models::parse_data_list(&body)
    }
}
