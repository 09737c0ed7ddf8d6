//! Step 3, `retry`: walking one alias's targets in the routing strategy's order, with its
//! attempt budget, backoff and `Retry-After` on the last target left, and the last-target rule
//! (when every target was skipped for an open breaker, one is let through). `TargetWalk` is
//! public so the routing simulation (`tests/routing_simulation.rs`) replays these exact steps.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::{AliasConfig, Retries};
use crate::routing::{Admission, RoutingState, TargetHealth};

/// The walk over one alias's targets for one request.
#[derive(Debug)]
pub struct TargetWalk {
    queue: VecDeque<usize>,
    attempts_left: u32,
    backoff: Duration,
    max_retry_after: Duration,
    /// Targets skipped for an open breaker, for the last-target rule.
    skipped_open: Vec<usize>,
    /// The target the last-target rule let through, with its admission.
    last_resort: Option<(usize, Admission)>,
    tried: bool,
    rescued: bool,
}

impl TargetWalk {
    /// A walk over `order` (target indexes, the strategy's order) with the alias's `retries`.
    pub fn new(order: Vec<usize>, retries: &Retries) -> Self {
        TargetWalk {
            queue: order.into(),
            attempts_left: retries.attempts,
            backoff: retries.backoff,
            max_retry_after: retries.max_retry_after,
            skipped_open: Vec::new(),
            last_resort: None,
            tried: false,
            rescued: false,
        }
    }

    /// The next target to consider, or `None` when the alias is done (attempts used up, or
    /// nothing left, the last-target rule included).
    pub fn next(&mut self, routing: &RoutingState, alias: &AliasConfig) -> Option<usize> {
        loop {
            let Some(index) = self.queue.pop_front() else {
                if self.tried || self.rescued || self.attempts_left == 0 {
                    return None;
                }
                self.rescued = true;
                let pick = routing.last_resort(alias, &self.skipped_open)?;
                self.queue.push_back(pick.0);
                self.last_resort = Some(pick);
                continue;
            };
            return (self.attempts_left > 0).then_some(index);
        }
    }

    /// Whether the breaker of target `index` lets this attempt through (the last-target rule's
    /// pick is let through as that rule decided).
    pub fn admission(&mut self, index: usize, health: &TargetHealth, now: Instant) -> Admission {
        match self.last_resort.take() {
            Some((forced, admission)) if forced == index => admission,
            _ => health.admit(now),
        }
    }

    /// Target `index` was skipped because its breaker is open.
    pub fn skipped_open(&mut self, index: usize) {
        self.skipped_open.push(index);
    }

    /// An attempt is being made: it counts against the alias's attempts.
    pub fn attempt(&mut self) {
        self.attempts_left -= 1;
        self.tried = true;
    }

    /// After a transient failure of target `index`: when no other target is left and attempts
    /// remain, the pause before trying it again (the backend's `Retry-After` up to the alias's
    /// cap, else the doubling backoff), and `index` is queued again. `None`: move on.
    pub fn retry(
        &mut self,
        index: usize,
        upstream_retry_after: Option<Duration>,
    ) -> Option<Duration> {
        if !self.queue.is_empty() || self.attempts_left == 0 {
            return None;
        }
        let wait = match upstream_retry_after {
            Some(wait) if wait > self.max_retry_after => return None,
            Some(wait) => wait,
            None => self.backoff,
        };
        self.backoff *= 2;
        self.queue.push_back(index);
        Some(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Events;

    fn retries(attempts: u32) -> Retries {
        Retries {
            attempts,
            backoff: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(5),
        }
    }

    fn alias(targets: usize) -> AliasConfig {
        let mut text = String::new();
        for p in 0..targets {
            text.push_str(&format!(
                "[providers.p{p}]\nkind = \"openai\"\nbase_url = \"http://p{p}.invalid/v1\"\n"
            ));
        }
        let list: Vec<String> = (0..targets).map(|p| format!("\"p{p}/m\"")).collect();
        text.push_str(&format!("[aliases.x]\ntargets = [{}]\n", list.join(", ")));
        let config = crate::Config::parse(&text, "test").unwrap_or_else(|e| panic!("{e}"));
        config.aliases["x"].clone()
    }

    #[test]
    fn the_last_target_is_retried_with_doubling_backoff_until_attempts_run_out() {
        let routing = RoutingState::new(Events::default());
        let alias = alias(1);
        let mut walk = TargetWalk::new(vec![0], &retries(3));
        let mut waits = Vec::new();
        while let Some(index) = walk.next(&routing, &alias) {
            walk.attempt();
            waits.extend(walk.retry(index, None));
        }
        assert_eq!(
            waits,
            [Duration::from_millis(100), Duration::from_millis(200)]
        );
    }

    #[test]
    fn other_targets_go_first_and_a_long_retry_after_moves_on() {
        let routing = RoutingState::new(Events::default());
        let alias = alias(2);
        let mut walk = TargetWalk::new(vec![1, 0], &retries(3));
        assert_eq!(walk.next(&routing, &alias), Some(1));
        walk.attempt();
        // Another target is queued: no retry of this one yet.
        assert_eq!(walk.retry(1, None), None);
        assert_eq!(walk.next(&routing, &alias), Some(0));
        walk.attempt();
        // Retry-After over the alias's cap: the target is not retried.
        assert_eq!(walk.retry(0, Some(Duration::from_secs(60))), None);
        assert_eq!(walk.next(&routing, &alias), None);
    }

    #[test]
    fn an_honoured_retry_after_is_the_pause() {
        let routing = RoutingState::new(Events::default());
        let alias = alias(1);
        let mut walk = TargetWalk::new(vec![0], &retries(2));
        assert_eq!(walk.next(&routing, &alias), Some(0));
        walk.attempt();
        assert_eq!(
            walk.retry(0, Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(walk.next(&routing, &alias), Some(0));
        walk.attempt();
        assert_eq!(walk.retry(0, None), None, "attempts used up");
    }

    #[test]
    fn no_attempts_means_no_target() {
        let routing = RoutingState::new(Events::default());
        let alias = alias(2);
        let mut walk = TargetWalk::new(vec![0, 1], &retries(0));
        assert_eq!(walk.next(&routing, &alias), None);
    }
}
