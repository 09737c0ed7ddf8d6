//! Shared helpers, one per kind of check: start a gateway in front of the mock, send requests,
//! read errors and streams, read the request log, spawn the real binary.

use std::net::SocketAddr;
use std::ops::Deref;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use mock_upstream::MockConfig;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::Row;
use switchboard_test_support::TestGateway;
pub use switchboard_test_support::{closed_port_url, eventually, eventually_with, http_client};
use tokio::io::AsyncBufReadExt;

/// A config with one provider (`mock`, the mock upstream) and one alias (`local/chat` →
/// `mock/some-model`). `{mock}` is replaced with the mock's base URL.
pub const BASE_CONFIG: &str = r#"# e2e test config
listen = "127.0.0.1:0"

[server]
health_timeout_s = 2
shutdown_grace_s = 10

[providers.mock]
kind = "openai"
base_url = "{mock}"
timeouts = { connect_s = 2, first_byte_s = 10, idle_s = 5, total_s = 30 }

[aliases."local/chat"]
description = "the mock upstream"
targets = ["mock/some-model"]
"#;

/// Replaces `{mock}` and every `{closed}` (a fresh closed port each) in config text.
pub fn render_config(text: &str, mock_url: &str) -> String {
    let mut out = text.replace("{mock}", mock_url);
    while out.contains("{closed}") {
        out = out.replacen("{closed}", &closed_port_url(), 1);
    }
    out
}

/// The gateway in-process on a real socket (test-support's builder), the mock upstream behind
/// it, and their files; these suites' request helpers on top.
pub struct Gw(TestGateway);

impl Deref for Gw {
    type Target = TestGateway;
    fn deref(&self) -> &TestGateway {
        &self.0
    }
}

impl Gw {
    /// `BASE_CONFIG` plus `extra` (more providers and aliases), default mock.
    pub async fn start(extra: &str) -> Gw {
        Self::start_with(MockConfig::default(), &format!("{BASE_CONFIG}\n{extra}")).await
    }

    /// A whole config text (with `{mock}` / `{closed}` placeholders) and a mock config.
    pub async fn start_with(mock_config: MockConfig, config_text: &str) -> Gw {
        let builder = TestGateway::builder();
        let db = builder.dir().join("requests.db");
        let gateway = builder
            .mock(mock_config)
            .database(db)
            .config(config_text)
            .start()
            .await;
        Gw(gateway)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("GET reaches the gateway")
    }

    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.post_with(path, body, &[]).await
    }

    pub async fn post_with(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.http.post(self.url(path)).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("POST reaches the gateway")
    }

    /// POSTs raw bytes as JSON (for malformed and oversized bodies).
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("POST reaches the gateway")
    }

    pub async fn chat(&self, body: &Value) -> reqwest::Response {
        self.post("/v1/chat/completions", body).await
    }

    /// A chat request that names itself with `X-Correlation-Id: id` (to find its log row).
    pub async fn chat_as(&self, id: &str, body: &Value) -> reqwest::Response {
        self.post_with("/v1/chat/completions", body, &[("x-correlation-id", id)])
            .await
    }

    /// Stops the server (in-flight requests finish), flushes the request log, and returns its
    /// rows in insertion order. The mock and the temp dir live until `self` is dropped.
    pub async fn finish(&mut self) -> Vec<LogRow> {
        self.0.stop_within(Duration::from_secs(10)).await;
        read_log(&self.db_path).await
    }
}

/// A chat body for `model` with one user message.
pub fn chat_body(model: &str) -> Value {
    serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": "Hello from the e2e suite"}],
    })
}

/// A streaming chat body for `model`.
pub fn stream_body(model: &str) -> Value {
    let mut body = chat_body(model);
    body["stream"] = Value::Bool(true);
    body
}

pub fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A non-2xx answer, read whole.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
    pub body: Value,
}

impl Failure {
    pub async fn read(response: reqwest::Response) -> Failure {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("error body reads");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("error body is not JSON ({e}): {text}"));
        Failure {
            status,
            headers,
            text,
            body,
        }
    }

    pub fn error(&self) -> &Value {
        &self.body["error"]
    }

    pub fn message(&self) -> &str {
        self.error()["message"].as_str().unwrap_or_default()
    }

    /// Asserts the status and OpenAI's error envelope with Switchboard's failure summary: every
    /// field present, `code` as expected, and the correlation id the same as the header's.
    pub fn assert_envelope(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "status of {}", self.text);
        assert!(
            header(&self.headers, "content-type")
                .unwrap_or_default()
                .starts_with("application/json"),
            "content-type of an error: {:?}",
            self.headers
        );
        assert_error_object(self.error(), code);
        let header_id = header(&self.headers, "x-correlation-id").expect("x-correlation-id header");
        assert_eq!(
            self.error()["correlation_id"].as_str(),
            Some(header_id),
            "the body's correlation id is the header's: {}",
            self.text
        );
        self
    }
}

/// Asserts one `{"message","type","code","route","provider_family","retry_after_ms",
/// "correlation_id"}` error object (from a response body or a stream's error event).
pub fn assert_error_object(error: &Value, code: &str) {
    let object = error
        .as_object()
        .unwrap_or_else(|| panic!("`error` is not an object: {error}"));
    for field in [
        "message",
        "type",
        "code",
        "route",
        "provider_family",
        "retry_after_ms",
        "correlation_id",
    ] {
        assert!(
            object.contains_key(field),
            "error envelope lacks `{field}`: {error}"
        );
    }
    assert_eq!(error["code"], code, "error code in {error}");
    assert!(
        !error["message"].as_str().unwrap_or_default().is_empty(),
        "empty message: {error}"
    );
    assert!(
        !error["type"].as_str().unwrap_or_default().is_empty(),
        "empty type: {error}"
    );
    assert!(
        !error["correlation_id"]
            .as_str()
            .unwrap_or_default()
            .is_empty(),
        "no correlation id: {error}"
    );
}

/// One server-sent event and when it arrived.
#[derive(Debug, Clone)]
pub struct Event {
    pub at: Instant,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.data).ok()
    }
}

/// Incremental SSE reader over a response body.
pub struct SseReader {
    body: futures::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    buffer: String,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> SseReader {
        SseReader {
            body: response.bytes_stream().boxed(),
            buffer: String::new(),
        }
    }

    /// The next event, or `None` at the end of the body.
    pub async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let data: Vec<&str> = block
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(|d| d.strip_prefix(' ').unwrap_or(d))
                    .collect();
                if data.is_empty() {
                    continue;
                }
                return Some(Event {
                    at: Instant::now(),
                    data: data.join("\n"),
                });
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Some(Err(e)) => panic!("stream body failed: {e}"),
                None => {
                    assert!(
                        self.buffer.trim().is_empty(),
                        "stream ended inside an event: {:?}",
                        self.buffer
                    );
                    return None;
                }
            }
        }
    }

    /// Every remaining event, and when the body ended.
    pub async fn rest(mut self) -> (Vec<Event>, Instant) {
        let mut events = Vec::new();
        while let Some(event) = self.next().await {
            events.push(event);
        }
        (events, Instant::now())
    }
}

/// Reads a whole SSE response, bounded so a hang fails the test instead of stalling it.
pub async fn read_sse(response: reqwest::Response) -> (Vec<Event>, Instant) {
    tokio::time::timeout(Duration::from_secs(10), SseReader::new(response).rest())
        .await
        .expect("the stream ends within 10 s")
}

/// The concatenated `delta.content` of chat chunks.
pub fn joined_content(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(Event::json)
        .filter_map(|v| {
            v.pointer("/choices/0/delta/content")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

/// One row of the `requests` table.
#[derive(Debug, Clone)]
pub struct LogRow {
    pub correlation_id: String,
    pub endpoint: String,
    pub requested_model: Option<String>,
    pub alias: Option<String>,
    pub target: Option<String>,
    pub provider: Option<String>,
    pub status: i64,
    pub error_type: Option<String>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub streamed: bool,
    pub attempts: Option<String>,
}

/// Every row of the request log at `path`, oldest first (read-only; the gateway has stopped).
pub async fn read_log(path: &Path) -> Vec<LogRow> {
    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("cannot open the request log {}: {e}", path.display()));
    let rows = sqlx::query(
        "SELECT correlation_id, endpoint, requested_model, alias, target, provider, status, \
         error_type, latency_ms, ttft_ms, input_tokens, output_tokens, streamed, attempts \
         FROM requests ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .expect("select from requests");
    let rows = rows
        .iter()
        .map(|r| LogRow {
            correlation_id: r.get("correlation_id"),
            endpoint: r.get("endpoint"),
            requested_model: r.get("requested_model"),
            alias: r.get("alias"),
            target: r.get("target"),
            provider: r.get("provider"),
            status: r.get("status"),
            error_type: r.get("error_type"),
            latency_ms: r.get("latency_ms"),
            ttft_ms: r.get("ttft_ms"),
            input_tokens: r.get("input_tokens"),
            output_tokens: r.get("output_tokens"),
            streamed: r.get("streamed"),
            attempts: r.get("attempts"),
        })
        .collect();
    pool.close().await;
    rows
}

/// The one row with `correlation_id`.
pub fn row_for<'r>(rows: &'r [LogRow], correlation_id: &str) -> &'r LogRow {
    let found: Vec<&LogRow> = rows
        .iter()
        .filter(|r| r.correlation_id == correlation_id)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one log row for {correlation_id}, rows: {rows:#?}"
    );
    found[0]
}

// ------------------------------------------------------------------------------------------
// The real binary.

/// `switchboard` with HOME and the XDG dirs inside `home`, never the real ones, info logs on
/// stderr without colours, and nothing from the caller's SWITCHBOARD_CONFIG.
pub fn switchboard(home: &Path) -> tokio::process::Command {
    with_test_env(
        tokio::process::Command::new(env!("CARGO_BIN_EXE_switchboard")),
        home,
    )
}

fn with_test_env(mut command: tokio::process::Command, home: &Path) -> tokio::process::Command {
    command
        .envs(switchboard_test_support::home_env(home))
        .env_remove("SWITCHBOARD_CONFIG")
        .env("SWITCHBOARD_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs `switchboard --config CONFIG check`.
pub async fn run_check(home: &Path, config: &Path) -> std::process::Output {
    let output = switchboard(home)
        .arg("--config")
        .arg(config)
        .arg("check")
        .output();
    tokio::time::timeout(Duration::from_secs(20), output)
        .await
        .expect("check finishes within 20 s")
        .expect("switchboard check runs")
}

/// A `switchboard serve` process, ready to take requests.
pub struct Served {
    pub child: tokio::process::Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    /// The task collecting stderr; it ends at the process's end of output.
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl Served {
    /// `switchboard --config CONFIG serve --listen 127.0.0.1:0 --database DB`, waiting for its
    /// "Switchboard ready: base URL http://ADDR/v1" line.
    pub async fn start(home: &Path, config: &Path, database: &Path) -> Served {
        Served::start_command(switchboard(home), config, database).await
    }

    /// The same, pinned with `taskset` (util-linux) to the first CPU this test may use, as on a
    /// one-core VM.
    #[cfg(target_os = "linux")]
    pub async fn start_on_one_cpu(home: &Path, config: &Path, database: &Path) -> Served {
        let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
        let first_cpu = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .and_then(|list| list.trim().split([',', '-']).next())
            .expect("Cpus_allowed_list in /proc/self/status")
            .to_owned();
        let mut taskset = tokio::process::Command::new("taskset");
        taskset
            .arg("-c")
            .arg(first_cpu)
            .arg(env!("CARGO_BIN_EXE_switchboard"));
        Served::start_command(with_test_env(taskset, home), config, database).await
    }

    /// `command` (e.g. `switchboard(home)` with more environment) `--config CONFIG serve ...`.
    pub async fn start_command(
        mut command: tokio::process::Command,
        config: &Path,
        database: &Path,
    ) -> Served {
        let mut child = command
            .arg("--config")
            .arg(config)
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--database")
            .arg(database)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("switchboard serve starts");
        let stderr_pipe = child.stderr.take().expect("stderr is piped");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let collected = stderr.clone();
        // Keeps draining stderr for the life of the process, so it never blocks on a full pipe.
        let reader = tokio::spawn(async move {
            let mut ready_tx = Some(ready_tx);
            let mut lines = tokio::io::BufReader::new(stderr_pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(addr) = ready_address(&line) {
                    if let Some(tx) = ready_tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                if let Ok(mut all) = collected.lock() {
                    all.push_str(&line);
                    all.push('\n');
                }
            }
        });
        let addr = match tokio::time::timeout(Duration::from_secs(20), ready_rx).await {
            Ok(Ok(addr)) => addr,
            _ => {
                let status = child.try_wait().ok().flatten();
                let stderr = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                panic!("switchboard serve did not say it was ready (exit: {status:?}); stderr:\n{stderr}");
            }
        };
        Served {
            child,
            addr,
            stderr,
            reader: Some(reader),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Sends SIGTERM, as a service manager would.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("the process is running");
        let status = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {pid} failed");
    }

    /// Waits for the process to exit and its last stderr lines to be collected; panics with its
    /// stderr if it takes longer than `within`.
    pub async fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let status = match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status.expect("wait for switchboard"),
            Err(_) => panic!(
                "switchboard did not exit within {within:?}; stderr:\n{}",
                self.stderr()
            ),
        };
        if let Some(reader) = self.reader.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
        status
    }

    /// SIGTERM, then waits for a clean exit (status 0) and returns the full stderr.
    pub async fn stop(mut self) -> String {
        self.terminate();
        let status = self.wait_exit(Duration::from_secs(15)).await;
        let stderr = self.stderr();
        assert!(status.success(), "exit status {status}; stderr:\n{stderr}");
        stderr
    }
}

/// The address in "Switchboard ready: base URL http://ADDR/v1".
fn ready_address(line: &str) -> Option<SocketAddr> {
    let rest = line.split("Switchboard ready: base URL http://").nth(1)?;
    let authority = rest.split('/').next()?;
    authority.parse().ok()
}
