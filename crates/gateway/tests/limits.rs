//! Rate limits end to end: RPM per client token with Retry-After, concurrency per alias, a
//! target at its cap skipped for another, and TPM charged up front then settled to real usage.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

use std::time::Duration;

use mock_upstream::{MockConfig, MockUpstream};
use serde_json::{json, Value};
use switchboard_gateway::hash_token;
use switchboard_test_support::TestGateway;

const TOKEN: &str = "sb-limits-test-token";

/// The gateway on `body`, and its chat completions URL.
async fn start(body: &str) -> (TestGateway, String) {
    let gateway = TestGateway::builder().config(body).start().await;
    let url = gateway.url("/v1/chat/completions");
    (gateway, url)
}

fn chat(http: &reqwest::Client, url: &str, model: &str, extra: Value) -> reqwest::RequestBuilder {
    let mut body = json!({"model": model, "messages": [{"role": "user", "content": "hi"}]});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    http.post(url).bearer_auth(TOKEN).json(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpm_per_client_token_answers_429_with_retry_after() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let (mut gateway, url) = start(&format!(
        "[providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n[aliases.a]\ntargets = [\"m/x\"]\n\
         [tokens.app]\nhash = \"sha256:{}\"\nlimits = {{ rpm = 3 }}\n",
        mock.base_url(),
        hash_token(TOKEN)
    ))
    .await;
    let http = reqwest::Client::new();
    for _ in 0..3 {
        assert_eq!(
            chat(&http, &url, "a", json!({}))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
    }
    let response = chat(&http, &url, "a", json!({})).send().await.unwrap();
    assert_eq!(response.status(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded");
    let ms = body["error"]["retry_after_ms"].as_u64().unwrap();
    assert!(
        (15_000..=20_000).contains(&ms),
        "one request per 20 s comes back: {ms}"
    );
    assert_eq!(retry_after, ms.div_ceil(1000));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("client token \"app\" is over its limit of 3 requests per minute"));
    assert_eq!(
        mock.received().len(),
        3,
        "the refused request never reached the backend"
    );
    gateway.stop_within(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_cap_holds_and_frees_when_requests_end() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let (mut gateway, url) = start(&format!(
        "[providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n[aliases.a]\ntargets = [\"m/slow-300\"]\nlimits = {{ concurrent = 2 }}\n",
        mock.base_url()
    ))
    .await;
    let http = reqwest::Client::new();
    let calls: Vec<_> = (0..4)
        .map(|_| chat(&http, &url, "a", json!({})).send())
        .collect();
    let statuses: Vec<u16> = futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.unwrap().status().as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        2,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        2,
        "{statuses:?}"
    );
    // Streams hold their slot until they end; afterwards the cap is free again.
    let streamed = chat(&http, &url, "a", json!({"stream": true}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(streamed.contains("[DONE]"));
    assert_eq!(
        chat(&http, &url, "a", json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    gateway.stop_within(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_at_its_cap_is_skipped_for_another() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let (mut gateway, url) = start(&format!(
        "[providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n\
         [aliases.a]\nstrategy = \"least_inflight\"\ntargets = [{{ model = \"m/capped\", limits = {{ rpm = 1 }} }}, \"m/spare\"]\n\
         [aliases.solo]\ntargets = [{{ model = \"m/only\", limits = {{ rpm = 1 }} }}]\n",
        mock.base_url()
    ))
    .await;
    let http = reqwest::Client::new();
    let target = |r: &reqwest::Response| {
        r.headers()["x-switchboard-target"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let first = chat(&http, &url, "a", json!({})).send().await.unwrap();
    assert_eq!(target(&first), "m/capped");
    let second = chat(&http, &url, "a", json!({})).send().await.unwrap();
    assert_eq!(target(&second), "m/spare");
    assert_eq!(
        chat(&http, &url, "solo", json!({}))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let refused = chat(&http, &url, "solo", json!({})).send().await.unwrap();
    assert_eq!(
        refused.status(),
        429,
        "only caps stood in the way: a 429, not a 503"
    );
    gateway.stop_within(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tpm_charges_an_estimate_and_settles_to_real_usage() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let (mut gateway, url) = start(&format!(
        "[providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n[aliases.a]\ntargets = [\"m/x\"]\n\
         [tokens.app]\nhash = \"sha256:{}\"\ntenant = \"home\"\n[tenants.home]\nlimits = {{ tpm = 600 }}\n",
        mock.base_url(),
        hash_token(TOKEN)
    ))
    .await;
    let http = reqwest::Client::new();
    // Each call is charged ~260 tokens up front (input + 256 default output) but the mock
    // reports 18 used: without settling, the third call would already be refused.
    for i in 0..10 {
        assert_eq!(
            chat(&http, &url, "a", json!({}))
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "call {i}"
        );
    }
    let response = chat(&http, &url, "a", json!({"max_tokens": 500}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("tenant \"home\" is over its limit of 600 tokens per minute"));
    gateway.stop_within(Duration::from_secs(1)).await;
}
