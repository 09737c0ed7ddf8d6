//! Routing state that outlives a config snapshot: per-target circuit breakers, in-flight counts,
//! latency averages and the `misconfigured` mark, plus the per-alias round-robin position. Keyed
//! by `provider/model` and alias name, so a reload keeps the state of targets that still exist.
//!
//! Breakers never stick: an open breaker admits one half-open probe once its cooldown has passed,
//! a probe that is abandoned (client gone) frees the slot, and every breaker can be reset by hand.
//! Total latency is never a failure (it grows with the answer); the optional slowness rule judges
//! time to first token, and a breaker opened only for slowness never takes an alias's last
//! target away (`RoutingState::last_resort`).
//!
//! Time comes from a `Clock`, so simulations replay traces deterministically.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use crate::affinity::SessionKey;
use crate::config::{AliasConfig, Config, Strategy, TargetConfig};
use crate::events::Events;

mod breaker;
mod clock;
mod health;

pub use breaker::{BreakerPhase, OpenedFor};
pub use clock::{Clock, ManualClock, SystemClock};
pub use health::{Admission, AttemptGuard, Misconfigured, Outcome, TargetHealth, TargetStatus};

/// All routing state. Lives in the gateway, not in a snapshot.
pub struct RoutingState {
    events: Events,
    clock: Arc<dyn Clock>,
    targets: RwLock<HashMap<String, Arc<TargetHealth>>>,
    /// Smooth weighted round-robin: the current weight of each target, per alias.
    round_robin: Mutex<HashMap<String, Vec<i64>>>,
    /// Agent sessions pinned to targets (`crate::affinity`).
    pub(crate) affinity: crate::affinity::Affinity,
}

impl Default for RoutingState {
    fn default() -> Self {
        RoutingState::with_clock(Events::default(), Arc::new(SystemClock))
    }
}

impl RoutingState {
    /// Routing state that reports breaker changes on `events`.
    pub fn new(events: Events) -> Self {
        RoutingState::with_clock(events, Arc::new(SystemClock))
    }

    /// Routing state on the given clock (a `ManualClock` in simulations).
    pub fn with_clock(events: Events, clock: Arc<dyn Clock>) -> Self {
        RoutingState {
            events,
            clock,
            targets: RwLock::default(),
            round_robin: Mutex::default(),
            affinity: crate::affinity::Affinity::default(),
        }
    }

    pub fn now(&self) -> Instant {
        self.clock.now()
    }

    /// The last-target rule. Called when every target of `alias` in `open` was skipped for an
    /// open breaker and none was tried: the one opened only for slowness whose cooldown ends
    /// first still serves, so slowness alone never turns into a 503. Targets opened for hard
    /// failures stay skipped (the caller answers 503 with `retry_after_ms`).
    pub fn last_resort(&self, alias: &AliasConfig, open: &[usize]) -> Option<(usize, Admission)> {
        let now = self.now();
        let (index, health) = open
            .iter()
            .filter_map(|i| alias.targets.get(*i).map(|t| (*i, self.target(t))))
            .filter_map(|(i, h)| h.soft_open_until(now).map(|until| (until, i, h)))
            .min_by_key(|(until, i, _)| (*until, *i))
            .map(|(_, i, h)| (i, h))?;
        tracing::info!(target = %health.label, alias = %alias.name, "every target is open; the one open only for slowness serves as the last resort");
        Some((index, health.admit_last_resort()))
    }

    pub fn target(&self, target: &TargetConfig) -> Arc<TargetHealth> {
        let label = target.label();
        if let Some(found) = self
            .targets
            .read()
            .ok()
            .and_then(|m| m.get(&label).cloned())
        {
            return found;
        }
        let Ok(mut map) = self.targets.write() else {
            return Arc::new(TargetHealth::new(
                &target.breaker,
                label,
                self.events.clone(),
                self.clock.clone(),
            ));
        };
        map.entry(label.clone())
            .or_insert_with(|| {
                Arc::new(TargetHealth::new(
                    &target.breaker,
                    label,
                    self.events.clone(),
                    self.clock.clone(),
                ))
            })
            .clone()
    }

    /// After a reload: forget targets that no longer exist (requests still using them hold
    /// their own reference and drain), and clear `misconfigured` where the provider changed.
    pub fn retain(&self, config: &Config, changed_providers: &[String]) {
        let labels: HashMap<String, &TargetConfig> = config
            .aliases
            .values()
            .flat_map(|a| a.targets.iter())
            .map(|t| (t.label(), t))
            .collect();
        if let Ok(mut map) = self.targets.write() {
            map.retain(|label, _| labels.contains_key(label));
            for (label, health) in map.iter() {
                if labels
                    .get(label)
                    .is_some_and(|t| changed_providers.contains(&t.provider))
                {
                    if let Ok(mut slot) = health.misconfigured.lock() {
                        *slot = None;
                    }
                }
            }
        }
        if let Ok(mut rr) = self.round_robin.lock() {
            rr.retain(|alias, weights| {
                config
                    .aliases
                    .get(alias)
                    .is_some_and(|a| a.targets.len() == weights.len())
            });
        }
    }

    /// Resets one target's breaker and misconfigured mark, or every target's. Returns how many.
    pub fn reset(&self, config: &Config, target: Option<&str>) -> usize {
        let mut count = 0;
        for t in config.aliases.values().flat_map(|a| a.targets.iter()) {
            let label = t.label();
            if target.is_some_and(|wanted| wanted != label) {
                continue;
            }
            if let Some(health) = self
                .targets
                .read()
                .ok()
                .and_then(|m| m.get(&label).cloned())
            {
                health.reset(&t.breaker);
                count += 1;
            }
        }
        count
    }

    pub fn statuses(&self, config: &Config) -> Vec<TargetStatus> {
        let now = self.now();
        let mut seen = std::collections::HashSet::new();
        config
            .aliases
            .values()
            .flat_map(|a| a.targets.iter())
            .filter(|t| seen.insert(t.label()))
            .map(|t| {
                let mut status = self.target(t).status(now);
                status.target = t.label();
                status
            })
            .collect()
    }

    /// The alias's target indices in the order the strategy prefers them.
    pub fn order(&self, alias: &AliasConfig) -> Vec<usize> {
        let n = alias.targets.len();
        let mut order: Vec<usize> = (0..n).collect();
        if n <= 1 {
            return order;
        }
        match alias.strategy {
            Strategy::WeightedRoundRobin => {
                let first = self.next_round_robin(alias);
                order.sort_by_key(|i| (*i != first, (*i + n - first) % n));
            }
            Strategy::LeastInFlight => {
                let loads: Vec<(u32, u32)> = alias
                    .targets
                    .iter()
                    .map(|t| (self.target(t).in_flight(), u32::MAX - t.weight))
                    .collect();
                order.sort_by_key(|i| loads[*i]);
            }
            Strategy::LowestLatency => {
                // Unknown latency sorts first, so every target gets measured.
                let lat: Vec<u128> = alias
                    .targets
                    .iter()
                    .map(|t| {
                        self.target(t)
                            .latency_avg()
                            .map(|d| d.as_micros() + 1)
                            .unwrap_or(0)
                    })
                    .collect();
                order.sort_by_key(|i| lat[*i]);
            }
        }
        order
    }

    /// nginx's smooth weighted round-robin: spreads picks evenly in proportion to weight.
    fn next_round_robin(&self, alias: &AliasConfig) -> usize {
        let Ok(mut all) = self.round_robin.lock() else {
            return 0;
        };
        let current = all
            .entry(alias.name.clone())
            .or_insert_with(|| vec![0; alias.targets.len()]);
        if current.len() != alias.targets.len() {
            *current = vec![0; alias.targets.len()];
        }
        let total: i64 = alias.targets.iter().map(|t| i64::from(t.weight)).sum();
        for (c, t) in current.iter_mut().zip(&alias.targets) {
            *c += i64::from(t.weight);
        }
        let best = current
            .iter()
            .enumerate()
            .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
            .unwrap_or(0);
        current[best] -= total;
        best
    }
}

// Prompt-cache affinity (`crate::affinity`) on top of the strategy's order.
impl RoutingState {
    /// The alias's targets in strategy order, with the session's pinned target moved first
    /// when the alias has affinity on.
    pub fn order_for_session(
        &self,
        alias: &AliasConfig,
        session: Option<&SessionKey>,
    ) -> Vec<usize> {
        let pinned = session
            .filter(|_| alias.affinity && alias.targets.len() > 1)
            .and_then(|session| self.affinity.pinned(&alias.name, session, self.now()))
            .and_then(|label| alias.targets.iter().position(|t| t.label() == label));
        let Some(pinned) = pinned else {
            return self.order(alias);
        };
        let n = alias.targets.len();
        let mut order: Vec<usize> = match alias.strategy {
            // A pinned request takes no round-robin turn: new sessions are what gets spread
            // (otherwise sessions of an even number of requests would all land on one target).
            Strategy::WeightedRoundRobin => (0..n).map(|k| (pinned + k) % n).collect(),
            Strategy::LeastInFlight | Strategy::LowestLatency => self.order(alias),
        };
        if let Some(at) = order.iter().position(|i| *i == pinned) {
            order.remove(at);
            order.insert(0, pinned);
        }
        order
    }

    /// After `target` served a request of `session` on `alias`.
    pub fn served_session(&self, alias: &AliasConfig, session: Option<&SessionKey>, target: &str) {
        if let Some(session) = session.filter(|_| alias.affinity && alias.targets.len() > 1) {
            self.affinity.pin(&alias.name, session, target, self.now());
        }
    }
}

#[cfg(test)]
mod tests;
