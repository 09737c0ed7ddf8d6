//! GitHub Copilot's API: OpenAI's wire format behind a short-lived Copilot token. The GitHub
//! token (stored by `switchboard login copilot`) is exchanged at GitHub for a Copilot token,
//! which is cached and refreshed ahead of its expiry by one task per provider on the gateway's
//! tracker; a request waits on the exchange only when no valid token exists. After each new
//! token the same task reads Copilot's `/models`: their prompt limits are the targets' windows
//! where the config sets no `max_input_tokens`. The GitHub token goes only to GitHub's API,
//! the Copilot token only to the API base the exchange names (or `api_url`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant};

use ::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use ::http::HeaderValue;
use async_trait::async_trait;
use axum::http::StatusCode;
use serde_json::Value;

use super::openai::{complete, status_error};
use super::BuildContext;
use super::{
    http, with_stream_timeouts, Dialect, Endpoint, NativeRequest, Provider, ProviderRequest,
    ProviderResponse,
};
use crate::config::{CopilotSettings, ProviderConfig, Timeouts};
use crate::credentials::Credential;
use crate::wire::{sanitize_upstream_message, UpstreamError};

/// The editor Copilot's API expects to talk to (as LiteLLM, opencode and copilot-api send).
const EDITOR_VERSION: &str = "vscode/1.99.3";
const PLUGIN_VERSION: &str = "copilot-chat/0.26.7";
const COPILOT_USER_AGENT: &str = "GitHubCopilotChat/0.26.7";
const API_VERSION: &str = "2025-04-01";
/// Refresh this long before the Copilot token expires.
const REFRESH_AHEAD: Duration = Duration::from_secs(60);
/// A token this close to expiry is not used for a new request.
const MIN_VALIDITY: Duration = Duration::from_secs(5);
/// After a failed background refresh, try again this soon (while the token still works).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(10);
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(30);

/// What to tell a user whose GitHub token no longer works.
pub const LOGIN_HINT: &str = "run `switchboard login copilot`";

/// GitHub's REST API for its web URL: api.github.com for github.com, `/api/v3` on Enterprise.
pub fn github_api_url(github_url: &str) -> String {
    let github_url = github_url.trim_end_matches('/');
    match url::Url::parse(github_url) {
        Ok(u) if u.host_str() == Some("github.com") => "https://api.github.com".to_owned(),
        _ => format!("{github_url}/api/v3"),
    }
}

/// A Copilot token and where it is good for.
struct CopilotToken {
    bearer: HeaderValue,
    api_base: String,
    refresh_at: Instant,
    expires_at: Instant,
}

struct Inner {
    name: String,
    github_token: Credential,
    exchange_url: String,
    api_override: Option<String>,
    client: http::Client,
    current: RwLock<Option<Arc<CopilotToken>>>,
    /// Held while exchanging: one exchange in flight.
    exchanging: tokio::sync::Mutex<()>,
    /// Exchanges done (tests and diagnostics).
    exchanges: AtomicU64,
    /// Wakes the refresh task: a new token to schedule, or the provider dropped.
    wake: Arc<tokio::sync::Notify>,
    /// Prompt limits by model id, from `/models`.
    windows: RwLock<HashMap<String, u64>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The refresh task holds only a weak reference: let it see that now, not at its next
        // refresh time.
        self.wake.notify_one();
    }
}

pub struct CopilotProvider {
    inner: Arc<Inner>,
    responses: bool,
}

impl CopilotProvider {
    pub fn new(
        config: &ProviderConfig,
        settings: &CopilotSettings,
        context: &BuildContext,
    ) -> Result<Self, String> {
        let wake = Arc::new(tokio::sync::Notify::new());
        let inner = Arc::new(Inner {
            name: config.name.clone(),
            github_token: context.credentials.credential(&settings.github_token),
            exchange_url: format!(
                "{}/copilot_internal/v2/token",
                github_api_url(&settings.github_url)
            ),
            api_override: settings.api_url.clone(),
            client: http::Client::new(config)?,
            current: RwLock::new(None),
            exchanging: tokio::sync::Mutex::new(()),
            exchanges: AtomicU64::new(0),
            wake: wake.clone(),
            windows: RwLock::new(HashMap::new()),
        });
        let task = refresh_task(Arc::downgrade(&inner), wake, context.stop.clone());
        context.tracker.spawn(task);
        Ok(CopilotProvider {
            inner,
            responses: settings.responses,
        })
    }

    /// A valid Copilot token: the cached one, or (only when none is valid) a fresh exchange.
    async fn token(&self) -> Result<Arc<CopilotToken>, UpstreamError> {
        if let Some(token) = self.inner.valid() {
            return Ok(token);
        }
        let _one = self.inner.exchanging.lock().await;
        if let Some(token) = self.inner.valid() {
            return Ok(token);
        }
        Inner::exchange(&self.inner).await
    }

    async fn post(
        &self,
        path: &str,
        body: &serde_json::Map<String, Value>,
        correlation_id: &str,
        timeouts: &Timeouts,
        initiator: &'static str,
        vision: bool,
    ) -> Result<http::Response, UpstreamError> {
        let body = bytes::Bytes::from(
            serde_json::to_vec(body).map_err(|e| UpstreamError::Protocol(e.to_string()))?,
        );
        let mut retried = false;
        loop {
            let token = self.token().await?;
            let mut builder = self
                .inner
                .client
                .post(format!("{}/{path}", token.api_base))
                .header(CONTENT_TYPE, "application/json")
                .header(AUTHORIZATION, token.bearer.clone())
                .header("x-request-id", correlation_id)
                .header("x-initiator", initiator)
                .body(body.clone());
            builder = editor_headers(builder)
                .header("copilot-integration-id", "vscode-chat")
                .header("openai-intent", "conversation-panel");
            if vision {
                builder = builder.header("copilot-vision-request", "true");
            }
            let response = http::send(builder, timeouts).await?;
            if response.status().is_success() {
                return Ok(response);
            }
            let status = response.status();
            let error = status_error(&self.inner.name, response).await;
            if status != StatusCode::UNAUTHORIZED || retried {
                return Err(error);
            }
            // The Copilot token was revoked early: exchange again once (which reports a GitHub
            // token that no longer works as such), then retry.
            self.inner.forget(&token);
            retried = true;
        }
    }

    /// Copilot tokens obtained so far (one per exchange).
    pub fn exchanges(&self) -> u64 {
        self.inner.exchanges.load(Ordering::Relaxed)
    }
}

fn editor_headers(builder: http::RequestBuilder<'_>) -> http::RequestBuilder<'_> {
    builder
        .header("editor-version", EDITOR_VERSION)
        .header("editor-plugin-version", PLUGIN_VERSION)
        .header(USER_AGENT, COPILOT_USER_AGENT)
        .header("x-github-api-version", API_VERSION)
}

impl Inner {
    fn valid(&self) -> Option<Arc<CopilotToken>> {
        let current = self.current.read().ok()?.clone()?;
        (current.expires_at > Instant::now() + MIN_VALIDITY).then_some(current)
    }

    /// Drops `token` from the cache, unless a newer one replaced it already.
    fn forget(&self, token: &Arc<CopilotToken>) {
        if let Ok(mut current) = self.current.write() {
            if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, token)) {
                *current = None;
            }
        }
    }

    fn clear(&self) {
        if let Ok(mut current) = self.current.write() {
            *current = None;
        }
    }

    /// Exchanges the GitHub token for a Copilot token, caches it and schedules its refresh.
    /// The caller holds `exchanging`.
    async fn exchange(this: &Arc<Inner>) -> Result<Arc<CopilotToken>, UpstreamError> {
        // Read in the background by the gateway's credential refresher: no keychain call here.
        let github =
            this.github_token.get().await.map_err(|e| {
                UpstreamError::Secret(format!("no GitHub token ({e}); {LOGIN_HINT}"))
            })?;
        let mut auth =
            HeaderValue::from_str(&format!("token {}", github.expose())).map_err(|_| {
                UpstreamError::Secret(format!("the GitHub token is malformed; {LOGIN_HINT}"))
            })?;
        auth.set_sensitive(true);
        let started = Instant::now();
        let builder = editor_headers(
            this.client
                .get(this.exchange_url.as_str())
                .header(AUTHORIZATION, auth)
                .header(ACCEPT, "application/json"),
        )
        .timeout(EXCHANGE_TIMEOUT);
        let response = builder.send().await?;
        let status = response.status();
        if matches!(status.as_u16(), 401 | 403 | 404) {
            let (_, _, body) = http::error_parts(response).await;
            let said = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(Value::as_str).map(str::to_owned))
                .map(|m| format!(" ({})", sanitize_upstream_message(&m)))
                .unwrap_or_default();
            tracing::warn!(provider = %this.name, %status, "GitHub refused the Copilot token exchange");
            this.clear();
            return Err(UpstreamError::Secret(format!(
                "GitHub refused the token exchange with {status}{said}: the GitHub token is expired or revoked, or the account has no Copilot access; {LOGIN_HINT}"
            )));
        }
        if !status.is_success() {
            return Err(status_error(&this.name, response).await);
        }
        let timeouts = Timeouts {
            total: EXCHANGE_TIMEOUT,
            ..Timeouts::default()
        };
        let body = http::read_body(response, &timeouts, started).await?;
        let answer: ExchangeAnswer = serde_json::from_slice(&body).map_err(|e| {
            UpstreamError::Protocol(format!("the Copilot token exchange answered oddly ({e})"))
        })?;
        let now = Instant::now();
        let unix_now = jiff::Timestamp::now().as_second();
        let lifetime =
            Duration::from_secs(answer.expires_at.saturating_sub(unix_now).max(0) as u64);
        let expires_at = now + lifetime;
        let mut refresh_at = expires_at.checked_sub(REFRESH_AHEAD).unwrap_or(now);
        if let Some(secs) = answer.refresh_in {
            refresh_at = refresh_at.min(now + Duration::from_secs(secs));
        }
        // A token shorter-lived than the lead time is refreshed halfway through its life.
        if refresh_at <= now {
            refresh_at = now + lifetime / 2;
        }
        let api_base = match (&this.api_override, answer.endpoints.and_then(|e| e.api)) {
            (Some(url), _) => url.clone(),
            (None, Some(url)) if url.starts_with("https://") || url.starts_with("http://") => {
                url.trim_end_matches('/').to_owned()
            }
            _ => "https://api.githubcopilot.com".to_owned(),
        };
        let mut bearer =
            HeaderValue::from_str(&format!("Bearer {}", answer.token)).map_err(|_| {
                UpstreamError::Protocol("the Copilot token is not a header value".into())
            })?;
        bearer.set_sensitive(true);
        let token = Arc::new(CopilotToken {
            bearer,
            api_base,
            refresh_at,
            expires_at,
        });
        if let Ok(mut current) = this.current.write() {
            *current = Some(token.clone());
        }
        this.exchanges.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(provider = %this.name, lifetime_s = lifetime.as_secs(), "got a Copilot token");
        this.wake.notify_one();
        Ok(token)
    }

    /// Reads `/models` with `token` and keeps each model's prompt limit.
    async fn read_models(
        &self,
        token: &CopilotToken,
        timeout: Duration,
    ) -> Result<Vec<super::ModelEntry>, String> {
        let builder = editor_headers(
            self.client
                .get(format!("{}/models", token.api_base))
                .header(AUTHORIZATION, token.bearer.clone())
                .header("copilot-integration-id", "vscode-chat"),
        )
        .timeout(timeout);
        let response = match builder.send().await {
            Ok(response) if response.status().is_success() => response,
            Ok(response) => return Err(status_error(&self.name, response).await.to_string()),
            Err(e) => return Err(e.to_string()),
        };
        let timeouts = Timeouts {
            total: timeout,
            ..Timeouts::default()
        };
        let body = http::read_body(response, &timeouts, Instant::now())
            .await
            .map_err(|e| e.to_string())?;
        let windows = model_windows(&body);
        if let Ok(mut known) = self.windows.write() {
            *known = windows;
        }
        super::models::parse_data_list(&body)
    }

    fn current_token(&self) -> Option<Arc<CopilotToken>> {
        self.current.read().ok()?.clone()
    }
}

/// Refreshes the token ahead of its expiry and reads `/models` after each new token, off the
/// request path. It holds only a weak reference, so it ends when a reload drops the provider
/// (or with the gateway, through `stop`).
async fn refresh_task(
    inner: Weak<Inner>,
    wake: Arc<tokio::sync::Notify>,
    stop: tokio_util::sync::CancellationToken,
) {
    // After a failed refresh while the token still works: when to try again.
    let mut retry_at: Option<Instant> = None;
    let mut models_for: Option<Weak<CopilotToken>> = None;
    loop {
        let (due, fresh) = {
            let Some(inner) = inner.upgrade() else { return };
            let token = inner.current_token();
            // A new token (from here or from a request): read `/models` with it.
            let fresh = token
                .as_ref()
                .filter(|t| {
                    models_for
                        .as_ref()
                        .and_then(Weak::upgrade)
                        .is_none_or(|seen| !Arc::ptr_eq(&seen, t))
                })
                .cloned();
            if let Some(token) = &fresh {
                models_for = Some(Arc::downgrade(token));
                if let Err(e) = inner.read_models(token, EXCHANGE_TIMEOUT).await {
                    tracing::warn!(provider = %inner.name, error = %e, "reading Copilot's models failed");
                }
            }
            (
                token.map(|t| retry_at.unwrap_or(t.refresh_at)),
                fresh.is_some(),
            )
        };
        if fresh {
            continue;
        }
        // No token (none yet, or GitHub refused the last exchange): nothing is due until a
        // request exchanges one.
        let due = async {
            match due {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = wake.notified() => continue,
            _ = due => {}
        }
        let Some(inner) = inner.upgrade() else { return };
        let _one = inner.exchanging.lock().await;
        // A request may have exchanged meanwhile.
        let still_due = inner
            .current_token()
            .is_some_and(|c| retry_at.unwrap_or(c.refresh_at) <= Instant::now());
        if !still_due {
            continue;
        }
        retry_at = None;
        if let Err(e) = Inner::exchange(&inner).await {
            tracing::warn!(provider = %inner.name, error = %e, "refreshing the Copilot token failed");
            if !matches!(e, UpstreamError::Secret(_)) {
                retry_at = inner
                    .valid()
                    .map(|token| (Instant::now() + RETRY_AFTER_FAILURE).min(token.expires_at));
            }
        }
    }
}

/// Each model's prompt limit from a `/models` answer: `capabilities.limits.max_prompt_tokens`,
/// else its whole context window.
fn model_windows(body: &[u8]) -> HashMap<String, u64> {
    let Ok(answer) = serde_json::from_slice::<Value>(body) else {
        return HashMap::new();
    };
    let models = answer.get("data").and_then(Value::as_array);
    models
        .into_iter()
        .flatten()
        .filter_map(|model| {
            let id = model.get("id").and_then(Value::as_str)?;
            let limits = model.pointer("/capabilities/limits")?;
            let window = limits
                .get("max_prompt_tokens")
                .or_else(|| limits.get("max_context_window_tokens"))
                .and_then(Value::as_u64)?;
            Some((id.to_owned(), window))
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct ExchangeAnswer {
    token: String,
    /// Unix seconds.
    expires_at: i64,
    refresh_in: Option<u64>,
    endpoints: Option<Endpoints>,
}

#[derive(serde::Deserialize)]
struct Endpoints {
    api: Option<String>,
}

/// `agent` when the request continues a tool loop (the last message is a tool result or the
/// assistant's own), `user` when a person asked; Copilot bills and limits the two differently.
fn chat_initiator(body: &serde_json::Map<String, Value>) -> &'static str {
    let last_role = body
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str);
    match last_role {
        Some("tool") | Some("assistant") | Some("function") => "agent",
        _ => "user",
    }
}

fn responses_initiator(body: &serde_json::Map<String, Value>) -> &'static str {
    let last = body
        .get("input")
        .and_then(Value::as_array)
        .and_then(|items| items.last());
    let kind = last.and_then(|i| i.get("type")).and_then(Value::as_str);
    let role = last.and_then(|i| i.get("role")).and_then(Value::as_str);
    match (kind, role) {
        (Some("function_call_output" | "custom_tool_call_output" | "function_call"), _)
        | (_, Some("assistant")) => "agent",
        _ => "user",
    }
}

/// Whether any content part is an image (`image_url` in chat, `input_image` in Responses).
fn has_image(value: &Value) -> bool {
    match value {
        Value::Object(map) => {
            matches!(
                map.get("type").and_then(Value::as_str),
                Some("image_url" | "input_image")
            ) || map.iter().any(|(k, v)| {
                matches!(k.as_str(), "content" | "messages" | "input") && has_image(v)
            })
        }
        Value::Array(items) => items.iter().any(has_image),
        _ => false,
    }
}

#[async_trait]
impl Provider for CopilotProvider {
    fn family(&self) -> &'static str {
        "github_copilot"
    }

    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, UpstreamError> {
        let started = Instant::now();
        let (initiator, vision) = match request.endpoint {
            Endpoint::Embeddings => ("user", false),
            _ => (
                chat_initiator(&request.body),
                has_image(&Value::Object(request.body.clone())),
            ),
        };
        let response = self
            .post(
                request.endpoint.path(),
                &request.body,
                &request.correlation_id,
                &request.timeouts,
                initiator,
                vision,
            )
            .await?;
        if request.stream {
            return Ok(ProviderResponse::Stream(with_stream_timeouts(
                http::sse_events(response),
                request.timeouts,
                started,
            )));
        }
        complete(http::read_body(response, &request.timeouts, started).await?)
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
        let response = self
            .post(
                request.endpoint.path(),
                &request.body,
                &request.correlation_id,
                &request.timeouts,
                responses_initiator(&request.body),
                has_image(&Value::Object(request.body.clone())),
            )
            .await?;
        super::openai::responses_answer(response, &request, started).await
    }

    fn key_fingerprint(&self) -> Option<String> {
        http::key_fingerprint(Some(&self.inner.github_token))
    }

    fn max_input_tokens(&self, model: &str) -> Option<u64> {
        self.inner.windows.read().ok()?.get(model).copied()
    }

    /// Lists Copilot's models (which also proves the GitHub token and the exchange work, and
    /// refreshes their windows).
    async fn probe(&self, timeout: Duration) -> Result<(), String> {
        let token = tokio::time::timeout(timeout, self.token())
            .await
            .map_err(|_| "the Copilot token exchange timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        self.inner.read_models(&token, timeout).await.map(drop)
    }

    /// Copilot's `/models`, read with a current token (the same read that keeps the windows).
    async fn models(&self, timeout: Duration) -> Result<Vec<super::ModelEntry>, String> {
        let token = tokio::time::timeout(timeout, self.token())
            .await
            .map_err(|_| "the Copilot token exchange timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        self.inner.read_models(&token, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn initiator_is_agent_only_for_tool_loop_follow_ups() {
        let user = map(json!({"messages": [{"role": "user", "content": "hi"}]}));
        let tool = map(json!({"messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": []},
            {"role": "tool", "tool_call_id": "1", "content": "42"}
        ]}));
        assert_eq!(chat_initiator(&user), "user");
        assert_eq!(chat_initiator(&tool), "agent");
        let r = map(
            json!({"input": [{"type": "function_call_output", "call_id": "1", "output": "x"}]}),
        );
        assert_eq!(responses_initiator(&r), "agent");
        assert_eq!(responses_initiator(&map(json!({"input": "hi"}))), "user");
    }

    #[test]
    fn images_are_found_in_chat_and_responses_content() {
        let chat = json!({"messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}
        ]}]});
        assert!(has_image(&chat));
        let responses = json!({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "x"}]}]});
        assert!(has_image(&responses));
        assert!(!has_image(
            &json!({"messages": [{"role": "user", "content": "image_url"}]})
        ));
    }

    #[test]
    fn model_windows_are_the_prompt_limits() {
        let body = json!({"data": [
            {"id": "gpt-4o", "capabilities": {"limits": {"max_context_window_tokens": 128000, "max_prompt_tokens": 64000}}},
            {"id": "o3", "capabilities": {"limits": {"max_context_window_tokens": 200000}}},
            {"id": "embed", "capabilities": {"type": "embeddings"}}
        ]})
        .to_string();
        let windows = model_windows(body.as_bytes());
        assert_eq!(windows.get("gpt-4o"), Some(&64000));
        assert_eq!(windows.get("o3"), Some(&200000));
        assert_eq!(windows.len(), 2);
        assert!(model_windows(b"not json").is_empty());
    }

    #[test]
    fn enterprise_api_url_is_below_the_web_url() {
        assert_eq!(
            github_api_url("https://github.com"),
            "https://api.github.com"
        );
        assert_eq!(
            github_api_url("https://ghe.example.com/"),
            "https://ghe.example.com/api/v3"
        );
    }
}
