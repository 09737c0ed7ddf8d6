//! `GET /metrics` against real traffic through the mock: parsed with the Python
//! `prometheus_client` text parser (tests/python/metrics_vs_log.py) and checked against the
//! request log's rows. Needs `SWITCHBOARD_PYTHON` with prometheus_client (scripts/bootstrap.sh test).

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

mod providers_support;

use std::time::Duration;

use providers_support::{repo_root, Harness};
use serde_json::{json, Value};
use switchboard_test_support::eventually_with;

const ALIASES: &str = "[aliases.chat]\ntargets = [\"oa/gpt-4o-mini\"]\n\n\
                       [aliases.broken]\ntargets = [\"oa/fail-500\"]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_match_the_request_log() {
    let python = std::env::var("SWITCHBOARD_PYTHON").expect(
        "SWITCHBOARD_PYTHON: a python with prometheus_client (scripts/bootstrap.sh test creates ~/.cache/switchboard/venv)",
    );
    let h = Harness::start(ALIASES, "").await;
    for _ in 0..3 {
        let r = h
            .post(
                "/v1/chat/completions",
                json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert_eq!(r.status(), 200);
    }
    let streamed = h
        .post(
            "/v1/chat/completions",
            json!({"model": "chat", "stream": true, "stream_options": {"include_usage": true},
                   "messages": [{"role": "user", "content": "hi"}]}),
        )
        .await;
    assert_eq!(streamed.status(), 200);
    streamed.text().await.unwrap();
    for _ in 0..2 {
        let r = h
            .post(
                "/v1/chat/completions",
                json!({"model": "broken", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .await;
        assert!(r.status().is_server_error(), "{}", r.status());
    }
    let unknown = h
        .post(
            "/v1/chat/completions",
            json!({"model": "nope", "messages": []}),
        )
        .await;
    assert_eq!(unknown.status(), 404);

    // Streams write their row (and count) when the stream ends, just after the client's last
    // byte: wait until the four good requests are counted.
    let hr = &h;
    let scraped = eventually_with(
        Duration::from_secs(5),
        move || async move {
            let r = hr.get("/metrics").send().await.unwrap();
            let status = r.status().as_u16();
            let kind = r.headers()["content-type"].to_str().unwrap().to_owned();
            (status, kind, r.text().await.unwrap())
        },
        |(_, _, text)| {
            text.lines().any(|l| {
                l.starts_with("switchboard_requests_total{")
                    && l.contains("target=\"oa/gpt-4o-mini\"")
                    && l.ends_with("status_class=\"2xx\"} 4")
            })
        },
    )
    .await;
    let (status, kind, text) = scraped.unwrap_or_else(|last| panic!("never counted: {last:?}"));
    assert_eq!(status, 200);
    assert!(kind.starts_with("text/plain; version=0.0.4"));

    // Flush the log, keep the directory holding it.
    let mut h = h;
    h.stop_within(Duration::from_secs(1)).await;
    let dir = h.dir();
    let metrics_path = dir.join("metrics.txt");
    std::fs::write(&metrics_path, &text).unwrap();
    let out = std::process::Command::new(&python)
        .arg(repo_root().join("tests/python/metrics_vs_log.py"))
        .arg(&metrics_path)
        .arg(&h.db_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the parser failed (is prometheus_client installed in {python}?): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (metrics, log) = (&report["metrics"], &report["log"]);
    for part in ["requests", "tokens", "errors", "latency_count"] {
        assert_eq!(
            metrics[part], log[part],
            "{part} differ from the log:\n{text}"
        );
    }
    // And the log holds what we sent, so the comparison is not of two empty sets.
    assert_eq!(log["requests"]["chat|oa/gpt-4o-mini|2xx"], 4, "{report}");
    // The first failure reaches the backend; the breaker may refuse the second before it does.
    assert!(
        log["requests"]["broken|oa/fail-500|5xx"].as_u64().unwrap() >= 1,
        "{report}"
    );
    assert_eq!(log["requests"]["||4xx"], 1, "{report}");
    assert!(
        log["tokens"]["chat|oa/gpt-4o-mini|output"]
            .as_f64()
            .unwrap()
            > 0.0
    );
    let other = &metrics["other"];
    assert_eq!(other["switchboard_log_rows_dropped_total{}"], 0);
    assert_eq!(
        other["switchboard_config_reloads_total{result=applied}"],
        0.0
    );
    assert_eq!(
        other["switchboard_breaker_state{provider=oa,state=healthy,target=oa/gpt-4o-mini}"],
        1
    );
}
