//! Shared by the `providers_*` tests: one mock upstream that speaks OpenAI, Anthropic and Gemini
//! over TCP, and the gateway in-process on 127.0.0.1:0 with a provider of each kind.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use mock_upstream::{MockConfig, MockUpstream};
use switchboard_gateway::{config, Gateway, GatewayOptions, ServerHandle};

/// The key the gateway sends upstream (clients send `client-secret-key`, never forwarded).
pub const UPSTREAM_KEY: &str = "upstream-key-123";

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub mock: MockUpstream,
    pub gateway: Gateway,
    pub server: Option<ServerHandle>,
    pub base: String,
    pub http: reqwest::Client,
}

impl Harness {
    /// Providers `oa` (openai), `an` (anthropic), `ge` (gemini) on the mock, plus `aliases`
    /// (TOML for `[aliases...]` tables) and `extra_providers`.
    pub async fn start(aliases: &str, extra_providers: &str) -> Harness {
        let mock = MockUpstream::start(MockConfig {
            chunk_interval: Duration::from_millis(2),
            ..MockConfig::default()
        })
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key_path = dir.path().join("upstream.key");
        std::fs::write(&key_path, UPSTREAM_KEY).unwrap();
        let bad_key_path = dir.path().join("bad.key");
        std::fs::write(&bad_key_path, "bad-key").unwrap();
        #[cfg(unix)]
        for path in [&key_path, &bad_key_path] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let key = format!("file:{}", key_path.display());
        let bad_key = format!("file:{}", bad_key_path.display());
        let text = format!(
            "[providers.oa]\nkind = \"openai\"\nbase_url = \"{}\"\napi_key = \"{key}\"\n\n\
             [providers.an]\nkind = \"anthropic\"\nbase_url = \"{}\"\napi_key = \"{key}\"\n\n\
             [providers.ge]\nkind = \"gemini\"\nbase_url = \"{}\"\napi_key = \"{key}\"\n\n\
             [providers.an_bad]\nkind = \"anthropic\"\nbase_url = \"{}\"\napi_key = \"{bad_key}\"\n\n\
             [providers.ge_bad]\nkind = \"gemini\"\nbase_url = \"{}\"\napi_key = \"{bad_key}\"\n\n\
             {extra_providers}\n{aliases}",
            mock.base_url(),
            mock.anthropic_base_url(),
            mock.gemini_base_url(),
            mock.anthropic_base_url(),
            mock.gemini_base_url(),
        )
        .replace("{MOCK_ANTHROPIC}", &mock.anthropic_base_url())
        .replace("{MOCK_GEMINI}", &mock.gemini_base_url())
        .replace("{KEY}", &key);
        let path = dir.path().join("config.toml");
        std::fs::write(&path, &text).unwrap();
        let config = config::load_file(&path).unwrap();
        let options = GatewayOptions {
            config_path: Some(path),
            database_path: Some(dir.path().join("log.db")),
        };
        let gateway = Gateway::start(config, options).await.unwrap();
        let server = gateway.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let base = format!("http://{}", server.local_addr());
        Harness {
            dir,
            mock,
            gateway,
            server: Some(server),
            base,
            http: reqwest::Client::new(),
        }
    }

    pub async fn post(&self, path: &str, body: serde_json::Value) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("authorization", "Bearer client-secret-key")
            .header("x-api-key", "client-secret-key")
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(server) = self.server.take() {
            server.stop(Duration::from_secs(1)).await;
        }
        self.gateway.shutdown().await;
    }
}

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}
