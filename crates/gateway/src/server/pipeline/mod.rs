//! The request pipeline, one step per module, in the order a request goes through them:
//! `admission` (body, model, alias, budgets, caller limits) → `plan` (what each target would
//! do, pure) → `retry` (walking an alias's targets) → `attempt` (one upstream call) →
//! `forward` (the answer, whole or streamed) → `record` (the log row). `failure` turns what
//! went wrong into the one error the client gets. The client's API is a `dialect`; this module
//! never names one. Every outcome, client disconnects included, ends up as one log row.

// `ApiError` is the response (about 200 bytes) and errors are the cold path: boxing it in every
// step's `Result` would cost an allocation on each refusal for nothing.
#![allow(clippy::result_large_err)]

mod admission;
mod attempt;
mod failure;
mod forward;
mod plan;
mod record;
pub mod retry;
#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Map, Value};

use self::admission::Admitted;
use self::attempt::Attempted;
use self::failure::Failures;
use self::plan::{Candidate, PlanRequest, TargetPlan};
use self::record::Record;
use self::retry::TargetWalk;
use super::dialect::{ClientRequest, RenderError};
use super::guard::ClientIdentity;
use super::{CorrelationId, RequestSnapshot};
use crate::affinity::SessionKey;
use crate::capture::Capture;
use crate::error::ApiError;
use crate::gateway::{Gateway, Snapshot};
use crate::provider::{Dialect, Endpoint};

/// What every step of one request needs to know.
pub(super) struct RequestContext {
    /// The config the front layer loaded for this request; kept to the end even if a reload
    /// swaps it.
    pub(super) snapshot: Arc<Snapshot>,
    pub(super) gateway: Gateway,
    pub(super) identity: Option<ClientIdentity>,
    pub(super) correlation_id: String,
    /// The agent session the request belongs to, for prompt-cache affinity.
    pub(super) session: Option<SessionKey>,
}

/// One client API's entry into the pipeline.
pub(super) struct Ingress {
    /// The endpoint routed on (chat completions for every dialect but chat's own three).
    pub(super) endpoint: Endpoint,
    /// The path named in the log row.
    pub(super) path: &'static str,
    /// How the dialect renders an error that ends the request.
    pub(super) render: RenderError,
}

/// Runs one request: `parse` turns the client's JSON body into the chat-shaped body routing
/// works on, plus the parsed request of its dialect.
pub(super) async fn handle<P, F>(
    gateway: Gateway,
    ingress: Ingress,
    request: Request,
    parse: P,
) -> Response
where
    P: FnOnce(Map<String, Value>) -> F,
    F: Future<Output = Result<(Map<String, Value>, Box<dyn ClientRequest>), ApiError>>,
{
    let (context, mut record) = start(gateway, ingress.path, &request);
    let result = async {
        let limit = context.snapshot.config.server.max_body_bytes;
        let (raw, native) = admission::read_json_body(request, limit).await?;
        record.capture = Capture::start(context.snapshot.config.capture, &native);
        let (body, client) = parse(native).await?;
        // A chat client's body is routed as it came: its bytes can be sent on with the model
        // spliced in. Other dialects' bodies are translations.
        let raw = (client.dialect() == Dialect::Chat).then_some(raw);
        let request = Parsed { body, raw };
        run(
            &context,
            ingress.endpoint,
            request,
            client.as_ref(),
            &mut record,
        )
        .await
    }
    .await;
    match result {
        Ok(response) => response,
        Err(error) => {
            let error = error.with_correlation_id(&context.correlation_id);
            record.finish_error(&error);
            (ingress.render)(error)
        }
    }
}

/// What every ingress sets up before reading the body: the request's snapshot (the one the
/// front layer loaded), the log row naming the caller, and the agent session.
fn start(gateway: Gateway, path: &'static str, request: &Request) -> (RequestContext, Record) {
    let extensions = request.extensions();
    let snapshot = extensions
        .get::<RequestSnapshot>()
        .map(|s| s.0.clone())
        .unwrap_or_else(|| gateway.snapshot());
    let correlation_id = extensions
        .get::<CorrelationId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let mut record = Record::new(gateway.inner.log.clone(), path, &correlation_id);
    record.trace = gateway.inner.tracing.start(request.headers());
    let identity = extensions.get::<ClientIdentity>().cloned();
    if let Some(identity) = &identity {
        record.row.client = Some(identity.token.clone());
        record.row.tenant = identity.tenant.clone();
    }
    let session = SessionKey::from_headers(
        request.headers(),
        snapshot.config.server.affinity_header.as_ref(),
    );
    let context = RequestContext {
        snapshot,
        gateway,
        identity,
        correlation_id,
        session,
    };
    (context, record)
}

/// `gen_ai.operation.name` for what the request asks (every dialect routes as chat).
fn operation_name(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::ChatCompletions => "chat",
        Endpoint::Completions => "text_completion",
        Endpoint::Embeddings => "embeddings",
    }
}

/// The chat-shaped body, and the client's bytes when they are that body.
struct Parsed {
    body: Map<String, Value>,
    raw: Option<Bytes>,
}

/// One admitted request on its way through the targets.
struct Run<'a> {
    context: &'a RequestContext,
    endpoint: Endpoint,
    /// The chat-shaped body (each attempt sets its target's model).
    body: Map<String, Value>,
    /// `body` as the client sent it, before `asked_usage` (chat clients only).
    raw: Option<Bytes>,
    /// The gateway added `stream_options.include_usage` to `body`.
    asked_usage: bool,
    client: &'a dyn ClientRequest,
    admitted: Admitted<'a>,
    hide_usage_chunk: bool,
}

/// The pipeline, top to bottom, for a parsed request.
async fn run(
    context: &RequestContext,
    endpoint: Endpoint,
    parsed: Parsed,
    client: &dyn ClientRequest,
    record: &mut Record,
) -> Result<Response, ApiError> {
    let Parsed { mut body, raw } = parsed;
    if let Some(trace) = &mut record.trace {
        trace.request(operation_name(endpoint), &body);
    }
    let admitted = admission::admit(context, endpoint, &body, record)?;
    let asked_usage = admission::ask_for_usage(&mut body, admitted.stream);
    let hide_usage_chunk = asked_usage && client.hides_usage_chunk();
    let snapshot = &context.snapshot;
    let request = PlanRequest {
        endpoint,
        body: &body,
        estimate: admitted.estimate,
        dialect: client.dialect(),
        dropped: client.dropped(),
        untranslatable: client.untranslatable(),
        answers_locally: client.local_answer(admitted.estimate).is_some(),
    };
    let chain = snapshot.config.alias_chain(admitted.alias);
    let candidates = plan::plan(&snapshot.config, &snapshot.providers, &request, chain);
    let run = Run {
        context,
        endpoint,
        body,
        raw,
        asked_usage,
        client,
        admitted,
        hide_usage_chunk,
    };
    let mut failures = Failures::default();
    for candidate in &candidates {
        if let Some(response) = walk(&run, candidate, record, &mut failures).await? {
            return Ok(response);
        }
    }
    Err(failures.into_error(&run.admitted.alias.name, run.admitted.estimate))
}

/// Walks one alias's targets until one serves. `None`: none did (why is in `failures`).
async fn walk(
    run: &Run<'_>,
    candidate: &Candidate<'_>,
    record: &mut Record,
    failures: &mut Failures,
) -> Result<Option<Response>, ApiError> {
    let alias = candidate.alias;
    let routing = &run.context.gateway.inner.routing;
    let order = routing.order_for_session(alias, run.context.session.as_ref());
    let mut walk = TargetWalk::new(order, &alias.retries);
    while let Some(index) = walk.next(routing, alias) {
        let ready = match &candidate.targets[index] {
            TargetPlan::Try(ready) => ready,
            TargetPlan::AnswerLocally => return Ok(Some(local_answer(run, alias, index, record))),
            skipped => {
                skip(run, alias, index, skipped, record, failures)?;
                continue;
            }
        };
        match attempt::attempt(run, alias, index, ready, &mut walk, record, failures).await? {
            Attempted::Served(response) => return Ok(Some(response)),
            Attempted::Skipped => {}
            Attempted::Failed {
                transient: true,
                retry_after,
            } => {
                if let Some(wait) = walk.retry(index, retry_after) {
                    tokio::time::sleep(wait).await;
                }
            }
            Attempted::Failed { .. } => {}
        }
    }
    Ok(None)
}

/// A target the plan rules out: noted, or (a refusal of the parameters) the answer.
fn skip(
    run: &Run<'_>,
    alias: &crate::config::AliasConfig,
    index: usize,
    plan: &TargetPlan,
    record: &mut Record,
    failures: &mut Failures,
) -> Result<(), ApiError> {
    let target = &alias.targets[index];
    let label = target.label();
    let family = run
        .context
        .snapshot
        .providers
        .get(&target.provider)
        .map(|p| p.family());
    match plan {
        TargetPlan::TooSmall { window } => failures.too_small.push((label, *window)),
        TargetPlan::Untranslatable(reason) => {
            // Another target may speak the dialect; if none does, this is the answer.
            let mut error =
                ApiError::invalid_request("invalid_body", reason.clone()).with_route(&alias.name);
            error.target = Some(label.clone());
            error.provider_family = family;
            record.attempt(&label, "skipped_untranslatable", Instant::now());
            failures.untranslatable.get_or_insert(error);
        }
        TargetPlan::Refuse(unsupported) => {
            let mut error = ApiError::invalid_request(
                "unsupported_params",
                format!(
                    "backend `{label}` ({}) cannot take these parameters: {}; remove them, or set `unsupported_params = \"drop\"` on provider `{}`",
                    family.unwrap_or_default(),
                    unsupported.join(", "),
                    target.provider
                ),
            )
            .with_route(&alias.name);
            error.target = Some(label);
            error.provider_family = family;
            return Err(error);
        }
        TargetPlan::NoProvider | TargetPlan::AnswerLocally | TargetPlan::Try(_) => {}
    }
    Ok(())
}

/// The gateway's own answer where the target does not speak the dialect (`count_tokens`).
fn local_answer(
    run: &Run<'_>,
    alias: &crate::config::AliasConfig,
    index: usize,
    record: &mut Record,
) -> Response {
    let target = &alias.targets[index];
    let family = run
        .context
        .snapshot
        .providers
        .get(&target.provider)
        .map_or("", |p| p.family());
    record.finish_ok(None);
    let route = forward::RouteInfo {
        alias: alias.name.clone(),
        target: target.label(),
        family,
        dropped: Vec::new(),
    };
    let body = run
        .client
        .local_answer(run.admitted.estimate)
        .unwrap_or_default();
    forward::json_response(body, &route)
}
