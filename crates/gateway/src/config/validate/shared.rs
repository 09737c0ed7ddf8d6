//! Settings more than one section uses: http(s) URLs, seconds, `[breaker]` and timeouts tables
//! (the top level's and each provider's override).

use std::time::Duration;

use super::super::diagnostics::{Diagnostic, Locator, Seg};
use super::super::raw::{RawBreaker, RawTimeouts};
use super::super::{BreakerSettings, SlowFirstToken, Timeouts};

pub(super) fn http_url(
    value: Option<&str>,
    path: &[Seg],
    key: &str,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> Option<String> {
    let url = value?;
    match url::Url::parse(url) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
            Some(url.trim_end_matches('/').to_owned())
        }
        _ => {
            errors.push(loc.at(
                path,
                format!("`{key}` must be an http:// or https:// URL, not {url:?}"),
            ));
            None
        }
    }
}

/// A positive, finite number of seconds, or an error at `path`.
pub(super) fn seconds(
    value: Option<f64>,
    path: &[Seg],
    key: &str,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> Option<f64> {
    match value {
        Some(v) if v.is_finite() && v > 0.0 && v < 1.0e7 => Some(v),
        Some(v) => {
            errors.push(loc.at(
                path,
                format!("`{key}` must be a positive number of seconds, not {v}"),
            ));
            None
        }
        None => None,
    }
}

pub(super) fn build_breaker(
    raw: Option<&RawBreaker>,
    path: &[Seg],
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> BreakerSettings {
    let defaults = BreakerSettings::default();
    let Some(raw) = raw else { return defaults };
    let at = |key: &'static str| {
        let mut full = path.to_vec();
        full.push(Seg::Key(key));
        full
    };
    let duration =
        |value: Option<f64>, key: &'static str, default: Duration, errors: &mut Vec<Diagnostic>| {
            seconds(value, &at(key), key, loc, errors)
                .map(Duration::from_secs_f64)
                .unwrap_or(default)
        };
    let settings = BreakerSettings {
        failures: raw.failures.unwrap_or(defaults.failures),
        error_rate: raw.error_rate.unwrap_or(defaults.error_rate),
        window: duration(raw.window_s, "window_s", defaults.window, errors),
        min_requests: raw.min_requests.unwrap_or(defaults.min_requests),
        cooldown: duration(raw.cooldown_s, "cooldown_s", defaults.cooldown, errors),
        max_cooldown: duration(
            raw.max_cooldown_s,
            "max_cooldown_s",
            defaults.max_cooldown,
            errors,
        ),
        slow_first_token: raw.slow_first_token_factor.map(|factor| SlowFirstToken {
            factor,
            floor: raw
                .slow_first_token_floor_ms
                .filter(|ms| ms.is_finite() && *ms >= 0.0)
                .map(|ms| Duration::from_secs_f64(ms / 1000.0))
                .unwrap_or(SlowFirstToken::DEFAULT_FLOOR),
        }),
    };
    if raw.slow_factor.is_some() {
        // Not mapped onto the new rule: it measured total latency, which grows with the answer.
        tracing::warn!(
            "breaker `slow_factor` no longer has an effect (total latency is not a failure signal); \
             remove it, or use `slow_first_token_factor` to judge time to first token"
        );
    }
    if settings.failures == 0 {
        errors.push(loc.at(&at("failures"), "`failures` must be at least 1"));
    }
    if !(settings.error_rate > 0.0 && settings.error_rate <= 1.0) {
        errors.push(loc.at(
            &at("error_rate"),
            "`error_rate` must be a fraction above 0 and at most 1, e.g. 0.5",
        ));
    }
    if let Some(factor) = raw.slow_first_token_factor {
        if !(factor.is_finite() && factor > 1.0) {
            errors.push(loc.at(
                &at("slow_first_token_factor"),
                "`slow_first_token_factor` must be a number above 1, e.g. 10",
            ));
        }
    }
    if let Some(ms) = raw.slow_first_token_floor_ms {
        if !(ms.is_finite() && ms >= 0.0) {
            errors.push(loc.at(
                &at("slow_first_token_floor_ms"),
                "`slow_first_token_floor_ms` must be a number of milliseconds, e.g. 2000",
            ));
        } else if raw.slow_first_token_factor.is_none() {
            errors.push(loc.at(
                &at("slow_first_token_floor_ms"),
                "`slow_first_token_floor_ms` has no effect without `slow_first_token_factor`",
            ));
        }
    }
    if settings.max_cooldown < settings.cooldown {
        errors.push(loc.at(
            &at("max_cooldown_s"),
            "`max_cooldown_s` must not be below `cooldown_s`",
        ));
    }
    settings
}

pub(super) fn apply_timeouts(
    base: Timeouts,
    raw: Option<&RawTimeouts>,
    path: &[Seg],
    connect_allowed: bool,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> Timeouts {
    let Some(raw) = raw else { return base };
    let mut get = |value: Option<f64>, key: &'static str, current: Duration| -> Duration {
        let mut full = path.to_vec();
        full.push(Seg::Key(key));
        match value {
            Some(v) if v.is_finite() && v > 0.0 && v < 1.0e7 => Duration::from_secs_f64(v),
            Some(v) => {
                errors.push(loc.at(
                    &full,
                    format!("`{key}` must be a positive number of seconds, not {v}"),
                ));
                current
            }
            None => current,
        }
    };
    let out = Timeouts {
        connect: get(raw.connect_s, "connect_s", base.connect),
        first_byte: get(raw.first_byte_s, "first_byte_s", base.first_byte),
        idle: get(raw.idle_s, "idle_s", base.idle),
        total: get(raw.total_s, "total_s", base.total),
    };
    if !connect_allowed && raw.connect_s.is_some() {
        let mut full = path.to_vec();
        full.push(Seg::Key("connect_s"));
        errors.push(loc.at_key(
            &full,
            "`connect_s` is set per provider (one connection pool each), not per target",
        ));
    }
    out
}
