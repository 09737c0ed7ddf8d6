//! The proxy controller: the gateway crate's `Supervisor` (load-or-init, start, stop, reload,
//! follow `listen`, the "no valid config yet" state) plus what only the tray has: the user's
//! start/stop choice remembered across launches, the menu's view of the state, and the web
//! UI's login link. No Tauri here: the tray, the Tauri commands and the tests all drive this
//! one type.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::body::Body;
use axum::http::{header, Request};
use switchboard_gateway::api::Readiness;
use switchboard_gateway::supervisor::{LifecycleError, Supervisor, SupervisorOptions};
pub use switchboard_gateway::supervisor::{Phase, ReloadReport, State as Status};
use switchboard_gateway::{AdminService, GatewayEvent};
use tokio::sync::{broadcast, watch};
use tower::ServiceExt;

use crate::menu_model::{self, ConfigProblem, MenuInput, Period, ProxyState, Requests};
use crate::remembered::Remembered;

#[derive(Debug, Clone)]
pub struct ControllerOptions {
    pub config_path: PathBuf,
    /// Request log; `None`: the config's `database.path` or the platform default.
    pub database_path: Option<PathBuf>,
    /// Where the start/stop choice is remembered (in the app's data dir).
    pub state_path: PathBuf,
    /// Reload on every change of the config file.
    pub watch_config: bool,
}

/// Why the proxy is not serving, or why an action failed, in the tray's words (a config
/// error as its first problem and a count).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    #[error("Port {} is in use by another program", .addr.port())]
    PortInUse { addr: SocketAddr },
    #[error("Cannot listen on {addr}: {reason}")]
    CannotListen { addr: SocketAddr, reason: String },
    /// The config file could not be loaded (first start) or a reload was rejected.
    /// `details` is every error as `file:line:col: message`.
    #[error("{}", .problem.describe())]
    ConfigInvalid {
        problem: ConfigProblem,
        details: String,
    },
    #[error("Cannot start the gateway: {reason}")]
    GatewayFailed { reason: String },
}

impl From<LifecycleError> for ProxyError {
    fn from(error: LifecycleError) -> Self {
        match error {
            LifecycleError::PortInUse { addr } => ProxyError::PortInUse { addr },
            LifecycleError::CannotListen { addr, reason } => {
                ProxyError::CannotListen { addr, reason }
            }
            LifecycleError::ConfigInvalid {
                message,
                diagnostics,
            } => ProxyError::ConfigInvalid {
                problem: ConfigProblem::from_diagnostics(&diagnostics, &message),
                details: message,
            },
            LifecycleError::GatewayFailed { reason } => ProxyError::GatewayFailed { reason },
        }
    }
}

/// The tray's input from the supervisor's state.
pub trait StatusExt {
    /// The phase plus what the admin service reports (request count, a rejected reload).
    /// `autostart` comes from the shell.
    fn menu_input(&self, autostart: Option<bool>) -> MenuInput;
}

impl StatusExt for Status {
    fn menu_input(&self, autostart: Option<bool>) -> MenuInput {
        let readiness = self.admin.as_ref().map(AdminService::readiness);
        let requests = Requests {
            // Rows the request log wrote since the gateway started; the shell puts today's
            // count here once it has one (`actions::with_today`).
            count: readiness.as_ref().map_or(0, |r| r.database.written),
            period: Period::SinceStart,
        };
        let proxy = match &self.phase {
            Phase::Starting => ProxyState::Starting,
            Phase::Running { addr } => ProxyState::Running {
                addr: *addr,
                requests,
            },
            Phase::Stopping => ProxyState::Stopping,
            Phase::Stopped => ProxyState::Stopped,
            Phase::Failed(error) => match ProxyError::from(error.clone()) {
                ProxyError::PortInUse { addr } => ProxyState::PortInUse { addr },
                ProxyError::CannotListen { addr, reason } => {
                    ProxyState::CannotListen { addr, reason }
                }
                ProxyError::ConfigInvalid { problem, .. } => ProxyState::ConfigInvalid { problem },
                ProxyError::GatewayFailed { reason } => ProxyState::Failed { reason },
            },
        };
        let storage_failing = readiness.as_ref().and_then(storage_failing);
        let rejected_reload = readiness
            .and_then(|r| r.config_file.last_error)
            .map(|failure| ConfigProblem::from_diagnostics(&failure.diagnostics, &failure.message));
        let mut backends_down: Vec<String> = self
            .admin
            .as_ref()
            .map(AdminService::target_statuses)
            .unwrap_or_default()
            .into_iter()
            .filter(|t| t.is_down())
            .map(|t| t.target)
            .collect();
        backends_down.sort();
        MenuInput {
            proxy,
            rejected_reload,
            configured_listen: self.configured_listen,
            autostart,
            backends_down,
            storage_failing,
        }
    }
}

/// What makes readiness fail while serving, in words: the request log first (it is what the
/// dashboard and `/health` lead with), then the spend ledger.
fn storage_failing(readiness: &Readiness) -> Option<String> {
    let reason = |error: &Option<String>| error.clone().unwrap_or_else(|| "no reason given".into());
    if !readiness.database.ok {
        Some(format!(
            "request log failing: {}",
            reason(&readiness.database.error)
        ))
    } else if !readiness.spend_ledger.ok {
        Some(format!(
            "spend ledger failing: {}",
            reason(&readiness.spend_ledger.error)
        ))
    } else {
        None
    }
}

pub struct Controller {
    supervisor: Supervisor,
    remembered: Remembered,
    state_path: PathBuf,
}

impl Controller {
    /// Loads the config (writing the commented default on first start) and starts the gateway,
    /// without serving yet. Never fails: a broken config is a `Phase::Failed` to show.
    pub async fn open(options: ControllerOptions) -> Controller {
        let remembered = Remembered::load(&options.state_path);
        let supervisor = Supervisor::open(SupervisorOptions {
            config_path: options.config_path,
            database_path: options.database_path,
            watch_config: options.watch_config,
            listen: None,
        })
        .await;
        Controller {
            supervisor,
            remembered,
            state_path: options.state_path,
        }
    }

    pub fn subscribe(&self) -> watch::Receiver<Status> {
        self.supervisor.subscribe()
    }

    /// The gateway's events (breaker opened/closed, config reloaded/rejected, ...). Subscribe
    /// once at start: a gateway loaded later (after a broken config is fixed) feeds it too.
    pub fn events(&self) -> broadcast::Receiver<GatewayEvent> {
        self.supervisor.events()
    }

    pub fn status(&self) -> Status {
        self.supervisor.state()
    }

    pub fn admin(&self) -> Option<AdminService> {
        self.supervisor.admin()
    }

    pub fn config_path(&self) -> &std::path::Path {
        self.supervisor.config_path()
    }

    /// The user's last choice (default: on).
    pub fn proxy_enabled(&self) -> bool {
        self.remembered.proxy_enabled
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.supervisor.local_addr()
    }

    /// Serves if the user left the proxy on last time (or never chose).
    pub async fn resume(&mut self) -> Result<Option<SocketAddr>, ProxyError> {
        if self.remembered.proxy_enabled && self.supervisor.gateway().is_some() {
            Ok(Some(self.supervisor.start().await?))
        } else {
            Ok(None)
        }
    }

    /// Starts serving and remembers that the user wants it on.
    pub async fn start(&mut self) -> Result<SocketAddr, ProxyError> {
        self.remember(true);
        Ok(self.supervisor.start().await?)
    }

    /// Stops serving (frees the port; in-flight requests finish within the grace period) and
    /// remembers that the user wants it off.
    pub async fn stop(&mut self) {
        self.remember(false);
        self.supervisor.stop().await;
    }

    /// Stops and starts again, e.g. after `listen` changed.
    pub async fn restart(&mut self) -> Result<SocketAddr, ProxyError> {
        Ok(self.supervisor.restart().await?)
    }

    /// Re-reads the config file (see `Supervisor::reload`); a config loaded after an earlier
    /// failure is served if the user wants.
    pub async fn reload(&mut self) -> Result<ReloadReport, ProxyError> {
        let report = self.supervisor.reload().await?;
        if report == ReloadReport::Loaded {
            self.resume().await?;
        }
        Ok(report)
    }

    /// Called periodically: follows the config watcher (see `Supervisor::tick`) and serves a
    /// config that loaded after a fix, if the user wants.
    pub async fn tick(&mut self) -> Result<(), ProxyError> {
        if self.supervisor.tick().await? == Some(ReloadReport::Loaded) {
            self.resume().await?;
        }
        Ok(())
    }

    /// Whether the gateway serves the web UI at `/ui`; its URL if so.
    pub async fn web_ui_url(&self) -> Option<String> {
        let gateway = self.supervisor.gateway()?;
        let addr = self.local_addr()?;
        let origin = menu_model::origin(addr);
        let host = origin.trim_start_matches("http://").to_owned();
        let request = Request::get("/ui")
            .header(header::HOST, host)
            .body(Body::empty())
            .ok()?;
        let response = gateway.router().oneshot(request).await.ok()?;
        let status = response.status();
        // A one-time login link: the window lands on /ui/ with its own session cookie, so
        // nobody copies a secret into it.
        (status.is_success() || status.is_redirection())
            .then(|| format!("{origin}{}", gateway.admin().login_link().path))
    }

    /// Stops serving (without changing the remembered choice), flushes the request log and
    /// waits for every background task. Idempotent.
    pub async fn shutdown(&mut self) {
        self.supervisor.shutdown().await;
    }

    fn remember(&mut self, proxy_enabled: bool) {
        if self.remembered.proxy_enabled == proxy_enabled {
            return;
        }
        self.remembered.proxy_enabled = proxy_enabled;
        if let Err(e) = self.remembered.save(&self.state_path) {
            tracing::warn!(path = %self.state_path.display(), error = %e, "cannot remember the proxy choice");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::path::Path;
    use std::time::{Duration, SystemTime};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    struct Fixture {
        dir: tempfile::TempDir,
    }

    impl Fixture {
        fn new(listen: &str) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let fixture = Fixture { dir };
            fixture.write_config(listen);
            fixture
        }

        fn config_path(&self) -> PathBuf {
            self.dir.path().join("config/config.toml")
        }

        fn state_path(&self) -> PathBuf {
            self.dir.path().join("data/app-state.json")
        }

        fn write_config(&self, listen: &str) {
            self.write_text(&format!(
                "listen = \"{listen}\"\n[server]\nshutdown_grace_s = 2\n\n\
                 [providers.demo]\nkind = \"demo\"\n\n\
                 [aliases.demo]\ntargets = [\"demo/switchboard-demo\"]\n"
            ));
        }

        fn write_text(&self, text: &str) {
            let path = self.config_path();
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }

        fn options(&self) -> ControllerOptions {
            ControllerOptions {
                config_path: self.config_path(),
                database_path: Some(self.dir.path().join("data/switchboard.db")),
                state_path: self.state_path(),
                watch_config: false,
            }
        }

        async fn open(&self) -> Controller {
            Controller::open(self.options()).await
        }
    }

    /// One HTTP/1.1 GET over a fresh connection; returns the status code and body.
    async fn get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        let code = response
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((code, body))
    }

    fn port_is_free(addr: SocketAddr) -> bool {
        TcpListener::bind(addr).is_ok()
    }

    #[tokio::test]
    async fn answers_after_start_and_frees_the_port_after_stop() {
        let fixture = Fixture::new("127.0.0.1:0");
        let mut controller = fixture.open().await;
        assert_eq!(controller.status().phase, Phase::Stopped);

        let addr = controller.start().await.unwrap();
        assert_ne!(addr.port(), 0);
        assert_eq!(controller.status().phase, Phase::Running { addr });
        let (code, body) = get(addr, "/health/liveliness").await.unwrap();
        assert_eq!(code, 200, "{body}");
        assert!(body.contains("alive"), "{body}");
        assert!(!port_is_free(addr));

        controller.stop().await;
        assert_eq!(controller.status().phase, Phase::Stopped);
        assert!(port_is_free(addr), "the port must be free after stop");
        assert!(get(addr, "/health/liveliness").await.is_err());

        // Start binds again (the same fixed port this time).
        fixture.write_config(&addr.to_string());
        controller.reload().await.unwrap();
        let again = controller.start().await.unwrap();
        assert_eq!(again, addr);
        assert_eq!(get(addr, "/health/liveliness").await.unwrap().0, 200);
        controller.shutdown().await;
        assert!(port_is_free(addr));
    }

    #[tokio::test]
    async fn port_in_use_is_an_error_state_and_start_recovers_once_free() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let fixture = Fixture::new(&addr.to_string());
        let mut controller = fixture.open().await;

        let error = controller.start().await.unwrap_err();
        assert_eq!(error, ProxyError::PortInUse { addr });
        assert_eq!(
            error.to_string(),
            format!("Port {} is in use by another program", addr.port())
        );
        let status = controller.status();
        assert!(matches!(&status.phase, Phase::Failed(e) if ProxyError::from(e.clone()) == error));
        let view = menu_model::render(&status.menu_input(Some(false)));
        assert_eq!(view.look, menu_model::TrayLook::Error);
        assert_eq!(
            view.status,
            format!("Port {} is in use by another program", addr.port())
        );
        assert!(view.toggle.enabled, "Start proxy retries");

        drop(taken);
        assert_eq!(controller.start().await.unwrap(), addr);
        controller.shutdown().await;
    }

    #[tokio::test]
    async fn the_choice_is_remembered_across_launches() {
        let fixture = Fixture::new("127.0.0.1:0");
        let mut first = fixture.open().await;
        assert!(first.proxy_enabled(), "on by default");
        assert!(first.resume().await.unwrap().is_some());
        first.stop().await;
        first.shutdown().await;

        let mut second = fixture.open().await;
        assert!(!second.proxy_enabled());
        assert_eq!(second.resume().await.unwrap(), None);
        assert_eq!(second.status().phase, Phase::Stopped);
        second.start().await.unwrap();
        second.shutdown().await;

        let mut third = fixture.open().await;
        assert!(third.resume().await.unwrap().is_some());
        third.shutdown().await;
        // The choice lives in the app's state file, never in the config.
        assert!(!std::fs::read_to_string(fixture.config_path())
            .unwrap()
            .contains("enabled"));
    }

    #[tokio::test]
    async fn a_broken_config_at_start_is_shown_and_loads_after_a_fix() {
        let fixture = Fixture::new("127.0.0.1:0");
        fixture.write_text("listen = \"127.0.0.1:0\"\nlisen = 1\n");
        let mut controller = fixture.open().await;
        let status = controller.status();
        let Phase::Failed(failure) = &status.phase else {
            panic!("expected a config error, got {:?}", status.phase);
        };
        let ProxyError::ConfigInvalid { problem, details } = ProxyError::from(failure.clone())
        else {
            panic!("expected a config error, got {failure:?}");
        };
        assert_eq!(problem.line, Some(2));
        assert!(details.contains("config.toml:2:"), "{details}");
        let view = menu_model::render(&status.menu_input(None));
        assert!(
            view.status.starts_with("Config error at line 2: "),
            "{}",
            view.status
        );
        assert!(!view.toggle.enabled);
        assert!(matches!(
            controller.resume().await,
            Ok(None) | Err(ProxyError::ConfigInvalid { .. })
        ));
        assert!(controller.start().await.is_err());

        // Fixing the file and ticking (what the tray does every few seconds) loads it.
        std::thread::sleep(Duration::from_millis(20));
        fixture.write_config("127.0.0.1:0");
        bump_mtime(&fixture.config_path());
        controller.tick().await.unwrap();
        assert!(matches!(controller.status().phase, Phase::Running { .. }));
        controller.shutdown().await;
    }

    #[tokio::test]
    async fn first_start_writes_the_default_config() {
        let dir = tempfile::tempdir().unwrap();
        let options = ControllerOptions {
            config_path: dir.path().join("new/config.toml"),
            database_path: Some(dir.path().join("log.db")),
            state_path: dir.path().join("state.json"),
            watch_config: false,
        };
        let mut controller = Controller::open(options.clone()).await;
        assert!(options.config_path.exists());
        assert_eq!(controller.status().phase, Phase::Stopped);
        assert_eq!(
            controller.status().configured_listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 4000)))
        );
        controller.shutdown().await;
    }

    #[tokio::test]
    async fn a_rejected_reload_keeps_serving_and_is_reported() {
        let fixture = Fixture::new("127.0.0.1:0");
        let mut controller = fixture.open().await;
        let addr = controller.start().await.unwrap();
        fixture.write_text("listen = \"127.0.0.1:0\"\n\n[aliases.x]\ntargets = [\"nope/m\"]\n");
        let error = controller.reload().await.unwrap_err();
        let ProxyError::ConfigInvalid { problem, .. } = &error else {
            panic!("expected ConfigInvalid, got {error:?}");
        };
        assert!(problem.line.is_some());
        assert_eq!(controller.status().phase, Phase::Running { addr });
        assert_eq!(get(addr, "/health/liveliness").await.unwrap().0, 200);
        let input = controller.status().menu_input(Some(true));
        assert_eq!(input.rejected_reload.as_ref(), Some(problem));
        let view = menu_model::render(&input);
        assert_eq!(view.look, menu_model::TrayLook::Error);
        assert!(view.status.contains("still serving on"), "{}", view.status);

        // A good file clears it. (A file put back to exactly the serving text does not yet:
        // `Gateway::reload` returns "unchanged" early and keeps `last_error`.)
        fixture.write_config("127.0.0.2:0");
        let report = controller.reload().await.unwrap();
        assert!(matches!(
            report,
            ReloadReport::Applied {
                restarted: true,
                ..
            }
        ));
        assert_eq!(controller.status().menu_input(None).rejected_reload, None);
        controller.shutdown().await;
    }

    #[tokio::test]
    async fn a_changed_listen_moves_the_listener() {
        let fixture = Fixture::new("127.0.0.1:0");
        let mut controller = fixture.open().await;
        let first = controller.start().await.unwrap();
        let free = TcpListener::bind("127.0.0.1:0").unwrap();
        let target = free.local_addr().unwrap();
        drop(free);
        fixture.write_config(&target.to_string());
        let report = controller.reload().await.unwrap();
        assert_eq!(
            report,
            ReloadReport::Applied {
                restarted: true,
                needs_restart: vec![]
            }
        );
        assert_eq!(controller.local_addr(), Some(target));
        assert!(port_is_free(first));
        assert_eq!(get(target, "/health/liveliness").await.unwrap().0, 200);
        controller.shutdown().await;
    }

    #[tokio::test]
    async fn stop_frees_the_port_at_once_and_lets_an_in_flight_request_finish() {
        let upstream = mock_upstream::MockUpstream::start(Default::default())
            .await
            .unwrap();
        let fixture = Fixture::new("127.0.0.1:0");
        fixture.write_text(&format!(
            "listen = \"127.0.0.1:0\"\n[server]\nshutdown_grace_s = 10\n\n\
             [providers.mock]\nkind = \"openai\"\nbase_url = \"{}\"\n\n\
             [aliases.slow]\ntargets = [\"mock/slow-1500\"]\n",
            upstream.base_url()
        ));
        let mut controller = fixture.open().await;
        let addr = controller.start().await.unwrap();
        let in_flight = tokio::spawn(async move {
            let body = r#"{"model":"slow","messages":[{"role":"user","content":"hi"}]}"#;
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            let request = format!(
                "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            response
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = std::time::Instant::now();
        {
            let mut stop = std::pin::pin!(controller.stop());
            // The listener closes at once, while the request is still in flight.
            let freed = async {
                while !port_is_free(addr) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            };
            tokio::select! {
                _ = &mut stop => panic!("stop returned before the in-flight request finished"),
                _ = freed => {}
            }
            stop.await;
        }
        let response = in_flight.await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(started.elapsed() >= Duration::from_millis(900));
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(port_is_free(addr));
        controller.shutdown().await;
    }

    #[tokio::test]
    async fn the_web_ui_is_reported_only_when_served() {
        let fixture = Fixture::new("127.0.0.1:0");
        let mut controller = fixture.open().await;
        assert_eq!(controller.web_ui_url().await, None, "not running");
        controller.start().await.unwrap();
        // The dashboard is served: the window gets a one-time login link, which logs in once.
        let url = controller.web_ui_url().await.unwrap();
        let path = url
            .split_once("/admin/login?code=")
            .map(|(_, code)| code)
            .unwrap();
        let addr = controller.local_addr().unwrap();
        let login = format!("/admin/login?code={path}");
        assert_eq!(get(addr, &login).await.unwrap().0, 303, "the link logs in");
        assert_eq!(get(addr, &login).await.unwrap().0, 401, "once");
        controller.shutdown().await;
    }

    #[tokio::test]
    async fn shutdown_flushes_the_request_log() {
        let fixture = Fixture::new("127.0.0.1:0");
        let mut controller = fixture.open().await;
        let addr = controller.start().await.unwrap();
        let body = r#"{"model":"demo","messages":[{"role":"user","content":"hi"}]}"#;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        controller.shutdown().await;
        let status = controller.status();
        assert_eq!(status.phase, Phase::Stopped);
        let written = status.admin.unwrap().readiness().database.written;
        assert_eq!(written, 1, "the row was written before shutdown returned");
        let input = Status {
            phase: Phase::Running { addr },
            ..controller.status()
        }
        .menu_input(None);
        assert!(menu_model::render(&input)
            .status
            .ends_with("· 1 request since start"));
    }

    #[tokio::test]
    async fn a_breaker_opening_is_an_event_and_a_backend_down_in_the_menu() {
        let dead = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let fixture = Fixture::new("127.0.0.1:0");
        fixture.write_text(&format!(
            "listen = \"127.0.0.1:0\"\n\n\
             [providers.dead]\nkind = \"openai\"\nbase_url = \"http://{dead}/v1\"\n\
             breaker = {{ failures = 1, cooldown_s = 60 }}\n\n\
             [aliases.chat]\ntargets = [\"dead/model\"]\nretries = {{ attempts = 1 }}\n"
        ));
        let mut controller = fixture.open().await;
        let mut events = controller.events();
        let addr = controller.start().await.unwrap();
        let body = r#"{"model":"chat","messages":[{"role":"user","content":"hi"}]}"#;
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        assert!(response.starts_with("HTTP/1.1 503"), "{response}");

        let event = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match events.recv().await.unwrap() {
                    event @ GatewayEvent::BreakerOpened { .. } => return event,
                    _ => continue,
                }
            }
        })
        .await
        .unwrap();
        let GatewayEvent::BreakerOpened { target, .. } = &event else {
            unreachable!()
        };
        assert_eq!(target, "dead/model");
        let notice = crate::notices::for_event(&event).unwrap();
        assert_eq!(notice.title, "Backend dead/model is down");

        let input = controller.status().menu_input(None);
        assert_eq!(input.backends_down, vec!["dead/model".to_owned()]);
        let view = menu_model::render(&input);
        assert_eq!(view.look, menu_model::TrayLook::Error);
        assert!(
            view.status.ends_with("backend dead/model is down"),
            "{}",
            view.status
        );
        controller.shutdown().await;
    }

    /// POSTs a chat request to the demo alias over a fresh connection; returns the status code.
    async fn chat(addr: SocketAddr) -> u16 {
        let body = format!(
            r#"{{"model":"demo","messages":[{{"role":"user","content":"{}"}}]}}"#,
            "x".repeat(400)
        );
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        response.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// The request log on a real 8 MB tmpfs that fills up: the tray turns to a warning with
    /// the reason while it still serves, and back once space returns. Needs root to mount (as
    /// CI and the dev machines have); says it is skipped otherwise.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_disk_under_the_log_turns_the_tray_to_a_warning_and_back() {
        let disk = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(disk.path())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("skipped: cannot mount a tmpfs here (needs root)");
            return;
        }
        struct Unmount<'a>(&'a Path);
        impl Drop for Unmount<'_> {
            fn drop(&mut self) {
                let _ = std::process::Command::new("umount")
                    .arg("-l")
                    .arg(self.0)
                    .status();
            }
        }
        let _unmount = Unmount(disk.path());
        let fixture = Fixture::new("127.0.0.1:0");
        let mut controller = Controller::open(ControllerOptions {
            database_path: Some(disk.path().join("switchboard.db")),
            ..fixture.options()
        })
        .await;
        let addr = controller.start().await.unwrap();
        assert_eq!(chat(addr).await, 200);
        let view = menu_model::render(&controller.status().menu_input(None));
        assert_eq!(view.look, menu_model::TrayLook::Running, "{}", view.status);

        // Fill the disk; requests are still answered while the log's writes fail.
        let filler = disk.path().join("filler");
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&filler).unwrap();
            let chunk = vec![0u8; 64 * 1024];
            while file.write_all(&chunk).is_ok() {}
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let failing = loop {
            for _ in 0..20 {
                assert_eq!(chat(addr).await, 200, "the gateway keeps serving");
            }
            let input = controller.status().menu_input(None);
            if input.storage_failing.is_some() {
                break input;
            }
            assert!(std::time::Instant::now() < deadline, "the log never failed");
        };
        let view = menu_model::render(&failing);
        assert_eq!(view.look, menu_model::TrayLook::Error);
        assert!(
            view.status.contains("request log failing: write failed")
                && view.status.contains("full"),
            "{}",
            view.status
        );
        assert_eq!(view.toggle_action, menu_model::ToggleAction::Stop);

        // Space returns: the log reopens by itself, and the tray turns back.
        std::fs::remove_file(&filler).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let view = loop {
            let view = menu_model::render(&controller.status().menu_input(None));
            if view.look == menu_model::TrayLook::Running {
                break view;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never recovered: {}",
                view.status
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(!view.status.contains("failing"), "{}", view.status);
        controller.shutdown().await;
    }

    fn bump_mtime(path: &Path) {
        let later = SystemTime::now() + Duration::from_secs(5);
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(later).unwrap();
    }
}
