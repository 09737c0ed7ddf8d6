//! The providers vertical of the admin service: a backend's own model list, "test connection"
//! for saved and unsaved providers, and local-server discovery with its one-step add. The CLI's
//! `discover` and `doctor` call the same functions (the free ones work on a file, with no
//! gateway running).

use std::time::Duration;

use super::{edit_error, AdminError, AdminService};
use crate::api::{
    BackendModel, BackendModels, ConnectionTest, DiscoverAdded, DiscoverQuery, DiscoverReport,
    FoundServer, ProposedEntry, UnsavedProvider,
};
use crate::config::{edit, file::revision_of, Config, ProviderConfig};
use crate::discover;

/// How long a models list or connection step may take when the config sets nothing shorter.
const BACKEND_TIMEOUT: Duration = Duration::from_secs(10);

impl AdminService {
    fn backend_timeout(&self) -> Duration {
        let configured = self.gateway.snapshot().config.server.health_timeout;
        configured.max(Duration::from_secs(2)).min(BACKEND_TIMEOUT)
    }

    /// The backend's own model list through the live provider (its key, its headers). A
    /// backend that cannot be read answers with `error` set, not an HTTP failure.
    pub async fn backend_models(&self, provider: &str) -> Result<BackendModels, AdminError> {
        let snapshot = self.gateway.snapshot();
        let live = snapshot.providers.get(provider).cloned().ok_or_else(|| {
            AdminError::NotFound(format!("no provider `{provider}` in the config"))
        })?;
        let timeout = self.backend_timeout();
        let result = match tokio::time::timeout(
            timeout + Duration::from_secs(1),
            live.models(timeout),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} s", timeout.as_secs_f64())),
        };
        Ok(match result {
            Ok(models) => BackendModels {
                models: models
                    .into_iter()
                    .map(|m| BackendModel {
                        id: m.id,
                        max_input_tokens: m.max_input_tokens,
                    })
                    .collect(),
                error: None,
            },
            Err(e) => BackendModels {
                models: Vec::new(),
                error: Some(format!("the models of `{provider}` cannot be read: {e}")),
            },
        })
    }

    /// "Test connection" for a provider of the live config.
    pub async fn test_provider(&self, provider: &str) -> Result<ConnectionTest, AdminError> {
        let snapshot = self.gateway.snapshot();
        let config = snapshot.config.providers.get(provider).ok_or_else(|| {
            AdminError::NotFound(format!("no provider `{provider}` in the config"))
        })?;
        Ok(super::connection::test_provider(config, self.backend_timeout()).await)
    }

    /// "Test connection" for a provider entry that is not saved yet (the add dialog).
    pub async fn test_unsaved_provider(
        &self,
        unsaved: &UnsavedProvider,
    ) -> Result<ConnectionTest, AdminError> {
        let config = unsaved_provider(unsaved)?;
        let key = unsaved
            .key
            .as_deref()
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .map(|k| crate::secret::Secret::new(k.to_owned()));
        Ok(super::connection::test_provider_with_key(&config, self.backend_timeout(), key).await)
    }

    /// Local model servers and what adding them would write, against the file's revision.
    pub async fn discover(&self, query: &DiscoverQuery) -> Result<DiscoverReport, AdminError> {
        let snapshot = self.gateway.snapshot();
        let text = self.read_file().ok().map(|(_, text)| text);
        discover_report(Some(&snapshot.config), text.as_deref(), query)
            .await
            .map_err(AdminError::BadRequest)
    }

    /// Writes the chosen entries of a discovery in one atomic, validated save (If-Match).
    pub async fn discover_add(
        &self,
        entries: &[ProposedEntry],
        expected_revision: &str,
    ) -> Result<DiscoverAdded, AdminError> {
        let (outcome, added) = self
            .save(expected_revision, |text| {
                let (new_text, added) = add_entries(text, entries)?;
                Ok(super::edit::TextEdit {
                    new_text,
                    summary: format!("added {}", added.join(", ")),
                    detail: added,
                })
            })
            .await?;
        Ok(DiscoverAdded {
            added,
            revision: outcome.revision,
            reload: outcome.reload,
        })
    }
}

/// A provider entry as the config would hold it, parsed and validated like the file.
pub fn unsaved_provider(unsaved: &UnsavedProvider) -> Result<ProviderConfig, AdminError> {
    let name = unsaved
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "new".to_owned());
    let text = edit::write(
        "",
        "providers",
        &name,
        &unsaved.value,
        edit::WriteMode::Create,
    )
    .map_err(edit_error)?;
    let config = Config::parse(&text, "the unsaved provider").map_err(|e| AdminError::Invalid {
        message: e.to_string(),
        diagnostics: e.diagnostics,
    })?;
    config
        .providers
        .get(&name)
        .cloned()
        .ok_or_else(|| AdminError::BadRequest("the body holds no provider".into()))
}

/// Scans the usual ports (or `query.ports`, else `SWITCHBOARD_DISCOVER_PORTS`) on loopback, the
/// config's own hosts and `query.hosts`, and proposes what to add to `text`.
pub async fn discover_report(
    config: Option<&Config>,
    text: Option<&str>,
    query: &DiscoverQuery,
) -> Result<DiscoverReport, String> {
    let servers = match &query.ports {
        Some(spec) => discover::parse_ports(spec).map_err(|e| format!("ports: {e}"))?,
        None => discover::default_servers()?,
    };
    let mut candidates = discover::candidates(config, &servers);
    for host in query
        .hosts
        .iter()
        .flat_map(|h| h.split(','))
        .map(|h| h.trim().trim_matches(['[', ']']))
        .filter(|h| !h.is_empty())
    {
        if host.contains('/') || host.contains(' ') {
            return Err(format!("hosts: `{host}` is not a host name or address"));
        }
        let shown = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        for server in &servers {
            let base_url = format!("http://{shown}:{}/v1", server.port);
            if !candidates.iter().any(|c| c.base_url == base_url) {
                candidates.push(discover::Candidate {
                    server: server.name.to_owned(),
                    label: server.label.to_owned(),
                    host: host.to_owned(),
                    base_url,
                });
            }
        }
    }
    let timeout = Duration::from_millis(query.timeout_ms.unwrap_or(1500).clamp(50, 30_000));
    let found = discover::discover(&candidates, config, timeout).await;
    let proposed = discover::additions(&found, text.unwrap_or(""))
        .into_iter()
        .map(|a| ProposedEntry {
            section: a.section.to_owned(),
            name: a.name,
            base_url: a.base_url,
            value: a.value,
        })
        .collect();
    Ok(DiscoverReport {
        scanned: candidates.into_iter().map(|c| c.base_url).collect(),
        servers: found
            .into_iter()
            .map(|f| FoundServer {
                server: f.server,
                label: f.label,
                base_url: f.base_url,
                models: f.models,
                provider: f.provider,
            })
            .collect(),
        proposed,
        revision: text.map(revision_of),
    })
}

/// `text` with `entries` written in (providers first, so aliases can name them), comments kept,
/// and `section.name` of each entry.
fn add_entries(text: &str, entries: &[ProposedEntry]) -> Result<(String, Vec<String>), AdminError> {
    if entries.is_empty() {
        return Err(AdminError::BadRequest(
            "choose at least one entry to add".into(),
        ));
    }
    let mut text = text.to_owned();
    let mut ordered: Vec<&ProposedEntry> = entries.iter().collect();
    ordered.sort_by_key(|e| e.section != "providers");
    let mut added = Vec::new();
    for entry in ordered {
        if entry.section != "providers" && entry.section != "aliases" {
            return Err(AdminError::BadRequest(format!(
                "discovery adds providers and aliases, not `{}`",
                entry.section
            )));
        }
        text = edit::write(
            &text,
            &entry.section,
            &entry.name,
            &entry.value,
            edit::WriteMode::Create,
        )
        .map_err(edit_error)?;
        added.push(format!("{}.{}", entry.section, entry.name));
    }
    Ok((text, added))
}
