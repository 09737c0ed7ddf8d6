//! The admin service: every operation the HTTP admin API, the CLI and the tray offer lives here
//! once. Adapters (HTTP handlers, Tauri commands) only translate in and out.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{self, file::revision_of, Config};
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
    /// Revision and the last rejected reload, if any (the previous config keeps serving).
    pub config_file: crate::gateway::ConfigState,
    pub database: LogHealth,
    pub spend_ledger: crate::store::ledger::LedgerHealth,
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
    /// Routing state per target: breaker, last error, time until retry.
    pub targets: Vec<crate::routing::TargetStatus>,
    /// The request log and the spend ledger, with the reason when a write fails (a full disk).
    /// `healthy` is about the backends only; readiness turns on these.
    pub database: LogHealth,
    pub spend_ledger: crate::store::ledger::LedgerHealth,
}

#[derive(Debug, Clone, Serialize)]
pub struct BudgetsReport {
    pub budgets: Vec<crate::spend::BudgetStatus>,
    /// Cloud targets without a known price: their spend is not counted until one is set in
    /// `[prices]`.
    pub unpriced_targets: Vec<String>,
    pub price_table: PriceTableInfo,
    /// The price file `[spend] prices_file` names, which wins over the built-in table.
    pub price_file: Option<PriceFileInfo>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PriceTableInfo {
    pub source: String,
    pub as_of: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PriceFileInfo {
    pub path: String,
    pub source: String,
    pub as_of: String,
    /// Models it prices.
    pub models: usize,
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
        let spend_ledger = self.gateway.inner.budgets.ledger_health();
        Readiness {
            ready: database.ok && spend_ledger.ok,
            spend_ledger,
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
            database,
        }
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
            budgets: self.gateway.inner.budgets.status(),
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
        let targets = self.gateway.inner.routing.statuses(&snapshot.config);
        HealthReport {
            healthy: backends.iter().all(|b| b.up),
            backends,
            targets,
            database: self.gateway.inner.log.health(),
            spend_ledger: self.gateway.inner.budgets.ledger_health(),
        }
    }

    /// Breaker and routing state of every target.
    pub fn target_statuses(&self) -> Vec<crate::routing::TargetStatus> {
        self.gateway
            .inner
            .routing
            .statuses(&self.gateway.snapshot().config)
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
    #[error("the config file changed since revision {expected}; current revision is {current}")]
    StaleRevision { expected: String, current: String },
    #[error("{0}")]
    Conflict(String),
    /// The edit would make the config invalid; nothing was written.
    #[error("the change was not saved because the config would be invalid:\n{message}")]
    Invalid {
        message: String,
        diagnostics: Vec<crate::config::Diagnostic>,
    },
    #[error("running on the embedded default config; start with --config to edit a file")]
    NoFile,
    #[error("{0}")]
    Io(String),
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigDocument {
    pub path: String,
    pub revision: String,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigEntry {
    pub name: String,
    pub value: serde_json::Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct ConfigListing {
    pub revision: String,
    pub entries: Vec<ConfigEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct WriteOutcome {
    pub revision: String,
    pub reload: crate::gateway::ReloadOutcome,
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

    pub async fn reload(
        &self,
    ) -> Result<crate::gateway::ReloadOutcome, crate::gateway::ReloadError> {
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

    /// Applies one change to the file: checked against `expected_revision` (optimistic
    /// concurrency), validated in full before anything is written, written atomically with
    /// comments kept, and made live at once.
    /// Creates `[tokens.NAME]` and returns the token, to be shown once.
    pub async fn create_client_token(
        &self,
        name: &str,
        tenant: Option<&str>,
        aliases: Option<&[String]>,
        expected_revision: &str,
    ) -> Result<(crate::secret::Secret<String>, WriteOutcome), AdminError> {
        let new = new_client_token(tenant, aliases, None);
        let outcome = self
            .config_change(
                "tokens",
                name,
                ConfigChange::Create(new.entry),
                expected_revision,
            )
            .await?;
        Ok((new.token, outcome))
    }

    pub async fn config_change(
        &self,
        section: &str,
        name: &str,
        change: ConfigChange,
        expected_revision: &str,
    ) -> Result<WriteOutcome, AdminError> {
        let _guard = self.gateway.inner.config_lock.lock().await;
        let started = Instant::now();
        let path = self
            .gateway
            .config_path()
            .ok_or(AdminError::NoFile)?
            .to_owned();
        let (config, new_text) =
            apply_config_change(&path, section, name, change, expected_revision)?;
        let revision = revision_of(&new_text);
        let reload = self
            .gateway
            .install(config, revision.clone(), started)
            .map_err(|e| AdminError::Io(e.to_string()))?;
        Ok(WriteOutcome { revision, reload })
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
    let text = std::fs::read_to_string(path)
        .map_err(|e| AdminError::Io(format!("cannot read {}: {e}", path.display())))?;
    let current = revision_of(&text);
    if current != expected_revision {
        return Err(AdminError::StaleRevision {
            expected: expected_revision.to_owned(),
            current,
        });
    }
    let new_text = match change {
        ConfigChange::Create(value) => config::edit::write(
            &text,
            section,
            name,
            &value,
            config::edit::WriteMode::Create,
        ),
        ConfigChange::Upsert(value) => config::edit::write(
            &text,
            section,
            name,
            &value,
            config::edit::WriteMode::Upsert,
        ),
        ConfigChange::Delete => config::edit::remove(&text, section, name),
    }
    .map_err(edit_error)?;
    let config =
        Config::parse(&new_text, &path.display().to_string()).map_err(|e| AdminError::Invalid {
            message: e.to_string(),
            diagnostics: e.diagnostics,
        })?;
    config::file::write_atomic(path, &new_text)
        .map_err(|e| AdminError::Io(format!("cannot write {}: {e}", path.display())))?;
    Ok((config, new_text))
}

/// A new client token: a random secret shown once, and the config entry holding only its hash.
pub struct NewClientToken {
    /// The token itself. Give it to the client; it is not stored anywhere.
    pub token: crate::secret::Secret<String>,
    pub entry: serde_json::Value,
}

/// Makes a client token for `[tokens.NAME]`.
pub fn new_client_token(
    tenant: Option<&str>,
    aliases: Option<&[String]>,
    description: Option<&str>,
) -> NewClientToken {
    let token = format!(
        "sb-{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut entry = serde_json::json!({ "hash": format!("sha256:{}", crate::server::guard::hash_token(&token)) });
    if let Some(tenant) = tenant {
        entry["tenant"] = serde_json::json!(tenant);
    }
    if let Some(aliases) = aliases {
        entry["aliases"] = serde_json::json!(aliases);
    }
    if let Some(description) = description {
        entry["description"] = serde_json::json!(description);
    }
    NewClientToken {
        token: crate::secret::Secret::new(token),
        entry,
    }
}

/// One secret reference in the config and where it lives. Never carries the value.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// The keychain name, variable or path.
    pub name: String,
    /// `keychain`, `env` or `file`.
    pub location: &'static str,
    pub reference: String,
    /// Who uses it: `provider openai`, `server.admin_token`.
    pub used_by: Vec<String>,
    pub present: bool,
    /// Why it cannot be read, when it cannot.
    pub problem: Option<String>,
}

/// Every secret reference in `config`, with whether it can be read now.
pub fn list_keys(config: &Config) -> Vec<KeyInfo> {
    use crate::secret::SecretRef;
    let mut refs: Vec<(SecretRef, String)> = config
        .providers
        .values()
        .filter_map(|p| {
            p.api_key
                .clone()
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
        let problem = match &reference {
            SecretRef::Keychain(name) => match crate::keychain::exists(name) {
                Ok(true) => None,
                Ok(false) => {
                    Some(crate::keychain::KeychainError::Missing(name.clone()).to_string())
                }
                Err(e) => Some(e.to_string()),
            },
            other => other.resolve().err().map(|e| e.to_string()),
        };
        out.push(KeyInfo {
            name,
            location,
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
    pub async fn keys(&self) -> Vec<KeyInfo> {
        let snapshot = self.gateway.snapshot();
        let config = snapshot.config.clone();
        tokio::task::spawn_blocking(move || list_keys(&config))
            .await
            .unwrap_or_default()
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
            .map_err(keychain_error)
    }

    pub async fn delete_key(&self, name: &str) -> Result<(), AdminError> {
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || crate::keychain::delete(&name))
            .await
            .map_err(|e| AdminError::Io(e.to_string()))?
            .map_err(keychain_error)
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
