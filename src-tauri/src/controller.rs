//! The proxy controller: owns the `Gateway` and, while the proxy is on, its `ServerHandle`.
//! Start binds the config's `listen`, stop frees the port (in-flight requests finish within
//! `server.shutdown_grace_s`), restart follows a changed `listen`, and the user's start/stop
//! choice is remembered across launches. No Tauri here: the tray, the Tauri commands and the
//! tests all drive this one type, and everything it knows is published as a `Status`. The
//! gateway's events (breakers, reloads) are passed on through `events()`, which outlives the
//! gateway a broken config at start keeps from existing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::http::{header, Request};
use switchboard_gateway::config::{self, LoadError};
use switchboard_gateway::{
    AdminService, Gateway, GatewayEvent, GatewayOptions, ReloadError, ServeError, ServerHandle,
};
use tokio::sync::{broadcast, watch};
use tower::ServiceExt;

use crate::menu_model::{self, ConfigProblem, MenuInput, Period, ProxyState, Requests};
use crate::remembered::Remembered;

/// Used when no config is loaded to ask for the grace period.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);

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

/// Where the proxy is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Running { addr: SocketAddr },
    Stopping,
    Stopped,
    Failed(ProxyError),
}

/// Why the proxy is not serving, or why an action failed. Displays as words for a person.
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

/// A snapshot of what the controller knows, published on every change.
#[derive(Clone)]
pub struct Status {
    pub phase: Phase,
    /// `None` until a config has been loaded.
    pub admin: Option<AdminService>,
    pub configured_listen: Option<SocketAddr>,
    pub config_path: PathBuf,
}

impl Status {
    /// The tray's input: the phase plus what the admin service reports (request count, a
    /// rejected reload). `autostart` comes from the shell.
    pub fn menu_input(&self, autostart: Option<bool>) -> MenuInput {
        let readiness = self.admin.as_ref().map(AdminService::readiness);
        let requests = Requests {
            // Rows the request log wrote since the gateway started. See README: a
            // `requests_today` admin method would let this say "today".
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
            Phase::Failed(error) => match error {
                ProxyError::PortInUse { addr } => ProxyState::PortInUse { addr: *addr },
                ProxyError::CannotListen { addr, reason } => ProxyState::CannotListen {
                    addr: *addr,
                    reason: reason.clone(),
                },
                ProxyError::ConfigInvalid { problem, .. } => ProxyState::ConfigInvalid {
                    problem: problem.clone(),
                },
                ProxyError::GatewayFailed { reason } => ProxyState::Failed {
                    reason: reason.clone(),
                },
            },
        };
        let rejected_reload = readiness
            .and_then(|r| r.config_file.last_error)
            .map(|failure| ConfigProblem::from_diagnostics(&failure.diagnostics, &failure.message));
        let mut backends_down: Vec<String> = self
            .admin
            .as_ref()
            .map(AdminService::target_statuses)
            .unwrap_or_default()
            .into_iter()
            .filter(|t| matches!(t.state, "open" | "misconfigured"))
            .map(|t| t.target)
            .collect();
        backends_down.sort();
        MenuInput {
            proxy,
            rejected_reload,
            configured_listen: self.configured_listen,
            autostart,
            backends_down,
        }
    }
}

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadReport {
    /// The file's content was already serving.
    Unchanged,
    /// The new config is serving. `restarted`: the listener moved to a changed `listen`.
    /// `needs_restart`: settings that only apply after relaunching the app.
    Applied {
        restarted: bool,
        needs_restart: Vec<String>,
    },
    /// The config loaded after an earlier failure; the gateway started.
    Loaded,
}

impl ReloadReport {
    pub fn describe(&self) -> String {
        match self {
            ReloadReport::Unchanged => "The config file has not changed.".into(),
            ReloadReport::Applied {
                restarted,
                needs_restart,
            } => {
                let mut text = String::from("Config reloaded.");
                if *restarted {
                    text.push_str(" The proxy moved to the new listen address.");
                }
                if !needs_restart.is_empty() {
                    text.push_str(&format!(
                        " Takes effect after relaunching the app: {}.",
                        needs_restart.join(", ")
                    ));
                }
                text
            }
            ReloadReport::Loaded => "Config loaded.".into(),
        }
    }
}

struct Server {
    handle: ServerHandle,
    /// The address asked for (the config's `listen`, maybe port 0), to notice when it changes.
    requested: SocketAddr,
}

pub struct Controller {
    options: ControllerOptions,
    gateway: Option<Gateway>,
    server: Option<Server>,
    remembered: Remembered,
    status: watch::Sender<Status>,
    /// The gateway's events, forwarded (see `events`).
    events: broadcast::Sender<GatewayEvent>,
    /// Why the config could not be loaded, and the file's mtime then (retried when it changes).
    load_failure: Option<(ProxyError, Option<SystemTime>)>,
    shut_down: bool,
}

impl Controller {
    /// Loads the config (writing the commented default on first start) and starts the gateway,
    /// without serving yet. Never fails: a broken config is a `Phase::Failed` to show.
    pub async fn open(options: ControllerOptions) -> Controller {
        let remembered = Remembered::load(&options.state_path);
        let (status, _) = watch::channel(Status {
            phase: Phase::Stopped,
            admin: None,
            configured_listen: None,
            config_path: options.config_path.clone(),
        });
        let mut controller = Controller {
            options,
            gateway: None,
            server: None,
            remembered,
            status,
            events: broadcast::channel(64).0,
            load_failure: None,
            shut_down: false,
        };
        // A failure is published as the phase; nothing else to do with it here.
        let _ = controller.load_gateway().await;
        controller
    }

    pub fn subscribe(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }

    /// The gateway's events (breaker opened/closed, config reloaded/rejected, ...). Subscribe
    /// once at start: a gateway loaded later (after a broken config is fixed) feeds it too.
    pub fn events(&self) -> broadcast::Receiver<GatewayEvent> {
        self.events.subscribe()
    }

    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    pub fn admin(&self) -> Option<AdminService> {
        self.gateway.as_ref().map(Gateway::admin)
    }

    pub fn config_path(&self) -> &std::path::Path {
        &self.options.config_path
    }

    /// The user's last choice (default: on).
    pub fn proxy_enabled(&self) -> bool {
        self.remembered.proxy_enabled
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(|s| s.handle.local_addr())
    }

    /// Serves if the user left the proxy on last time (or never chose).
    pub async fn resume(&mut self) -> Result<Option<SocketAddr>, ProxyError> {
        if self.remembered.proxy_enabled && self.gateway.is_some() {
            self.bind().await.map(Some)
        } else {
            Ok(None)
        }
    }

    /// Starts serving and remembers that the user wants it on.
    pub async fn start(&mut self) -> Result<SocketAddr, ProxyError> {
        self.remember(true);
        self.bind().await
    }

    /// Stops serving (frees the port; in-flight requests finish within the grace period) and
    /// remembers that the user wants it off.
    pub async fn stop(&mut self) {
        self.remember(false);
        self.unbind().await;
    }

    /// Stops and starts again, e.g. after `listen` changed.
    pub async fn restart(&mut self) -> Result<SocketAddr, ProxyError> {
        self.unbind().await;
        self.bind().await
    }

    /// Re-reads the config file. A rejected file leaves the previous config serving and is
    /// returned as `ConfigInvalid`. A changed `listen` moves the running listener. If no config
    /// was loaded yet (it was broken at start), this loads it and serves if the user wants.
    pub async fn reload(&mut self) -> Result<ReloadReport, ProxyError> {
        let Some(gateway) = self.gateway.clone() else {
            self.load_gateway().await?;
            self.resume().await?;
            return Ok(ReloadReport::Loaded);
        };
        let result = gateway.reload().await;
        // The rejected error (or its clearing) is part of the status: tell subscribers.
        self.republish();
        match result {
            Ok(outcome) if !outcome.changed => Ok(ReloadReport::Unchanged),
            Ok(outcome) => {
                let restarted = self.follow_listen().await?;
                let needs_restart = outcome
                    .needs_restart
                    .into_iter()
                    .filter(|s| !(restarted && s.starts_with("listen")))
                    .collect();
                Ok(ReloadReport::Applied {
                    restarted,
                    needs_restart,
                })
            }
            Err(ReloadError::Rejected(failure)) => Err(ProxyError::ConfigInvalid {
                problem: ConfigProblem::from_diagnostics(&failure.diagnostics, &failure.message),
                details: failure.message,
            }),
            Err(error @ ReloadError::NoFile) => Err(ProxyError::ConfigInvalid {
                problem: ConfigProblem::from_diagnostics(&[], &error.to_string()),
                details: error.to_string(),
            }),
        }
    }

    /// Called periodically: follows what the config watcher did (a changed `listen` moves the
    /// listener) and, while the config is broken, retries loading it once the file changes.
    pub async fn tick(&mut self) -> Result<(), ProxyError> {
        if self.shut_down {
            return Ok(());
        }
        if self.gateway.is_none() {
            let changed = self
                .load_failure
                .as_ref()
                .is_some_and(|(_, mtime)| *mtime != modified(&self.options.config_path));
            if changed {
                self.reload().await?;
            }
            return Ok(());
        }
        self.follow_listen().await.map(|_| ())
    }

    /// Whether the gateway serves the web UI at `/ui`; its URL if so.
    pub async fn web_ui_url(&self) -> Option<String> {
        let gateway = self.gateway.as_ref()?;
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
        if self.shut_down {
            return;
        }
        self.unbind().await;
        if let Some(gateway) = &self.gateway {
            gateway.shutdown().await;
        }
        self.shut_down = true;
        self.publish(Phase::Stopped);
    }

    async fn load_gateway(&mut self) -> Result<(), ProxyError> {
        let path = self.options.config_path.clone();
        let mtime = modified(&path);
        match self.try_load_gateway().await {
            Ok(gateway) => {
                tokio::spawn(forward_events(gateway.subscribe(), self.events.clone()));
                if self.options.watch_config {
                    if let Err(e) = gateway.watch_config() {
                        tracing::warn!(error = %e, "config changes will need Reload Config");
                    }
                }
                self.gateway = Some(gateway);
                self.load_failure = None;
                self.publish(Phase::Stopped);
                Ok(())
            }
            Err(error) => {
                tracing::error!(config = %path.display(), "{error}");
                self.load_failure = Some((error.clone(), mtime));
                self.publish(Phase::Failed(error.clone()));
                Err(error)
            }
        }
    }

    async fn try_load_gateway(&self) -> Result<Gateway, ProxyError> {
        let path = &self.options.config_path;
        let config = match config::load_or_init(path) {
            Ok((config, created)) => {
                if created {
                    tracing::info!(path = %path.display(), "no config file yet; wrote the commented default");
                }
                config
            }
            Err(LoadError::Invalid(error)) => {
                return Err(ProxyError::ConfigInvalid {
                    problem: ConfigProblem::from_diagnostics(
                        &error.diagnostics,
                        &error.to_string(),
                    ),
                    details: error.to_string(),
                })
            }
            Err(error) => {
                return Err(ProxyError::ConfigInvalid {
                    problem: ConfigProblem::from_diagnostics(&[], &error.to_string()),
                    details: error.to_string(),
                })
            }
        };
        let options = GatewayOptions {
            config_path: Some(path.clone()),
            database_path: self.options.database_path.clone(),
        };
        Gateway::start(config, options)
            .await
            .map_err(|reason| ProxyError::GatewayFailed { reason })
    }

    async fn bind(&mut self) -> Result<SocketAddr, ProxyError> {
        if let Some(addr) = self.local_addr() {
            return Ok(addr);
        }
        let Some(gateway) = self.gateway.clone() else {
            return Err(self.load_error());
        };
        let requested = gateway.snapshot().config.listen;
        self.publish(Phase::Starting);
        match gateway.serve(requested).await {
            Ok(handle) => {
                let addr = handle.local_addr();
                self.server = Some(Server { handle, requested });
                self.publish(Phase::Running { addr });
                Ok(addr)
            }
            Err(error) => {
                let error = match error {
                    ServeError::AddrInUse { ip, port } => ProxyError::PortInUse {
                        addr: SocketAddr::new(ip, port),
                    },
                    ServeError::Bind { addr, source } => ProxyError::CannotListen {
                        addr,
                        reason: source.to_string(),
                    },
                };
                tracing::error!("{error}");
                self.publish(Phase::Failed(error.clone()));
                Err(error)
            }
        }
    }

    async fn unbind(&mut self) {
        if let Some(server) = self.server.take() {
            self.publish(Phase::Stopping);
            server.handle.stop(self.grace()).await;
        }
        match self.load_failure.clone() {
            Some((error, _)) => self.publish(Phase::Failed(error)),
            None => self.publish(Phase::Stopped),
        }
    }

    /// Restarts the listener when the serving config's `listen` differs from the bound one.
    async fn follow_listen(&mut self) -> Result<bool, ProxyError> {
        let Some(gateway) = &self.gateway else {
            return Ok(false);
        };
        let wanted = gateway.snapshot().config.listen;
        if self.status.borrow().configured_listen != Some(wanted) {
            // Copy Base URL follows the config even while stopped.
            self.republish();
        }
        let Some(server) = &self.server else {
            return Ok(false);
        };
        if wanted == server.requested {
            return Ok(false);
        }
        tracing::info!(from = %server.requested, to = %wanted, "listen changed; moving the listener");
        self.restart().await.map(|_| true)
    }

    fn load_error(&self) -> ProxyError {
        match &self.load_failure {
            Some((error, _)) => error.clone(),
            None => ProxyError::GatewayFailed {
                reason: "the gateway is not running".into(),
            },
        }
    }

    fn grace(&self) -> Duration {
        self.gateway
            .as_ref()
            .map_or(DEFAULT_GRACE, |g| g.snapshot().config.server.shutdown_grace)
    }

    fn remember(&mut self, proxy_enabled: bool) {
        if self.remembered.proxy_enabled == proxy_enabled {
            return;
        }
        self.remembered.proxy_enabled = proxy_enabled;
        if let Err(e) = self.remembered.save(&self.options.state_path) {
            tracing::warn!(path = %self.options.state_path.display(), error = %e, "cannot remember the proxy choice");
        }
    }

    fn publish(&self, phase: Phase) {
        let status = Status {
            phase,
            admin: self.admin(),
            configured_listen: self.gateway.as_ref().map(|g| g.snapshot().config.listen),
            config_path: self.options.config_path.clone(),
        };
        self.status.send_replace(status);
    }

    /// Publishes the current phase again (the admin-side facts may have changed).
    fn republish(&self) {
        let phase = self.status.borrow().phase.clone();
        self.publish(phase);
    }
}

/// Passes a gateway's events on until the gateway is gone. A slow listener misses old events
/// (broadcast), which is fine for notifications.
async fn forward_events(
    mut from: broadcast::Receiver<GatewayEvent>,
    to: broadcast::Sender<GatewayEvent>,
) {
    loop {
        match from.recv().await {
            // No subscriber is fine: nobody is listening right now.
            Ok(event) => drop(to.send(event)),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "gateway events skipped");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn modified(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;
    use std::path::Path;

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
        assert_eq!(status.phase, Phase::Failed(error));
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
        let Phase::Failed(ProxyError::ConfigInvalid { problem, details }) = &status.phase else {
            panic!("expected a config error, got {:?}", status.phase);
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

    fn bump_mtime(path: &Path) {
        let later = SystemTime::now() + Duration::from_secs(5);
        let file = std::fs::File::options().write(true).open(path).unwrap();
        file.set_modified(later).unwrap();
    }
}
