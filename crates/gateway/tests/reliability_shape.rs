//! Bad request shapes for translated backends: a 400 naming the field, before any upstream
//! call (the mock sees nothing), while native backends still get the body untouched.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

mod providers_support;

use providers_support::Harness;
use serde_json::{json, Value};

const ALIASES: &str = "[aliases.\"via/openai\"]\ntargets = [\"oa/gpt-mock\"]\n\
     [aliases.\"via/anthropic\"]\ntargets = [\"an/claude-mock\"]\n\
     [aliases.\"via/gemini\"]\ntargets = [\"ge/gemini-mock\"]\n\
     [aliases.mixed]\ntargets = [\"ge/gemini-mock\", \"an/claude-mock\"]\n";

fn upstream_calls(h: &Harness) -> usize {
    h.mock().received().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_refused_before_any_upstream_call() {
    let h = Harness::start(ALIASES, "").await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({"messages": "hello"}), "`messages` must be an array"),
        (
            json!({"messages": [{"role": "robot", "content": "hi"}]}),
            "`messages[0].role` unknown role `robot`",
        ),
        (
            json!({"messages": [{"role": "user", "content": "hi"},
                {"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": "{}"}}]}]}),
            "`messages[1].tool_calls[0].id` a tool call needs a non-empty `id`",
        ),
        (
            json!({"messages": [{"role": "user", "content": 7}]}),
            "`messages[0].content` must be a string or an array of content parts",
        ),
        (
            json!({"messages": [{"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "call_x", "content": "42"}]}),
            "`messages[1].tool_call_id` tool result for `call_x` matches no earlier tool call",
        ),
    ];
    for alias in ["via/anthropic", "via/gemini"] {
        for (extra, want) in &cases {
            let mut body = json!({"model": alias});
            body.as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let before = upstream_calls(&h);
            for stream in [false, true] {
                body["stream"] = json!(stream);
                let response = h.post("/v1/chat/completions", body.clone()).await;
                let status = response.status().as_u16();
                let error: Value = response.json().await.unwrap();
                assert_eq!(status, 400, "{alias} {error}");
                assert_eq!(error["error"]["code"], "invalid_body", "{error}");
                let message = error["error"]["message"].as_str().unwrap();
                assert!(message.contains(want), "{alias}: {message} lacks {want}");
            }
            assert_eq!(
                upstream_calls(&h),
                before,
                "{alias}: no upstream call for {extra}"
            );
        }
    }

    // A native OpenAI backend judges its own dialect: the same body goes through untouched.
    let before = upstream_calls(&h);
    let response = h
        .post(
            "/v1/chat/completions",
            json!({"model": "via/openai", "messages": [{"role": "robot", "content": "hi"}]}),
        )
        .await;
    assert_ne!(response.status().as_u16(), 502);
    assert_eq!(
        upstream_calls(&h),
        before + 1,
        "the OpenAI backend was called"
    );

    // A well-formed tool round trip still translates.
    let ok = json!({"model": "via/anthropic", "messages": [
        {"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
    ]});
    let response = h.post("/v1/chat/completions", ok).await;
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.text().await.unwrap()
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_anthropic_bodies_are_refused_for_openai_backends() {
    let h = Harness::start(ALIASES, "").await;
    let cases: Vec<(Value, &str)> = vec![
        (
            json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9", "content": "x"}]}]}),
            "`messages[0].content[0].tool_use_id` tool result for `toolu_9` matches no earlier tool call",
        ),
        (
            json!({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]}]}),
            "`messages[0].content[0].id` a tool call needs a non-empty `id`",
        ),
        (
            json!({"messages": [{"role": "user", "content": false}]}),
            "`messages[0].content` must be a string or an array of content parts",
        ),
    ];
    for (extra, want) in &cases {
        let mut body = json!({"model": "via/openai", "max_tokens": 64});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let before = upstream_calls(&h);
        let response = h.post("/v1/messages", body).await;
        let status = response.status().as_u16();
        let error: Value = response.json().await.unwrap();
        assert_eq!(status, 400, "{error}");
        assert_eq!(error["type"], "error", "Anthropic's envelope: {error}");
        let message = error["error"]["message"].as_str().unwrap();
        assert!(message.contains(want), "{message} lacks {want}");
        assert_eq!(upstream_calls(&h), before, "no upstream call for {extra}");
    }

    // A target that speaks Anthropic still gets such a body untouched: it judges its own dialect.
    let mut body = json!({"model": "mixed", "max_tokens": 64});
    body.as_object_mut()
        .unwrap()
        .extend(cases[0].0.as_object().unwrap().clone());
    let response = h.post("/v1/messages", body.clone()).await;
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.text().await.unwrap()
    );
    let sent = h.mock().received().into_iter().last().unwrap();
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.body["messages"], body["messages"]);
    h.stop().await;
}
