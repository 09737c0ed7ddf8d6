//! Claude Code's current protocol through `/v1/messages?beta=true` to every backend kind, from
//! requests captured from Claude Code 2.1.332 (`tests/fixtures/claude-code-2.1.332-*.json`):
//! mid-conversation `system` turns, thinking blocks in history, `cache_control`, `thinking` /
//! `context_management` / `output_config` / `metadata`, deferred tools, and its `anthropic-beta`
//! list. Native to Anthropic backends (body and betas unchanged), translated elsewhere.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

mod providers_support;

use providers_support::{repo_root, Harness};
use serde_json::{json, Value};

const ALIASES: &str = "[aliases.\"via/openai\"]\ntargets = [\"oa/gpt-mock\"]\n\
     [aliases.\"via/anthropic\"]\ntargets = [\"an/claude-mock\"]\n\
     [aliases.\"via/gemini\"]\ntargets = [\"ge/gemini-mock\"]\n";

fn fixture(name: &str) -> Value {
    let path = repo_root().join(format!(
        "crates/gateway/tests/fixtures/claude-code-2.1.332-{name}.json"
    ));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Sends a captured request as Claude Code does (path with `?beta=true`, its headers), with
/// `model` set to `alias`. Returns the status, the dropped-params note and the SSE events.
async fn send(h: &Harness, name: &str, alias: &str) -> (u16, String, Vec<(String, Value)>) {
    let fixture = fixture(name);
    let mut body = fixture["body"].clone();
    body["model"] = json!(alias);
    let mut request = h
        .http
        .post(format!("{}{}", h.base, fixture["path"].as_str().unwrap()))
        .header("x-api-key", "client-secret-key");
    for (key, value) in fixture["headers"].as_object().unwrap() {
        request = request.header(key.as_str(), value.as_str().unwrap());
    }
    let response = request.json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let dropped = response
        .headers()
        .get("x-switchboard-dropped-params")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let events = text
        .split("\n\n")
        .filter_map(|frame| {
            let event = frame.lines().find_map(|l| l.strip_prefix("event: "))?;
            let data = frame.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((event.to_owned(), serde_json::from_str(data).unwrap()))
        })
        .collect();
    (status, dropped, events)
}

fn tool_uses(events: &[(String, Value)]) -> Vec<String> {
    events
        .iter()
        .filter(|(e, d)| e == "content_block_start" && d["content_block"]["type"] == "tool_use")
        .map(|(_, d)| d["content_block"]["name"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn text(events: &[(String, Value)]) -> String {
    events
        .iter()
        .filter_map(|(_, d)| d["delta"]["text"].as_str())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_requests_work_against_every_backend_kind() {
    let h = Harness::start(ALIASES, "").await;
    for (alias, who) in [
        ("via/anthropic", "mock-anthropic"),
        ("via/openai", "mock-openai"),
        ("via/gemini", "mock-gemini"),
    ] {
        // The first turn: the backend calls Claude Code's Bash tool.
        let (status, _, events) = send(&h, "first", alias).await;
        assert_eq!(status, 200, "{alias}: {events:?}");
        assert_eq!(events.first().map(|e| e.0.as_str()), Some("message_start"));
        assert_eq!(events.last().map(|e| e.0.as_str()), Some("message_stop"));
        assert_eq!(tool_uses(&events), ["Bash"], "{alias}");
        // The turn after the tool ran (thinking in history, cache_control on the result).
        let (status, _, events) = send(&h, "tool-result", alias).await;
        assert_eq!(status, 200, "{alias}: {events:?}");
        // (Gemini's mock quotes the functionResponse object it got: `{"content":"hi"}`.)
        let answer = text(&events);
        assert!(
            answer.starts_with(&format!("{who} got tool results: ")),
            "{answer}"
        );
        assert!(
            answer.ends_with("hi") || answer.ends_with(r#"{"content":"hi"}"#),
            "{answer}"
        );
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_backends_get_claude_codes_request_and_betas_unchanged() {
    let h = Harness::start(ALIASES, "").await;
    let captured = fixture("tool-result");
    let (status, dropped, _) = send(&h, "tool-result", "via/anthropic").await;
    assert_eq!(status, 200);
    assert_eq!(dropped, "", "nothing is dropped on the native path");
    let sent = h
        .mock()
        .received()
        .into_iter()
        .rfind(|r| r.path == "/v1/messages")
        .unwrap();
    let mut expected = captured["body"].clone();
    expected["model"] = json!("claude-mock");
    assert_eq!(
        sent.body, expected,
        "the body arrives as Claude Code sent it"
    );
    assert_eq!(
        sent.headers["anthropic-beta"],
        captured["headers"]["anthropic-beta"].as_str().unwrap()
    );

    // The first request has a mid-conversation system turn: passed through, not refused.
    let (status, _, _) = send(&h, "first", "via/anthropic").await;
    assert_eq!(status, 200);
    let sent = h.mock().received().pop().unwrap();
    assert_eq!(sent.body["messages"][1]["role"], "system");
    assert_eq!(
        sent.body["messages"][1]["content"][0]["cache_control"]["type"],
        "ephemeral"
    );
    assert_eq!(
        sent.body["context_management"],
        captured["body"]["context_management"]
    );

    // Several anthropic-beta headers are all forwarded, in order.
    let response = h
        .http
        .post(format!("{}/v1/messages?beta=true", h.base))
        .header("anthropic-beta", "claude-code-20250219")
        .header(
            "anthropic-beta",
            "mid-conversation-system-2026-04-07,effort-2025-11-24",
        )
        .json(&json!({"model": "via/anthropic", "max_tokens": 10,
                      "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let sent = h.mock().received().pop().unwrap();
    assert_eq!(
        sent.headers["anthropic-beta"],
        "claude-code-20250219,mid-conversation-system-2026-04-07,effort-2025-11-24"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_backends_get_system_turns_in_place_and_a_note_of_what_was_dropped() {
    let h = Harness::start(ALIASES, "").await;
    let (status, dropped, _) = send(&h, "first", "via/openai").await;
    assert_eq!(status, 200);
    assert_eq!(
        dropped,
        "context_management,thinking,tools.DeferredToolPlaceholder,output_config.effort,metadata.user_id"
    );
    let sent = h.mock().received().pop().unwrap();
    assert_eq!(sent.path, "/v1/chat/completions");
    let roles: Vec<&str> = sent.body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user", "system"]);
    let body = sent.body.to_string();
    for absent in [
        "cache_control",
        "context_management",
        "output_config",
        "defer_loading",
    ] {
        assert!(!body.contains(absent), "{absent} reached an OpenAI backend");
    }

    let (status, dropped, _) = send(&h, "tool-result", "via/openai").await;
    assert_eq!(status, 200);
    assert!(dropped.contains("messages[].thinking"), "{dropped}");
    let sent = h.mock().received().pop().unwrap();
    assert!(!sent.body.to_string().contains("I should run echo."));

    // A body only an Anthropic backend could take is refused with the reason, elsewhere only.
    let odd = json!({"model": "via/openai", "max_tokens": 10,
        "messages": [{"role": "user", "content": [{"type": "document", "source": {"type": "text", "data": "x", "media_type": "text/plain"}}]}]});
    let response = h.post("/v1/messages", odd.clone()).await;
    assert_eq!(response.status(), 400);
    let error: Value = response.json().await.unwrap();
    assert_eq!(error["type"], "error");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("content block"),
        "{error}"
    );
    // count_tokens still answers with the estimate elsewhere.
    let response = h.post("/v1/messages/count_tokens", odd.clone()).await;
    assert_eq!(response.status(), 200);
    let counted: Value = response.json().await.unwrap();
    assert!(counted["input_tokens"].as_u64().is_some(), "{counted}");
    let mut native = odd;
    native["model"] = json!("via/anthropic");
    assert_eq!(h.post("/v1/messages", native).await.status(), 200);
    h.stop().await;
}
