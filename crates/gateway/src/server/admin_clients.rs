//! HTTP adapter for the clients pages (`crate::admin::clients`): Connect a client and "set it
//! up for me", the client token list, access settings and the playground. Behind the admin
//! guard like the rest of `/admin`.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use super::admin::{admin_error, parse_body, with_etag, BaseRevision};
use super::dialect::{anthropic, chat, responses};
use super::guard::ClientIdentity;
use super::{CorrelationId, RequestSnapshot};
use crate::admin::AdminError;
use crate::api::{
    AccessSettings, AccessUpdate, ClientKindList, ClientTokenList, ConnectQuery, ConnectSetup,
    ConnectWrite, ConnectWritten, ErrorBody, PlaygroundRequest, WriteOutcome,
};
use crate::gateway::Gateway;

pub(super) fn routes() -> Router<Gateway> {
    Router::new()
        .route("/admin/connect", get(connect_clients))
        .route("/admin/connect/{client}", get(connect_setup))
        .route("/admin/connect/{client}/write", post(connect_write))
        .route("/admin/clients", get(client_tokens))
        .route("/admin/access", get(access).put(set_access))
        .route("/admin/playground", post(playground))
}

/// The URL the caller reached the gateway by (its `Host` passed the guard's allow-list).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1:4000");
    format!("http://{host}")
}

#[utoipa::path(get, path = "/admin/connect", responses((status = 200, description = "The clients with a setup, and the URL they should use", body = ClientKindList)))]
async fn connect_clients(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    headers: HeaderMap,
) -> Response {
    match gateway.admin().connect_clients(&base_url(&headers)) {
        Ok(list) => Json(list).into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(get, path = "/admin/connect/{client}", params(("client" = String, Path, description = "`opencode`, `claude`, `codex`, `curl`, ..."), ConnectQuery), responses((status = 200, body = ConnectSetup), (status = 404, description = "Unknown client or alias", body = ErrorBody)))]
async fn connect_setup(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(client): Path<String>,
    Query(query): Query<ConnectQuery>,
    headers: HeaderMap,
) -> Response {
    match gateway
        .admin()
        .connect_setup(&client, &query, &base_url(&headers))
    {
        Ok(setup) => Json(setup).into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

/// Merges the setup into the client's file in the user's home: with `dry_run` only the diff,
/// else the old file is backed up (timestamped, next to it) and the new one written.
#[utoipa::path(post, path = "/admin/connect/{client}/write", params(("client" = String, Path)), request_body = ConnectWrite, responses((status = 200, body = ConnectWritten), (status = 400, description = "The client has no file", body = ErrorBody), (status = 409, description = "The existing file cannot be merged into (e.g. it has comments)", body = ErrorBody)))]
async fn connect_write(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(client): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let request: ConnectWrite = if body.is_empty() {
        ConnectWrite::default()
    } else {
        match parse_body(
            &body,
            "{\"alias\": ..., \"token\": ..., \"dry_run\": true|false}",
        ) {
            Ok(r) => r,
            Err(e) => return admin_error(e, &id.0),
        }
    };
    match gateway
        .admin()
        .connect_write(&client, &request, &base_url(&headers))
        .await
    {
        Ok(written) => Json(written).into_response(),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(get, path = "/admin/clients", responses((status = 200, description = "Every client token (never the token itself), with when the log last saw it; `ETag` is the config revision", body = ClientTokenList)))]
async fn client_tokens(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
) -> Response {
    match gateway.admin().client_tokens().await {
        Ok(list) => with_etag(&list.revision.clone(), StatusCode::OK, &list),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(get, path = "/admin/access", responses((status = 200, body = AccessSettings), (status = 409, description = "Running on the embedded default", body = ErrorBody)))]
async fn access(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
) -> Response {
    match gateway.admin().access() {
        Ok(settings) => with_etag(&settings.revision.clone(), StatusCode::OK, &settings),
        Err(e) => admin_error(e, &id.0),
    }
}

#[utoipa::path(put, path = "/admin/access", params(("If-Match" = String, Header, description = "The config revision the change is based on")), request_body = AccessUpdate, responses((status = 200, body = WriteOutcome), (status = 409, body = ErrorBody), (status = 422, description = "The config would be invalid (e.g. an origin with a path)", body = ErrorBody), (status = 428, body = ErrorBody)))]
async fn set_access(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    BaseRevision(revision): BaseRevision,
    body: axum::body::Bytes,
) -> Response {
    let update: AccessUpdate = match parse_body(
        &body,
        "{\"cors_origins\": [...], \"allowed_hosts\": [...], \"lan_listen\": \"0.0.0.0:4001\" | null}",
    ) {
        Ok(u) => u,
        Err(e) => return admin_error(e, &id.0),
    };
    match gateway.admin().set_access(&update, &revision).await {
        Ok(outcome) => with_etag(&outcome.revision.clone(), StatusCode::OK, &outcome),
        Err(e) => admin_error(e, &id.0),
    }
}

/// Runs one request through the real pipeline as client `dashboard` (so the log row says
/// where it came from and the Logs page's client filter finds it). Only an admin session or
/// secret gets here; model calls from outside cannot claim to be the dashboard.
#[utoipa::path(post, path = "/admin/playground", request_body = PlaygroundRequest, responses((status = 200, description = "The client API's answer: chat completions for a prompt (an SSE stream when `stream`), the logged request's own endpoint for a replay; `x-switchboard-target` names the target that served"), (status = 400, description = "No prompt, or the replayed request's body was not captured", body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn playground(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    body: axum::body::Bytes,
) -> Response {
    let request: PlaygroundRequest =
        match parse_body(&body, "{\"alias\": ..., \"prompt\": ..., \"stream\": true}") {
            Ok(r) => r,
            Err(e) => return admin_error(e, &id.0),
        };
    let (endpoint, body) = match gateway.admin().playground_body(&request).await {
        Ok(found) => found,
        Err(e) => return admin_error(e, &id.0),
    };
    let bytes = match serde_json::to_vec(&body) {
        Ok(bytes) => bytes,
        Err(e) => return admin_error(AdminError::Io(e.to_string()), &id.0),
    };
    let built = Request::builder()
        .method(Method::POST)
        .uri(format!("/v1/{endpoint}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(bytes));
    let mut inner = match built {
        Ok(r) => r,
        Err(e) => return admin_error(AdminError::Io(e.to_string()), &id.0),
    };
    let extensions = inner.extensions_mut();
    extensions.insert(id.clone());
    extensions.insert(RequestSnapshot(gateway.snapshot()));
    extensions.insert(ClientIdentity {
        token: crate::config::DASHBOARD_CLIENT.to_owned(),
        tenant: None,
        aliases: None,
    });
    match endpoint.as_str() {
        "chat/completions" => chat::chat_completions(State(gateway), inner).await,
        "messages" => anthropic::messages(State(gateway), inner).await,
        "responses" => responses::create(State(gateway), inner).await,
        other => admin_error(
            AdminError::BadRequest(format!(
                "requests to /v1/{other} cannot be replayed in the playground"
            )),
            &id.0,
        ),
    }
}

/// The clients half's paths and schemas, merged into `GET /admin/openapi.json`.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        connect_clients,
        connect_setup,
        connect_write,
        client_tokens,
        access,
        set_access,
        playground
    ),
    components(schemas(
        ClientKindList,
        crate::api::ClientKind,
        ConnectSetup,
        crate::api::SetupFile,
        crate::api::EnvVar,
        crate::api::Snippet,
        ConnectWrite,
        ConnectWritten,
        ClientTokenList,
        crate::api::ClientTokenInfo,
        crate::api::TokenLimits,
        AccessSettings,
        AccessUpdate,
        PlaygroundRequest
    ))
)]
pub(super) struct ClientsApi;
