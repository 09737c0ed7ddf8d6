//! The admin service: every operation the HTTP admin API, the CLI and the tray offer lives here
//! once. Adapters (HTTP handlers, Tauri commands) only translate in and out.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::gateway::Gateway;
use crate::store::LogHealth;

#[derive(Clone)]
pub struct AdminService {
    gateway: Gateway,
}

#[derive(Debug, Clone, Serialize)]
pub struct Readiness {
    pub ready: bool,
    pub config: ConfigStatus,
    pub database: LogHealth,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigStatus {
    pub loaded: bool,
    /// `None` when running on the embedded default.
    pub path: Option<String>,
    pub loaded_at_unix: u64,
    pub providers: usize,
    pub aliases: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendHealth {
    pub provider: String,
    pub kind: &'static str,
    pub up: bool,
    pub latency_ms: f64,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub healthy: bool,
    pub backends: Vec<BackendHealth>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AliasInfo {
    pub name: String,
    pub description: Option<String>,
    pub targets: Vec<String>,
    pub fallbacks: Vec<String>,
}

impl AdminService {
    pub(crate) fn new(gateway: Gateway) -> Self {
        AdminService { gateway }
    }

    /// Ready when a config is loaded and the request log is writable.
    pub fn readiness(&self) -> Readiness {
        let snapshot = self.gateway.snapshot();
        let database = self.gateway.inner.log.health();
        Readiness {
            ready: database.ok,
            config: ConfigStatus {
                loaded: true,
                path: self
                    .gateway
                    .inner
                    .config_path
                    .as_ref()
                    .map(|p| p.display().to_string()),
                loaded_at_unix: snapshot.loaded_at_unix,
                providers: snapshot.config.providers.len(),
                aliases: snapshot.config.aliases.len(),
            },
            database,
        }
    }

    /// Probes every backend at once, each bounded by `server.health_timeout_s`.
    pub async fn backend_health(&self) -> HealthReport {
        let snapshot = self.gateway.snapshot();
        let timeout = snapshot.config.server.health_timeout;
        let probes = snapshot.providers.iter().map(|(name, provider)| {
            let kind = snapshot
                .config
                .providers
                .get(name)
                .map(|p| p.kind.as_str())
                .unwrap_or("unknown");
            async move {
                let started = Instant::now();
                let result = match tokio::time::timeout(
                    timeout + Duration::from_millis(100),
                    provider.probe(timeout),
                )
                .await
                {
                    Ok(result) => result,
                    Err(_) => Err(format!("no answer within {} s", timeout.as_secs_f64())),
                };
                BackendHealth {
                    provider: name.clone(),
                    kind,
                    up: result.is_ok(),
                    latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                    error: result.err(),
                }
            }
        });
        let backends = futures::future::join_all(probes).await;
        HealthReport {
            healthy: backends.iter().all(|b| b.up),
            backends,
        }
    }

    pub fn aliases(&self) -> Vec<AliasInfo> {
        let snapshot = self.gateway.snapshot();
        snapshot
            .config
            .aliases
            .values()
            .map(|a| AliasInfo {
                name: a.name.clone(),
                description: a.description.clone(),
                targets: a.targets.iter().map(|t| t.label()).collect(),
                fallbacks: a.fallbacks.clone(),
            })
            .collect()
    }
}
