//! Which desktop notifications to send, and how often. Pure: the shell shows what this returns.
//! Kinds: the port is taken, the config was rejected (at start or on reload), the proxy cannot
//! start for another reason (all from changes of the tray's state, `changes`), and a backend's
//! breaker opened, a backend refused its key, or a budget crossed its alert threshold or ran out
//! (from the gateway's events, `for_event`).
//! Each kind is rate-limited, and the same message is not repeated for a while.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use switchboard_gateway::GatewayEvent;

use crate::menu_model::{ConfigProblem, MenuInput, ProxyState};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeKind {
    PortInUse,
    ConfigRejected,
    CannotStart,
    BackendDown,
    BackendMisconfigured,
    BudgetAlert,
    BudgetSpent,
    StorageFailing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub title: String,
    pub body: String,
}

impl Notice {
    pub fn port_in_use(port: u16) -> Notice {
        Notice {
            kind: NoticeKind::PortInUse,
            title: format!("Port {port} is in use by another program"),
            body: "Switchboard is not serving. Quit the other program or change `listen` in \
                   the config, then choose Start proxy."
                .into(),
        }
    }

    /// Any other reason the proxy cannot serve (an address that cannot be bound, a gateway
    /// that cannot be built).
    pub fn cannot_start(reason: &str) -> Notice {
        Notice {
            kind: NoticeKind::CannotStart,
            title: "Switchboard cannot start the proxy".into(),
            body: reason.to_owned(),
        }
    }

    /// A reload was rejected: the previous config keeps serving.
    pub fn reload_rejected(problem: &ConfigProblem) -> Notice {
        Notice {
            kind: NoticeKind::ConfigRejected,
            title: "Config change rejected".into(),
            body: format!(
                "{} The previous config keeps serving.",
                sentence(&problem.describe())
            ),
        }
    }

    /// The config could not be loaded at all: nothing is serving.
    pub fn config_invalid(problem: &ConfigProblem) -> Notice {
        Notice {
            kind: NoticeKind::ConfigRejected,
            title: "Switchboard cannot load its config".into(),
            body: format!(
                "{} Fix the file, then choose Reload Config.",
                sentence(&problem.describe())
            ),
        }
    }
}

/// The notice a gateway event calls for, if any. Texts from the gateway are already sanitized
/// (no keys, single line).
pub fn for_event(event: &GatewayEvent) -> Option<Notice> {
    // Exhaustive on purpose: a new event kind makes the compiler point here.
    match event {
        GatewayEvent::BreakerOpened {
            target,
            reason,
            retry_in_ms,
        } => Some(Notice {
            kind: NoticeKind::BackendDown,
            title: format!("Backend {target} is down"),
            body: format!(
                "{} Requests skip it; Switchboard tries it again in {}.",
                sentence(reason),
                seconds(*retry_in_ms)
            ),
        }),
        GatewayEvent::TargetMisconfigured { target, reason } => Some(Notice {
            kind: NoticeKind::BackendMisconfigured,
            title: format!("Backend {target} refused the request"),
            body: format!(
                "{} Requests skip it until its key or config changes.",
                sentence(reason)
            ),
        }),
        // Announced from the state change (`changes`), which has the line numbers.
        GatewayEvent::ConfigRejected { .. } => None,
        // Good news stays quiet; the menu shows it.
        GatewayEvent::ConfigReloaded { .. } | GatewayEvent::BreakerClosed { .. } => None,
        GatewayEvent::BudgetAlert {
            budget,
            spent_usd,
            limit_usd,
            alert_at,
            period,
            resets_at,
        } => Some(Notice {
            kind: NoticeKind::BudgetAlert,
            title: format!(
                "Budget {budget} at {:.0}% of ${limit_usd:.2}",
                alert_at * 100.0
            ),
            body: format!(
                "${spent_usd:.2} spent this {period}; it resets at {resets_at}."
            ),
        }),
        GatewayEvent::BudgetSpent {
            budget,
            limit_usd,
            period,
            resets_at,
            ..
        } => Some(Notice {
            kind: NoticeKind::BudgetSpent,
            title: format!("Budget {budget} is spent"),
            body: format!(
                "${limit_usd:.2} this {period} is used up; its `when_spent` rule applies until {resets_at}."
            ),
        }),
    }
}

/// `text` ending with a full stop, unless it already ends a sentence.
fn sentence(text: &str) -> String {
    let text = text.trim_end();
    if text.ends_with(['.', '?', '!', '…']) {
        text.to_owned()
    } else {
        format!("{text}.")
    }
}

fn seconds(ms: u64) -> String {
    match ms.div_ceil(1000) {
        1 => "1 second".into(),
        s if s < 120 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

/// Notices for what changed between two observations of the tray's input.
pub fn changes(before: &MenuInput, after: &MenuInput) -> Vec<Notice> {
    let mut notices = Vec::new();
    match &after.proxy {
        ProxyState::PortInUse { addr } if before.proxy != after.proxy => {
            notices.push(Notice::port_in_use(addr.port()));
        }
        ProxyState::ConfigInvalid { problem } if before.proxy != after.proxy => {
            notices.push(Notice::config_invalid(problem));
        }
        ProxyState::CannotListen { addr, reason } if before.proxy != after.proxy => {
            notices.push(Notice::cannot_start(&format!(
                "Cannot listen on {addr}: {reason}"
            )));
        }
        ProxyState::Failed { reason } if before.proxy != after.proxy => {
            notices.push(Notice::cannot_start(reason));
        }
        _ => {}
    }
    if let Some(problem) = &after.rejected_reload {
        if before.rejected_reload.as_ref() != Some(problem) {
            notices.push(Notice::reload_rejected(problem));
        }
    }
    // Once when it starts failing; the menu keeps saying it until it recovers.
    if let (None, Some(reason)) = (&before.storage_failing, &after.storage_failing) {
        notices.push(Notice {
            kind: NoticeKind::StorageFailing,
            title: "Switchboard cannot write its log".into(),
            body: format!(
                "{} Requests are still answered; it retries by itself.",
                sentence(reason)
            ),
        });
    }
    notices
}

/// At most one notification per kind per `min_interval`, and an identical one not again before
/// `repeat_interval`.
#[derive(Debug)]
pub struct RateLimiter {
    min_interval: Duration,
    repeat_interval: Duration,
    last: HashMap<NoticeKind, (Instant, String)>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter::new(Duration::from_secs(10), Duration::from_secs(300))
    }
}

impl RateLimiter {
    pub fn new(min_interval: Duration, repeat_interval: Duration) -> RateLimiter {
        RateLimiter {
            min_interval,
            repeat_interval,
            last: HashMap::new(),
        }
    }

    /// Whether to show `notice` now; records it if so.
    pub fn allow(&mut self, notice: &Notice, now: Instant) -> bool {
        let text = format!("{}\n{}", notice.title, notice.body);
        if let Some((at, previous)) = self.last.get(&notice.kind) {
            let elapsed = now.saturating_duration_since(*at);
            let wait = if *previous == text {
                self.repeat_interval
            } else {
                self.min_interval
            };
            if elapsed < wait {
                return false;
            }
        }
        self.last.insert(notice.kind, (now, text));
        true
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::*;
    use crate::menu_model::{Period, Requests};

    fn input(proxy: ProxyState) -> MenuInput {
        MenuInput {
            proxy,
            rejected_reload: None,
            configured_listen: None,
            autostart: None,
            backends_down: vec![],
            storage_failing: None,
        }
    }

    fn addr() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 4000))
    }

    fn problem(line: usize) -> ConfigProblem {
        ConfigProblem {
            line: Some(line),
            message: "unknown key".into(),
            more: 0,
        }
    }

    #[test]
    fn a_failing_log_is_notified_once_when_it_starts() {
        let running = ProxyState::Running {
            addr: addr(),
            requests: Requests {
                count: 1,
                period: Period::Today,
            },
        };
        let ok = input(running.clone());
        let mut failing = input(running);
        failing.storage_failing = Some("request log failing: write failed: disk is full".into());
        let notices = changes(&ok, &failing);
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].kind, NoticeKind::StorageFailing);
        assert!(notices[0]
            .body
            .starts_with("request log failing: write failed: disk is full."));
        assert!(
            changes(&failing, &failing).is_empty(),
            "not again while it fails"
        );
        assert!(changes(&failing, &ok).is_empty(), "recovery stays quiet");
    }

    #[test]
    fn port_taken_is_announced_once_on_entering_the_state() {
        let before = input(ProxyState::Starting);
        let after = input(ProxyState::PortInUse { addr: addr() });
        let notices = changes(&before, &after);
        assert_eq!(notices, vec![Notice::port_in_use(4000)]);
        assert_eq!(notices[0].title, "Port 4000 is in use by another program");
        assert!(changes(&after, &after).is_empty());
    }

    #[test]
    fn rejected_reloads_are_announced_when_new_or_different() {
        let running = ProxyState::Running {
            addr: addr(),
            requests: Requests {
                count: 0,
                period: Period::Today,
            },
        };
        let clean = input(running.clone());
        let mut rejected = input(running);
        rejected.rejected_reload = Some(problem(3));
        let notices = changes(&clean, &rejected);
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].kind, NoticeKind::ConfigRejected);
        assert_eq!(
            notices[0].body,
            "Config error at line 3: unknown key. The previous config keeps serving."
        );
        assert!(changes(&rejected, &rejected).is_empty());
        let mut other = rejected.clone();
        other.rejected_reload = Some(problem(4));
        assert_eq!(changes(&rejected, &other).len(), 1);
        assert!(changes(&rejected, &clean).is_empty(), "a fix is silent");
    }

    #[test]
    fn a_config_that_cannot_load_is_announced() {
        let notices = changes(
            &input(ProxyState::Stopped),
            &input(ProxyState::ConfigInvalid {
                problem: problem(7),
            }),
        );
        assert_eq!(notices.len(), 1);
        assert!(notices[0].body.starts_with("Config error at line 7"));
    }

    #[test]
    fn other_start_failures_are_announced() {
        let notices = changes(
            &input(ProxyState::Starting),
            &input(ProxyState::CannotListen {
                addr: SocketAddr::from(([10, 9, 9, 9], 4000)),
                reason: "Cannot assign requested address".into(),
            }),
        );
        assert_eq!(notices.len(), 1);
        assert_eq!(notices[0].kind, NoticeKind::CannotStart);
        assert_eq!(
            notices[0].body,
            "Cannot listen on 10.9.9.9:4000: Cannot assign requested address"
        );
        assert!(changes(&input(ProxyState::Stopped), &input(ProxyState::Stopped)).is_empty());
    }

    #[test]
    fn breakers_opening_and_refused_keys_are_announced() {
        let notice = for_event(&GatewayEvent::BreakerOpened {
            target: "armitage/qwen".into(),
            reason: "3 consecutive failures: connection refused".into(),
            retry_in_ms: 5000,
        })
        .unwrap();
        assert_eq!(notice.kind, NoticeKind::BackendDown);
        assert_eq!(notice.title, "Backend armitage/qwen is down");
        assert_eq!(
            notice.body,
            "3 consecutive failures: connection refused. Requests skip it; \
             Switchboard tries it again in 5 seconds."
        );
        let notice = for_event(&GatewayEvent::TargetMisconfigured {
            target: "openai/gpt".into(),
            reason: "401: invalid API key".into(),
        })
        .unwrap();
        assert_eq!(notice.kind, NoticeKind::BackendMisconfigured);
        assert_eq!(notice.title, "Backend openai/gpt refused the request");
    }

    #[test]
    fn budget_alerts_and_spent_budgets_are_announced() {
        let alert = for_event(&GatewayEvent::BudgetAlert {
            budget: "cloud".into(),
            spent_usd: 121.5,
            limit_usd: 150.0,
            alert_at: 0.8,
            period: "month",
            resets_at: "2026-12-01T00:00:00+01:00".into(),
        });
        let alert = alert.unwrap_or_else(|| panic!("an alert is announced"));
        assert_eq!(alert.kind, NoticeKind::BudgetAlert);
        assert_eq!(alert.title, "Budget cloud at 80% of $150.00");
        assert!(
            alert.body.starts_with("$121.50 spent this month"),
            "{}",
            alert.body
        );
        let spent = for_event(&GatewayEvent::BudgetSpent {
            budget: "cloud".into(),
            spent_usd: 150.2,
            limit_usd: 150.0,
            period: "month",
            resets_at: "2026-12-01T00:00:00+01:00".into(),
        });
        let spent = spent.unwrap_or_else(|| panic!("a spent budget is announced"));
        assert_eq!(spent.kind, NoticeKind::BudgetSpent);
        assert_eq!(spent.title, "Budget cloud is spent");
    }

    #[test]
    fn quiet_events_send_nothing() {
        for event in [
            GatewayEvent::ConfigReloaded {
                revision: "abc".into(),
            },
            GatewayEvent::BreakerClosed {
                target: "a/b".into(),
            },
            GatewayEvent::ConfigRejected {
                message: "x".into(),
            },
        ] {
            assert_eq!(for_event(&event), None, "{event:?}");
        }
    }

    #[test]
    fn messages_end_in_one_full_stop() {
        let problem = ConfigProblem {
            line: Some(2),
            message: "unknown key `lisen`; did you mean `listen`?".into(),
            more: 0,
        };
        assert_eq!(
            Notice::reload_rejected(&problem).body,
            "Config error at line 2: unknown key `lisen`; did you mean `listen`? \
             The previous config keeps serving."
        );
        assert_eq!(sentence("down"), "down.");
        assert_eq!(sentence("down. "), "down.");
    }

    #[test]
    fn retry_times_read_naturally() {
        assert_eq!(seconds(1), "1 second");
        assert_eq!(seconds(30_000), "30 seconds");
        assert_eq!(seconds(300_000), "5 minutes");
    }

    #[test]
    fn the_limiter_spaces_kinds_and_holds_back_repeats() {
        let mut limiter = RateLimiter::new(Duration::from_secs(10), Duration::from_secs(300));
        let t0 = Instant::now();
        let a = Notice::reload_rejected(&problem(1));
        let b = Notice::reload_rejected(&problem(2));
        let port = Notice::port_in_use(4000);
        assert!(limiter.allow(&a, t0));
        assert!(limiter.allow(&port, t0), "kinds are limited separately");
        assert!(!limiter.allow(&b, t0 + Duration::from_secs(5)), "too soon");
        assert!(limiter.allow(&b, t0 + Duration::from_secs(11)));
        assert!(
            !limiter.allow(&b, t0 + Duration::from_secs(60)),
            "same text"
        );
        assert!(limiter.allow(&b, t0 + Duration::from_secs(312)));
    }
}
