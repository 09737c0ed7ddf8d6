//! Rate limits per scope (client token, tenant, alias, target): requests per minute through
//! `governor` (GCRA), tokens per minute through a token bucket that is charged an estimate up
//! front and settled to the real usage afterwards (governor cannot give tokens back), and
//! requests at once through semaphores. State is keyed by scope, so it survives reloads.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Limits;

/// Whose limits a request is charged against. Its label (`alias "z"`) keys the counters and words
/// the refusal; it is formatted only for scopes that have limits, which most do not.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    ClientToken(&'a str),
    Tenant(&'a str),
    Alias(&'a str),
    /// `provider/model`.
    Target(&'a str),
}

impl std::fmt::Display for Scope<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::ClientToken(name) => write!(f, "client token \"{name}\""),
            Scope::Tenant(name) => write!(f, "tenant \"{name}\""),
            Scope::Alias(name) => write!(f, "alias \"{name}\""),
            Scope::Target(label) => write!(f, "target \"{label}\""),
        }
    }
}

/// Why a request was refused, for the 429.
#[derive(Debug, Clone, PartialEq)]
pub struct Limited {
    /// `client token "x"`, `tenant "y"`, `alias "z"`, `target "p/m"`.
    pub scope: String,
    pub message: String,
    pub retry_after: Duration,
}

struct TokenBucket {
    capacity: f64,
    tokens: f64,
    per_second: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(tpm: u64) -> Self {
        let capacity = tpm as f64;
        TokenBucket {
            capacity,
            tokens: capacity,
            per_second: capacity / 60.0,
            last: Instant::now(),
        }
    }

    fn refill(&mut self) {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.per_second)
            .min(self.capacity);
        self.last = now;
    }

    /// Takes `n` tokens, or says how long until they are there. A request larger than the
    /// whole budget may go when the bucket is full, so it is not refused forever.
    fn take(&mut self, n: u64) -> Result<(), Duration> {
        self.refill();
        let n = n as f64;
        if self.tokens >= n || (n > self.capacity && self.tokens >= self.capacity) {
            self.tokens -= n;
            Ok(())
        } else {
            Err(Duration::from_secs_f64(
                (n.min(self.capacity) - self.tokens) / self.per_second,
            ))
        }
    }

    /// Corrects an estimate: gives back what was over-charged, or takes what was under-charged.
    fn settle(&mut self, charged: u64, actual: u64) {
        self.refill();
        self.tokens = (self.tokens + charged as f64 - actual as f64).min(self.capacity);
    }
}

struct ScopeLimiter {
    limits: Limits,
    rpm: Option<DefaultDirectRateLimiter>,
    tpm: Option<Mutex<TokenBucket>>,
    concurrent: Option<Arc<Semaphore>>,
}

impl ScopeLimiter {
    fn new(limits: Limits) -> Self {
        ScopeLimiter {
            limits,
            rpm: limits
                .rpm
                .and_then(NonZeroU32::new)
                .map(|n| RateLimiter::direct(Quota::per_minute(n))),
            tpm: limits.tpm.map(|n| Mutex::new(TokenBucket::new(n))),
            concurrent: limits
                .concurrent
                .map(|n| Arc::new(Semaphore::new(n as usize))),
        }
    }
}

/// What a request holds while it runs: concurrency permits and the tokens charged up front.
#[derive(Default)]
pub struct Charge {
    _permits: Vec<OwnedSemaphorePermit>,
    tokens: Vec<(Arc<ScopeLimiter>, u64)>,
}

impl Charge {
    /// Settles the token charge to what the backend reported (0 when the request failed).
    pub fn settle(&mut self, actual_tokens: u64) {
        for (scope, charged) in self.tokens.drain(..) {
            if let Some(bucket) = &scope.tpm {
                if let Ok(mut bucket) = bucket.lock() {
                    bucket.settle(charged, actual_tokens);
                }
            }
        }
    }

    fn merge(&mut self, other: Charge) {
        self._permits.extend(other._permits);
        self.tokens.extend(other.tokens);
    }
}

#[derive(Default)]
pub struct LimitsState {
    scopes: Mutex<HashMap<String, Arc<ScopeLimiter>>>,
}

impl LimitsState {
    fn scope(&self, key: &str, limits: Limits) -> Arc<ScopeLimiter> {
        let Ok(mut scopes) = self.scopes.lock() else {
            return Arc::new(ScopeLimiter::new(limits));
        };
        match scopes.get(key) {
            // Same limits: keep the counters (also across reloads).
            Some(existing) if existing.limits == limits => existing.clone(),
            _ => {
                let fresh = Arc::new(ScopeLimiter::new(limits));
                scopes.insert(key.to_owned(), fresh.clone());
                fresh
            }
        }
    }

    /// Admits a request against every scope at once, or refuses it naming the first scope over
    /// its limit. `tokens` is the up-front estimate charged to TPM caps.
    pub fn acquire(&self, scopes: &[(Scope<'_>, Limits)], tokens: u64) -> Result<Charge, Limited> {
        let mut charge = Charge::default();
        for (scope, limits) in scopes.iter().filter(|(_, l)| !l.is_empty()) {
            let label = scope.to_string();
            let limiter = self.scope(&label, *limits);
            match admit(&limiter, &label, tokens) {
                Ok(part) => charge.merge(part),
                Err(limited) => {
                    charge.settle(0);
                    return Err(limited);
                }
            }
        }
        Ok(charge)
    }
}

fn admit(limiter: &Arc<ScopeLimiter>, label: &str, tokens: u64) -> Result<Charge, Limited> {
    let mut charge = Charge::default();
    if let Some(semaphore) = &limiter.concurrent {
        match semaphore.clone().try_acquire_owned() {
            Ok(permit) => charge._permits.push(permit),
            Err(_) => {
                return Err(Limited {
                    scope: label.to_owned(),
                    message: format!(
                        "{label} already has {} requests running (its `concurrent` limit)",
                        limiter.limits.concurrent.unwrap_or(0)
                    ),
                    retry_after: Duration::from_secs(1),
                })
            }
        }
    }
    if let Some(rpm) = &limiter.rpm {
        if let Err(not_until) = rpm.check() {
            return Err(Limited {
                scope: label.to_owned(),
                message: format!(
                    "{label} is over its limit of {} requests per minute",
                    limiter.limits.rpm.unwrap_or(0)
                ),
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            });
        }
    }
    if let Some(bucket) = &limiter.tpm {
        let taken = bucket.lock().map(|mut b| b.take(tokens)).unwrap_or(Ok(()));
        if let Err(wait) = taken {
            return Err(Limited {
                scope: label.to_owned(),
                message: format!(
                    "{label} is over its limit of {} tokens per minute (this request needs about {tokens})",
                    limiter.limits.tpm.unwrap_or(0)
                ),
                retry_after: wait,
            });
        }
        charge.tokens.push((limiter.clone(), tokens));
    }
    Ok(charge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(limits: Limits) -> Vec<(Scope<'static>, Limits)> {
        vec![(Scope::ClientToken("t"), limits)]
    }

    #[test]
    fn rpm_refuses_past_the_quota_with_a_wait() {
        let state = LimitsState::default();
        let s = scope(Limits {
            rpm: Some(3),
            ..Limits::default()
        });
        for _ in 0..3 {
            assert!(state.acquire(&s, 0).is_ok());
        }
        let refused = state
            .acquire(&s, 0)
            .err()
            .map(|l| l.retry_after)
            .unwrap_or_default();
        assert!(
            refused > Duration::from_secs(15) && refused <= Duration::from_secs(20),
            "{refused:?}"
        );
    }

    #[test]
    fn tpm_is_settled_to_actual_usage() {
        let state = LimitsState::default();
        let s = scope(Limits {
            tpm: Some(1000),
            ..Limits::default()
        });
        let mut first = state.acquire(&s, 900).unwrap_or_default();
        assert!(
            state.acquire(&s, 200).is_err(),
            "the estimate is charged up front"
        );
        first.settle(100);
        assert!(state.acquire(&s, 800).is_ok(), "over-charge given back");
    }

    #[test]
    fn concurrency_permits_are_released_when_the_charge_drops() {
        let state = LimitsState::default();
        let s = scope(Limits {
            concurrent: Some(1),
            ..Limits::default()
        });
        let held = state.acquire(&s, 0).unwrap_or_default();
        assert!(state.acquire(&s, 0).is_err());
        drop(held);
        assert!(state.acquire(&s, 0).is_ok());
    }

    #[test]
    fn a_refusal_in_one_scope_gives_back_the_others_tokens() {
        let state = LimitsState::default();
        let scopes = vec![
            (
                Scope::Tenant("a"),
                Limits {
                    tpm: Some(1000),
                    ..Limits::default()
                },
            ),
            (
                Scope::Alias("b"),
                Limits {
                    concurrent: Some(1),
                    ..Limits::default()
                },
            ),
        ];
        let _held = state.acquire(&scopes, 100).unwrap_or_default();
        for _ in 0..20 {
            assert!(state.acquire(&scopes, 100).is_err());
        }
        assert!(
            state.acquire(&scopes[..1], 800).is_ok(),
            "refused requests kept no tokens"
        );
    }
}
