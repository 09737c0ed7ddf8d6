//! Provider behaviour over TCP against mocks speaking each wire format: provider errors as the
//! failure summary with the right status (and misconfigured targets), mid-stream error events,
//! unsupported parameters dropped with a note or refused, embeddings per provider, and the
//! Anthropic ingress (native passthrough, translation, error envelope, count_tokens).

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

mod providers_support;

use providers_support::{Harness, UPSTREAM_KEY};
use serde_json::{json, Value};

fn aliases() -> String {
    let mut out = String::from(
        "[aliases.\"via/openai\"]\ntargets = [\"oa/gpt-mock\"]\n\
         [aliases.\"via/anthropic\"]\ntargets = [\"an/claude-mock\"]\n\
         [aliases.\"via/gemini\"]\ntargets = [\"ge/gemini-mock\"]\n\
         [aliases.strict]\ntargets = [\"an_strict/claude-mock\"]\n\
         [aliases.an-badkey]\ntargets = [\"an_bad/claude-mock\"]\nretries = { attempts = 1 }\n\
         [aliases.ge-badkey]\ntargets = [\"ge_bad/gemini-mock\"]\nretries = { attempts = 1 }\n\
         [aliases.an-errevent]\ntargets = [\"an/error-event\"]\nretries = { attempts = 1 }\n\
         [aliases.oa-break]\ntargets = [\"oa/break-stream\"]\nretries = { attempts = 1 }\n",
    );
    for provider in ["oa", "an", "ge"] {
        for status in [400, 401, 403, 404, 429, 503, 529] {
            out.push_str(&format!(
                "[aliases.{provider}-{status}]\ntargets = [\"{provider}/fail-{status}\"]\nretries = {{ attempts = 1 }}\n"
            ));
        }
    }
    out
}

const STRICT: &str = "[providers.an_strict]\nkind = \"anthropic\"\nbase_url = \"{MOCK_ANTHROPIC}\"\napi_key = \"{KEY}\"\nunsupported_params = \"refuse\"\n";

async fn chat(h: &Harness, model: &str, extra: Value) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let response = h.post("/v1/chat/completions", body).await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_errors_come_back_as_the_failure_summary() {
    let h = Harness::start(&aliases(), STRICT).await;
    // (alias, status, code, family, retry_after_ms)
    let cases: [(&str, u16, &str, &str, Option<u64>); 17] = [
        ("an-529", 503, "backend_error", "anthropic", None),
        ("an-503", 503, "backend_error", "anthropic", None),
        (
            "an-429",
            429,
            "backend_rate_limited",
            "anthropic",
            Some(3000),
        ),
        ("an-401", 401, "backend_auth_failed", "anthropic", None),
        ("an-403", 403, "backend_auth_failed", "anthropic", None),
        ("an-404", 404, "backend_model_not_found", "anthropic", None),
        ("an-400", 400, "backend_rejected_request", "anthropic", None),
        ("an-badkey", 401, "backend_auth_failed", "anthropic", None),
        ("ge-429", 429, "backend_rate_limited", "gemini", Some(4000)),
        ("ge-503", 503, "backend_error", "gemini", None),
        ("ge-403", 403, "backend_auth_failed", "gemini", None),
        ("ge-404", 404, "backend_model_not_found", "gemini", None),
        ("ge-400", 400, "backend_rejected_request", "gemini", None),
        ("ge-badkey", 401, "backend_auth_failed", "gemini", None),
        ("oa-429", 429, "backend_rate_limited", "openai", Some(2000)),
        ("oa-401", 401, "backend_auth_failed", "openai", None),
        ("oa-503", 503, "backend_error", "openai", None),
    ];
    for (alias, status, code, family, retry_after) in cases {
        let (got, _, body) = chat(&h, alias, json!({})).await;
        let e = &body["error"];
        assert_eq!(got, status, "{alias}: {body}");
        assert_eq!(e["code"], code, "{alias}: {body}");
        assert_eq!(e["provider_family"], family, "{alias}: {body}");
        assert_eq!(e["route"], alias, "{alias}: {body}");
        assert!(e["correlation_id"].is_string(), "{alias}: {body}");
        assert_eq!(e["retry_after_ms"].as_u64(), retry_after, "{alias}: {body}");
        assert!(!e["message"].as_str().unwrap_or("").contains(UPSTREAM_KEY));
    }
    // 401/403 (and "model not found") marked their targets misconfigured: skipped from now on.
    for alias in ["an-401", "an-403", "an-badkey", "ge-badkey", "ge-404"] {
        let (got, _, body) = chat(&h, alias, json!({})).await;
        assert_eq!(got, 503, "{alias}: {body}");
        assert_eq!(
            body["error"]["code"], "no_backend_available",
            "{alias}: {body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap_or("")
                .contains("misconfigured"),
            "{body}"
        );
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_event_mid_stream_ends_the_stream_with_the_summary() {
    let h = Harness::start(&aliases(), STRICT).await;
    let response = h
        .post("/v1/chat/completions", json!({"model": "an-errevent", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .await;
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    let last = text.trim_end().lines().last().unwrap_or("");
    let error: Value = serde_json::from_str(last.trim_start_matches("data: ")).unwrap();
    assert_eq!(error["error"]["code"], "backend_error", "{text}");
    assert_eq!(error["error"]["provider_family"], "anthropic");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("overloaded_error"),
        "{text}"
    );
    assert!(
        text.contains("\"role\":\"assistant\""),
        "the role chunk came first: {text}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_params_are_dropped_with_a_note_or_refused() {
    let h = Harness::start(&aliases(), STRICT).await;
    let extra = json!({"logit_bias": {"50256": -100}, "seed": 1, "temperature": 0.5});
    let (status, headers, body) = chat(&h, "via/anthropic", extra.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-switchboard-dropped-params"], "logit_bias,seed");
    let sent = h
        .mock()
        .received()
        .into_iter()
        .rfind(|r| r.path == "/v1/messages")
        .unwrap();
    assert_eq!(sent.body["temperature"], 0.5);
    assert_eq!(sent.body["max_tokens"], 4096, "the default max_tokens");
    assert!(sent.body.get("logit_bias").is_none() && sent.body.get("seed").is_none());

    let (status, headers, _) = chat(&h, "via/gemini", extra.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(
        headers["x-switchboard-dropped-params"], "logit_bias",
        "Gemini takes a seed"
    );
    let sent = h
        .mock()
        .received()
        .into_iter()
        .rfind(|r| r.path.starts_with("/v1beta/"))
        .unwrap();
    assert_eq!(sent.body["generationConfig"]["seed"], 1);

    let (status, headers, _) = chat(&h, "via/openai", extra.clone()).await;
    assert_eq!(status, 200);
    assert!(headers.get("x-switchboard-dropped-params").is_none());

    let (status, _, body) = chat(&h, "strict", extra).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "unsupported_params");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("logit_bias, seed"),
        "{body}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_per_provider_kind() {
    let h = Harness::start(&aliases(), STRICT).await;
    let embed = |model: &str| json!({"model": model, "input": ["one", "two"]});
    let response = h.post("/v1/embeddings", embed("via/gemini")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2), "{body}");
    assert_eq!(body["data"][1]["embedding"], json!([0.5, -0.25, 1.0]));
    assert!(body["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let sent = h
        .mock()
        .received()
        .into_iter()
        .rfind(|r| r.path.ends_with(":batchEmbedContents"))
        .unwrap();
    assert_eq!(sent.path, "/v1beta/models/gemini-mock:batchEmbedContents");

    let response = h.post("/v1/embeddings", embed("via/openai")).await;
    assert_eq!(response.status(), 200);

    let response = h.post("/v1/embeddings", embed("via/anthropic")).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unsupported_by_provider", "{body}");
    assert_eq!(body["error"]["provider_family"], "anthropic");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_ingress_passes_through_translates_and_speaks_anthropic_errors() {
    let h = Harness::start(&aliases(), STRICT).await;
    let message = |model: &str| {
        json!({"model": model, "max_tokens": 50, "thinking": {"type": "enabled", "budget_tokens": 1024},
               "messages": [{"role": "user", "content": "hello"}]})
    };

    // To an anthropic backend: untouched, with the gateway's key, the client's beta flags only.
    let response = h
        .http
        .post(format!("{}/v1/messages", h.base))
        .header("x-api-key", "client-secret-key")
        .header("authorization", "Bearer client-secret-key")
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", "interleaved-thinking-2025-05-14")
        .json(&message("via/anthropic"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("x-switchboard-dropped-params")
        .is_none());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(
        body["content"][0]["text"],
        "mock-anthropic says hello to: hello"
    );
    let sent = h
        .mock()
        .received()
        .into_iter()
        .rfind(|r| r.path == "/v1/messages")
        .unwrap();
    assert_eq!(sent.body["model"], "claude-mock");
    assert_eq!(
        sent.body["thinking"]["budget_tokens"], 1024,
        "passed through natively"
    );
    assert_eq!(sent.headers["x-api-key"], UPSTREAM_KEY);
    assert!(sent.headers.get("authorization").is_none());
    assert_eq!(
        sent.headers["anthropic-beta"],
        "interleaved-thinking-2025-05-14"
    );

    // To an OpenAI backend (and without /v1): translated, with a note of what was dropped.
    let response = h.post("/messages", message("via/openai")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["x-switchboard-dropped-params"],
        "thinking"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message");
    assert_eq!(body["model"], "via/openai");
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(
        body["usage"],
        json!({"input_tokens": 11, "output_tokens": 7})
    );
    let sent = h
        .mock()
        .received()
        .into_iter()
        .rfind(|r| r.path == "/v1/chat/completions")
        .unwrap();
    assert_eq!(
        sent.headers["authorization"],
        format!("Bearer {UPSTREAM_KEY}")
    );
    assert!(sent.headers.get("x-api-key").is_none());

    // Errors: Anthropic's envelope, with the failure summary inside `error`.
    let response = h.post("/v1/messages", message("no/such")).await;
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "not_found_error");
    assert_eq!(body["error"]["code"], "model_not_found");
    assert!(body["error"]["correlation_id"].is_string());
    for (alias, status, kind, family) in [
        ("an-429", 429, "rate_limit_error", "anthropic"),
        ("an-529", 503, "overloaded_error", "anthropic"),
        ("ge-429", 429, "rate_limit_error", "gemini"),
        ("oa-401", 401, "authentication_error", "openai"),
    ] {
        let response = h.post("/v1/messages", message(alias)).await;
        assert_eq!(response.status(), status, "{alias}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], kind, "{alias}: {body}");
        assert_eq!(body["error"]["provider_family"], family, "{alias}: {body}");
        assert_eq!(body["error"]["route"], alias, "{alias}: {body}");
    }

    // Natively too: an upstream `error` event becomes the summary in Anthropic's `error` event.
    let mut overloaded = message("an-errevent");
    overloaded["stream"] = json!(true);
    let text = h
        .post("/v1/messages", overloaded)
        .await
        .text()
        .await
        .unwrap();
    assert!(text.starts_with("event: message_start\n"), "{text}");
    let last = text.trim_end().lines().last().unwrap_or("");
    let error: Value = serde_json::from_str(last.trim_start_matches("data: ")).unwrap();
    assert_eq!(error["type"], "error", "{text}");
    assert_eq!(error["error"]["type"], "overloaded_error", "{text}");
    assert_eq!(error["error"]["provider_family"], "anthropic", "{text}");
    assert_eq!(error["error"]["route"], "an-errevent", "{text}");

    // A stream that breaks mid-way ends with Anthropic's `error` event.
    let mut broken = message("oa-break");
    broken["stream"] = json!(true);
    let response = h.post("/v1/messages", broken).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    assert!(text.starts_with("event: message_start\n"), "{text}");
    assert!(
        text.contains("event: error\ndata: {\"type\":\"error\",\"error\":{"),
        "{text}"
    );

    // count_tokens: Anthropic's own count for an anthropic backend, the estimate elsewhere.
    let count = json!({"model": "via/anthropic", "messages": [{"role": "user", "content": "count these words please"}]});
    let body: Value = h
        .post("/v1/messages/count_tokens", count.clone())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"input_tokens": 42}));
    let mut count = count;
    count["model"] = json!("via/gemini");
    let response = h.post("/messages/count_tokens", count).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let estimate = body["input_tokens"].as_u64().unwrap();
    assert!((5..20).contains(&estimate), "{body}");
    h.stop().await;
}
