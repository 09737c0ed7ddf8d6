//! A mock OpenAI-compatible upstream for tests and benchmarks. It records what it received and
//! answers by rules chosen per model id, so one server covers success, errors, slowness and
//! streams.
//!
//! Model ids steer behaviour: `fail-<status>` answers that status with an OpenAI error body,
//! `slow-<ms>` waits before answering, `drip-<ms>` streams with `<ms>` between chunks,
//! `stall-stream` sends one chunk then goes silent, `break-stream` drops the connection
//! mid-stream, `garbage-stream` sends an event that is not JSON, `per-token-<µs>` answers after
//! `max_tokens` times `<µs>` (as an LLM's answer time grows with its length), `cached-...`
//! reports prompt-cache usage in each dialect (`cache_usage`), `failed-stream` is a Responses
//! stream that ends with `response.failed`. Anything else answers normally; a chat request to
//! `gpt-mock` with `tools` plays the tool-call round trip of `scenario`.
//!
//! Streams are counted (`stream_stats`): started, sent to the end, or cancelled because the
//! client (the gateway) went away before the end.
//!
//! The same server also speaks Anthropic's Messages API (`/v1/messages`, see `anthropic`) and
//! Gemini's API (`/v1beta/models/...`, see `gemini`), for the provider translation tests, and
//! OpenAI's Responses API (`/v1/responses`, see `responses`) for the native passthrough.

mod anthropic;
pub mod copilot;
mod gemini;
mod responses;
mod scenario;
mod tools;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use serde_json::{json, Value};

/// One request as the mock saw it.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Value,
}

#[derive(Clone)]
pub struct MockConfig {
    /// Chunks in a streamed answer (besides role, finish and usage chunks).
    pub stream_chunks: usize,
    /// Pause between streamed chunks.
    pub chunk_interval: Duration,
    /// Approximate size of the non-streamed answer's content, in bytes.
    pub content_bytes: usize,
    /// Keep every request for inspection (tests); off for benchmarks.
    pub record: bool,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            stream_chunks: 5,
            chunk_interval: Duration::from_millis(5),
            content_bytes: 64,
            record: true,
        }
    }
}

/// What happened to the streams the mock sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamStats {
    pub started: usize,
    /// Sent to the last byte.
    pub completed: usize,
    /// Dropped before the end: the client went away (or the stream broke on purpose).
    pub cancelled: usize,
}

#[derive(Default)]
struct StreamCounters {
    started: AtomicUsize,
    completed: AtomicUsize,
    cancelled: AtomicUsize,
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) config: MockConfig,
    received: Arc<Mutex<Vec<Received>>>,
    streams: Arc<StreamCounters>,
    /// Set by `MockUpstream::set_down`: chat requests answer 503.
    down: Arc<std::sync::atomic::AtomicBool>,
}

/// A running mock. Dropping it stops the server.
pub struct MockUpstream {
    pub addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
    streams: Arc<StreamCounters>,
    down: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl MockUpstream {
    pub async fn start(config: MockConfig) -> std::io::Result<MockUpstream> {
        Self::start_on(
            "127.0.0.1:0".parse().map_err(std::io::Error::other)?,
            config,
        )
        .await
    }

    pub async fn start_on(addr: SocketAddr, config: MockConfig) -> std::io::Result<MockUpstream> {
        let received = Arc::new(Mutex::new(Vec::new()));
        let streams = Arc::new(StreamCounters::default());
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let app = router(AppState {
            config,
            received: received.clone(),
            streams: streams.clone(),
            down: down.clone(),
        });
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        // TCP_NODELAY, like real servers: with Nagle, each small SSE chunk waits for the
        // client's delayed ACK of the previous one (up to 40 ms on Linux).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockUpstream {
            addr,
            received,
            streams,
            down,
            task,
        })
    }

    /// While down, chat requests answer 503 (dropping the mock would not do: connections the
    /// gateway keeps alive outlive the listener).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::Relaxed);
    }

    /// `http://127.0.0.1:PORT/v1`
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The base URL for an `anthropic` provider (`/v1/messages` is below it).
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The base URL for a `gemini` provider (`/models/...` is below it).
    pub fn gemini_base_url(&self) -> String {
        format!("http://{}/v1beta", self.addr)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// How many streams were started, finished, and cut off before their end.
    pub fn stream_stats(&self) -> StreamStats {
        StreamStats {
            started: self.streams.started.load(Ordering::SeqCst),
            completed: self.streams.completed.load(Ordering::SeqCst),
            cancelled: self.streams.cancelled.load(Ordering::SeqCst),
        }
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat))
        .route("/v1/completions", post(completions))
        .route("/v1/embeddings", post(embeddings))
        .route("/v1/models", get(models))
        .merge(anthropic::routes())
        .merge(gemini::routes())
        .merge(responses::routes())
        .with_state(state)
}

pub(crate) fn record(state: &AppState, path: &str, headers: &HeaderMap, body: &Value) {
    if state.config.record {
        if let Ok(mut received) = state.received.lock() {
            received.push(Received {
                path: path.to_owned(),
                headers: headers.clone(),
                body: body.clone(),
            });
        }
    }
}

/// The usage a `cached-...` model reports, in `dialect` (`openai`, `anthropic`, `gemini`): the
/// shapes and numbers the providers' docs use for a prompt-cache hit. OpenAI: 10,000 prompt
/// tokens of which 8,000 cached, 500 out of which 100 reasoning. Anthropic: 100 fresh input,
/// 10,000 cache reads, 2,000 cache writes (5-minute), 50 out. Gemini: 11,500 prompt tokens of
/// which 10,000 cached, 1,000 candidates + 10,000 thoughts.
pub fn cache_usage(model: &str, dialect: &str) -> Option<Value> {
    if !model.starts_with("cached-") {
        return None;
    }
    Some(match dialect {
        "anthropic" => json!({"input_tokens": 100, "cache_read_input_tokens": 10000,
            "cache_creation_input_tokens": 2000,
            "cache_creation": {"ephemeral_5m_input_tokens": 2000, "ephemeral_1h_input_tokens": 0},
            "output_tokens": 50}),
        "gemini" => json!({"promptTokenCount": 11500, "candidatesTokenCount": 1000,
            "cachedContentTokenCount": 10000, "thoughtsTokenCount": 10000, "totalTokenCount": 22500}),
        _ => json!({"prompt_tokens": 10000, "completion_tokens": 500, "total_tokens": 10500,
            "prompt_tokens_details": {"cached_tokens": 8000, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 100}}),
    })
}

/// Applies the model-id rules that are the same for every endpoint.
pub(crate) async fn misbehave(model: &str) -> Option<Response> {
    if let Some(status) = model
        .strip_prefix("fail-")
        .and_then(|s| s.parse::<u16>().ok())
    {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = json!({"error": {"message": format!("mock failure {status} for key sk-mocksecret123"), "type": "mock_error"}});
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("2"));
        }
        return Some(response);
    }
    if let Some(ms) = model
        .strip_prefix("slow-")
        .and_then(|s| s.parse::<u64>().ok())
    {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    None
}

pub(crate) fn model_of(body: &Value) -> String {
    body.get("model")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

async fn chat(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    record(&state, "/v1/chat/completions", &headers, &body);
    if state.down.load(Ordering::Relaxed) {
        let body = json!({"error": {"message": "mock is down", "type": "mock_error"}});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    let model = model_of(&body);
    if let Some(response) = misbehave(&model).await {
        return response;
    }
    if let Some(us) = model
        .strip_prefix("per-token-")
        .and_then(|s| s.parse::<u64>().ok())
    {
        let tokens = body.get("max_tokens").and_then(Value::as_u64).unwrap_or(16);
        tokio::time::sleep(Duration::from_micros(us.saturating_mul(tokens))).await;
    }
    // The tool-call round trip is scripted for one model id, so other tests that merely send
    // `tools` still get the plain echo answer.
    if model.starts_with("gpt-mock") && body.get("tools").is_some() {
        return tools::chat(&state.config, &model, &body);
    }
    if body.get("stream").and_then(Value::as_bool) == Some(true) {
        return stream_chat(&state, &model, &body);
    }
    let content = "x".repeat(state.config.content_bytes);
    Json(json!({
        "id": "chatcmpl-mock", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
        "usage": cache_usage(&model, "openai").unwrap_or_else(|| json!({"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18})),
        "echo": body,
    }))
    .into_response()
}

fn stream_chat(state: &AppState, model: &str, body: &Value) -> Response {
    let config = &state.config;
    let include_usage = body
        .pointer("/stream_options/include_usage")
        .and_then(Value::as_bool)
        == Some(true);
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let mut frames = vec![chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    for i in 0..config.stream_chunks {
        frames.push(chunk(json!({"content": format!("tok{i} ")}), Value::Null));
    }
    frames.push(chunk(json!({}), json!("stop")));
    if include_usage {
        frames.push(json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1_700_000_000, "model": model,
                           "choices": [], "usage": cache_usage(model, "openai").unwrap_or_else(|| json!({"prompt_tokens": 11, "completion_tokens": config.stream_chunks, "total_tokens": 11 + config.stream_chunks}))}));
    }
    let mut lines: Vec<Bytes> = frames
        .into_iter()
        .map(|f| Bytes::from(format!("data: {f}\n\n")))
        .collect();
    lines.push(Bytes::from_static(b"data: [DONE]\n\n"));
    let interval = model
        .strip_prefix("drip-")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_millis)
        .unwrap_or(config.chunk_interval);
    let behaviour = model.to_owned();
    let stream = async_stream(lines, interval, behaviour, state.streams.clone());
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// Counts a stream as completed when it ran out, else as cancelled when dropped.
struct StreamGuard {
    counters: Arc<StreamCounters>,
    finished: bool,
}

impl StreamGuard {
    fn new(counters: Arc<StreamCounters>) -> Self {
        counters.started.fetch_add(1, Ordering::SeqCst);
        StreamGuard {
            counters,
            finished: false,
        }
    }

    fn finish(&mut self) {
        if !self.finished {
            self.finished = true;
            self.counters.completed.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        if !self.finished {
            self.counters.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

fn async_stream(
    lines: Vec<Bytes>,
    interval: Duration,
    behaviour: String,
    counters: Arc<StreamCounters>,
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + Send {
    let guard = StreamGuard::new(counters);
    futures::stream::unfold(
        (lines.into_iter().enumerate(), behaviour, guard),
        move |(mut it, behaviour, mut guard)| async move {
            let Some((i, line)) = it.next() else {
                guard.finish();
                return None;
            };
            if i > 0 {
                if behaviour == "stall-stream" && i == 2 {
                    futures::future::pending::<()>().await;
                }
                if behaviour == "garbage-stream" && i == 2 {
                    return Some((
                        Ok(Bytes::from_static(b"data: {\"choices\": [oops\n\n")),
                        (it, behaviour, guard),
                    ));
                }
                if behaviour == "break-stream" && i == 2 {
                    return Some((
                        Err(std::io::Error::other("mock broke the stream")),
                        (it, behaviour, guard),
                    ));
                }
                if !interval.is_zero() {
                    tokio::time::sleep(interval).await;
                }
            }
            Some((Ok(line), (it, behaviour, guard)))
        },
    )
}

async fn completions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    record(&state, "/v1/completions", &headers, &body);
    let model = model_of(&body);
    if let Some(response) = misbehave(&model).await {
        return response;
    }
    Json(json!({
        "id": "cmpl-mock", "object": "text_completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "text": "mock completion", "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7},
    }))
    .into_response()
}

async fn embeddings(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    record(&state, "/v1/embeddings", &headers, &body);
    let model = model_of(&body);
    if let Some(response) = misbehave(&model).await {
        return response;
    }
    Json(json!({
        "object": "list", "model": model,
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
        "usage": {"prompt_tokens": 3, "total_tokens": 3},
    }))
    .into_response()
}

async fn models() -> Response {
    Json(json!({"object": "list", "data": [{"id": "mock-model", "object": "model", "created": 0, "owned_by": "mock"}]}))
        .into_response()
}
