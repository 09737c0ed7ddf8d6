//! Every failure: its status and OpenAI's error envelope with the failure summary
//! (`route`, `provider_family`, `retry_after_ms`, `correlation_id`).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::{
    assert_error_object, chat_body, header, read_sse, row_for, stream_body, Failure, Gw,
    BASE_CONFIG,
};

/// The secret in the mock's error bodies; it must never reach a client.
const MOCK_SECRET: &str = "sk-mocksecret123";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_alias_is_404_with_suggestions() {
    let gw = Gw::start("[aliases.embed]\ntargets = [\"mock/e\"]\n").await;
    let failure = Failure::read(gw.chat(&chat_body("Local/Caht")).await).await;
    failure.assert_envelope(404, "model_not_found");
    let error = failure.error();
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["route"], "Local/Caht");
    assert_eq!(error["provider_family"], Value::Null);
    assert_eq!(error["retry_after_ms"], Value::Null);
    assert_eq!(error["suggestions"][0], "local/chat", "{}", failure.text);
    assert!(
        failure.message().contains("`local/chat`"),
        "{}",
        failure.text
    );

    // Nothing close: no suggestions, and the message says where to look.
    let failure = Failure::read(gw.chat(&chat_body("zzzzzzzzzzzzzzz")).await).await;
    failure.assert_envelope(404, "model_not_found");
    assert!(failure
        .error()
        .get("suggestions")
        .is_none_or(|s| s.as_array().is_some_and(Vec::is_empty)));
    assert!(failure.message().contains("/v1/models"), "{}", failure.text);

    // The same for streams: the error comes before any stream starts.
    let failure = Failure::read(gw.chat(&stream_body("local/caht")).await).await;
    failure.assert_envelope(404, "model_not_found");
    assert!(gw.mock().received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_400_with_line_and_column() {
    let gw = Gw::start("").await;
    let text = "{\n  \"model\": \"local/chat\",\n  \"messages\": [}\n}";
    let parse_error = serde_json::from_str::<Value>(text).unwrap_err();
    let failure = Failure::read(gw.post_raw("/v1/chat/completions", text).await).await;
    failure.assert_envelope(400, "invalid_json");
    assert_eq!(failure.error()["type"], "invalid_request_error");
    let position = format!(
        "line {}, column {}",
        parse_error.line(),
        parse_error.column()
    );
    assert!(
        failure.message().contains(&position),
        "expected {position:?} in {}",
        failure.text
    );

    // Valid JSON of the wrong shape, and a missing model, are 400s too.
    let failure = Failure::read(gw.post_raw("/v1/chat/completions", "[1, 2]").await).await;
    failure.assert_envelope(400, "invalid_body");
    let failure = Failure::read(
        gw.post("/v1/chat/completions", &json!({"messages": []}))
            .await,
    )
    .await;
    failure.assert_envelope(400, "missing_model");
    let failure = Failure::read(
        gw.post(
            "/v1/chat/completions",
            &json!({"model": "local/chat", "stream": "yes"}),
        )
        .await,
    )
    .await;
    failure.assert_envelope(400, "invalid_stream");
    assert!(gw.mock().received().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_the_limit_is_413() {
    let config = BASE_CONFIG.replace("[server]\n", "[server]\nmax_body_mb = 0.001\n");
    let gw = Gw::start_with(Default::default(), &config).await;
    let limit = (0.001 * 1024.0 * 1024.0) as usize;
    let mut big = chat_body("local/chat");
    big["messages"][0]["content"] = json!("y".repeat(limit * 3));
    let failure = Failure::read(gw.chat(&big).await).await;
    failure.assert_envelope(413, "request_too_large");
    assert!(
        failure.message().contains("max_body_mb"),
        "{}",
        failure.text
    );

    // A chunked body (no Content-Length) is held to the same limit.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..4)
        .map(|_| Ok(vec![b' '; limit]))
        .chain(std::iter::once(Ok(b"{}".to_vec())))
        .collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let failure = Failure::read(gw.post_raw("/v1/chat/completions", body).await).await;
    failure.assert_envelope(413, "request_too_large");

    // Just under the limit still goes through.
    let mut small = chat_body("local/chat");
    let size = serde_json::to_vec(&small).unwrap().len();
    small["messages"][0]["content"] = json!("y".repeat(limit - size - 64));
    assert!(serde_json::to_vec(&small).unwrap().len() < limit);
    let response = gw.chat(&small).await;
    assert_eq!(response.status(), 200);
    assert_eq!(gw.mock().received().len(), 1);
}

// Aliases below that check one failure's mapping set `retries = { attempts = 1 }`: by default an
// alias retries a failing target (see `retries_of_a_single_target_keep_its_error`).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_backend_is_503_naming_it() {
    let gw = Gw::start(
        r#"
[providers.gone]
kind = "openai"
base_url = "{closed}"

[aliases.down]
targets = ["gone/some-model"]
retries = { attempts = 1 }

[aliases.down-stream]
targets = ["gone/stream-model"]
retries = { attempts = 1 }
"#,
    )
    .await;
    let started = Instant::now();
    let failure = Failure::read(gw.chat(&chat_body("down")).await).await;
    assert!(started.elapsed() < Duration::from_secs(3), "fails fast");
    failure.assert_envelope(503, "backend_unreachable");
    let error = failure.error();
    assert_eq!(error["type"], "upstream_error");
    assert_eq!(error["route"], "down");
    assert_eq!(error["provider_family"], "openai");
    assert!(
        failure.message().contains("gone/some-model"),
        "the message names the backend: {}",
        failure.text
    );

    // Streams fail the same way, before any event.
    let failure = Failure::read(gw.chat(&stream_body("down-stream")).await).await;
    failure.assert_envelope(503, "backend_unreachable");
    assert!(
        failure.message().contains("gone/stream-model"),
        "{}",
        failure.text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_backend_is_504() {
    let gw = Gw::start(
        r#"
[aliases.slow]
targets = [{ model = "mock/slow-2000", timeouts = { first_byte_s = 0.3 } }]
retries = { attempts = 1 }
"#,
    )
    .await;
    let started = Instant::now();
    let failure = Failure::read(gw.chat(&chat_body("slow")).await).await;
    let elapsed = started.elapsed();
    failure.assert_envelope(504, "backend_timeout");
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_millis(1500),
        "timed out after first_byte_s (0.3 s), took {elapsed:?}"
    );
    let error = failure.error();
    assert_eq!(error["type"], "timeout_error");
    assert_eq!(error["route"], "slow");
    assert_eq!(error["provider_family"], "openai");
    assert!(
        failure.message().contains("mock/slow-2000"),
        "{}",
        failure.text
    );
    assert!(
        failure.message().contains("first_byte_s"),
        "{}",
        failure.text
    );
}

/// The brief's cases with the default retries (3 attempts): an alias with one target that fails
/// the same way every time should answer with that failure (README: `backend_timeout` 504,
/// `backend_unreachable` 503, the backend's 5xx), not a 503 `all_backends_failed` that repeats
/// one backend's error three times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_of_a_single_target_keep_its_error() {
    let gw = Gw::start(
        r#"
[providers.gone]
kind = "openai"
base_url = "{closed}"

[aliases.down]
targets = ["gone/some-model"]

[aliases.slow]
targets = [{ model = "mock/slow-2000", timeouts = { first_byte_s = 0.3 } }]

[aliases.e500]
targets = ["mock/fail-500"]
"#,
    )
    .await;
    let mut problems = Vec::new();
    for (alias, status, code) in [
        ("down", 503, "backend_unreachable"),
        ("slow", 504, "backend_timeout"),
        ("e500", 500, "backend_error"),
    ] {
        let failure = Failure::read(gw.chat(&chat_body(alias)).await).await;
        let got = (failure.status.as_u16(), failure.error()["code"].clone());
        if got != (status, json!(code)) {
            problems.push(format!(
                "{alias}: expected {status} {code}, got {} {}: {}",
                got.0,
                got.1,
                failure.message()
            ));
        }
    }
    // The retries did happen (3 attempts each on the mock).
    let models: Vec<Value> = gw
        .mock()
        .received()
        .into_iter()
        .map(|r| r.body["model"].clone())
        .collect();
    assert_eq!(
        models.iter().filter(|m| **m == "fail-500").count(),
        3,
        "{models:?}"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backend_errors_keep_their_status_and_are_sanitized() {
    let cases = [
        (
            "400",
            400,
            "backend_rejected_request",
            "invalid_request_error",
        ),
        ("401", 401, "backend_auth_failed", "authentication_error"),
        (
            "404",
            404,
            "backend_model_not_found",
            "invalid_request_error",
        ),
        ("429", 429, "backend_rate_limited", "rate_limit_error"),
        ("500", 500, "backend_error", "upstream_error"),
        ("503", 503, "backend_error", "upstream_error"),
    ];
    // One target per case and per mode (a failure can open a target's breaker or mark it
    // misconfigured, which would change the next request's answer): `mock/...` for plain
    // requests, `mockstream/...` (the same mock) for streams.
    let mut extra =
        String::from("[providers.mockstream]\nkind = \"openai\"\nbase_url = \"{mock}\"\n");
    for (n, ..) in cases {
        extra.push_str(&format!(
            "[aliases.e{n}]\ntargets = [\"mock/fail-{n}\"]\nretries = {{ attempts = 1 }}\n\
             [aliases.s{n}]\ntargets = [\"mockstream/fail-{n}\"]\nretries = {{ attempts = 1 }}\n"
        ));
    }
    let gw = Gw::start(&extra).await;
    for (n, status, code, kind) in cases {
        for (alias, body) in [
            (format!("e{n}"), chat_body(&format!("e{n}"))),
            (format!("s{n}"), stream_body(&format!("s{n}"))),
        ] {
            let failure = Failure::read(gw.chat(&body).await).await;
            failure.assert_envelope(status, code);
            let error = failure.error();
            assert_eq!(error["type"], kind, "{alias}: {}", failure.text);
            assert_eq!(error["route"], alias.as_str());
            assert_eq!(error["provider_family"], "openai");
            let target = format!("/fail-{n}");
            assert!(failure.message().contains(&target), "{}", failure.text);
            // The backend's own message is kept, its secret is not.
            assert!(
                failure.message().contains("mock failure"),
                "{}",
                failure.text
            );
            assert!(!failure.text.contains(MOCK_SECRET), "{}", failure.text);
            assert!(!failure.text.contains("mocksecret"), "{}", failure.text);
            for (name, value) in &failure.headers {
                let value = value.to_str().unwrap_or_default();
                assert!(!value.contains("mocksecret"), "header {name}: {value}");
            }
            if status == 429 {
                assert_eq!(error["retry_after_ms"], 2000, "{}", failure.text);
                assert_eq!(header(&failure.headers, "retry-after"), Some("2"));
            } else {
                assert_eq!(error["retry_after_ms"], Value::Null, "{}", failure.text);
                assert!(failure.headers.get("retry-after").is_none());
            }
        }
    }
    assert_eq!(gw.mock().received().len(), cases.len() * 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_targets_are_skipped_with_503() {
    let gw = Gw::start(
        r#"
[providers.gone]
kind = "openai"
base_url = "{closed}"

[aliases.limited]
targets = ["mock/fail-429"]
retries = { attempts = 1 }

[aliases.badkey]
targets = ["mock/fail-401"]
retries = { attempts = 1 }

[aliases.down]
targets = ["gone/m"]
retries = { attempts = 1 }
"#,
    )
    .await;

    // A 429 with Retry-After: 2 cools the target down for that long: the next request is
    // answered at once, without calling the backend.
    let failure = Failure::read(gw.chat(&chat_body("limited")).await).await;
    failure.assert_envelope(429, "backend_rate_limited");
    let failure = Failure::read(gw.chat(&chat_body("limited")).await).await;
    failure.assert_envelope(503, "no_backend_available");
    let retry = failure.error()["retry_after_ms"]
        .as_u64()
        .expect("retry_after_ms");
    assert!(retry > 0 && retry <= 2000, "{}", failure.text);
    assert!(header(&failure.headers, "retry-after").is_some());
    assert!(
        failure.message().contains("mock/fail-429"),
        "{}",
        failure.text
    );
    assert!(!failure.text.contains("mocksecret"), "{}", failure.text);

    // A 401 marks the target misconfigured: skipped from then on.
    let failure = Failure::read(gw.chat(&chat_body("badkey")).await).await;
    failure.assert_envelope(401, "backend_auth_failed");
    let failure = Failure::read(gw.chat(&chat_body("badkey")).await).await;
    failure.assert_envelope(503, "no_backend_available");
    assert!(
        failure.message().contains("misconfigured"),
        "{}",
        failure.text
    );
    assert!(!failure.text.contains("mocksecret"), "{}", failure.text);

    // Three consecutive failures open the breaker.
    for _ in 0..3 {
        let failure = Failure::read(gw.chat(&chat_body("down")).await).await;
        failure.assert_envelope(503, "backend_unreachable");
    }
    let failure = Failure::read(gw.chat(&chat_body("down")).await).await;
    failure.assert_envelope(503, "no_backend_available");
    assert!(failure.error()["retry_after_ms"]
        .as_u64()
        .is_some_and(|ms| ms > 0));

    assert_eq!(
        gw.mock().received().len(),
        2,
        "skipped targets are not called"
    );

    // /health shows each target's state.
    let health: Value = gw.get("/health").await.json().await.unwrap();
    let state = |target: &str| {
        health["targets"]
            .as_array()
            .and_then(|ts| ts.iter().find(|t| t["target"] == target))
            .map(|t| t["state"].clone())
            .unwrap_or_else(|| panic!("no {target} in {health}"))
    };
    assert_eq!(state("mock/fail-401"), "misconfigured");
    assert_eq!(state("gone/m"), "open");
    assert_eq!(state("mock/some-model"), "healthy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_mid_stream_ends_the_stream_with_an_error_event() {
    let mut gw = Gw::start(
        r#"
[aliases.broken]
targets = ["mock/break-stream"]

[aliases.stalled]
targets = [{ model = "mock/stall-stream", timeouts = { idle_s = 0.3 } }]
"#,
    )
    .await;
    for (alias, code, correlation_id) in [
        ("broken", "backend_protocol_error", "mid-stream-broken"),
        ("stalled", "backend_timeout", "mid-stream-stalled"),
    ] {
        let started = Instant::now();
        let (response, (events, _)) = tokio::time::timeout(Duration::from_secs(5), async {
            let response = gw.chat_as(correlation_id, &stream_body(alias)).await;
            let status = response.status();
            (status, read_sse(response).await)
        })
        .await
        .unwrap_or_else(|_| panic!("{alias}: the stream hung"));
        // The stream had started, so the status is already sent.
        assert_eq!(response, 200, "{alias}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{alias}: the stream ended promptly ({:?})",
            started.elapsed()
        );
        let last = events.last().expect("some events");
        assert!(
            !events.iter().any(|e| e.data == "[DONE]"),
            "{alias}: a failed stream does not say [DONE]: {events:#?}"
        );
        let last: Value = last.json().expect("the last event is JSON");
        assert_error_object(&last["error"], code);
        assert_eq!(last["error"]["route"], alias);
        assert_eq!(last["error"]["provider_family"], "openai");
        assert_eq!(last["error"]["correlation_id"], correlation_id);
        // What came before the failure was forwarded.
        let first = events[0].json().expect("first event is JSON");
        assert_eq!(first["object"], "chat.completion.chunk", "{alias}");
    }
    let rows = gw.finish().await;
    let broken = row_for(&rows, "mid-stream-broken");
    assert!(broken.streamed);
    assert_eq!(broken.error_type.as_deref(), Some("backend_protocol_error"));
    let stalled = row_for(&rows, "mid-stream-stalled");
    assert_eq!(stalled.error_type.as_deref(), Some("backend_timeout"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallbacks_are_opt_in() {
    let mut gw = Gw::start(
        r#"
[providers.gone]
kind = "openai"
base_url = "{closed}"

[aliases.primary]
targets = ["gone/first-choice"]
fallbacks = ["backup"]

[aliases.backup]
targets = ["mock/from-backup"]

[aliases.alone]
targets = ["gone/alone-model"]

[aliases.picky]
targets = ["mock/fail-400"]
fallbacks = ["backup"]

[aliases.failover]
targets = ["gone/failover-first", "mock/failover-second"]

[aliases.doomed]
targets = ["mock/fail-429"]
retries = { attempts = 1 }
fallbacks = ["also-down"]

[aliases.also-down]
targets = ["gone/also-down"]
retries = { attempts = 1 }
"#,
    )
    .await;

    // A failing target with a fallback: served by the fallback alias.
    let response = gw.chat_as("fallback-used", &chat_body("primary")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(response.headers(), "x-switchboard-alias"),
        Some("backup")
    );
    assert_eq!(
        header(response.headers(), "x-switchboard-target"),
        Some("mock/from-backup")
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["model"], "from-backup");

    // Streams too: nothing was sent before the first target failed.
    let response = gw.chat(&stream_body("primary")).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(response.headers(), "x-switchboard-alias"),
        Some("backup")
    );
    let (events, _) = read_sse(response).await;
    assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));

    // No fallbacks configured: fail fast with a 503 naming the backend; no other alias is tried.
    let before = gw.mock().received().len();
    let started = Instant::now();
    let failure = Failure::read(gw.chat(&chat_body("alone")).await).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(failure.status, 503, "{}", failure.text);
    // The code is covered by `retries_of_a_single_target_keep_its_error`.
    let code = failure.error()["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        matches!(code.as_str(), "backend_unreachable" | "all_backends_failed"),
        "{}",
        failure.text
    );
    assert_error_object(failure.error(), &code);
    assert_eq!(failure.error()["route"], "alone");
    assert!(
        failure.message().contains("gone/alone-model"),
        "{}",
        failure.text
    );
    assert_eq!(gw.mock().received().len(), before);

    // A request the backend rejects (4xx) is not retried elsewhere.
    let failure = Failure::read(gw.chat(&chat_body("picky")).await).await;
    failure.assert_envelope(400, "backend_rejected_request");

    // Another target of the same alias serves when one fails.
    for _ in 0..2 {
        let response = gw.chat(&chat_body("failover")).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            header(response.headers(), "x-switchboard-alias"),
            Some("failover")
        );
        assert_eq!(
            header(response.headers(), "x-switchboard-target"),
            Some("mock/failover-second")
        );
    }

    let models: Vec<Value> = gw
        .mock()
        .received()
        .into_iter()
        .map(|r| r.body["model"].clone())
        .collect();
    assert_eq!(
        models,
        [
            json!("from-backup"),
            json!("from-backup"),
            json!("fail-400"),
            json!("failover-second"),
            json!("failover-second")
        ]
    );

    // Every backend failed: one 503 naming each, with the shortest retry hint.
    let failure = Failure::read(gw.chat(&chat_body("doomed")).await).await;
    failure.assert_envelope(503, "all_backends_failed");
    assert_eq!(failure.error()["route"], "doomed");
    assert!(
        failure.message().contains("mock/fail-429") && failure.message().contains("gone/also-down"),
        "{}",
        failure.text
    );
    assert_eq!(failure.error()["retry_after_ms"], 2000);
    assert!(!failure.text.contains(MOCK_SECRET), "{}", failure.text);

    let rows = gw.finish().await;
    let row = row_for(&rows, "fallback-used");
    assert_eq!(row.status, 200);
    assert_eq!(row.alias.as_deref(), Some("backup"));
    assert_eq!(row.target.as_deref(), Some("mock/from-backup"));
    let attempts: Value =
        serde_json::from_str(row.attempts.as_deref().expect("attempts are logged")).unwrap();
    let tried: Vec<&str> = attempts
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["target"].as_str())
        .collect();
    assert_eq!(tried.first(), Some(&"gone/first-choice"), "{tried:?}");
    assert_eq!(tried.last(), Some(&"mock/from-backup"), "{tried:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_endpoints_and_methods_use_the_envelope() {
    let gw = Gw::start("").await;
    let failure = Failure::read(gw.get("/v1/nothing-here").await).await;
    failure.assert_envelope(404, "unknown_endpoint");
    let failure = Failure::read(gw.get("/v1/chat/completions").await).await;
    failure.assert_envelope(405, "method_not_allowed");
}
