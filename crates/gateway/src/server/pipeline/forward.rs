//! Step 5, `forward`: a served answer goes back to the client, whole or event by event. The
//! stream notes usage and time to first token, ends a mid-stream failure with the client
//! dialect's error event (`StreamDialect`), and logs the row when it ends or the client leaves.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt};
use serde_json::Value;

use super::record::{Record, SPEND_COMMIT_WAIT};
use crate::config::BreakerSettings;
use crate::routing::{AttemptGuard, Outcome};
use crate::server::dialect::StreamDialect;
use crate::wire::{is_json_object_shaped, EventStream, SseEvent, UpstreamError, Usage};

pub const ALIAS_HEADER: &str = "x-switchboard-alias";
pub const TARGET_HEADER: &str = "x-switchboard-target";
pub const DROPPED_HEADER: &str = "x-switchboard-dropped-params";

/// Which alias and target served, told to the client in response headers.
pub(super) struct RouteInfo {
    pub(super) alias: String,
    pub(super) target: String,
    pub(super) family: &'static str,
    /// Request parameters left out because the backend cannot take them.
    pub(super) dropped: Vec<String>,
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

pub(super) fn json_response(body: Bytes, route: &RouteInfo) -> Response {
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
pub(super) struct StreamAttempt {
    pub(super) guard: AttemptGuard,
    pub(super) breaker: BreakerSettings,
    pub(super) first_byte: Duration,
}

/// What a stream needs besides its events.
pub(super) struct StreamSetup {
    pub(super) first: Option<SseEvent>,
    /// Swallow the usage-only chunk the gateway asked for on the client's behalf.
    pub(super) hide_usage_chunk: bool,
    pub(super) dialect: Box<dyn StreamDialect>,
    pub(super) attempt: StreamAttempt,
}

pub(super) fn stream_response(
    setup: StreamSetup,
    rest: EventStream,
    record: Record,
    route: RouteInfo,
) -> Response {
    let forward = ForwardStream {
        attempt: Some(setup.attempt),
        pending_first: setup.first,
        inner: rest,
        hide_usage_chunk: setup.hide_usage_chunk,
        dialect: setup.dialect,
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
    /// The client's dialect: its last event, and how a mid-stream failure is told.
    dialect: Box<dyn StreamDialect>,
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
        if let Some(trace) = &mut self.record.trace {
            trace.answer(&event.data);
        }
        if event.data.contains("\"usage\"") {
            if let Ok(value) = serde_json::from_str::<Value>(&event.data) {
                // Where any dialect's events carry usage: OpenAI chunks at the top; Anthropic's
                // `message_start` inside `message` (`message_delta` at the top, output only);
                // Responses events inside `response`.
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
        self.dialect.observe(&event, self.sent);
        self.sent += 1;
        self.terminal_sent |= self.dialect.is_terminal(&event);
        let bytes = event.to_bytes();
        if let Some(capture) = &mut self.record.capture {
            capture.response(&bytes);
        }
        Some(bytes)
    }

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

    /// The stream failed after it started: settle, log, and tell the client in its dialect.
    fn fail(&mut self, e: UpstreamError) -> Bytes {
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
        self.dialect.error_event(&error, self.sent)
    }

    /// The upstream stream ended: finish, then hold the end of the body until the spend is
    /// committed (bounded).
    fn end(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, std::convert::Infallible>>> {
        self.finish_ok();
        if let Some(committed) = self.record.committed.take() {
            let mut wait: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
                let _ = tokio::time::timeout(SPEND_COMMIT_WAIT, committed).await;
            });
            if wait.as_mut().poll(cx).is_pending() {
                self.committing = Some(wait);
                return Poll::Pending;
            }
        }
        Poll::Ready(None)
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
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Ok(self.fail(e)))),
                Poll::Ready(None) => return self.end(cx),
            }
        }
    }
}

/// Why an upstream event cannot be forwarded: every OpenAI chunk and Anthropic event is a JSON
/// object (OpenAI ends with `[DONE]`). Passing anything else on would break the client's parser
/// with an error that names neither the gateway nor the backend.
pub(super) fn unreadable_event(event: &SseEvent) -> Option<UpstreamError> {
    // A shape scan, not a parse: every event of every stream goes through here.
    let data = event.data.trim();
    if data == "[DONE]" || is_json_object_shaped(data) {
        return None;
    }
    // The content is not echoed: raw upstream output is not passed on.
    Some(UpstreamError::Protocol(format!(
        "a stream event that is not a JSON object ({} bytes)",
        data.len()
    )))
}
