//! `[aliases.NAME]`: targets, strategy, fallbacks (without cycles), limits and rerouting.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::super::diagnostics::{closest, Diagnostic, Locator, Seg};
use super::super::raw::{RawAlias, RawConfig, RawTarget};
use super::super::{
    AliasConfig, LongContext, Price, ProviderConfig, ProviderKind, ProviderSettings, Retries,
    Strategy, TargetConfig,
};
use super::build_limits;
use super::shared::{apply_timeouts, seconds};
use crate::config::Limits;

pub(super) fn build_alias(
    name: &str,
    raw: &RawAlias,
    providers: &BTreeMap<String, ProviderConfig>,
    (prices, price_file): (
        &BTreeMap<String, Price>,
        Option<&crate::config::prices::PriceFile>,
    ),
    raw_config: &RawConfig,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> AliasConfig {
    let path = [Seg::Key("aliases"), Seg::Key(name)];
    if raw.targets.is_empty() {
        errors.push(loc.at(
            &[path[0], path[1], Seg::Key("targets")],
            format!("alias `{name}` needs at least one target"),
        ));
    }
    let mut targets: Vec<TargetConfig> = Vec::new();
    for (i, target) in raw.targets.iter().enumerate() {
        let target_path = [path[0], path[1], Seg::Key("targets"), Seg::Index(i)];
        let written = target.model();
        let Some((provider_name, model)) = written
            .split_once('/')
            .filter(|(p, m)| !p.is_empty() && !m.is_empty())
        else {
            errors.push(loc.at(
                &target_path,
                format!("target {written:?} must be written \"provider/model\""),
            ));
            continue;
        };
        let Some(provider) = providers.get(provider_name) else {
            let mut message = format!(
                "target `{written}` names provider `{provider_name}`, which is not defined"
            );
            if let Some(s) = closest(provider_name, providers.keys().map(String::as_str)) {
                message.push_str(&format!("; did you mean `{s}`?"));
            }
            errors.push(loc.at(&target_path, message));
            continue;
        };
        if targets
            .iter()
            .any(|t| t.provider == provider_name && t.model == model)
        {
            errors.push(loc.at(
                &target_path,
                format!("target `{written}` is listed twice in alias `{name}`"),
            ));
            continue;
        }
        let overrides = match target {
            RawTarget::Full(table) => table.timeouts.as_ref(),
            RawTarget::Short(_) => None,
        };
        let mut timeouts_path = target_path.to_vec();
        timeouts_path.push(Seg::Key("timeouts"));
        let timeouts = apply_timeouts(
            provider.timeouts,
            overrides,
            &timeouts_path,
            false,
            loc,
            errors,
        );
        let (weight, max_input_tokens, max_tokens) = match target {
            RawTarget::Full(table) => (
                table.weight.unwrap_or(1),
                table.max_input_tokens,
                table.max_tokens,
            ),
            RawTarget::Short(_) => (1, None, None),
        };
        let mut limits_path = target_path.to_vec();
        limits_path.push(Seg::Key("limits"));
        let target_limits = match target {
            RawTarget::Full(table) => {
                build_limits(table.limits.as_ref(), &limits_path, loc, errors)
            }
            RawTarget::Short(_) => Limits::default(),
        };
        if let Some(n) = max_tokens {
            let mut max_path = target_path.to_vec();
            max_path.push(Seg::Key("max_tokens"));
            if provider.kind() != ProviderKind::Anthropic {
                errors.push(loc.at_key(
                    &max_path,
                    format!(
                        "`max_tokens` on a target only applies to `anthropic` providers; `{provider_name}` is `{}`",
                        provider.kind().as_str()
                    ),
                ));
            } else if n == 0 {
                errors.push(loc.at(&max_path, "`max_tokens` must be at least 1"));
            }
        }
        if weight == 0 {
            let mut weight_path = target_path.to_vec();
            weight_path.push(Seg::Key("weight"));
            errors.push(loc.at(
                &weight_path,
                "`weight` must be at least 1 (remove the target to stop using it)",
            ));
        }
        targets.push(TargetConfig {
            provider: provider_name.to_owned(),
            model: model.to_owned(),
            timeouts,
            weight: weight.max(1),
            // The price data's context window where the target names none.
            max_input_tokens: max_input_tokens
                .or_else(|| crate::config::prices::context_window(price_file, provider, model)),
            breaker: provider.breaker,
            limits: target_limits,
            max_tokens: max_tokens
                .filter(|n| *n > 0)
                .or(match &provider.settings {
                    ProviderSettings::Anthropic(s) => s.default_max_tokens,
                    _ => None,
                })
                .filter(|_| provider.kind() == ProviderKind::Anthropic),
            pricing: crate::config::prices::pricing(prices, price_file, provider, model),
        });
    }

    for (i, fallback) in raw.fallbacks.iter().enumerate() {
        let fallback_path = [path[0], path[1], Seg::Key("fallbacks"), Seg::Index(i)];
        if fallback == name {
            errors.push(loc.at(
                &fallback_path,
                format!("alias `{name}` lists itself as a fallback"),
            ));
        } else if !raw_config.aliases.contains_key(fallback) {
            let mut message = format!("fallback `{fallback}` is not a defined alias");
            if let Some(s) = closest(fallback, raw_config.aliases.keys().map(String::as_str)) {
                message.push_str(&format!("; did you mean `{s}`?"));
            }
            errors.push(loc.at(&fallback_path, message));
        } else if raw.fallbacks[..i].contains(fallback) {
            errors.push(loc.at(
                &fallback_path,
                format!("fallback `{fallback}` is listed twice"),
            ));
        }
    }

    let strategy = match raw.strategy.as_deref() {
        None => Strategy::WeightedRoundRobin,
        Some(text) => Strategy::parse(text).unwrap_or_else(|| {
            let mut message = format!("unknown strategy `{text}`");
            match closest(text, Strategy::NAMES) {
                Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
                None => message.push_str(&format!(
                    "; expected one of: {}",
                    Strategy::NAMES.join(", ")
                )),
            }
            errors.push(loc.at(&[path[0], path[1], Seg::Key("strategy")], message));
            Strategy::WeightedRoundRobin
        }),
    };

    let defaults = Retries::default();
    let retries = match &raw.retries {
        None => defaults,
        Some(r) => {
            let at = |key: &'static str| [path[0], path[1], Seg::Key("retries"), Seg::Key(key)];
            if r.attempts == Some(0) {
                errors.push(loc.at(
                    &at("attempts"),
                    "`attempts` counts the first try too, so it must be at least 1",
                ));
            }
            Retries {
                attempts: r.attempts.unwrap_or(defaults.attempts).max(1),
                backoff: r
                    .backoff_ms
                    .and_then(|ms| {
                        seconds(
                            Some(ms / 1000.0),
                            &at("backoff_ms"),
                            "backoff_ms",
                            loc,
                            errors,
                        )
                    })
                    .map(Duration::from_secs_f64)
                    .unwrap_or(defaults.backoff),
                max_retry_after: seconds(
                    r.max_retry_after_s,
                    &at("max_retry_after_s"),
                    "max_retry_after_s",
                    loc,
                    errors,
                )
                .map(Duration::from_secs_f64)
                .unwrap_or(defaults.max_retry_after),
            }
        }
    };

    let long_context = raw.long_context.as_ref().and_then(|lc| {
        let at = [
            path[0],
            path[1],
            Seg::Key("long_context"),
            Seg::Key("alias"),
        ];
        if lc.alias == name {
            errors.push(loc.at(
                &at,
                format!("alias `{name}` cannot be its own long-context alias"),
            ));
            None
        } else if !raw_config.aliases.contains_key(&lc.alias) {
            let mut message = format!("long-context alias `{}` is not a defined alias", lc.alias);
            if let Some(s) = closest(&lc.alias, raw_config.aliases.keys().map(String::as_str)) {
                message.push_str(&format!("; did you mean `{s}`?"));
            }
            errors.push(loc.at(&at, message));
            None
        } else {
            Some(LongContext {
                above_tokens: lc.above_tokens,
                alias: lc.alias.clone(),
            })
        }
    });

    // On by default where there is a choice to keep: provider prompt caches stay warm.
    let affinity = raw.affinity.unwrap_or(targets.len() > 1);
    AliasConfig {
        name: name.to_owned(),
        description: raw.description.clone(),
        targets,
        fallbacks: raw.fallbacks.clone(),
        strategy,
        retries,
        long_context,
        limits: build_limits(
            raw.limits.as_ref(),
            &[path[0], path[1], Seg::Key("limits")],
            loc,
            errors,
        ),
        budget: raw.budget.clone(),
        affinity,
    }
}

/// Rejects fallback chains that lead back to where they started (a → b → a).
pub(super) fn check_fallback_cycles(
    aliases: &BTreeMap<String, AliasConfig>,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Visiting,
        Done,
    }
    fn visit<'a>(
        name: &'a str,
        aliases: &'a BTreeMap<String, AliasConfig>,
        marks: &mut HashMap<&'a str, Mark>,
        stack: &mut Vec<&'a str>,
        cycles: &mut Vec<Vec<&'a str>>,
    ) {
        match marks.get(name) {
            Some(Mark::Done) => return,
            Some(Mark::Visiting) => {
                if let Some(start) = stack.iter().position(|n| *n == name) {
                    let mut cycle = stack[start..].to_vec();
                    cycle.push(name);
                    cycles.push(cycle);
                }
                return;
            }
            None => {}
        }
        marks.insert(name, Mark::Visiting);
        stack.push(name);
        if let Some(alias) = aliases.get(name) {
            for next in &alias.fallbacks {
                if next != name {
                    visit(next, aliases, marks, stack, cycles);
                }
            }
        }
        stack.pop();
        marks.insert(name, Mark::Done);
    }

    let mut marks = HashMap::new();
    let mut cycles = Vec::new();
    for name in aliases.keys() {
        visit(name, aliases, &mut marks, &mut Vec::new(), &mut cycles);
    }
    for cycle in cycles {
        let first = cycle[0];
        let next = cycle.get(1).copied().unwrap_or(first);
        let index = aliases
            .get(first)
            .and_then(|a| a.fallbacks.iter().position(|f| f == next))
            .unwrap_or(0);
        errors.push(loc.at(
            &[
                Seg::Key("aliases"),
                Seg::Key(first),
                Seg::Key("fallbacks"),
                Seg::Index(index),
            ],
            format!("fallback cycle: {}", cycle.join(" → ")),
        ));
    }
}
