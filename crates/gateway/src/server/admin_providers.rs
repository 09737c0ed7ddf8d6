//! HTTP adapter for the providers vertical of the admin service (`admin::providers`,
//! `admin::copilot_login`): model lists, test connection, discovery, Copilot login. Mounted
//! inside `/admin`'s guard by `admin::routes`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use super::admin::{admin_error, parse_body, with_etag, BaseRevision};
use super::CorrelationId;
use crate::api::{
    BackendModels, ConnectionTest, CopilotLogin, CopilotLoginStart, DiscoverAdd, DiscoverAdded,
    DiscoverQuery, DiscoverReport, ErrorBody, UnsavedProvider,
};
use crate::gateway::Gateway;

pub(super) fn routes() -> Router<Gateway> {
    Router::new()
        .route("/admin/providers/{name}/models", get(models))
        .route("/admin/providers/{name}/test", post(test_saved))
        .route("/admin/providers/test", post(test_unsaved))
        .route("/admin/discover", get(discover))
        .route("/admin/discover/add", post(discover_add))
        .route("/admin/copilot/login", post(copilot_start))
        .route("/admin/copilot/login/{id}", get(copilot_poll))
}

#[utoipa::path(get, path = "/admin/providers/{name}/models", params(("name" = String, Path, description = "A provider of the live config")), responses((status = 200, description = "The backend's own list; `error` says why it could not be read", body = BackendModels), (status = 404, body = ErrorBody)))]
async fn models(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(name): Path<String>,
) -> Response {
    match gateway.admin().backend_models(&name).await {
        Ok(models) => Json(models).into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(post, path = "/admin/providers/{name}/test", params(("name" = String, Path)), responses((status = 200, description = "Every step (DNS, TCP, TLS, HTTP with the key) with its latency; a failed one explained with the fix", body = ConnectionTest), (status = 404, body = ErrorBody)))]
async fn test_saved(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(name): Path<String>,
) -> Response {
    match gateway.admin().test_provider(&name).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(post, path = "/admin/providers/test", request_body = UnsavedProvider, responses((status = 200, body = ConnectionTest), (status = 400, body = ErrorBody), (status = 422, description = "The entry is not a valid provider", body = ErrorBody)))]
async fn test_unsaved(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    body: axum::body::Bytes,
) -> Response {
    let unsaved: UnsavedProvider =
        match parse_body(&body, "{\"name\": ..., \"value\": {\"kind\": ..., ...}}") {
            Ok(u) => u,
            Err(e) => return admin_error(e, &id.0),
        };
    match gateway.admin().test_unsaved_provider(&unsaved).await {
        Ok(report) => Json(report).into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(get, path = "/admin/discover", params(DiscoverQuery), responses((status = 200, description = "Servers that answered on their usual ports and what adding them would write; `ETag` is the config revision", body = DiscoverReport), (status = 400, body = ErrorBody)))]
async fn discover(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Query(query): Query<DiscoverQuery>,
) -> Response {
    match gateway.admin().discover(&query).await {
        Ok(report) => match report.revision.clone() {
            Some(revision) => with_etag(&revision, StatusCode::OK, &report),
            None => Json(report).into_response(),
        },
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(post, path = "/admin/discover/add", params(("If-Match" = String, Header, description = "The config revision the report was made against")), request_body = DiscoverAdd, responses((status = 201, body = DiscoverAdded), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody), (status = 428, body = ErrorBody)))]
async fn discover_add(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    BaseRevision(revision): BaseRevision,
    body: axum::body::Bytes,
) -> Response {
    let add: DiscoverAdd = match parse_body(&body, "{\"entries\": [...]}") {
        Ok(a) => a,
        Err(e) => return admin_error(e, &id.0),
    };
    match gateway.admin().discover_add(&add.entries, &revision).await {
        Ok(added) => with_etag(&added.revision.clone(), StatusCode::CREATED, &added),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(post, path = "/admin/copilot/login", request_body(content = CopilotLoginStart, description = "Empty: the only github_copilot provider"), responses((status = 200, description = "The code to enter on GitHub; poll the id", body = CopilotLogin), (status = 400, body = ErrorBody)))]
async fn copilot_start(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    body: axum::body::Bytes,
) -> Response {
    let request: CopilotLoginStart = if body.is_empty() {
        CopilotLoginStart::default()
    } else {
        match parse_body(&body, "{\"provider\": ...}") {
            Ok(r) => r,
            Err(e) => return admin_error(e, &id.0),
        }
    };
    match gateway.admin().copilot_login_start(&request).await {
        Ok(login) => Json(login).into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(get, path = "/admin/copilot/login/{id}", params(("id" = String, Path)), responses((status = 200, description = "`state` is pending, done or failed", body = CopilotLogin), (status = 404, body = ErrorBody)))]
async fn copilot_poll(
    State(gateway): State<Gateway>,
    Extension(cid): Extension<CorrelationId>,
    Path(login): Path<String>,
) -> Response {
    match gateway.admin().copilot_login(&login) {
        Ok(login) => Json(login).into_response(),
        Err(e) => admin_error(e, &cid.0),
    }
}

/// This file's part of `GET /admin/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        models,
        test_saved,
        test_unsaved,
        discover,
        discover_add,
        copilot_start,
        copilot_poll
    ),
    components(schemas(
        BackendModels,
        crate::api::BackendModel,
        ConnectionTest,
        crate::api::ConnectionStep,
        UnsavedProvider,
        DiscoverReport,
        crate::api::FoundServer,
        crate::api::ProposedEntry,
        DiscoverAdd,
        DiscoverAdded,
        CopilotLoginStart,
        CopilotLogin
    ))
)]
pub(super) struct ProvidersApi;
