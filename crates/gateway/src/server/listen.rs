//! Serving the HTTP app on a socket: `Gateway::serve` binds a listener and returns the handle
//! that stops it (the supervisor's start/stop, and tests). Lives with the server so the
//! gateway core does not depend on its HTTP adapters.

use std::net::SocketAddr;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::gateway::Gateway;

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
    /// The HTTP app, for serving or for driving in tests without a socket.
    pub fn router(&self) -> axum::Router {
        super::router(self.clone())
    }

    /// Binds `addr` and serves until the returned handle is stopped.
    pub async fn serve(&self, addr: SocketAddr) -> Result<ServerHandle, ServeError> {
        self.serve_as(addr, false).await
    }

    /// The second listener (`server.lan_listen`): every request needs a client token, and
    /// neither the admin API nor the dashboard is served.
    pub async fn serve_token_only(&self, addr: SocketAddr) -> Result<ServerHandle, ServeError> {
        self.serve_as(addr, true).await
    }

    async fn serve_as(
        &self,
        addr: SocketAddr,
        token_only: bool,
    ) -> Result<ServerHandle, ServeError> {
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
        // Streams are many small writes: without TCP_NODELAY each waits for the client's
        // (delayed) ACK of the one before (Nagle).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        });
        let stop = CancellationToken::new();
        // Long-lived responses (the dashboard's event stream) end when this server stops,
        // instead of holding the graceful shutdown for its whole grace period.
        let mut app = self.router().layer(axum::Extension(Stopping(stop.clone())));
        if token_only {
            app = app.layer(axum::Extension(super::guard::TokenOnly));
        }
        let signal = stop.clone().cancelled_owned();
        let task = self.inner.tracker.spawn(async move {
            let server =
                axum::serve(listener, app.into_make_service()).with_graceful_shutdown(signal);
            if let Err(e) = server.await {
                tracing::error!(error = %e, "server stopped with an error");
            }
        });
        tracing::info!(addr = %local_addr, token_only, "listening");
        Ok(ServerHandle {
            local_addr,
            stop,
            task,
        })
    }
}

/// Cancelled when the server a request came in on is stopping.
#[derive(Clone)]
pub(crate) struct Stopping(pub(crate) CancellationToken);

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
