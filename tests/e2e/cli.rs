//! The real `switchboard` binary: graceful shutdown on SIGTERM, health and readiness, `check`,
//! and the first start that writes the default config.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mock_upstream::{MockConfig, MockUpstream};
use serde_json::{json, Value};

use crate::support::{
    chat_body, eventually, eventually_with, http_client, joined_content, read_log, read_sse,
    render_config, row_for, run_check, stream_body, Gw, Served, SseReader, BASE_CONFIG,
};

/// Writes `BASE_CONFIG` + `extra` (placeholders filled) to `dir/config.toml`.
fn write_config(dir: &Path, mock: &MockUpstream, extra: &str) -> PathBuf {
    let path = dir.join("config.toml");
    let text = render_config(&format!("{BASE_CONFIG}\n{extra}"), &mock.base_url());
    std::fs::write(&path, text).unwrap();
    path
}

/// `switchboard --config CONFIG status --url http://ADDR`.
async fn run_status(home: &Path, config: &Path, served: &Served) -> std::process::Output {
    let output = crate::support::switchboard(home)
        .arg("--config")
        .arg(config)
        .arg("status")
        .arg("--url")
        .arg(served.url(""))
        .output();
    tokio::time::timeout(Duration::from_secs(20), output)
        .await
        .expect("status finishes within 20 s")
        .expect("switchboard status runs")
}

/// `serve` pinned to one CPU; checks that it runs no work-stealing worker threads there.
#[cfg(target_os = "linux")]
async fn start_on_one_cpu(home: &Path, config: &Path, db: &Path) -> Served {
    let served = Served::start_on_one_cpu(home, config, db).await;
    let pid = served.child.id().expect("running");
    let threads: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("its threads are listed")
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_owned())
        .collect();
    assert!(
        !threads.iter().any(|t| t.starts_with("tokio-rt-worker")),
        "expected a single-threaded runtime on one CPU; threads: {threads:?}"
    );
    served
}

#[cfg(not(target_os = "linux"))]
async fn start_on_one_cpu(home: &Path, config: &Path, db: &Path) -> Served {
    Served::start(home, config, db).await
}

async fn get_json(http: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = http.get(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_streams_finish_then_exits_zero() {
    sigterm_lets_in_flight_streams_finish(false).await;
}

/// On one CPU `serve` runs a single-threaded runtime; streams, the log and shutdown still work.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_one_cpu_serve_streams_and_shuts_down_cleanly() {
    sigterm_lets_in_flight_streams_finish(true).await;
}

async fn sigterm_lets_in_flight_streams_finish(one_cpu: bool) {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let config = write_config(
        home.path(),
        &mock,
        "[aliases.drip]\ntargets = [\"mock/drip-300\"]\n",
    );
    let db = home.path().join("data").join("requests.db");
    let mut served = if one_cpu {
        start_on_one_cpu(home.path(), &config, &db).await
    } else {
        Served::start(home.path(), &config, &db).await
    };
    let http = http_client();

    let response = http
        .post(served.url("/v1/chat/completions"))
        .header("x-correlation-id", "before-shutdown")
        .json(&chat_body("local/chat"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.bytes().await.unwrap();

    // A stream that takes ~2.4 s is in flight when SIGTERM arrives.
    let response = http
        .post(served.url("/v1/chat/completions"))
        .header("x-correlation-id", "in-flight")
        .json(&stream_body("drip"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut reader = SseReader::new(response);
    let first = tokio::time::timeout(Duration::from_secs(5), reader.next())
        .await
        .expect("first event in time")
        .expect("a first event");
    let rest = tokio::spawn(reader.rest());
    served.terminate();

    // The listener closes at once, while the stream is still being served.
    let addr = served.addr;
    let refused = eventually(Duration::from_millis(1500), || {
        std::future::ready(
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
        )
    })
    .await;
    assert!(refused, "still accepting connections after SIGTERM");
    assert!(
        !rest.is_finished(),
        "the in-flight stream ended before the listener closed"
    );

    let (mut events, _) = tokio::time::timeout(Duration::from_secs(10), rest)
        .await
        .expect("the in-flight stream finishes")
        .unwrap();
    events.insert(0, first);
    assert_eq!(joined_content(&events), "tok0 tok1 tok2 tok3 tok4 ");
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));

    let status = served.wait_exit(Duration::from_secs(15)).await;
    let stderr = served.stderr();
    assert!(status.success(), "exit status {status}; stderr:\n{stderr}");
    assert!(stderr.contains("request log flushed"), "{stderr}");

    // Both rows were flushed to the database before the process exited.
    let rows = read_log(&db).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    assert_eq!(row_for(&rows, "before-shutdown").status, 200);
    let row = row_for(&rows, "in-flight");
    assert_eq!(row.status, 200);
    assert!(row.streamed);
    assert_eq!((row.input_tokens, row.output_tokens), (Some(11), Some(5)));
    assert_eq!(mock.stream_stats().completed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_liveliness() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let config = write_config(
        home.path(),
        &mock,
        "[providers.gone]\nkind = \"openai\"\nbase_url = \"{closed}\"\n\n[aliases.down]\ntargets = [\"gone/m\"]\n",
    );
    let db = home.path().join("requests.db");
    let served = Served::start(home.path(), &config, &db).await;
    let http = http_client();

    let (status, body) = get_json(&http, &served.url("/health/liveliness")).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = get_json(&http, &served.url("/health/readiness")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ready"], true);
    assert_eq!(body["database"]["ok"], true, "{body}");
    assert_eq!(body["database"]["path"], db.display().to_string());
    assert_eq!(body["database"]["error"], Value::Null);
    assert_eq!(body["config"]["path"], config.display().to_string());
    assert_eq!(body["config"]["providers"], 2);
    assert_eq!(body["config"]["aliases"], 2);

    // One backend down: /health says which, and why.
    let started = Instant::now();
    let (status, body) = get_json(&http, &served.url("/health")).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["healthy"], false);
    let backends = body["backends"].as_array().expect("backends");
    let find = |name: &str| {
        backends
            .iter()
            .find(|b| b["provider"] == name)
            .unwrap_or_else(|| panic!("no {name} in {body}"))
            .clone()
    };
    let up = find("mock");
    assert_eq!(up["up"], true, "{up}");
    assert_eq!(up["error"], Value::Null);
    let down = find("gone");
    assert_eq!(down["up"], false, "{down}");
    assert!(
        !down["error"].as_str().unwrap_or_default().is_empty(),
        "{down}"
    );

    // A request's row reaches the database while serving.
    let response = http
        .post(served.url("/v1/chat/completions"))
        .json(&chat_body("local/chat"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let readiness = served.url("/health/readiness");
    let written = eventually_with(
        Duration::from_secs(2),
        || async { get_json(&http, &readiness).await.1["database"]["written"].clone() },
        |written| *written == 1,
    )
    .await;
    assert_eq!(written, Ok(Value::from(1)));

    // `switchboard status` asks the running gateway.
    let output = run_status(home.path(), &config, &served).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains(": ready"), "{stdout}");
    assert!(stdout.contains("1 written, 0 dropped"), "{stdout}");
    assert!(stdout.contains("kept 30 days / 500 MB"), "{stdout}");
    assert!(stdout.contains(" MB in use, oldest row "), "{stdout}");
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_200_when_every_backend_is_up() {
    let gw = Gw::start("").await;
    let response = gw.get("/health").await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["healthy"], true);
    assert_eq!(body["backends"][0]["provider"], "mock");
    assert_eq!(body["backends"][0]["up"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unwritable_database_fails_readiness_but_not_requests() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let config = write_config(home.path(), &mock, "");
    let blocker = home.path().join("not-a-directory");
    std::fs::write(&blocker, "a regular file").unwrap();
    let db = blocker.join("requests.db");
    let served = Served::start(home.path(), &config, &db).await;
    let http = http_client();

    let (status, body) = get_json(&http, &served.url("/health/readiness")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["ready"], false);
    assert_eq!(body["database"]["ok"], false);
    let error = body["database"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("not-a-directory"), "{body}");

    // Requests keep flowing, streaming or not; their rows are counted as dropped.
    let response = http
        .post(served.url("/v1/chat/completions"))
        .json(&chat_body("local/chat"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = http
        .post(served.url("/v1/chat/completions"))
        .json(&stream_body("local/chat"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (events, _) = read_sse(response).await;
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    let (status, _) = get_json(&http, &served.url("/health/liveliness")).await;
    assert_eq!(status, 200);

    let readiness = served.url("/health/readiness");
    let dropped = eventually_with(
        Duration::from_secs(2),
        || async { get_json(&http, &readiness).await.1["database"]["dropped"].clone() },
        |dropped| *dropped == 2,
    )
    .await;
    assert_eq!(dropped, Ok(Value::from(2)));

    let output = run_status(home.path(), &config, &served).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(stdout.contains("NOT ready"), "{stdout}");
    assert!(stdout.contains("ERROR"), "{stdout}");
    served.stop().await;
    assert!(!db.exists());
}

/// `file:line:col: ` for the first occurrence of `needle` in `text`, plus `skip` characters.
fn position(file: &Path, text: &str, needle: &str, skip: usize) -> String {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the test config"))
        + skip;
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = text[line_start..offset].chars().count() + 1;
    format!("{}:{line}:{col}: ", file.display())
}

/// Asserts that stderr has a line starting at `position` and containing every one of `words`.
fn assert_diagnostic(stderr: &str, position: &str, words: &[&str]) {
    let found = stderr
        .lines()
        .any(|line| line.starts_with(position) && words.iter().all(|w| line.contains(w)));
    assert!(
        found,
        "no diagnostic `{position}...` with {words:?} in stderr:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_every_error_with_its_position() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("broken.toml");
    let text = r#"listen = "127.0.0.1:4000"

[server]
max_body_mbb = 3

[providers.mock]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"

[aliases.a]
targets = ["mokc/m"]
fallbacks = ["b"]

[aliases.b]
targets = ["mock/m"]
fallbacks = ["a"]
"#;
    std::fs::write(&path, text).unwrap();
    let output = run_check(home.path(), &path).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "check passed a broken config");
    assert_diagnostic(
        &stderr,
        &position(&path, text, "max_body_mbb", 0),
        &["unknown key `max_body_mbb`", "did you mean `max_body_mb`"],
    );
    assert_diagnostic(
        &stderr,
        &position(&path, text, "\"mokc/m\"", 0),
        &["`mokc`", "not defined", "did you mean `mock`"],
    );
    assert_diagnostic(
        &stderr,
        &position(&path, text, "fallbacks = [\"b\"]", "fallbacks = [".len()),
        &["fallback cycle", "a → b → a"],
    );
    assert!(stderr.contains("3 error(s)"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_every_reference_error_at_once() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("broken.toml");
    let text = r#"[providers.mock]
kind = "openai"
base_url = "http://127.0.0.1:9/v1"

[aliases.a]
targets = ["mokc/m"]
fallbacks = ["b", "missing"]

[aliases.b]
targets = ["mock/m"]
fallbacks = ["a"]
"#;
    std::fs::write(&path, text).unwrap();
    let output = run_check(home.path(), &path).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    assert_diagnostic(
        &stderr,
        &position(&path, text, "\"mokc/m\"", 0),
        &["`mokc`", "not defined", "did you mean `mock`"],
    );
    assert_diagnostic(
        &stderr,
        &position(&path, text, "\"missing\"", 0),
        &["`missing`", "not a defined alias"],
    );
    assert_diagnostic(
        &stderr,
        &position(&path, text, "[\"b\", ", 1),
        &["fallback cycle", "a → b → a"],
    );
    assert!(stderr.contains("3 error(s)"), "{stderr}");

    // Unknown keys, each with a suggestion.
    let text = "listn = \"127.0.0.1:4000\"\n[server]\nmax_body_mbb = 3\n";
    std::fs::write(&path, text).unwrap();
    let output = run_check(home.path(), &path).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr:\n{stderr}");
    assert_diagnostic(
        &stderr,
        &position(&path, text, "listn", 0),
        &["unknown key `listn`", "did you mean `listen`"],
    );
    assert_diagnostic(
        &stderr,
        &position(&path, text, "max_body_mbb", 0),
        &["unknown key `max_body_mbb`", "did you mean `max_body_mb`"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_accepts_a_valid_config_and_refuses_a_missing_one() {
    let home = tempfile::tempdir().unwrap();
    let path = home.path().join("good.toml");
    std::fs::write(
        &path,
        render_config(
            &format!("{BASE_CONFIG}\n[aliases.other]\ntargets = [\"mock/o\"]\n"),
            "http://127.0.0.1:9/v1",
        ),
    )
    .unwrap();
    let output = run_check(home.path(), &path).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("ok (1 providers, 2 aliases)"), "{stdout}");

    let missing = home.path().join("absent.toml");
    let output = run_check(home.path(), &missing).await;
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("absent.toml"),
        "{output:?}"
    );
    // check never writes a default.
    assert!(!missing.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_serve_writes_the_default_config_and_serves_demo() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("fresh").join("switchboard.toml");
    let db = home.path().join("requests.db");
    let served = Served::start(home.path(), &config, &db).await;
    let http = http_client();

    let written = std::fs::read_to_string(&config).expect("the default config was written");
    assert!(written.starts_with('#'), "commented default:\n{written}");
    assert!(written.contains("[aliases.demo]"), "{written}");
    assert!(served.stderr().contains("wrote the commented default"));

    let (status, body) = get_json(&http, &served.url("/v1/models")).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"][0]["id"], "demo", "{body}");

    let mut request = chat_body("demo");
    request["messages"][0]["content"] = json!("ping from e2e");
    let response = http
        .post(served.url("/v1/chat/completions"))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let reply = body["choices"][0]["message"]["content"]
        .as_str()
        .expect("a reply")
        .to_owned();
    assert!(reply.contains("demo"), "{reply}");
    assert!(reply.ends_with("ping from e2e"), "{reply}");

    request["stream"] = json!(true);
    let response = http
        .post(served.url("/v1/chat/completions"))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let (events, _) = read_sse(response).await;
    assert!(events.len() > 3, "streamed in pieces: {events:#?}");
    assert_eq!(joined_content(&events), reply);
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    assert!(events
        .iter()
        .filter_map(|e| e.json())
        .all(|c| c.get("usage").is_none()));

    // The file it wrote passes `check`.
    let output = run_check(home.path(), &config).await;
    assert!(output.status.success(), "{output:?}");

    served.stop().await;
    let rows = read_log(&db).await;
    assert_eq!(rows.len(), 2, "{rows:#?}");
    for row in &rows {
        assert_eq!(row.alias.as_deref(), Some("demo"));
        assert_eq!(row.provider.as_deref(), Some("demo"));
        assert_eq!(row.status, 200);
        assert!(row.output_tokens.unwrap_or(0) > 0, "{row:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_refuses_an_invalid_config_and_a_busy_port() {
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("requests.db");

    let broken = home.path().join("broken.toml");
    let text = "[aliases.a]\ntargets = [\"nowhere/m\"]\n";
    std::fs::write(&broken, text).unwrap();
    let run = crate::support::switchboard(home.path())
        .arg("--config")
        .arg(&broken)
        .arg("serve")
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--database")
        .arg(&db)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("serve gives up within 20 s")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert_diagnostic(
        &stderr,
        &position(&broken, text, "\"nowhere/m\"", 0),
        &["`nowhere`", "not defined"],
    );
    // An invalid config is never replaced by the default.
    assert_eq!(std::fs::read_to_string(&broken).unwrap(), text);

    let good = home.path().join("good.toml");
    std::fs::write(&good, render_config(BASE_CONFIG, "http://127.0.0.1:9/v1")).unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap();
    let run = crate::support::switchboard(home.path())
        .arg("--config")
        .arg(&good)
        .arg("serve")
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--database")
        .arg(&db)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("serve gives up within 20 s")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("port {}", addr.port())) && stderr.contains("in use"),
        "{stderr}"
    );
    drop(busy);
}
