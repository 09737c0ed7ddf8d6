//! The running gateway: one immutable config snapshot (swapped whole on reload), the providers
//! built from it, and the request log. `serve` binds a listener and returns a handle that stops
//! it; the tray's Start/Stop and the CLI's graceful shutdown are both built on that handle.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Mutex;
use std::time::Instant;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::now_ms;
use crate::config::file::revision_of;
use crate::config::{default_database_path, Config, Diagnostic};
use crate::events::{Events, GatewayEvent};
use crate::provider::{self, Provider};
use crate::routing::RoutingState;
use crate::spend::{Budgets, HISTORY_MS};
use crate::store::ledger::Ledger;
use crate::store::LogWriter;

/// Everything a request needs, frozen at one point in time. Requests keep the snapshot they
/// started with even if the config is swapped meanwhile.
pub struct Snapshot {
    pub config: Config,
    pub providers: BTreeMap<String, Arc<dyn Provider>>,
    pub loaded_at_unix: u64,
    /// `server.admin_token`'s value, kept read by the credentials refresher like the providers'
    /// keys, so an admin request never reads a file or the keychain.
    pub(crate) admin_token: Option<crate::credentials::Credential>,
}

impl Snapshot {
    /// Builds providers for `config`, reusing from `previous` every provider whose settings did
    /// not change (its connection pool survives the reload).
    pub fn build(
        config: Config,
        previous: Option<&Snapshot>,
        context: &provider::BuildContext,
    ) -> Result<Snapshot, String> {
        let mut providers = BTreeMap::new();
        for (name, provider_config) in &config.providers {
            let reused = previous.and_then(|prev| {
                let unchanged = prev.config.providers.get(name) == Some(provider_config);
                unchanged
                    .then(|| prev.providers.get(name).cloned())
                    .flatten()
            });
            let provider = match reused {
                Some(provider) => provider,
                None => provider::build(provider_config, context)
                    .map_err(|e| format!("provider `{name}`: {e}"))?,
            };
            providers.insert(name.clone(), provider);
        }
        let loaded_at_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let admin_token = config
            .server
            .admin_token
            .as_ref()
            .map(|reference| context.credentials.credential(reference));
        Ok(Snapshot {
            config,
            providers,
            loaded_at_unix,
            admin_token,
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
    pub(crate) config_state: Mutex<ConfigState>,
    /// Serialises config writes and reloads so two never interleave.
    pub(crate) config_lock: tokio::sync::Mutex<()>,
    /// Breakers, in-flight counts and latency per target; survives reloads.
    pub(crate) routing: RoutingState,
    pub(crate) events: Events,
    /// RPM/TPM/concurrency counters per scope; survives reloads.
    pub(crate) limits: crate::limits::LimitsState,
    /// Spend per budget and period, from the ledger; survives reloads.
    pub(crate) budgets: Arc<Budgets>,
    /// Stored Responses API answers (`previous_response_id`, `GET /v1/responses/{id}`).
    pub(crate) responses: crate::store::responses::ResponseStore,
    pub(crate) tracker: TaskTracker,
    pub(crate) stop_background: CancellationToken,
    /// Every secret reference the providers use, kept read by a background task.
    pub(crate) credentials: crate::credentials::Credentials,
    /// The dashboard's read side of the request log (its own read-only pool).
    pub(crate) reader: crate::store::read::LogReader,
    /// Login links and dashboard sessions.
    pub(crate) sessions: crate::session::Sessions,
    /// The per-install admin secret (`admin.secret` beside the database); `None` if it could
    /// not be read or made (then only `server.admin_token` opens the admin API).
    pub(crate) admin_secret: Option<crate::secret::Secret<String>>,
    /// The versions admin saves replaced (`config-history/` beside the database), for undo.
    pub(crate) config_history: crate::config::history::History,
    /// OTLP trace export (`[telemetry]`); survives reloads, reconfigured by each.
    pub(crate) tracing: crate::telemetry::otel::Tracing,
}

/// What the gateway knows about its config file, the last rejected reload and what a reload
/// did: the admin API's wire types, used as they are.
pub use crate::api::{ConfigFileState as ConfigState, ReloadFailure, ReloadOutcome};

#[derive(Debug, Clone, thiserror::Error)]
pub enum ReloadError {
    #[error("running on the embedded default config; there is no file to reload")]
    NoFile,
    #[error("{0}")]
    Rejected(ReloadFailure),
}

impl std::fmt::Display for ReloadFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A cheap, cloneable handle on the gateway core.
#[derive(Clone)]
pub struct Gateway {
    pub(crate) inner: Arc<Inner>,
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
        let revision = options
            .config_path
            .as_deref()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .map(|text| revision_of(&text));
        let tracker = TaskTracker::new();
        let stop_background = CancellationToken::new();
        let credentials = crate::credentials::Credentials::default();
        let context = provider::BuildContext {
            credentials: credentials.clone(),
            tracker: tracker.clone(),
            stop: stop_background.clone(),
        };
        let snapshot = Snapshot::build(config, None, &context)?;
        credentials.spawn_refresher(&tracker, stop_background.clone());
        let events = Events::default();
        let log = LogWriter::start(
            database_path.clone(),
            snapshot.config.log_retention,
            &tracker,
            stop_background.clone(),
        )
        .await;
        let reader = crate::store::read::LogReader::new(database_path.clone());
        let config_history = crate::config::history::History::beside(&database_path);
        let admin_secret = match crate::session::load_or_create_secret(
            &crate::session::secret_path(&database_path),
        ) {
            Ok(secret) => Some(secret),
            Err(e) => {
                tracing::warn!(error = %e, "no admin secret: the admin API needs server.admin_token");
                None
            }
        };
        log.metrics().configure(&snapshot.config);
        // Opened after the log, which creates the file and runs the migrations.
        let history_since = jiff::Timestamp::now().as_millisecond() - HISTORY_MS;
        let responses = crate::store::responses::ResponseStore::start(
            database_path.clone(),
            &tracker,
            stop_background.clone(),
        )
        .await;
        let (ledger, history) = Ledger::start(
            database_path,
            history_since,
            &tracker,
            stop_background.clone(),
        )
        .await;
        let budgets = Arc::new(Budgets::new(
            &snapshot.config,
            history,
            ledger,
            events.clone(),
        ));
        let gateway = Gateway {
            inner: Arc::new(Inner {
                snapshot: ArcSwap::from_pointee(snapshot),
                log,
                config_path: options.config_path,
                config_state: Mutex::new(ConfigState {
                    revision,
                    loaded_at_unix_ms: now_ms(),
                    last_error: None,
                }),
                config_lock: tokio::sync::Mutex::new(()),
                routing: RoutingState::new(events.clone()),
                events,
                limits: Default::default(),
                budgets,
                responses,
                tracker,
                stop_background,
                credentials,
                reader,
                sessions: Default::default(),
                admin_secret,
                config_history,
                tracing: Default::default(),
            }),
        };
        gateway.configure_tracing(&gateway.snapshot().config);
        gateway.spawn_health_checks();
        Ok(gateway)
    }

    /// Probes providers that ask for it (`health_check_s`) and feeds the results to their
    /// targets' breakers, so a backend that comes back is used again without waiting for traffic.
    fn spawn_health_checks(&self) {
        let gateway = self.clone();
        let stop = self.inner.stop_background.clone();
        self.inner.tracker.spawn(async move {
            let mut last_probe: std::collections::HashMap<String, Instant> = Default::default();
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => {}
                }
                let snapshot = gateway.snapshot();
                for (name, provider_config) in &snapshot.config.providers {
                    let Some(every) = provider_config.health_check else {
                        continue;
                    };
                    if last_probe.get(name).is_some_and(|t| t.elapsed() < every) {
                        continue;
                    }
                    last_probe.insert(name.clone(), Instant::now());
                    let Some(provider) = snapshot.providers.get(name) else {
                        continue;
                    };
                    let started = Instant::now();
                    let result = provider.probe(snapshot.config.server.health_timeout).await;
                    let targets = snapshot
                        .config
                        .aliases
                        .values()
                        .flat_map(|a| a.targets.iter())
                        .filter(|t| &t.provider == name);
                    for target in targets {
                        let outcome = match &result {
                            Ok(()) => crate::routing::Outcome::Success {
                                latency: started.elapsed(),
                                first_token: None,
                            },
                            Err(e) => crate::routing::Outcome::Failure {
                                reason: format!("health check: {e}"),
                                cooldown: None,
                            },
                        };
                        gateway
                            .inner
                            .routing
                            .target(target)
                            .begin(false)
                            .settle(outcome, &target.breaker);
                    }
                }
            }
        });
    }

    /// Notable changes as they happen (config reloaded or rejected, breakers, misconfigured
    /// targets), for the tray's notifications and the dashboard.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<GatewayEvent> {
        self.inner.events.subscribe()
    }

    pub fn config_path(&self) -> Option<&std::path::Path> {
        self.inner.config_path.as_deref()
    }

    pub fn config_state(&self) -> ConfigState {
        self.inner
            .config_state
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Re-reads the config file and swaps in a new snapshot if its content changed. An invalid
    /// file is rejected: the old config keeps serving and the error is kept for the admin
    /// service, readiness and the CLI.
    pub async fn reload(&self) -> Result<ReloadOutcome, ReloadError> {
        let _guard = self.inner.config_lock.lock().await;
        let started = Instant::now();
        let path = self.inner.config_path.clone().ok_or(ReloadError::NoFile)?;
        let text = match read_settled(&path).await {
            Ok(text) => text,
            Err(e) => {
                let message = format!("{}: cannot read: {e}", path.display());
                return Err(self.reject(message, Vec::new()));
            }
        };
        if text.trim().is_empty() {
            // Editors that write in place pass through an empty file; never serve "no aliases".
            let message = format!(
                "{}: the file is empty; keeping the previous config",
                path.display()
            );
            return Err(self.reject(message, Vec::new()));
        }
        let revision = revision_of(&text);
        let price_file_changed = self
            .snapshot()
            .config
            .spend
            .price_file
            .as_ref()
            .is_some_and(|f| f.changed_on_disk());
        if self.config_state().revision.as_deref() == Some(revision.as_str()) && !price_file_changed
        {
            // The file is back to what serves: an earlier rejection no longer describes it.
            if let Ok(mut state) = self.inner.config_state.lock() {
                state.last_error = None;
            }
            return Ok(ReloadOutcome {
                revision,
                changed: false,
                duration_ms: 0.0,
                needs_restart: Vec::new(),
            });
        }
        match Config::parse(&text, &path.display().to_string()) {
            Ok(config) => self.install(config, revision, started),
            Err(e) => Err(self.reject(e.to_string(), e.diagnostics)),
        }
    }

    /// Swaps in an already validated config whose file text has `revision`.
    pub(crate) fn install(
        &self,
        config: Config,
        revision: String,
        started: Instant,
    ) -> Result<ReloadOutcome, ReloadError> {
        let previous = self.snapshot();
        let mut needs_restart = Vec::new();
        if config.listen != previous.config.listen {
            needs_restart.push(format!(
                "listen ({} → {})",
                previous.config.listen, config.listen
            ));
        }
        if config.database_path != previous.config.database_path {
            needs_restart.push("database.path".to_owned());
        }
        let snapshot = Snapshot::build(config, Some(&previous), &self.build_context())
            .map_err(|e| self.reject(e, Vec::new()))?;
        let changed_providers: Vec<String> = snapshot
            .config
            .providers
            .iter()
            .filter(|(name, p)| previous.config.providers.get(*name) != Some(*p))
            .map(|(name, _)| name.clone())
            .collect();
        self.inner
            .routing
            .retain(&snapshot.config, &changed_providers);
        self.inner.budgets.configure(&snapshot.config);
        self.inner.log.set_retention(snapshot.config.log_retention);
        self.inner.log.metrics().configure(&snapshot.config);
        self.inner.log.metrics().reload(true);
        self.configure_tracing(&snapshot.config);
        self.inner.snapshot.store(Arc::new(snapshot));
        if let Ok(mut state) = self.inner.config_state.lock() {
            *state = ConfigState {
                revision: Some(revision.clone()),
                loaded_at_unix_ms: now_ms(),
                last_error: None,
            };
        }
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        for setting in &needs_restart {
            tracing::warn!(setting = %setting, "changed in the config; takes effect after a restart");
        }
        tracing::info!(revision = %revision, duration_ms, "config reloaded");
        self.inner.events.emit(GatewayEvent::ConfigReloaded {
            revision: revision.clone(),
        });
        Ok(ReloadOutcome {
            revision,
            changed: true,
            duration_ms,
            needs_restart,
        })
    }

    fn reject(&self, message: String, diagnostics: Vec<Diagnostic>) -> ReloadError {
        tracing::error!("config reload rejected; the previous config keeps serving:\n{message}");
        self.inner.log.metrics().reload(false);
        self.inner.events.emit(GatewayEvent::ConfigRejected {
            message: message.clone(),
        });
        let failure = ReloadFailure {
            at_unix_ms: now_ms(),
            message,
            diagnostics,
        };
        if let Ok(mut state) = self.inner.config_state.lock() {
            state.last_error = Some(failure.clone());
        }
        ReloadError::Rejected(failure)
    }

    fn configure_tracing(&self, config: &Config) {
        let inner = &self.inner;
        inner.tracing.configure(
            &config.telemetry,
            &inner.credentials,
            &inner.tracker,
            &inner.stop_background,
        );
    }

    /// What a reload builds its new providers with.
    fn build_context(&self) -> provider::BuildContext {
        provider::BuildContext {
            credentials: self.inner.credentials.clone(),
            tracker: self.inner.tracker.clone(),
            stop: self.inner.stop_background.clone(),
        }
    }

    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshot.load_full()
    }

    /// Flushes the request log and waits for every background task. Call after stopping servers.
    pub async fn shutdown(&self) {
        self.inner.stop_background.cancel();
        self.inner.tracker.close();
        self.inner.tracker.wait().await;
    }
}

/// Reads the file until two reads a moment apart agree, so a save still being written (editors
/// that write in place) is not taken for the new config.
async fn read_settled(path: &std::path::Path) -> std::io::Result<String> {
    let mut text = tokio::fs::read_to_string(path).await?;
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(15)).await;
        let again = tokio::fs::read_to_string(path).await?;
        if again == text {
            return Ok(text);
        }
        text = again;
    }
    Ok(text)
}
