//! Prometheus metrics, counted from the request log's rows (every request ends as exactly one
//! row, so one call in `LogWriter::log` counts them all). The hot path is atomics only: series
//! are registered per (alias, target) when a config loads and found by two `&str` map lookups,
//! no lock and no allocation. Gauges (in-flight, breakers, budgets, log health) are read from
//! their owners at scrape time instead of being kept up to date per request.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;

use crate::config::Config;
use crate::wire::Usage;

/// Upper bounds (seconds) for latency and time-to-first-token histograms.
const BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
/// Token parts, as `part` label values, in `Series::tokens` order.
const PARTS: [&str; 6] = [
    "input",
    "output",
    "cache_read",
    "cache_write",
    "cache_write_1h",
    "reasoning",
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

#[derive(Default)]
struct Histogram {
    /// Per-bucket (not cumulative) counts; the last slot is `+Inf`.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    sum_us: AtomicU64,
}

impl Histogram {
    fn observe_ms(&self, ms: f64) {
        let seconds = ms / 1000.0;
        let slot = BUCKETS
            .iter()
            .position(|b| seconds <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((ms * 1000.0).max(0.0) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let mut cumulative = 0;
        for (i, slot) in self.buckets.iter().enumerate() {
            cumulative += slot.load(Ordering::Relaxed);
            let le = BUCKETS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
        }
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {cumulative}");
    }
}

/// Everything counted for one (alias, target) pair.
struct Series {
    /// `alias="..",target="..",provider=".."`, escaped once at registration.
    labels: String,
    requests: [AtomicU64; 5],
    latency: Histogram,
    ttft: Histogram,
    tokens: [AtomicU64; 6],
    /// Integer nano-dollars: an atomic add instead of a compare-and-swap loop on f64 bits.
    cost_nusd: AtomicU64,
}

impl Series {
    fn new(alias: &str, target: &str, provider: &str) -> Self {
        Series {
            labels: format!(
                "alias=\"{}\",target=\"{}\",provider=\"{}\"",
                escape(alias),
                escape(target),
                escape(provider)
            ),
            requests: Default::default(),
            latency: Histogram::default(),
            ttft: Histogram::default(),
            tokens: Default::default(),
            cost_nusd: AtomicU64::new(0),
        }
    }

    fn observe(&self, row: &Finished) {
        let class = (row.status / 100).clamp(1, 5) as usize - 1;
        self.requests[class].fetch_add(1, Ordering::Relaxed);
        self.latency.observe_ms(row.latency_ms);
        if let Some(ttft) = row.ttft_ms {
            self.ttft.observe_ms(ttft);
        }
        let usage = row.usage;
        let parts = [
            usage.fresh_input_tokens,
            usage.output_tokens,
            usage.cache_read_tokens,
            usage.cache_write_tokens,
            usage.cache_write_1h_tokens,
            usage.reasoning_tokens,
        ];
        for (slot, value) in self.tokens.iter().zip(parts) {
            if let Some(n) = value.filter(|n| *n > 0) {
                slot.fetch_add(n, Ordering::Relaxed);
            }
        }
        if let Some(cost) = row.cost_usd.filter(|c| *c > 0.0) {
            self.cost_nusd
                .fetch_add((cost * 1e9).round() as u64, Ordering::Relaxed);
        }
    }
}

/// What one finished request adds to the metrics: a view of its log row (`store::LogRow::finished`),
/// so the metrics need not know the log's types.
#[derive(Debug, Clone, Copy, Default)]
pub struct Finished<'a> {
    pub alias: Option<&'a str>,
    pub target: Option<&'a str>,
    pub provider: Option<&'a str>,
    pub status: u16,
    pub error_type: Option<&'a str>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    pub usage: Usage,
    pub cost_usd: Option<f64>,
}

type ByTarget = HashMap<String, Arc<Series>>;

/// Series by alias, then target (`""` for rows that never reached one).
#[derive(Default)]
struct Index {
    by_alias: HashMap<String, ByTarget>,
}

#[derive(Default)]
pub struct Metrics {
    index: ArcSwap<Index>,
    /// Every series ever registered, in label order, so a reload never resets a counter.
    all: Mutex<BTreeMap<(String, String), Arc<Series>>>,
    /// Rows whose (alias, target) the index does not know (a reload raced the request).
    /// Rare, so a lock is fine here.
    stray: Mutex<HashMap<(String, String), Arc<Series>>>,
    /// (alias, target, error type): errors are the uncommon path, a lock is fine.
    errors: Mutex<BTreeMap<(String, String, String), u64>>,
    reloads_ok: AtomicU64,
    reloads_rejected: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// What `/metrics` reads from the rest of the gateway at scrape time.
pub struct Gauges {
    /// (target, provider, breaker state, in flight).
    pub targets: Vec<(String, String, &'static str, u32)>,
    /// (budget, period, spent, limit).
    pub budgets: Vec<(String, &'static str, f64, f64)>,
    pub log_written: u64,
    pub log_dropped: u64,
}

impl Metrics {
    /// Registers a series for every (alias, target) the config names, plus each alias's
    /// "no target" series and the "no alias" one. Existing series are kept.
    pub fn configure(&self, config: &Config) {
        let Ok(mut all) = self.all.lock() else { return };
        let mut index = Index::default();
        let mut register = |alias: &str, target: &str, provider: &str| {
            let series = all
                .entry((alias.to_owned(), target.to_owned()))
                .or_insert_with(|| Arc::new(Series::new(alias, target, provider)))
                .clone();
            index
                .by_alias
                .entry(alias.to_owned())
                .or_default()
                .insert(target.to_owned(), series);
        };
        register("", "", "");
        for alias in config.aliases.values() {
            register(&alias.name, "", "");
            for target in &alias.targets {
                register(&alias.name, &target.label(), &target.provider);
            }
        }
        self.index.store(Arc::new(index));
    }

    /// Counts one finished request. Called once per request log row.
    pub fn observe(&self, row: &Finished) {
        let alias = row.alias.unwrap_or("");
        let target = row.target.unwrap_or("");
        let index = self.index.load();
        match index.by_alias.get(alias).and_then(|t| t.get(target)) {
            Some(series) => series.observe(row),
            None => self.observe_stray(row, alias, target),
        }
        if let Some(kind) = row.error_type {
            if let Ok(mut errors) = self.errors.lock() {
                *errors
                    .entry((alias.to_owned(), target.to_owned(), kind.to_owned()))
                    .or_insert(0) += 1;
            }
        }
    }

    fn observe_stray(&self, row: &Finished, alias: &str, target: &str) {
        let Ok(mut stray) = self.stray.lock() else {
            return;
        };
        let provider = row.provider.unwrap_or("");
        stray
            .entry((alias.to_owned(), target.to_owned()))
            .or_insert_with(|| Arc::new(Series::new(alias, target, provider)))
            .observe(row);
    }

    pub fn reload(&self, ok: bool) {
        let counter = if ok {
            &self.reloads_ok
        } else {
            &self.reloads_rejected
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition format (version 0.0.4).
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut series: Vec<Arc<Series>> = self
            .all
            .lock()
            .map(|all| all.values().cloned().collect())
            .unwrap_or_default();
        if let Ok(stray) = self.stray.lock() {
            series.extend(stray.values().cloned());
        }
        let mut out = String::with_capacity(4096 + series.len() * 2048);

        header(
            &mut out,
            "switchboard_requests_total",
            "counter",
            "Finished requests (one per request log row), by HTTP status class.",
        );
        for s in &series {
            for (class, count) in CLASSES.iter().zip(&s.requests) {
                let n = count.load(Ordering::Relaxed);
                if n > 0 || *class == "2xx" {
                    let _ = writeln!(
                        out,
                        "switchboard_requests_total{{{},status_class=\"{class}\"}} {n}",
                        s.labels
                    );
                }
            }
        }
        header(
            &mut out,
            "switchboard_errors_total",
            "counter",
            "Failed requests by error type (the error code the client got).",
        );
        if let Ok(errors) = self.errors.lock() {
            for ((alias, target, kind), n) in errors.iter() {
                let _ = writeln!(
                    out,
                    "switchboard_errors_total{{alias=\"{}\",target=\"{}\",type=\"{}\"}} {n}",
                    escape(alias),
                    escape(target),
                    escape(kind)
                );
            }
        }
        header(
            &mut out,
            "switchboard_request_duration_seconds",
            "histogram",
            "Time from request to the last byte of the answer.",
        );
        for s in &series {
            s.latency
                .render(&mut out, "switchboard_request_duration_seconds", &s.labels);
        }
        header(
            &mut out,
            "switchboard_time_to_first_token_seconds",
            "histogram",
            "Time from request to the first streamed token.",
        );
        for s in &series {
            s.ttft.render(
                &mut out,
                "switchboard_time_to_first_token_seconds",
                &s.labels,
            );
        }
        header(&mut out, "switchboard_tokens_total", "counter", "Tokens by part: input is fresh (uncached) input; cache_read/cache_write are the cached input parts; reasoning is part of output.");
        for s in &series {
            for (part, count) in PARTS.iter().zip(&s.tokens) {
                let n = count.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "switchboard_tokens_total{{{},part=\"{part}\"}} {n}",
                    s.labels
                );
            }
        }
        header(
            &mut out,
            "switchboard_cost_usd_total",
            "counter",
            "Spend in US dollars, priced as the request log prices it.",
        );
        for s in &series {
            let usd = s.cost_nusd.load(Ordering::Relaxed) as f64 / 1e9;
            let _ = writeln!(out, "switchboard_cost_usd_total{{{}}} {usd}", s.labels);
        }
        header(
            &mut out,
            "switchboard_in_flight",
            "gauge",
            "Attempts running now, per target.",
        );
        for (target, provider, _, n) in &gauges.targets {
            let _ = writeln!(
                out,
                "switchboard_in_flight{{target=\"{}\",provider=\"{}\"}} {n}",
                escape(target),
                escape(provider)
            );
        }
        header(&mut out, "switchboard_breaker_state", "gauge", "1 for the state each target's breaker is in (healthy, open, half_open, misconfigured).");
        for (target, provider, state, _) in &gauges.targets {
            for candidate in ["healthy", "open", "half_open", "misconfigured"] {
                let on = u8::from(candidate == *state);
                let _ = writeln!(out, "switchboard_breaker_state{{target=\"{}\",provider=\"{}\",state=\"{candidate}\"}} {on}", escape(target), escape(provider));
            }
        }
        header(
            &mut out,
            "switchboard_budget_spent_usd",
            "gauge",
            "Spend in the budget's current period.",
        );
        for (name, period, spent, _) in &gauges.budgets {
            let _ = writeln!(
                out,
                "switchboard_budget_spent_usd{{budget=\"{}\",period=\"{period}\"}} {spent}",
                escape(name)
            );
        }
        header(
            &mut out,
            "switchboard_budget_limit_usd",
            "gauge",
            "The budget's limit per period.",
        );
        for (name, period, _, limit) in &gauges.budgets {
            let _ = writeln!(
                out,
                "switchboard_budget_limit_usd{{budget=\"{}\",period=\"{period}\"}} {limit}",
                escape(name)
            );
        }
        header(
            &mut out,
            "switchboard_config_reloads_total",
            "counter",
            "Config reloads, applied or rejected.",
        );
        let ok = self.reloads_ok.load(Ordering::Relaxed);
        let rejected = self.reloads_rejected.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "switchboard_config_reloads_total{{result=\"applied\"}} {ok}"
        );
        let _ = writeln!(
            out,
            "switchboard_config_reloads_total{{result=\"rejected\"}} {rejected}"
        );
        header(
            &mut out,
            "switchboard_log_rows_written_total",
            "counter",
            "Request log rows committed to the database.",
        );
        let _ = writeln!(
            out,
            "switchboard_log_rows_written_total {}",
            gauges.log_written
        );
        header(
            &mut out,
            "switchboard_log_rows_dropped_total",
            "counter",
            "Request log rows dropped (writer backlog full or the database failing).",
        );
        let _ = writeln!(
            out,
            "switchboard_log_rows_dropped_total {}",
            gauges.log_dropped
        );
        out
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Label values: backslash, double quote and newline are escaped.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return value.into();
    }
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row<'a>(
        alias: Option<&'a str>,
        target: Option<&'a str>,
        status: u16,
        latency_ms: f64,
    ) -> Finished<'a> {
        Finished {
            alias,
            target,
            provider: target.map(|t| t.split('/').next().unwrap_or("")),
            status,
            latency_ms,
            ..Finished::default()
        }
    }

    #[test]
    fn rows_land_in_their_series_and_buckets() {
        let metrics = Metrics::default();
        metrics.observe(&row(None, None, 404, 3.0));
        let mut failed = row(Some("gone"), Some("p/m"), 502, 700.0);
        failed.error_type = Some("upstream_error");
        metrics.observe(&failed);
        let text = metrics.render(&Gauges {
            targets: vec![],
            budgets: vec![],
            log_written: 1,
            log_dropped: 0,
        });
        assert!(text.contains(
            "switchboard_requests_total{alias=\"\",target=\"\",provider=\"\",status_class=\"4xx\"} 1"
        ), "{text}");
        // Unknown to the config (a reload raced it): still counted.
        assert!(text.contains(
            "switchboard_requests_total{alias=\"gone\",target=\"p/m\",provider=\"p\",status_class=\"5xx\"} 1"
        ), "{text}");
        assert!(text.contains(
            "switchboard_errors_total{alias=\"gone\",target=\"p/m\",type=\"upstream_error\"} 1"
        ));
        assert!(text.contains("switchboard_request_duration_seconds_bucket{alias=\"gone\",target=\"p/m\",provider=\"p\",le=\"0.5\"} 0"));
        assert!(text.contains("switchboard_request_duration_seconds_bucket{alias=\"gone\",target=\"p/m\",provider=\"p\",le=\"1\"} 1"));
        assert!(text.contains("switchboard_request_duration_seconds_sum{alias=\"gone\",target=\"p/m\",provider=\"p\"} 0.7\n"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(escape("plain"), "plain");
    }
}
