//! Breaker and routing simulations on a deterministic clock: scripted backends replay the traces
//! that broke healthy setups (mixed short and long answers, a cold start, bursts of µs-scale
//! jitter, a flapping backend among three, a backend down for 20 s) and each test asserts the
//! exact number of client-visible errors. The driver walks targets with the proxy's own
//! `TargetWalk` (strategy order, admission, attempts and backoff, the last-target rule); the
//! end-to-end reproductions over HTTP are in `routing.rs`.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use switchboard_gateway::config::BreakerSettings;
use switchboard_gateway::events::Events;
use switchboard_gateway::routing::{
    Admission, AttemptGuard, ManualClock, OpenedFor, Outcome, RoutingState,
};
use switchboard_gateway::{Config, TargetWalk};

const MS: Duration = Duration::from_millis(1);
const US: Duration = Duration::from_micros(1);

/// What a scripted backend does with one attempt.
#[derive(Debug, Clone, Copy)]
enum Reply {
    /// An answer: its first token after `first_token`, done after `total`.
    Answer {
        first_token: Duration,
        total: Duration,
        stream: bool,
    },
    /// Connection refused.
    Refused,
    /// A 500.
    ServerError,
}

fn answer(first_token: Duration, total: Duration) -> Reply {
    Reply::Answer {
        first_token,
        total,
        stream: true,
    }
}

fn complete(total: Duration) -> Reply {
    Reply::Answer {
        first_token: total,
        total,
        stream: false,
    }
}

/// An answer on its way: settled when the clock reaches its end.
struct Pending {
    guard: AttemptGuard,
    outcome: Outcome,
    total: Duration,
    breaker: BreakerSettings,
}

impl Pending {
    fn settle(self) {
        self.guard.settle(self.outcome, &self.breaker);
    }
}

#[derive(Default, Debug)]
struct Tally {
    ok: u32,
    errors: u32,
    /// Attempts that reached each backend.
    attempts: HashMap<String, u32>,
}

struct Sim {
    clock: Arc<ManualClock>,
    routing: RoutingState,
    config: Config,
    tally: Tally,
}

impl Sim {
    /// `providers` names providers `a`, `b`, ... with `breaker` (TOML, may be empty) and
    /// `alias` (TOML after `[aliases.x]`).
    fn new(providers: &[&str], breaker: &str, alias: &str) -> Sim {
        let mut text = String::new();
        for p in providers {
            text.push_str(&format!(
                "[providers.{p}]\nkind = \"openai\"\nbase_url = \"http://{p}.invalid/v1\"\n{}\n",
                if breaker.is_empty() {
                    String::new()
                } else {
                    format!("breaker = {{ {breaker} }}\n")
                }
            ));
        }
        text.push_str(&format!("[aliases.x]\n{alias}\n"));
        let config = Config::parse(&text, "simulation").unwrap();
        let clock = Arc::new(ManualClock::default());
        Sim {
            routing: RoutingState::with_clock(Events::default(), clock.clone()),
            clock,
            config,
            tally: Tally::default(),
        }
    }

    fn now(&self) -> Duration {
        self.clock.elapsed()
    }

    /// Routes one request through the proxy's own walk (`TargetWalk`: strategy order,
    /// admission, attempts and backoff, the last-target rule); `Err` is a client-visible error.
    fn start(&mut self, backend: &mut dyn FnMut(&str, Duration) -> Reply) -> Result<Pending, ()> {
        let alias = self.config.aliases["x"].clone();
        let mut walk = TargetWalk::new(self.routing.order(&alias), &alias.retries);
        while let Some(index) = walk.next(&self.routing, &alias) {
            let target = &alias.targets[index];
            let health = self.routing.target(target);
            let admission = walk.admission(index, &health, self.routing.now());
            if let Admission::No { .. } = admission {
                walk.skipped_open(index);
                continue;
            }
            walk.attempt();
            let label = target.label();
            *self.tally.attempts.entry(label.clone()).or_default() += 1;
            let guard = health.begin(admission == Admission::Probe);
            match backend(&label, self.now()) {
                Reply::Answer {
                    first_token,
                    total,
                    stream,
                } => {
                    return Ok(Pending {
                        guard,
                        outcome: Outcome::Success {
                            latency: if stream { first_token } else { total },
                            first_token: stream.then_some(first_token),
                        },
                        total,
                        breaker: target.breaker,
                    })
                }
                failed => {
                    guard.settle(
                        Outcome::Failure {
                            reason: format!("{failed:?}"),
                            cooldown: None,
                        },
                        &target.breaker,
                    );
                    if let Some(wait) = walk.retry(index, None) {
                        self.clock.advance(wait);
                    }
                }
            }
        }
        Err(())
    }

    /// One request at a time: waits for the answer, then `gap` before the next.
    fn sequential(
        &mut self,
        count: usize,
        gap: Duration,
        backend: &mut dyn FnMut(&str, Duration) -> Reply,
    ) {
        for _ in 0..count {
            match self.start(backend) {
                Ok(pending) => {
                    self.clock.advance(pending.total);
                    pending.settle();
                    self.tally.ok += 1;
                }
                Err(()) => self.tally.errors += 1,
            }
            self.clock.advance(gap);
        }
    }

    /// `width` requests in flight at once, `rounds` times: all start, the slowest ends the round.
    fn burst(
        &mut self,
        width: usize,
        rounds: usize,
        backend: &mut dyn FnMut(&str, Duration) -> Reply,
    ) {
        for _ in 0..rounds {
            let mut pending = Vec::new();
            for _ in 0..width {
                match self.start(backend) {
                    Ok(p) => pending.push(p),
                    Err(()) => self.tally.errors += 1,
                }
            }
            let longest = pending.iter().map(|p| p.total).max().unwrap_or_default();
            self.clock.advance(longest);
            for p in pending {
                p.settle();
                self.tally.ok += 1;
            }
        }
    }

    fn state(&self, label: &str) -> (String, Option<OpenedFor>) {
        let status = self
            .routing
            .statuses(&self.config)
            .into_iter()
            .find(|s| s.target == label)
            .unwrap();
        (status.state.to_owned(), status.opened_for)
    }
}

/// The slowness rule switched on, as someone might configure it.
const SLOW_RULE_ON: &str = "slow_first_token_factor = 10";

/// A pseudo-random jitter source that repeats exactly.
struct Jitter(u64);

impl Jitter {
    fn next(&mut self, max: u32) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % u64::from(max.max(1))) as u32
    }
}

#[test]
fn mixed_short_and_long_answers_never_fail_a_healthy_backend() {
    // Issue 13, reproduction 1: ten short answers (~0.1 s), then three long ones (~1.6 s), all
    // healthy. Total time grows with the answer; the first token does not.
    for breaker in ["", SLOW_RULE_ON] {
        let mut sim = Sim::new(&["m"], breaker, "targets = [\"m/agent\"]");
        for round in 0..5 {
            let mut short = |_: &str, _: Duration| complete(100 * MS);
            sim.sequential(10, 10 * MS, &mut short);
            let mut long = |_: &str, _: Duration| complete(1600 * MS);
            sim.sequential(3, 10 * MS, &mut long);
            // The same shapes streamed: constant first token, growing total.
            let mut short = |_: &str, _: Duration| answer(40 * MS, 100 * MS);
            sim.sequential(10, 10 * MS, &mut short);
            let mut long = |_: &str, _: Duration| answer(40 * MS, 1600 * MS);
            sim.sequential(4, 10 * MS, &mut long);
            assert_eq!(sim.tally.errors, 0, "round {round}, breaker {breaker:?}");
        }
        assert_eq!((sim.tally.ok, sim.tally.errors), (5 * 27, 0));
        assert_eq!(sim.state("m/agent").0, "healthy");
    }
}

#[test]
fn a_cold_start_is_not_judged() {
    // The first answer waits for the model to load (30 s), then answers are fast.
    for breaker in ["", SLOW_RULE_ON] {
        let mut sim = Sim::new(&["m"], breaker, "targets = [\"m/cold\"]");
        let mut n = 0;
        let mut backend = |_: &str, _: Duration| {
            n += 1;
            if n == 1 {
                answer(30_000 * MS, 31_000 * MS)
            } else {
                answer(80 * MS, 400 * MS)
            }
        };
        sim.sequential(200, 50 * MS, &mut backend);
        assert_eq!((sim.tally.ok, sim.tally.errors), (200, 0), "{breaker:?}");
        assert_eq!(sim.state("m/cold").0, "healthy");
    }
}

#[test]
fn bursts_of_microsecond_jitter_never_trip_a_breaker() {
    // Issue 13, reproduction 2: one connection on a backend answering in tens of µs, then 64 at
    // once where queueing makes answers 1-2 ms: 50x the usual, and perfectly healthy.
    for breaker in ["", SLOW_RULE_ON] {
        let mut sim = Sim::new(&["m"], breaker, "targets = [\"m/fast\"]");
        let mut jitter = Jitter(7);
        let mut quiet = |_: &str, _: Duration| {
            let t = (20 + jitter.next(30)) * US;
            answer(t, t + 5 * US)
        };
        sim.sequential(2_000, 100 * US, &mut quiet);
        let mut jitter = Jitter(11);
        let mut loaded = |_: &str, _: Duration| {
            let t = (1_000 + jitter.next(1_000)) * US;
            if jitter.next(2) == 0 {
                answer(t, t + 10 * US)
            } else {
                complete(t)
            }
        };
        sim.burst(64, 500, &mut loaded);
        assert_eq!(
            (sim.tally.ok, sim.tally.errors),
            (2_000 + 64 * 500, 0),
            "{breaker:?}"
        );
        assert_eq!(sim.state("m/fast").0, "healthy");
    }
}

#[test]
fn a_flapping_backend_among_three_costs_no_client_errors_and_is_held_off() {
    // `b` is down for 2 s, up for 2 s, over and over; `a` and `c` are healthy. Every request
    // that `b` fails is retried on another target, and `b`'s breaker keeps most traffic off it
    // while it flaps.
    let mut sim = Sim::new(
        &["a", "b", "c"],
        "",
        "targets = [\"a/m\", \"b/m\", \"c/m\"]\nstrategy = \"weighted\"",
    );
    let mut refused_b = 0;
    let mut backend = |label: &str, now: Duration| {
        let down = (now.as_millis() / 2_000).is_multiple_of(2);
        if label == "b/m" && down {
            refused_b += 1;
            Reply::Refused
        } else {
            answer(30 * MS, 200 * MS)
        }
    };
    // 60 s of traffic, one request every 50 ms (plus answer time).
    sim.sequential(240, 50 * MS, &mut backend);
    assert_eq!((sim.tally.ok, sim.tally.errors), (240, 0));
    // Without the breaker `b` would get a third of 240 requests (80) and fail about half of
    // them; with it, it opens on the first flap and then sees probes (14 attempts, 9 refused in
    // this trace; bounds leave room for changes to the cooldown).
    let b = sim.tally.attempts["b/m"];
    assert!(
        b <= 25,
        "b kept getting traffic while flapping: {b} attempts"
    );
    assert!(refused_b <= 15, "b refused {refused_b} times");
}

#[test]
fn a_backend_down_for_20_s_then_back_is_cut_off_fast_and_used_again() {
    // Two targets: the healthy one answers everything while `a` is down; `a` is cut off after
    // three refusals and gets only probes until it is back.
    let mut sim = Sim::new(&["a", "b"], "", "targets = [\"a/m\", \"b/m\"]");
    let mut backend = |label: &str, now: Duration| {
        if label == "a/m" && now < Duration::from_secs(20) {
            Reply::Refused
        } else {
            answer(20 * MS, 100 * MS)
        }
    };
    sim.sequential(400, 100 * MS, &mut backend);
    assert_eq!((sim.tally.ok, sim.tally.errors), (400, 0));
    assert_eq!(sim.state("a/m").0, "healthy", "back in use after 20 s");

    // One target, the same outage: only requests during the outage fail, each at once after
    // the first (no connection attempt while the breaker is open), and a few probes follow the
    // cooldown's doubling (5 s, 10 s, 20 s).
    let mut sim = Sim::new(&["a"], "", "targets = [\"a/m\"]");
    let mut attempts_while_down = 0;
    let mut backend = |_: &str, now: Duration| {
        if now < Duration::from_secs(20) {
            attempts_while_down += 1;
            Reply::Refused
        } else {
            answer(20 * MS, 100 * MS)
        }
    };
    // Requests arrive every 100 ms for 60 s.
    for k in 0..600u64 {
        let arrival = Duration::from_millis(100 * k);
        if sim.now() < arrival {
            sim.clock.advance(arrival - sim.now());
        }
        sim.sequential(1, Duration::ZERO, &mut backend);
    }
    // The first request tries 3 times (0, 0.1, 0.3 s) and opens the breaker; probes at 5.3 s
    // and 15.3 s fail (cooldown 5 s, then 10 s); the probe at 35.3 s (cooldown 20 s) succeeds.
    assert_eq!(attempts_while_down, 5);
    let failed_until = Duration::from_millis(35_300);
    let expected_errors = (0..600u64)
        .filter(|k| Duration::from_millis(100 * k) < failed_until)
        .count() as u32;
    assert_eq!(sim.tally.errors, expected_errors);
    assert_eq!(sim.tally.ok, 600 - expected_errors);
    assert_eq!(sim.state("a/m").0, "healthy");
}

#[test]
fn a_truly_failing_backend_is_cut_off_after_three_failures() {
    let mut sim = Sim::new(&["a", "b"], "", "targets = [\"a/m\", \"b/m\"]");
    let mut backend = |label: &str, _: Duration| {
        if label == "a/m" {
            Reply::ServerError
        } else {
            answer(20 * MS, 100 * MS)
        }
    };
    // 40 requests of 110 ms: all inside the first cooldown (5 s) after it opens.
    sim.sequential(40, 10 * MS, &mut backend);
    assert_eq!((sim.tally.ok, sim.tally.errors), (40, 0));
    // Three failures open it; within the cooldown no request reaches it.
    assert_eq!(sim.tally.attempts["a/m"], 3);
    assert_eq!(sim.state("a/m"), ("open".into(), Some(OpenedFor::Failures)));
}

#[test]
fn slowness_never_takes_the_last_target_away() {
    // The rule on, and the backend really is slow to start answering (10 s against 50 ms):
    // its breaker opens for slowness, yet as the alias's only target it keeps serving.
    let mut sim = Sim::new(&["m"], SLOW_RULE_ON, "targets = [\"m/only\"]");
    let mut fast = |_: &str, _: Duration| answer(50 * MS, 300 * MS);
    sim.sequential(30, 10 * MS, &mut fast);
    let mut slow = |_: &str, _: Duration| answer(10_000 * MS, 10_500 * MS);
    sim.sequential(3, 10 * MS, &mut slow);
    assert_eq!(
        sim.state("m/only"),
        ("open".into(), Some(OpenedFor::Slowness))
    );
    // Open for slowness, every target open: still served, at once and in a burst.
    sim.sequential(5, 10 * MS, &mut slow);
    sim.burst(16, 2, &mut slow);
    assert_eq!((sim.tally.ok, sim.tally.errors), (30 + 3 + 5 + 32, 0));

    // With a healthy sibling, the slow target is skipped (its breaker works) and the sibling
    // serves; nothing fails either way.
    let mut sim = Sim::new(&["a", "b"], SLOW_RULE_ON, "targets = [\"a/m\", \"b/m\"]");
    let mut fast = |_: &str, _: Duration| answer(50 * MS, 300 * MS);
    sim.sequential(60, 10 * MS, &mut fast);
    let mut a_slow = |label: &str, _: Duration| {
        if label == "a/m" {
            answer(10_000 * MS, 10_500 * MS)
        } else {
            answer(50 * MS, 300 * MS)
        }
    };
    sim.sequential(20, 10 * MS, &mut a_slow);
    assert_eq!(sim.state("a/m"), ("open".into(), Some(OpenedFor::Slowness)));
    assert_eq!(sim.tally.errors, 0);

    // Hard failures on the only target: no last resort, the 503 says when to come back.
    let mut sim = Sim::new(&["m"], SLOW_RULE_ON, "targets = [\"m/only\"]");
    let mut down = |_: &str, _: Duration| Reply::Refused;
    sim.sequential(5, 10 * MS, &mut down);
    assert_eq!(sim.tally.attempts["m/only"], 3);
    assert_eq!(sim.tally.errors, 5);
}
