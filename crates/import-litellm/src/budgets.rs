//! Budgets: the proxy's, providers' and deployments' `max_budget`s as `[budgets.NAME]`.

use super::*;

impl Importer {
    /// A `[budgets.NAME]` from a LiteLLM max_budget/budget_duration; its name, or `None` (with a
    /// note) when the duration has no Switchboard period.
    pub(crate) fn add_budget(
        &mut self,
        hint: &str,
        usd: f64,
        duration: Option<&str>,
        path: &str,
        what: &str,
    ) -> Option<String> {
        let Some(duration) = duration else {
            self.note(path, format!("max_budget = {} of {what} not imported: without budget_duration LiteLLM never resets it (a lifetime cap), and Switchboard's budgets are per day, week or month", show_number(usd)));
            return None;
        };
        let Some((period, exact)) = budget_period(duration) else {
            self.note(path, format!("max_budget = {} of {what} not imported: budget_duration {:?} is not a day, a week or a month, the periods Switchboard's budgets have", show_number(usd), one_line(duration)));
            return None;
        };
        let mut name = sanitize_name(hint);
        let base = name.clone();
        let mut n = 2;
        while self.budgets.iter().any(|b| b.name == name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        let how = if exact {
            ""
        } else {
            " (the nearest Switchboard period)"
        };
        self.note(path, format!("max_budget = {} every {} of {what} imported as budget `{name}` (usd = {}, period = \"{period}\"{how}); Switchboard's periods follow the calendar in [spend] timezone (a day from midnight, a week from Monday, a month from the 1st), where LiteLLM counted from the budget's creation", show_number(usd), one_line(duration), show_number(usd)));
        self.budgets.push(BudgetOut {
            name: name.clone(),
            usd,
            period,
            description: format!("LiteLLM max_budget of {what}"),
        });
        Some(name)
    }

    /// `{openai: {budget_limit: 100, time_period: 1d}, ...}`: a budget per LiteLLM provider.
    pub(crate) fn provider_budget_config(&mut self, v: &Value, path: &str) {
        let Some(map) = v.as_mapping() else {
            self.note(
                path,
                "not imported: expected a mapping of provider → { budget_limit, time_period }",
            );
            return;
        };
        for (provider, spec) in map {
            let provider = key_text(provider);
            let at = format!("{path}.{provider}");
            let usd = match spec.get("budget_limit") {
                Some(v) => self.usd(v, &format!("{at}.budget_limit")),
                None => {
                    self.note(&at, "not imported: no budget_limit");
                    None
                }
            };
            if let Some(usd) = usd {
                let duration = spec.get("time_period").and_then(scalar_text);
                self.provider_budgets.push((
                    provider,
                    BudgetSpec {
                        usd,
                        duration,
                        path: at,
                    },
                ));
            }
        }
    }

    /// Deployment budgets go on the alias when it is the alias's only target, else on the
    /// provider when it serves only this target; the proxy-wide budget goes on every provider.
    pub(crate) fn assign_budgets(&mut self) {
        let mut uses: HashMap<usize, usize> = HashMap::new();
        for alias in self.aliases.iter().filter(|a| a.copy_of.is_none()) {
            for target in &alias.targets {
                *uses.entry(target.provider).or_default() += 1;
            }
        }
        for a in 0..self.aliases.len() {
            if self.aliases[a].copy_of.is_some() {
                continue;
            }
            for t in 0..self.aliases[a].targets.len() {
                let Some(spec) = self.aliases[a].targets[t].budget.clone() else {
                    continue;
                };
                let provider = self.aliases[a].targets[t].provider;
                let alias_name = self.aliases[a].name.clone();
                let model = self.aliases[a].targets[t].model.clone();
                let what = format!("deployment `{alias_name}` → `{model}`");
                let single = self.aliases[a].targets.len() == 1;
                let own_provider =
                    uses.get(&provider) == Some(&1) && self.providers[provider].budget.is_none();
                if !single && !own_provider {
                    self.note(&spec.path, format!("max_budget = {} of {what} not imported: Switchboard's budgets apply to providers, aliases, client tokens and tenants, and this deployment shares both its alias and its provider with others; give it a provider of its own (its own api_base or key) or put a budget on the alias by hand", show_number(spec.usd)));
                    continue;
                }
                let hint = if single {
                    alias_name.clone()
                } else {
                    self.providers[provider].name.clone()
                };
                let Some(name) =
                    self.add_budget(&hint, spec.usd, spec.duration.as_deref(), &spec.path, &what)
                else {
                    continue;
                };
                if single {
                    self.aliases[a].budget = Some(name);
                } else {
                    self.providers[provider].budget = Some(name);
                }
            }
        }
        for (prefix, spec) in std::mem::take(&mut self.provider_budgets) {
            let matching: Vec<usize> = (0..self.providers.len())
                .filter(|&i| {
                    let p = &self.providers[i];
                    p.supported && p.prefix == prefix && uses.contains_key(&i)
                })
                .collect();
            if matching.is_empty() {
                self.note(&spec.path, format!("provider budget of `{}` not imported: no imported deployment uses that provider", one_line(&prefix)));
                continue;
            }
            let what = format!("LiteLLM provider `{}`", one_line(&prefix));
            let Some(name) = self.add_budget(
                &prefix,
                spec.usd,
                spec.duration.as_deref(),
                &spec.path,
                &what,
            ) else {
                continue;
            };
            for i in matching {
                match self.providers[i].budget.clone() {
                    Some(own) => {
                        let provider = self.providers[i].name.clone();
                        self.note(&spec.path, format!("budget `{name}` not set on provider `{provider}`: it already counts against budget `{own}` (from its deployment), and a provider names one budget"));
                    }
                    None => self.providers[i].budget = Some(name.clone()),
                }
            }
        }
        if let Some(usd) = self.proxy_budget {
            let duration = self.proxy_budget_duration.clone();
            let path = "litellm_settings.max_budget";
            let Some(name) = self.add_budget(
                "litellm-proxy",
                usd,
                duration.as_deref(),
                path,
                "the whole proxy",
            ) else {
                return;
            };
            let mut kept = Vec::new();
            for (index, provider) in self.providers.iter_mut().enumerate() {
                if !provider.supported || !uses.contains_key(&index) {
                    continue;
                }
                match &provider.budget {
                    Some(own) => kept.push(format!("`{}` (budget `{own}`)", provider.name)),
                    None => provider.budget = Some(name.clone()),
                }
            }
            if !kept.is_empty() {
                self.note(path, format!("budget `{name}` is set on every provider except {}: a Switchboard provider counts against one budget, and these have their own", kept.join(", ")));
            }
        } else if self.proxy_budget_duration.is_some() {
            self.note(
                "litellm_settings.budget_duration",
                "budget_duration without max_budget: nothing to import",
            );
        }
    }
}

/// LiteLLM's `budget_duration` (`30d`, `1mo`, `24h`, ...) as a Switchboard budget period, and
/// whether it is the same length.
pub(crate) fn budget_period(duration: &str) -> Option<(&'static str, bool)> {
    let text: String = duration
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        "w" => n * 7 * 86_400,
        "mo" => return (n == 1).then_some(("month", true)),
        _ => return None,
    };
    match seconds {
        86_400 => Some(("day", true)),
        604_800 => Some(("week", true)),
        s if (28 * 86_400..=31 * 86_400).contains(&s) => Some(("month", false)),
        _ => None,
    }
}
