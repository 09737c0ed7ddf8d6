//! The clients pages' operations: "Connect a client" setups and "set it up for me" writes,
//! the client token list, access settings (`[server] cors_origins`, `allowed_hosts`,
//! `lan_listen`) and the playground's request bodies.
//!
//! The setups themselves come from one generator (crate `switchboard-client-setup`) that the
//! shells install with `install_generator`: Continue's and Aider's files are YAML, and the core
//! carries no YAML parser. `write_setup` is the one way a client's file is written, for the
//! admin API and `switchboard connect --write` alike.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde_json::{json, Map, Value};

use super::{AdminError, AdminService};
use crate::api::{
    AccessSettings, AccessUpdate, ClientKind, ClientKindList, ClientTokenInfo, ClientTokenList,
    ConnectQuery, ConnectSetup, ConnectWrite, ConnectWritten, PlaygroundRequest, RequestQuery,
    TokenLimits, WriteOutcome,
};
use crate::config::{file::revision_of, Config};

/// What a setup points the client at.
#[derive(Debug, Clone, Default)]
pub struct ConnectTarget {
    /// The gateway's root URL, without `/v1`.
    pub base_url: String,
    pub alias: String,
    pub token: Option<String>,
    /// Client tokens exist: without `token` the setup gets a placeholder.
    pub tokens_required: bool,
    /// The smallest input window of the alias's targets, when known.
    pub context_window: Option<u64>,
    /// The smallest `max_tokens` of its targets, when set.
    pub max_output_tokens: Option<u64>,
    /// How a container reaches the gateway (`http://host.docker.internal:PORT`), when the
    /// second listener is on.
    pub docker_base_url: Option<String>,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum SetupError {
    #[error("unknown client `{given}`; one of: {known}")]
    UnknownClient { given: String, known: String },
    /// The user's existing file cannot be merged into (not JSON, a comment, ...).
    #[error("{0}")]
    Existing(String),
}

/// Makes each client's setup. One implementation, in `switchboard-client-setup`.
pub trait ClientSetupGenerator: Send + Sync {
    fn clients(&self) -> Vec<ClientKind>;
    /// The setup of `client`; its file merged into `existing` (the user's current file), or a
    /// fresh file when `None`.
    fn generate(
        &self,
        client: &str,
        target: &ConnectTarget,
        existing: Option<&str>,
    ) -> Result<ConnectSetup, SetupError>;
}

static GENERATOR: OnceLock<Arc<dyn ClientSetupGenerator>> = OnceLock::new();

/// Installs the client setup generator for this process (the CLI and the tray at start; a
/// second call is ignored: there is only one generator).
pub fn install_generator(generator: Arc<dyn ClientSetupGenerator>) {
    // Already installed: the same generator.
    let _ = GENERATOR.set(generator);
}

fn generator() -> Result<&'static Arc<dyn ClientSetupGenerator>, AdminError> {
    GENERATOR.get().ok_or_else(|| {
        AdminError::NotFound("client setups are not available in this build of Switchboard".into())
    })
}

fn setup_error(error: SetupError) -> AdminError {
    match error {
        SetupError::UnknownClient { .. } => AdminError::NotFound(error.to_string()),
        SetupError::Existing(_) => AdminError::Conflict(error.to_string()),
    }
}

/// "Set it up for me": merges `client`'s setup into its config file under `home`, showing the
/// diff; unless `dry_run`, copies the old file to a timestamped backup next to it and writes
/// the new one atomically (owner-only when it holds a token).
pub fn write_setup(
    generator: &dyn ClientSetupGenerator,
    home: &Path,
    client: &str,
    target: &ConnectTarget,
    dry_run: bool,
) -> Result<ConnectWritten, AdminError> {
    let kind = generator
        .clients()
        .into_iter()
        .find(|k| k.name == client)
        .ok_or_else(|| {
            setup_error(SetupError::UnknownClient {
                given: client.to_owned(),
                known: names(generator),
            })
        })?;
    let (true, Some(file)) = (kind.writable, kind.file.as_deref()) else {
        return Err(AdminError::BadRequest(format!(
            "{} has no config file Switchboard writes; copy its setup instead",
            kind.label
        )));
    };
    let path = home.join(file);
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(AdminError::Io(format!(
                "cannot read {}: {e}",
                path.display()
            )))
        }
    };
    let setup = generator
        .generate(client, target, existing.as_deref())
        .map_err(setup_error)?;
    let content = setup.file.map(|f| f.content).unwrap_or_default();
    let old = existing.as_deref().unwrap_or("");
    let changed = existing.as_deref() != Some(content.as_str());
    let mut backup = None;
    if changed && !dry_run {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| AdminError::Io(format!("cannot create {}: {e}", dir.display())))?;
        }
        if let Some(old) = &existing {
            let copy = backup_path(&path);
            std::fs::write(&copy, old).map_err(|e| {
                AdminError::Io(format!(
                    "cannot write the backup {}: {e}; nothing changed",
                    copy.display()
                ))
            })?;
            backup = Some(copy.display().to_string());
        }
        crate::config::file::write_atomic(&path, &content)
            .map_err(|e| AdminError::Io(format!("cannot write {}: {e}", path.display())))?;
        // Some of these files hold the token itself: only the owner may read them.
        #[cfg(unix)]
        if target.token.is_some() {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
        }
    }
    Ok(ConnectWritten {
        client: client.to_owned(),
        path: path.display().to_string(),
        diff: line_diff(old, &content),
        changed,
        written: changed && !dry_run,
        backup,
        env: setup.env,
        run: setup.run,
    })
}

fn names(generator: &dyn ClientSetupGenerator) -> String {
    let names: Vec<String> = generator.clients().into_iter().map(|k| k.name).collect();
    names.join(", ")
}

/// `opencode.json.switchboard-backup-20261201T175500Z` (a counter is added if taken).
fn backup_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("config");
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let mut candidate = path.with_file_name(format!("{name}.switchboard-backup-{stamp}"));
    let mut n = 1;
    while candidate.exists() {
        n += 1;
        candidate = path.with_file_name(format!("{name}.switchboard-backup-{stamp}-{n}"));
    }
    candidate
}

/// A line diff (`- `/`+ `, unchanged lines as `  `) between the current and the new file.
pub fn line_diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    // Longest common subsequence table; client config files are small.
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            out.push_str(&format!("  {}\n", a[i]));
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        } else {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        }
    }
    out
}

/// The gateway's root URL from a user-given one (`http://host:port[/prefix]`, `/v1` dropped).
pub fn root_url(given: &str) -> Result<String, AdminError> {
    let url = url::Url::parse(given.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host())
        .ok_or_else(|| {
            AdminError::BadRequest(format!(
                "{given:?} is not a gateway URL (like http://127.0.0.1:4000)"
            ))
        })?;
    let text = url.as_str().trim_end_matches('/');
    Ok(text.strip_suffix("/v1").unwrap_or(text).to_owned())
}

/// What `config` knows about `alias` for a setup, and the default alias when none is given.
pub fn connect_target(
    config: &Config,
    base_url: &str,
    alias: Option<&str>,
    token: Option<&str>,
) -> Result<ConnectTarget, AdminError> {
    let alias = match alias.map(str::trim).filter(|a| !a.is_empty()) {
        Some(alias) => alias.to_owned(),
        None => config.aliases.keys().next().cloned().ok_or_else(|| {
            AdminError::BadRequest("the config has no alias yet; create one first".into())
        })?,
    };
    let found = config.find_alias(&alias).ok_or_else(|| {
        let mut message = format!("`{alias}` is not an alias");
        if let Some(s) = config.suggest_aliases(&alias).first() {
            message.push_str(&format!("; did you mean `{s}`?"));
        }
        AdminError::NotFound(message)
    })?;
    let docker_base_url = config
        .server
        .lan_listen
        .map(|addr| format!("http://host.docker.internal:{}", addr.port()));
    Ok(ConnectTarget {
        base_url: root_url(base_url)?,
        alias: found.name.clone(),
        token: token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        tokens_required: !config.tokens.is_empty(),
        context_window: found
            .targets
            .iter()
            .map(|t| t.max_input_tokens)
            .collect::<Option<Vec<u64>>>()
            .and_then(|w| w.into_iter().min()),
        max_output_tokens: found
            .targets
            .iter()
            .map(|t| t.max_tokens)
            .collect::<Option<Vec<u64>>>()
            .and_then(|w| w.into_iter().min()),
        docker_base_url,
    })
}

/// The user's home directory, where clients keep their files (`$HOME`; tests set it).
pub fn home_dir() -> Result<PathBuf, AdminError> {
    dirs::home_dir().ok_or_else(|| AdminError::Io("no home directory".into()))
}

/// `[server]`'s access keys replaced by `update` in the file's text, every comment and other
/// key kept.
pub fn edit_access(text: &str, update: &AccessUpdate) -> Result<String, AdminError> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| {
        AdminError::Io(format!(
            "the config file is not valid TOML: {}",
            e.message()
        ))
    })?;
    if !doc.contains_key("server") {
        doc["server"] = toml_edit::Item::Table(toml_edit::Table::new());
    }
    let Some(server) = doc["server"].as_table_like_mut() else {
        return Err(AdminError::BadRequest(
            "`server` in the config is not a table".into(),
        ));
    };
    let list = |items: &[String]| {
        let mut array = toml_edit::Array::new();
        for item in items.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            array.push(item);
        }
        toml_edit::Item::Value(toml_edit::Value::Array(array))
    };
    for (key, items) in [
        ("cors_origins", &update.cors_origins),
        ("allowed_hosts", &update.allowed_hosts),
    ] {
        let unchanged = server
            .get(key)
            .and_then(|i| i.as_array())
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>())
            == Some(items.iter().map(String::as_str).collect());
        if unchanged {
            continue;
        }
        if items.is_empty() {
            server.remove(key);
        } else {
            server.insert(key, list(items));
        }
    }
    match update
        .lan_listen
        .as_deref()
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        Some(addr) if server.get("lan_listen").and_then(|i| i.as_str()) != Some(addr) => {
            server.insert("lan_listen", toml_edit::value(addr));
        }
        Some(_) => {}
        None => {
            server.remove("lan_listen");
        }
    }
    Ok(doc.to_string())
}

fn string_field(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(str::to_owned)
}

impl AdminService {
    /// The clients there are setups for, and the URL they should use.
    pub fn connect_clients(&self, base_url: &str) -> Result<ClientKindList, AdminError> {
        let snapshot = self.gateway.snapshot();
        Ok(ClientKindList {
            clients: generator()?.clients(),
            base_url: root_url(base_url)?,
            tokens_required: !snapshot.config.tokens.is_empty(),
        })
    }

    /// `client`'s ready-to-paste setup. `default_base`: the URL the caller reached us by.
    pub fn connect_setup(
        &self,
        client: &str,
        query: &ConnectQuery,
        default_base: &str,
    ) -> Result<ConnectSetup, AdminError> {
        let target = self.connect_target_for(
            query.base_url.as_deref(),
            query.alias.as_deref(),
            query.token.as_deref(),
            default_base,
        )?;
        generator()?
            .generate(client, &target, None)
            .map_err(setup_error)
    }

    /// "Set it up for me" in the user's home directory.
    pub async fn connect_write(
        &self,
        client: &str,
        request: &ConnectWrite,
        default_base: &str,
    ) -> Result<ConnectWritten, AdminError> {
        let target = self.connect_target_for(
            request.base_url.as_deref(),
            request.alias.as_deref(),
            request.token.as_deref(),
            default_base,
        )?;
        let generator = generator()?.clone();
        let home = home_dir()?;
        let (client, dry_run) = (client.to_owned(), request.dry_run);
        tokio::task::spawn_blocking(move || {
            write_setup(generator.as_ref(), &home, &client, &target, dry_run)
        })
        .await
        .map_err(|e| AdminError::Io(e.to_string()))?
    }

    fn connect_target_for(
        &self,
        base_url: Option<&str>,
        alias: Option<&str>,
        token: Option<&str>,
        default_base: &str,
    ) -> Result<ConnectTarget, AdminError> {
        let snapshot = self.gateway.snapshot();
        let base = base_url
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .unwrap_or(default_base);
        connect_target(&snapshot.config, base, alias, token)
    }

    /// Every client token in the file (never the token), with when the log last saw it.
    pub async fn client_tokens(&self) -> Result<ClientTokenList, AdminError> {
        let listing = self.config_list("tokens")?;
        let mut tokens = Vec::with_capacity(listing.entries.len());
        for entry in listing.entries {
            let v = &entry.value;
            let last_used_ms = self
                .gateway
                .inner
                .reader
                .list(&RequestQuery {
                    client: Some(entry.name.clone()),
                    limit: Some(1),
                    ..RequestQuery::default()
                })
                .await
                .ok()
                .and_then(|l| l.rows.first().map(|r| r.ts_ms));
            tokens.push(ClientTokenInfo {
                tenant: string_field(v, "tenant"),
                aliases: v.get("aliases").and_then(|a| {
                    a.as_array().map(|list| {
                        list.iter()
                            .filter_map(|s| s.as_str().map(str::to_owned))
                            .collect()
                    })
                }),
                description: string_field(v, "description"),
                budget: string_field(v, "budget"),
                limits: v
                    .get("limits")
                    .and_then(|l| serde_json::from_value::<TokenLimits>(l.clone()).ok()),
                created: string_field(v, "created"),
                last_used_ms,
                name: entry.name,
            });
        }
        Ok(ClientTokenList {
            revision: listing.revision,
            tokens,
        })
    }

    /// Who can reach the gateway: the file's access settings.
    pub fn access(&self) -> Result<AccessSettings, AdminError> {
        let (_, text) = self.read_file()?;
        let raw: toml::Table = toml::from_str(&text)
            .map_err(|e| AdminError::Io(format!("the config file is not valid TOML: {e}")))?;
        let server = raw.get("server").and_then(|s| s.as_table());
        let strings = |key: &str| -> Vec<String> {
            server
                .and_then(|s| s.get(key))
                .and_then(|v| v.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default()
        };
        let snapshot = self.gateway.snapshot();
        Ok(AccessSettings {
            revision: revision_of(&text),
            listen: snapshot.config.listen.to_string(),
            cors_origins: strings("cors_origins"),
            allowed_hosts: strings("allowed_hosts"),
            lan_listen: server
                .and_then(|s| s.get("lan_listen"))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            tokens: snapshot.config.tokens.len() as u32,
        })
    }

    /// Saves the access settings through the config writer: revision checked, validated in
    /// full, written atomically with comments kept, live at once (a changed `lan_listen` is
    /// followed by the supervisor).
    pub async fn set_access(
        &self,
        update: &AccessUpdate,
        expected_revision: &str,
    ) -> Result<WriteOutcome, AdminError> {
        let (outcome, ()) = self
            .save(expected_revision, |text| {
                Ok(super::edit::TextEdit {
                    new_text: edit_access(text, update)?,
                    summary: "server access changed".into(),
                    detail: (),
                })
            })
            .await?;
        Ok(outcome)
    }

    /// The body and client API path of a playground request: a prompt as chat completions, or
    /// a logged request's captured body (its own endpoint) with the model set to `alias`.
    pub async fn playground_body(
        &self,
        request: &PlaygroundRequest,
    ) -> Result<(String, Map<String, Value>), AdminError> {
        let snapshot = self.gateway.snapshot();
        if snapshot.config.find_alias(&request.alias).is_none() {
            return Err(AdminError::NotFound(format!(
                "`{}` is not an alias",
                request.alias
            )));
        }
        let Some(id) = request.replay_of else {
            if request.prompt.trim().is_empty() {
                return Err(AdminError::BadRequest("write a prompt first".into()));
            }
            let mut messages = Vec::new();
            if let Some(system) = request.system.as_deref().filter(|s| !s.trim().is_empty()) {
                messages.push(json!({"role": "system", "content": system}));
            }
            messages.push(json!({"role": "user", "content": request.prompt}));
            let mut body =
                json!({"model": request.alias, "messages": messages, "stream": request.stream});
            if request.stream {
                body["stream_options"] = json!({"include_usage": true});
            }
            if let Some(max) = request.max_tokens {
                body["max_tokens"] = json!(max);
            }
            let Value::Object(body) = body else {
                unreachable!("built as an object")
            };
            return Ok(("chat/completions".into(), body));
        };
        let detail = self
            .gateway
            .inner
            .reader
            .get(id)
            .await
            .map_err(|e| AdminError::Io(e.to_string()))?
            .ok_or_else(|| AdminError::NotFound(format!("no request {id} in the log")))?;
        let captured = detail
            .bodies
            .and_then(|b| if b.truncated { None } else { b.request })
            .ok_or_else(|| {
                AdminError::BadRequest(format!(
                    "request {id}'s body was not captured (whole); turn on [database] capture_bodies to replay requests"
                ))
            })?;
        let mut body: Map<String, Value> = serde_json::from_str(&captured).map_err(|e| {
            AdminError::BadRequest(format!("request {id}'s captured body is not JSON: {e}"))
        })?;
        body.insert("model".into(), json!(request.alias));
        body.insert("stream".into(), json!(request.stream));
        Ok((detail.row.endpoint, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_marks_added_and_removed_lines() {
        assert_eq!(line_diff("a\nb\nc\n", "a\nx\nc\n"), "  a\n- b\n+ x\n  c\n");
        assert_eq!(line_diff("", "a\n"), "+ a\n");
    }

    #[test]
    fn root_urls_lose_v1_and_trailing_slashes() -> Result<(), AdminError> {
        assert_eq!(
            root_url("http://127.0.0.1:4000/v1/")?,
            "http://127.0.0.1:4000"
        );
        assert_eq!(root_url("https://hub.lan/sb")?, "https://hub.lan/sb");
        assert!(root_url("ftp://x").is_err() && root_url("nonsense").is_err());
        Ok(())
    }

    #[test]
    fn access_edits_keep_comments_and_other_server_keys() -> Result<(), AdminError> {
        let text = "# mine\nlisten = \"127.0.0.1:4000\"\n\n[server]\n# keep me\nmax_body_mb = 8\ncors_origins = [\"http://localhost:3000\"] # web app\n";
        let update = AccessUpdate {
            cors_origins: vec!["http://localhost:3000".into(), "app://obsidian.md".into()],
            allowed_hosts: vec!["hub.lan".into()],
            lan_listen: Some("0.0.0.0:4001".into()),
        };
        let out = edit_access(text, &update)?;
        assert!(out.starts_with("# mine\n") && out.contains("# keep me\nmax_body_mb = 8\n"));
        let v: toml::Table = toml::from_str(&out).map_err(|e| AdminError::Io(e.to_string()))?;
        let server = &v["server"];
        assert_eq!(server["cors_origins"].as_array().map(Vec::len), Some(2));
        assert_eq!(server["allowed_hosts"][0].as_str(), Some("hub.lan"));
        assert_eq!(server["lan_listen"].as_str(), Some("0.0.0.0:4001"));
        let cleared = edit_access(&out, &AccessUpdate::default())?;
        assert!(!cleared.contains("lan_listen") && !cleared.contains("cors_origins"));
        assert!(cleared.contains("# keep me"));
        Ok(())
    }
}
