//! The request path: read and check the body, resolve the alias, try its targets (then its opt-in
//! fallbacks), and send back the body or forward the stream event by event. Every outcome, client
//! disconnects included, ends up as one request-log row.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde::Serialize;
use serde_json::{Map, Value};
use std::future::Future;

use std::collections::VecDeque;
use std::time::Duration;

use super::guard::ClientIdentity;
use crate::affinity::SessionKey;
use crate::capture::Capture;
use crate::config::prices;
use crate::config::Pricing;
use crate::config::{AliasConfig, BreakerSettings, Limits, ParamPolicy, WhenSpent};
use crate::error::ApiError;
use crate::gateway::{now_ms, Gateway, Snapshot};
use crate::limits::{Charge, Limited, Scope};
use crate::provider::{Endpoint, NativeEndpoint, NativeRequest, ProviderRequest, ProviderResponse};
use crate::routing::{Admission, AttemptGuard, Outcome};
use crate::spend::reserve::{self, Reservation};
use crate::spend::{Budgets, Spent};
use crate::store::ledger::{SpendParts, SpendRow};
use crate::store::{LogRow, LogWriter};
use crate::translate;
use crate::wire::{estimate_input_tokens, EventStream, SseEvent, UpstreamError, Usage};

pub const ALIAS_HEADER: &str = "x-switchboard-alias";
pub const TARGET_HEADER: &str = "x-switchboard-target";
pub const DROPPED_HEADER: &str = "x-switchboard-dropped-params";

/// An OpenAI-shaped answer in Anthropic's shape, for the Anthropic ingress.
fn to_anthropic(
    response: ProviderResponse,
    model: &str,
    input_estimate: u64,
) -> Result<ProviderResponse, UpstreamError> {
    Ok(match response {
        ProviderResponse::Complete { body, usage } => {
            let completion: translate::openai::ChatCompletion = serde_json::from_slice(&body)
                .map_err(|e| {
                    UpstreamError::Protocol(format!("body is not a chat completion ({e})"))
                })?;
            let message = translate::anthropic::response_from_openai(completion, model);
            let body =
                serde_json::to_vec(&message).map_err(|e| UpstreamError::Protocol(e.to_string()))?;
            ProviderResponse::Complete {
                body: Bytes::from(body),
                usage,
            }
        }
        ProviderResponse::Stream(events) => ProviderResponse::Stream(translate::translate_stream(
            events,
            translate::anthropic::FromOpenAiStream::new(model, input_estimate),
        )),
    })
}

/// Which API the client speaks: OpenAI's (the gateway's own shape) or Anthropic's Messages API,
/// which is translated to OpenAI's for backends that do not speak it and passed through to
/// those that do.
pub(super) enum Ingress {
    OpenAi,
    Anthropic(AnthropicIngress),
    /// OpenAI's Responses API (`super::responses`): passed through to backends that speak it.
    Responses(Box<super::responses::ResponsesIngress>),
}

pub(super) struct AnthropicIngress {
    pub endpoint: NativeEndpoint,
    /// The request as the client sent it, for backends that speak Anthropic natively.
    pub native: Map<String, Value>,
    /// The client's `anthropic-beta` header.
    pub beta: Option<String>,
    /// What the translation to OpenAI's shape could not carry over.
    pub dropped: Vec<String>,
    /// Why the body cannot be translated to OpenAI's shape (only native backends can take it).
    pub untranslatable: Option<String>,
}

pub(super) async fn handle(
    gateway: Gateway,
    endpoint: Endpoint,
    correlation_id: String,
    request: Request,
) -> Response {
    let snapshot = gateway.snapshot();
    let (mut record, identity, session) = start(
        &gateway,
        &snapshot,
        endpoint.path(),
        &correlation_id,
        &request,
    );
    let context = RequestContext {
        snapshot: &snapshot,
        gateway: &gateway,
        identity: identity.as_ref(),
        correlation_id: &correlation_id,
        session,
    };
    let result = match read_json_body(request, snapshot.config.server.max_body_bytes).await {
        Ok(body) => {
            record.capture = Capture::start(snapshot.config.capture, &body);
            route(&context, endpoint, body, &Ingress::OpenAi, &mut record).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(response) => response,
        Err(error) => {
            let error = error.with_correlation_id(&correlation_id);
            record.finish_error(&error);
            error.into_response()
        }
    }
}

/// The Anthropic ingress: the client's body becomes the OpenAI-shaped body routing works on
/// (`super::anthropic::ingress`), plus what a native backend gets.
pub(super) async fn handle_anthropic(
    gateway: Gateway,
    endpoint: NativeEndpoint,
    correlation_id: String,
    request: Request,
) -> Response {
    let snapshot = gateway.snapshot();
    let (mut record, identity, session) = start(
        &gateway,
        &snapshot,
        endpoint.path(),
        &correlation_id,
        &request,
    );
    let context = RequestContext {
        snapshot: &snapshot,
        gateway: &gateway,
        identity: identity.as_ref(),
        correlation_id: &correlation_id,
        session,
    };
    let beta = super::anthropic::beta_header(request.headers());
    let result = match read_json_body(request, snapshot.config.server.max_body_bytes).await {
        Ok(native) => {
            record.capture = Capture::start(snapshot.config.capture, &native);
            let (body, anthropic) = super::anthropic::ingress(native, endpoint, beta);
            let ingress = Ingress::Anthropic(anthropic);
            route(
                &context,
                Endpoint::ChatCompletions,
                body,
                &ingress,
                &mut record,
            )
            .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(response) => response,
        Err(error) => {
            let error = error.with_correlation_id(&correlation_id);
            record.finish_error(&error);
            error.into_anthropic_response()
        }
    }
}

/// The Responses ingress: the client's body becomes the chat-shaped body routing works on
/// (`super::responses::ingress`), plus what a native backend gets.
pub(super) async fn handle_responses(
    gateway: Gateway,
    correlation_id: String,
    request: Request,
) -> Response {
    let snapshot = gateway.snapshot();
    // Affinity by session headers only; `SessionKey::response(previous_response_id)` is the
    // hook for keying a Responses conversation.
    let (mut record, identity, session) = start(
        &gateway,
        &snapshot,
        NativeEndpoint::Responses.path(),
        &correlation_id,
        &request,
    );
    let context = RequestContext {
        snapshot: &snapshot,
        gateway: &gateway,
        identity: identity.as_ref(),
        correlation_id: &correlation_id,
        session,
    };
    let client = identity.as_ref().map(|i| i.token.as_str());
    let result = match read_json_body(request, snapshot.config.server.max_body_bytes).await {
        Ok(native) => {
            record.capture = Capture::start(snapshot.config.capture, &native);
            match super::responses::ingress(&gateway, native, client).await {
                Ok((body, responses)) => {
                    let ingress = Ingress::Responses(Box::new(responses));
                    route(
                        &context,
                        Endpoint::ChatCompletions,
                        body,
                        &ingress,
                        &mut record,
                    )
                    .await
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(response) => response,
        Err(error) => {
            let error = error.with_correlation_id(&correlation_id);
            record.finish_error(&error);
            error.into_response()
        }
    }
}

/// What every ingress sets up before reading the body: the log row (naming the caller), the
/// caller's identity and the agent session the request belongs to.
fn start(
    gateway: &Gateway,
    snapshot: &Snapshot,
    endpoint: &'static str,
    correlation_id: &str,
    request: &Request,
) -> (Record, Option<ClientIdentity>, Option<SessionKey>) {
    let mut record = Record::new(gateway.inner.log.clone(), endpoint, correlation_id);
    let identity = request.extensions().get::<ClientIdentity>().cloned();
    if let Some(identity) = &identity {
        record.row.client = Some(identity.token.clone());
        record.row.tenant = identity.tenant.clone();
    }
    let session = SessionKey::from_headers(
        request.headers(),
        snapshot.config.server.affinity_header.as_ref(),
    );
    (record, identity, session)
}

/// Reads a JSON object body of at most `limit` bytes.
async fn read_json_body(request: Request, limit: usize) -> Result<Map<String, Value>, ApiError> {
    let body = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|e| {
            if super::decompress::is_over_limit(&e) {
                ApiError::body_too_large(limit)
            } else {
                ApiError::invalid_request(
                    "invalid_body_encoding",
                    format!("the request body could not be read or decompressed: {e}"),
                )
            }
        })?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::invalid_request(
            "invalid_body",
            "request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::invalid_json(&e)),
    }
}

/// What every step of one request needs to know.
struct RequestContext<'a> {
    /// The config the request started with; kept to the end even if a reload swaps it.
    snapshot: &'a Arc<Snapshot>,
    gateway: &'a Gateway,
    identity: Option<&'a ClientIdentity>,
    correlation_id: &'a str,
    /// The agent session the request belongs to, for prompt-cache affinity.
    session: Option<SessionKey>,
}

async fn route(
    context: &RequestContext<'_>,
    endpoint: Endpoint,
    mut body: Map<String, Value>,
    ingress: &Ingress,
    record: &mut Record,
) -> Result<Response, ApiError> {
    let (snapshot, correlation_id) = (context.snapshot, context.correlation_id);
    let (routing, limits) = (
        &context.gateway.inner.routing,
        &context.gateway.inner.limits,
    );
    let identity = context.identity;
    let requested = match body.get("model") {
        Some(Value::String(model)) if !model.is_empty() => model.clone(),
        _ => {
            return Err(ApiError::invalid_request(
                "missing_model",
                "request body needs `model`: one of the aliases listed by GET /v1/models",
            ))
        }
    };
    record.row.requested_model = Some(requested.clone());
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::invalid_request(
                "invalid_stream",
                "`stream` must be true or false",
            )
            .with_route(&requested))
        }
    };
    if stream && !endpoint.supports_streaming() {
        return Err(ApiError::invalid_request(
            "invalid_stream",
            format!("/{} does not stream", endpoint.path()),
        )
        .with_route(&requested));
    }
    record.row.streamed = stream;

    let Some(requested_alias) = snapshot.config.find_alias(&requested) else {
        let suggestions = snapshot
            .config
            .suggest_aliases(&requested)
            .into_iter()
            .map(str::to_owned)
            .collect();
        return Err(ApiError::model_not_found(&requested, suggestions).with_route(&requested));
    };
    record.row.alias = Some(requested_alias.name.clone());
    if let Some(identity) = identity.filter(|i| !i.may_use(&requested_alias.name)) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "alias_not_allowed",
            format!(
                "client token `{}` may not use alias `{}`",
                identity.token, requested_alias.name
            ),
        )
        .with_route(&requested_alias.name));
    }

    // Long inputs go to the alias's long-context alias, when it has one.
    let estimate = estimate_input_tokens(&body);
    let alias = match &requested_alias.long_context {
        Some(lc) if estimate > lc.above_tokens => match snapshot.config.aliases.get(&lc.alias) {
            Some(long) => {
                record.note(&format!(
                    "~{estimate} input tokens > {}: routed to `{}`",
                    lc.above_tokens, long.name
                ));
                long
            }
            None => requested_alias,
        },
        _ => requested_alias,
    };

    // Budgets of the caller and the alias: a spent one refuses, or reroutes once to its alias.
    let budgets = &context.gateway.inner.budgets;
    let mut alias = alias;
    let mut caller_budgets: Vec<&str> = Vec::new();
    if let Some(identity) = identity {
        let token = snapshot.config.tokens.get(&identity.token);
        caller_budgets.extend(token.and_then(|t| t.budget.as_deref()));
        let tenant = identity
            .tenant
            .as_ref()
            .and_then(|t| snapshot.config.tenants.get(t));
        caller_budgets.extend(tenant.and_then(|t| t.budget.as_deref()));
    }
    caller_budgets.extend(requested_alias.budget.as_deref());
    // What each attempt reserves its estimate against (with its provider's and alias's).
    let mut reserve_against: Vec<&str> = caller_budgets.clone();
    reserve_against.extend(alias.budget.as_deref());
    let spent = budgets
        .spent(
            caller_budgets
                .iter()
                .copied()
                .chain(alias.budget.as_deref()),
        )
        .or_else(|| every_provider_spent(budgets, snapshot, alias));
    if let Some(spent) = spent {
        let reroute = match &spent.when_spent {
            WhenSpent::Reroute(to) => snapshot
                .config
                .aliases
                .get(to)
                .filter(|a| a.name != alias.name),
            WhenSpent::Refuse => None,
        };
        let Some(reroute) = reroute else {
            return Err(budget_exceeded(&spent, &requested_alias.name));
        };
        record.note(&format!(
            "budget `{}` is spent: rerouted to `{}`",
            spent.budget, reroute.name
        ));
        alias = reroute;
        reserve_against = alias.budget.iter().map(String::as_str).collect();
        // The reroute alias's own budget and providers still count.
        let spent_too = budgets
            .spent(alias.budget.as_deref())
            .or_else(|| every_provider_spent(budgets, snapshot, alias));
        if let Some(spent_too) = spent_too {
            return Err(budget_exceeded(&spent_too, &alias.name));
        }
    }

    // Ask for usage in streams so the log has token counts; hide the extra chunk from clients
    // that did not ask for it.
    let mut hide_usage_chunk = false;
    let anthropic = match ingress {
        Ingress::Anthropic(a) => Some(a),
        _ => None,
    };
    let responses = match ingress {
        Ingress::Responses(r) => Some(r.as_ref()),
        _ => None,
    };
    if stream
        && body
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .is_none()
    {
        let options = body
            .entry("stream_options")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(options) = options {
            options.insert("include_usage".into(), Value::Bool(true));
            hide_usage_chunk = matches!(ingress, Ingress::OpenAi);
        }
    }

    // Limits of the caller and the alias, charged once per request (targets have their own).
    let token_estimate = estimate + requested_output_tokens(&body);
    let mut scopes: Vec<(Scope<'_>, Limits)> = Vec::new();
    if let Some(identity) = identity {
        if let Some(token) = snapshot.config.tokens.get(&identity.token) {
            scopes.push((Scope::ClientToken(&token.name), token.limits));
        }
        if let Some(tenant) = &identity.tenant {
            if let Some(tenant_limits) = snapshot.config.tenants.get(tenant) {
                scopes.push((Scope::Tenant(tenant), tenant_limits.limits));
            }
        }
    }
    scopes.push((Scope::Alias(&requested_alias.name), requested_alias.limits));
    let charge = limits
        .acquire(&scopes, token_estimate)
        .map_err(|l| over_limit(l, &requested_alias.name))?;
    record.charges.push(charge);

    let chain: Vec<&AliasConfig> = snapshot.config.alias_chain(alias).collect();
    let mut failures: Vec<ApiError> = Vec::new();
    let mut unavailable: Vec<String> = Vec::new();
    let mut retry_after: Option<Duration> = None;
    let mut too_small: Vec<(String, u64)> = Vec::new();
    let mut rate_limited: Option<Duration> = None;
    let mut untranslatable: Option<ApiError> = None;
    for candidate in chain {
        let mut queue: VecDeque<usize> = routing
            .order_for_session(candidate, context.session.as_ref())
            .into();
        let mut attempts_left = candidate.retries.attempts;
        let mut backoff = candidate.retries.backoff;
        // The last-target rule: targets skipped for an open breaker, and the one let through.
        let (mut skipped_open, mut last_resort, mut tried) = (Vec::new(), None, false);
        let mut rescued = false;
        loop {
            let Some(index) = queue.pop_front() else {
                if tried || rescued || attempts_left == 0 {
                    break;
                }
                rescued = true;
                match routing.last_resort(candidate, &skipped_open) {
                    Some(pick) => {
                        queue.push_back(pick.0);
                        last_resort = Some(pick);
                        continue;
                    }
                    None => break,
                }
            };
            if attempts_left == 0 {
                break;
            }
            let target = &candidate.targets[index];
            let label = target.label();
            if let Some(window) = target.max_input_tokens.filter(|w| estimate > *w) {
                too_small.push((label, window));
                continue;
            }
            let Some(provider) = snapshot.providers.get(&target.provider) else {
                continue;
            };
            let native = anthropic.filter(|_| provider.speaks_anthropic());
            let native_responses = responses.filter(|_| provider.speaks_responses());
            if let Some(a) = anthropic {
                if a.endpoint == NativeEndpoint::CountTokens && native.is_none() {
                    // Only Anthropic counts Anthropic's tokens; elsewhere the estimate answers.
                    record.finish_ok(None);
                    let route = RouteInfo {
                        alias: candidate.name.clone(),
                        target: label,
                        family: provider.family(),
                        dropped: Vec::new(),
                    };
                    let body = serde_json::json!({ "input_tokens": estimate }).to_string();
                    return Ok(json_response(Bytes::from(body), &route));
                }
            }
            if let Some(reason) = anthropic
                .filter(|_| native.is_none())
                .and_then(|a| a.untranslatable.as_ref())
            {
                // Another target may speak Anthropic; if none does, this is the answer.
                let mut error = ApiError::invalid_request("invalid_body", reason.clone())
                    .with_route(&candidate.name);
                error.target = Some(label.clone());
                error.provider_family = Some(provider.family());
                record.attempt(&label, "skipped_untranslatable", Instant::now());
                untranslatable.get_or_insert(error);
                continue;
            }
            translate::shape::check_chat_for(
                provider.family(),
                endpoint == Endpoint::ChatCompletions,
                native.is_some() || native_responses.is_some(),
                &body,
            )
            .map_err(|e| {
                ApiError::invalid_request(
                    "invalid_request_shape",
                    format!(
                        "the request cannot be translated for backend `{label}` ({}): {e}",
                        provider.family()
                    ),
                )
                .with_route(&candidate.name)
            })?;
            let mut target_body = body.clone();
            target_body.insert("model".into(), Value::String(target.model.clone()));
            let mut dropped: Vec<String> = anthropic
                .filter(|_| native.is_none())
                .map(|a| a.dropped.clone())
                .or_else(|| {
                    responses
                        .filter(|_| native_responses.is_none())
                        .map(|r| r.dropped.clone())
                })
                .unwrap_or_default();
            if native.is_none() && native_responses.is_none() {
                let unsupported = provider.unsupported_params(endpoint, &target_body);
                if !unsupported.is_empty() {
                    let policy = snapshot
                        .config
                        .providers
                        .get(&target.provider)
                        .map(|p| p.unsupported_params)
                        .unwrap_or_default();
                    if policy == ParamPolicy::Refuse {
                        let mut error = ApiError::invalid_request(
                            "unsupported_params",
                            format!(
                                "backend `{label}` ({}) cannot take these parameters: {}; remove them, or set `unsupported_params = \"drop\"` on provider `{}`",
                                provider.family(),
                                unsupported.join(", "),
                                target.provider
                            ),
                        )
                        .with_route(&candidate.name);
                        error.target = Some(label.clone());
                        error.provider_family = Some(provider.family());
                        return Err(error);
                    }
                    for key in &unsupported {
                        target_body.remove(key);
                    }
                    dropped.extend(unsupported);
                }
            }
            if let Some(spent) = budgets.spent(snapshot.config.provider_budget(&target.provider)) {
                unavailable.push(format!("backend `{label}`: {}", spent.message()));
                record.attempt(&label, "skipped_budget_spent", Instant::now());
                continue;
            }
            let health = routing.target(target);
            if health.misconfigured().is_some() {
                health.recheck_misconfigured(provider.key_fingerprint());
            }
            if let Some(m) = health.misconfigured() {
                unavailable.push(format!("backend `{label}` is misconfigured: {}", m.reason));
                record.attempt(&label, "skipped_misconfigured", Instant::now());
                continue;
            }
            let admission = match last_resort.take() {
                Some((forced, admission)) if forced == index => admission,
                _ => health.admit(routing.now()),
            };
            if let Admission::No { retry_after: wait } = admission {
                skipped_open.push(index);
                let last = health.status(Instant::now()).last_error.unwrap_or_default();
                unavailable.push(format!(
                    "backend `{label}` is cooling down after failures (retry in {} ms; last error: {last})",
                    wait.as_millis()
                ));
                retry_after = Some(retry_after.map_or(wait, |r| r.min(wait)));
                record.attempt(&label, "skipped_breaker_open", Instant::now());
                continue;
            }
            // Reserve what the attempt may cost, so concurrent requests see it (released when
            // the real charge lands, or when the attempt fails).
            let reserve_estimate = reserve::estimate_nano_usd(
                target.pricing,
                estimate,
                target
                    .max_tokens
                    .unwrap_or_else(|| requested_output_tokens(&target_body)),
            );
            let mut names = reserve_against.clone();
            names.extend(candidate.budget.as_deref());
            names.extend(snapshot.config.provider_budget(&target.provider));
            let reservation = match budgets.reserve(&names, reserve_estimate.unwrap_or(0)) {
                Ok(reservation) => reservation,
                Err(spent) => {
                    if admission == Admission::Probe {
                        health.begin(true).settle(Outcome::Neutral, &target.breaker);
                    }
                    if Some(spent.budget.as_str())
                        != snapshot.config.provider_budget(&target.provider)
                    {
                        return Err(budget_exceeded(&spent, &requested_alias.name));
                    }
                    unavailable.push(format!("backend `{label}`: {}", spent.message()));
                    record.attempt(&label, "skipped_budget_spent", Instant::now());
                    continue;
                }
            };
            let target_scope = [(Scope::Target(&label), target.limits)];
            match limits.acquire(&target_scope, token_estimate) {
                Ok(charge) => record.charges.push(charge),
                Err(limited) => {
                    if admission == Admission::Probe {
                        health.begin(true).settle(Outcome::Neutral, &target.breaker);
                    }
                    unavailable.push(format!("backend `{label}`: {}", limited.message));
                    rate_limited = Some(rate_limited.map_or(limited.retry_after, |r: Duration| {
                        r.min(limited.retry_after)
                    }));
                    record.attempt(&label, "skipped_rate_limited", Instant::now());
                    continue;
                }
            }
            attempts_left -= 1;
            tried = true;
            let guard = health.begin(admission == Admission::Probe);
            let request = ProviderRequest {
                endpoint,
                body: target_body,
                stream,
                correlation_id: correlation_id.to_owned(),
                timeouts: target.timeouts,
                max_tokens: target.max_tokens,
            };
            let attempt_started = Instant::now();
            let sent = match (native, anthropic) {
                _ if responses.is_some() => match (native_responses, responses) {
                    (Some(r), _) => {
                        let mut native_body = r.native.clone();
                        native_body.insert("model".into(), Value::String(target.model.clone()));
                        provider
                            .send_native_responses(NativeRequest {
                                endpoint: NativeEndpoint::Responses,
                                body: native_body,
                                stream,
                                correlation_id: correlation_id.to_owned(),
                                timeouts: target.timeouts,
                                beta: None,
                            })
                            .await
                            .map(|answer| r.native_answer(answer))
                    }
                    (None, Some(r)) => provider
                        .send(request)
                        .await
                        .and_then(|answer| r.translate_answer(answer)),
                    (None, None) => provider.send(request).await,
                },
                (Some(a), _) => {
                    let mut native_body = a.native.clone();
                    native_body.insert("model".into(), Value::String(target.model.clone()));
                    provider
                        .send_native_anthropic(NativeRequest {
                            endpoint: a.endpoint,
                            body: native_body,
                            stream,
                            correlation_id: correlation_id.to_owned(),
                            timeouts: target.timeouts,
                            beta: a.beta.clone(),
                        })
                        .await
                }
                (None, Some(_)) => provider
                    .send(request)
                    .await
                    .and_then(|r| to_anthropic(r, &requested, estimate)),
                (None, None) => provider.send(request).await,
            };
            let outcome = match sent {
                Ok(ProviderResponse::Stream(mut events)) => match events.next().await {
                    // Nothing has reached the client yet, so a stream that fails at once can still
                    // go to the next target.
                    Some(Err(e)) => Err(e),
                    Some(Ok(event)) => match unreadable_event(&event) {
                        Some(fault) => Err(fault),
                        None => Ok(Served::Stream(Some(event), events)),
                    },
                    first => Ok(Served::Stream(first.and_then(Result::ok), events)),
                },
                Ok(ProviderResponse::Complete { body, usage }) => Ok(Served::Complete(body, usage)),
                Err(e) => Err(e),
            };
            let family = provider.family();
            match outcome {
                Ok(served) => {
                    record.reservation = reservation;
                    record.attempt(&label, "ok", attempt_started);
                    routing.served_session(candidate, context.session.as_ref(), &label);
                    record.row.alias = Some(candidate.name.clone());
                    record.row.target = Some(label.clone());
                    record.row.provider = Some(target.provider.clone());
                    record.spend = Some(PendingSpend {
                        budgets: budgets.clone(),
                        pricing: target.pricing,
                        requested_alias: requested_alias.name.clone(),
                    });
                    let route = RouteInfo {
                        alias: candidate.name.clone(),
                        target: label,
                        family,
                        dropped,
                    };
                    let first_byte = attempt_started.elapsed();
                    return Ok(match served {
                        Served::Complete(body, usage) => {
                            guard.settle(
                                Outcome::Success {
                                    latency: first_byte,
                                    first_token: None,
                                },
                                &target.breaker,
                            );
                            if let Some(capture) = &mut record.capture {
                                capture.response(&body);
                            }
                            record.finish_ok(usage);
                            record.spend_committed().await;
                            json_response(body, &route)
                        }
                        Served::Stream(first, rest) => {
                            let attempt = StreamAttempt {
                                guard,
                                breaker: target.breaker,
                                first_byte,
                            };
                            let errors = match (anthropic, responses) {
                                (Some(_), _) => ErrorStyle::Anthropic,
                                (_, Some(r)) => ErrorStyle::Responses {
                                    id: r.context.id.clone(),
                                    model: r.context.model.clone(),
                                },
                                _ => ErrorStyle::OpenAi,
                            };
                            stream_response(
                                first,
                                rest,
                                hide_usage_chunk,
                                errors,
                                record.take(),
                                route,
                                attempt,
                            )
                        }
                    });
                }
                Err(e) => {
                    let misconfigured = e.is_misconfiguration();
                    let transient = e.is_retryable() && !misconfigured;
                    let upstream_retry_after = match &e {
                        UpstreamError::Status {
                            retry_after_ms: Some(ms),
                            ..
                        } => Some(Duration::from_millis(*ms)),
                        _ => None,
                    };
                    let error = e.into_api_error(&label, family).with_route(&candidate.name);
                    tracing::info!(correlation_id, target = %label, error = %error.message, "backend attempt failed");
                    record.attempt(&label, error.code, attempt_started);
                    record.row.target = Some(label.clone());
                    record.row.provider = Some(target.provider.clone());
                    let outcome = if misconfigured {
                        Outcome::Misconfigured {
                            reason: error.message.clone(),
                            key_fingerprint: provider.key_fingerprint(),
                        }
                    } else if transient {
                        Outcome::Failure {
                            reason: error.message.clone(),
                            cooldown: upstream_retry_after,
                        }
                    } else {
                        Outcome::Neutral
                    };
                    guard.settle(outcome, &target.breaker);
                    if !transient && !misconfigured {
                        // The request itself was refused: another backend would refuse it too.
                        return Err(error);
                    }
                    failures.push(error);
                    // With no other target left, retry this one after a pause, honouring the
                    // backend's Retry-After up to the alias's cap.
                    if transient && queue.is_empty() && attempts_left > 0 {
                        let wait = match upstream_retry_after {
                            Some(wait) if wait > candidate.retries.max_retry_after => continue,
                            Some(wait) => wait,
                            None => backoff,
                        };
                        tokio::time::sleep(wait).await;
                        backoff *= 2;
                        queue.push_back(index);
                    }
                }
            }
        }
    }
    if let (true, Some(error)) = (failures.is_empty(), untranslatable) {
        return Err(error);
    }
    if failures.is_empty() && unavailable.is_empty() && !too_small.is_empty() {
        return Err(context_too_long(&alias.name, estimate, &too_small));
    }
    if let (true, Some(wait)) = (failures.is_empty(), rate_limited) {
        // Only caps stood in the way: that is a 429 with when to come back, not an outage.
        let message = format!(
            "every backend of `{}` is at its rate limit: {}",
            alias.name,
            unavailable.join("; ")
        );
        return Err(over_limit(
            Limited {
                scope: String::new(),
                message,
                retry_after: wait,
            },
            &alias.name,
        ));
    }
    Err(combine_failures(
        &alias.name,
        failures,
        unavailable,
        retry_after,
    ))
}

/// Output tokens the request may produce, for the up-front TPM charge.
fn requested_output_tokens(body: &Map<String, Value>) -> u64 {
    ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64))
        .unwrap_or(256)
}

fn over_limit(limited: Limited, alias: &str) -> ApiError {
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

/// The first spent budget among the providers of `alias`'s targets (fallbacks included), when
/// every one of them is spent: then no backend is left to serve it.
fn every_provider_spent(
    budgets: &Budgets,
    snapshot: &Snapshot,
    alias: &AliasConfig,
) -> Option<Spent> {
    let mut first: Option<Spent> = None;
    let config = &snapshot.config;
    for target in config.alias_chain(alias).flat_map(|a| a.targets.iter()) {
        match budgets.spent(config.provider_budget(&target.provider)) {
            Some(spent) => {
                first.get_or_insert(spent);
            }
            None => return None,
        }
    }
    first
}

fn budget_exceeded(spent: &Spent, alias: &str) -> ApiError {
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

enum Served {
    Complete(Bytes, Option<Usage>),
    Stream(Option<SseEvent>, EventStream),
}

struct RouteInfo {
    alias: String,
    target: String,
    family: &'static str,
    /// Request parameters left out because the backend cannot take them.
    dropped: Vec<String>,
}

impl RouteInfo {
    fn apply(&self, response: &mut Response) {
        let headers = response.headers_mut();
        if !self.dropped.is_empty() {
            if let Ok(v) = HeaderValue::from_str(&self.dropped.join(",")) {
                headers.insert(DROPPED_HEADER, v);
            }
        }
        if let Ok(v) = HeaderValue::from_str(&self.alias) {
            headers.insert(ALIAS_HEADER, v);
        }
        if let Ok(v) = HeaderValue::from_str(&self.target) {
            headers.insert(TARGET_HEADER, v);
        }
    }
}

/// One failure is returned as it is; several, or backends skipped as unavailable, become a 503
/// that names every backend and why.
fn combine_failures(
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

fn json_response(body: Bytes, route: &RouteInfo) -> Response {
    let mut response = (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    route.apply(&mut response);
    response
}

/// The breaker bookkeeping of a streamed attempt, settled when the stream ends.
struct StreamAttempt {
    guard: AttemptGuard,
    breaker: BreakerSettings,
    first_byte: Duration,
}

fn stream_response(
    first: Option<SseEvent>,
    rest: EventStream,
    hide_usage_chunk: bool,
    errors: ErrorStyle,
    record: Record,
    route: RouteInfo,
    attempt: StreamAttempt,
) -> Response {
    let forward = ForwardStream {
        attempt: Some(attempt),
        pending_first: first,
        inner: rest,
        hide_usage_chunk,
        errors,
        sent: 0,
        record,
        usage: None,
        done: false,
        terminal_sent: false,
        committing: None,
        family: route.family,
        target: route.target.clone(),
        alias: route.alias.clone(),
    };
    let mut response = Response::new(Body::from_stream(forward));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    route.apply(&mut response);
    response
}

/// Forwards events as they arrive, notes usage and time to first token, turns a mid-stream
/// failure into a final error event, and logs the row when the stream ends or the client leaves.
struct ForwardStream {
    attempt: Option<StreamAttempt>,
    pending_first: Option<SseEvent>,
    inner: EventStream,
    hide_usage_chunk: bool,
    /// How a mid-stream failure is told to the client.
    errors: ErrorStyle,
    /// Events sent so far (the next Responses `sequence_number`).
    sent: u64,
    record: Record,
    usage: Option<Usage>,
    done: bool,
    /// The client got the dialect's last event (`[DONE]`, `message_stop`, `response.completed`):
    /// if it hangs up before the upstream stream ends, the request still succeeded.
    terminal_sent: bool,
    /// The end of the body waits for the stream's spend to be committed.
    committing: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    family: &'static str,
    target: String,
    alias: String,
}

impl ForwardStream {
    /// The bytes to send for one event, or `None` to swallow it.
    fn emit(&mut self, event: SseEvent) -> Option<Bytes> {
        self.record.first_token();
        if event.data.contains("\"usage\"") {
            if let Ok(value) = serde_json::from_str::<Value>(&event.data) {
                // OpenAI chunks carry `usage` at the top; Anthropic's `message_start` inside
                // `message`, its `message_delta` at the top with output tokens only.
                let found = value
                    .get("usage")
                    .or_else(|| value.pointer("/message/usage"))
                    .or_else(|| value.pointer("/response/usage"))
                    .and_then(Usage::from_json);
                if let Some(usage) = found {
                    self.usage = Some(self.usage.unwrap_or_default().merge(usage));
                    let no_choices = value
                        .get("choices")
                        .and_then(Value::as_array)
                        .is_none_or(|c| c.is_empty());
                    if self.hide_usage_chunk && value.get("usage").is_some() && no_choices {
                        return None;
                    }
                }
            }
        }
        if let (ErrorStyle::Responses { id, .. }, 0) = (&mut self.errors, self.sent) {
            // A native backend names the response itself (in `response.created`).
            if let Some(own) = serde_json::from_str::<Value>(&event.data)
                .ok()
                .and_then(|v| v.pointer("/response/id")?.as_str().map(str::to_owned))
            {
                *id = own;
            }
        }
        self.sent += 1;
        self.terminal_sent |= is_terminal(&event);
        let bytes = event.to_bytes();
        if let Some(capture) = &mut self.record.capture {
            capture.response(&bytes);
        }
        Some(bytes)
    }
}

impl ForwardStream {
    /// The stream ended well: log the row with its usage and settle the attempt as a success.
    fn finish_ok(&mut self) {
        self.done = true;
        let usage = self.usage;
        self.record.finish_ok(usage);
        if let Some(attempt) = self.attempt.take() {
            let outcome = Outcome::Success {
                latency: attempt.first_byte,
                first_token: Some(attempt.first_byte),
            };
            attempt.guard.settle(outcome, &attempt.breaker);
        }
    }
}

impl Drop for ForwardStream {
    fn drop(&mut self) {
        // Clients such as Codex close the connection as soon as they have the last event,
        // before the upstream's end (or the spend commit) reaches us: that is not a 499.
        if !self.done && self.terminal_sent {
            self.finish_ok();
        }
    }
}

/// The last event of a successful stream in each dialect.
fn is_terminal(event: &SseEvent) -> bool {
    matches!(
        event.event.as_deref(),
        Some("message_stop" | "response.completed" | "response.incomplete")
    ) || event.data.trim() == "[DONE]"
}

/// The error event that ends a stream that failed after it started, per the client's API.
enum ErrorStyle {
    OpenAi,
    /// Anthropic's `error` event (the Anthropic ingress).
    Anthropic,
    /// `response.failed` for the Responses response `id`.
    Responses {
        id: String,
        model: String,
    },
}

impl Stream for ForwardStream {
    type Item = Result<Bytes, std::convert::Infallible>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(committing) = self.committing.as_mut() {
            if committing.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.committing = None;
        }
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(first) = self.pending_first.take() {
            if let Some(bytes) = self.emit(first) {
                return Poll::Ready(Some(Ok(bytes)));
            }
        }
        loop {
            let next = match self.inner.poll_next_unpin(cx) {
                // An event the client could not parse ends the stream with a typed error.
                Poll::Ready(Some(Ok(event))) => match unreadable_event(&event) {
                    Some(fault) => Poll::Ready(Some(Err(fault))),
                    None => Poll::Ready(Some(Ok(event))),
                },
                other => other,
            };
            match next {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(event))) => {
                    if let Some(bytes) = self.emit(event) {
                        return Poll::Ready(Some(Ok(bytes)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    self.done = true;
                    let error = e
                        .into_api_error(&self.target, self.family)
                        .with_route(&self.alias)
                        .with_correlation_id(&self.record.row.correlation_id);
                    tracing::warn!(correlation_id = %self.record.row.correlation_id, error = %error.message, "stream failed");
                    if let Some(attempt) = self.attempt.take() {
                        let outcome = Outcome::Failure {
                            reason: error.message.clone(),
                            cooldown: None,
                        };
                        attempt.guard.settle(outcome, &attempt.breaker);
                    }
                    self.record.finish_stream_error(&error);
                    let event = match &self.errors {
                        ErrorStyle::Anthropic => Bytes::from(error.to_anthropic_sse_event()),
                        ErrorStyle::OpenAi => Bytes::from(error.to_sse_event()),
                        ErrorStyle::Responses { id, model } => {
                            let summary = serde_json::to_value(&error).unwrap_or_default();
                            translate::responses::failed_event(id, model, self.sent, summary)
                                .to_bytes()
                        }
                    };
                    return Poll::Ready(Some(Ok(event)));
                }
                Poll::Ready(None) => {
                    self.finish_ok();
                    if let Some(committed) = self.record.committed.take() {
                        let mut wait: Pin<Box<dyn Future<Output = ()> + Send>> =
                            Box::pin(async move {
                                let _ = tokio::time::timeout(SPEND_COMMIT_WAIT, committed).await;
                            });
                        if wait.as_mut().poll(cx).is_pending() {
                            self.committing = Some(wait);
                            return Poll::Pending;
                        }
                    }
                    return Poll::Ready(None);
                }
            }
        }
    }
}

/// Why an upstream event cannot be forwarded: every OpenAI chunk and Anthropic event is a JSON
/// object (OpenAI ends with `[DONE]`). Passing anything else on would break the client's parser
/// with an error that names neither the gateway nor the backend.
fn unreadable_event(event: &SseEvent) -> Option<UpstreamError> {
    let data = event.data.trim();
    if data == "[DONE]"
        || (data.starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(data).is_ok())
    {
        return None;
    }
    // The content is not echoed: raw upstream output is not passed on.
    Some(UpstreamError::Protocol(format!(
        "a stream event that is not a JSON object ({} bytes)",
        data.len()
    )))
}

#[derive(Serialize)]
struct Attempt<'a> {
    target: &'a str,
    outcome: &'a str,
    ms: f64,
}

/// What is needed to charge a served request to its budgets once its usage is known.
struct PendingSpend {
    budgets: Arc<Budgets>,
    pricing: Pricing,
    requested_alias: String,
}

/// The log row being built for one request. Written exactly once: on finish, or on drop if the
/// client went away first (status 499, `client_closed`).
struct Record {
    /// Set once a backend serves; charged in `write` from the usage it reported.
    spend: Option<PendingSpend>,
    /// Resolves when the charged spend is in the ledger.
    committed: Option<tokio::sync::oneshot::Receiver<()>>,
    /// Rate-limit charges held while the request runs (concurrency permits, TPM estimate).
    charges: Vec<Charge>,
    /// The served attempt's budget reservation, released once its spend is charged.
    reservation: Reservation,
    log: Option<LogWriter>,
    row: LogRow,
    started: Instant,
    attempts: Vec<String>,
    /// Bodies for the dashboard, when `[database] capture_bodies` asks for them.
    capture: Option<Box<Capture>>,
}

impl Record {
    fn new(log: LogWriter, endpoint: &'static str, correlation_id: &str) -> Self {
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
        }
    }

    /// Moves the pending row out (into a stream), leaving a spent record behind.
    fn take(&mut self) -> Record {
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
        }
    }

    /// A routing decision worth keeping in the log's path (e.g. long-context rerouting).
    fn note(&mut self, note: &str) {
        if let Ok(json) = serde_json::to_string(&serde_json::json!({ "note": note })) {
            self.attempts.push(json);
        }
    }

    fn attempt(&mut self, target: &str, outcome: &str, started: Instant) {
        let attempt = Attempt {
            target,
            outcome,
            ms: round_ms(started.elapsed().as_secs_f64() * 1000.0),
        };
        if let Ok(json) = serde_json::to_string(&attempt) {
            self.attempts.push(json);
        }
    }

    fn first_token(&mut self) {
        if self.row.ttft_ms.is_none() {
            self.row.ttft_ms = Some(round_ms(self.started.elapsed().as_secs_f64() * 1000.0));
        }
    }

    fn finish_ok(&mut self, usage: Option<Usage>) {
        self.row.status = 200;
        if let Some(usage) = usage {
            self.row.set_usage(&usage);
        }
        self.write();
    }

    /// A stream that failed after it started: the client got 200 and then an error event.
    fn finish_stream_error(&mut self, error: &ApiError) {
        self.row.status = 200;
        self.row.error_type = Some(error.code.to_owned());
        self.write();
    }

    fn finish_error(&mut self, error: &ApiError) {
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
        log.log(std::mem::take(&mut self.row));
    }
}

/// How long an answer that cost money may wait for its spend to reach the ledger.
const SPEND_COMMIT_WAIT: Duration = Duration::from_secs(2);

impl Record {
    /// Waits (bounded) until the request's spend is committed to the ledger, so a client never
    /// holds an answer whose cost a crash could still lose. Free requests have nothing to wait
    /// for; the wait is one group commit shared with every request finishing meanwhile.
    async fn spend_committed(&mut self) {
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
