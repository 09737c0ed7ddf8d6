//! HTTP adapters: routes, the front layer (correlation id, guard, the request's config
//! snapshot), health and model listing. Handlers stay thin: each client API is a `dialect`
//! that hands its parsed request to the `pipeline`; admin logic lives in `crate::admin`.

mod admin;
mod admin_clients;
mod admin_edit;
mod admin_providers;
mod dashboard;
pub(crate) mod decompress;
mod dialect;
pub(crate) mod guard;
pub(crate) mod listen;
mod metrics;
pub(crate) mod pipeline;
mod ui;

use std::sync::Arc;

use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::json;

use crate::error::ApiError;
use crate::gateway::{Gateway, Snapshot};
use dialect::{anthropic, chat, responses};

pub const CORRELATION_HEADER: &str = "x-correlation-id";
const REQUEST_ID_HEADER: &str = "x-request-id";

/// The id that ties a request's response, upstream call and log row together.
#[derive(Debug, Clone)]
pub struct CorrelationId(pub String);

/// The config snapshot the front layer loaded for a request: the guard, the handler, the
/// pipeline and the log row all see this one, even if a reload swaps the config meanwhile.
#[derive(Clone)]
pub(crate) struct RequestSnapshot(pub(crate) Arc<Snapshot>);

pub fn router(gateway: Gateway) -> Router {
    let api = Router::new()
        .route("/chat/completions", post(chat::chat_completions))
        .route("/completions", post(chat::completions))
        .route("/embeddings", post(chat::embeddings))
        .route("/messages", post(anthropic::messages))
        .route("/messages/count_tokens", post(anthropic::count_tokens))
        .route("/responses", post(responses::create))
        .route(
            "/responses/{id}",
            get(responses::get).delete(responses::delete),
        )
        .route("/models", get(list_models))
        .route("/models/{*id}", get(get_model));
    Router::new()
        .nest("/v1", api.clone())
        .merge(api)
        .route("/health/liveliness", get(liveliness))
        .route("/health/readiness", get(readiness))
        .route("/health", get(health))
        .route("/metrics", get(metrics::metrics))
        .merge(admin::routes(gateway.clone()))
        .merge(ui::routes())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(gateway.clone(), front))
        .with_state(gateway)
}

/// The one layer in front of every route: gives the request its correlation id (returned on
/// every response), then lets `guard` admit or refuse it. One layer, not two: each `from_fn`
/// costs a boxed service clone and a boxed future per request.
async fn front(State(gateway): State<Gateway>, mut request: Request, next: Next) -> Response {
    let id = correlation_id(&request);
    let snapshot = gateway.snapshot();
    let admitted = guard::check(&snapshot.config, &mut request, &id);
    let header = HeaderValue::from_str(&id);
    let mut response = match admitted {
        Ok(admitted) => match decompress::decompress(request) {
            Ok(mut request) => {
                request.extensions_mut().insert(CorrelationId(id));
                request.extensions_mut().insert(RequestSnapshot(snapshot));
                let mut response = next.run(request).await;
                admitted.finish(&mut response);
                response
            }
            Err(error) => {
                let mut response = error.with_correlation_id(&id).into_response();
                admitted.finish(&mut response);
                response
            }
        },
        Err(answer) => *answer,
    };
    if let Ok(value) = header {
        response.headers_mut().insert(CORRELATION_HEADER, value);
    }
    response
}

/// The client's `X-Correlation-Id` (or `X-Request-Id`) when it is sane, else a new one.
fn correlation_id(request: &Request) -> String {
    let headers = request.headers();
    let given = headers
        .get(CORRELATION_HEADER)
        .or_else(|| headers.get(REQUEST_ID_HEADER))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()));
    match given {
        Some(id) => id.to_owned(),
        // Time-ordered (UUIDv7), so the request log's index on correlation ids grows at its end
        // instead of dirtying a random page per row.
        None => uuid::Uuid::now_v7().simple().to_string(),
    }
}

fn model_object(name: &str, created: u64) -> serde_json::Value {
    json!({"id": name, "object": "model", "created": created, "owned_by": "switchboard"})
}

async fn list_models(
    Extension(RequestSnapshot(snapshot)): Extension<RequestSnapshot>,
    identity: Option<Extension<guard::ClientIdentity>>,
) -> Response {
    let data: Vec<_> = snapshot
        .config
        .aliases
        .keys()
        .filter(|name| identity.as_ref().is_none_or(|i| i.may_use(name)))
        .map(|name| model_object(name, snapshot.loaded_at_unix))
        .collect();
    Json(json!({"object": "list", "data": data})).into_response()
}

async fn get_model(
    Extension(RequestSnapshot(snapshot)): Extension<RequestSnapshot>,
    Extension(id): Extension<CorrelationId>,
    Path(model): Path<String>,
) -> Response {
    match snapshot.config.find_alias(&model) {
        Some(alias) => Json(model_object(&alias.name, snapshot.loaded_at_unix)).into_response(),
        None => {
            let suggestions = snapshot
                .config
                .suggest_aliases(&model)
                .into_iter()
                .map(str::to_owned)
                .collect();
            ApiError::model_not_found(&model, suggestions)
                .with_correlation_id(&id.0)
                .into_response()
        }
    }
}

async fn liveliness() -> Response {
    Json(json!({"status": "alive"})).into_response()
}

async fn readiness(State(gateway): State<Gateway>) -> Response {
    let readiness = gateway.admin().readiness();
    let status = if readiness.ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness)).into_response()
}

async fn health(State(gateway): State<Gateway>) -> Response {
    let report = gateway.admin().backend_health().await;
    let status = if report.healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}

async fn not_found(Extension(id): Extension<CorrelationId>, request: Request) -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "invalid_request_error",
        "unknown_endpoint",
        format!(
            "no endpoint at {} {}; see /v1/models, /v1/chat/completions, /health",
            request.method(),
            request.uri().path()
        ),
    )
    .with_correlation_id(&id.0)
    .into_response()
}

async fn method_not_allowed(Extension(id): Extension<CorrelationId>, request: Request) -> Response {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "invalid_request_error",
        "method_not_allowed",
        format!(
            "{} is not allowed on {}",
            request.method(),
            request.uri().path()
        ),
    )
    .with_correlation_id(&id.0)
    .into_response()
}
