//! OpenTelemetry traces (GenAI semantic conventions) over OTLP/HTTP, `[telemetry]` in the
//! config. One span per request (`chat {model}`), one child span per attempt at a target.
//!
//! Nothing is exported on the request path: a request notes plain data in its `RequestTrace`
//! (ids, times, a few attributes) as it goes, and when its log row is written the finished trace
//! goes into a bounded queue (`try_send`: a full queue drops it and counts the spans). A task on
//! the gateway's tracker batches the queue into the OTLP exporter (`export.rs`, the `otel`
//! feature: `opentelemetry-otlp` over the gateway's own hyper + rustls client). Without the
//! feature the same data is never built: `Tracing::start` answers `None`.
//!
//! An incoming W3C `traceparent` makes the request span its child, and every upstream call
//! carries a `traceparent` naming its attempt span (`provider::http::TRACEPARENT`).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use arc_swap::ArcSwapOption;
use http::HeaderMap;
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::TelemetrySettings;
use crate::credentials::Credentials;
use crate::telemetry::metrics::Finished;

#[cfg(feature = "otel")]
mod export;

/// Finished requests waiting for export; past this they are dropped and counted.
pub const QUEUE_REQUESTS: usize = 2048;

/// The gateway's trace export: the current sink (none when off) and counters that survive
/// reloads.
#[derive(Default)]
pub struct Tracing {
    sink: ArcSwapOption<Sink>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Tracing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tracing")
    }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) exported: AtomicU64,
    /// Spans dropped because the queue was full.
    pub(crate) dropped_queue_full: AtomicU64,
    /// Spans in batches the collector did not take (refused, unreachable, timed out).
    pub(crate) dropped_export_failed: AtomicU64,
    pub(crate) last_error: Mutex<Option<String>>,
}

/// One configured exporter. Dropping the last handle closes its queue; its task then exports
/// what is left and ends.
pub(crate) struct Sink {
    settings: TelemetrySettings,
    queue: tokio::sync::mpsc::Sender<FinishedTrace>,
    counters: Arc<Counters>,
}

/// What readiness and `/metrics` say about trace export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TracingHealth {
    pub enabled: bool,
    pub endpoint: Option<String>,
    pub exported_spans: u64,
    pub dropped_queue_full: u64,
    pub dropped_export_failed: u64,
    pub last_error: Option<String>,
}

impl Tracing {
    /// Starts, stops or replaces the exporter for `settings` (at start and on every reload).
    /// Unchanged settings keep the running exporter and its queue.
    pub fn configure(
        &self,
        settings: &TelemetrySettings,
        credentials: &Credentials,
        tracker: &TaskTracker,
        stop: &CancellationToken,
    ) {
        let current = self.sink.load();
        if let Some(sink) = current.as_ref() {
            if settings.enabled && sink.settings == *settings {
                return;
            }
        }
        if !settings.enabled {
            if current.is_some() {
                tracing::info!("OpenTelemetry trace export turned off");
            }
            self.sink.store(None);
            return;
        }
        match self.spawn(settings, credentials, tracker, stop) {
            Ok(sink) => {
                tracing::info!(endpoint = %settings.endpoint, "OpenTelemetry trace export on");
                self.sink.store(Some(Arc::new(sink)));
            }
            Err(message) => {
                tracing::warn!("OpenTelemetry trace export not started: {message}");
                self.set_error(message);
                self.sink.store(None);
            }
        }
    }

    #[cfg(feature = "otel")]
    fn spawn(
        &self,
        settings: &TelemetrySettings,
        credentials: &Credentials,
        tracker: &TaskTracker,
        stop: &CancellationToken,
    ) -> Result<Sink, String> {
        let queue = export::spawn(
            settings,
            credentials,
            self.counters.clone(),
            tracker,
            stop.clone(),
        )?;
        Ok(Sink {
            settings: settings.clone(),
            queue,
            counters: self.counters.clone(),
        })
    }

    #[cfg(not(feature = "otel"))]
    fn spawn(
        &self,
        _: &TelemetrySettings,
        _: &Credentials,
        _: &TaskTracker,
        _: &CancellationToken,
    ) -> Result<Sink, String> {
        Err("this build has no OpenTelemetry support (the `otel` cargo feature is off)".into())
    }

    fn set_error(&self, message: String) {
        if let Ok(mut last) = self.counters.last_error.lock() {
            *last = Some(message);
        }
    }

    /// A trace for a request with these headers, or `None` when export is off. Cheap when off:
    /// one atomic load.
    pub fn start(&self, headers: &HeaderMap) -> Option<Box<RequestTrace>> {
        let sink = self.sink.load_full()?;
        let parent = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(TraceParent::parse);
        let trace_id = parent.map_or_else(random_trace_id, |p| p.trace_id);
        let sampled = match parent {
            Some(p) => p.sampled,
            None => ratio_sampled(trace_id, sink.settings.sample_ratio),
        };
        Some(Box::new(RequestTrace {
            capture_content: sink.settings.capture_content,
            sink,
            trace_id,
            span_id: random_span_id(),
            parent_span_id: parent.map(|p| p.span_id),
            sampled,
            start: SystemTime::now(),
            operation: "chat",
            request: Vec::new(),
            response_model: None,
            finish_reasons: Vec::new(),
            output: None,
            pending: None,
            attempts: Vec::new(),
        }))
    }

    pub fn health(&self) -> TracingHealth {
        let sink = self.sink.load();
        let c = &self.counters;
        TracingHealth {
            enabled: sink.is_some(),
            endpoint: sink.as_ref().map(|s| s.settings.endpoint.clone()),
            exported_spans: c.exported.load(Ordering::Relaxed),
            dropped_queue_full: c.dropped_queue_full.load(Ordering::Relaxed),
            dropped_export_failed: c.dropped_export_failed.load(Ordering::Relaxed),
            last_error: c.last_error.lock().ok().and_then(|e| e.clone()),
        }
    }

    /// The export counters in the Prometheus text format, appended to `/metrics`.
    pub fn render_metrics(&self, out: &mut String) {
        let h = self.health();
        let _ = writeln!(
            out,
            "# HELP switchboard_trace_spans_exported_total Spans the OTLP collector accepted.\n\
             # TYPE switchboard_trace_spans_exported_total counter\n\
             switchboard_trace_spans_exported_total {}",
            h.exported_spans
        );
        let _ = writeln!(
            out,
            "# HELP switchboard_trace_spans_dropped_total Spans not exported: the export queue was full, or the collector did not take the batch.\n\
             # TYPE switchboard_trace_spans_dropped_total counter\n\
             switchboard_trace_spans_dropped_total{{reason=\"queue_full\"}} {}\n\
             switchboard_trace_spans_dropped_total{{reason=\"export_failed\"}} {}",
            h.dropped_queue_full, h.dropped_export_failed
        );
    }
}

/// A parsed W3C `traceparent` (version 00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: u128,
    pub span_id: u64,
    pub sampled: bool,
}

impl TraceParent {
    pub fn parse(text: &str) -> Option<TraceParent> {
        let mut parts = text.trim().split('-');
        let (version, trace, span, flags) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        // A later version may add fields; version ff is invalid.
        if version.len() != 2 || version == "ff" || (version == "00" && parts.next().is_some()) {
            return None;
        }
        let hex = |s: &str, len: usize| {
            (s.len() == len
                && s.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
            .then_some(())
        };
        hex(version, 2)?;
        hex(trace, 32)?;
        hex(span, 16)?;
        hex(flags, 2)?;
        let trace_id = u128::from_str_radix(trace, 16).ok().filter(|t| *t != 0)?;
        let span_id = u64::from_str_radix(span, 16).ok().filter(|s| *s != 0)?;
        let flags = u8::from_str_radix(flags, 16).ok()?;
        Some(TraceParent {
            trace_id,
            span_id,
            sampled: flags & 1 == 1,
        })
    }

    pub fn header(trace_id: u128, span_id: u64, sampled: bool) -> String {
        format!(
            "00-{trace_id:032x}-{span_id:016x}-{:02x}",
            u8::from(sampled)
        )
    }
}

fn random_trace_id() -> u128 {
    uuid::Uuid::new_v4().as_u128().max(1)
}

fn random_span_id() -> u64 {
    (uuid::Uuid::new_v4().as_u128() as u64).max(1)
}

/// The trace-id-ratio rule on the rightmost 56 bits (random in W3C trace ids, and in ours: a
/// UUID v4's last 7 bytes), so the same trace id gets the same answer everywhere.
fn ratio_sampled(trace_id: u128, ratio: f64) -> bool {
    if ratio >= 1.0 {
        return true;
    }
    const RANDOM_BITS: u32 = 56;
    let random = (trace_id & ((1u128 << RANDOM_BITS) - 1)) as u64;
    let bound = (ratio.max(0.0) * (1u64 << RANDOM_BITS) as f64) as u64;
    random < bound
}

/// An attribute value, kept plain so the request path builds no exporter types.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Int(i64),
    F64(f64),
    Strs(Vec<String>),
}

pub type Attrs = Vec<(&'static str, AttrValue)>;

/// What the backend a target calls looks like to the GenAI conventions.
#[derive(Debug, Clone, Default)]
pub struct Backend {
    /// `gen_ai.provider.name`.
    pub provider_name: &'static str,
    pub address: Option<String>,
    pub port: Option<u16>,
}

impl Backend {
    /// From the adapter's family and the provider's base URL: well-known hosts get their
    /// semantic-convention name, other OpenAI-compatible servers the family's.
    pub fn new(family: &'static str, base_url: Option<&str>) -> Backend {
        let url = base_url.and_then(|u| url::Url::parse(u).ok());
        let address = url.as_ref().and_then(|u| u.host_str().map(str::to_owned));
        let port = url.as_ref().and_then(url::Url::port_or_known_default);
        let host = address.as_deref().unwrap_or("");
        let provider_name = match family {
            "anthropic" => "anthropic",
            "gemini" => "gcp.gemini",
            "copilot" | "github_copilot" => "github_copilot",
            "demo" => "switchboard.demo",
            _ if host.ends_with("openai.azure.com") => "azure.ai.openai",
            _ if host == "api.deepseek.com" => "deepseek",
            _ if host == "api.groq.com" => "groq",
            _ if host == "api.mistral.ai" => "mistral_ai",
            _ if host == "api.x.ai" => "x_ai",
            _ if host == "api.perplexity.ai" => "perplexity",
            _ => "openai",
        };
        Backend {
            provider_name,
            address,
            port,
        }
    }
}

/// One attempt at a target, as its span will show it.
#[derive(Debug, Clone)]
pub struct AttemptSpan {
    pub span_id: u64,
    pub target: String,
    pub outcome: String,
    pub start: SystemTime,
    pub end: SystemTime,
    /// `None`: the target was skipped without a call.
    pub backend: Option<Backend>,
}

/// A called attempt whose outcome is not known yet.
#[derive(Debug)]
struct Pending {
    span_id: u64,
    backend: Backend,
}

/// One request's trace, noted as the request goes and turned into spans by `finish`.
pub struct RequestTrace {
    sink: Arc<Sink>,
    pub trace_id: u128,
    pub span_id: u64,
    pub parent_span_id: Option<u64>,
    pub sampled: bool,
    start: SystemTime,
    operation: &'static str,
    capture_content: bool,
    /// `gen_ai.request.*` from the body.
    request: Attrs,
    response_model: Option<String>,
    finish_reasons: Vec<String>,
    /// The answer's text, when `capture_content` is on.
    output: Option<String>,
    pending: Option<Pending>,
    attempts: Vec<AttemptSpan>,
}

impl RequestTrace {
    /// The request as routing sees it: the operation and the body's `gen_ai.request.*`.
    pub fn request(&mut self, operation: &'static str, body: &Map<String, Value>) {
        self.operation = operation;
        if let Some(model) = body.get("model").and_then(Value::as_str) {
            self.request
                .push(("gen_ai.request.model", AttrValue::Str(model.to_owned())));
        }
        let max_tokens = ["max_tokens", "max_completion_tokens", "max_output_tokens"]
            .iter()
            .find_map(|k| body.get(*k).and_then(Value::as_i64));
        if let Some(n) = max_tokens {
            self.request
                .push(("gen_ai.request.max_tokens", AttrValue::Int(n)));
        }
        for (key, attr) in [
            ("temperature", "gen_ai.request.temperature"),
            ("top_p", "gen_ai.request.top_p"),
        ] {
            if let Some(v) = body.get(key).and_then(Value::as_f64) {
                self.request.push((attr, AttrValue::F64(v)));
            }
        }
        if self.capture_content {
            let input = body.get("messages").or_else(|| body.get("input"));
            if let Some(text) = input.and_then(|v| serde_json::to_string(v).ok()) {
                self.request
                    .push(("gen_ai.input.messages", AttrValue::Str(text)));
            }
        }
    }

    /// A call to a target is about to be made: its span id, as the `traceparent` to send.
    pub fn attempt_header(&mut self, backend: Backend) -> String {
        let span_id = random_span_id();
        self.pending = Some(Pending { span_id, backend });
        TraceParent::header(self.trace_id, span_id, self.sampled)
    }

    /// An attempt ended (or a target was skipped, with no call pending).
    pub fn attempt(&mut self, target: &str, outcome: &str, started: Instant) {
        let end = SystemTime::now();
        let start = end.checked_sub(started.elapsed()).unwrap_or(end);
        let (span_id, backend) = match self.pending.take() {
            Some(p) => (p.span_id, Some(p.backend)),
            None => (random_span_id(), None),
        };
        self.attempts.push(AttemptSpan {
            span_id,
            target: target.to_owned(),
            outcome: outcome.to_owned(),
            start,
            end,
            backend,
        });
    }

    /// A whole answer, or one stream event, in any dialect: the model that answered and why it
    /// stopped. Looks only at events that can say so.
    pub fn answer(&mut self, data: &str) {
        let wants_model = self.response_model.is_none() && data.contains("\"model\"");
        let has_reason = data.contains("_reason\":\"")
            || data.contains("_reason\": \"")
            || data.contains("response.completed");
        if !(wants_model || has_reason || self.capture_content) {
            return;
        }
        let Ok(value) = serde_json::from_str::<Value>(data) else {
            return;
        };
        if self.response_model.is_none() {
            self.response_model = ["/model", "/message/model", "/response/model"]
                .iter()
                .find_map(|p| value.pointer(p).and_then(Value::as_str))
                .map(str::to_owned);
        }
        let mut reasons: Vec<&str> = value
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.get("finish_reason").and_then(Value::as_str))
            .collect();
        for pointer in [
            "/stop_reason",
            "/delta/stop_reason",
            "/candidates/0/finishReason",
        ] {
            reasons.extend(value.pointer(pointer).and_then(Value::as_str));
        }
        // Responses API: a whole `response` object, or the stream's `response.completed`.
        if value.get("type").and_then(Value::as_str) == Some("response.completed") {
            reasons.extend(value.pointer("/response/status").and_then(Value::as_str));
        } else if value.get("object").and_then(Value::as_str) == Some("response") {
            reasons.extend(value.get("status").and_then(Value::as_str));
        }
        for reason in reasons {
            if !self.finish_reasons.iter().any(|r| r == reason) {
                self.finish_reasons.push(reason.to_owned());
            }
        }
        if self.capture_content {
            let text = value
                .pointer("/choices/0/message/content")
                .or_else(|| value.pointer("/choices/0/delta/content"))
                .or_else(|| value.pointer("/delta/text"))
                .or_else(|| value.pointer("/content/0/text"))
                .and_then(Value::as_str);
            if let Some(text) = text {
                self.output.get_or_insert_with(String::new).push_str(text);
            }
        }
    }

    /// The request ended (its log row is being written): its spans go to the export queue.
    pub fn finish(self, row: &Finished, correlation_id: &str) {
        if !self.sampled {
            return;
        }
        let finished = self.build(row, correlation_id);
        let spans = 1 + finished.attempts.len() as u64;
        let counters = self.sink.counters.clone();
        if self.sink.queue.try_send(finished).is_err() {
            counters
                .dropped_queue_full
                .fetch_add(spans, Ordering::Relaxed);
        }
    }

    fn build(&self, row: &Finished, correlation_id: &str) -> FinishedTrace {
        let mut attrs: Attrs = vec![(
            "gen_ai.operation.name",
            AttrValue::Str(self.operation.to_owned()),
        )];
        attrs.extend(self.request.iter().cloned());
        let model = self.request.iter().find_map(|(k, v)| match v {
            AttrValue::Str(m) if *k == "gen_ai.request.model" => Some(m.clone()),
            _ => None,
        });
        // The backend that served (or the last one tried).
        let served = self.attempts.iter().rev().find_map(|a| a.backend.as_ref());
        if let Some(backend) = served {
            attrs.push((
                "gen_ai.provider.name",
                AttrValue::Str(backend.provider_name.to_owned()),
            ));
            if let Some(address) = &backend.address {
                attrs.push(("server.address", AttrValue::Str(address.clone())));
            }
            if let Some(port) = backend.port {
                attrs.push(("server.port", AttrValue::Int(port.into())));
            }
        }
        let response_model = self.response_model.clone().or_else(|| {
            row.target
                .and_then(|t| t.split_once('/'))
                .map(|(_, m)| m.to_owned())
        });
        if row.status < 400 {
            if let Some(m) = response_model {
                attrs.push(("gen_ai.response.model", AttrValue::Str(m)));
            }
        }
        if let Some(n) = row.usage.input_tokens() {
            attrs.push(("gen_ai.usage.input_tokens", AttrValue::Int(n as i64)));
        }
        if let Some(n) = row.usage.output_tokens {
            attrs.push(("gen_ai.usage.output_tokens", AttrValue::Int(n as i64)));
        }
        if let Some(n) = row.usage.cache_read_tokens {
            attrs.push((
                "gen_ai.usage.cache_read.input_tokens",
                AttrValue::Int(n as i64),
            ));
        }
        if !self.finish_reasons.is_empty() {
            attrs.push((
                "gen_ai.response.finish_reasons",
                AttrValue::Strs(self.finish_reasons.clone()),
            ));
        }
        if let Some(text) = &self.output {
            let output = serde_json::json!([{ "role": "assistant", "parts": [{ "type": "text", "content": text }] }]);
            attrs.push(("gen_ai.output.messages", AttrValue::Str(output.to_string())));
        }
        attrs.push((
            "switchboard.correlation_id",
            AttrValue::Str(correlation_id.to_owned()),
        ));
        if let Some(alias) = row.alias {
            attrs.push(("switchboard.alias", AttrValue::Str(alias.to_owned())));
        }
        if let Some(target) = row.target {
            attrs.push(("switchboard.target", AttrValue::Str(target.to_owned())));
        }
        if let Some(cost) = row.cost_usd {
            attrs.push(("switchboard.cost_usd", AttrValue::F64(cost)));
        }
        if let Some(ttft) = row.ttft_ms {
            attrs.push(("switchboard.ttft_ms", AttrValue::F64(ttft)));
        }
        attrs.push((
            "http.response.status_code",
            AttrValue::Int(row.status.into()),
        ));
        let error = row.error_type.map(str::to_owned);
        if let Some(kind) = &error {
            attrs.push(("error.type", AttrValue::Str(kind.clone())));
        }
        let name = match &model {
            Some(model) => format!("{} {model}", self.operation),
            None => self.operation.to_owned(),
        };
        FinishedTrace {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id: self.parent_span_id,
            name,
            start: self.start,
            end: SystemTime::now(),
            attributes: attrs,
            error,
            operation: self.operation,
            attempts: self.attempts.clone(),
        }
    }
}

/// A request's spans, waiting in the export queue.
#[derive(Debug, Clone)]
pub struct FinishedTrace {
    pub trace_id: u128,
    pub span_id: u64,
    pub parent_span_id: Option<u64>,
    pub name: String,
    pub start: SystemTime,
    pub end: SystemTime,
    pub attributes: Attrs,
    /// `error.type`, when the request failed.
    pub error: Option<String>,
    pub operation: &'static str,
    pub attempts: Vec<AttemptSpan>,
}

impl AttemptSpan {
    /// The attempt span's name and attributes.
    pub fn describe(&self, operation: &str) -> (String, Attrs) {
        let model = self
            .target
            .split_once('/')
            .map_or(self.target.as_str(), |(_, m)| m);
        let mut attrs: Attrs = vec![
            (
                "gen_ai.operation.name",
                AttrValue::Str(operation.to_owned()),
            ),
            ("gen_ai.request.model", AttrValue::Str(model.to_owned())),
            ("switchboard.target", AttrValue::Str(self.target.clone())),
            ("switchboard.outcome", AttrValue::Str(self.outcome.clone())),
        ];
        let ms = self
            .end
            .duration_since(self.start)
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0);
        attrs.push(("switchboard.latency_ms", AttrValue::F64(ms)));
        if let Some(b) = &self.backend {
            attrs.push((
                "gen_ai.provider.name",
                AttrValue::Str(b.provider_name.to_owned()),
            ));
            if let Some(address) = &b.address {
                attrs.push(("server.address", AttrValue::Str(address.clone())));
            }
            if let Some(port) = b.port {
                attrs.push(("server.port", AttrValue::Int(port.into())));
            }
        }
        if self.outcome != "ok" {
            attrs.push(("error.type", AttrValue::Str(self.outcome.clone())));
        }
        (format!("{operation} {model}"), attrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_round_trips_and_rejects_malformed() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let p = TraceParent::parse(text).unwrap();
        assert_eq!(p.trace_id, 0x4bf92f3577b34da6a3ce929d0e0e4736);
        assert_eq!(p.span_id, 0x00f067aa0ba902b7);
        assert!(p.sampled);
        assert_eq!(TraceParent::header(p.trace_id, p.span_id, true), text);
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        ] {
            assert_eq!(TraceParent::parse(bad), None, "{bad}");
        }
        let unsampled =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00").unwrap();
        assert!(!unsampled.sampled);
    }

    #[test]
    fn ratio_sampling_keeps_about_the_ratio() {
        let kept = (0..10_000)
            .filter(|_| ratio_sampled(random_trace_id(), 0.25))
            .count();
        assert!((2_000..3_000).contains(&kept), "{kept}");
        assert!(ratio_sampled(random_trace_id(), 1.0));
        assert!(!(0..1000).any(|_| ratio_sampled(random_trace_id(), 0.0)));
    }

    #[test]
    fn provider_names_follow_the_conventions() {
        let b = Backend::new("openai", Some("https://api.openai.com/v1"));
        assert_eq!(
            (b.provider_name, b.address.as_deref(), b.port),
            ("openai", Some("api.openai.com"), Some(443))
        );
        assert_eq!(Backend::new("gemini", None).provider_name, "gcp.gemini");
        assert_eq!(
            Backend::new("openai", Some("https://api.groq.com/openai/v1")).provider_name,
            "groq"
        );
        let local = Backend::new("openai", Some("http://127.0.0.1:11434/v1"));
        assert_eq!(local.port, Some(11434));
    }

    /// A `Tracing` whose queue holds `capacity` requests, and the queue's other end.
    fn tracing_with_queue(
        settings: TelemetrySettings,
        capacity: usize,
    ) -> (Tracing, tokio::sync::mpsc::Receiver<FinishedTrace>) {
        let (tx, rx) = tokio::sync::mpsc::channel(capacity);
        let tracing = Tracing::default();
        tracing.sink.store(Some(Arc::new(Sink {
            settings,
            queue: tx,
            counters: tracing.counters.clone(),
        })));
        (tracing, rx)
    }

    #[test]
    fn off_means_no_trace_at_all() {
        assert!(Tracing::default().start(&HeaderMap::new()).is_none());
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_waiting() {
        let (tracing, mut rx) = tracing_with_queue(TelemetrySettings::default(), 1);
        for _ in 0..3 {
            let mut trace = tracing.start(&HeaderMap::new()).unwrap();
            trace.attempt_header(Backend::new("openai", None));
            trace.attempt("p/m", "ok", Instant::now());
            trace.finish(&Finished::default(), "id");
        }
        let health = tracing.health();
        // Each trace is a request span and one attempt span; two traces did not fit.
        assert_eq!(health.dropped_queue_full, 4);
        assert_eq!(rx.try_recv().unwrap().attempts.len(), 1);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn unsampled_parents_are_followed_and_not_queued() {
        let (tracing, mut rx) = tracing_with_queue(TelemetrySettings::default(), 8);
        let mut headers = HeaderMap::new();
        headers.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
            ),
        );
        let mut trace = tracing.start(&headers).unwrap();
        let sent = trace.attempt_header(Backend::default());
        assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
        assert!(sent.ends_with("-00"), "{sent}");
        trace.finish(&Finished::default(), "id");
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn content_is_captured_only_when_asked() {
        let body: Map<String, Value> = serde_json::from_str(
            r#"{"model":"a","messages":[{"role":"user","content":"secret prompt"}]}"#,
        )
        .unwrap();
        for capture in [false, true] {
            let settings = TelemetrySettings {
                capture_content: capture,
                ..TelemetrySettings::default()
            };
            let (tracing, mut rx) = tracing_with_queue(settings, 1);
            let mut trace = tracing.start(&HeaderMap::new()).unwrap();
            trace.request("chat", &body);
            trace.answer(r#"{"model":"m","choices":[{"message":{"content":"the answer"},"finish_reason":"stop"}]}"#);
            trace.finish(&Finished::default(), "id");
            let finished = rx.try_recv().unwrap();
            let text = format!("{:?}", finished.attributes);
            assert_eq!(text.contains("secret prompt"), capture, "{text}");
            assert_eq!(text.contains("the answer"), capture, "{text}");
            assert_eq!(finished.name, "chat a");
        }
    }

    #[test]
    fn answers_in_every_dialect_give_model_and_finish_reasons() {
        let (tracing, _rx) = tracing_with_queue(TelemetrySettings::default(), 1);
        let mut trace = tracing.start(&HeaderMap::new()).unwrap();
        trace.answer(r#"{"id":"x","model":"m-1","choices":[{"delta":{"content":"hi"},"finish_reason":null}]}"#);
        trace.answer(r#"{"id":"x","model":"m-1","choices":[{"delta":{},"finish_reason":"stop"}]}"#);
        trace.answer(r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"}}"#);
        assert_eq!(trace.response_model.as_deref(), Some("m-1"));
        assert_eq!(trace.finish_reasons, vec!["stop", "end_turn"]);
    }
}
