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

use std::collections::{HashMap, VecDeque};
use std::fmt::Debug;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{AliasConfig, BreakerSettings, Config, Strategy, TargetConfig};
use crate::events::{Events, GatewayEvent};

/// How much each new sample moves the latency average (a routing preference, never a failure).
const LATENCY_ALPHA: f64 = 0.2;
/// First-token times kept for the slowness baseline.
const FIRST_TOKEN_WINDOW: usize = 100;
/// First-token samples needed before any is judged slow (a cold start is never judged).
const FIRST_TOKEN_MIN_SAMPLES: usize = 20;

/// Where routing state reads the time. Tests drive a `ManualClock`.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> Instant;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    elapsed: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        if let Ok(mut e) = self.elapsed.lock() {
            *e += by;
        }
    }

    /// Time since the clock was made.
    pub fn elapsed(&self) -> Duration {
        self.elapsed.lock().map(|e| *e).unwrap_or_default()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }
}

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
struct Breaker {
    phase: BreakerPhase,
    /// While open: when the next probe may go.
    open_until: Option<Instant>,
    /// The cooldown used the last time it opened; doubles after a failed probe.
    cooldown: Duration,
    probe_in_flight: bool,
    consecutive_failures: u32,
    /// Why it is (or last was) open.
    opened_for: Option<OpenedFor>,
    window: VecDeque<(Instant, bool)>,
}

impl Breaker {
    fn new(settings: &BreakerSettings) -> Self {
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

    fn record(&mut self, now: Instant, ok: bool, settings: &BreakerSettings) {
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

    fn error_rate_exceeded(&self, settings: &BreakerSettings) -> bool {
        let total = self.window.len() as u32;
        if total < settings.min_requests {
            return false;
        }
        let failed = self.window.iter().filter(|(_, ok)| !ok).count() as f64;
        failed / f64::from(total) > settings.error_rate
    }

    fn open(&mut self, now: Instant, cooldown: Duration, why: OpenedFor) {
        self.phase = BreakerPhase::Open;
        self.cooldown = cooldown;
        self.open_until = Some(now + cooldown);
        self.probe_in_flight = false;
        self.opened_for = Some(why);
    }

    fn is_closed(&self) -> bool {
        self.phase == BreakerPhase::Closed
    }
}

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
    breaker: Mutex<Breaker>,
    misconfigured: Mutex<Option<Misconfigured>>,
    last_error: Mutex<Option<String>>,
    /// `provider/model`, for events.
    label: String,
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
    fn new(
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
    fn soft_open_until(&self, now: Instant) -> Option<Instant> {
        let b = self.breaker.lock().ok()?;
        if b.is_closed() || b.opened_for != Some(OpenedFor::Slowness) {
            return None;
        }
        Some(b.open_until.unwrap_or(now).max(now))
    }

    /// Admits a target open for slowness as an alias's last resort: as its probe when none is
    /// out, else as a plain request (a slow answer beats a 503).
    fn admit_last_resort(&self) -> Admission {
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

    fn reset(&self, settings: &BreakerSettings) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> BreakerSettings {
        BreakerSettings {
            cooldown: Duration::from_millis(50),
            max_cooldown: Duration::from_millis(400),
            ..BreakerSettings::default()
        }
    }

    fn fail(h: &Arc<TargetHealth>, s: &BreakerSettings) {
        let probe = h.admit(Instant::now()) == Admission::Probe;
        h.begin(probe).settle(
            Outcome::Failure {
                reason: "boom".into(),
                cooldown: None,
            },
            s,
        );
    }

    #[test]
    fn breaker_opens_after_consecutive_failures_and_heals_through_a_probe() {
        let s = settings();
        let h = Arc::new(TargetHealth::new(
            &s,
            "p/m".into(),
            Events::default(),
            Arc::new(SystemClock),
        ));
        fail(&h, &s);
        fail(&h, &s);
        assert_eq!(h.admit(Instant::now()), Admission::Yes);
        fail(&h, &s);
        assert!(matches!(h.admit(Instant::now()), Admission::No { .. }));
        let later = Instant::now() + Duration::from_millis(60);
        assert_eq!(h.admit(later), Admission::Probe);
        // Only one probe at a time.
        assert!(matches!(h.admit(later), Admission::No { .. }));
        h.begin(true).settle(
            Outcome::Success {
                latency: Duration::from_millis(5),
                first_token: None,
            },
            &s,
        );
        assert_eq!(h.admit(Instant::now()), Admission::Yes);
        assert_eq!(h.status(Instant::now()).state, "healthy");
    }

    #[test]
    fn failed_probes_back_off_exponentially_up_to_the_cap() {
        let s = settings();
        let h = Arc::new(TargetHealth::new(
            &s,
            "p/m".into(),
            Events::default(),
            Arc::new(SystemClock),
        ));
        for _ in 0..3 {
            fail(&h, &s);
        }
        let mut cooldowns = Vec::new();
        for _ in 0..5 {
            let far = Instant::now() + Duration::from_secs(10);
            assert_eq!(h.admit(far), Admission::Probe);
            h.begin(true).settle(
                Outcome::Failure {
                    reason: "still down".into(),
                    cooldown: None,
                },
                &s,
            );
            cooldowns.push(h.breaker.lock().map(|b| b.cooldown).unwrap_or_default());
        }
        let ms: Vec<u128> = cooldowns.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![100, 200, 400, 400, 400]);
    }

    #[test]
    fn an_abandoned_probe_frees_the_slot() {
        let s = settings();
        let h = Arc::new(TargetHealth::new(
            &s,
            "p/m".into(),
            Events::default(),
            Arc::new(SystemClock),
        ));
        for _ in 0..3 {
            fail(&h, &s);
        }
        let later = Instant::now() + Duration::from_millis(60);
        assert_eq!(h.admit(later), Admission::Probe);
        drop(h.begin(true)); // the client went away mid-probe
        assert_eq!(h.admit(later), Admission::Probe);
        assert_eq!(h.in_flight(), 0);
    }

    fn succeed(h: &Arc<TargetHealth>, s: &BreakerSettings, ms: u64, first_token: Option<u64>) {
        h.begin(false).settle(
            Outcome::Success {
                latency: Duration::from_millis(ms),
                first_token: first_token.map(Duration::from_millis),
            },
            s,
        );
    }

    #[test]
    fn total_latency_is_never_a_failure() {
        let s = settings();
        let h = Arc::new(TargetHealth::new(
            &s,
            "p/m".into(),
            Events::default(),
            Arc::new(SystemClock),
        ));
        for _ in 0..20 {
            succeed(&h, &s, 10, None);
        }
        for _ in 0..10 {
            succeed(&h, &s, 5_000, None);
        }
        assert_eq!(h.status(Instant::now()).state, "healthy");
    }

    #[test]
    fn slow_first_tokens_open_only_when_the_rule_is_on_and_past_the_floor() {
        use crate::config::SlowFirstToken;
        let clock = Arc::new(ManualClock::default());
        let off = settings();
        let on = BreakerSettings {
            slow_first_token: Some(SlowFirstToken {
                factor: 10.0,
                floor: Duration::from_millis(2000),
            }),
            ..settings()
        };
        for (s, expect) in [(off, "healthy"), (on, "open")] {
            let h = Arc::new(TargetHealth::new(
                &s,
                "p/m".into(),
                Events::default(),
                clock.clone(),
            ));
            // Fast first tokens, some jitter 50x the median: under the floor, never slow.
            for i in 0..40 {
                succeed(&h, &s, 100, Some(if i % 3 == 0 { 50 } else { 1 }));
            }
            assert_eq!(h.status(clock.now()).state, "healthy");
            for _ in 0..3 {
                succeed(&h, &s, 100, Some(9_000));
            }
            let status = h.status(clock.now());
            assert_eq!(status.state, expect);
            if expect == "open" {
                assert_eq!(status.opened_for, Some(OpenedFor::Slowness));
                assert!(status
                    .last_error
                    .unwrap_or_default()
                    .contains("first token"));
            }
        }
    }

    #[test]
    fn misconfigured_clears_when_the_key_changes() {
        let s = settings();
        let h = Arc::new(TargetHealth::new(
            &s,
            "p/m".into(),
            Events::default(),
            Arc::new(SystemClock),
        ));
        h.begin(false).settle(
            Outcome::Misconfigured {
                reason: "401".into(),
                key_fingerprint: Some("a".into()),
            },
            &s,
        );
        assert_eq!(h.status(Instant::now()).state, "misconfigured");
        h.recheck_misconfigured(Some("a".into()));
        assert!(h.misconfigured().is_some());
        h.recheck_misconfigured(Some("b".into()));
        assert!(h.misconfigured().is_none());
    }
}
