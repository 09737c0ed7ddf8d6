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
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::CorrelationId;
use crate::admin::{AdminError, ConfigChange};
use crate::api::{
    BudgetsReport, ConfigDocument, ConfigEntryDocument, ConfigListing, CreateToken, ErrorBody,
    ErrorDetail, KeyChanged, KeyList, KeyValue, ReloadOutcome, ResetOutcome, ResetTargets,
    StatusReport, TargetList, TokenCreated, WriteOutcome,
};
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
        .merge(super::admin_edit::routes())
        .merge(super::admin_clients::routes())
        .merge(super::admin_providers::routes())
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
    let via = match authenticate(&gateway, request.headers()).await {
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

async fn authenticate(gateway: &Gateway, headers: &HeaderMap) -> Result<Via, Refusal> {
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
        // The snapshot's last read (the refresher's), never a file or keychain read here.
        let admin_token = gateway.snapshot().admin_token.clone();
        if let Some(credential) = admin_token {
            match credential.get().await {
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

pub(super) fn admin_error(error: AdminError, id: &str) -> Response {
    let (status, code) = match &error {
        AdminError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
        AdminError::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_value"),
        AdminError::StaleRevision { .. } => (StatusCode::CONFLICT, "stale_revision"),
        AdminError::Conflict(_) => (StatusCode::CONFLICT, "already_exists"),
        AdminError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_config"),
        AdminError::NoFile => (StatusCode::CONFLICT, "no_config_file"),
        AdminError::Io(_) => (StatusCode::INTERNAL_SERVER_ERROR, "config_io_error"),
    };
    let mut detail = ErrorDetail {
        message: error.to_string(),
        kind: "admin_error".into(),
        code: code.into(),
        correlation_id: Some(id.to_owned()),
        ..ErrorDetail::default()
    };
    match error {
        AdminError::StaleRevision { current, .. } => detail.current_revision = Some(current),
        AdminError::Invalid { diagnostics, .. } => detail.diagnostics = diagnostics,
        _ => {}
    }
    (status, Json(ErrorBody { error: detail })).into_response()
}

/// A JSON body of type `T`, or the `invalid_value` refusal saying what was expected.
pub(super) fn parse_body<T: DeserializeOwned>(body: &[u8], shape: &str) -> Result<T, AdminError> {
    serde_json::from_slice(body)
        .map_err(|e| AdminError::BadRequest(format!("body must be {shape}: {e}")))
}

pub(super) fn with_etag<T: Serialize>(revision: &str, status: StatusCode, body: &T) -> Response {
    let mut response = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!("\"{revision}\"")) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// The config revision a write is based on, from `If-Match`; a write without one is refused
/// (428) before its body is read.
pub(super) struct BaseRevision(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for BaseRevision {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Response> {
        if_match(&parts.headers).map(BaseRevision).ok_or_else(|| {
            let id = parts.extensions.get::<CorrelationId>();
            revision_required(id.map_or("", |id| id.0.as_str()))
        })
    }
}

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

#[utoipa::path(get, path = "/admin/status", responses((status = 200, body = StatusReport)))]
async fn status(State(gateway): State<Gateway>) -> Json<StatusReport> {
    let admin = gateway.admin();
    Json(StatusReport {
        readiness: admin.readiness(),
        aliases: admin.aliases(),
    })
}

#[utoipa::path(get, path = "/admin/keys", responses((status = 200, description = "Every secret reference in the live config and whether it can be read; never values", body = KeyList)))]
async fn list_keys(State(gateway): State<Gateway>) -> Json<KeyList> {
    Json(KeyList {
        keys: gateway.admin().keys().await,
    })
}

#[utoipa::path(put, path = "/admin/keys/{name}", params(("name" = String, Path, description = "Keychain entry (`keychain:NAME`)")), request_body = KeyValue, responses((status = 200, body = KeyChanged), (status = 400, body = ErrorBody)))]
async fn set_key(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let value = match parse_body::<KeyValue>(&body, "{\"value\": \"...\"}") {
        Ok(v) => crate::secret::Secret::new(v.value),
        Err(e) => return admin_error(e, &id.0),
    };
    match gateway.admin().set_key(&name, value).await {
        Ok(()) => Json(KeyChanged {
            name,
            stored: Some(true),
            deleted: None,
        })
        .into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(delete, path = "/admin/keys/{name}", params(("name" = String, Path, description = "Keychain entry")), responses((status = 200, body = KeyChanged), (status = 404, body = ErrorBody)))]
async fn delete_key(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(name): Path<String>,
) -> Response {
    match gateway.admin().delete_key(&name).await {
        Ok(()) => Json(KeyChanged {
            name,
            stored: None,
            deleted: Some(true),
        })
        .into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

/// Creates a client token; the response is the only place the token is ever shown.
#[utoipa::path(post, path = "/admin/tokens", params(("If-Match" = String, Header, description = "The config revision the change is based on")), request_body = CreateToken, responses((status = 201, body = TokenCreated), (status = 409, description = "Stale revision or the name exists", body = ErrorBody), (status = 422, description = "The config would be invalid (e.g. an unknown budget)", body = ErrorBody), (status = 428, body = ErrorBody)))]
async fn create_token(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    BaseRevision(revision): BaseRevision,
    body: axum::body::Bytes,
) -> Response {
    let request: CreateToken = match parse_body(
        &body,
        "{\"name\": ..., \"tenant\": ..., \"aliases\": [...], \"budget\": ..., \"limits\": {...}}",
    ) {
        Ok(r) => r,
        Err(e) => return admin_error(e, &id.0),
    };
    match gateway
        .admin()
        .create_client_token(&request, &revision)
        .await
    {
        Ok(created) => with_etag(&created.revision.clone(), StatusCode::CREATED, &created),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(get, path = "/admin/budgets", responses((status = 200, body = BudgetsReport)))]
async fn budgets(State(gateway): State<Gateway>) -> Json<BudgetsReport> {
    Json(gateway.admin().budgets())
}

#[utoipa::path(get, path = "/admin/targets", responses((status = 200, body = TargetList)))]
async fn targets(State(gateway): State<Gateway>) -> Json<TargetList> {
    Json(TargetList {
        targets: gateway.admin().target_statuses(),
    })
}

#[utoipa::path(post, path = "/admin/targets/reset", request_body(content = ResetTargets, description = "Empty resets every target"), responses((status = 200, body = ResetOutcome), (status = 404, body = ErrorBody)))]
async fn reset_targets(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    body: axum::body::Bytes,
) -> Response {
    let request: ResetTargets = if body.is_empty() {
        ResetTargets::default()
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
    let admin = gateway.admin();
    match admin.reset_targets(request.target.as_deref()) {
        Ok(reset) => Json(ResetOutcome {
            reset,
            targets: admin.target_statuses(),
        })
        .into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(get, path = "/admin/config", responses((status = 200, description = "The whole file; `ETag` is its revision", body = ConfigDocument), (status = 409, description = "Running on the embedded default", body = ErrorBody)))]
async fn document(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
) -> Response {
    match gateway.admin().config_document() {
        Ok(doc) => with_etag(&doc.revision.clone(), StatusCode::OK, &doc),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(post, path = "/admin/config/reload", responses((status = 200, body = ReloadOutcome), (status = 422, description = "The file is invalid; the previous config keeps serving", body = ErrorBody)))]
async fn reload(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
) -> Response {
    match gateway.admin().reload().await {
        Ok(outcome) => Json(outcome).into_response(),
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

#[utoipa::path(get, path = "/admin/config/{section}", params(("section" = String, Path, description = "`providers`, `aliases`, `tokens`, `budgets`, ...")), responses((status = 200, body = ConfigListing), (status = 404, body = ErrorBody)))]
async fn list(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(section): Path<String>,
) -> Response {
    match gateway.admin().config_list(&section) {
        Ok(listing) => with_etag(&listing.revision.clone(), StatusCode::OK, &listing),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(get, path = "/admin/config/{section}/{name}", params(("section" = String, Path), ("name" = String, Path)), responses((status = 200, body = ConfigEntryDocument), (status = 404, body = ErrorBody)))]
async fn get_entry(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path((section, name)): Path<(String, String)>,
) -> Response {
    match gateway.admin().config_get(&section, &name) {
        Ok((revision, entry)) => with_etag(
            &revision,
            StatusCode::OK,
            &ConfigEntryDocument {
                revision: revision.clone(),
                name: entry.name,
                value: entry.value,
            },
        ),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(post, path = "/admin/config/{section}", params(("section" = String, Path), ("If-Match" = String, Header, description = "The revision the change is based on")), request_body = crate::api::ConfigEntry, responses((status = 201, body = WriteOutcome), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 428, body = ErrorBody)))]
async fn create(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(section): Path<String>,
    BaseRevision(revision): BaseRevision,
    body: axum::body::Bytes,
) -> Response {
    let entry: crate::api::ConfigEntry =
        match parse_body(&body, "{\"name\": ..., \"value\": {...}}") {
            Ok(entry) => entry,
            Err(e) => return admin_error(e, &id.0),
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

#[utoipa::path(put, path = "/admin/config/{section}/{name}", params(("section" = String, Path), ("name" = String, Path), ("If-Match" = String, Header)), request_body(content = Object, description = "The entry's new value"), responses((status = 200, body = WriteOutcome), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 428, body = ErrorBody)))]
async fn put_entry(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path((section, name)): Path<(String, String)>,
    BaseRevision(revision): BaseRevision,
    body: axum::body::Bytes,
) -> Response {
    let value: serde_json::Value = match serde_json::from_slice(&body) {
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

#[utoipa::path(delete, path = "/admin/config/{section}/{name}", params(("section" = String, Path), ("name" = String, Path), ("If-Match" = String, Header)), responses((status = 200, body = WriteOutcome), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 428, body = ErrorBody)))]
async fn delete_entry(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path((section, name)): Path<(String, String)>,
    BaseRevision(revision): BaseRevision,
) -> Response {
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
        Ok(outcome) => with_etag(&outcome.revision.clone(), success, &outcome),
        Err(e) => admin_error(e, id),
    }
}

/// The configuration and control half of the admin API; merged with the watching half
/// (`dashboard::WatchApi`) into `GET /admin/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Switchboard admin API",
        description = "Needs `Authorization: Bearer <admin secret>` or the dashboard's session cookie; with the cookie, writes also need the `x-switchboard-csrf` header. Config writes need `If-Match: <revision>`."
    ),
    paths(
        status,
        list_keys,
        set_key,
        delete_key,
        create_token,
        budgets,
        targets,
        reset_targets,
        document,
        reload,
        list,
        get_entry,
        create,
        put_entry,
        delete_entry
    ),
    components(schemas(
        StatusReport,
        KeyList,
        KeyValue,
        KeyChanged,
        CreateToken,
        TokenCreated,
        BudgetsReport,
        TargetList,
        ResetTargets,
        ResetOutcome,
        ConfigDocument,
        ConfigListing,
        ConfigEntryDocument,
        crate::api::ConfigEntry,
        ReloadOutcome,
        WriteOutcome,
        ErrorBody,
        ErrorDetail
    ))
)]
struct ControlApi;

/// The whole admin API's OpenAPI document.
pub(super) fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = <ControlApi as utoipa::OpenApi>::openapi();
    doc.merge(<super::dashboard::WatchApi as utoipa::OpenApi>::openapi());
    doc.merge(<super::admin_edit::EditApi as utoipa::OpenApi>::openapi());
    doc.merge(<super::admin_clients::ClientsApi as utoipa::OpenApi>::openapi());
    doc.merge(<super::admin_providers::ProvidersApi as utoipa::OpenApi>::openapi());
    doc
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// Paths registered with `.route("...")` in a source file, in OpenAPI's spelling
    /// (`{*name}` → `{name}`).
    fn routes_in(source: &str) -> BTreeSet<String> {
        source
            .split(".route(")
            .skip(1)
            .filter_map(|rest| {
                let rest = rest.trim_start().strip_prefix('"')?;
                Some(rest[..rest.find('"')?].replace("{*", "{"))
            })
            .collect()
    }

    /// Every `/admin` route of the router is in `/admin/openapi.json`, and nothing else is.
    #[test]
    fn every_admin_route_is_in_the_openapi_document() {
        let mut routed = routes_in(include_str!("admin.rs"));
        routed.extend(routes_in(include_str!("dashboard.rs")));
        routed.extend(routes_in(include_str!("admin_edit.rs")));
        routed.extend(routes_in(include_str!("admin_clients.rs")));
        routed.extend(routes_in(include_str!("admin_providers.rs")));
        routed.retain(|p| p.starts_with("/admin"));
        // The one-time login link is a browser redirect, not an API call.
        routed.remove("/admin/login");
        assert!(routed.len() >= 19, "found only {routed:?}");
        let doc = super::openapi();
        let documented: BTreeSet<String> = doc.paths.paths.keys().cloned().collect();
        assert_eq!(routed, documented);
    }
}
