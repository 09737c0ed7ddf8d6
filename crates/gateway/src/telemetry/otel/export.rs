//! The export task (`otel` feature): finished traces from the queue, in batches, through
//! `opentelemetry-otlp`'s OTLP/HTTP protobuf exporter. Its HTTP client is ours (hyper-util over
//! rustls, the stack the providers use) so the secret headers are read per export from their
//! credentials, never handed to the exporter's config or logged.

use std::borrow::Cow;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{Protocol, RetryPolicy, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter as _, SpanLinks};
use opentelemetry_sdk::Resource;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{AttrValue, Attrs, Counters, FinishedTrace, QUEUE_REQUESTS};
use crate::config::{HeaderValueSource, TelemetrySettings};
use crate::credentials::{Credential, Credentials};

/// Requests per export call.
const BATCH: usize = 256;
/// How long a batch waits for more requests before it is sent.
const LINGER: Duration = Duration::from_millis(500);
/// One export, connect to answer. A dead collector costs the queue this long per batch.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(5);
/// What is still queued at shutdown gets this long to leave.
const FINAL_FLUSH: Duration = Duration::from_secs(2);

/// Builds the exporter for `settings` and starts its task; the sender is the queue.
pub(super) fn spawn(
    settings: &TelemetrySettings,
    credentials: &Credentials,
    counters: Arc<Counters>,
    tracker: &TaskTracker,
    stop: CancellationToken,
) -> Result<mpsc::Sender<FinishedTrace>, String> {
    let headers = settings
        .headers
        .iter()
        .map(|(name, value)| {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|e| e.to_string())?;
            let value = match value {
                HeaderValueSource::Plain(v) => {
                    Header::Fixed(HeaderValue::from_str(v).map_err(|e| e.to_string())?)
                }
                HeaderValueSource::Secret(r) => Header::Secret(credentials.credential(r)),
            };
            Ok((name, value))
        })
        .collect::<Result<Vec<_>, String>>()?;
    let client = OtlpClient::new(headers)?;
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(settings.endpoint.clone())
        .with_timeout(EXPORT_TIMEOUT)
        .with_retry_policy(RetryPolicy::disabled())
        .build()
        .map_err(|e| e.to_string())?;
    exporter.set_resource(
        &Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build(),
    );
    let scope = InstrumentationScope::builder("switchboard")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let (queue, mut rx) = mpsc::channel::<FinishedTrace>(QUEUE_REQUESTS);
    tracker.spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            let n = tokio::select! {
                n = rx.recv_many(&mut batch, BATCH) => n,
                _ = stop.cancelled() => break,
            };
            // 0: every sender is gone (a reload replaced or turned off this exporter).
            if n == 0 {
                return;
            }
            // Gather for a moment, so steady traffic goes out in batches, not one POST each.
            let deadline = tokio::time::Instant::now() + LINGER;
            let (mut closed, mut stopping) = (false, false);
            while batch.len() < BATCH && !closed && !stopping {
                let room = BATCH - batch.len();
                tokio::select! {
                    n = rx.recv_many(&mut batch, room) => closed = n == 0,
                    _ = tokio::time::sleep_until(deadline) => break,
                    _ = stop.cancelled() => stopping = true,
                }
            }
            if stopping {
                break;
            }
            tokio::select! {
                _ = export(&exporter, &scope, &mut batch, &counters) => {}
                // Shutdown does not wait out a collector that does not answer.
                _ = stop.cancelled() => break,
            }
            if closed {
                return;
            }
        }
        // Stopping: what is gathered and queued gets one bounded try.
        rx.close();
        let flush = async {
            loop {
                let room = BATCH.saturating_sub(batch.len());
                if room > 0 {
                    rx.recv_many(&mut batch, room).await;
                }
                if batch.is_empty() {
                    break;
                }
                export(&exporter, &scope, &mut batch, &counters).await;
            }
        };
        let _ = tokio::time::timeout(FINAL_FLUSH, flush).await;
    });
    Ok(queue)
}

async fn export(
    exporter: &opentelemetry_otlp::SpanExporter,
    scope: &InstrumentationScope,
    batch: &mut Vec<FinishedTrace>,
    counters: &Counters,
) {
    let spans: Vec<SpanData> = batch.drain(..).flat_map(|t| spans(t, scope)).collect();
    let n = spans.len() as u64;
    match exporter.export(spans).await {
        Ok(()) => {
            counters.exported.fetch_add(n, Ordering::Relaxed);
        }
        Err(e) => {
            counters
                .dropped_export_failed
                .fetch_add(n, Ordering::Relaxed);
            let message = e.to_string();
            tracing::debug!(error = %message, spans = n, "OTLP export failed");
            if let Ok(mut last) = counters.last_error.lock() {
                *last = Some(message);
            }
        }
    }
}

/// The request span and its attempts' spans.
fn spans(trace: FinishedTrace, scope: &InstrumentationScope) -> Vec<SpanData> {
    let trace_id = TraceId::from_bytes(trace.trace_id.to_be_bytes());
    let context = |span_id: u64| {
        SpanContext::new(
            trace_id,
            SpanId::from_bytes(span_id.to_be_bytes()),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        )
    };
    let mut out = Vec::with_capacity(1 + trace.attempts.len());
    for attempt in &trace.attempts {
        let (name, attrs) = attempt.describe(trace.operation);
        let status = if attempt.outcome == "ok" {
            Status::Unset
        } else {
            Status::error(attempt.outcome.clone())
        };
        out.push(SpanData {
            span_context: context(attempt.span_id),
            parent_span_id: SpanId::from_bytes(trace.span_id.to_be_bytes()),
            parent_span_is_remote: false,
            span_kind: if attempt.backend.is_some() {
                SpanKind::Client
            } else {
                SpanKind::Internal
            },
            name: Cow::Owned(name),
            start_time: attempt.start,
            end_time: attempt.end,
            attributes: key_values(attrs),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: scope.clone(),
        });
    }
    out.push(SpanData {
        span_context: context(trace.span_id),
        parent_span_id: trace
            .parent_span_id
            .map_or(SpanId::INVALID, |p| SpanId::from_bytes(p.to_be_bytes())),
        parent_span_is_remote: trace.parent_span_id.is_some(),
        span_kind: SpanKind::Server,
        name: Cow::Owned(trace.name),
        start_time: trace.start,
        end_time: trace.end,
        attributes: key_values(trace.attributes),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: trace.error.map_or(Status::Unset, Status::error),
        instrumentation_scope: scope.clone(),
    });
    out
}

fn key_values(attrs: Attrs) -> Vec<KeyValue> {
    attrs
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                AttrValue::Str(s) => Value::from(s),
                AttrValue::Int(i) => Value::I64(i),
                AttrValue::F64(f) => Value::F64(f),
                AttrValue::Strs(v) => Value::Array(Array::String(
                    v.into_iter().map(StringValue::from).collect(),
                )),
            };
            KeyValue::new(key, value)
        })
        .collect()
}

enum Header {
    Fixed(HeaderValue),
    /// Read from the credential's last background read at each export.
    Secret(Credential),
}

type Pool = hyper_util::client::legacy::Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// The exporter's HTTP client: the configured headers added to every export.
struct OtlpClient {
    pool: Pool,
    headers: Vec<(HeaderName, Header)>,
}

impl std::fmt::Debug for OtlpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may be secrets: names only.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OtlpClient")
            .field("headers", &names)
            .finish()
    }
}

impl OtlpClient {
    fn new(headers: Vec<(HeaderName, Header)>) -> Result<OtlpClient, String> {
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
        tcp.set_connect_timeout(Some(EXPORT_TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        let pool = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .build(connector);
        Ok(OtlpClient { pool, headers })
    }
}

#[async_trait::async_trait]
impl HttpClient for OtlpClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let mut request = request.map(Full::new);
        for (name, header) in &self.headers {
            let value = match header {
                Header::Fixed(v) => v.clone(),
                Header::Secret(credential) => {
                    let secret = credential.get().await.map_err(|e| e.to_string())?;
                    let mut value = HeaderValue::from_str(secret.expose()).map_err(|_| {
                        format!("the value of header `{name}` is not a valid header value")
                    })?;
                    value.set_sensitive(true);
                    value
                }
            };
            request.headers_mut().insert(name.clone(), value);
        }
        let exchange = async {
            let response = self.pool.request(request).await?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, 4 * 1024 * 1024)
                .collect()
                .await?
                .to_bytes();
            Ok::<_, HttpError>(Response::from_parts(parts, body))
        };
        match tokio::time::timeout(EXPORT_TIMEOUT, exchange).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer from the collector within {EXPORT_TIMEOUT:?}").into()),
        }
    }
}
