//! The Responses API ingress (`/v1/responses`) against every backend kind, each a mock speaking
//! its own wire format over TCP: OpenAI chat (translated), Anthropic (translated), Gemini
//! (translated) and an `openai` provider with `responses = true` (native passthrough). The
//! official `openai` SDKs (Python and Node) do tool-call round trips with `responses.create`,
//! `previous_response_id` and `responses.stream`; plain HTTP checks stored responses, errors,
//! mid-stream failures and compressed request bodies.
//!
//! Needs `SWITCHBOARD_PYTHON` and `SWITCHBOARD_NODE` like providers_sdk.rs; nothing is skipped.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

mod providers_support;

use std::path::Path;
use std::process::Stdio;

use providers_support::{repo_root, Harness, UPSTREAM_KEY};
use serde_json::{json, Value};
use tokio::io::AsyncReadExt;

const ALIASES: &str = "[aliases.\"via/openai\"]\ntargets = [\"oa/gpt-mock\"]\n\
                       [aliases.\"via/anthropic\"]\ntargets = [\"an/claude-mock\"]\n\
                       [aliases.\"via/gemini\"]\ntargets = [\"ge/gemini-mock\"]\n\
                       [aliases.\"via/native\"]\ntargets = [\"oar/gpt-mock\"]\n\
                       [aliases.broken]\ntargets = [\"oa/break-stream\"]\n\
                       [aliases.\"native/failing\"]\ntargets = [\"oar/failed-stream\"]\n";
const ALIAS_NAMES: [&str; 4] = ["via/openai", "via/anthropic", "via/gemini", "via/native"];

fn providers() -> String {
    "[providers.oar]\nkind = \"openai\"\nbase_url = \"{MOCK_ANTHROPIC}/v1\"\napi_key = \"{KEY}\"\nresponses = true\n".into()
}

fn interpreter(var: &str) -> String {
    match std::env::var(var) {
        Ok(path) if !path.is_empty() => path,
        _ => panic!("set {var} (see crates/gateway/tests/providers_sdk.rs)"),
    }
}

async fn run(program: &str, script: &Path, cwd: &Path, base: &str) -> (bool, String) {
    let output = tokio::process::Command::new(program)
        .arg(script)
        .arg(base)
        .args(ALIAS_NAMES)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = format!(
        "{program} {}:\nstdout:\n{}\nstderr:\n{}",
        script.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdks_do_responses_round_trips_through_every_backend_kind() {
    let (python, node) = (
        interpreter("SWITCHBOARD_PYTHON"),
        interpreter("SWITCHBOARD_NODE"),
    );
    let root = repo_root();
    let h = Harness::start(ALIASES, &providers()).await;
    let py_script = root.join("tests/python/responses_roundtrip.py");
    let node_script = root.join("tests/node/responses_roundtrip.mjs");
    let node_dir = root.join("tests/node");
    let (py, js) = tokio::join!(
        run(&python, &py_script, &root, &h.base),
        run(&node, &node_script, &node_dir, &h.base),
    );
    for (ok, text) in [&py, &js] {
        assert!(*ok, "{text}");
        for alias in ALIAS_NAMES {
            assert!(text.contains(&format!("ok {alias}")), "{text}");
        }
    }
    let received = h.mock().received();
    // The native alias reached /v1/responses with the client's own shape; the translated ones
    // reached their own dialects. No client key went upstream.
    let native: Vec<_> = received
        .iter()
        .filter(|r| r.path == "/v1/responses")
        .collect();
    assert!(native.len() >= 10, "{}", native.len());
    for r in &native {
        assert_eq!(r.body["model"], "gpt-mock");
        assert!(r.body.get("previous_response_id").is_none(), "{}", r.body);
        assert!(r.body["tools"][0]["name"] == "get_weather", "{}", r.body);
    }
    for r in &received {
        let auth = r.headers.get("authorization").and_then(|v| v.to_str().ok());
        assert_ne!(auth, Some("Bearer client-secret-key"), "{}", r.path);
    }
    assert!(received.iter().any(|r| r.path == "/v1/chat/completions"));
    assert!(received.iter().any(|r| r.path == "/v1/messages"));
    assert!(received.iter().any(|r| r.path.starts_with("/v1beta/")));
    let _ = UPSTREAM_KEY;
    h.stop().await;
}

async fn read_events(response: reqwest::Response) -> Vec<Value> {
    let text = response.text().await.unwrap();
    text.lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

#[tokio::test]
async fn stored_responses_errors_and_failed_streams() {
    let h = Harness::start(ALIASES, &providers()).await;

    // Built-in tools are dropped and named; reasoning effort is dropped for Anthropic.
    let r = h
        .post(
            "/v1/responses",
            json!({"model": "via/anthropic", "input": "hi", "reasoning": {"effort": "low"},
                   "tools": [{"type": "web_search"}], "metadata": {"k": "v"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let dropped = r.headers()["x-switchboard-dropped-params"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        dropped.contains("tools.web_search") && dropped.contains("reasoning_effort"),
        "{dropped}"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["object"], "response");
    assert_eq!(body["metadata"], json!({"k": "v"}));
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("resp_"), "{id}");

    // GET returns it; DELETE removes it; then it is a typed 404.
    let got: Value = h
        .http
        .get(format!("{}/v1/responses/{id}", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(got["id"], id.as_str());
    let deleted = h
        .http
        .delete(format!("{}/v1/responses/{id}", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 200);
    assert_eq!(deleted.json::<Value>().await.unwrap()["deleted"], true);
    let gone = h
        .http
        .get(format!("{}/v1/responses/{id}", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(
        gone.json::<Value>().await.unwrap()["error"]["code"],
        "response_not_found"
    );

    // An unknown previous_response_id is a typed 404 in OpenAI's envelope, with the summary.
    let r = h
        .post(
            "/v1/responses",
            json!({"model": "via/openai", "input": "x", "previous_response_id": "resp_nope"}),
        )
        .await;
    assert_eq!(r.status(), 404);
    let error: Value = r.json().await.unwrap();
    assert_eq!(error["error"]["code"], "previous_response_not_found");
    assert!(error["error"]["correlation_id"].is_string(), "{error}");

    // Unknown alias: OpenAI's envelope with the failure summary.
    let r = h
        .post("/v1/responses", json!({"model": "nope", "input": "x"}))
        .await;
    assert_eq!(r.status(), 404);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "model_not_found"
    );

    // A stream that breaks after it started ends with response.failed, never silently.
    let r = h
        .post(
            "/v1/responses",
            json!({"model": "broken", "input": "x", "stream": true}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let events = read_events(r).await;
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds.first(), Some(&"response.created"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"response.failed"), "{kinds:?}");
    let failed = events.last().unwrap();
    assert_eq!(failed["sequence_number"], (events.len() - 1) as u64);
    assert_eq!(failed["response"]["id"], events[0]["response"]["id"]);
    assert_eq!(failed["response"]["error"]["route"], "broken");
    assert!(failed["response"]["error"]["code"].is_string(), "{failed}");

    // A native backend's own response.failed becomes Switchboard's, with the summary inside.
    let r = h
        .post(
            "/v1/responses",
            json!({"model": "native/failing", "input": "x", "stream": true}),
        )
        .await;
    let native = read_events(r).await;
    let failed = native.last().unwrap();
    assert_eq!(failed["type"], "response.failed", "{native:?}");
    assert_eq!(failed["sequence_number"], (native.len() - 1) as u64);
    assert_eq!(failed["response"]["id"], native[0]["response"]["id"]);
    let error = &failed["response"]["error"];
    assert_eq!(error["route"], "native/failing", "{error}");
    assert_eq!(error["provider_family"], "openai", "{error}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("mock failed mid-stream"),
        "{error}"
    );
    h.stop().await;
}

async fn compress(encoding: &str, data: &[u8]) -> Vec<u8> {
    use async_compression::tokio::bufread::{GzipEncoder, ZlibEncoder, ZstdEncoder};
    let mut out = Vec::new();
    match encoding {
        "gzip" => GzipEncoder::new(data).read_to_end(&mut out).await,
        "deflate" => ZlibEncoder::new(data).read_to_end(&mut out).await,
        _ => ZstdEncoder::new(data).read_to_end(&mut out).await,
    }
    .unwrap();
    out
}

#[tokio::test]
async fn compressed_request_bodies_on_every_endpoint() {
    let h = Harness::start(ALIASES, &providers()).await;
    let send = |path: &'static str, encoding: &'static str, body: Vec<u8>| {
        h.http
            .post(format!("{}{path}", h.base))
            .header("content-type", "application/json")
            .header("content-encoding", encoding)
            .body(body)
            .send()
    };
    let chat = json!({"model": "via/openai", "messages": [{"role": "user", "content": "hi"}]});
    let responses = json!({"model": "via/native", "input": "hi", "store": false});
    let messages = json!({"model": "via/anthropic", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    for encoding in ["gzip", "deflate", "zstd"] {
        for (path, body) in [
            ("/v1/chat/completions", &chat),
            ("/v1/responses", &responses),
            ("/v1/messages", &messages),
        ] {
            let data = compress(encoding, body.to_string().as_bytes()).await;
            let r = send(path, encoding, data).await.unwrap();
            assert_eq!(
                r.status(),
                200,
                "{encoding} {path}: {}",
                r.text().await.unwrap()
            );
        }
    }
    // A zip bomb: 64 MB of zeros in a few KB is cut off at the body cap, as a 413.
    let mut bomb = chat.to_string().into_bytes();
    bomb.pop();
    bomb.extend_from_slice(b",\"pad\":\"");
    bomb.extend(std::iter::repeat_n(b'0', 64 << 20));
    bomb.extend_from_slice(b"\"}");
    let data = compress("zstd", &bomb).await;
    assert!(data.len() < 64 << 10, "{}", data.len());
    let r = send("/v1/chat/completions", "zstd", data).await.unwrap();
    assert_eq!(r.status(), 413);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "request_too_large"
    );
    // A corrupt body is a typed 400; an unknown encoding a 415.
    let r = send("/v1/responses", "gzip", b"not gzip at all".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "invalid_body_encoding"
    );
    let r = send("/v1/chat/completions", "br", b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"]["code"],
        "unsupported_content_encoding"
    );
    h.stop().await;
}
