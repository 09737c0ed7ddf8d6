//! The request log: one row per request in a real SQLite file, whatever happened to it.

use std::time::Duration;

use serde_json::json;

use crate::support::{chat_body, eventually, row_for, stream_body, Gw, SseReader};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_one_log_row() {
    let mut gw = Gw::start(
        r#"
[providers.gone]
kind = "openai"
base_url = "{closed}"

[aliases.down]
targets = ["gone/m"]
retries = { attempts = 1 }

[aliases.e500]
targets = ["mock/fail-500"]
retries = { attempts = 1 }
"#,
    )
    .await;
    let ok = gw.chat_as("log-ok", &chat_body("local/chat")).await;
    assert_eq!(ok.status(), 200);
    let stream = gw.chat_as("log-stream", &stream_body("Local/Chat")).await;
    assert_eq!(stream.status(), 200);
    crate::support::read_sse(stream).await;
    let unknown = gw.chat_as("log-unknown", &chat_body("nope")).await;
    assert_eq!(unknown.status(), 404);
    let down = gw.chat_as("log-down", &chat_body("down")).await;
    assert_eq!(down.status(), 503);
    let failing = gw.chat_as("log-500", &chat_body("e500")).await;
    assert_eq!(failing.status(), 500);
    let malformed = gw
        .http
        .post(gw.url("/v1/chat/completions"))
        .header("x-correlation-id", "log-malformed")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);
    let embeddings = gw
        .post_with(
            "/v1/embeddings",
            &json!({"model": "local/chat", "input": "hi"}),
            &[("x-correlation-id", "log-embed")],
        )
        .await;
    assert_eq!(embeddings.status(), 200);
    // Not proxied requests (listing, health) are not request-log rows.
    assert_eq!(gw.get("/v1/models").await.status(), 200);

    let rows = gw.finish().await;
    assert_eq!(rows.len(), 7, "{rows:#?}");

    let row = row_for(&rows, "log-ok");
    assert_eq!(row.endpoint, "chat/completions");
    assert_eq!(row.requested_model.as_deref(), Some("local/chat"));
    assert_eq!(row.alias.as_deref(), Some("local/chat"));
    assert_eq!(row.target.as_deref(), Some("mock/some-model"));
    assert_eq!(row.provider.as_deref(), Some("mock"));
    assert_eq!(row.status, 200);
    assert_eq!(row.error_type, None);
    assert!(row.latency_ms > 0.0, "{row:?}");
    assert_eq!((row.input_tokens, row.output_tokens), (Some(11), Some(7)));
    assert!(!row.streamed);
    assert!(row
        .attempts
        .as_deref()
        .unwrap_or_default()
        .contains("mock/some-model"));

    let row = row_for(&rows, "log-stream");
    assert_eq!(row.requested_model.as_deref(), Some("Local/Chat"));
    assert_eq!(row.alias.as_deref(), Some("local/chat"));
    assert!(row.streamed);
    assert_eq!(row.status, 200);
    assert_eq!((row.input_tokens, row.output_tokens), (Some(11), Some(5)));
    assert!(row.ttft_ms.is_some());

    let row = row_for(&rows, "log-unknown");
    assert_eq!(row.status, 404);
    assert_eq!(row.error_type.as_deref(), Some("model_not_found"));
    assert_eq!(row.requested_model.as_deref(), Some("nope"));
    assert_eq!(row.alias, None);
    assert_eq!(row.target, None);

    let row = row_for(&rows, "log-down");
    assert_eq!(row.status, 503);
    assert_eq!(row.error_type.as_deref(), Some("backend_unreachable"));
    assert_eq!(row.alias.as_deref(), Some("down"));
    assert_eq!(row.target.as_deref(), Some("gone/m"));
    assert_eq!(row.provider.as_deref(), Some("gone"));

    let row = row_for(&rows, "log-500");
    assert_eq!(row.status, 500);
    assert_eq!(row.error_type.as_deref(), Some("backend_error"));
    assert_eq!(row.target.as_deref(), Some("mock/fail-500"));

    let row = row_for(&rows, "log-malformed");
    assert_eq!(row.status, 400);
    assert_eq!(row.error_type.as_deref(), Some("invalid_json"));

    let row = row_for(&rows, "log-embed");
    assert_eq!(row.endpoint, "embeddings");
    assert_eq!(row.status, 200);
    assert_eq!(row.input_tokens, Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_mid_stream_is_499_and_cancels_the_backend() {
    let mut gw = Gw::start("[aliases.drip]\ntargets = [\"mock/drip-300\"]\n").await;
    let response = gw.chat_as("disconnect-stream", &stream_body("drip")).await;
    assert_eq!(response.status(), 200);
    let mut reader = SseReader::new(response);
    let first = tokio::time::timeout(Duration::from_secs(5), reader.next())
        .await
        .expect("first event in time")
        .expect("a first event");
    assert!(first.json().is_some());
    // The client goes away after the first chunk (the whole stream would take ~2.4 s).
    drop(reader);

    let mock = gw.mock();
    let cancelled = eventually(Duration::from_secs(3), || {
        std::future::ready(mock.stream_stats().cancelled == 1)
    })
    .await;
    assert!(
        cancelled,
        "the backend stream was not cancelled: {:?}",
        mock.stream_stats()
    );
    assert_eq!(gw.mock().stream_stats().completed, 0);

    let rows = gw.finish().await;
    let row = row_for(&rows, "disconnect-stream");
    assert_eq!(row.status, 499);
    assert_eq!(row.error_type.as_deref(), Some("client_closed"));
    assert!(row.streamed);
    assert_eq!(row.alias.as_deref(), Some("drip"));
    assert_eq!(row.target.as_deref(), Some("mock/drip-300"));
    assert!(row.ttft_ms.is_some(), "the first chunk was sent: {row:?}");
    assert!(
        row.latency_ms < 2000.0,
        "logged when the client left: {row:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_disconnect_while_waiting_is_499() {
    let mut gw = Gw::start("[aliases.slow]\ntargets = [\"mock/slow-1500\"]\n").await;
    let impatient = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let result = impatient
        .post(gw.url("/v1/chat/completions"))
        .header("x-correlation-id", "disconnect-waiting")
        .json(&chat_body("slow"))
        .send()
        .await;
    assert!(result.is_err(), "the client gave up first");
    drop(impatient);
    // Give the gateway time to notice, but less than the backend's 1.5 s.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rows = gw.finish().await;
    let row = row_for(&rows, "disconnect-waiting");
    assert_eq!(row.status, 499, "{row:?}");
    assert_eq!(row.error_type.as_deref(), Some("client_closed"));
    assert!(!row.streamed);
    assert!(
        row.latency_ms < 1400.0,
        "logged when the client left: {row:?}"
    );
}
