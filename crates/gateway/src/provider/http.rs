//! HTTP plumbing every remote adapter shares: one pooled client per provider, the first-byte and
//! total deadlines, error classification, SSE framing.

use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use super::{EventStream, TimeoutPhase, UpstreamError};
use crate::config::{ProviderConfig, Timeouts};
use crate::secret::SecretRef;

/// One pool per provider: connections are kept alive between requests. Only the configured
/// headers are defaults; nothing a client sent is ever copied here.
pub(super) fn build_client(config: &ProviderConfig) -> Result<reqwest::Client, String> {
    let mut headers = HeaderMap::new();
    for (name, value) in &config.headers {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
        let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
        headers.insert(name, value);
    }
    reqwest::Client::builder()
        .default_headers(headers)
        .connect_timeout(config.timeouts.connect)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_nodelay(true)
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// The provider's key as a sensitive header value, formatted by `format` (e.g. `Bearer {key}`).
pub(super) fn key_header(
    reference: &SecretRef,
    format: impl Fn(&str) -> String,
) -> Result<HeaderValue, UpstreamError> {
    let key = reference
        .resolve()
        .map_err(|e| UpstreamError::Secret(e.to_string()))?;
    let mut value = HeaderValue::from_str(&format(key.expose())).map_err(|_| {
        UpstreamError::Secret(format!(
            "the key in `{reference}` contains characters not allowed in a header"
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

pub(super) fn key_fingerprint(reference: Option<&SecretRef>) -> Option<String> {
    let key = reference?.resolve().ok()?;
    Some(crate::config::file::revision_of(key.expose()))
}

/// Sends, waiting at most `first_byte` (or `total`, if shorter) for the response headers.
pub(super) async fn send(
    builder: reqwest::RequestBuilder,
    timeouts: &Timeouts,
) -> Result<reqwest::Response, UpstreamError> {
    let first_byte = timeouts.first_byte.min(timeouts.total);
    match tokio::time::timeout(first_byte, builder.send()).await {
        Err(_) => Err(UpstreamError::Timeout(if first_byte == timeouts.total {
            TimeoutPhase::Total
        } else {
            TimeoutPhase::FirstByte
        })),
        Ok(Err(e)) => Err(classify_reqwest_error(&e)),
        Ok(Ok(response)) => Ok(response),
    }
}

/// The whole body, within what is left of the total deadline.
pub(super) async fn read_body(
    response: reqwest::Response,
    timeouts: &Timeouts,
    started: Instant,
) -> Result<Bytes, UpstreamError> {
    let remaining = timeouts.total.saturating_sub(started.elapsed());
    match tokio::time::timeout(remaining, response.bytes()).await {
        Err(_) => Err(UpstreamError::Timeout(TimeoutPhase::Total)),
        Ok(Err(e)) => Err(classify_reqwest_error(&e)),
        Ok(Ok(body)) => Ok(body),
    }
}

/// A response's SSE events, parsed as they arrive.
pub(super) fn sse_events(response: reqwest::Response) -> EventStream {
    crate::translate::parse_sse(response.bytes_stream())
}

/// `Retry-After` in milliseconds (seconds form).
pub(super) fn retry_after_ms(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|secs| (secs.max(0.0) * 1000.0) as u64)
}

/// A failed response's status, `Retry-After` and body (empty if unreadable).
pub(super) async fn error_parts(response: reqwest::Response) -> (u16, Option<u64>, Bytes) {
    let status = response.status().as_u16();
    let retry_after = retry_after_ms(response.headers());
    let body = response.bytes().await.unwrap_or_default();
    (status, retry_after, body)
}

pub(super) fn classify_reqwest_error(error: &reqwest::Error) -> UpstreamError {
    if error.is_timeout() {
        return UpstreamError::Timeout(TimeoutPhase::FirstByte);
    }
    // The innermost cause is the useful part ("Connection refused"), without the URL.
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    if error.is_connect() {
        UpstreamError::Connect(source.to_string())
    } else {
        UpstreamError::Protocol(source.to_string())
    }
}

/// Names the body keys not in `supported`, in order.
pub(super) fn keys_outside(
    body: &serde_json::Map<String, serde_json::Value>,
    supported: &[&str],
) -> Vec<String> {
    body.keys()
        .filter(|k| !supported.contains(&k.as_str()))
        .cloned()
        .collect()
}
