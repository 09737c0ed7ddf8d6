//! What `routing_strategy`, retries and `weight`s become.

use super::*;

impl Importer {
    pub(crate) fn routing(&self) -> Routing {
        match &self.routing_strategy {
            None => Routing::Shuffle,
            Some((Some(name), _)) => match name.as_str() {
                "simple-shuffle" => Routing::Shuffle,
                "least-busy" => Routing::Strategy("least_inflight"),
                "latency-based-routing" => Routing::Strategy("lowest_latency"),
                _ => Routing::Untranslated,
            },
            Some((None, _)) => Routing::Untranslated,
        }
    }

    /// The retries every alias gets: (attempts, backoff_ms), when either is set.
    pub(crate) fn retries(&self) -> (Option<u32>, Option<f64>) {
        let retries = self
            .router_num_retries
            .as_ref()
            .or(self.settings_num_retries.as_ref());
        (
            retries.map(|(n, _)| n.saturating_add(1)),
            self.retry_after.map(|s| s * 1000.0),
        )
    }

    /// Notes once every alias is in: how each load-balanced alias is balanced, and the router-wide
    /// strategy and retries that apply to every alias.
    pub(crate) fn routing_notes(&mut self) {
        let routing = self.routing();
        let litellm = match &self.routing_strategy {
            Some((Some(name), _)) => one_line(name),
            Some((None, _)) => "an unreadable routing_strategy".to_owned(),
            None => "simple-shuffle, LiteLLM's default".to_owned(),
        };
        let mut notes = Vec::new();
        for alias in self.aliases.iter().filter(|a| a.deployments > 1) {
            let path = format!("{}.model_name", alias.first_path);
            let head = format!(
                "alias `{}`: LiteLLM load-balanced its {} deployments ({litellm})",
                alias.name, alias.deployments
            );
            let message = match (alias.targets.len(), routing) {
                (0, _) => continue,
                (1, _) => format!("{head}; only one target is imported, so there is nothing to balance"),
                (_, Routing::Shuffle) => {
                    let mut message = format!("{head}; Switchboard's default strategy `weighted` spreads requests over the targets by smooth weighted round-robin: the same proportions as LiteLLM's random pick, but interleaved evenly");
                    let weighted = alias.targets.iter().any(|t| t.weight_given);
                    if !weighted && alias.targets.iter().any(|t| t.rate_given) {
                        message.push_str(". LiteLLM's pick followed the deployments' rpm/tpm when they had no weight, which the import does not carry over: set each target's `weight` by hand to keep those proportions");
                    }
                    message
                }
                (_, Routing::Strategy(strategy)) => {
                    format!("{head}; imported as `strategy = \"{strategy}\"`")
                }
                (_, Routing::Untranslated) => format!("{head}; Switchboard has no such strategy, so the alias keeps its default `weighted` strategy (smooth weighted round-robin by `weight`)"),
            };
            notes.push((path, message));
        }

        let balanced = self.aliases.iter().filter(|a| a.targets.len() > 1).count();
        if let Some((name, path)) = &self.routing_strategy {
            let shown = name
                .as_deref()
                .map(|n| format!(" `{}`", one_line(n)))
                .unwrap_or_default();
            let message = match routing {
                Routing::Shuffle => "routing_strategy `simple-shuffle` (LiteLLM's default: a random pick, by weight) matches Switchboard's default strategy `weighted`, so nothing is written; Switchboard spreads requests by smooth weighted round-robin rather than at random (the same proportions, interleaved evenly)".to_owned(),
                Routing::Strategy(strategy) if balanced == 0 => format!("routing_strategy{shown} would be `strategy = \"{strategy}\"`, but no alias has more than one target, so there is nothing to set"),
                Routing::Strategy(strategy) => format!("routing_strategy{shown} imported as `strategy = \"{strategy}\"` on {}", several_targets(balanced)),
                Routing::Untranslated => {
                    let why = match name.as_deref() {
                        Some("usage-based-routing" | "usage-based-routing-v2") => "Switchboard has no usage-based routing (by rpm/tpm)",
                        Some("cost-based-routing") => "Switchboard has no cost-based routing",
                        Some(_) => "Switchboard has no such strategy",
                        None => "expected a strategy name",
                    };
                    format!("routing_strategy{shown} not translated: {why}; Switchboard's default strategy `weighted` (smooth weighted round-robin by `weight`) stays on {}", several_targets(balanced))
                }
            };
            notes.push((path.clone(), message));
        }

        if let Some((n, path)) = &self.router_num_retries {
            notes.push((path.clone(), retries_message(*n)));
            if let Some((m, other)) = &self.settings_num_retries {
                notes.push((other.clone(), format!("num_retries = {m} not used: router_settings.num_retries ({n}) takes precedence, as in LiteLLM")));
            }
        } else if let Some((n, path)) = &self.settings_num_retries {
            notes.push((path.clone(), retries_message(*n)));
        }
        for (path, message) in notes {
            self.note(path, message);
        }
    }
}

pub(crate) fn several_targets(aliases: usize) -> String {
    match aliases {
        1 => "the 1 alias with more than one target".to_owned(),
        n => format!("the {n} aliases with more than one target"),
    }
}

pub(crate) fn retries_message(n: u32) -> String {
    let retries = if n == 1 { "retry" } else { "retries" };
    format!("num_retries = {n} imported as every alias's `retries.attempts = {}` (the first try and {n} {retries}); Switchboard retries on another healthy target of the alias when there is one, then moves on to the fallbacks", n.saturating_add(1))
}

/// The largest LiteLLM `weight` imported; scaled by up to 1000, it still fits Switchboard's.
pub(crate) const MAX_WEIGHT: f64 = 1_000_000.0;

/// Turns LiteLLM's weights (any numbers from 0) into Switchboard's (whole numbers from 1) in the
/// same proportions and sets each target's `weight_out`. Says what the user should know, if
/// anything.
pub(crate) fn set_weights(targets: &mut [Target]) -> Option<String> {
    let given = targets.iter().filter(|t| t.weight_given).count();
    if targets.len() < 2 {
        return None;
    }
    let mut notes = Vec::new();
    if given > 0 && given < targets.len() {
        notes.push("targets without a `weight` get weight 1 (LiteLLM's simple-shuffle gave deployments without one no traffic when the first deployment had one)".to_owned());
    }
    let weights: Vec<f64> = targets.iter().map(|t| t.weight).collect();
    let whole = |w: f64, scale: f64| ((w * scale) - (w * scale).round()).abs() < 1.0e-6;
    let out: Vec<u64> = if weights.iter().all(|&w| w >= 1.0 && whole(w, 1.0)) {
        weights.iter().map(|&w| w as u64).collect()
    } else {
        let exact = [1.0, 10.0, 100.0, 1000.0]
            .into_iter()
            .find(|&scale| weights.iter().all(|&w| whole(w, scale)));
        let scale = exact.unwrap_or(1000.0);
        let scaled: Vec<u64> = weights
            .iter()
            .map(|&w| ((w * scale).round() as u64).max(1))
            .collect();
        let divisor = scaled.iter().copied().fold(0, gcd).max(1);
        let scaled: Vec<u64> = scaled.iter().map(|w| w / divisor).collect();
        let shown = |list: &[f64]| {
            list.iter()
                .map(|&w| show_number(w))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let ints: Vec<String> = scaled.iter().map(u64::to_string).collect();
        let how = if weights.contains(&0.0) {
            "a weight of 0 becomes 1, the lowest"
        } else if exact.is_none() {
            "rounded; the proportions are kept to about 0.1%"
        } else {
            "the same proportions"
        };
        notes.push(format!(
            "LiteLLM's weights {} are written as whole numbers: {} ({how})",
            shown(&weights),
            ints.join(", ")
        ));
        scaled
    };
    for (target, weight) in targets.iter_mut().zip(out) {
        let weight = u32::try_from(weight).unwrap_or(u32::MAX);
        target.weight_out = (weight != 1).then_some(weight);
    }
    (!notes.is_empty()).then(|| notes.join("; "))
}

pub(crate) fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}
