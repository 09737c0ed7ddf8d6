//! Typed stream faults: an upstream event that is not valid JSON is never forwarded raw. The
//! client's stream ends with a typed error event in its own dialect, and the request log row
//! says `backend_protocol_error`.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

mod providers_support;

use std::time::Duration;

use providers_support::Harness;
use serde_json::{json, Value};
use switchboard_test_support::eventually_with;

const ALIASES: &str =
    "[aliases.oa-garbage]\ntargets = [\"oa/garbage-stream\"]\nretries = { attempts = 1 }\n\
     [aliases.an-garbage]\ntargets = [\"an/garbage-stream\"]\nretries = { attempts = 1 }\n";

/// The error types logged for `correlation_id`, waiting for the log writer (it batches).
async fn logged_error(h: &Harness, correlation_id: &str) -> Option<String> {
    let pool = switchboard_gateway::store::open(&h.db_path).await.unwrap();
    let pool = &pool;
    let row = eventually_with(
        Duration::from_secs(3),
        move || async move {
            let row: Option<(Option<String>,)> =
                sqlx::query_as("SELECT error_type FROM requests WHERE correlation_id = ?")
                    .bind(correlation_id)
                    .fetch_optional(pool)
                    .await
                    .unwrap();
            row
        },
        Option::is_some,
    )
    .await;
    match row {
        Ok(Some((error,))) => error,
        _ => panic!("no log row for {correlation_id}"),
    }
}

async fn stream(h: &Harness, path: &str, model: &str, id: &str) -> (u16, String) {
    let body = json!({"model": model, "stream": true, "max_tokens": 32, "messages": [{"role": "user", "content": "hi"}]});
    let response = h
        .http
        .post(format!("{}{path}", h.base))
        .header("x-correlation-id", id)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_event_ends_the_stream_with_a_typed_error_in_each_dialect() {
    let h = Harness::start(ALIASES, "").await;

    // OpenAI client, OpenAI backend (passed through): the broken event is replaced by the
    // gateway's error chunk, and nothing follows it.
    let (status, text) = stream(&h, "/v1/chat/completions", "oa-garbage", "garbage-oa").await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains("oops"), "forwarded raw: {text}");
    assert!(!text.contains("[DONE]"), "the stream went on: {text}");
    let last = text.trim_end().lines().last().unwrap_or("");
    let error: Value = serde_json::from_str(last.trim_start_matches("data: ")).unwrap();
    assert_eq!(error["error"]["code"], "backend_protocol_error", "{text}");
    assert_eq!(error["error"]["route"], "oa-garbage", "{text}");
    assert!(text.contains("\"role\":\"assistant\""), "{text}");
    assert_eq!(
        logged_error(&h, "garbage-oa").await.as_deref(),
        Some("backend_protocol_error")
    );

    // Anthropic client, Anthropic backend (native passthrough): Anthropic's `error` event.
    let (status, text) = stream(&h, "/v1/messages", "an-garbage", "garbage-an").await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains("oops"), "forwarded raw: {text}");
    assert!(text.starts_with("event: message_start\n"), "{text}");
    assert!(
        text.contains("event: error\ndata: {\"type\":\"error\",\"error\":{"),
        "{text}"
    );
    assert!(!text.contains("message_stop"), "the stream went on: {text}");
    assert_eq!(
        logged_error(&h, "garbage-an").await.as_deref(),
        Some("backend_protocol_error")
    );

    // OpenAI client, Anthropic backend (translated): the translator's fault is typed too.
    let (status, text) = stream(&h, "/v1/chat/completions", "an-garbage", "garbage-tr").await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains("oops"), "{text}");
    let last = text.trim_end().lines().last().unwrap_or("");
    let error: Value = serde_json::from_str(last.trim_start_matches("data: ")).unwrap();
    assert_eq!(error["error"]["code"], "backend_protocol_error", "{text}");
    assert_eq!(
        logged_error(&h, "garbage-tr").await.as_deref(),
        Some("backend_protocol_error")
    );
    h.stop().await;
}
