//! The chat passthrough sends the client's own bytes with the target's model spliced in
//! (`wire/splice.rs`): what the OpenAI backend receives is the client's body with only `model`
//! changed (and, for a stream, the usage request added), whatever the body's layout; bodies the
//! splice is unsure of go the old way, serialized from the parsed body, with the same result.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

mod providers_support;

use providers_support::Harness;
use serde_json::{json, Value};

const ALIASES: &str = "[aliases.\"via/openai\"]\ntargets = [\"oa/gpt-mock\"]\n";

/// Posts `raw` as is and returns the status and the body the mock received.
async fn send_raw(h: &Harness, raw: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(h.url("/v1/chat/completions"))
        .header("authorization", "Bearer client-secret-key")
        .header("content-type", "application/json")
        .body(raw.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let _ = response.bytes().await.unwrap();
    let sent = h
        .mock()
        .received()
        .into_iter()
        .rfind(|r| r.path == "/v1/chat/completions")
        .unwrap();
    (status, sent.body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_gets_the_clients_body_with_only_the_model_changed() {
    let h = Harness::start(ALIASES, "").await;
    let bodies = [
        // Compact, the model last, text that looks like a model member.
        r#"{"messages":[{"role":"user","content":"say \"model\": \"x\" {["}],"temperature":0.5,"model":"via/openai"}"#,
        // Pretty-printed, nested objects with their own `model`, unicode and escapes.
        "{\n  \"model\" : \"via/openai\",\n  \"metadata\": {\"model\": \"inner\"},\n  \"messages\": [\n    {\"role\": \"user\", \"content\": \"h\\u00e9llo \\\\ \u{1F600}\"}\n  ],\n  \"n\": 1\n}\n",
        // A top-level key written with an escape: spliced the old way, same result.
        r#"{"mod\u0065l":"via/openai","messages":[{"role":"user","content":"hi"}]}"#,
    ];
    for raw in bodies {
        let (status, sent) = send_raw(&h, raw).await;
        assert_eq!(status, 200, "{raw}");
        let mut want: Value = serde_json::from_str(raw).unwrap();
        want["model"] = json!("gpt-mock");
        assert_eq!(sent, want, "{raw}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_passthrough_asks_for_usage_unless_the_client_set_it() {
    let h = Harness::start(ALIASES, "").await;
    let raw = r#"{"model":"via/openai","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, sent) = send_raw(&h, raw).await;
    assert_eq!(status, 200);
    assert_eq!(sent["model"], "gpt-mock");
    assert_eq!(sent["stream_options"], json!({"include_usage": true}));
    assert_eq!(sent["messages"], json!([{"role": "user", "content": "hi"}]));

    // The client's own stream_options are kept, with the usage request merged in.
    let raw = r#"{"model":"via/openai","stream":true,"stream_options":{"x":1},"messages":[{"role":"user","content":"hi"}]}"#;
    let (status, sent) = send_raw(&h, raw).await;
    assert_eq!(status, 200);
    assert_eq!(sent["model"], "gpt-mock");
    assert_eq!(
        sent["stream_options"],
        json!({"x": 1, "include_usage": true})
    );
}
