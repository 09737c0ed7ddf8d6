//! Live state of one target (in-flight count, latency average, first-token baseline, breaker,
//! `misconfigured` mark) and the guard of one attempt on it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::breaker::{Breaker, BreakerPhase, OpenedFor};
use super::Clock;
use crate::config::BreakerSettings;
use crate::events::{Events, GatewayEvent};

/// How much each new sample moves the latency average (a routing preference, never a failure).
const LATENCY_ALPHA: f64 = 0.2;
/// First-token times kept for the slowness baseline.
const FIRST_TOKEN_WINDOW: usize = 100;
/// First-token samples needed before any is judged slow (a cold start is never judged).
const FIRST_TOKEN_MIN_SAMPLES: usize = 20;

/// Why a target is not used until its key or config changes, or someone resets it.
#[derive(Debug, Clone, Serialize)]
pub struct Misconfigured {
    pub reason: String,
    #[serde(skip)]
    pub key_fingerprint: Option<String>,
}

/// Live state of one target.
#[derive(Debug)]
pub struct TargetHealth {
    in_flight: AtomicU32,
    /// Moving average latency in microseconds; 0 until the first sample.
    latency_avg_us: AtomicU64,
    /// The last streamed first-token times, the baseline of the slowness rule.
    first_tokens: Mutex<VecDeque<Duration>>,
    pub(super) breaker: Mutex<Breaker>,
    pub(super) misconfigured: Mutex<Option<Misconfigured>>,
    last_error: Mutex<Option<String>>,
    /// `provider/model`, for events.
    pub(super) label: String,
    events: Events,
    clock: Arc<dyn Clock>,
}

/// Whether a target may take a request now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Yes,
    /// The one half-open probe: its outcome decides the breaker.
    Probe,
    No {
        retry_after: Duration,
    },
}

impl TargetHealth {
    pub(super) fn new(
        settings: &BreakerSettings,
        label: String,
        events: Events,
        clock: Arc<dyn Clock>,
    ) -> Self {
        TargetHealth {
            in_flight: AtomicU32::new(0),
            latency_avg_us: AtomicU64::new(0),
            first_tokens: Mutex::new(VecDeque::new()),
            breaker: Mutex::new(Breaker::new(settings)),
            misconfigured: Mutex::new(None),
            last_error: Mutex::new(None),
            label,
            events,
            clock,
        }
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight.load(Ordering::Relaxed)
    }

    pub fn latency_avg(&self) -> Option<Duration> {
        match self.latency_avg_us.load(Ordering::Relaxed) {
            0 => None,
            us => Some(Duration::from_micros(us)),
        }
    }

    pub fn misconfigured(&self) -> Option<Misconfigured> {
        self.misconfigured.lock().ok().and_then(|m| m.clone())
    }

    /// Clears the misconfigured mark if the provider's key has changed since it was set.
    pub fn recheck_misconfigured(&self, key_fingerprint: Option<String>) {
        if let Ok(mut slot) = self.misconfigured.lock() {
            if slot
                .as_ref()
                .is_some_and(|m| m.key_fingerprint != key_fingerprint)
            {
                tracing::info!("provider key changed; re-enabling a target marked misconfigured");
                *slot = None;
            }
        }
    }

    pub fn admit(&self, now: Instant) -> Admission {
        let Ok(mut b) = self.breaker.lock() else {
            return Admission::Yes;
        };
        match b.phase {
            BreakerPhase::Closed => Admission::Yes,
            BreakerPhase::Open => match b.open_until {
                Some(until) if now < until => Admission::No {
                    retry_after: until - now,
                },
                _ => {
                    b.phase = BreakerPhase::HalfOpen;
                    b.probe_in_flight = true;
                    Admission::Probe
                }
            },
            BreakerPhase::HalfOpen if b.probe_in_flight => Admission::No {
                retry_after: Duration::from_millis(250),
            },
            BreakerPhase::HalfOpen => {
                b.probe_in_flight = true;
                Admission::Probe
            }
        }
    }

    /// While open for slowness only: when it may be probed next (now, if half-open).
    pub(super) fn soft_open_until(&self, now: Instant) -> Option<Instant> {
        let b = self.breaker.lock().ok()?;
        if b.is_closed() || b.opened_for != Some(OpenedFor::Slowness) {
            return None;
        }
        Some(b.open_until.unwrap_or(now).max(now))
    }

    /// Admits a target open for slowness as an alias's last resort: as its probe when none is
    /// out, else as a plain request (a slow answer beats a 503).
    pub(super) fn admit_last_resort(&self) -> Admission {
        let Ok(mut b) = self.breaker.lock() else {
            return Admission::Yes;
        };
        if b.probe_in_flight {
            return Admission::Yes;
        }
        b.phase = BreakerPhase::HalfOpen;
        b.probe_in_flight = true;
        Admission::Probe
    }

    /// Marks a request as started; the guard releases it (and an abandoned probe) on drop.
    pub fn begin(self: &Arc<Self>, probe: bool) -> AttemptGuard {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        AttemptGuard {
            health: self.clone(),
            probe,
            settled: false,
        }
    }

    fn on_success(
        &self,
        latency: Duration,
        first_token: Option<Duration>,
        settings: &BreakerSettings,
    ) {
        let now = self.clock.now();
        self.observe_latency(latency);
        if let Some(reason) = first_token.and_then(|t| self.judge_first_token(t, settings)) {
            self.on_failure_for(reason, settings, None, OpenedFor::Slowness);
            return;
        }
        let Ok(mut b) = self.breaker.lock() else {
            return;
        };
        b.record(now, true, settings);
        b.consecutive_failures = 0;
        if !b.is_closed() {
            tracing::info!(target = %self.label, "breaker closed after a successful probe");
            self.events.emit(GatewayEvent::BreakerClosed {
                target: self.label.clone(),
            });
        }
        b.phase = BreakerPhase::Closed;
        b.open_until = None;
        b.probe_in_flight = false;
        b.cooldown = settings.cooldown;
    }

    /// Feeds the moving average `lowest_latency` routes by. Never judged.
    fn observe_latency(&self, latency: Duration) {
        let us = latency.as_micros().min(u128::from(u64::MAX)) as u64;
        let avg = self.latency_avg_us.load(Ordering::Relaxed);
        let next = if avg == 0 {
            us
        } else {
            (avg as f64 * (1.0 - LATENCY_ALPHA) + us as f64 * LATENCY_ALPHA) as u64
        };
        self.latency_avg_us.store(next.max(1), Ordering::Relaxed);
    }

    /// With the slowness rule on: why this first token counts as a failure, if it does. The
    /// baseline is the median of the last answers (so one outlier cannot move it), judged only
    /// after enough samples and never below the floor.
    fn judge_first_token(&self, first: Duration, settings: &BreakerSettings) -> Option<String> {
        // Off (the default): not even sampled, so the hot path pays nothing.
        let rule = settings.slow_first_token?;
        let mut window = self.first_tokens.lock().ok()?;
        let verdict = if window.len() < FIRST_TOKEN_MIN_SAMPLES {
            None
        } else {
            let mut sorted: Vec<Duration> = window.iter().copied().collect();
            sorted.sort_unstable();
            let median = sorted[sorted.len() / 2];
            let limit = median.mul_f64(rule.factor).max(rule.floor);
            (first > limit).then(|| {
                format!(
                    "first token after {} ms, over {} ms ({}x its median of {} ms)",
                    first.as_millis(),
                    limit.as_millis(),
                    rule.factor,
                    median.as_millis()
                )
            })
        };
        window.push_back(first);
        while window.len() > FIRST_TOKEN_WINDOW {
            window.pop_front();
        }
        verdict
    }

    fn on_failure(&self, reason: String, settings: &BreakerSettings) {
        self.on_failure_for(reason, settings, None, OpenedFor::Failures);
    }

    /// A failure; `cooldown` (e.g. a backend's Retry-After) opens the breaker for that long.
    fn on_failure_for(
        &self,
        reason: String,
        settings: &BreakerSettings,
        cooldown: Option<Duration>,
        why: OpenedFor,
    ) {
        let now = self.clock.now();
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(reason.clone());
        }
        let Ok(mut b) = self.breaker.lock() else {
            return;
        };
        b.record(now, false, settings);
        b.consecutive_failures += 1;
        match b.phase {
            BreakerPhase::HalfOpen => {
                let next = (b.cooldown * 2)
                    .min(settings.max_cooldown)
                    .max(settings.cooldown);
                tracing::warn!(target = %self.label, cooldown_s = next.as_secs_f64(), reason = %reason, "half-open probe failed; breaker open again");
                b.open(now, cooldown.unwrap_or(next).max(next), why);
            }
            BreakerPhase::Open => {
                // A hard failure while open for slowness (a last-resort request) makes it hard.
                if why == OpenedFor::Failures {
                    b.opened_for = Some(why);
                }
            }
            BreakerPhase::Closed => {
                let opened_for = if let Some(cooldown) = cooldown {
                    Some(cooldown.min(settings.max_cooldown))
                } else if b.consecutive_failures >= settings.failures
                    || b.error_rate_exceeded(settings)
                {
                    Some(settings.cooldown)
                } else {
                    None
                };
                if let Some(cooldown) = opened_for {
                    tracing::warn!(target = %self.label, failures = b.consecutive_failures, reason = %reason, opened_for = ?why, "breaker opened");
                    b.open(now, cooldown, why);
                    self.events.emit(GatewayEvent::BreakerOpened {
                        target: self.label.clone(),
                        reason,
                        retry_in_ms: cooldown.as_millis() as u64,
                    });
                }
            }
        }
    }

    fn mark_misconfigured(&self, reason: String, key_fingerprint: Option<String>) {
        tracing::warn!(target = %self.label, reason = %reason, "target marked misconfigured; routing skips it until its key or config changes");
        self.events.emit(GatewayEvent::TargetMisconfigured {
            target: self.label.clone(),
            reason: reason.clone(),
        });
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(reason.clone());
        }
        if let Ok(mut slot) = self.misconfigured.lock() {
            *slot = Some(Misconfigured {
                reason,
                key_fingerprint,
            });
        }
    }

    pub(super) fn reset(&self, settings: &BreakerSettings) {
        if let Ok(mut b) = self.breaker.lock() {
            *b = Breaker::new(settings);
        }
        if let Ok(mut slot) = self.misconfigured.lock() {
            *slot = None;
        }
    }

    pub fn status(&self, now: Instant) -> TargetStatus {
        let (phase, retry_in_ms, failures, opened_for) = match self.breaker.lock() {
            Ok(b) => (
                b.phase,
                b.open_until
                    .filter(|_| b.phase == BreakerPhase::Open)
                    .map(|u| u.saturating_duration_since(now).as_millis() as u64),
                b.consecutive_failures,
                b.opened_for.filter(|_| !b.is_closed()),
            ),
            Err(_) => (BreakerPhase::Closed, None, 0, None),
        };
        let misconfigured = self.misconfigured();
        let state = if misconfigured.is_some() {
            "misconfigured"
        } else {
            match phase {
                BreakerPhase::Closed => "healthy",
                BreakerPhase::Open => "open",
                BreakerPhase::HalfOpen => "half_open",
            }
        };
        TargetStatus {
            target: String::new(),
            state,
            breaker: phase,
            opened_for,
            consecutive_failures: failures,
            retry_in_ms,
            in_flight: self.in_flight(),
            latency_avg_ms: self.latency_avg().map(|d| d.as_secs_f64() * 1000.0),
            last_error: self.last_error.lock().ok().and_then(|e| e.clone()),
            misconfigured: misconfigured.map(|m| m.reason),
        }
    }
}

/// What `/health` and the admin service show per target.
#[derive(Debug, Clone, Serialize)]
pub struct TargetStatus {
    pub target: String,
    /// `healthy`, `open`, `half_open` or `misconfigured`.
    pub state: &'static str,
    pub breaker: BreakerPhase,
    /// While not closed: why it opened.
    pub opened_for: Option<OpenedFor>,
    pub consecutive_failures: u32,
    pub retry_in_ms: Option<u64>,
    pub in_flight: u32,
    pub latency_avg_ms: Option<f64>,
    pub last_error: Option<String>,
    pub misconfigured: Option<String>,
}

/// How an attempt ended, for the breaker.
pub enum Outcome {
    Success {
        /// Until the answer (or, for a stream, its first event): feeds `lowest_latency` only.
        latency: Duration,
        /// A stream's time to first token, the only time the slowness rule judges.
        first_token: Option<Duration>,
    },
    /// Transient: counts toward opening the breaker. `cooldown` from Retry-After.
    Failure {
        reason: String,
        cooldown: Option<Duration>,
    },
    /// Not transient: key, access, quota or billing. Skipped until fixed.
    Misconfigured {
        reason: String,
        key_fingerprint: Option<String>,
    },
    /// The request itself was bad; says nothing about the target.
    Neutral,
}

/// One attempt on one target. Dropping it unsettled (client gone) frees an abandoned probe.
pub struct AttemptGuard {
    health: Arc<TargetHealth>,
    probe: bool,
    settled: bool,
}

impl AttemptGuard {
    pub fn settle(mut self, outcome: Outcome, settings: &BreakerSettings) {
        self.settled = true;
        match outcome {
            Outcome::Success {
                latency,
                first_token,
            } => self.health.on_success(latency, first_token, settings),
            Outcome::Failure { reason, cooldown } => {
                self.health
                    .on_failure_for(reason, settings, cooldown, OpenedFor::Failures)
            }
            Outcome::Misconfigured {
                reason,
                key_fingerprint,
            } => {
                self.health
                    .mark_misconfigured(reason.clone(), key_fingerprint);
                self.health.on_failure(reason, settings);
            }
            Outcome::Neutral => {
                if self.probe {
                    self.release_probe();
                }
            }
        }
    }

    fn release_probe(&self) {
        if let Ok(mut b) = self.health.breaker.lock() {
            b.probe_in_flight = false;
        }
    }
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        self.health.in_flight.fetch_sub(1, Ordering::Relaxed);
        if self.probe && !self.settled {
            self.release_probe();
        }
    }
}
