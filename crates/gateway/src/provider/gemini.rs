//! Google's Gemini API through its native endpoints (`generateContent`,
//! `streamGenerateContent?alt=sse`, `batchEmbedContents`), translated by `translate::gemini`.
//! The key goes in `x-goog-api-key` (ai.google.dev/api#authentication).

use std::time::{Duration, Instant};

use ::http::header::CONTENT_TYPE;
use async_trait::async_trait;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::{http, with_stream_timeouts, Endpoint, Provider, ProviderRequest, ProviderResponse};
use crate::config::{GeminiSettings, ProviderConfig, Timeouts};
use crate::credentials::{Credential, Credentials};
use crate::translate::gemini as wire;
use crate::translate::{openai as oa, translate_stream};
use crate::wire::{UpstreamError, Usage};

pub struct GeminiProvider {
    base_url: String,
    api_key: Option<Credential>,
    client: http::Client,
}

const SUPPORTED_CHAT: &[&str] = &[
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
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
];

const SUPPORTED_EMBEDDINGS: &[&str] = &["model", "input", "dimensions", "encoding_format"];

impl GeminiProvider {
    pub fn new(
        config: &ProviderConfig,
        settings: &GeminiSettings,
        credentials: &Credentials,
    ) -> Result<Self, String> {
        Ok(GeminiProvider {
            base_url: settings.base_url.clone(),
            api_key: settings.api_key.as_ref().map(|r| credentials.credential(r)),
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
                "x-goog-api-key",
                http::key_header(key, str::to_owned).await?,
            )),
        }
    }

    async fn post(
        &self,
        url: String,
        body: Vec<u8>,
        correlation_id: &str,
        timeouts: &Timeouts,
    ) -> Result<http::Response, UpstreamError> {
        let builder = self
            .client
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header("x-correlation-id", correlation_id)
            .body(body);
        let response = http::send(self.authorize(builder).await?, timeouts).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let (status, retry_after, body) = http::error_parts(response).await;
        tracing::debug!(status, "gemini backend answered with an error");
        Err(wire::upstream_error(&body, status, retry_after))
    }

    async fn embeddings(
        &self,
        request: ProviderRequest,
    ) -> Result<ProviderResponse, UpstreamError> {
        let started = Instant::now();
        let prompt_tokens = crate::wire::estimate_input_tokens(&request.body);
        let req: oa::EmbeddingRequest = serde_json::from_value(Value::Object(request.body))
            .map_err(|e| {
                UpstreamError::Untranslatable(format!("not an embeddings request: {e}"))
            })?;
        let batch = wire::embeddings_from_openai(&req).map_err(UpstreamError::Untranslatable)?;
        let url = format!(
            "{}/{}:batchEmbedContents",
            self.base_url,
            wire::model_path(&req.model)
        );
        let bytes =
            serde_json::to_vec(&batch).map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        let response = self
            .post(url, bytes, &request.correlation_id, &request.timeouts)
            .await?;
        let body = http::read_body(response, &request.timeouts, started).await?;
        let parsed: wire::BatchEmbedResponse = serde_json::from_slice(&body).map_err(|e| {
            UpstreamError::Protocol(format!("body is not a Gemini embeddings answer ({e})"))
        })?;
        let out = wire::embeddings_to_openai(parsed, &req.model, prompt_tokens);
        complete(
            &out,
            Some(Usage {
                fresh_input_tokens: Some(prompt_tokens),
                output_tokens: Some(0),
                ..Usage::default()
            }),
        )
    }
}

fn complete<T: serde::Serialize>(
    value: &T,
    usage: Option<Usage>,
) -> Result<ProviderResponse, UpstreamError> {
    let body = serde_json::to_vec(value).map_err(|e| UpstreamError::Protocol(e.to_string()))?;
    Ok(ProviderResponse::Complete {
        body: Bytes::from(body),
        usage,
    })
}

#[async_trait]
impl Provider for GeminiProvider {
    fn family(&self) -> &'static str {
        "gemini"
    }

    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, UpstreamError> {
        match request.endpoint {
            Endpoint::ChatCompletions => {}
            Endpoint::Embeddings => return self.embeddings(request).await,
            Endpoint::Completions => {
                return Err(UpstreamError::Unsupported(
                    "the legacy /completions endpoint (use /chat/completions)",
                ))
            }
        }
        let started = Instant::now();
        let chat: oa::ChatRequest = serde_json::from_value(Value::Object(request.body))
            .map_err(|e| UpstreamError::Untranslatable(format!("not a chat request: {e}")))?;
        let body = wire::request_from_openai(&chat).map_err(UpstreamError::Untranslatable)?;
        let bytes =
            serde_json::to_vec(&body).map_err(|e| UpstreamError::Protocol(e.to_string()))?;
        let model = wire::model_path(&chat.model);
        let url = if request.stream {
            format!("{}/{model}:streamGenerateContent?alt=sse", self.base_url)
        } else {
            format!("{}/{model}:generateContent", self.base_url)
        };
        let response = self
            .post(url, bytes, &request.correlation_id, &request.timeouts)
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
        let parsed: wire::GenerateContentResponse = serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::Protocol(format!("body is not a Gemini answer ({e})")))?;
        let completion = wire::response_to_openai(parsed, &chat.model);
        let usage = completion.usage.map(|u| u.to_usage());
        complete(&completion, usage)
    }

    fn unsupported_params(&self, endpoint: Endpoint, body: &Map<String, Value>) -> Vec<String> {
        match endpoint {
            Endpoint::ChatCompletions => {
                let mut out = http::keys_outside(body, SUPPORTED_CHAT);
                if body.get("n").is_some_and(|n| n.as_u64() != Some(1)) {
                    out.push("n".into());
                }
                // Gemini has no switch to forbid parallel calls.
                if body.get("parallel_tool_calls") == Some(&Value::Bool(false)) {
                    out.push("parallel_tool_calls".into());
                }
                out
            }
            Endpoint::Embeddings => {
                let mut out = http::keys_outside(body, SUPPORTED_EMBEDDINGS);
                if body
                    .get("encoding_format")
                    .is_some_and(|f| f.as_str() != Some("float"))
                {
                    out.push("encoding_format".into());
                }
                out
            }
            Endpoint::Completions => Vec::new(),
        }
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
            Ok(response) => {
                let (status, retry_after, body) = http::error_parts(response).await;
                Err(wire::upstream_error(&body, status, retry_after).to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    async fn models(&self, timeout: Duration) -> Result<Vec<super::ModelEntry>, String> {
        let builder = self.client.get(format!("{}/models", self.base_url));
        let builder = self.authorize(builder).await.map_err(|e| e.to_string())?;
        let body = super::models::fetch(builder, timeout, |response| async move {
            let (status, retry_after, body) = http::error_parts(response).await;
            wire::upstream_error(&body, status, retry_after).to_string()
        })
        .await?;
        super::models::parse_gemini_list(&body)
    }
}
