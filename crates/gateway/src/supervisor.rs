//! One lifecycle for every shell: load the config (writing the commented default on first
//! start), start the gateway, serve, watch and reload the file, follow a changed `listen`, stop
//! and shut down, including the state where no valid config exists yet (the file is retried
//! when it changes). `switchboard serve` and the tray's controller both drive this type;
//! everything it knows is published as a `State` on a watch channel, and the gateway's events
//! are passed on through `events()`, which outlives a gateway a broken config kept from
//! existing.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::{broadcast, watch};

use crate::admin::AdminService;
use crate::config::{self, Diagnostic, LoadError};
use crate::events::GatewayEvent;
use crate::gateway::{Gateway, GatewayOptions, ReloadError};
use crate::server::listen::{ServeError, ServerHandle};

/// Used when no config is loaded to ask for the grace period.
const DEFAULT_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct SupervisorOptions {
    pub config_path: PathBuf,
    /// Request log; `None`: the config's `database.path` or the platform default.
    pub database_path: Option<PathBuf>,
    /// Reload on every change of the config file.
    pub watch_config: bool,
    /// Listen here instead of the config's `listen` (`serve --listen`); a changed `listen` in
    /// the file is then not followed.
    pub listen: Option<SocketAddr>,
}

/// Where the server is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Starting,
    Running { addr: SocketAddr },
    Stopping,
    Stopped,
    Failed(LifecycleError),
}

/// Why the gateway is not serving, or why an action failed (the CLI prints it as it is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LifecycleError {
    #[error("port {} on {} is in use by another program", .addr.port(), .addr.ip())]
    PortInUse { addr: SocketAddr },
    #[error("cannot listen on {addr}: {reason}")]
    CannotListen { addr: SocketAddr, reason: String },
    /// The config file could not be loaded (first start) or a reload was rejected. `message`
    /// is every error as `file:line:col: message`.
    #[error("{message}")]
    ConfigInvalid {
        message: String,
        diagnostics: Vec<Diagnostic>,
    },
    #[error("cannot start the gateway: {reason}")]
    GatewayFailed { reason: String },
}

/// What the supervisor knows, published on every change.
#[derive(Clone)]
pub struct State {
    pub phase: Phase,
    /// `None` until a config has been loaded.
    pub admin: Option<AdminService>,
    /// The address the serving config asks for (or `SupervisorOptions::listen`).
    pub configured_listen: Option<SocketAddr>,
    pub config_path: PathBuf,
}

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadReport {
    /// The file's content was already serving.
    Unchanged,
    /// The new config is serving. `restarted`: the listener moved to a changed `listen`.
    /// `needs_restart`: settings that only apply after a restart of the process.
    Applied {
        restarted: bool,
        needs_restart: Vec<String>,
    },
    /// The config loaded after an earlier failure; the gateway started (not serving yet).
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
                        " Takes effect after a restart: {}.",
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
    /// The address asked for (maybe port 0), to notice when the config's `listen` changes.
    requested: SocketAddr,
}

pub struct Supervisor {
    options: SupervisorOptions,
    gateway: Option<Gateway>,
    server: Option<Server>,
    /// The token-only second listener (`server.lan_listen`), while the main one serves.
    lan: Option<Server>,
    /// A `lan_listen` that could not be bound (not retried until it changes).
    lan_failed: Option<SocketAddr>,
    state: watch::Sender<State>,
    /// The gateway's events, forwarded (see `events`).
    events: broadcast::Sender<GatewayEvent>,
    /// Why the config could not be loaded, and the file's mtime then (retried when it changes).
    load_failure: Option<(LifecycleError, Option<SystemTime>)>,
    /// The first load wrote the commented default config.
    created_config: bool,
    shut_down: bool,
}

impl Supervisor {
    /// Loads the config (writing the commented default on first start) and starts the gateway,
    /// without serving yet. Never fails: a broken config is a `Phase::Failed` to show, retried
    /// by `tick` once the file changes.
    pub async fn open(options: SupervisorOptions) -> Supervisor {
        let (state, _) = watch::channel(State {
            phase: Phase::Stopped,
            admin: None,
            configured_listen: None,
            config_path: options.config_path.clone(),
        });
        let mut supervisor = Supervisor {
            options,
            gateway: None,
            server: None,
            lan: None,
            lan_failed: None,
            state,
            events: broadcast::channel(64).0,
            load_failure: None,
            created_config: false,
            shut_down: false,
        };
        // A failure is published as the phase; nothing else to do with it here.
        let _ = supervisor.load().await;
        supervisor
    }

    pub fn subscribe(&self) -> watch::Receiver<State> {
        self.state.subscribe()
    }

    /// The gateway's events (breaker opened/closed, config reloaded/rejected, ...). Subscribe
    /// once at start: a gateway loaded later (after a broken config is fixed) feeds it too.
    pub fn events(&self) -> broadcast::Receiver<GatewayEvent> {
        self.events.subscribe()
    }

    pub fn state(&self) -> State {
        self.state.borrow().clone()
    }

    pub fn gateway(&self) -> Option<&Gateway> {
        self.gateway.as_ref()
    }

    pub fn admin(&self) -> Option<AdminService> {
        self.gateway.as_ref().map(Gateway::admin)
    }

    pub fn config_path(&self) -> &Path {
        &self.options.config_path
    }

    /// Whether the first load wrote the commented default config.
    pub fn created_config(&self) -> bool {
        self.created_config
    }

    /// Why no config is loaded, while none is.
    pub fn load_failure(&self) -> Option<&LifecycleError> {
        self.load_failure.as_ref().map(|(e, _)| e)
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.server.as_ref().map(|s| s.handle.local_addr())
    }

    /// Where the token-only second listener (`server.lan_listen`) is bound, if it is.
    pub fn lan_addr(&self) -> Option<SocketAddr> {
        self.lan.as_ref().map(|s| s.handle.local_addr())
    }

    /// Binds the listen address and serves. Already serving: its address.
    pub async fn start(&mut self) -> Result<SocketAddr, LifecycleError> {
        if let Some(addr) = self.local_addr() {
            return Ok(addr);
        }
        let Some(gateway) = self.gateway.clone() else {
            return Err(self.load_error());
        };
        let requested = self.wanted_listen(&gateway);
        self.publish(Phase::Starting);
        match gateway.serve(requested).await {
            Ok(handle) => {
                let addr = handle.local_addr();
                self.server = Some(Server { handle, requested });
                self.follow_lan().await;
                self.publish(Phase::Running { addr });
                Ok(addr)
            }
            Err(error) => {
                let error = match error {
                    ServeError::AddrInUse { ip, port } => LifecycleError::PortInUse {
                        addr: SocketAddr::new(ip, port),
                    },
                    ServeError::Bind { addr, source } => LifecycleError::CannotListen {
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

    /// Stops serving: frees the port at once; in-flight requests finish within
    /// `server.shutdown_grace_s`.
    pub async fn stop(&mut self) {
        if let Some(lan) = self.lan.take() {
            lan.handle.stop(self.grace()).await;
        }
        self.lan_failed = None;
        if let Some(server) = self.server.take() {
            self.publish(Phase::Stopping);
            server.handle.stop(self.grace()).await;
        }
        match self.load_failure.clone() {
            Some((error, _)) => self.publish(Phase::Failed(error)),
            None => self.publish(Phase::Stopped),
        }
    }

    /// Stops and starts again, e.g. after `listen` changed.
    pub async fn restart(&mut self) -> Result<SocketAddr, LifecycleError> {
        self.stop().await;
        self.start().await
    }

    /// Re-reads the config file. A rejected file leaves the previous config serving and is
    /// returned as `ConfigInvalid`. A changed `listen` moves a running listener. If no config
    /// was loaded yet (it was broken at start), this loads it (`Loaded`; not serving yet).
    pub async fn reload(&mut self) -> Result<ReloadReport, LifecycleError> {
        let Some(gateway) = self.gateway.clone() else {
            self.load().await?;
            return Ok(ReloadReport::Loaded);
        };
        let result = gateway.reload().await;
        // The rejected error (or its clearing) is part of the state: tell subscribers.
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
            Err(ReloadError::Rejected(failure)) => Err(LifecycleError::ConfigInvalid {
                message: failure.message,
                diagnostics: failure.diagnostics,
            }),
            Err(error @ ReloadError::NoFile) => Err(LifecycleError::ConfigInvalid {
                message: error.to_string(),
                diagnostics: Vec::new(),
            }),
        }
    }

    /// Call periodically: follows what the config watcher did (a changed `listen` moves the
    /// listener) and, while no config is loaded, retries loading once the file changes
    /// (`Some(Loaded)` when that worked: the caller decides whether to serve).
    pub async fn tick(&mut self) -> Result<Option<ReloadReport>, LifecycleError> {
        if self.shut_down {
            return Ok(None);
        }
        if self.gateway.is_none() {
            let changed = self
                .load_failure
                .as_ref()
                .is_some_and(|(_, mtime)| *mtime != modified(&self.options.config_path));
            if changed {
                return self.reload().await.map(Some);
            }
            return Ok(None);
        }
        self.follow_listen().await.map(|_| None)
    }

    /// Stops serving, flushes the request log and waits for every background task. Idempotent.
    pub async fn shutdown(&mut self) {
        if self.shut_down {
            return;
        }
        self.stop().await;
        if let Some(gateway) = &self.gateway {
            gateway.shutdown().await;
        }
        self.shut_down = true;
        self.publish(Phase::Stopped);
    }

    async fn load(&mut self) -> Result<(), LifecycleError> {
        let path = self.options.config_path.clone();
        let mtime = modified(&path);
        match self.start_gateway().await {
            Ok(gateway) => {
                let forward = forward_events(
                    gateway.subscribe(),
                    self.events.clone(),
                    gateway.inner.stop_background.clone(),
                );
                gateway.inner.tracker.spawn(forward);
                if self.options.watch_config {
                    if let Err(e) = gateway.watch_config() {
                        tracing::warn!(error = %e, "config changes will need a reload (SIGHUP, Reload Config)");
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

    async fn start_gateway(&mut self) -> Result<Gateway, LifecycleError> {
        let path = &self.options.config_path;
        // A save killed mid-write (kill -9, power loss) leaves its temp file beside the config.
        config::file::sweep_stale_temps(path);
        let config = match config::load_or_init(path) {
            Ok((config, created)) => {
                if created {
                    self.created_config = true;
                    tracing::info!(path = %path.display(), "no config file yet; wrote the commented default");
                }
                config
            }
            Err(LoadError::Invalid(error)) => {
                return Err(LifecycleError::ConfigInvalid {
                    message: error.to_string(),
                    diagnostics: error.diagnostics,
                })
            }
            Err(error) => {
                return Err(LifecycleError::ConfigInvalid {
                    message: error.to_string(),
                    diagnostics: Vec::new(),
                })
            }
        };
        let options = GatewayOptions {
            config_path: Some(path.clone()),
            database_path: self.options.database_path.clone(),
        };
        Gateway::start(config, options)
            .await
            .map_err(|reason| LifecycleError::GatewayFailed { reason })
    }

    fn wanted_listen(&self, gateway: &Gateway) -> SocketAddr {
        self.options
            .listen
            .unwrap_or_else(|| gateway.snapshot().config.listen)
    }

    /// Restarts the listener when the serving config's `listen` differs from the bound one.
    async fn follow_listen(&mut self) -> Result<bool, LifecycleError> {
        self.follow_lan().await;
        let Some(gateway) = &self.gateway else {
            return Ok(false);
        };
        let wanted = self.wanted_listen(gateway);
        if self.state.borrow().configured_listen != Some(wanted) {
            // The base URL follows the config even while stopped.
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

    /// Starts, moves or stops the second listener to match the serving config's `lan_listen`
    /// (only while the main listener serves). A failure to bind is logged, not fatal: the
    /// loopback listener keeps serving.
    async fn follow_lan(&mut self) {
        let Some(gateway) = self.gateway.clone() else {
            return;
        };
        let wanted = gateway
            .snapshot()
            .config
            .server
            .lan_listen
            .filter(|_| self.server.is_some());
        if self.lan.as_ref().map(|s| s.requested) == wanted
            || (wanted.is_some() && wanted == self.lan_failed)
        {
            return;
        }
        if let Some(old) = self.lan.take() {
            old.handle.stop(self.grace()).await;
        }
        self.lan_failed = None;
        let Some(addr) = wanted else {
            return;
        };
        match gateway.serve_token_only(addr).await {
            Ok(handle) => {
                self.lan = Some(Server {
                    handle,
                    requested: addr,
                })
            }
            Err(e) => {
                tracing::error!(error = %e, "server.lan_listen: the second listener is not serving");
                self.lan_failed = Some(addr);
            }
        }
    }

    fn load_error(&self) -> LifecycleError {
        match &self.load_failure {
            Some((error, _)) => error.clone(),
            None => LifecycleError::GatewayFailed {
                reason: "the gateway is not running".into(),
            },
        }
    }

    fn grace(&self) -> Duration {
        self.gateway
            .as_ref()
            .map_or(DEFAULT_GRACE, |g| g.snapshot().config.server.shutdown_grace)
    }

    fn publish(&self, phase: Phase) {
        let state = State {
            phase,
            admin: self.admin(),
            configured_listen: self.gateway.as_ref().map(|g| self.wanted_listen(g)),
            config_path: self.options.config_path.clone(),
        };
        self.state.send_replace(state);
    }

    /// Publishes the current phase again (the admin-side facts may have changed).
    fn republish(&self) {
        let phase = self.state.borrow().phase.clone();
        self.publish(phase);
    }
}

/// Passes a gateway's events on until the gateway stops. A slow listener misses old events
/// (broadcast), which is fine for notifications.
async fn forward_events(
    mut from: broadcast::Receiver<GatewayEvent>,
    to: broadcast::Sender<GatewayEvent>,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        let received = tokio::select! {
            _ = stop.cancelled() => return,
            received = from.recv() => received,
        };
        match received {
            // No subscriber is fine: nobody is listening right now.
            Ok(event) => drop(to.send(event)),
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::debug!(missed, "gateway events skipped");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

#[cfg(test)]
#[path = "supervisor_tests.rs"]
mod tests;
