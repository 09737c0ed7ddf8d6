//! Step 6, `record`: the request-log row being built for one request, with the rate-limit
//! charges, budget reservation and spend it settles when it is written. Written exactly once:
//! on finish, or on drop if the client went away first (status 499, `client_closed`).

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::capture::Capture;
use crate::clock::now_ms;
use crate::config::prices;
use crate::config::Pricing;
use crate::error::ApiError;
use crate::limits::Charge;
use crate::spend::reserve::Reservation;
use crate::spend::Budgets;
use crate::store::ledger::{SpendParts, SpendRow};
use crate::store::{LogRow, LogWriter};
use crate::telemetry::otel::RequestTrace;
use crate::wire::Usage;
use std::sync::Arc;

#[derive(Serialize)]
struct Attempt<'a> {
    target: &'a str,
    outcome: &'a str,
    ms: f64,
}

/// What is needed to charge a served request to its budgets once its usage is known.
pub(super) struct PendingSpend {
    pub(super) budgets: Arc<Budgets>,
    pub(super) pricing: Pricing,
    pub(super) requested_alias: String,
}

/// The log row being built for one request. Written exactly once: on finish, or on drop if the
/// client went away first (status 499, `client_closed`).
pub(super) struct Record {
    /// Set once a backend serves; charged in `write` from the usage it reported.
    pub(super) spend: Option<PendingSpend>,
    /// Resolves when the charged spend is in the ledger.
    pub(super) committed: Option<tokio::sync::oneshot::Receiver<()>>,
    /// Rate-limit charges held while the request runs (concurrency permits, TPM estimate).
    pub(super) charges: Vec<Charge>,
    /// The served attempt's budget reservation, released once its spend is charged.
    pub(super) reservation: Reservation,
    pub(super) log: Option<LogWriter>,
    pub(super) row: LogRow,
    pub(super) started: Instant,
    pub(super) attempts: Vec<String>,
    /// Bodies for the dashboard, when `[database] capture_bodies` asks for them.
    pub(super) capture: Option<Box<Capture>>,
    /// The request's OpenTelemetry trace, when `[telemetry]` export is on.
    pub(super) trace: Option<Box<RequestTrace>>,
}

impl Record {
    pub(super) fn new(log: LogWriter, endpoint: &'static str, correlation_id: &str) -> Self {
        let ts_ms = now_ms() as i64;
        Record {
            spend: None,
            committed: None,
            charges: Vec::new(),
            reservation: Reservation::none(),
            log: Some(log),
            row: LogRow {
                ts_ms,
                correlation_id: correlation_id.to_owned(),
                endpoint,
                ..LogRow::default()
            },
            started: Instant::now(),
            attempts: Vec::new(),
            capture: None,
            trace: None,
        }
    }

    /// Moves the pending row out (into a stream), leaving a spent record behind.
    pub(super) fn take(&mut self) -> Record {
        Record {
            spend: self.spend.take(),
            committed: self.committed.take(),
            charges: std::mem::take(&mut self.charges),
            reservation: std::mem::take(&mut self.reservation),
            log: self.log.take(),
            row: std::mem::take(&mut self.row),
            started: self.started,
            attempts: std::mem::take(&mut self.attempts),
            capture: self.capture.take(),
            trace: self.trace.take(),
        }
    }

    /// A routing decision worth keeping in the log's path (e.g. long-context rerouting).
    pub(super) fn note(&mut self, note: &str) {
        if let Ok(json) = serde_json::to_string(&serde_json::json!({ "note": note })) {
            self.attempts.push(json);
        }
    }

    pub(super) fn attempt(&mut self, target: &str, outcome: &str, started: Instant) {
        let attempt = Attempt {
            target,
            outcome,
            ms: round_ms(started.elapsed().as_secs_f64() * 1000.0),
        };
        if let Ok(json) = serde_json::to_string(&attempt) {
            self.attempts.push(json);
        }
        if let Some(trace) = &mut self.trace {
            trace.attempt(target, outcome, started);
        }
    }

    pub(super) fn first_token(&mut self) {
        if self.row.ttft_ms.is_none() {
            self.row.ttft_ms = Some(round_ms(self.started.elapsed().as_secs_f64() * 1000.0));
        }
    }

    pub(super) fn finish_ok(&mut self, usage: Option<Usage>) {
        self.row.status = 200;
        if let Some(usage) = usage {
            self.row.set_usage(&usage);
        }
        self.write();
    }

    /// A stream that failed after it started: the client got 200 and then an error event.
    pub(super) fn finish_stream_error(&mut self, error: &ApiError) {
        self.row.status = 200;
        self.row.error_type = Some(error.code.to_owned());
        self.write();
    }

    pub(super) fn finish_error(&mut self, error: &ApiError) {
        if let Some(capture) = &mut self.capture {
            if let Ok(body) = serde_json::to_vec(&serde_json::json!({ "error": error })) {
                capture.response(&body);
            }
        }
        self.row.status = error.status.as_u16();
        self.row.error_type = Some(error.code.to_owned());
        self.write();
    }

    fn write(&mut self) {
        let Some(log) = self.log.take() else { return };
        // Settle TPM estimates to what was really used (nothing, for a failed request) and
        // release concurrency permits.
        let used = self.row.input_tokens.unwrap_or(0) + self.row.output_tokens.unwrap_or(0);
        for charge in &mut self.charges {
            charge.settle(used);
        }
        self.charges.clear();
        self.charge_spend();
        // The real cost is in the totals now: the estimate stops counting.
        self.reservation = Reservation::none();
        self.row.latency_ms = round_ms(self.started.elapsed().as_secs_f64() * 1000.0);
        if !self.attempts.is_empty() {
            self.row.attempts = Some(format!("[{}]", self.attempts.join(",")));
        }
        if let Some(capture) = self.capture.take() {
            let failed = self.row.status >= 400 || self.row.error_type.is_some();
            self.row.bodies = capture.finish(failed).map(Box::new);
        }
        if let Some(trace) = self.trace.take() {
            trace.finish(&self.row.finished(), &self.row.correlation_id);
        }
        log.log(std::mem::take(&mut self.row));
    }
}

/// How long an answer that cost money may wait for its spend to reach the ledger.
pub(super) const SPEND_COMMIT_WAIT: Duration = Duration::from_secs(2);

impl Record {
    /// Waits (bounded) until the request's spend is committed to the ledger, so a client never
    /// holds an answer whose cost a crash could still lose. Free requests have nothing to wait
    /// for; the wait is one group commit shared with every request finishing meanwhile.
    pub(super) async fn spend_committed(&mut self) {
        if let Some(committed) = self.committed.take() {
            if tokio::time::timeout(SPEND_COMMIT_WAIT, committed)
                .await
                .is_err()
            {
                tracing::warn!(correlation_id = %self.row.correlation_id, "spend ledger is slow; answered before the spend was committed");
            }
        }
    }

    /// Prices the usage the backend reported and charges it to every budget it counts against.
    /// Without reported usage, or for an unpriced cloud model, the cost stays unknown (NULL).
    fn charge_spend(&mut self) {
        let Some(spend) = self.spend.take() else {
            return;
        };
        let usage = self.row.usage();
        if usage.is_empty() {
            return;
        }
        let Some(price) = spend.pricing.price() else {
            return;
        };
        let cost = prices::cost(price, &usage);
        self.row.cost_usd = Some(cost.nano_usd as f64 / 1e9);
        let (Some(provider), Some(target), Some(alias)) = (
            self.row.provider.clone(),
            self.row.target.clone(),
            self.row.alias.clone(),
        ) else {
            return;
        };
        self.committed = spend.budgets.charge(SpendRow {
            ts_ms: now_ms() as i64,
            correlation_id: self.row.correlation_id.clone(),
            provider,
            target,
            alias,
            requested_alias: spend.requested_alias,
            client: self.row.client.clone(),
            tenant: self.row.tenant.clone(),
            input_tokens: usage.input_tokens().unwrap_or(0),
            output_tokens: usage.output_tokens.unwrap_or(0),
            nano_usd: cost.nano_usd,
            parts: SpendParts::new(&usage, cost.uncached_nano_usd),
        });
    }
}

impl Drop for Record {
    fn drop(&mut self) {
        if self.log.is_some() {
            self.row.status = 499;
            self.row.error_type = Some("client_closed".into());
            tracing::info!(correlation_id = %self.row.correlation_id, "client went away; upstream request cancelled");
            self.write();
        }
    }
}

fn round_ms(ms: f64) -> f64 {
    (ms * 1000.0).round() / 1000.0
}
