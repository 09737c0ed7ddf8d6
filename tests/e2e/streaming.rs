//! Streams: forwarded event by event as they arrive, the usage chunk the gateway asks for and
//! hides, and what the log records about them.

use std::time::{Duration, Instant};

use mock_upstream::MockConfig;
use serde_json::{json, Value};

use crate::support::{header, joined_content, read_sse, row_for, stream_body, Gw, BASE_CONFIG};

const CHUNK_INTERVAL: Duration = Duration::from_millis(60);

fn slow_chunks() -> MockConfig {
    MockConfig {
        stream_chunks: 5,
        chunk_interval: CHUNK_INTERVAL,
        ..MockConfig::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_is_forwarded_chunk_by_chunk() {
    let mut gw = Gw::start_with(slow_chunks(), BASE_CONFIG).await;
    let started = Instant::now();
    let response = gw.chat_as("stream-1", &stream_body("local/chat")).await;
    assert_eq!(response.status(), 200);
    assert!(header(response.headers(), "content-type")
        .unwrap_or_default()
        .starts_with("text/event-stream"));
    assert_eq!(
        header(response.headers(), "x-switchboard-target"),
        Some("mock/some-model")
    );
    let (events, ended) = read_sse(response).await;

    // role, 5 content chunks, finish, then [DONE]: the usage chunk is hidden.
    let data: Vec<&str> = events.iter().map(|e| e.data.as_str()).collect();
    assert_eq!(events.len(), 8, "{data:#?}");
    assert_eq!(data.last(), Some(&"[DONE]"));
    assert_eq!(joined_content(&events), "tok0 tok1 tok2 tok3 tok4 ");
    for event in &events[..events.len() - 1] {
        let chunk = event.json().expect("every chunk is JSON");
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert!(
            chunk.get("usage").is_none(),
            "a client that did not ask for usage got it: {chunk}"
        );
    }

    // The mock paces 8 gaps of CHUNK_INTERVAL; a forwarder that buffered would deliver the
    // first event with the last. Arrival times must spread over the stream's life.
    let first = events[0].at.duration_since(started);
    let total = ended.duration_since(started);
    assert!(
        total >= CHUNK_INTERVAL * 6,
        "the stream was paced by the mock: {total:?}"
    );
    assert!(
        first + CHUNK_INTERVAL * 4 <= total,
        "first event at {first:?}, end at {total:?}: not forwarded incrementally"
    );
    let spread = events[5].at.duration_since(events[1].at);
    assert!(
        spread >= CHUNK_INTERVAL * 2,
        "content chunks arrived together ({spread:?} between tok0 and tok4)"
    );

    // The gateway asked the backend for usage so that the log has token counts.
    let received = gw.mock().received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body["stream_options"]["include_usage"], true);
    assert_eq!(received[0].body["stream"], true);
    assert_eq!(received[0].body["model"], "some-model");

    let rows = gw.finish().await;
    let row = row_for(&rows, "stream-1");
    assert!(row.streamed);
    assert_eq!(row.status, 200);
    assert_eq!(row.error_type, None);
    assert_eq!(row.input_tokens, Some(11));
    assert_eq!(row.output_tokens, Some(5));
    let ttft = row.ttft_ms.expect("a stream has a time to first token");
    assert!(ttft > 0.0 && ttft < row.latency_ms, "{row:?}");
    assert!(
        row.latency_ms >= (CHUNK_INTERVAL * 6).as_secs_f64() * 1000.0,
        "latency covers the whole stream: {row:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_chunk_is_shown_when_the_client_asked() {
    let mut gw = Gw::start("").await;
    let mut body = stream_body("local/chat");
    body["stream_options"] = json!({"include_usage": true});
    let response = gw.chat_as("stream-usage", &body).await;
    assert_eq!(response.status(), 200);
    let (events, _) = read_sse(response).await;
    let usage: Vec<Value> = events
        .iter()
        .filter_map(|e| e.json())
        .filter(|c| c.get("usage").is_some_and(|u| !u.is_null()))
        .collect();
    assert_eq!(usage.len(), 1, "one usage chunk: {events:#?}");
    assert_eq!(usage[0]["usage"]["prompt_tokens"], 11);
    assert_eq!(usage[0]["usage"]["completion_tokens"], 5);
    assert_eq!(usage[0]["choices"], json!([]));
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
    assert_eq!(joined_content(&events), "tok0 tok1 tok2 tok3 tok4 ");

    let received = gw.mock().received();
    assert_eq!(
        received[0].body["stream_options"],
        json!({"include_usage": true})
    );

    let rows = gw.finish().await;
    let row = row_for(&rows, "stream-usage");
    assert_eq!((row.input_tokens, row.output_tokens), (Some(11), Some(5)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_stream_options_are_kept() {
    let gw = Gw::start("").await;
    let mut body = stream_body("local/chat");
    // Other stream options pass through; the gateway only adds include_usage.
    body["stream_options"] = json!({"x_other": 1});
    let response = gw.chat(&body).await;
    assert_eq!(response.status(), 200);
    let (events, _) = read_sse(response).await;
    assert!(events
        .iter()
        .filter_map(|e| e.json())
        .all(|c| c.get("usage").is_none()));
    let received = gw.mock().received();
    assert_eq!(
        received[0].body["stream_options"],
        json!({"x_other": 1, "include_usage": true})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_refuse_to_stream() {
    let gw = Gw::start("").await;
    let response = gw
        .post(
            "/v1/embeddings",
            &json!({"model": "local/chat", "input": "x", "stream": true}),
        )
        .await;
    let failure = crate::support::Failure::read(response).await;
    failure.assert_envelope(400, "invalid_stream");
    assert!(gw.mock().received().is_empty());
}
