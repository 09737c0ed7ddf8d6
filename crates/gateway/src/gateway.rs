//! The running gateway: one immutable config snapshot (swapped whole on reload), the providers
//! built from it, and the request log. `serve` binds a listener and returns a handle that stops
//! it; the tray's Start/Stop and the CLI's graceful shutdown are both built on that handle.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::AdminService;
use crate::config::{default_database_path, Config};
use crate::provider::{self, Provider};
use crate::store::LogWriter;

/// Everything a request needs, frozen at one point in time. Requests keep the snapshot they
/// started with even if the config is swapped meanwhile.
pub struct Snapshot {
    pub config: Config,
    pub providers: BTreeMap<String, Arc<dyn Provider>>,
    pub loaded_at_unix: u64,
}

impl Snapshot {
    pub fn build(config: Config) -> Result<Snapshot, String> {
        let mut providers = BTreeMap::new();
        for (name, provider_config) in &config.providers {
            let provider =
                provider::build(provider_config).map_err(|e| format!("provider `{name}`: {e}"))?;
            providers.insert(name.clone(), provider);
        }
        let loaded_at_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Ok(Snapshot {
            config,
            providers,
            loaded_at_unix,
        })
    }
}

/// Options that do not live in the config file.
#[derive(Debug, Clone, Default)]
pub struct GatewayOptions {
    /// The file the config came from; `None` for the embedded default.
    pub config_path: Option<PathBuf>,
    /// Overrides the config's and the platform's database path (tests, `--database`).
    pub database_path: Option<PathBuf>,
}

pub(crate) struct Inner {
    pub(crate) snapshot: ArcSwap<Snapshot>,
    pub(crate) log: LogWriter,
    pub(crate) config_path: Option<PathBuf>,
    tracker: TaskTracker,
    stop_background: CancellationToken,
}

/// A cheap, cloneable handle on the gateway core.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("port {port} on {ip} is in use by another program")]
    AddrInUse { ip: std::net::IpAddr, port: u16 },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

impl Gateway {
    /// Builds providers and opens the request log. The database failing does not fail start:
    /// readiness reports it and requests keep flowing.
    pub async fn start(config: Config, options: GatewayOptions) -> Result<Gateway, String> {
        let database_path = options
            .database_path
            .clone()
            .or_else(|| config.database_path.clone())
            .unwrap_or_else(default_database_path);
        let snapshot = Snapshot::build(config)?;
        let tracker = TaskTracker::new();
        let stop_background = CancellationToken::new();
        let log = LogWriter::start(database_path, &tracker, stop_background.clone()).await;
        Ok(Gateway {
            inner: Arc::new(Inner {
                snapshot: ArcSwap::from_pointee(snapshot),
                log,
                config_path: options.config_path,
                tracker,
                stop_background,
            }),
        })
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.load_full()
    }

    pub fn admin(&self) -> AdminService {
        AdminService::new(self.clone())
    }

    /// The HTTP app, for serving or for driving in tests without a socket.
    pub fn router(&self) -> axum::Router {
        crate::server::router(self.clone())
    }

    /// Binds `addr` and serves until the returned handle is stopped.
    pub async fn serve(&self, addr: SocketAddr) -> Result<ServerHandle, ServeError> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| {
                if source.kind() == std::io::ErrorKind::AddrInUse {
                    ServeError::AddrInUse {
                        ip: addr.ip(),
                        port: addr.port(),
                    }
                } else {
                    ServeError::Bind { addr, source }
                }
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| ServeError::Bind { addr, source })?;
        let stop = CancellationToken::new();
        let app = self.router();
        let signal = stop.clone().cancelled_owned();
        let task = self.inner.tracker.spawn(async move {
            let server =
                axum::serve(listener, app.into_make_service()).with_graceful_shutdown(signal);
            if let Err(e) = server.await {
                tracing::error!(error = %e, "server stopped with an error");
            }
        });
        tracing::info!(addr = %local_addr, "listening");
        Ok(ServerHandle {
            local_addr,
            stop,
            task,
        })
    }

    /// Flushes the request log and waits for every background task. Call after stopping servers.
    pub async fn shutdown(&self) {
        self.inner.stop_background.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}

/// A bound listener. Stopping closes it (freeing the port) and lets in-flight requests finish.
pub struct ServerHandle {
    local_addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting at once; waits up to `grace` for in-flight requests, then cuts them off.
    pub async fn stop(self, grace: Duration) {
        self.stop.cancel();
        let abort = self.task.abort_handle();
        if tokio::time::timeout(grace, self.task).await.is_err() {
            tracing::warn!(
                grace_s = grace.as_secs_f64(),
                "in-flight requests did not finish in time; closing them"
            );
            abort.abort();
        }
    }
}
