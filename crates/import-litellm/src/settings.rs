//! `router_settings`, `litellm_settings`, `general_settings` and `environment_variables`.

use super::*;

impl Importer {
    pub(crate) fn router_settings(&mut self, section: &Value) {
        let Some(map) = self.section_map(section, "router_settings") else {
            return;
        };
        for (key, v) in &map {
            let key = key_text(key);
            let path = format!("router_settings.{key}");
            if self.fallback_setting(&key, v, &path) {
                continue;
            }
            match key.as_str() {
                "timeout" => {
                    self.router_timeout = self.seconds(v, &path, "timeout");
                    if let Some(s) = self.router_timeout {
                        self.note(path, format!("router timeout imported as every provider's default `timeouts.total_s = {}`", show_number(s)));
                    }
                }
                "stream_timeout" => {
                    self.router_stream_timeout = self.seconds(v, &path, "stream_timeout");
                    if let Some(s) = self.router_stream_timeout {
                        self.note(path, format!("router stream_timeout imported as every provider's default `timeouts.idle_s = {}` (longest gap between two chunks of a streamed response)", show_number(s)));
                    }
                }
                "model_group_alias" => self.model_group_alias(v, &path),
                "provider_budget_config" => self.provider_budget_config(v, &path),
                "routing_strategy" => {
                    self.routing_strategy = Some((v.as_str().map(str::to_owned), path));
                }
                "num_retries" => {
                    if let Some(n) = self.count(v, &path, &key) {
                        self.router_num_retries = Some((n, path));
                    }
                }
                "retry_after" => self.retry_after(v, &path),
                "retry_policy" | "model_group_retry_policy" => {
                    self.note(path, format!("`{key}` not translated: Switchboard has no per-error retry counts; `retries.attempts` applies to every transient error (connect, timeout, 5xx, 429)"));
                }
                "allowed_fails" => {
                    if let Some(n) = self.count(v, &path, &key) {
                        let failures = n.saturating_add(1);
                        self.breaker_failures = Some(failures);
                        self.note(path, format!("allowed_fails = {n} imported as every provider's `breaker.failures = {failures}`: LiteLLM cools a deployment down when its failures within a short window (cooldown_time) exceed allowed_fails, that is on failure {failures}; Switchboard's breaker opens after {failures} consecutive failures (a success starts the count again) and also when more than half of the requests in the last 60 s failed (`error_rate`, `window_s`)"));
                    }
                }
                "cooldown_time" => self.cooldown_time(v, &path),
                "allowed_fails_policy" => {
                    self.note(path, "allowed_fails_policy not translated: Switchboard's breaker counts every failure alike (`breaker.failures`)");
                }
                "disable_cooldowns" => {
                    self.note(path, format!("disable_cooldowns{} not translated: Switchboard's breakers cannot be turned off; raise `breaker.failures` to make them rarer", shown(v)));
                }
                "enable_pre_call_checks" => {
                    self.note(path, format!("enable_pre_call_checks{} not needed: Switchboard always skips a target whose `max_input_tokens` (from model_info) is below the request's estimated input", shown(v)));
                }
                k if k.starts_with("redis") || k == "cache_responses" => self.note(
                    path,
                    format!("`{key}` not imported: Switchboard keeps no shared state in Redis and has no response cache"),
                ),
                _ => self.note(
                    path,
                    format!("`{key}`{} not translated: Switchboard has no such router setting yet", shown(v)),
                ),
            }
        }
    }

    /// The fallback keys, read alike in `router_settings` and `litellm_settings`; false for any
    /// other key.
    fn fallback_setting(&mut self, key: &str, v: &Value, path: &str) -> bool {
        match key {
            "fallbacks" => self.fallback_list(v, path, FallbackKind::Regular),
            "context_window_fallbacks" => self.fallback_list(v, path, FallbackKind::ContextWindow),
            "default_fallbacks" => self.default_fallbacks(v, path),
            "content_policy_fallbacks" => self.note(path, CONTENT_POLICY),
            _ => return false,
        }
        true
    }

    pub(crate) fn litellm_settings(&mut self, section: &Value) {
        let Some(map) = self.section_map(section, "litellm_settings") else {
            return;
        };
        for (key, v) in &map {
            let key = key_text(key);
            let path = format!("litellm_settings.{key}");
            if self.fallback_setting(&key, v, &path) {
                continue;
            }
            match key.as_str() {
                "request_timeout" => {
                    self.request_timeout = self.seconds(v, &path, "request_timeout");
                    if let Some(s) = self.request_timeout {
                        self.note(path, format!("request_timeout imported as every provider's default `timeouts.total_s = {}` unless router_settings.timeout is set", show_number(s)));
                    }
                }
                "num_retries" => {
                    if let Some(n) = self.count(v, &path, &key) {
                        self.settings_num_retries = Some((n, path));
                    }
                }
                "drop_params" => match v.as_bool() {
                    Some(b) => self.drop_params = Some((b, path)),
                    None => self.note(path, "`drop_params` is not true or false; ignored"),
                },
                "modify_params" => self.note(path, format!("modify_params{} not translated: Switchboard translates a request for Anthropic and Gemini by fixed rules and has no switch to rewrite it further", shown(v))),
                "max_budget" => self.proxy_budget = self.usd(v, &path),
                "budget_duration" => match scalar_text(v) {
                    Some(d) => self.proxy_budget_duration = Some(d),
                    None => self.note(path, "`budget_duration` is not a duration like \"30d\"; ignored"),
                },
                "callbacks" | "success_callback" | "failure_callback" | "service_callback"
                | "callback_settings" => self.note(
                    path,
                    format!("`{key}` not imported: Switchboard logs every request to its own request log (SQLite) and has no callbacks"),
                ),
                "cache" | "cache_params" => self.note(
                    path,
                    format!("`{key}` not imported: Switchboard has no response cache yet"),
                ),
                "set_verbose" | "json_logs" => self.note(
                    path,
                    format!("`{key}` not imported: Switchboard's logging is set on its command line"),
                ),
                _ => self.note(
                    path,
                    format!("`{key}`{} not imported: Switchboard has no equivalent yet", shown(v)),
                ),
            }
        }
    }

    pub(crate) fn general_settings(&mut self, section: &Value) {
        let Some(map) = self.section_map(section, "general_settings") else {
            return;
        };
        for (key, v) in &map {
            let key = key_text(key);
            let path = format!("general_settings.{key}");
            match key.as_str() {
                "master_key" => self.master_key(v, &path),
                "store_model_in_db" => self.note(
                    path,
                    "store_model_in_db: the models LiteLLM keeps in its database are not in this file; import them from the running proxy with `switchboard import litellm --from-url URL --master-key REF`",
                ),
                "database_url" => self.note(
                    path,
                    "database_url not imported: Switchboard keeps its request log in its own SQLite file (`[database] path`)",
                ),
                "port" | "host" => self.note(
                    path,
                    format!("`{key}` not imported: Switchboard listens where `listen` says (127.0.0.1:4000 in the output)"),
                ),
                _ => self.note(
                    path,
                    format!("`{key}` not imported: Switchboard has no equivalent yet"),
                ),
            }
        }
    }

    /// LiteLLM's master key becomes a client token with the key's SHA-256, so clients keep it; an
    /// `os.environ/` key also becomes `server.admin_token`, as it opened LiteLLM's admin API.
    pub(crate) fn master_key(&mut self, v: &Value, path: &str) {
        let Some(text) = v.as_str().map(str::trim).filter(|t| !t.is_empty()) else {
            self.note(path, "master_key not imported: it is not a string");
            return;
        };
        const NAME: &str = "litellm-master-key";
        let hint = format!("printf %s \"$KEY\" | sha256sum` gives the hash for a `[tokens.{NAME}]` table with hash = \"sha256:<hash>\"; or make a new key with `switchboard tokens create {NAME}` (clients then need the new key)");
        let value = match text.strip_prefix("os.environ/") {
            Some(var) => {
                if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    self.note(path, "master_key not imported: `os.environ/` is not followed by a valid environment variable name");
                    return;
                }
                self.admin_token = Some(format!("env:{var}"));
                let value = match &self.env {
                    Some(env) => env.get(var).cloned(),
                    None => std::env::var(var).ok(),
                };
                match value.filter(|v| !v.is_empty()) {
                    Some(value) => {
                        self.note(path, format!("master_key (from `{var}`, read at import time) imported as client token `{NAME}` (its SHA-256; the key is not copied), so clients keep their key (with a client token configured, every model call needs one, as every LiteLLM call needed a key); and as server.admin_token = \"env:{var}\" for the admin API"));
                        value
                    }
                    None => {
                        self.note(path, format!("master_key is read from `{var}`, which is not set here, so no client token could be made from it (server.admin_token = \"env:{var}\" is set): set {var} and import again, or `{hint}", hint = hint.replace("$KEY", &format!("${var}"))));
                        return;
                    }
                }
            }
            None => {
                self.note(path, format!("master_key imported as client token `{NAME}` (its SHA-256; the key is not copied), so clients keep their key (with a client token configured, every model call needs one, as every LiteLLM call needed a key). The admin API takes only a reference: to keep using this key there, store it in a mode-600 file and set server.admin_token = \"file:PATH\""));
                text.to_owned()
            }
        };
        self.tokens.push(TokenOut {
            name: NAME.to_owned(),
            hash: switchboard_gateway::hash_token(&value),
            description: "LiteLLM master_key".to_owned(),
            tenant: None,
            aliases: None,
            limits: Limits::default(),
            budget: None,
        });
    }

    /// A whole number from 0 (a count of retries or failures). `None` (with a note) otherwise.
    pub(crate) fn count(&mut self, v: &Value, path: &str, key: &str) -> Option<u32> {
        match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n < 1_000_000 => Some(n),
            _ => {
                self.note(
                    path,
                    format!(
                        "`{key}`{} not imported: it must be a whole number from 0",
                        shown(v)
                    ),
                );
                None
            }
        }
    }

    pub(crate) fn retry_after(&mut self, v: &Value, path: &str) {
        if v.as_f64() == Some(0.0) {
            self.note(
                path,
                "retry_after = 0 (LiteLLM's default) not translated: Switchboard's retries keep their default backoff (100 ms)",
            );
            return;
        }
        self.retry_after = self.seconds(v, path, "retry_after");
        if let Some(s) = self.retry_after {
            self.note(path, format!("retry_after = {} imported as every alias's `retries.backoff_ms = {}`: LiteLLM waits at least that long before each retry; Switchboard moves to another healthy target at once and pauses (doubling each time) only before trying the same target again", show_number(s), show_number(s * 1000.0)));
        }
    }

    pub(crate) fn cooldown_time(&mut self, v: &Value, path: &str) {
        if v.as_f64() == Some(0.0) {
            self.note(
                path,
                "cooldown_time = 0 means LiteLLM's default (5 s), which is also Switchboard's `breaker.cooldown_s`; nothing to write",
            );
            return;
        }
        self.breaker_cooldown = self.seconds(v, path, "cooldown_time");
        let Some(s) = self.breaker_cooldown else {
            return;
        };
        let default_max = switchboard_gateway::config::BreakerSettings::default()
            .max_cooldown
            .as_secs_f64();
        let max = if s > default_max {
            format!(
                " and `breaker.max_cooldown_s = {}` (it may not be below cooldown_s)",
                show_number(s)
            )
        } else {
            String::new()
        };
        self.note(path, format!("cooldown_time = {} imported as every provider's `breaker.cooldown_s = {}`{max}: LiteLLM keeps a deployment out for the same time each time; Switchboard then lets one probe request through and, if it fails, doubles the cooldown, up to `breaker.max_cooldown_s`", show_number(s), show_number(s)));
    }

    pub(crate) fn environment_variables(&mut self, section: &Value) {
        let Some(map) = self.section_map(section, "environment_variables") else {
            return;
        };
        if map.is_empty() {
            return;
        }
        let names: Vec<String> = map.keys().map(|k| one_line(&key_text(k))).collect();
        self.note(
            "environment_variables",
            format!("not imported ({}): LiteLLM set these variables itself; Switchboard reads `env:` references from its own environment, so export them before starting it. Values are not copied", names.join(", ")),
        );
    }

    pub(crate) fn section_map(&mut self, section: &Value, name: &str) -> Option<Mapping> {
        match section {
            Value::Mapping(map) => Some(map.clone()),
            Value::Null => None,
            other => {
                self.note(
                    name,
                    format!(
                        "`{name}` not imported: expected a mapping, found {}",
                        type_name(other)
                    ),
                );
                None
            }
        }
    }
}

pub(crate) const CONTENT_POLICY: &str = "content_policy_fallbacks not imported: Switchboard falls back only on transient errors (connect, timeout, 5xx, 429), never on a content-policy refusal";
