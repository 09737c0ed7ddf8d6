//! HTTP adapter for the admin service under `/admin`. Every handler only translates: the logic
//! lives in `crate::admin::AdminService`. All routes need `Authorization: Bearer <secret>` (the
//! per-install admin secret or `server.admin_token`) or a dashboard session cookie (see
//! `crate::session`); `guard` has already refused foreign hosts and origins.

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::CorrelationId;
use crate::admin::{AdminError, ConfigChange};
use crate::error::ApiError;
use crate::gateway::{Gateway, ReloadError};
use crate::session;

pub(super) fn routes(gateway: Gateway) -> Router<Gateway> {
    Router::new()
        .route("/admin/status", get(status))
        .route("/admin/config", get(document))
        .route("/admin/tokens", post(create_token))
        .route("/admin/keys", get(list_keys))
        .route(
            "/admin/keys/{name}",
            axum::routing::put(set_key).delete(delete_key),
        )
        .route("/admin/targets", get(targets))
        .route("/admin/budgets", get(budgets))
        .route("/admin/targets/reset", post(reset_targets))
        .route("/admin/config/reload", post(reload))
        .route("/admin/config/{section}", get(list).post(create))
        .route(
            "/admin/config/{section}/{*name}",
            get(get_entry).put(put_entry).delete(delete_entry),
        )
        .merge(super::dashboard::routes())
        .layer(axum::middleware::from_fn_with_state(gateway, guard))
        // Guarded by its one-time code instead.
        .route("/admin/login", get(super::dashboard::login))
}

/// Admits a request with the admin secret or token as a bearer, or with a dashboard session
/// cookie; a cookie's state-changing calls also need the CSRF header and a same-origin mark
/// (Host and Origin are checked for every route by `guard`).
async fn guard(State(gateway): State<Gateway>, mut request: Request, next: Next) -> Response {
    let id = request
        .extensions()
        .get::<CorrelationId>()
        .map(|c| c.0.clone())
        .unwrap_or_default();
    let deny = |status: StatusCode, code: &'static str, message: &str| {
        ApiError::new(status, "permission_error", code, message)
            .with_correlation_id(&id)
            .into_response()
    };
    let via = match authenticate(&gateway, request.headers()) {
        Ok(via) => via,
        Err(Refusal::TokenUnavailable(e)) => {
            return deny(
                StatusCode::SERVICE_UNAVAILABLE,
                "admin_token_unavailable",
                &format!("server.admin_token: {e}"),
            )
        }
        Err(Refusal::Missing) => {
            return deny(
                StatusCode::UNAUTHORIZED,
                "invalid_admin_token",
                "send the admin token as `Authorization: Bearer <token>`, or open the dashboard with `switchboard dashboard`",
            )
        }
    };
    let safe = matches!(request.method(), &Method::GET | &Method::HEAD);
    if via == Via::Session && !safe && !same_origin_write(request.headers()) {
        return deny(
            StatusCode::FORBIDDEN,
            "csrf_check_failed",
            "state-changing calls with the dashboard's session need a same-origin request with the `x-switchboard-csrf` header",
        );
    }
    request.extensions_mut().insert(via);
    next.run(request).await
}

/// How an admin call authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Via {
    Bearer,
    Session,
}

enum Refusal {
    Missing,
    TokenUnavailable(String),
}

fn authenticate(gateway: &Gateway, headers: &HeaderMap) -> Result<Via, Refusal> {
    if let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        let given = given.trim();
        let matches = |expected: &str| crate::tokens::secret_matches(given, expected);
        if gateway
            .inner
            .admin_secret
            .as_ref()
            .is_some_and(|s| matches(s.expose()))
        {
            return Ok(Via::Bearer);
        }
        if let Some(reference) = gateway.snapshot().config.server.admin_token.as_ref() {
            match reference.resolve() {
                Ok(expected) if matches(expected.expose()) => return Ok(Via::Bearer),
                Ok(_) => {}
                Err(e) => return Err(Refusal::TokenUnavailable(e.to_string())),
            }
        }
        return Err(Refusal::Missing);
    }
    let session = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| session::cookie(v, session::SESSION_COOKIE));
    match session {
        Some(session) if gateway.inner.sessions.is_valid(session) => Ok(Via::Session),
        _ => Err(Refusal::Missing),
    }
}

/// A browser's same-origin write: the CSRF header (a cross-origin page cannot add it without a
/// preflight, which is refused) and an `Origin` (checked against `Host` by `guard`) or
/// `Sec-Fetch-Site: same-origin`.
fn same_origin_write(headers: &HeaderMap) -> bool {
    let marked = headers.contains_key(session::CSRF_HEADER);
    let same_origin = headers.contains_key(header::ORIGIN)
        || headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"same-origin");
    marked && same_origin
}

fn admin_error(error: AdminError, id: &str) -> Response {
    let (status, code) = match &error {
        AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        AdminError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_value"),
        AdminError::StaleRevision { .. } => (StatusCode::CONFLICT, "stale_revision"),
        AdminError::Conflict(_) => (StatusCode::CONFLICT, "already_exists"),
        AdminError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_config"),
        AdminError::NoFile => (StatusCode::CONFLICT, "no_config_file"),
        AdminError::Io(_) => (StatusCode::INTERNAL_SERVER_ERROR, "config_io_error"),
    };
    let mut body = serde_json::to_value(
        ApiError::new(status, "admin_error", code, error.to_string()).with_correlation_id(id),
    )
    .unwrap_or(Value::Null);
    match &error {
        AdminError::StaleRevision { current, .. } => body["current_revision"] = json!(current),
        AdminError::Invalid { diagnostics, .. } => body["diagnostics"] = json!(diagnostics),
        _ => {}
    }
    (status, Json(json!({ "error": body }))).into_response()
}

fn with_etag(revision: &str, body: Value) -> Response {
    let mut response = Json(body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{revision}\"")) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// The revision a write is based on, from `If-Match`.
fn if_match(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .to_owned()
        })
        .filter(|v| !v.is_empty())
}

fn revision_required(id: &str) -> Response {
    ApiError::new(
        StatusCode::PRECONDITION_REQUIRED,
        "admin_error",
        "revision_required",
        "send `If-Match: <revision>` with the revision from your last read",
    )
    .with_correlation_id(id)
    .into_response()
}

async fn status(State(gateway): State<Gateway>) -> Response {
    let admin = gateway.admin();
    Json(json!({"readiness": admin.readiness(), "aliases": admin.aliases()})).into_response()
}

async fn list_keys(State(gateway): State<Gateway>) -> Response {
    Json(json!({"keys": gateway.admin().keys().await})).into_response()
}

#[derive(Deserialize)]
struct KeyValue {
    value: String,
}

async fn set_key(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let value = match serde_json::from_slice::<KeyValue>(&body) {
        Ok(v) => crate::secret::Secret::new(v.value),
        Err(_) => {
            return admin_error(
                AdminError::BadRequest("body must be {\"value\": \"...\"}".into()),
                &id.0,
            )
        }
    };
    match gateway.admin().set_key(&name, value).await {
        Ok(()) => Json(json!({"name": name, "stored": true})).into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

async fn delete_key(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(name): Path<String>,
) -> Response {
    match gateway.admin().delete_key(&name).await {
        Ok(()) => Json(json!({"name": name, "deleted": true})).into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    tenant: Option<String>,
    aliases: Option<Vec<String>>,
}

/// Creates a client token; the response is the only place the token is ever shown.
async fn create_token(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(revision) = if_match(&headers) else {
        return revision_required(&id.0);
    };
    let request: NewToken = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return admin_error(
                AdminError::BadRequest(format!(
                    "body must be {{\"name\": ..., \"tenant\": ..., \"aliases\": [...]}}: {e}"
                )),
                &id.0,
            )
        }
    };
    match gateway
        .admin()
        .create_client_token(
            &request.name,
            request.tenant.as_deref(),
            request.aliases.as_deref(),
            &revision,
        )
        .await
    {
        Ok((token, outcome)) => {
            let mut response = with_etag(
                &outcome.revision.clone(),
                json!({"name": request.name, "token": token.expose(), "revision": outcome.revision}),
            );
            *response.status_mut() = StatusCode::CREATED;
            response
        }
        Err(e) => admin_error(e, &id.0),
    }
}

async fn budgets(State(gateway): State<Gateway>) -> Response {
    Json(gateway.admin().budgets()).into_response()
}

async fn targets(State(gateway): State<Gateway>) -> Response {
    Json(json!({"targets": gateway.admin().target_statuses()})).into_response()
}

#[derive(Deserialize, Default)]
struct ResetRequest {
    /// `provider/model`; absent resets every target.
    target: Option<String>,
}

async fn reset_targets(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    body: axum::body::Bytes,
) -> Response {
    let request: ResetRequest = if body.is_empty() {
        ResetRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return ApiError::invalid_json(&e)
                    .with_correlation_id(&id.0)
                    .into_response()
            }
        }
    };
    match gateway.admin().reset_targets(request.target.as_deref()) {
        Ok(count) => Json(json!({"reset": count, "targets": gateway.admin().target_statuses()}))
            .into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

async fn document(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
) -> Response {
    match gateway.admin().config_document() {
        Ok(doc) => with_etag(&doc.revision.clone(), json!(doc)),
        Err(e) => admin_error(e, &id.0),
    }
}

async fn reload(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
) -> Response {
    match gateway.admin().reload().await {
        Ok(outcome) => Json(json!(outcome)).into_response(),
        Err(ReloadError::NoFile) => admin_error(AdminError::NoFile, &id.0),
        Err(ReloadError::Rejected(failure)) => admin_error(
            AdminError::Invalid {
                message: failure.message,
                diagnostics: failure.diagnostics,
            },
            &id.0,
        ),
    }
}

async fn list(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(section): Path<String>,
) -> Response {
    match gateway.admin().config_list(&section) {
        Ok(listing) => with_etag(&listing.revision.clone(), json!(listing)),
        Err(e) => admin_error(e, &id.0),
    }
}

async fn get_entry(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path((section, name)): Path<(String, String)>,
) -> Response {
    match gateway.admin().config_get(&section, &name) {
        Ok((revision, entry)) => with_etag(
            &revision,
            json!({"revision": revision, "name": entry.name, "value": entry.value}),
        ),
        Err(e) => admin_error(e, &id.0),
    }
}

#[derive(Deserialize)]
struct NewEntry {
    name: String,
    value: Value,
}

async fn create(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(section): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(revision) = if_match(&headers) else {
        return revision_required(&id.0);
    };
    let entry: NewEntry = match serde_json::from_slice(&body) {
        Ok(entry) => entry,
        Err(e) => {
            return admin_error(
                AdminError::BadRequest(format!(
                    "body must be {{\"name\": ..., \"value\": {{...}}}}: {e}"
                )),
                &id.0,
            )
        }
    };
    change(
        gateway,
        &id.0,
        &section,
        &entry.name,
        ConfigChange::Create(entry.value),
        &revision,
        StatusCode::CREATED,
    )
    .await
}

async fn put_entry(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path((section, name)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(revision) = if_match(&headers) else {
        return revision_required(&id.0);
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(e) => {
            return ApiError::invalid_json(&e)
                .with_correlation_id(&id.0)
                .into_response()
        }
    };
    change(
        gateway,
        &id.0,
        &section,
        &name,
        ConfigChange::Upsert(value),
        &revision,
        StatusCode::OK,
    )
    .await
}

async fn delete_entry(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path((section, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(revision) = if_match(&headers) else {
        return revision_required(&id.0);
    };
    change(
        gateway,
        &id.0,
        &section,
        &name,
        ConfigChange::Delete,
        &revision,
        StatusCode::OK,
    )
    .await
}

async fn change(
    gateway: Gateway,
    id: &str,
    section: &str,
    name: &str,
    change: ConfigChange,
    revision: &str,
    success: StatusCode,
) -> Response {
    match gateway
        .admin()
        .config_change(section, name, change, revision)
        .await
    {
        Ok(outcome) => {
            let mut response = with_etag(&outcome.revision.clone(), json!(outcome));
            *response.status_mut() = success;
            response
        }
        Err(e) => admin_error(e, id),
    }
}
