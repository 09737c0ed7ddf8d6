//! A mock GitHub (device login, Copilot token exchange) and Copilot API on one server, for the
//! `github_copilot` provider's tests. GitHub's web URL is the server's root (so the exchange is
//! at `/api/v3/copilot_internal/v2/token`, as on GitHub Enterprise); the exchange names
//! `/copilot` below the server as the Copilot API base.
//!
//! The device flow answers `authorization_pending`, then `slow_down`, then the token. Copilot
//! tokens live `token_lifetime_s`; revoking the GitHub token makes the exchange answer 401.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::Received;

/// The GitHub token the device flow grants.
pub const GITHUB_TOKEN: &str = "gho_mockgithubtoken";

struct Shared {
    addr: SocketAddr,
    token_lifetime_s: i64,
    polls: Mutex<Vec<Instant>>,
    exchanges: AtomicU64,
    revoked: AtomicBool,
    /// Copilot tokens issued and still accepted.
    issued: Mutex<Vec<String>>,
    received: Mutex<Vec<Received>>,
}

/// A running mock. Dropping it stops the server.
pub struct MockCopilot {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for MockCopilot {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockCopilot {
    pub async fn start(token_lifetime_s: i64) -> std::io::Result<MockCopilot> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            addr,
            token_lifetime_s,
            polls: Mutex::new(Vec::new()),
            exchanges: AtomicU64::new(0),
            revoked: AtomicBool::new(false),
            issued: Mutex::new(Vec::new()),
            received: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/login/device/code", post(device_code))
            .route("/login/oauth/access_token", post(access_token))
            .route("/api/v3/copilot_internal/v2/token", get(exchange))
            .route("/copilot/chat/completions", post(chat))
            .route("/copilot/embeddings", post(embeddings))
            .route("/copilot/models", get(models))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(MockCopilot { addr, shared, task })
    }

    /// GitHub's web URL (`github_url` in the provider's config).
    pub fn github_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// When the device flow's polls arrived.
    pub fn polls(&self) -> Vec<Instant> {
        self.shared
            .polls
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// Copilot tokens handed out.
    pub fn exchanges(&self) -> u64 {
        self.shared.exchanges.load(Ordering::SeqCst)
    }

    /// Revokes the GitHub token and every Copilot token issued for it.
    pub fn revoke(&self) {
        self.shared.revoked.store(true, Ordering::SeqCst);
        if let Ok(mut issued) = self.shared.issued.lock() {
            issued.clear();
        }
    }

    /// Requests to the Copilot API (not GitHub's), in order.
    pub fn received(&self) -> Vec<Received> {
        self.shared
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }
}

async fn device_code(State(_): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    if body["client_id"].as_str().is_none_or(str::is_empty) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "no client_id"})),
        )
            .into_response();
    }
    Json(json!({
        "device_code": "dev-123",
        "user_code": "ABCD-1234",
        "verification_uri": "https://github.com/login/device",
        "expires_in": 120,
        "interval": 1
    }))
    .into_response()
}

async fn access_token(State(s): State<Arc<Shared>>, Json(body): Json<Value>) -> Response {
    if body["device_code"] != "dev-123"
        || body["grant_type"] != "urn:ietf:params:oauth:grant-type:device_code"
    {
        return Json(json!({"error": "bad_verification_code"})).into_response();
    }
    let n = {
        let Ok(mut polls) = s.polls.lock() else {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        };
        polls.push(Instant::now());
        polls.len()
    };
    match n {
        1 => Json(json!({"error": "authorization_pending"})).into_response(),
        2 => Json(json!({"error": "slow_down", "interval": 6})).into_response(),
        _ => Json(
            json!({"access_token": GITHUB_TOKEN, "token_type": "bearer", "scope": "read:user"}),
        )
        .into_response(),
    }
}

async fn exchange(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("token {GITHUB_TOKEN}") || s.revoked.load(Ordering::SeqCst) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"message": "Bad credentials"})),
        )
            .into_response();
    }
    let n = s.exchanges.fetch_add(1, Ordering::SeqCst) + 1;
    let token = format!("tid=mock{n};exp=x");
    if let Ok(mut issued) = s.issued.lock() {
        issued.push(token.clone());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    Json(json!({
        "token": token,
        "expires_at": now + s.token_lifetime_s,
        "refresh_in": (s.token_lifetime_s - 60).max(1),
        "endpoints": {"api": format!("http://{}/copilot", s.addr)}
    }))
    .into_response()
}

/// Records the request; whether it carries an issued Copilot token.
fn admit(s: &Shared, path: &str, headers: &HeaderMap, body: Value) -> bool {
    if let Ok(mut received) = s.received.lock() {
        received.push(Received {
            path: path.to_owned(),
            headers: headers.clone(),
            body,
        });
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok = s
        .issued
        .lock()
        .map(|issued| issued.iter().any(|t| t == bearer))
        .unwrap_or(false);
    ok
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {"message": "unauthorized: token expired", "type": "invalid_request_error"}})),
    )
        .into_response()
}

async fn chat(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !admit(&s, "/copilot/chat/completions", &headers, body.clone()) {
        return unauthorized();
    }
    let model = body["model"].as_str().unwrap_or("gpt-4o").to_owned();
    if body["stream"] == true {
        let chunk = |delta: Value, finish: Value| {
            format!(
                "data: {}\n\n",
                json!({"id": "cc-1", "object": "chat.completion.chunk", "created": 1, "model": model,
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            )
        };
        let text = [
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
            chunk(json!({"content": "hello "}), Value::Null),
            chunk(json!({"content": "from copilot"}), Value::Null),
            chunk(json!({}), json!("stop")),
            "data: [DONE]\n\n".to_owned(),
        ]
        .concat();
        return Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from(text))
            .unwrap_or_default();
    }
    Json(json!({
        "id": "cc-1", "object": "chat.completion", "created": 1, "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello from copilot"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
    }))
    .into_response()
}

async fn embeddings(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !admit(&s, "/copilot/embeddings", &headers, body.clone()) {
        return unauthorized();
    }
    Json(json!({
        "object": "list", "model": body["model"],
        "data": [{"object": "embedding", "index": 0, "embedding": [0.1, 0.2, 0.3]}],
        "usage": {"prompt_tokens": 2, "total_tokens": 2}
    }))
    .into_response()
}

async fn models(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !admit(&s, "/copilot/models", &headers, Value::Null) {
        return unauthorized();
    }
    Json(json!({"object": "list", "data": [
        {"id": "gpt-4o", "object": "model", "capabilities": {"type": "chat",
            "limits": {"max_context_window_tokens": 128000, "max_prompt_tokens": 64000, "max_output_tokens": 4096},
            "supports": {"streaming": true, "tool_calls": true, "vision": true}}}
    ]}))
    .into_response()
}
