//! `model_list`: each deployment becomes a target of an alias on a provider.

use super::*;

impl Importer {
    pub(crate) fn note(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.notes.push(ImportNote {
            path: path.into(),
            message: one_line(&message.into()),
        });
    }

    // --- model_list ----------------------------------------------------------------------------

    pub(crate) fn entry(&mut self, path: &str, entry: &Value) {
        let path = path.to_owned();
        let Some(map) = entry.as_mapping() else {
            self.note(
                path,
                format!(
                    "skipped: a deployment must be a mapping with `model_name` and `litellm_params`, not {}",
                    type_name(entry)
                ),
            );
            return;
        };
        let mut max_input_tokens = None;
        let mut costs = Costs::default();
        for (key, v) in map {
            let key = key_text(key);
            match key.as_str() {
                "model_name" | "litellm_params" => {}
                "model_info" => {
                    max_input_tokens = self.model_info(v, &format!("{path}.model_info"), &mut costs)
                }
                _ => {
                    let message = param_message(&key, v);
                    self.note(format!("{path}.{key}"), message);
                }
            }
        }

        let Some(raw_name) = map.get("model_name").and_then(scalar_text) else {
            self.note(path, "skipped: no `model_name`");
            return;
        };
        let name = normalize_alias_name(&raw_name);
        if name.is_empty() {
            self.note(format!("{path}.model_name"), "skipped: empty `model_name`");
            return;
        }
        let params_path = format!("{path}.litellm_params");
        let Some(params) = map.get("litellm_params").and_then(Value::as_mapping) else {
            self.note(
                path,
                format!("skipped: model `{raw_name}` has no `litellm_params` mapping"),
            );
            self.skip(&name, "its deployment has no `litellm_params`");
            return;
        };
        let Some(model) = params.get("model").and_then(scalar_text) else {
            self.note(
                &params_path,
                format!("skipped: model `{raw_name}` has no `litellm_params.model`"),
            );
            self.skip(&name, "its deployment has no `litellm_params.model`");
            return;
        };
        if raw_name.contains('*') || model.contains('*') {
            self.note(
                format!("{path}.model_name"),
                format!("`{raw_name}` → `{model}` not imported: Switchboard has no wildcard routing; add an alias for each model you use"),
            );
            self.skip(&name, "it is a wildcard route");
            return;
        }
        if name != raw_name {
            self.note(
                format!("{path}.model_name"),
                format!("model_name {raw_name:?} contains spaces, which alias names cannot; imported as `{name}`"),
            );
        }
        let lower = name.to_lowercase();
        match self.lowercase.get(&lower) {
            Some(kept) if *kept != name => {
                let kept = kept.clone();
                self.note(
                    format!("{path}.model_name"),
                    format!("skipped: `{name}` differs from `{kept}` only in case, which Switchboard rejects (clients could not tell them apart); kept `{kept}`"),
                );
                self.skip(&name, &format!("it differs from `{kept}` only in case"));
                return;
            }
            Some(_) => {}
            None => {
                self.lowercase.insert(lower, name.clone());
            }
        }

        let alias = self.alias_mut(&name, &path);
        alias.deployments += 1;

        let Some(resolved) = self.resolve(params, &model, &params_path) else {
            return;
        };
        let mut literal_note = None;
        let mut total_s = None;
        let mut idle_s = None;
        let mut order = None;
        let mut weight = None;
        let mut rate_given = false;
        let mut limits = Limits::default();
        let mut max_tokens = None;
        let mut drop_params = None;
        let mut budget_usd = None;
        let mut budget_duration = None;
        let kind = resolved.key.kind.clone();
        for (key, v) in params {
            let key = key_text(key);
            let at = format!("{params_path}.{key}");
            match key.as_str() {
                "model" | "api_base" | "base_url" | "custom_llm_provider" => {}
                "api_key" => {
                    if matches!(resolved.key.key, KeyRef::Literal(_)) {
                        literal_note = Some(at);
                    }
                }
                "timeout" | "request_timeout" => {
                    total_s = self.seconds(v, &at, &key);
                }
                "stream_timeout" => {
                    idle_s = self.seconds(v, &at, &key);
                    if idle_s.is_some() {
                        self.note(
                            at,
                            "stream_timeout imported as the target's `idle_s` (longest gap between two chunks of a streamed response)",
                        );
                    }
                }
                "order" => match v.as_i64() {
                    Some(n) => order = Some(n),
                    None => self.note(at, "`order` is not an integer; ignored"),
                },
                "weight" => weight = self.weight(v, &at),
                "rpm" => {
                    rate_given = true;
                    limits.rpm = self.whole(v, &at, &key).and_then(|n| u32::try_from(n).ok());
                }
                "tpm" => {
                    rate_given = true;
                    limits.tpm = self.whole(v, &at, &key);
                }
                "max_parallel_requests" => {
                    limits.concurrent =
                        self.whole(v, &at, &key).and_then(|n| u32::try_from(n).ok());
                }
                "max_tokens" if kind == "anthropic" => {
                    max_tokens = self.whole(v, &at, &key);
                }
                "drop_params" => match v.as_bool() {
                    Some(b) => drop_params = Some((b, at)),
                    None => self.note(at, "`drop_params` is not true or false; ignored"),
                },
                "max_budget" => budget_usd = self.usd(v, &at),
                "budget_duration" => match scalar_text(v) {
                    Some(d) => budget_duration = Some(d),
                    None => self.note(
                        at,
                        "`budget_duration` is not a duration like \"30d\"; ignored",
                    ),
                },
                k if costs.take(k, v, &params_path) => {}
                _ => {
                    let message = param_message(&key, v);
                    self.note(at, message);
                }
            }
        }

        let provider = self.provider_for(resolved.key.clone(), &resolved, &params_path);
        if let Some(at) = literal_note {
            self.providers[provider].literal_paths.push(at);
        }
        let label = format!("{}/{}", self.providers[provider].name, resolved.model);
        let message = match costs.per_million() {
            _ if !resolved.supported => {
                "not imported: the deployment is not imported (see its note)".to_owned()
            }
            Some(_) => format!("imported into [prices.\"{label}\"] (USD per million tokens)"),
            None => format!("not imported: a price needs both input_cost_per_token and output_cost_per_token; set [prices.\"{label}\"] by hand"),
        };
        for at in costs.paths.clone() {
            self.note(at, message.clone());
        }
        if let Some((drop, at)) = drop_params {
            match &self.providers[provider].drop_params {
                Some((other, first)) if *other != drop => {
                    let (name, first) = (self.providers[provider].name.clone(), first.clone());
                    self.note(at, format!("drop_params = {drop} not imported: provider `{name}` already has drop_params = {other} from {first}, and Switchboard sets `unsupported_params` per provider"));
                }
                Some(_) => {}
                None => self.providers[provider].drop_params = Some((drop, at)),
            }
        }
        let budget = match (budget_usd, budget_duration) {
            (Some(usd), duration) => Some(BudgetSpec {
                usd,
                duration,
                path: format!("{params_path}.max_budget"),
            }),
            (None, Some(_)) => {
                self.note(
                    format!("{params_path}.budget_duration"),
                    "budget_duration without max_budget: nothing to import",
                );
                None
            }
            (None, None) => None,
        };
        let target = Target {
            provider,
            model: resolved.model,
            total_s,
            idle_s,
            order,
            weight: weight.unwrap_or(1.0),
            weight_given: weight.is_some(),
            rate_given,
            max_input_tokens,
            costs,
            weight_out: None,
            limits,
            max_tokens,
            budget,
            path: path.clone(),
        };
        let supported = resolved.supported;
        let alias = self.alias_mut(&name, &path);
        if supported {
            alias.targets.push(target);
        } else {
            alias.untranslated.push(target);
        }
    }

    pub(crate) fn skip(&mut self, name: &str, reason: &str) {
        if !self.alias_index.contains_key(name) {
            self.skipped
                .entry(name.to_owned())
                .or_insert_with(|| reason.to_owned());
        }
    }

    pub(crate) fn alias_mut(&mut self, name: &str, path: &str) -> &mut Alias {
        let index = match self.alias_index.get(name) {
            Some(&index) => index,
            None => {
                self.aliases.push(Alias {
                    name: name.to_owned(),
                    first_path: path.to_owned(),
                    deployments: 0,
                    targets: Vec::new(),
                    untranslated: Vec::new(),
                    fallbacks: Vec::new(),
                    long_context: None,
                    copy_of: None,
                    budget: None,
                });
                self.alias_index
                    .insert(name.to_owned(), self.aliases.len() - 1);
                self.aliases.len() - 1
            }
        };
        &mut self.aliases[index]
    }

    /// Per-alias notes once every deployment is in: ordering, duplicates, weights, and aliases
    /// left with no target.
    pub(crate) fn alias_notes(&mut self) {
        let mut notes = Vec::new();
        for alias in &mut self.aliases {
            let path = format!("{}.model_name", alias.first_path);
            if alias.targets.iter().any(|t| t.order.is_some()) {
                alias.targets.sort_by_key(|t| t.order.unwrap_or(i64::MAX));
                if alias.targets.len() > 1 {
                    notes.push((
                        path.clone(),
                        format!("alias `{}`: LiteLLM's `order` not translated: LiteLLM sent requests to the lowest order first and to the others only when those failed, but Switchboard spreads requests over all of an alias's targets (listed here lowest order first). For the same effect, move the higher-order targets into an alias of their own and list it in `fallbacks`", alias.name),
                    ));
                }
            }
            let mut kept: Vec<Target> = Vec::new();
            for target in alias.targets.drain(..) {
                let first = kept
                    .iter_mut()
                    .find(|t| t.provider == target.provider && t.model == target.model);
                match first {
                    Some(first) => {
                        notes.push((
                            target.path.clone(),
                            format!("alias `{}`: the same deployment (`{}`) is listed again; Switchboard lists a target once, so this entry is merged into the first, and its share of the traffic (weight) is added to the first's", alias.name, target.model),
                        ));
                        first.weight += target.weight;
                        first.weight_given |= target.weight_given;
                        first.rate_given |= target.rate_given;
                        first.max_input_tokens = first.max_input_tokens.or(target.max_input_tokens);
                        first.limits = first.limits.merged(target.limits);
                        first.max_tokens = first.max_tokens.or(target.max_tokens);
                        if first.budget.is_none() {
                            first.budget = target.budget.clone();
                        }
                    }
                    None => kept.push(target),
                }
            }
            alias.targets = kept;
            if let [target] = alias.targets.as_slice() {
                if target.weight_given {
                    notes.push((
                        format!("{}.litellm_params.weight", target.path),
                        format!("weight = {} not needed: alias `{}` has a single target here, which gets every request", show_number(target.weight), alias.name),
                    ));
                }
            }
            if let Some(message) = set_weights(&mut alias.targets) {
                notes.push((path.clone(), format!("alias `{}`: {message}", alias.name)));
            }
            set_weights(&mut alias.untranslated);
            if alias.targets.is_empty() {
                notes.push((
                    path,
                    format!(
                        "alias `{}` not imported: none of its deployments could be translated",
                        alias.name
                    ),
                ));
            }
        }
        for (path, message) in notes {
            self.note(path, message);
        }
    }
}
