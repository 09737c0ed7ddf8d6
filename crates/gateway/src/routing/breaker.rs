//! One target's circuit breaker: its phase, why it opened, and the window of recent outcomes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::BreakerSettings;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerPhase {
    Closed,
    Open,
    HalfOpen,
}

/// Why a breaker opened. Only `slowness` leaves the target usable as an alias's last resort.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenedFor {
    /// Answers came, but their first token was far later than usual.
    Slowness,
    /// Hard failures: connect refused, timeouts, 5xx, 429, unreadable answers, auth.
    Failures,
}

#[derive(Debug)]
pub(super) struct Breaker {
    pub(super) phase: BreakerPhase,
    /// While open: when the next probe may go.
    pub(super) open_until: Option<Instant>,
    /// The cooldown used the last time it opened; doubles after a failed probe.
    pub(super) cooldown: Duration,
    pub(super) probe_in_flight: bool,
    pub(super) consecutive_failures: u32,
    /// Why it is (or last was) open.
    pub(super) opened_for: Option<OpenedFor>,
    pub(super) window: VecDeque<(Instant, bool)>,
}

impl Breaker {
    pub(super) fn new(settings: &BreakerSettings) -> Self {
        Breaker {
            phase: BreakerPhase::Closed,
            open_until: None,
            cooldown: settings.cooldown,
            probe_in_flight: false,
            consecutive_failures: 0,
            opened_for: None,
            window: VecDeque::new(),
        }
    }

    pub(super) fn record(&mut self, now: Instant, ok: bool, settings: &BreakerSettings) {
        self.window.push_back((now, ok));
        while self
            .window
            .front()
            .is_some_and(|(t, _)| now.duration_since(*t) > settings.window)
            || self.window.len() > 1000
        {
            self.window.pop_front();
        }
    }

    pub(super) fn error_rate_exceeded(&self, settings: &BreakerSettings) -> bool {
        let total = self.window.len() as u32;
        if total < settings.min_requests {
            return false;
        }
        let failed = self.window.iter().filter(|(_, ok)| !ok).count() as f64;
        failed / f64::from(total) > settings.error_rate
    }

    pub(super) fn open(&mut self, now: Instant, cooldown: Duration, why: OpenedFor) {
        self.phase = BreakerPhase::Open;
        self.cooldown = cooldown;
        self.open_until = Some(now + cooldown);
        self.probe_in_flight = false;
        self.opened_for = Some(why);
    }

    pub(super) fn is_closed(&self) -> bool {
        self.phase == BreakerPhase::Closed
    }
}
