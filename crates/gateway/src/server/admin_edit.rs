//! HTTP adapter for the config editor (`crate::admin`'s `edit` operations): the dry run and the
//! version history. Behind the same admin guard as every `/admin` route (merged in
//! `admin::routes`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use super::admin::{admin_error, parse_body, with_etag, BaseRevision};
use super::CorrelationId;
use crate::api::{
    ConfigHistory, ConfigPreview, ConfigPreviewRequest, ConfigVersionDocument, ErrorBody,
    WriteOutcome,
};
use crate::gateway::Gateway;

pub(super) fn routes() -> Router<Gateway> {
    Router::new()
        .route("/admin/config/preview", post(preview))
        .route("/admin/config/history", get(history))
        .route("/admin/config/history/{id}", get(version))
        .route("/admin/config/history/{id}/restore", post(restore))
}

/// Tries a change without writing: the validator's errors at fields, and the diff.
#[utoipa::path(post, path = "/admin/config/preview", request_body = ConfigPreviewRequest, responses((status = 200, description = "The outcome; nothing was written", body = ConfigPreview), (status = 400, body = ErrorBody), (status = 409, description = "Running on the embedded default", body = ErrorBody)))]
async fn preview(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    body: axum::body::Bytes,
) -> Response {
    let request: ConfigPreviewRequest = match parse_body(
        &body,
        "{\"section\": ..., \"name\": ..., \"action\": \"create\"|\"upsert\"|\"delete\", \"value\": {...}}",
    ) {
        Ok(r) => r,
        Err(e) => return admin_error(e, &id.0),
    };
    match gateway.admin().config_preview(&request) {
        Ok(preview) => Json(preview).into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(get, path = "/admin/config/history", responses((status = 200, description = "Kept versions, newest first", body = ConfigHistory)))]
async fn history(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
) -> Response {
    match gateway.admin().config_history() {
        Ok(history) => with_etag(&history.revision.clone(), StatusCode::OK, &history),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(get, path = "/admin/config/history/{id}", params(("id" = String, Path)), responses((status = 200, body = ConfigVersionDocument), (status = 404, body = ErrorBody)))]
async fn version(
    State(gateway): State<Gateway>,
    Extension(cid): Extension<CorrelationId>,
    Path(id): Path<String>,
) -> Response {
    match gateway.admin().config_version(&id) {
        Ok(doc) => with_etag(&doc.revision.clone(), StatusCode::OK, &doc),
        Err(e) => admin_error(e, &cid.0),
    }
}

/// Writes a kept version back; the text it replaces is kept, so a restore can be undone.
#[utoipa::path(post, path = "/admin/config/history/{id}/restore", params(("id" = String, Path), ("If-Match" = String, Header, description = "The revision the restore is based on")), responses((status = 200, body = WriteOutcome), (status = 404, body = ErrorBody), (status = 409, description = "The file changed on disk", body = ErrorBody), (status = 422, description = "The version is not valid now", body = ErrorBody), (status = 428, body = ErrorBody)))]
async fn restore(
    State(gateway): State<Gateway>,
    Extension(cid): Extension<CorrelationId>,
    Path(id): Path<String>,
    BaseRevision(revision): BaseRevision,
) -> Response {
    match gateway.admin().restore_version(&id, &revision).await {
        Ok(outcome) => with_etag(&outcome.revision.clone(), StatusCode::OK, &outcome),
        Err(e) => admin_error(e, &cid.0),
    }
}

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(preview, history, version, restore),
    components(schemas(
        ConfigPreviewRequest,
        crate::api::ChangeAction,
        crate::api::FieldError,
        ConfigPreview,
        crate::api::ConfigVersion,
        ConfigHistory,
        ConfigVersionDocument
    ))
)]
pub(super) struct EditApi;
