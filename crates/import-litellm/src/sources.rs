//! What the importer reads besides the config file: a running LiteLLM's `/model/info` (the
//! models registered in its database), its master key given on the command line, and a
//! virtual-key export. Key values only ever leave as SHA-256 digests.

use serde_yaml_ng::{Mapping, Value};

use super::{
    key_text, one_line, sanitize_name, scalar_text, show_number, shown, type_name, ImportError,
    Importer, KeysExport, Limits, MasterKey, RemoteModels, TokenOut,
};

/// The report path of the models read from `/model/info`: `/model/info data[3]`.
pub(super) const REMOTE_PATH: &str = "/model/info data";

/// `litellm_params` LiteLLM adds to every model it lists, at their defaults: nothing to import.
const REMOTE_DEFAULTS: &[&str] = &[
    "use_in_pass_through",
    "use_litellm_proxy",
    "merge_reasoning_content_in_choices",
];

/// `model_info` fields the importer reads; the rest of what /model/info sends is LiteLLM's
/// model catalogue (capabilities, provider, mode, ids).
const REMOTE_MODEL_INFO: &[&str] = &[
    "max_input_tokens",
    "input_cost_per_token",
    "output_cost_per_token",
];

/// Bookkeeping columns of `LiteLLM_VerificationToken` that say nothing about what a key may do.
const KEY_BOOKKEEPING: &[&str] = &[
    "key_name",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
    "budget_reset_at",
    "soft_budget_cooldown",
    "object_permission_id",
    "litellm_budget_table",
    "rotation_count",
    "last_rotation_at",
    "key_rotation_at",
    "auto_rotate",
    "rotation_interval",
    "last_active",
    "budget_id",
    "team_alias",
    "allowed_cache_controls",
];

impl Importer {
    /// Adds the deployments of a `/model/info` answer to `entries`, leaving out those identical
    /// to one already there (LiteLLM lists its config file's models there too).
    pub(super) fn remote_models(
        &mut self,
        remote: &RemoteModels,
        entries: &mut Vec<(String, Value)>,
    ) -> Result<(), ImportError> {
        let error = |message: String| ImportError::ModelInfo {
            url: remote.url.clone(),
            message,
        };
        let body: Value =
            serde_yaml_ng::from_str(&remote.body).map_err(|e| error(format!("not JSON: {e}")))?;
        let data = match body.get("data") {
            Some(Value::Sequence(data)) => data,
            Some(other) => return Err(error(format!("`data` is {}", type_name(other)))),
            None => return Err(error("no `data` list".to_owned())),
        };
        let mut identities: Vec<Value> = entries.iter().map(|(_, e)| identity(e)).collect();
        let mut repeated = 0;
        let mut catalogue = 0;
        let mut added = 0;
        for (j, item) in data.iter().enumerate() {
            let path = format!("{REMOTE_PATH}[{j}]");
            let Some(map) = item.as_mapping() else {
                self.note(
                    path,
                    format!("skipped: expected a model, found {}", type_name(item)),
                );
                continue;
            };
            let mut entry = Mapping::new();
            for (key, v) in map {
                match key_text(key).as_str() {
                    "model_name" => {
                        entry.insert(key.clone(), v.clone());
                    }
                    "litellm_params" => {
                        let mut params = Mapping::new();
                        for (k, v) in v.as_mapping().into_iter().flatten() {
                            let name = key_text(k);
                            let default = REMOTE_DEFAULTS.contains(&name.as_str())
                                && v == &Value::Bool(false);
                            if !v.is_null() && !default {
                                params.insert(k.clone(), v.clone());
                            }
                        }
                        entry.insert(key.clone(), Value::Mapping(params));
                    }
                    "model_info" => {
                        let mut info = Mapping::new();
                        for (k, v) in v.as_mapping().into_iter().flatten() {
                            if REMOTE_MODEL_INFO.contains(&key_text(k).as_str()) && !v.is_null() {
                                info.insert(k.clone(), v.clone());
                            } else {
                                catalogue += 1;
                            }
                        }
                        if !info.is_empty() {
                            entry.insert(key.clone(), Value::Mapping(info));
                        }
                    }
                    other => {
                        let message = format!(
                            "`{}` not imported: not part of a deployment",
                            one_line(other)
                        );
                        self.note(format!("{path}.{other}"), message);
                    }
                }
            }
            let entry = Value::Mapping(entry);
            let id = identity(&entry);
            if identities.contains(&id) {
                repeated += 1;
                continue;
            }
            identities.push(id);
            entries.push((path, entry));
            added += 1;
        }
        let url = one_line(&remote.url);
        let mut message = format!(
            "{added} of the {} models the running LiteLLM lists are imported from it",
            data.len()
        );
        if repeated > 0 {
            message.push_str(&format!("; {repeated} are the same deployment as one already read (LiteLLM lists its config file's models there too, and its database may hold copies) and are imported once"));
        }
        if catalogue > 0 {
            message.push_str("; of each model's model_info only max_input_tokens and the per-token prices are read, the rest is LiteLLM's model catalogue");
        }
        self.note(format!("{url} /model/info"), message);
        Ok(())
    }

    /// The master key given for `--from-url` is LiteLLM's: a client token (unless the file's
    /// master_key already made one) and, as a reference, the admin token.
    pub(super) fn given_master_key(&mut self, master_key: &MasterKey) {
        let hash = switchboard_gateway::hash_token(master_key.value.expose());
        let reference = one_line(&master_key.reference);
        let path = "--master-key";
        if self.tokens.iter().any(|t| t.hash == hash) {
            self.note(
                path,
                format!("the master key from `{reference}` is general_settings.master_key, already a client token"),
            );
            return;
        }
        let name = self.unique_token_name("litellm-master-key");
        self.note(path, format!("the master key from `{reference}` imported as client token `{name}` (its SHA-256; the key is not copied), so clients keep their key"));
        if self.admin_token.is_none()
            && switchboard_gateway::secret::SecretRef::parse(&reference).is_ok()
        {
            self.admin_token = Some(reference.clone());
            self.note(
                path,
                format!("server.admin_token = \"{reference}\": LiteLLM's master key also opened its admin API"),
            );
        }
        self.tokens.push(TokenOut {
            name,
            hash,
            description: "LiteLLM master key".to_owned(),
            tenant: None,
            aliases: None,
            limits: Limits::default(),
            budget: None,
        });
    }

    fn unique_token_name(&self, hint: &str) -> String {
        let hint = sanitize_name(hint);
        let mut name = hint.clone();
        let mut n = 2;
        while self.tokens.iter().any(|t| t.name == name) {
            name = format!("{hint}-{n}");
            n += 1;
        }
        name
    }

    /// LiteLLM virtual keys (rows of `LiteLLM_VerificationToken`, or `/key/list` / `/key/info`
    /// answers) become client tokens. LiteLLM stores a key as the hex SHA-256 of the `sk-...`
    /// value, which is exactly Switchboard's token hash, so hashed rows work as they are.
    pub(super) fn virtual_keys(&mut self, keys: &KeysExport) -> Result<(), ImportError> {
        let error = |message: String| ImportError::Keys {
            file: keys.source.clone(),
            message,
        };
        let root: Value = serde_yaml_ng::from_str(&keys.text).map_err(|e| error(e.to_string()))?;
        let rows: Vec<Value> = match root {
            Value::Sequence(rows) => rows,
            Value::Mapping(map) => match map.get("keys").or_else(|| map.get("data")) {
                Some(Value::Sequence(rows)) => rows.clone(),
                _ if map.contains_key("token") || map.contains_key("key") => {
                    vec![Value::Mapping(map)]
                }
                _ => {
                    return Err(error(
                        "expected a list of keys, or `keys:`/`data:` with one".into(),
                    ))
                }
            },
            other => {
                return Err(error(format!(
                    "expected a list of keys, found {}",
                    type_name(&other)
                )))
            }
        };
        let source = one_line(&keys.source);
        for (j, row) in rows.iter().enumerate() {
            let path = format!("{source}[{j}]");
            // `/key/info` nests the row under `info`.
            let row = row.get("info").filter(|i| i.is_mapping()).unwrap_or(row);
            let Some(map) = row.as_mapping() else {
                self.note(
                    path,
                    format!("skipped: expected a key, found {}", type_name(row)),
                );
                continue;
            };
            self.virtual_key(map, &path);
        }
        Ok(())
    }

    fn virtual_key(&mut self, map: &Mapping, path: &str) {
        let field = |name: &str| map.get(name).filter(|v| !v.is_null());
        let alias = field("key_alias").and_then(scalar_text);
        let label = alias.clone().unwrap_or_else(|| format!("key {path}"));
        let secret = field("token")
            .or_else(|| field("key"))
            .and_then(Value::as_str)
            .map(str::trim);
        let hash = match secret {
            // LiteLLM's stored form: hex SHA-256 of the key, the same digest Switchboard keeps.
            Some(s) if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) => {
                s.to_ascii_lowercase()
            }
            Some(s) if s.starts_with("sk-") && s.len() > 3 => switchboard_gateway::hash_token(s),
            _ => {
                self.note(path, format!("{label} skipped: it has no `token` (LiteLLM's SHA-256 of the key) or `sk-` key"));
                return;
            }
        };
        if field("blocked").and_then(Value::as_bool) == Some(true) {
            self.note(path, format!("{label} skipped: it is blocked in LiteLLM"));
            return;
        }
        if let Some(expires) = field("expires").and_then(scalar_text) {
            match expiry(&expires) {
                Some(at) if at <= jiff::Timestamp::now() => {
                    self.note(path, format!("{label} skipped: it expired at {at}"));
                    return;
                }
                _ => self.note(
                    path,
                    format!("{label}: expires {} in LiteLLM, but Switchboard's client tokens do not expire; remove it then with `switchboard tokens rm`", one_line(&expires)),
                ),
            }
        }
        if self.tokens.iter().any(|t| t.hash == hash) {
            self.note(
                path,
                format!("{label} skipped: the same key is already a client token"),
            );
            return;
        }
        let name = self.unique_token_name(alias.as_deref().unwrap_or("litellm-key"));

        let aliases = match field("models") {
            Some(Value::Sequence(models)) if !models.is_empty() => {
                let mut allowed = Vec::new();
                let mut all = false;
                for model in models.iter().filter_map(scalar_text) {
                    if model == "all-proxy-models" || model == "*" {
                        all = true;
                        continue;
                    }
                    match self.resolve_ref(&model) {
                        Ok(alias) if !allowed.contains(&alias) => allowed.push(alias),
                        Ok(_) => {}
                        Err(reason) => self.note(
                            format!("{path}.models"),
                            format!(
                                "token `{name}`: model `{}` dropped from its aliases: {reason}",
                                one_line(&model)
                            ),
                        ),
                    }
                }
                if all {
                    None
                } else {
                    if allowed.is_empty() {
                        self.note(format!("{path}.models"), format!("token `{name}` may call no alias: none of the models LiteLLM allowed it was imported"));
                    }
                    Some(allowed)
                }
            }
            _ => None,
        };
        let mut limits = Limits::default();
        for (key, slot) in [
            ("rpm_limit", 0),
            ("tpm_limit", 1),
            ("max_parallel_requests", 2),
        ] {
            let Some(v) = field(key) else { continue };
            let at = format!("{path}.{key}");
            let Some(n) = self.whole(v, &at, key) else {
                continue;
            };
            match slot {
                0 => limits.rpm = u32::try_from(n).ok(),
                1 => limits.tpm = Some(n),
                _ => limits.concurrent = u32::try_from(n).ok(),
            }
        }
        let budget = match field("max_budget") {
            Some(v) => self.usd(v, &format!("{path}.max_budget")).and_then(|usd| {
                let duration = field("budget_duration").and_then(scalar_text);
                self.add_budget(
                    &format!("key-{name}"),
                    usd,
                    duration.as_deref(),
                    &format!("{path}.max_budget"),
                    &format!("token `{name}`"),
                )
            }),
            None => None,
        };
        if let Some(spend) = field("spend").and_then(Value::as_f64).filter(|s| *s > 0.0) {
            if budget.is_some() {
                self.note(format!("{path}.spend"), format!("token `{name}`: the {} USD it spent in LiteLLM is not carried over; its Switchboard budget starts at 0", show_number(spend)));
            }
        }
        let tenant = field("team_alias")
            .or_else(|| field("team_id"))
            .and_then(scalar_text)
            .map(|t| one_line(&t));
        if tenant.is_some() {
            self.note(format!("{path}.team_id"), format!("token `{name}`: its LiteLLM team is its tenant (for logs, limits and budgets); team budgets and limits are not in a key export"));
        }

        const HANDLED: &[&str] = &[
            "token",
            "key",
            "key_alias",
            "models",
            "rpm_limit",
            "tpm_limit",
            "max_parallel_requests",
            "max_budget",
            "budget_duration",
            "spend",
            "blocked",
            "expires",
            "team_id",
        ];
        for (key, v) in map {
            let key = key_text(key);
            if HANDLED.contains(&key.as_str()) || KEY_BOOKKEEPING.contains(&key.as_str()) {
                continue;
            }
            let empty = match v {
                Value::Null => true,
                Value::Sequence(s) => s.is_empty(),
                Value::Mapping(m) => m.is_empty(),
                Value::String(s) => s.is_empty(),
                _ => false,
            };
            if !empty {
                let message = match key.as_str() {
                    "user_id" => "user_id not imported: Switchboard has no users, only tokens and tenants".to_owned(),
                    "organization_id" | "org_id" => format!("{key} not imported: Switchboard has no organizations; the tenant is the team"),
                    "model_max_budget" | "model_rpm_limit" | "model_tpm_limit" => format!("{key} not imported: Switchboard's token budgets and limits cover all of a token's aliases; put per-model caps on the alias instead"),
                    "aliases" => "aliases (per-key model names) not imported: Switchboard's aliases are the same for every token".to_owned(),
                    _ => format!("`{key}`{} not imported: Switchboard's client tokens have no equivalent", shown(v)),
                };
                self.note(
                    format!("{path}.{key}"),
                    format!("token `{name}`: {message}"),
                );
            }
        }
        self.note(path, format!("{label} imported as client token `{name}` (LiteLLM's SHA-256 of the key is Switchboard's token hash, so the client keeps its key)"));
        self.tokens.push(TokenOut {
            name,
            hash,
            description: format!("LiteLLM virtual key {label}"),
            tenant,
            aliases,
            limits,
            budget,
        });
    }
}

/// A deployment as compared for duplicates: its name and parameters without the key, which
/// /model/info never shows.
fn identity(entry: &Value) -> Value {
    let mut out = Mapping::new();
    if let Some(name) = entry.get("model_name") {
        out.insert("model_name".into(), name.clone());
    }
    if let Some(params) = entry.get("litellm_params").and_then(Value::as_mapping) {
        let mut params = params.clone();
        params.remove("api_key");
        params.retain(|_, v| !v.is_null());
        out.insert("litellm_params".into(), Value::Mapping(params));
    }
    Value::Mapping(out)
}

/// LiteLLM's `expires`: an ISO 8601 time, with or without an offset (UTC then).
fn expiry(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim();
    if let Ok(at) = text.parse::<jiff::Timestamp>() {
        return Some(at);
    }
    let civil = text.parse::<jiff::civil::DateTime>().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}
