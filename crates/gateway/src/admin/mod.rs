//! The admin service: every operation the HTTP admin API, the CLI and the tray offer lives here
//! once. Adapters (HTTP handlers, Tauri commands) only translate in and out. Answers are the
//! wire types of `crate::api`; this module converts the internal state into them.

use std::time::{Duration, Instant};

pub mod connection;
pub mod copilot_login;
pub mod providers;

use crate::api::{
    AliasInfo, BackendHealth, BudgetsReport, ConfigDocument, ConfigEntry, ConfigListing,
    ConfigStatus, CreateToken, HealthReport, KeyInfo, PriceFileInfo, PriceTableInfo, Readiness,
    TargetStatus, TokenCreated, WriteOutcome,
};
use crate::config::{self, file::revision_of, Config};
use crate::gateway::Gateway;

mod edit;
pub use edit::{field_errors, toml_key, unified_diff};
pub mod clients;

#[derive(Clone)]
pub struct AdminService {
    gateway: Gateway,
}

impl Gateway {
    /// The admin operations over this gateway.
    pub fn admin(&self) -> AdminService {
        AdminService::new(self.clone())
    }
}

impl AdminService {
    pub(crate) fn new(gateway: Gateway) -> Self {
        AdminService { gateway }
    }

    /// Ready when a config is loaded and the request log is writable.
    pub fn readiness(&self) -> Readiness {
        let snapshot = self.gateway.snapshot();
        let database = self.gateway.inner.log.health();
        let spend_ledger = self.gateway.inner.budgets.ledger_health();
        Readiness {
            ready: database.ok && spend_ledger.ok,
            spend_ledger: wire::ledger_health(spend_ledger),
            config_file: self.gateway.config_state(),
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
            database: wire::log_health(database),
            trace_export: wire::trace_export(self.gateway.inner.tracing.health()),
        }
    }

    /// Requests logged since `from_ms` (the tray menu's "today"), from the rollups.
    pub async fn requests_since(&self, from_ms: i64) -> Result<u64, crate::store::read::ReadError> {
        let now_ms = crate::clock::now_ms() as i64;
        self.gateway.inner.reader.count_since(from_ms, now_ms).await
    }

    /// Every budget with what it has spent this period and when it resets.
    pub fn budgets(&self) -> BudgetsReport {
        let (source, as_of) = crate::config::prices::built_in_source();
        let snapshot = self.gateway.snapshot();
        let mut unpriced: Vec<String> = snapshot
            .config
            .aliases
            .values()
            .flat_map(|a| a.targets.iter())
            .filter(|t| t.pricing == crate::config::Pricing::Unknown)
            .map(|t| t.label())
            .collect();
        unpriced.sort();
        unpriced.dedup();
        BudgetsReport {
            budgets: wire::budgets(self.gateway.inner.budgets.status()),
            unpriced_targets: unpriced,
            price_table: PriceTableInfo { source, as_of },
            price_file: snapshot
                .config
                .spend
                .price_file
                .as_ref()
                .map(|f| PriceFileInfo {
                    path: f.path.clone(),
                    source: f.table.source.clone(),
                    as_of: f.table.as_of.clone(),
                    models: f.table.openai.len() + f.table.anthropic.len() + f.table.gemini.len(),
                }),
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
                .map(|p| p.kind().as_str())
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
                    kind: kind.to_owned(),
                    up: result.is_ok(),
                    latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                    error: result.err(),
                }
            }
        });
        let backends = futures::future::join_all(probes).await;
        let targets = wire::targets(self.gateway.inner.routing.statuses(&snapshot.config));
        HealthReport {
            healthy: backends.iter().all(|b| b.up),
            backends,
            targets,
            database: wire::log_health(self.gateway.inner.log.health()),
            spend_ledger: wire::ledger_health(self.gateway.inner.budgets.ledger_health()),
        }
    }

    /// Breaker and routing state of every target.
    pub fn target_statuses(&self) -> Vec<TargetStatus> {
        wire::targets(
            self.gateway
                .inner
                .routing
                .statuses(&self.gateway.snapshot().config),
        )
    }

    /// Closes the breaker and clears `misconfigured` of one target (`provider/model`) or all.
    pub fn reset_targets(&self, target: Option<&str>) -> Result<usize, AdminError> {
        let snapshot = self.gateway.snapshot();
        let count = self.gateway.inner.routing.reset(&snapshot.config, target);
        match (target, count) {
            (Some(t), 0) => Err(AdminError::NotFound(format!(
                "no target `{t}` in the config (targets are written provider/model)"
            ))),
            _ => Ok(count),
        }
    }

    /// A one-time link that logs a browser into the dashboard (`/admin/login?code=...`, relative
    /// to the gateway's base URL). For the CLI's `serve`/`dashboard` and the tray's window.
    pub fn login_link(&self) -> crate::api::LoginLink {
        let code = self.gateway.inner.sessions.new_link();
        crate::api::LoginLink {
            path: format!("/admin/login?code={code}"),
            expires_in_s: crate::session::LINK_TTL.as_secs() as u32,
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

/// Why an admin operation failed. Adapters map it to their own shape (HTTP status, Tauri error).
#[derive(Debug, Clone, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// The file changed since the caller read it.
    #[error("the file changed on disk — review the new version (the change was based on revision {expected}; the file is now at {current})")]
    StaleRevision { expected: String, current: String },
    #[error("{0}")]
    Conflict(String),
    /// The edit would make the config invalid; nothing was written.
    #[error("the change was not saved because the config would be invalid:\n{message}")]
    Invalid {
        message: String,
        diagnostics: Vec<crate::api::Diagnostic>,
    },
    #[error("running on the embedded default config; start with --config to edit a file")]
    NoFile,
    #[error("{0}")]
    Io(String),
}

/// A change to one named entry of the config file.
#[derive(Debug, Clone)]
pub enum ConfigChange {
    Create(serde_json::Value),
    Upsert(serde_json::Value),
    Delete,
}

impl AdminService {
    pub fn config_state(&self) -> crate::gateway::ConfigState {
        self.gateway.config_state()
    }

    pub async fn reload(&self) -> Result<crate::api::ReloadOutcome, crate::gateway::ReloadError> {
        self.gateway.reload().await
    }

    /// The whole config file with its revision.
    pub fn config_document(&self) -> Result<ConfigDocument, AdminError> {
        let (path, text) = self.read_file()?;
        Ok(ConfigDocument {
            path: path.display().to_string(),
            revision: revision_of(&text),
            text,
        })
    }

    /// Every entry of a section (`providers`, `aliases`, ...) with the file's revision.
    pub fn config_list(&self, section: &str) -> Result<ConfigListing, AdminError> {
        let (_, text) = self.read_file()?;
        // The editor starts from this text: kept to show what changed on disk if it goes stale.
        self.gateway.inner.config_history.remember(&text);
        let entries = config::edit::list(&text, section)
            .map_err(edit_error)?
            .into_iter()
            .map(|(name, value)| ConfigEntry { name, value })
            .collect();
        Ok(ConfigListing {
            revision: revision_of(&text),
            entries,
        })
    }

    pub fn config_get(
        &self,
        section: &str,
        name: &str,
    ) -> Result<(String, ConfigEntry), AdminError> {
        let listing = self.config_list(section)?;
        let entry = listing
            .entries
            .into_iter()
            .find(|e| e.name == name)
            .ok_or_else(|| AdminError::NotFound(format!("{section}.{name} does not exist")))?;
        Ok((listing.revision, entry))
    }

    /// Creates `[tokens.NAME]` (tenant, aliases, description, budget, limits) and returns the
    /// token, to be shown once. Checked against `expected_revision` and validated like every
    /// other change.
    pub async fn create_client_token(
        &self,
        request: &CreateToken,
        expected_revision: &str,
    ) -> Result<TokenCreated, AdminError> {
        let new = new_client_token(request)?;
        let outcome = self
            .config_change(
                "tokens",
                &request.name,
                ConfigChange::Create(new.entry),
                expected_revision,
            )
            .await?;
        Ok(TokenCreated {
            name: request.name.clone(),
            token: new.token.expose().clone(),
            revision: outcome.revision,
        })
    }

    /// Applies one change to the file: checked against `expected_revision` (optimistic
    /// concurrency), validated in full before anything is written, written atomically with
    /// comments kept, and made live at once.
    pub async fn config_change(
        &self,
        section: &str,
        name: &str,
        change: ConfigChange,
        expected_revision: &str,
    ) -> Result<WriteOutcome, AdminError> {
        let (outcome, ()) = self
            .save(expected_revision, |text| {
                let (new_text, summary) =
                    edit::edited(text, section, name, &change).map_err(edit_error)?;
                Ok(edit::TextEdit {
                    new_text,
                    summary,
                    detail: (),
                })
            })
            .await?;
        Ok(outcome)
    }

    fn read_file(&self) -> Result<(std::path::PathBuf, String), AdminError> {
        let path = self
            .gateway
            .config_path()
            .ok_or(AdminError::NoFile)?
            .to_owned();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| AdminError::Io(format!("cannot read {}: {e}", path.display())))?;
        Ok((path, text))
    }
}

fn edit_error(error: config::edit::EditError) -> AdminError {
    use config::edit::EditError;
    match error {
        EditError::NotFound { .. } | EditError::UnknownSection(_) => {
            AdminError::NotFound(error.to_string())
        }
        EditError::AlreadyExists { .. } => AdminError::Conflict(error.to_string()),
        EditError::InvalidValue(_) => AdminError::BadRequest(error.to_string()),
        EditError::Unparsable(_) => AdminError::Io(error.to_string()),
    }
}

/// Applies one change to the config file at `path` with no gateway running (the CLI) or for
/// `AdminService::config_change`: revision check, edit with comments kept, full validation,
/// atomic write. Returns the new config and text.
pub fn apply_config_change(
    path: &std::path::Path,
    section: &str,
    name: &str,
    change: ConfigChange,
    expected_revision: &str,
) -> Result<(Config, String), AdminError> {
    edit::write_change(path, section, name, change, expected_revision)
        .map(|w| (w.config, w.new_text))
}

/// A new client token: a random secret shown once, and the config entry holding only its hash.
pub struct NewClientToken {
    /// The token itself. Give it to the client; it is not stored anywhere.
    pub token: crate::secret::Secret<String>,
    pub entry: serde_json::Value,
}

/// Makes a client token for `[tokens.NAME]` from everything `request` asks for.
pub fn new_client_token(request: &CreateToken) -> Result<NewClientToken, AdminError> {
    if request.name.trim().is_empty() {
        return Err(AdminError::BadRequest("a client token needs a name".into()));
    }
    let token = crate::tokens::generate();
    let mut entry = serde_json::json!({
        "hash": format!("sha256:{}", crate::tokens::hash_token(&token)),
        "created": jiff::Timestamp::now().round(jiff::Unit::Second).map(|t| t.to_string()).unwrap_or_default(),
    });
    if let Some(tenant) = &request.tenant {
        entry["tenant"] = serde_json::json!(tenant);
    }
    if let Some(aliases) = &request.aliases {
        entry["aliases"] = serde_json::json!(aliases);
    }
    if let Some(description) = &request.description {
        entry["description"] = serde_json::json!(description);
    }
    if let Some(budget) = &request.budget {
        entry["budget"] = serde_json::json!(budget);
    }
    if let Some(limits) = request.limits.as_ref().filter(|l| !l.is_empty()) {
        entry["limits"] = serde_json::json!(limits);
    }
    Ok(NewClientToken {
        token: crate::secret::Secret::new(token),
        entry,
    })
}

/// `AdminService::create_client_token` for a config file with no gateway running (the CLI):
/// the same entry, the same revision check and validation.
pub fn create_client_token_in_file(
    path: &std::path::Path,
    request: &CreateToken,
    expected_revision: &str,
) -> Result<TokenCreated, AdminError> {
    let new = new_client_token(request)?;
    let (_, text) = apply_config_change(
        path,
        "tokens",
        &request.name,
        ConfigChange::Create(new.entry),
        expected_revision,
    )?;
    Ok(TokenCreated {
        name: request.name.clone(),
        token: new.token.expose().clone(),
        revision: revision_of(&text),
    })
}

/// Every secret reference in `config`, with whether it can be read now (read here: the CLI).
pub fn list_keys(config: &Config) -> Vec<KeyInfo> {
    use crate::secret::SecretRef;
    list_keys_with(config, |reference| match reference {
        SecretRef::Keychain(name) => match crate::keychain::exists(name) {
            Ok(true) => None,
            Ok(false) => Some(crate::keychain::KeychainError::Missing(name.clone()).to_string()),
            Err(e) => Some(e.to_string()),
        },
        other => other.resolve().err().map(|e| e.to_string()),
    })
}

/// Every secret reference in `config`, with `problem` telling why one cannot be read.
fn list_keys_with(
    config: &Config,
    problem: impl Fn(&crate::secret::SecretRef) -> Option<String>,
) -> Vec<KeyInfo> {
    use crate::secret::SecretRef;
    let mut refs: Vec<(SecretRef, String)> = config
        .providers
        .values()
        .filter_map(|p| {
            p.api_key()
                .cloned()
                .map(|r| (r, format!("provider {}", p.name)))
        })
        .collect();
    if let Some(admin) = &config.server.admin_token {
        refs.push((admin.clone(), "server.admin_token".to_owned()));
    }
    let mut out: Vec<KeyInfo> = Vec::new();
    for (reference, user) in refs {
        let shown = reference.to_string();
        if let Some(existing) = out.iter_mut().find(|k| k.reference == shown) {
            existing.used_by.push(user);
            continue;
        }
        let (name, location) = match &reference {
            SecretRef::Keychain(name) => (name.clone(), "keychain"),
            SecretRef::Env(var) => (var.clone(), "env"),
            SecretRef::File(path) => (path.display().to_string(), "file"),
        };
        let problem = problem(&reference);
        out.push(KeyInfo {
            name,
            location: location.to_owned(),
            reference: shown,
            used_by: vec![user],
            present: problem.is_none(),
            problem,
        });
    }
    out
}

impl AdminService {
    /// Secret references in the live config and whether each can be read; never values.
    /// Read nowhere here: each is the credentials refresher's last read (the references the live
    /// config uses are all kept read by it), so the handler never blocks on the keychain.
    /// A reference whose last read failed, or that nothing reads yet (a provider saved a moment
    /// ago), is read once more off the async threads: a key set since then shows as set.
    pub async fn keys(&self) -> Vec<KeyInfo> {
        let snapshot = self.gateway.snapshot();
        let credentials = &self.gateway.inner.credentials;
        let last_reads = list_keys_with(&snapshot.config, |reference| {
            credentials
                .last_problem(reference)
                .unwrap_or_else(|| Some(format!("{reference} is not in use by the running config")))
        });
        if last_reads.iter().all(|key| key.present) {
            return last_reads;
        }
        tokio::task::spawn_blocking(move || list_keys(&snapshot.config))
            .await
            .unwrap_or(last_reads)
    }

    /// Stores a key in the keychain; providers referencing `keychain:NAME` use it at once.
    pub async fn set_key(
        &self,
        name: &str,
        value: crate::secret::Secret<String>,
    ) -> Result<(), AdminError> {
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || crate::keychain::set(&name, &value))
            .await
            .map_err(|e| AdminError::Io(e.to_string()))?
            .map_err(keychain_error)?;
        // Providers read keys in the background: have the new one read before answering.
        self.gateway.inner.credentials.refresh_now().await;
        Ok(())
    }

    pub async fn delete_key(&self, name: &str) -> Result<(), AdminError> {
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || crate::keychain::delete(&name))
            .await
            .map_err(|e| AdminError::Io(e.to_string()))?
            .map_err(keychain_error)?;
        self.gateway.inner.credentials.refresh_now().await;
        Ok(())
    }
}

fn keychain_error(error: crate::keychain::KeychainError) -> AdminError {
    use crate::keychain::KeychainError;
    match error {
        KeychainError::Missing(_) => AdminError::NotFound(error.to_string()),
        KeychainError::BadName(_) => AdminError::BadRequest(error.to_string()),
        KeychainError::Unavailable { .. } => AdminError::Io(error.to_string()),
    }
}

/// Internal state → wire types. Field by field, so a change inside the core does not change
/// the API without this file (and `api.rs`) saying so.
mod wire {
    use crate::api;

    pub(super) fn log_health(h: crate::store::LogHealth) -> api::LogHealth {
        api::LogHealth {
            path: h.path,
            ok: h.ok,
            error: h.error,
            written: h.written,
            dropped: h.dropped,
            set_aside: h.set_aside,
            size_bytes: h.stats.size_bytes,
            oldest_ts_ms: h.stats.oldest_ts_ms,
            oldest_at: h.stats.oldest_at,
            pruned_rows: h.stats.pruned_rows,
            retain_days: h.stats.retain_days,
            max_mb: h.stats.max_mb,
        }
    }

    pub(super) fn trace_export(h: crate::telemetry::otel::TracingHealth) -> api::TraceExport {
        api::TraceExport {
            enabled: h.enabled,
            endpoint: h.endpoint,
            exported_spans: h.exported_spans,
            dropped_queue_full: h.dropped_queue_full,
            dropped_export_failed: h.dropped_export_failed,
            last_error: h.last_error,
        }
    }

    pub(super) fn ledger_health(h: crate::store::ledger::LedgerHealth) -> api::LedgerHealth {
        api::LedgerHealth {
            ok: h.ok,
            error: h.error,
            written: h.written,
            pending: h.pending,
        }
    }

    pub(super) fn targets(statuses: Vec<crate::routing::TargetStatus>) -> Vec<api::TargetStatus> {
        use crate::routing::{BreakerPhase, OpenedFor};
        statuses
            .into_iter()
            .map(|t| api::TargetStatus {
                target: t.target,
                state: t.state.to_owned(),
                breaker: match t.breaker {
                    BreakerPhase::Closed => api::BreakerPhase::Closed,
                    BreakerPhase::Open => api::BreakerPhase::Open,
                    BreakerPhase::HalfOpen => api::BreakerPhase::HalfOpen,
                },
                opened_for: t.opened_for.map(|o| match o {
                    OpenedFor::Slowness => api::OpenedFor::Slowness,
                    OpenedFor::Failures => api::OpenedFor::Failures,
                }),
                consecutive_failures: t.consecutive_failures,
                retry_in_ms: t.retry_in_ms,
                in_flight: t.in_flight,
                latency_avg_ms: t.latency_avg_ms,
                last_error: t.last_error,
                misconfigured: t.misconfigured,
            })
            .collect()
    }

    pub(super) fn budgets(statuses: Vec<crate::spend::BudgetStatus>) -> Vec<api::BudgetStatus> {
        statuses
            .into_iter()
            .map(|b| api::BudgetStatus {
                name: b.name,
                description: b.description,
                period: b.period.to_owned(),
                usd: b.usd,
                spent_usd: b.spent_usd,
                remaining_usd: b.remaining_usd,
                alert_at: b.alert_at,
                state: b.state.to_owned(),
                when_spent: b.when_spent,
                period_start: b.period_start,
                resets_at: b.resets_at,
                timezone: b.timezone,
                charged_by: b.charged_by,
                cache: api::CacheSavings {
                    input_tokens: b.cache.input_tokens,
                    cache_read_tokens: b.cache.cache_read_tokens,
                    cache_share: b.cache.cache_share,
                    uncached_usd: b.cache.uncached_usd,
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::TokenLimits;

    const CONFIG: &str = "listen = \"127.0.0.1:0\"\n\n[providers.demo]\nkind = \"demo\"\n\n\
        [aliases.demo]\ntargets = [\"demo/switchboard-demo\"]\n\n\
        [budgets.team]\nusd = 10\nperiod = \"month\"\n";

    fn config_file() -> anyhow::Result<(tempfile::TempDir, std::path::PathBuf)> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("config.toml");
        std::fs::write(&path, CONFIG)?;
        Ok((dir, path))
    }

    /// Everything `switchboard tokens create` offers lands in the entry: tenant, aliases,
    /// description, budget and limits, with only the token's hash.
    #[test]
    fn a_created_token_carries_its_budget_and_limits() -> anyhow::Result<()> {
        let (_dir, path) = config_file()?;
        let request = CreateToken {
            name: "ci".into(),
            tenant: Some("build".into()),
            aliases: Some(vec!["demo".into()]),
            description: Some("the CI runner".into()),
            budget: Some("team".into()),
            limits: Some(TokenLimits {
                rpm: Some(30),
                tpm: Some(50_000),
                concurrent: Some(2),
            }),
        };
        let created = create_client_token_in_file(&path, &request, &revision_of(CONFIG))?;
        let text = std::fs::read_to_string(&path)?;
        assert_eq!(created.revision, revision_of(&text));
        assert!(!text.contains(&created.token), "only the hash is stored");
        let config = Config::parse(&text, "config.toml")?;
        let token = &config.tokens["ci"];
        assert_eq!(token.hash, crate::tokens::hash_token(&created.token));
        assert_eq!(token.tenant.as_deref(), Some("build"));
        assert_eq!(token.aliases.as_deref(), Some(&["demo".to_owned()][..]));
        assert_eq!(token.description.as_deref(), Some("the CI runner"));
        assert_eq!(token.budget.as_deref(), Some("team"));
        assert_eq!(
            (token.limits.rpm, token.limits.tpm, token.limits.concurrent),
            (Some(30), Some(50_000), Some(2))
        );
        Ok(())
    }

    #[test]
    fn a_token_naming_an_unknown_budget_or_a_stale_revision_writes_nothing() -> anyhow::Result<()> {
        let (_dir, path) = config_file()?;
        let request = CreateToken {
            name: "ci".into(),
            budget: Some("nope".into()),
            ..CreateToken::default()
        };
        let refused = create_client_token_in_file(&path, &request, &revision_of(CONFIG));
        assert!(
            matches!(refused, Err(AdminError::Invalid { .. })),
            "{refused:?}"
        );
        let stale = create_client_token_in_file(
            &path,
            &CreateToken {
                name: "ci".into(),
                ..CreateToken::default()
            },
            "0000",
        );
        assert!(matches!(stale, Err(AdminError::StaleRevision { .. })));
        assert!(matches!(
            new_client_token(&CreateToken::default()),
            Err(AdminError::BadRequest(_))
        ));
        assert_eq!(std::fs::read_to_string(&path)?, CONFIG);
        Ok(())
    }
}
