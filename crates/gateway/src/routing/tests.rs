use std::time::Duration;

use super::*;
use crate::config::BreakerSettings;

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
