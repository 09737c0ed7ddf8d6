//! The admin API for watching (request log, stats, live events) and the dashboard's login.
//! Everything here but `login` sits behind `admin::guard`.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use futures::Stream;
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use super::admin::Via;
use super::listen::Stopping;
use super::CorrelationId;
use crate::api::{RequestQuery, SessionInfo, StatsQuery};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::gateway::Gateway;
use crate::session::{Sessions, CSRF_HEADER, SESSION_COOKIE};
use crate::store::read::ReadError;

const HEARTBEAT: Duration = Duration::from_secs(10);
/// Rows per SSE catch-up query.
const CATCH_UP: u32 = 500;

pub(super) fn routes() -> Router<Gateway> {
    Router::new()
        .route("/admin/session", get(session_info))
        .route("/admin/login-links", post(login_link))
        .route("/admin/logout", post(logout))
        .route("/admin/requests", get(list_requests))
        .route("/admin/requests/{id}", get(get_request))
        .route("/admin/stats", get(stats))
        .route("/admin/events", get(events))
        .route("/admin/openapi.json", get(openapi))
}

/// The OpenAPI document of the watching and session endpoints, from the types in `crate::api`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Switchboard admin API: watching",
        description = "Needs `Authorization: Bearer <admin secret>` or the dashboard's session cookie; with the cookie, writes also need the `x-switchboard-csrf` header."
    ),
    paths(
        session_info,
        login_link,
        logout,
        list_requests,
        get_request,
        stats,
        events,
        openapi
    ),
    components(schemas(
        crate::api::RequestRow,
        crate::api::RequestList,
        crate::api::RequestDetail,
        crate::api::Attempt,
        crate::api::CapturedBodies,
        crate::api::Stats,
        crate::api::StatsBucket,
        crate::api::GroupBy,
        crate::api::LoginLink,
        crate::api::SessionInfo
    ))
)]
pub(crate) struct WatchApi;

#[utoipa::path(get, path = "/admin/openapi.json", responses((status = 200, description = "This document (OpenAPI 3.1)")))]
async fn openapi() -> Response {
    Json(super::admin::openapi()).into_response()
}

fn read_error(error: ReadError, id: &str) -> Response {
    let (status, code) = match &error {
        ReadError::BadQuery(_) => (StatusCode::BAD_REQUEST, "invalid_query"),
        ReadError::Database(_) => (StatusCode::SERVICE_UNAVAILABLE, "log_unavailable"),
    };
    ApiError::new(status, "admin_error", code, error.to_string())
        .with_correlation_id(id)
        .into_response()
}

#[utoipa::path(get, path = "/admin/session", responses((status = 200, body = SessionInfo)))]
async fn session_info(State(gateway): State<Gateway>, Extension(via): Extension<Via>) -> Response {
    Json(SessionInfo {
        via: match via {
            Via::Bearer => "bearer",
            Via::Session => "session",
        }
        .to_owned(),
        csrf_header: CSRF_HEADER.to_owned(),
        listen: gateway.snapshot().config.listen.to_string(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
    .into_response()
}

#[utoipa::path(post, path = "/admin/login-links", responses((status = 200, description = "A one-time login link (two minutes)", body = crate::api::LoginLink)))]
async fn login_link(State(gateway): State<Gateway>) -> Response {
    let mut response = Json(gateway.admin().login_link()).into_response();
    no_store(response.headers_mut());
    response
}

#[derive(Deserialize)]
pub(super) struct LoginQuery {
    code: Option<String>,
}

/// Exchanges a one-time code for a session cookie and sends the browser on to the dashboard,
/// so the code leaves the address bar (and the history) at once.
pub(super) async fn login(
    State(gateway): State<Gateway>,
    Query(query): Query<LoginQuery>,
) -> Response {
    let Some(session) = query
        .code
        .as_deref()
        .and_then(|code| gateway.inner.sessions.redeem(code))
    else {
        let mut response = (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            "<!doctype html><meta charset=utf-8><title>Switchboard</title>\
             <p>This login link was already used or has expired (links work once, for two minutes).\
             <p>Run <code>switchboard dashboard</code> for a new one.",
        )
            .into_response();
        no_store(response.headers_mut());
        return response;
    };
    let cookie = format!(
        "{SESSION_COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        Sessions::session_ttl().as_secs()
    );
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "../ui/")]).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    no_store(response.headers_mut());
    response
}

#[utoipa::path(post, path = "/admin/logout", responses((status = 204, description = "The session is over and its cookie cleared")))]
async fn logout(State(gateway): State<Gateway>, headers: HeaderMap) -> Response {
    for value in headers.get_all(header::COOKIE) {
        if let Some(session) = value
            .to_str()
            .ok()
            .and_then(|v| crate::session::cookie(v, SESSION_COOKIE))
        {
            gateway.inner.sessions.end(session);
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("sb_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

fn no_store(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

#[utoipa::path(get, path = "/admin/requests", params(RequestQuery), responses((status = 200, description = "Newest first", body = crate::api::RequestList), (status = 400, description = "A filter or cursor that makes no sense")))]
async fn list_requests(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    query: Result<Query<RequestQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return read_error(ReadError::BadQuery(e.body_text()), &id.0),
    };
    match gateway.inner.reader.list(&query).await {
        Ok(list) => Json(list).into_response(),
        Err(e) => read_error(e, &id.0),
    }
}

#[utoipa::path(get, path = "/admin/requests/{id}", params(("id" = i64, Path, description = "Row id")), responses((status = 200, body = crate::api::RequestDetail), (status = 404, description = "No such row")))]
async fn get_request(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    Path(row): Path<String>,
) -> Response {
    let Ok(row) = row.parse::<i64>() else {
        return read_error(
            ReadError::BadQuery(format!("{row:?} is not a request id")),
            &id.0,
        );
    };
    match gateway.inner.reader.get(row).await {
        Ok(Some(detail)) => Json(detail).into_response(),
        Ok(None) => ApiError::new(
            StatusCode::NOT_FOUND,
            "admin_error",
            "not_found",
            format!("no request {row} in the log (it may have been pruned)"),
        )
        .with_correlation_id(&id.0)
        .into_response(),
        Err(e) => read_error(e, &id.0),
    }
}

#[utoipa::path(get, path = "/admin/stats", params(StatsQuery), responses((status = 200, body = crate::api::Stats), (status = 400, description = "A range or step that makes no sense")))]
async fn stats(
    State(gateway): State<Gateway>,
    Extension(id): Extension<CorrelationId>,
    query: Result<Query<StatsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let query = match query {
        Ok(Query(q)) => q,
        Err(e) => return read_error(ReadError::BadQuery(e.body_text()), &id.0),
    };
    match gateway.inner.reader.stats(&query, now_ms() as i64).await {
        Ok(stats) => Json(stats).into_response(),
        Err(e) => read_error(e, &id.0),
    }
}

#[derive(Deserialize)]
struct EventsQuery {
    /// Resume after this row id (the same as `Last-Event-ID`, for clients that cannot set it).
    after: Option<i64>,
}

/// Server-sent events: `request` (a new log row; its `id` is the row id, so a reconnecting
/// `EventSource` resumes with `Last-Event-ID`), the gateway's own events (`config_reloaded`,
/// `breaker_opened`, `budget_alert`, ...) and a `heartbeat` every 10 s.
#[utoipa::path(get, path = "/admin/events", params(("after" = Option<i64>, Query, description = "Resume after this row id (or send Last-Event-ID)")), responses((status = 200, description = "text/event-stream: `request` (data: RequestRow, id: row id), the gateway's events (`config_reloaded`, `breaker_opened`, `budget_alert`, ...), `heartbeat`", content_type = "text/event-stream")))]
async fn events(
    State(gateway): State<Gateway>,
    stopping: Option<Extension<Stopping>>,
    Query(query): Query<EventsQuery>,
    headers: HeaderMap,
) -> Response {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .or(query.after);
    let (tx, rx) = tokio::sync::mpsc::channel::<Event>(256);
    let worker = gateway.clone();
    let server_stop = stopping.map(|Extension(s)| s.0).unwrap_or_default();
    gateway
        .inner
        .tracker
        .spawn(async move { feed(worker, resume, tx, server_stop).await });
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx);
    let stream: std::pin::Pin<Box<dyn Stream<Item = Result<Event, Infallible>> + Send>> =
        Box::pin(futures::StreamExt::map(stream, Ok));
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    // Proxies (nginx) must not buffer the stream.
    response
        .headers_mut()
        .insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// Sends each row as a `request` event (a row that does not serialize is skipped) and moves
/// `last` past it; false once the client has gone.
async fn send_rows(
    tx: &tokio::sync::mpsc::Sender<Event>,
    rows: &[crate::api::RequestRow],
    last: &mut i64,
) -> bool {
    for row in rows {
        *last = row.id;
        let Ok(event) = Event::default()
            .event("request")
            .id(row.id.to_string())
            .json_data(row)
        else {
            continue;
        };
        if tx.send(event).await.is_err() {
            return false;
        }
    }
    true
}

/// Feeds one SSE connection until the client goes away or the gateway stops.
async fn feed(
    gateway: Gateway,
    resume: Option<i64>,
    tx: tokio::sync::mpsc::Sender<Event>,
    server_stop: tokio_util::sync::CancellationToken,
) {
    let reader = &gateway.inner.reader;
    let mut written = gateway.inner.log.subscribe_written();
    let mut events = gateway.subscribe();
    let stop = gateway.inner.stop_background.clone();
    let mut last = match resume {
        Some(id) => id,
        None => reader.last_id().await.unwrap_or(0),
    };
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let hello = Event::default()
        .event("hello")
        .data(format!("{{\"last_id\":{last}}}"));
    if tx.send(hello).await.is_err() {
        return;
    }
    let mut pending = resume.is_some();
    loop {
        if pending {
            pending = false;
            match reader.after(last, CATCH_UP).await {
                Ok(rows) => {
                    pending = rows.len() == CATCH_UP as usize;
                    if !send_rows(&tx, &rows, &mut last).await {
                        return;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "live tail cannot read the log"),
            }
            continue;
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = server_stop.cancelled() => return,
            _ = tx.closed() => return,
            changed = written.changed() => {
                if changed.is_err() {
                    return;
                }
                let committed = written.borrow_and_update().clone();
                match committed.rows_after(last) {
                    Some(rows) => {
                        if !send_rows(&tx, rows, &mut last).await {
                            return;
                        }
                    }
                    // A batch missed (this tail was slow) or not kept: read the log.
                    None => pending = true,
                }
            }
            event = events.recv() => match event {
                Ok(event) => {
                    let kind = serde_json::to_value(&event)
                        .ok()
                        .and_then(|v| v["type"].as_str().map(str::to_owned))
                        .unwrap_or_else(|| "event".into());
                    if let Ok(event) = Event::default().event(kind).json_data(&event) {
                        if tx.send(event).await.is_err() {
                            return;
                        }
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = heartbeat.tick() => {
                let beat = Event::default().event("heartbeat").data(now_ms().to_string());
                if tx.send(beat).await.is_err() {
                    return;
                }
            }
        }
    }
}
