//! The TOML output: header comment, providers, aliases, budgets, tokens, and the
//! commented-out block of what Switchboard cannot serve yet.

use super::*;

impl Importer {
    pub(crate) fn render(&self, options: &ImportOptions) -> String {
        let mut doc = DocumentMut::new();
        doc.insert("listen", value("127.0.0.1:4000"));

        let used: HashSet<usize> = self
            .aliases
            .iter()
            .flat_map(|a| a.targets.iter().map(|t| t.provider))
            .collect();
        let default_total = self.router_timeout.or(self.request_timeout);
        let mut breaker = InlineTable::new();
        if let Some(failures) = self.breaker_failures {
            breaker.insert("failures", i64::from(failures).into());
        }
        if let Some(cooldown) = self.breaker_cooldown {
            breaker.insert("cooldown_s", seconds_value(cooldown));
            if cooldown
                > switchboard_gateway::config::BreakerSettings::default()
                    .max_cooldown
                    .as_secs_f64()
            {
                breaker.insert("max_cooldown_s", seconds_value(cooldown));
            }
        }
        let routing = self.routing();
        let mut retries = InlineTable::new();
        let (attempts, backoff_ms) = self.retries();
        if let Some(attempts) = attempts {
            retries.insert("attempts", i64::from(attempts).into());
        }
        if let Some(backoff_ms) = backoff_ms {
            retries.insert("backoff_ms", seconds_value(backoff_ms));
        }

        let mut providers = Table::new();
        providers.set_implicit(true);
        for (index, provider) in self.providers.iter().enumerate() {
            if !provider.supported || !used.contains(&index) {
                continue;
            }
            let mut table = provider_table(provider);
            let mut timeouts = InlineTable::new();
            if let Some(total) = default_total {
                timeouts.insert("total_s", seconds_value(total));
            }
            if let Some(idle) = self.router_stream_timeout {
                timeouts.insert("idle_s", seconds_value(idle));
            }
            if !timeouts.is_empty() {
                table.insert("timeouts", value(timeouts));
            }
            if !breaker.is_empty() {
                table.insert("breaker", value(breaker.clone()));
            }
            let drop = provider
                .drop_params
                .as_ref()
                .or(self.drop_params.as_ref())
                .map(|(drop, _)| *drop);
            if let Some(drop) = drop {
                table.insert(
                    "unsupported_params",
                    value(if drop { "drop" } else { "refuse" }),
                );
            }
            if let Some(budget) = &provider.budget {
                table.insert("budget", value(budget.as_str()));
            }
            table.decor_mut().set_prefix("\n");
            providers.insert(&provider.name, Item::Table(table));
        }
        doc.insert("providers", Item::Table(providers));

        let mut aliases = Table::new();
        aliases.set_implicit(true);
        let mut imported = 0;
        for alias in self.aliases.iter().filter(|a| !a.targets.is_empty()) {
            imported += 1;
            let mut table = Table::new();
            if let Some(source) = &alias.copy_of {
                table.insert(
                    "description",
                    value(format!("LiteLLM model_group_alias for {source}")),
                );
            }
            table.insert("targets", value(self.targets_array(&alias.targets)));
            let balanced = alias.targets.len() > 1;
            if let (true, Routing::Strategy(strategy)) = (balanced, routing) {
                table.insert("strategy", value(strategy));
            }
            if !alias.fallbacks.is_empty() {
                let fallbacks: Array = alias.fallbacks.iter().map(String::as_str).collect();
                table.insert("fallbacks", value(fallbacks));
            }
            if let Some((above, to)) = &alias.long_context {
                let mut long = InlineTable::new();
                long.insert(
                    "above_tokens",
                    i64::try_from(*above).unwrap_or(i64::MAX).into(),
                );
                long.insert("alias", to.as_str().into());
                table.insert("long_context", value(long));
            }
            if !retries.is_empty() {
                table.insert("retries", value(retries.clone()));
            }
            if let Some(budget) = &alias.budget {
                table.insert("budget", value(budget.as_str()));
            }
            let mut prefix = String::from("\n");
            if alias.deployments > 1 {
                let how = match (balanced, routing) {
                    (false, _) => "; one target is imported (see the report)",
                    (true, Routing::Strategy(_)) => {
                        "; Switchboard balances the targets by its strategy"
                    }
                    (true, _) => "; Switchboard balances the targets by weight",
                };
                prefix.push_str(&format!(
                    "# LiteLLM load-balanced {} deployments here{how}.\n",
                    alias.deployments
                ));
            }
            table.decor_mut().set_prefix(prefix);
            aliases.insert(&alias.name, Item::Table(table));
        }
        doc.insert("aliases", Item::Table(aliases));
        if let Some(admin) = &self.admin_token {
            let mut server = Table::new();
            server.insert("admin_token", value(admin.as_str()));
            server.decor_mut().set_prefix("\n");
            doc.insert("server", Item::Table(server));
        }
        if !self.tokens.is_empty() {
            let mut tokens = Table::new();
            tokens.set_implicit(true);
            for token in &self.tokens {
                let mut table = Table::new();
                table.insert("hash", value(format!("sha256:{}", token.hash)));
                table.insert("description", value(one_line(&token.description)));
                if let Some(tenant) = &token.tenant {
                    table.insert("tenant", value(tenant.as_str()));
                }
                if let Some(list) = &token.aliases {
                    let list: Array = list.iter().map(String::as_str).collect();
                    table.insert("aliases", value(list));
                }
                if !token.limits.is_empty() {
                    table.insert("limits", value(token.limits.table()));
                }
                if let Some(budget) = &token.budget {
                    table.insert("budget", value(budget.as_str()));
                }
                table.decor_mut().set_prefix("\n");
                tokens.insert(&token.name, Item::Table(table));
            }
            doc.insert("tokens", Item::Table(tokens));
        }
        if !self.budgets.is_empty() {
            let mut budgets = Table::new();
            budgets.set_implicit(true);
            for budget in &self.budgets {
                let mut table = Table::new();
                table.insert("usd", value(seconds_value(budget.usd)));
                table.insert("period", value(budget.period));
                table.insert("description", value(one_line(&budget.description)));
                table.decor_mut().set_prefix("\n");
                budgets.insert(&budget.name, Item::Table(table));
            }
            doc.insert("budgets", Item::Table(budgets));
        }

        // Custom per-token prices become `[prices]` (USD per million tokens).
        let mut prices = Table::new();
        prices.set_implicit(true);
        for target in self.aliases.iter().flat_map(|a| a.targets.iter()) {
            let label = format!("{}/{}", self.providers[target.provider].name, target.model);
            if let (Some(price), false) = (target.costs.per_million(), prices.contains_key(&label))
            {
                let mut table = Table::new();
                for (k, v) in price.iter() {
                    table.insert(k, value(v.clone()));
                }
                table.decor_mut().set_prefix("\n");
                prices.insert(&label, Item::Table(table));
            }
        }
        if !prices.is_empty() {
            doc.insert("prices", Item::Table(prices));
        }

        let provider_count = used.len();
        let source = options
            .source
            .as_deref()
            .map(|s| format!(" `{}`", one_line(s)))
            .unwrap_or_default();
        let date = options
            .date
            .unwrap_or_else(|| time::OffsetDateTime::now_utc().date());
        let mut out = format!(
            "# Imported from LiteLLM config{source} on {date}; see the report.\n\
             # {imported} aliases over {provider_count} providers; {} report notes on what did not translate\n\
             # one to one (printed by `switchboard import litellm`). Check with `switchboard check`.\n\n",
            self.notes.len()
        );
        out.push_str(&doc.to_string());
        out.push_str(&self.untranslated_block());
        out
    }

    pub(crate) fn targets_array(&self, targets: &[Target]) -> Array {
        let mut array = Array::new();
        for target in targets {
            let label = format!("{}/{}", self.providers[target.provider].name, target.model);
            let mut timeouts = InlineTable::new();
            if let Some(total) = target.total_s {
                timeouts.insert("total_s", seconds_value(total));
            }
            if let Some(idle) = target.idle_s {
                timeouts.insert("idle_s", seconds_value(idle));
            }
            let mut table = InlineTable::new();
            table.insert("model", label.as_str().into());
            if let Some(weight) = target.weight_out {
                table.insert("weight", i64::from(weight).into());
            }
            if let Some(tokens) = target.max_input_tokens {
                table.insert(
                    "max_input_tokens",
                    i64::try_from(tokens).unwrap_or(i64::MAX).into(),
                );
            }
            if !timeouts.is_empty() {
                table.insert("timeouts", timeouts.into());
            }
            if !target.limits.is_empty() {
                table.insert("limits", target.limits.table().into());
            }
            if let Some(max_tokens) = target.max_tokens {
                table.insert(
                    "max_tokens",
                    i64::try_from(max_tokens).unwrap_or(i64::MAX).into(),
                );
            }
            if table.len() == 1 {
                array.push(label);
            } else {
                array.push(table);
            }
        }
        if targets.len() > 1 {
            for item in array.iter_mut() {
                item.decor_mut().set_prefix("\n    ");
            }
            array.set_trailing_comma(true);
            array.set_trailing("\n");
        }
        array
    }

    /// What Switchboard cannot use yet, commented out: unsupported providers and the aliases
    /// (or parts of aliases) that use them.
    pub(crate) fn untranslated_block(&self) -> String {
        let mut blocks: Vec<String> = Vec::new();
        for provider in self.providers.iter().filter(|p| !p.supported) {
            let mut doc = DocumentMut::new();
            let mut providers = Table::new();
            providers.set_implicit(true);
            providers.insert(&provider.name, Item::Table(provider_table(provider)));
            doc.insert("providers", Item::Table(providers));
            blocks.push(format!(
                "# {}:\n{}",
                one_line(&unsupported_reason(&provider.key.kind)),
                comment_out(&doc.to_string())
            ));
        }
        for alias in self.aliases.iter().filter(|a| !a.untranslated.is_empty()) {
            let array = self.targets_array(&alias.untranslated);
            if alias.targets.is_empty() {
                let mut doc = DocumentMut::new();
                let mut aliases = Table::new();
                aliases.set_implicit(true);
                let mut table = Table::new();
                table.insert("targets", value(array));
                aliases.insert(&alias.name, Item::Table(table));
                doc.insert("aliases", Item::Table(aliases));
                blocks.push(comment_out(&doc.to_string()));
            } else {
                let mut doc = DocumentMut::new();
                doc.insert("targets", value(array));
                let key = toml_edit::Key::new(alias.name.as_str())
                    .display_repr()
                    .to_string();
                blocks.push(format!(
                    "# Alias {key} (imported above) also had these targets:\n{}",
                    comment_out(&doc.to_string())
                ));
            }
        }
        if blocks.is_empty() {
            return String::new();
        }
        let mut out = String::from(
            "\n# ---------------------------------------------------------------------------------------------\n\
             # NOT TRANSLATED: Switchboard cannot use these yet. They are kept here, commented out, for\n\
             # reference; see the import report.\n",
        );
        for block in blocks {
            out.push_str("#\n");
            out.push_str(&block);
        }
        out
    }
}

pub(crate) fn provider_table(provider: &Provider) -> Table {
    let mut table = Table::new();
    table.insert("kind", value(provider.key.kind.as_str()));
    let kind_default = switchboard_gateway::config::ProviderKind::parse(&provider.key.kind)
        .and_then(switchboard_gateway::config::ProviderKind::default_base_url);
    if let Some(base) = &provider.key.base_url {
        if kind_default != Some(base.as_str()) {
            table.insert("base_url", value(base.as_str()));
        }
    }
    match (&provider.key.key, &provider.literal_env) {
        (KeyRef::Env(var), _) | (KeyRef::Literal(_), Some(var)) => {
            table.insert("api_key", value(format!("env:{var}")));
        }
        _ => {}
    }
    table
}

pub(crate) fn comment_out(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
