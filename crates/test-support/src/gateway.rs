//! The gateway in-process on 127.0.0.1:0: config file, request log and secrets in a temp dir.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mock_upstream::{MockConfig, MockUpstream};
use switchboard_gateway::{config, Gateway, GatewayOptions, ServerHandle};

use crate::{closed_port_url, http_client, TestDir};

type Place = Box<dyn FnOnce(&Path, &str) -> PathBuf>;

/// Builds a [`TestGateway`]. Config text may hold placeholders: `{mock}`, `{mock_anthropic}` and
/// `{mock_gemini}` (the base URLs of the mock set with [`mock`](Self::mock) or
/// [`mock_urls`](Self::mock_urls)), `{closed}` (a fresh closed port's URL each time) and `{dir}`
/// (the test's folder).
pub struct GatewayBuilder {
    owned: Option<TestDir>,
    root: PathBuf,
    config: String,
    place: Option<Place>,
    database: Option<PathBuf>,
    watch: bool,
    mock: Option<MockConfig>,
    mock_urls: Option<[String; 3]>,
}

impl GatewayBuilder {
    fn new(owned: Option<TestDir>, root: PathBuf) -> GatewayBuilder {
        GatewayBuilder {
            owned,
            root,
            config: String::new(),
            place: None,
            database: None,
            watch: false,
            mock: None,
            mock_urls: None,
        }
    }

    /// The folder the config, log and secrets go in.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// A secret file in the folder (mode 0600); returns its `file:` reference for the config.
    pub fn secret(&self, name: &str, value: &str) -> String {
        format!(
            "file:{}",
            crate::secret_file(&self.root, name, value).display()
        )
    }

    /// The config text (written to `config.toml` in the folder unless [`place_config`](Self::place_config)).
    pub fn config(mut self, text: impl Into<String>) -> Self {
        self.config = text.into();
        self
    }

    /// Starts a mock upstream that the gateway owns, for the `{mock…}` placeholders.
    pub fn mock(mut self, config: MockConfig) -> Self {
        self.mock = Some(config);
        self
    }

    /// The `{mock…}` placeholders from a mock the test owns (one mock across restarts).
    pub fn mock_urls(mut self, mock: &MockUpstream) -> Self {
        self.mock_urls = Some(mock_urls(mock));
        self
    }

    /// Writes the config itself (a symlink, another name): gets the folder and the rendered
    /// text, returns the config path the gateway loads and watches.
    pub fn place_config(mut self, place: impl FnOnce(&Path, &str) -> PathBuf + 'static) -> Self {
        self.place = Some(Box::new(place));
        self
    }

    /// The request log's path (default `log.db` in the folder).
    pub fn database(mut self, path: impl Into<PathBuf>) -> Self {
        self.database = Some(path.into());
        self
    }

    /// Watches the config file, as `switchboard serve` does.
    pub fn watch_config(mut self) -> Self {
        self.watch = true;
        self
    }

    /// Loads the config, starts the gateway and listens on an ephemeral port; panics (the test
    /// fails) with the reason if any step fails.
    pub async fn start(self) -> TestGateway {
        match self.try_start().await {
            Ok(gateway) => gateway,
            Err(e) => panic!("test gateway did not start: {e}"),
        }
    }

    /// As [`start`](Self::start), with the failure as a value.
    pub async fn try_start(self) -> Result<TestGateway, String> {
        let mock = match self.mock {
            Some(config) => Some(crate::mock(config).await),
            None => None,
        };
        let urls = mock.as_ref().map(mock_urls).or(self.mock_urls);
        let text = render(&self.config, urls.as_ref(), &self.root);
        let config_path = match self.place {
            Some(place) => place(&self.root, &text),
            None => {
                let path = self.root.join("config.toml");
                std::fs::write(&path, &text).map_err(|e| format!("write config: {e}"))?;
                path
            }
        };
        let config = config::load_file(&config_path).map_err(|e| format!("{e}"))?;
        let db_path = self.database.unwrap_or_else(|| self.root.join("log.db"));
        let gateway = Gateway::start(
            config,
            GatewayOptions {
                config_path: Some(config_path.clone()),
                database_path: Some(db_path.clone()),
            },
        )
        .await?;
        if self.watch {
            gateway.watch_config()?;
        }
        let server = gateway
            .serve(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .map_err(|e| format!("{e}"))?;
        let addr = server.local_addr();
        Ok(TestGateway {
            gateway,
            server: Some(server),
            addr,
            base: format!("http://{addr}"),
            http: http_client(),
            config_path,
            db_path,
            mock,
            root: self.root,
            _owned: self.owned,
        })
    }
}

fn mock_urls(mock: &MockUpstream) -> [String; 3] {
    [
        mock.base_url(),
        mock.anthropic_base_url(),
        mock.gemini_base_url(),
    ]
}

fn render(text: &str, mock: Option<&[String; 3]>, dir: &Path) -> String {
    let mut out = text.replace("{dir}", &dir.display().to_string());
    if let Some([openai, anthropic, gemini]) = mock {
        out = out
            .replace("{mock}", openai)
            .replace("{mock_anthropic}", anthropic)
            .replace("{mock_gemini}", gemini);
    }
    while out.contains("{closed}") {
        out = out.replacen("{closed}", &closed_port_url(), 1);
    }
    out
}

/// A running gateway and what it was started with. Dropping it without [`stop`](Self::stop)
/// leaves the gateway's tasks to the test runtime's end.
pub struct TestGateway {
    pub gateway: Gateway,
    server: Option<ServerHandle>,
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub http: reqwest::Client,
    pub config_path: PathBuf,
    pub db_path: PathBuf,
    mock: Option<MockUpstream>,
    root: PathBuf,
    // Last, so the folder outlives everything that writes into it.
    _owned: Option<TestDir>,
}

impl TestGateway {
    /// A gateway in a fresh temp folder of its own, removed when the gateway is dropped.
    pub fn builder() -> GatewayBuilder {
        let dir = TestDir::new();
        let root = dir.path().to_path_buf();
        GatewayBuilder::new(Some(dir), root)
    }

    /// A gateway in a folder the test keeps (to restart on the same log, or read files after).
    pub fn builder_in(dir: &Path) -> GatewayBuilder {
        GatewayBuilder::new(None, dir.to_path_buf())
    }

    /// The folder the config and log are in.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// The mock started with [`GatewayBuilder::mock`].
    pub fn mock(&self) -> &MockUpstream {
        self.mock
            .as_ref()
            .expect("this gateway was built without GatewayBuilder::mock")
    }

    /// `http://127.0.0.1:PORT{path}`
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.post(self.url(path))
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// The config file as it is on disk now.
    pub fn config_text(&self) -> String {
        std::fs::read_to_string(&self.config_path).expect("read the config file")
    }

    /// Stops listening (in-flight requests get 5 s) and shuts the gateway down, flushing the
    /// request log. The folder stays until `self` is dropped.
    pub async fn stop(&mut self) {
        self.stop_within(Duration::from_secs(5)).await;
    }

    /// As [`stop`](Self::stop) with `grace` for in-flight requests.
    pub async fn stop_within(&mut self, grace: Duration) {
        if let Some(server) = self.server.take() {
            server.stop(grace).await;
        }
        tokio::time::timeout(Duration::from_secs(10), self.gateway.shutdown())
            .await
            .expect("gateway shutdown finishes within 10 s");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_each_closed_port_is_its_own() {
        let urls = [
            "http://o/v1".to_owned(),
            "http://a".into(),
            "http://g/v1beta".into(),
        ];
        let text = render(
            "{mock} {mock_anthropic} {mock_gemini} {dir} {closed} {closed} { x = 1 }",
            Some(&urls),
            Path::new("/t"),
        );
        let words: Vec<&str> = text.split(' ').collect();
        assert_eq!(
            &words[..4],
            ["http://o/v1", "http://a", "http://g/v1beta", "/t"]
        );
        assert!(words[4].starts_with("http://127.0.0.1:") && words[4].ends_with("/v1"));
        assert_ne!(words[4], words[5]);
        assert!(text.ends_with("{ x = 1 }"), "other braces stay: {text}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_built_gateway_serves_its_config_and_flushes_on_stop() {
        let builder = TestGateway::builder();
        let key = builder.secret("k.key", "sk-test");
        let mut gw = builder
            .mock(MockConfig::default())
            .config(format!(
                "[providers.m]\nkind = \"openai\"\nbase_url = \"{{mock}}\"\napi_key = \"{key}\"\n\
                 [aliases.a]\ntargets = [\"m/x\"]\n"
            ))
            .start()
            .await;
        let response = gw
            .post("/v1/chat/completions")
            .json(
                &serde_json::json!({"model": "a", "messages": [{"role": "user", "content": "hi"}]}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let sent = gw.mock().received();
        assert_eq!(sent[0].headers["authorization"], "Bearer sk-test");
        gw.stop().await;
        assert!(gw.db_path.starts_with(gw.dir()) && gw.db_path.exists());
        assert!(gw.get("/health").send().await.is_err(), "stopped listening");
    }

    #[tokio::test]
    async fn an_invalid_config_is_an_error_not_a_hang() {
        let error = TestGateway::builder()
            .config("listen = nope")
            .try_start()
            .await
            .err()
            .unwrap();
        assert!(error.contains("config.toml"), "{error}");
    }
}
