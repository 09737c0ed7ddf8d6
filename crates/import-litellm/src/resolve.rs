//! A deployment's `model` and `litellm_params` resolved to a provider (kind, base URL, key).

use super::*;

impl Importer {
    /// Works out the provider and model id of one deployment. `None` (with a note) when it
    /// cannot be translated at all.
    pub(crate) fn resolve(
        &mut self,
        params: &Mapping,
        model: &str,
        path: &str,
    ) -> Option<Resolved> {
        let model_path = format!("{path}.model");
        let custom = params
            .get("custom_llm_provider")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let (mut prefix, mut model_id) = match &custom {
            Some(provider) => (
                Some(provider.clone()),
                model
                    .strip_prefix(provider.as_str())
                    .and_then(|m| m.strip_prefix('/'))
                    .unwrap_or(model)
                    .to_owned(),
            ),
            None => match model.split_once('/') {
                Some((first, rest))
                    if COMPATIBLE.iter().any(|c| c.prefix == first)
                        || UNSUPPORTED.contains(&first)
                        || first == "github_copilot" =>
                {
                    (Some(first.to_owned()), rest.to_owned())
                }
                _ => (None, model.to_owned()),
            },
        };
        if model_id.trim().is_empty() {
            self.note(model_path, format!("skipped: `{model}` names no model"));
            return None;
        }

        let api_base_path = if params.contains_key("api_base") {
            format!("{path}.api_base")
        } else {
            format!("{path}.base_url")
        };
        let api_base = match params.get("api_base").or_else(|| params.get("base_url")) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) => {
                if let Some(var) = s.strip_prefix("os.environ/") {
                    self.note(
                        api_base_path,
                        format!("deployment `{model}` not imported: its api_base comes from the environment variable `{}`, which an import cannot read; add a provider with that URL as `base_url` by hand", one_line(var)),
                    );
                    return None;
                }
                Some(s.trim().to_owned())
            }
            Some(other) => {
                self.note(
                    api_base_path,
                    format!(
                        "deployment `{model}` not imported: api_base must be a URL, not {}",
                        type_name(other)
                    ),
                );
                return None;
            }
        };

        if prefix.is_none() {
            let lower = model_id.to_lowercase();
            let inferred = if [
                "gpt-",
                "chatgpt-",
                "o1",
                "o3",
                "o4",
                "text-embedding-",
                "ft:gpt",
            ]
            .iter()
            .any(|p| lower.starts_with(p))
            {
                Some("openai")
            } else if lower.starts_with("claude") {
                Some("anthropic")
            } else if lower.starts_with("gemini") {
                Some("vertex_ai")
            } else {
                None
            };
            match (inferred, &api_base) {
                (Some(provider), _) => {
                    self.note(
                        &model_path,
                        format!("`{model}` has no provider prefix; LiteLLM infers `{provider}`, and so does the import"),
                    );
                    prefix = Some(provider.to_owned());
                }
                (None, Some(_)) => {
                    self.note(
                        &model_path,
                        format!("`{model}` has no provider prefix; with its api_base it is imported as an OpenAI-compatible server"),
                    );
                    prefix = Some("openai".to_owned());
                    model_id = model.to_owned();
                }
                (None, None) => {
                    self.note(
                        model_path,
                        format!("deployment `{model}` not imported: no provider prefix (like `openai/`) and no api_base, so its server is unknown"),
                    );
                    return None;
                }
            }
        }
        let prefix = prefix.unwrap_or_default();

        let key = self.api_key(params.get("api_key"), &format!("{path}.api_key"));

        if let Some(compatible) = COMPATIBLE.iter().find(|c| c.prefix == prefix) {
            return self.resolve_compatible(compatible, api_base, key, model_id, path);
        }
        if prefix == "github_copilot" {
            // LiteLLM's Copilot provider logs in with GitHub's device flow and keeps its token
            // in its own files: Switchboard logs in again with `switchboard login copilot`.
            if api_base.is_some() {
                self.note(
                    api_base_path,
                    "api_base not imported: a `github_copilot` provider gets its API base from Copilot's token exchange (set `api_url` to override it)",
                );
            }
            return Some(Resolved {
                key: ProviderKey {
                    kind: "github_copilot".to_owned(),
                    base_url: None,
                    key: KeyRef::None,
                },
                supported: true,
                name_hint: "github_copilot".to_owned(),
                model: model_id,
                provider_notes: vec!["GitHub Copilot needs a login: run `switchboard login copilot` once (it stores the GitHub token as `keychain:github_copilot`, the provider's default)".to_owned()],
                prefix,
            });
        }

        // A provider Switchboard cannot speak yet: kept for the commented-out block.
        let kind = sanitize_name(&prefix);
        self.note(
            model_path,
            format!(
                "not translated: {} (kept commented out at the end of the output)",
                unsupported_reason(&kind)
            ),
        );
        let base_url = api_base.and_then(|b| clean_url(&b).map(|(url, _)| url));
        Some(Resolved {
            key: ProviderKey {
                kind: kind.clone(),
                base_url,
                key,
            },
            supported: false,
            name_hint: kind,
            model: model_id,
            provider_notes: Vec::new(),
            prefix: prefix.clone(),
        })
    }

    pub(crate) fn resolve_compatible(
        &mut self,
        compatible: &Compatible,
        api_base: Option<String>,
        mut key: KeyRef,
        model_id: String,
        path: &str,
    ) -> Option<Resolved> {
        let mut provider_notes = Vec::new();
        let given = api_base.is_some();
        let Some(raw_base) = api_base.or(compatible.default_base.map(str::to_owned)) else {
            let from = compatible
                .base_env
                .map(|var| format!(" (LiteLLM reads it from `{var}`)"))
                .unwrap_or_default();
            self.note(
                format!("{path}.model"),
                format!("deployment `{}/{model_id}` not imported: no api_base{from}; add it and import again", compatible.prefix),
            );
            return None;
        };
        let Some((mut base, stripped)) = clean_url(&raw_base) else {
            self.note(
                format!("{path}.api_base"),
                format!("deployment `{}/{model_id}` not imported: api_base is not an http:// or https:// URL", compatible.prefix),
            );
            return None;
        };
        if stripped {
            self.note(
                format!("{path}.api_base"),
                "credentials, query or fragment in api_base not imported: base_url keeps only scheme, host, port and path",
            );
        }
        let has_path = url::Url::parse(&base)
            .map(|u| !u.path().trim_matches('/').is_empty())
            .unwrap_or(false);
        if compatible.kind == "anthropic" {
            // LiteLLM appends /v1/messages unless api_base ends with it; Switchboard appends
            // /v1/messages to base_url.
            if let Some(stripped) = base.strip_suffix("/v1/messages") {
                base = stripped.to_owned();
            }
        } else if compatible.kind == "gemini" {
            // LiteLLM and Switchboard both append /models/MODEL:ACTION to a Gemini api_base.
        } else if compatible.ollama {
            if !base.ends_with("/v1") {
                let native = base.clone();
                base.push_str("/v1");
                provider_notes.push(format!(
                    "Ollama serves the OpenAI API under /v1, so base_url is {base} (LiteLLM's `{}/` spoke Ollama's native API at {native})",
                    compatible.prefix
                ));
            }
        } else if !has_path && given {
            base.push_str("/v1");
            provider_notes.push(format!(
                "api_base has no path; Switchboard's base_url includes /v1, so it is {base} (check that the server answers there)"
            ));
        }
        if !given && compatible.local {
            provider_notes.push(format!(
                "no api_base: assumed the usual local address for `{}/`, {base}",
                compatible.prefix
            ));
        }
        let at_default = compatible
            .default_base
            .and_then(|d| clean_url(d).map(|(url, _)| url))
            .is_some_and(|d| d == base || format!("{d}/v1") == base);
        let needs_key = matches!(compatible.kind, "anthropic" | "gemini");
        if key == KeyRef::None && (at_default || needs_key) {
            if let Some(var) = compatible.key_env {
                key = KeyRef::Env(var.to_owned());
                provider_notes.push(if self.remote_entry {
                    format!("LiteLLM's /model/info never shows a deployment's key, so api_key = \"env:{var}\", the variable LiteLLM reads by default; point it at the key the deployment really uses if that differs")
                } else {
                    format!("no api_key: LiteLLM reads `{var}` by default, so api_key = \"env:{var}\"")
                });
            }
        }
        if compatible.prefix == "text-completion-openai" {
            self.note(
                format!("{path}.model"),
                "LiteLLM sent this deployment's requests to the legacy /completions endpoint; Switchboard forwards each request to the endpoint the client called",
            );
        }
        let name_hint = provider_name_hint(compatible, &base, at_default);
        Some(Resolved {
            key: ProviderKey {
                kind: compatible.kind.to_owned(),
                base_url: Some(base),
                key,
            },
            supported: true,
            name_hint,
            model: model_id,
            provider_notes,
            prefix: compatible.prefix.to_owned(),
        })
    }

    pub(crate) fn api_key(&mut self, v: Option<&Value>, path: &str) -> KeyRef {
        match v {
            None | Some(Value::Null) => KeyRef::None,
            Some(Value::String(s)) => {
                if let Some(var) = s.strip_prefix("os.environ/") {
                    if !var.is_empty() && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                    {
                        return KeyRef::Env(var.to_owned());
                    }
                    self.note(
                        path,
                        "api_key not imported: `os.environ/` is not followed by a valid environment variable name",
                    );
                    return KeyRef::None;
                }
                if s.trim().is_empty() {
                    self.note(path, "empty api_key ignored");
                    return KeyRef::None;
                }
                let index = match self.literals.iter().position(|l| l == s) {
                    Some(index) => index,
                    None => {
                        self.literals.push(s.clone());
                        self.literals.len() - 1
                    }
                };
                KeyRef::Literal(index)
            }
            Some(other) => {
                self.note(
                    path,
                    format!(
                        "api_key not imported: expected `os.environ/VAR`, found {}",
                        type_name(other)
                    ),
                );
                KeyRef::None
            }
        }
    }

    pub(crate) fn provider_for(
        &mut self,
        key: ProviderKey,
        resolved: &Resolved,
        path: &str,
    ) -> usize {
        if let Some(&index) = self.provider_index.get(&key) {
            return index;
        }
        let name = self.unique_provider_name(&resolved.name_hint);
        for message in &resolved.provider_notes {
            let message = format!("provider `{name}`: {message}");
            self.note(path, message);
        }
        // /model/info never shows keys: say so where the import could not pick a default one.
        if self.remote_entry && resolved.supported && key.key == KeyRef::None {
            self.note(path, format!("provider `{name}`: LiteLLM's /model/info never shows a deployment's key, so this provider has no api_key; if the server needs one, set api_key = \"env:VAR\" (or \"keychain:NAME\") on it"));
        }
        self.providers.push(Provider {
            name,
            key: key.clone(),
            supported: resolved.supported,
            literal_env: None,
            literal_paths: Vec::new(),
            prefix: resolved.prefix.clone(),
            drop_params: None,
            budget: None,
        });
        self.provider_index.insert(key, self.providers.len() - 1);
        self.providers.len() - 1
    }

    pub(crate) fn unique_provider_name(&mut self, hint: &str) -> String {
        let mut name = hint.to_owned();
        let mut n = 2;
        while self.used_provider_names.contains(&name) {
            name = format!("{hint}-{n}");
            n += 1;
        }
        self.used_provider_names.insert(name.clone());
        name
    }
}
