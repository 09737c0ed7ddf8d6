//! What the client is told when no target served: the failures and skips gathered while
//! walking the targets, turned into one error (and the errors of admission's refusals).

use std::time::Duration;

use axum::http::StatusCode;

use crate::error::ApiError;
use crate::limits::Limited;
use crate::spend::Spent;

/// Why each target did not serve, gathered across the alias and its fallbacks.
#[derive(Default)]
pub(super) struct Failures {
    /// Attempts that failed, in order.
    pub(super) failed: Vec<ApiError>,
    /// Targets skipped as unavailable (breaker open, budget spent, misconfigured, at a cap).
    pub(super) unavailable: Vec<String>,
    /// The soonest an open breaker lets a target be tried again.
    pub(super) retry_after: Option<Duration>,
    /// Targets whose context window is smaller than the input: `(label, window)`.
    pub(super) too_small: Vec<(String, u64)>,
    /// The soonest a target's rate limit frees up, when one stood in the way.
    pub(super) rate_limited: Option<Duration>,
    /// The first "cannot translate this request" refusal, if no target speaks the dialect.
    pub(super) untranslatable: Option<ApiError>,
}

impl Failures {
    pub(super) fn breaker_open(&mut self, wait: Duration) {
        self.retry_after = Some(self.retry_after.map_or(wait, |r| r.min(wait)));
    }

    pub(super) fn at_rate_limit(&mut self, wait: Duration) {
        self.rate_limited = Some(self.rate_limited.map_or(wait, |r| r.min(wait)));
    }

    /// The one error for a request no target of `alias` served.
    pub(super) fn into_error(self, alias: &str, estimate: u64) -> ApiError {
        if let (true, Some(error)) = (self.failed.is_empty(), self.untranslatable) {
            return error;
        }
        if self.failed.is_empty() && self.unavailable.is_empty() && !self.too_small.is_empty() {
            return context_too_long(alias, estimate, &self.too_small);
        }
        if let (true, Some(wait)) = (self.failed.is_empty(), self.rate_limited) {
            // Only caps stood in the way: that is a 429 with when to come back, not an outage.
            let message = format!(
                "every backend of `{alias}` is at its rate limit: {}",
                self.unavailable.join("; ")
            );
            return over_limit(
                Limited {
                    scope: String::new(),
                    message,
                    retry_after: wait,
                },
                alias,
            );
        }
        combine_failures(alias, self.failed, self.unavailable, self.retry_after)
    }
}

pub(super) fn over_limit(limited: Limited, alias: &str) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limit_error",
        "rate_limit_exceeded",
        format!(
            "{}; retry in {:.1} s",
            limited.message,
            limited.retry_after.as_secs_f64()
        ),
    )
    .with_route(alias);
    error.retry_after_ms = Some(limited.retry_after.as_millis().max(1) as u64);
    error
}

pub(super) fn budget_exceeded(spent: &Spent, alias: &str) -> ApiError {
    let mut error = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "budget_error",
        "budget_exceeded",
        spent.message(),
    )
    .with_route(alias);
    error.retry_after_ms = Some(spent.resets_in_ms);
    error.resets_at = Some(spent.resets_at.clone());
    error
}

fn context_too_long(alias: &str, estimate: u64, too_small: &[(String, u64)]) -> ApiError {
    let largest = too_small.iter().map(|(_, w)| *w).max().unwrap_or(0);
    let windows: Vec<String> = too_small
        .iter()
        .map(|(t, w)| format!("`{t}` takes {w}"))
        .collect();
    ApiError::invalid_request(
        "context_length_exceeded",
        format!(
            "the input is about {estimate} tokens, more than any target of `{alias}` can take (largest context window: {largest} tokens; {})",
            windows.join(", ")
        ),
    )
    .with_route(alias)
}

/// One failure is returned as it is; several, or backends skipped as unavailable, become a 503
/// that names every backend and why.
pub(super) fn combine_failures(
    alias: &str,
    mut failures: Vec<ApiError>,
    unavailable: Vec<String>,
    retry_after: Option<Duration>,
) -> ApiError {
    // One backend (tried once or retried): its own error, with its own status and code.
    let one_target = failures
        .first()
        .is_some_and(|first| failures.iter().all(|f| f.target == first.target));
    if one_target && unavailable.is_empty() {
        if let Some(last) = failures.pop() {
            return last;
        }
    }
    let mut reasons: Vec<String> = Vec::new();
    for reason in failures
        .iter()
        .map(|f| f.message.clone())
        .chain(unavailable)
    {
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    let code = if failures.is_empty() {
        "no_backend_available"
    } else {
        "all_backends_failed"
    };
    let message = if reasons.is_empty() {
        format!("alias `{alias}` has no usable backend")
    } else {
        format!(
            "no backend for `{alias}` could answer: {}",
            reasons.join("; ")
        )
    };
    let mut error = ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "upstream_error",
        code,
        message,
    )
    .with_route(alias);
    error.provider_family = failures.last().and_then(|f| f.provider_family);
    let from_failures = failures.iter().filter_map(|f| f.retry_after_ms).min();
    let from_breakers = retry_after.map(|d| d.as_millis().max(1) as u64);
    error.retry_after_ms = match (from_failures, from_breakers) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    error
}
