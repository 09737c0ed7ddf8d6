//! Step 1, `admission`: the body (size limit, JSON object), its model and stream flag, the alias
//! (permission, long-context rerouting), the budgets of the caller and the alias (refuse, or
//! reroute once) and the caller's and alias's rate limits, charged once per request.

use axum::extract::Request;
use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::failure::{budget_exceeded, over_limit};
use super::record::Record;
use super::RequestContext;
use crate::config::{AliasConfig, Limits, WhenSpent};
use crate::error::ApiError;
use crate::gateway::Snapshot;
use crate::limits::Scope;
use crate::provider::Endpoint;
use crate::spend::{Budgets, Spent};
use crate::wire::estimate_input_tokens;

/// A request let in, with what routing decided about it so far.
pub(super) struct Admitted<'a> {
    pub(super) stream: bool,
    /// The alias the client named; its limits and budget count whatever serves.
    pub(super) requested_alias: &'a AliasConfig,
    /// The alias routed to (after long-context and budget rerouting).
    pub(super) alias: &'a AliasConfig,
    /// Estimated input tokens.
    pub(super) estimate: u64,
    /// Input plus requested output tokens, for rate limits.
    pub(super) token_estimate: u64,
    /// Budgets each attempt reserves its estimate against (with its provider's and alias's).
    pub(super) reserve_against: Vec<&'a str>,
}

/// Reads a JSON object body of at most `limit` bytes: the bytes as read, and parsed.
pub(super) async fn read_json_body(
    request: Request,
    limit: usize,
) -> Result<(Bytes, Map<String, Value>), ApiError> {
    let body = axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|e| {
            if crate::server::decompress::is_over_limit(&e) {
                ApiError::body_too_large(limit)
            } else {
                ApiError::invalid_request(
                    "invalid_body_encoding",
                    format!("the request body could not be read or decompressed: {e}"),
                )
            }
        })?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok((body, map)),
        Ok(_) => Err(ApiError::invalid_request(
            "invalid_body",
            "request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::invalid_json(&e)),
    }
}

/// Admits the chat-shaped `body` for `endpoint`, or says why not.
pub(super) fn admit<'a>(
    context: &'a RequestContext,
    endpoint: Endpoint,
    body: &Map<String, Value>,
    record: &mut Record,
) -> Result<Admitted<'a>, ApiError> {
    let snapshot: &'a Snapshot = &context.snapshot;
    let requested = requested_model(body)?;
    record.row.requested_model = Some(requested.clone());
    let stream = stream_flag(endpoint, body, &requested)?;
    record.row.streamed = stream;
    let requested_alias = find_alias(context, snapshot, &requested)?;
    record.row.alias = Some(requested_alias.name.clone());
    let estimate = estimate_input_tokens(body);
    let alias = long_context(snapshot, requested_alias, estimate, record);
    let (alias, reserve_against) =
        check_budgets(context, snapshot, requested_alias, alias, record)?;
    let token_estimate = estimate + requested_output_tokens(body);
    acquire_limits(context, snapshot, requested_alias, token_estimate, record)?;
    Ok(Admitted {
        stream,
        requested_alias,
        alias,
        estimate,
        token_estimate,
        reserve_against,
    })
}

fn requested_model(body: &Map<String, Value>) -> Result<String, ApiError> {
    match body.get("model") {
        Some(Value::String(model)) if !model.is_empty() => Ok(model.clone()),
        _ => Err(ApiError::invalid_request(
            "missing_model",
            "request body needs `model`: one of the aliases listed by GET /v1/models",
        )),
    }
}

fn stream_flag(
    endpoint: Endpoint,
    body: &Map<String, Value>,
    requested: &str,
) -> Result<bool, ApiError> {
    let stream = match body.get("stream") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::invalid_request(
                "invalid_stream",
                "`stream` must be true or false",
            )
            .with_route(requested))
        }
    };
    if stream && !endpoint.supports_streaming() {
        return Err(ApiError::invalid_request(
            "invalid_stream",
            format!("/{} does not stream", endpoint.path()),
        )
        .with_route(requested));
    }
    Ok(stream)
}

/// The alias the client named, if it exists and the caller may use it.
fn find_alias<'a>(
    context: &RequestContext,
    snapshot: &'a Snapshot,
    requested: &str,
) -> Result<&'a AliasConfig, ApiError> {
    let Some(alias) = snapshot.config.find_alias(requested) else {
        let suggestions = snapshot
            .config
            .suggest_aliases(requested)
            .into_iter()
            .map(str::to_owned)
            .collect();
        return Err(ApiError::model_not_found(requested, suggestions).with_route(requested));
    };
    if let Some(identity) = context
        .identity
        .as_ref()
        .filter(|i| !i.may_use(&alias.name))
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "permission_error",
            "alias_not_allowed",
            format!(
                "client token `{}` may not use alias `{}`",
                identity.token, alias.name
            ),
        )
        .with_route(&alias.name));
    }
    Ok(alias)
}

/// Long inputs go to the alias's long-context alias, when it has one.
fn long_context<'a>(
    snapshot: &'a Snapshot,
    requested_alias: &'a AliasConfig,
    estimate: u64,
    record: &mut Record,
) -> &'a AliasConfig {
    let Some(lc) = &requested_alias.long_context else {
        return requested_alias;
    };
    if estimate <= lc.above_tokens {
        return requested_alias;
    }
    match snapshot.config.aliases.get(&lc.alias) {
        Some(long) => {
            record.note(&format!(
                "~{estimate} input tokens > {}: routed to `{}`",
                lc.above_tokens, long.name
            ));
            long
        }
        None => requested_alias,
    }
}

/// Budgets of the caller and the alias: a spent one refuses, or reroutes once to its alias.
/// Returns the alias to route to and the budgets each attempt reserves against.
fn check_budgets<'a>(
    context: &RequestContext,
    snapshot: &'a Snapshot,
    requested_alias: &'a AliasConfig,
    alias: &'a AliasConfig,
    record: &mut Record,
) -> Result<(&'a AliasConfig, Vec<&'a str>), ApiError> {
    let budgets = &context.gateway.inner.budgets;
    let mut caller_budgets: Vec<&'a str> = Vec::new();
    if let Some(identity) = &context.identity {
        let token = snapshot.config.tokens.get(&identity.token);
        caller_budgets.extend(token.and_then(|t| t.budget.as_deref()));
        let tenant = identity
            .tenant
            .as_ref()
            .and_then(|t| snapshot.config.tenants.get(t));
        caller_budgets.extend(tenant.and_then(|t| t.budget.as_deref()));
    }
    caller_budgets.extend(requested_alias.budget.as_deref());
    let mut reserve_against = caller_budgets.clone();
    reserve_against.extend(alias.budget.as_deref());
    let spent = budgets
        .spent(
            caller_budgets
                .iter()
                .copied()
                .chain(alias.budget.as_deref()),
        )
        .or_else(|| every_provider_spent(budgets, snapshot, alias));
    let Some(spent) = spent else {
        return Ok((alias, reserve_against));
    };
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
    // The reroute alias's own budget and providers still count.
    let spent_too = budgets
        .spent(reroute.budget.as_deref())
        .or_else(|| every_provider_spent(budgets, snapshot, reroute));
    if let Some(spent_too) = spent_too {
        return Err(budget_exceeded(&spent_too, &reroute.name));
    }
    Ok((reroute, reroute.budget.iter().map(String::as_str).collect()))
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

/// Limits of the caller and the alias, charged once per request (targets have their own).
fn acquire_limits(
    context: &RequestContext,
    snapshot: &Snapshot,
    requested_alias: &AliasConfig,
    token_estimate: u64,
    record: &mut Record,
) -> Result<(), ApiError> {
    let mut scopes: Vec<(Scope<'_>, Limits)> = Vec::new();
    if let Some(identity) = &context.identity {
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
    let charge = context
        .gateway
        .inner
        .limits
        .acquire(&scopes, token_estimate)
        .map_err(|l| over_limit(l, &requested_alias.name))?;
    record.charges.push(charge);
    Ok(())
}

/// Asks for usage in streams so the log has token counts. True when the gateway added the
/// request (then the extra chunk may be hidden from the client).
pub(super) fn ask_for_usage(body: &mut Map<String, Value>, stream: bool) -> bool {
    if !stream
        || body
            .get("stream_options")
            .and_then(|o| o.get("include_usage"))
            .is_some()
    {
        return false;
    }
    let options = body
        .entry("stream_options")
        .or_insert_with(|| Value::Object(Map::new()));
    match options {
        Value::Object(options) => {
            options.insert("include_usage".into(), Value::Bool(true));
            true
        }
        _ => false,
    }
}

/// Output tokens the request may produce, for the up-front TPM charge.
pub(super) fn requested_output_tokens(body: &Map<String, Value>) -> u64 {
    ["max_completion_tokens", "max_tokens"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_u64))
        .unwrap_or(256)
}
