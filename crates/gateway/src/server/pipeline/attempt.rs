//! Step 4, `attempt`: one call to one target. First what may have changed since the plan (its
//! provider's budget, a misconfiguration, its breaker, the budget reservation, its rate limit),
//! then the call through the client's dialect (`dialect::send`), a look at the first stream
//! event, and the outcome: served (forwarded), or failed and classified for the breaker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Map, Value};

use super::failure::{budget_exceeded, Failures};
use super::forward::{self, RouteInfo, StreamAttempt, StreamSetup};
use super::plan::Ready;
use super::record::{PendingSpend, Record};
use super::retry::TargetWalk;
use super::Run;
use crate::config::{AliasConfig, TargetConfig};
use crate::error::ApiError;
use crate::limits::Scope;
use crate::provider::{Provider, ProviderRequest, ProviderResponse};
use crate::routing::{Admission, AttemptGuard, Outcome, TargetHealth};
use crate::server::dialect;
use crate::spend::reserve::{self, Reservation};
use crate::telemetry::otel::Backend;
use crate::wire::{EventStream, SseEvent, UpstreamError, Usage};

/// How one attempt ended.
pub(super) enum Attempted {
    /// The answer is on its way to the client.
    Served(Response),
    /// The target was not called (unavailable now); the reason is in `Failures`.
    Skipped,
    /// The call failed in a way another target (or a retry) may fix.
    Failed {
        transient: bool,
        retry_after: Option<Duration>,
    },
}

/// A target let through, holding what its attempt needs.
struct Gate {
    health: Arc<TargetHealth>,
    admission: Admission,
    reservation: Reservation,
}

/// One target of the walk: the attempt, or why it was skipped. `Err` ends the request.
pub(super) async fn attempt(
    run: &Run<'_>,
    alias: &AliasConfig,
    index: usize,
    ready: &Ready,
    walk: &mut TargetWalk,
    record: &mut Record,
    failures: &mut Failures,
) -> Result<Attempted, ApiError> {
    let target = &alias.targets[index];
    let label = target.label();
    let Some(provider) = run.context.snapshot.providers.get(&target.provider) else {
        return Ok(Attempted::Skipped);
    };
    let (body, raw) = target_body(run, provider.as_ref(), target, ready);
    let Some(admission) = admit(run, target, index, &label, walk, record, failures) else {
        return Ok(Attempted::Skipped);
    };
    let parsed = if raw.is_some() { &run.body } else { &body };
    let Some(gate) = reserve(
        run, alias, target, &label, admission, parsed, record, failures,
    )?
    else {
        return Ok(Attempted::Skipped);
    };
    walk.attempt();
    let guard = gate.health.begin(gate.admission == Admission::Probe);
    let request = ProviderRequest {
        endpoint: run.endpoint,
        body,
        raw,
        stream: run.admitted.stream,
        correlation_id: run.context.correlation_id.clone(),
        timeouts: target.timeouts,
        max_tokens: target.max_tokens,
    };
    let started = Instant::now();
    let send = dialect::send(
        provider.as_ref(),
        run.client,
        ready.passthrough,
        request,
        run.admitted.estimate,
    );
    let sent = match &mut record.trace {
        Some(trace) => {
            let backend = Backend::new(provider.family(), provider_base_url(run, target));
            let traceparent = trace.attempt_header(backend);
            crate::provider::TRACEPARENT.scope(traceparent, send).await
        }
        None => send.await,
    };
    let served = Served {
        alias,
        target,
        label,
        family: provider.family(),
        dropped: ready.dropped.clone(),
        guard,
        started,
    };
    match first_event(sent).await {
        Ok(answer) => Ok(Attempted::Served(
            served.respond(run, answer, gate.reservation, record).await,
        )),
        Err(e) => served.fail(run, provider.as_ref(), e, record, failures),
    }
}

/// The base URL of the target's provider (for `server.address` in its span).
fn provider_base_url<'a>(run: &'a Run<'_>, target: &TargetConfig) -> Option<&'a str> {
    let provider = run
        .context
        .snapshot
        .config
        .providers
        .get(&target.provider)?;
    provider.base_url()
}

/// The body for this target. Where the adapter posts the chat body as is, the client's bytes
/// with the target's model spliced in: no copy of the parsed tree per attempt, no second
/// serialization. Otherwise (parameters to drop, a translating adapter) the parsed body with
/// the model set.
fn target_body(
    run: &Run<'_>,
    provider: &dyn Provider,
    target: &TargetConfig,
    ready: &Ready,
) -> (Map<String, Value>, Option<Bytes>) {
    if ready.remove.is_empty() && provider.sends_chat_as_is() {
        let spliced = run
            .raw
            .as_deref()
            .and_then(|raw| crate::wire::splice::with_model(raw, &target.model, run.asked_usage));
        if let Some(bytes) = spliced {
            return (Map::new(), Some(Bytes::from(bytes)));
        }
    }
    let mut body = run.body.clone();
    body.insert("model".into(), Value::String(target.model.clone()));
    for key in &ready.remove {
        body.remove(key);
    }
    (body, None)
}

/// The checks that need no reservation: the provider's budget, a misconfiguration and the
/// breaker. `None`: skipped (the reason is noted).
fn admit(
    run: &Run<'_>,
    target: &TargetConfig,
    index: usize,
    label: &str,
    walk: &mut TargetWalk,
    record: &mut Record,
    failures: &mut Failures,
) -> Option<(Arc<TargetHealth>, Admission)> {
    let (config, gateway) = (&run.context.snapshot.config, &run.context.gateway);
    let budgets = &gateway.inner.budgets;
    if let Some(spent) = budgets.spent(config.provider_budget(&target.provider)) {
        failures
            .unavailable
            .push(format!("backend `{label}`: {}", spent.message()));
        record.attempt(label, "skipped_budget_spent", Instant::now());
        return None;
    }
    let routing = &gateway.inner.routing;
    let health = routing.target(target);
    if health.misconfigured().is_some() {
        let fingerprint = run.context.snapshot.providers.get(&target.provider);
        health.recheck_misconfigured(fingerprint.and_then(|p| p.key_fingerprint()));
    }
    if let Some(m) = health.misconfigured() {
        failures
            .unavailable
            .push(format!("backend `{label}` is misconfigured: {}", m.reason));
        record.attempt(label, "skipped_misconfigured", Instant::now());
        return None;
    }
    let admission = walk.admission(index, &health, routing.now());
    if let Admission::No { retry_after: wait } = admission {
        walk.skipped_open(index);
        let last = health.status(Instant::now()).last_error.unwrap_or_default();
        failures.unavailable.push(format!(
            "backend `{label}` is cooling down after failures (retry in {} ms; last error: {last})",
            wait.as_millis()
        ));
        failures.breaker_open(wait);
        record.attempt(label, "skipped_breaker_open", Instant::now());
        return None;
    }
    Some((health, admission))
}

/// Reserves what the attempt may cost, so concurrent requests see it (released when the real
/// charge lands, or when the attempt fails), and takes the target's rate-limit charge.
#[allow(clippy::too_many_arguments)]
fn reserve(
    run: &Run<'_>,
    alias: &AliasConfig,
    target: &TargetConfig,
    label: &str,
    (health, admission): (Arc<TargetHealth>, Admission),
    body: &Map<String, Value>,
    record: &mut Record,
    failures: &mut Failures,
) -> Result<Option<Gate>, ApiError> {
    let (config, gateway) = (&run.context.snapshot.config, &run.context.gateway);
    let admitted = &run.admitted;
    let estimate = reserve::estimate_nano_usd(
        target.pricing,
        admitted.estimate,
        target
            .max_tokens
            .unwrap_or_else(|| super::admission::requested_output_tokens(body)),
    );
    let provider_budget = config.provider_budget(&target.provider);
    let mut names = admitted.reserve_against.clone();
    names.extend(alias.budget.as_deref());
    names.extend(provider_budget);
    // A probe that is not sent must not hold the half-open breaker.
    let release_probe = || {
        if admission == Admission::Probe {
            health.begin(true).settle(Outcome::Neutral, &target.breaker);
        }
    };
    let reservation = match gateway.inner.budgets.reserve(&names, estimate.unwrap_or(0)) {
        Ok(reservation) => reservation,
        Err(spent) => {
            release_probe();
            if Some(spent.budget.as_str()) != provider_budget {
                return Err(budget_exceeded(&spent, &admitted.requested_alias.name));
            }
            failures
                .unavailable
                .push(format!("backend `{label}`: {}", spent.message()));
            record.attempt(label, "skipped_budget_spent", Instant::now());
            return Ok(None);
        }
    };
    let scope = [(Scope::Target(label), target.limits)];
    match gateway
        .inner
        .limits
        .acquire(&scope, admitted.token_estimate)
    {
        Ok(charge) => record.charges.push(charge),
        Err(limited) => {
            release_probe();
            failures
                .unavailable
                .push(format!("backend `{label}`: {}", limited.message));
            failures.at_rate_limit(limited.retry_after);
            record.attempt(label, "skipped_rate_limited", Instant::now());
            return Ok(None);
        }
    }
    Ok(Some(Gate {
        health,
        admission,
        reservation,
    }))
}

/// An answer that reached the gateway.
enum Answer {
    Complete(Bytes, Option<Usage>),
    Stream(Option<SseEvent>, EventStream),
}

/// Waits for a stream's first event: nothing has reached the client yet, so a stream that
/// fails at once (or starts with an unreadable event) can still go to the next target.
async fn first_event(
    sent: Result<ProviderResponse, UpstreamError>,
) -> Result<Answer, UpstreamError> {
    match sent? {
        ProviderResponse::Stream(mut events) => match events.next().await {
            Some(Err(e)) => Err(e),
            Some(Ok(event)) => match forward::unreadable_event(&event) {
                Some(fault) => Err(fault),
                None => Ok(Answer::Stream(Some(event), events)),
            },
            None => Ok(Answer::Stream(None, events)),
        },
        ProviderResponse::Complete { body, usage } => Ok(Answer::Complete(body, usage)),
    }
}

/// The attempt that was made, settled one way or the other.
struct Served<'a> {
    alias: &'a AliasConfig,
    target: &'a TargetConfig,
    label: String,
    family: &'static str,
    dropped: Vec<String>,
    guard: AttemptGuard,
    started: Instant,
}

impl Served<'_> {
    /// The target answered: note it in the row and forward the answer.
    async fn respond(
        self,
        run: &Run<'_>,
        answer: Answer,
        reservation: Reservation,
        record: &mut Record,
    ) -> Response {
        let (alias, target) = (self.alias, self.target);
        let gateway = &run.context.gateway;
        record.reservation = reservation;
        record.attempt(&self.label, "ok", self.started);
        let session = run.context.session.as_ref();
        gateway
            .inner
            .routing
            .served_session(alias, session, &self.label);
        record.row.alias = Some(alias.name.clone());
        record.row.target = Some(self.label.clone());
        record.row.provider = Some(target.provider.clone());
        record.spend = Some(PendingSpend {
            budgets: gateway.inner.budgets.clone(),
            pricing: target.pricing,
            requested_alias: run.admitted.requested_alias.name.clone(),
        });
        let route = RouteInfo {
            alias: alias.name.clone(),
            target: self.label,
            family: self.family,
            dropped: self.dropped,
        };
        let first_byte = self.started.elapsed();
        match answer {
            Answer::Complete(body, usage) => {
                let outcome = Outcome::Success {
                    latency: first_byte,
                    first_token: None,
                };
                self.guard.settle(outcome, &target.breaker);
                if let Some(capture) = &mut record.capture {
                    capture.response(&body);
                }
                if let Some(trace) = &mut record.trace {
                    trace.answer(std::str::from_utf8(&body).unwrap_or_default());
                }
                record.finish_ok(usage);
                record.spend_committed().await;
                forward::json_response(body, &route)
            }
            Answer::Stream(first, rest) => {
                let setup = StreamSetup {
                    first,
                    hide_usage_chunk: run.hide_usage_chunk,
                    dialect: run.client.stream(),
                    attempt: StreamAttempt {
                        guard: self.guard,
                        breaker: target.breaker,
                        first_byte,
                    },
                };
                forward::stream_response(setup, rest, record.take(), route)
            }
        }
    }

    /// The call failed: classify it for the breaker. A refusal of the request itself ends the
    /// request (another backend would refuse it too); anything else lets the walk go on.
    fn fail(
        self,
        run: &Run<'_>,
        provider: &dyn Provider,
        e: UpstreamError,
        record: &mut Record,
        failures: &mut Failures,
    ) -> Result<Attempted, ApiError> {
        let misconfigured = e.is_misconfiguration();
        let transient = e.is_retryable() && !misconfigured;
        let retry_after = match &e {
            UpstreamError::Status {
                retry_after_ms: Some(ms),
                ..
            } => Some(Duration::from_millis(*ms)),
            _ => None,
        };
        let label = &self.label;
        let error = e
            .into_api_error(label, self.family)
            .with_route(&self.alias.name);
        let correlation_id = &run.context.correlation_id;
        tracing::info!(correlation_id, target = %label, error = %error.message, "backend attempt failed");
        record.attempt(label, error.code, self.started);
        record.row.target = Some(label.clone());
        record.row.provider = Some(self.target.provider.clone());
        let outcome = if misconfigured {
            Outcome::Misconfigured {
                reason: error.message.clone(),
                key_fingerprint: provider.key_fingerprint(),
            }
        } else if transient {
            Outcome::Failure {
                reason: error.message.clone(),
                cooldown: retry_after,
            }
        } else {
            Outcome::Neutral
        };
        self.guard.settle(outcome, &self.target.breaker);
        if !transient && !misconfigured {
            return Err(error);
        }
        failures.failed.push(error);
        Ok(Attempted::Failed {
            transient,
            retry_after,
        })
    }
}
