//! What the gateway's integration tests and the end-to-end suite share: a gateway running
//! in-process on an ephemeral port inside its own temp dir ([`TestGateway`]), the mock upstream
//! behind it ([`mock`]), secret files ([`TestDir::secret`]), and [`eventually`] to wait for a
//! condition instead of sleeping. A dev-dependency only; nothing here ships.

// A helper that cannot set up its fixture panics: that is how the calling test fails. Clippy's
// `allow-unwrap-in-tests` does not cover this crate (it is a plain library, not test code).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod dir;
mod gateway;
mod wait;

pub use dir::{home_env, secret_file, TestDir};
pub use gateway::{GatewayBuilder, TestGateway};
pub use wait::{eventually, eventually_with};

pub use mock_upstream::{MockConfig, MockUpstream};

use std::net::SocketAddr;
use std::time::Duration;

/// Starts a mock upstream (OpenAI, Anthropic, Gemini and Responses on one port).
pub async fn mock(config: MockConfig) -> MockUpstream {
    MockUpstream::start(config)
        .await
        .expect("mock upstream starts")
}

/// The address of a port nothing listens on: bound, then freed.
pub fn closed_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr")
}

/// `http://127.0.0.1:PORT/v1` on a port nothing listens on.
pub fn closed_port_url() -> String {
    format!("http://{}/v1", closed_addr())
}

/// A reqwest client that never goes through a proxy from the environment, and gives up on any
/// request (body included) after 30 s, so that a hang fails the test instead of stalling it.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client builds")
}

/// Spawns a task for a test (concurrent clients). The gateway's own code spawns through its
/// task tracker instead; its clippy.toml forbids a bare `tokio::spawn`, and this is the one
/// place its tests go around that rule.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future)
}

/// The workspace's root folder (fixtures, scripts, SDK test programs).
pub fn repo_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root exists")
}
