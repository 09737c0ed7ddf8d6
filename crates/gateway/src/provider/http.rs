//! HTTP plumbing every remote adapter shares: one pooled client per provider, the first-byte and
//! total deadlines, error classification, SSE framing.
//!
//! The client is hyper-util's pooled client over rustls (ring, webpki roots), used directly: the
//! request path needs no redirects, retries or cookies, and reqwest's layers for those re-parsed
//! the URL and cloned every request (about a tenth of the proxy's CPU per request).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use http::{Method, Uri};
use http_body_util::{BodyDataStream, BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::{ProviderConfig, Timeouts};
use crate::credentials::Credential;
use crate::wire::{EventStream, TimeoutPhase, UpstreamError};

tokio::task_local! {
    /// The W3C `traceparent` of the attempt being sent (set by the pipeline while OpenTelemetry
    /// export is on), added to every request made inside it.
    pub static TRACEPARENT: String;
}

/// A backend's answer; its body arrives as it is read.
pub(super) type Response = http::Response<hyper::body::Incoming>;

type Pool = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// One pool per provider: connections are kept alive between requests. Only the configured
/// headers are defaults; nothing a client sent is ever copied here.
#[derive(Clone)]
pub(super) struct Client {
    pool: Pool,
    /// The provider's configured headers and our user agent, added unless a request sets them.
    default_headers: Arc<HeaderMap>,
}

impl Client {
    pub(super) fn new(config: &ProviderConfig) -> Result<Client, String> {
        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("switchboard/", env!("CARGO_PKG_VERSION"))),
        );
        for (name, value) in &config.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = HeaderValue::from_str(value).map_err(|e| e.to_string())?;
            headers.insert(name, value);
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        })
        .with_no_client_auth();
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(config.timeouts.connect));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(tcp);
        let pool = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(Client {
            pool,
            default_headers: Arc::new(headers),
        })
    }

    /// A POST to `uri`: a string, or a `Uri` parsed once by the caller (the hot path's endpoints).
    pub(super) fn post<U>(&self, uri: U) -> RequestBuilder<'_>
    where
        Uri: TryFrom<U>,
        <Uri as TryFrom<U>>::Error: Into<http::Error>,
    {
        self.request(Method::POST, uri)
    }

    pub(super) fn get<U>(&self, uri: U) -> RequestBuilder<'_>
    where
        Uri: TryFrom<U>,
        <Uri as TryFrom<U>>::Error: Into<http::Error>,
    {
        self.request(Method::GET, uri)
    }

    fn request<U>(&self, method: Method, uri: U) -> RequestBuilder<'_>
    where
        Uri: TryFrom<U>,
        <Uri as TryFrom<U>>::Error: Into<http::Error>,
    {
        RequestBuilder {
            client: self,
            inner: http::Request::builder().method(method).uri(uri),
            body: Bytes::new(),
            timeout: None,
        }
    }
}

/// A request being put together; a bad URI or header is reported when it is sent.
pub(super) struct RequestBuilder<'a> {
    client: &'a Client,
    inner: http::request::Builder,
    body: Bytes,
    timeout: Option<Duration>,
}

impl RequestBuilder<'_> {
    pub(super) fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.inner = self.inner.header(name, value);
        self
    }

    pub(super) fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// A deadline for the whole exchange up to the response headers (probes).
    pub(super) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends and waits for the response headers (within `timeout`, when set).
    pub(super) async fn send(self) -> Result<Response, UpstreamError> {
        let mut request = self
            .inner
            .body(Full::new(self.body))
            .map_err(|e| UpstreamError::Protocol(format!("invalid request: {e}")))?;
        let headers = request.headers_mut();
        for (name, value) in self.client.default_headers.iter() {
            if !headers.contains_key(name) {
                headers.insert(name, value.clone());
            }
        }
        let _ = TRACEPARENT.try_with(|traceparent| {
            if let Ok(value) = HeaderValue::from_str(traceparent) {
                headers.insert("traceparent", value);
            }
        });
        let sent = self.client.pool.request(request);
        let result = match self.timeout {
            None => sent.await,
            Some(timeout) => match tokio::time::timeout(timeout, sent).await {
                Ok(result) => result,
                Err(_) => return Err(UpstreamError::Timeout(TimeoutPhase::FirstByte)),
            },
        };
        result.map_err(|e| classify_error(&e))
    }
}

/// The provider's key as a sensitive header value, formatted by `format` (e.g. `Bearer {key}`).
/// The value comes from the credential's last background read: no file or keychain call here.
pub(super) async fn key_header(
    credential: &Credential,
    format: impl Fn(&str) -> String,
) -> Result<HeaderValue, UpstreamError> {
    let key = credential
        .get()
        .await
        .map_err(|e| UpstreamError::Secret(e.to_string()))?;
    let mut value = HeaderValue::from_str(&format(key.expose())).map_err(|_| {
        UpstreamError::Secret(format!(
            "the key in `{}` contains characters not allowed in a header",
            credential.reference()
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

pub(super) fn key_fingerprint(credential: Option<&Credential>) -> Option<String> {
    let key = credential?.current()?.ok()?;
    Some(crate::config::file::revision_of(key.expose()))
}

/// Sends, waiting at most `first_byte` (or `total`, if shorter) for the response headers.
pub(super) async fn send(
    builder: RequestBuilder<'_>,
    timeouts: &Timeouts,
) -> Result<Response, UpstreamError> {
    let first_byte = timeouts.first_byte.min(timeouts.total);
    match tokio::time::timeout(first_byte, builder.send()).await {
        Err(_) => Err(UpstreamError::Timeout(if first_byte == timeouts.total {
            TimeoutPhase::Total
        } else {
            TimeoutPhase::FirstByte
        })),
        Ok(result) => result,
    }
}

/// The whole body, within what is left of the total deadline.
pub(super) async fn read_body(
    response: Response,
    timeouts: &Timeouts,
    started: Instant,
) -> Result<Bytes, UpstreamError> {
    let remaining = timeouts.total.saturating_sub(started.elapsed());
    match tokio::time::timeout(remaining, response.into_body().collect()).await {
        Err(_) => Err(UpstreamError::Timeout(TimeoutPhase::Total)),
        Ok(Err(e)) => Err(body_error(&e)),
        Ok(Ok(body)) => Ok(body.to_bytes()),
    }
}

/// A response's SSE events, parsed as they arrive.
pub(super) fn sse_events(response: Response) -> EventStream {
    crate::wire::parse_sse(BodyDataStream::new(response.into_body()))
}

/// `Retry-After` in milliseconds (seconds form).
pub(super) fn retry_after_ms(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .map(|secs| (secs.max(0.0) * 1000.0) as u64)
}

/// A failed response's status, `Retry-After` and body (empty if unreadable).
pub(super) async fn error_parts(response: Response) -> (u16, Option<u64>, Bytes) {
    let status = response.status().as_u16();
    let retry_after = retry_after_ms(response.headers());
    let body = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (status, retry_after, body)
}

/// Why a request got no response: a connect timeout counts as a first-byte timeout, other
/// connect failures as unreachable, anything else as a protocol error. The message is the
/// innermost cause ("Connection refused"), which never contains the URL.
fn classify_error(error: &hyper_util::client::legacy::Error) -> UpstreamError {
    let innermost = innermost_cause(error);
    if io_kind(error) == Some(std::io::ErrorKind::TimedOut) {
        return UpstreamError::Timeout(TimeoutPhase::FirstByte);
    }
    if error.is_connect() {
        UpstreamError::Connect(innermost)
    } else {
        UpstreamError::Protocol(innermost)
    }
}

fn body_error(error: &hyper::Error) -> UpstreamError {
    if io_kind(error) == Some(std::io::ErrorKind::TimedOut) {
        return UpstreamError::Timeout(TimeoutPhase::Total);
    }
    UpstreamError::Protocol(innermost_cause(error))
}

fn innermost_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut source = error;
    while let Some(next) = source.source() {
        source = next;
    }
    source.to_string()
}

fn io_kind(error: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut source = Some(error);
    while let Some(current) = source {
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = current.source();
    }
    None
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
