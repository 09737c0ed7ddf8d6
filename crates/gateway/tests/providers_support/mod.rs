//! Shared by the `providers_*` tests: one mock upstream that speaks OpenAI, Anthropic and Gemini
//! over TCP, and the gateway (switchboard_test_support's builder) with a provider of each kind.

#![allow(dead_code, unused_imports)] // each test file uses a part

use std::ops::{Deref, DerefMut};
use std::time::Duration;

use switchboard_test_support::{MockConfig, TestGateway};

pub use switchboard_test_support::repo_root;

/// The key the gateway sends upstream (clients send `client-secret-key`, never forwarded).
pub const UPSTREAM_KEY: &str = "upstream-key-123";

/// The running gateway; `post` sends as a client with the client key in both auth headers.
pub struct Harness(TestGateway);

impl Deref for Harness {
    type Target = TestGateway;
    fn deref(&self) -> &TestGateway {
        &self.0
    }
}

impl DerefMut for Harness {
    fn deref_mut(&mut self) -> &mut TestGateway {
        &mut self.0
    }
}

impl Harness {
    /// Providers `oa` (openai), `an` (anthropic), `ge` (gemini) on the mock, plus `aliases`
    /// (TOML for `[aliases...]` tables) and `extra_providers` (may use `{mock…}` and `{KEY}`).
    pub async fn start(aliases: &str, extra_providers: &str) -> Harness {
        let builder = TestGateway::builder();
        let key = builder.secret("upstream.key", UPSTREAM_KEY);
        let bad_key = builder.secret("bad.key", "bad-key");
        let text = format!(
            "[providers.oa]\nkind = \"openai\"\nbase_url = \"{{mock}}\"\napi_key = \"{key}\"\n\n\
             [providers.an]\nkind = \"anthropic\"\nbase_url = \"{{mock_anthropic}}\"\napi_key = \"{key}\"\n\n\
             [providers.ge]\nkind = \"gemini\"\nbase_url = \"{{mock_gemini}}\"\napi_key = \"{key}\"\n\n\
             [providers.an_bad]\nkind = \"anthropic\"\nbase_url = \"{{mock_anthropic}}\"\napi_key = \"{bad_key}\"\n\n\
             [providers.ge_bad]\nkind = \"gemini\"\nbase_url = \"{{mock_gemini}}\"\napi_key = \"{bad_key}\"\n\n\
             {extra_providers}\n{aliases}",
        )
        .replace("{MOCK_ANTHROPIC}", "{mock_anthropic}")
        .replace("{MOCK_GEMINI}", "{mock_gemini}")
        .replace("{KEY}", &key);
        let gateway = builder
            .mock(MockConfig {
                chunk_interval: Duration::from_millis(2),
                ..MockConfig::default()
            })
            .config(text)
            .start()
            .await;
        Harness(gateway)
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.0
            .post(path)
            .header("authorization", "Bearer client-secret-key")
            .header("x-api-key", "client-secret-key")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        self.0.stop_within(Duration::from_secs(1)).await;
    }
}
