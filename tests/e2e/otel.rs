//! OpenTelemetry export over OTLP/HTTP: a real `switchboard serve` in front of the mock upstream
//! sends its spans to an in-test collector (an axum receiver decoding `ExportTraceServiceRequest`
//! with `opentelemetry-proto`), whose spans and attributes are asserted.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::HeaderMap;
use bytes::Bytes;
use mock_upstream::{MockConfig, MockUpstream};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use serde_json::{json, Value};
use switchboard_test_support::eventually;

use crate::support::{render_config, switchboard, Served, BASE_CONFIG};

/// What the collector received: spans with their resource's `service.name`, and the headers
/// of every export.
#[derive(Default)]
struct Received {
    spans: Vec<(String, Span)>,
    headers: Vec<HeaderMap>,
}

struct Collector {
    addr: SocketAddr,
    received: Arc<Mutex<Received>>,
}

impl Collector {
    async fn start() -> Collector {
        let received = Arc::new(Mutex::new(Received::default()));
        let app = axum::Router::new()
            .route("/v1/traces", axum::routing::post(collect))
            .with_state(received.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Collector { addr, received }
    }

    fn endpoint(&self) -> String {
        format!("http://{}/v1/traces", self.addr)
    }

    fn spans(&self) -> Vec<(String, Span)> {
        self.received.lock().unwrap().spans.clone()
    }

    fn headers(&self) -> Vec<HeaderMap> {
        self.received.lock().unwrap().headers.clone()
    }

    /// The spans of the trace whose request span carries `correlation_id`, request span first.
    fn trace_of(&self, correlation_id: &str) -> Option<(Span, Vec<Span>)> {
        let spans = self.spans();
        let request = spans
            .iter()
            .map(|(_, s)| s)
            .find(|s| str_attr(s, "switchboard.correlation_id") == Some(correlation_id))?
            .clone();
        let children = spans
            .iter()
            .map(|(_, s)| s)
            .filter(|s| s.parent_span_id == request.span_id && s.trace_id == request.trace_id)
            .cloned()
            .collect();
        Some((request, children))
    }
}

async fn collect(
    State(received): State<Arc<Mutex<Received>>>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::http::StatusCode {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return axum::http::StatusCode::BAD_REQUEST;
    };
    let mut received = received.lock().unwrap();
    received.headers.push(headers);
    for resource_spans in request.resource_spans {
        let service = resource_spans
            .resource
            .iter()
            .flat_map(|r| r.attributes.iter())
            .find(|kv| kv.key == "service.name")
            .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
                Any::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for scope in resource_spans.scope_spans {
            for span in scope.spans {
                received.spans.push((service.clone(), span));
            }
        }
    }
    axum::http::StatusCode::OK
}

fn attr<'s>(span: &'s Span, key: &str) -> Option<&'s Any> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

fn str_attr<'s>(span: &'s Span, key: &str) -> Option<&'s str> {
    match attr(span, key)? {
        Any::StringValue(s) => Some(s),
        _ => None,
    }
}

fn int_attr(span: &Span, key: &str) -> Option<i64> {
    match attr(span, key)? {
        Any::IntValue(i) => Some(*i),
        _ => None,
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn write_config(dir: &Path, mock: &MockUpstream, telemetry: &str) -> std::path::PathBuf {
    let extra = r#"
[aliases.flaky]
targets = ["mock/fail-500"]
fallbacks = ["local/chat"]
retries = { attempts = 1 }
"#;
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        render_config(
            &format!("{BASE_CONFIG}\n{extra}\n{telemetry}"),
            &mock.base_url(),
        ),
    )
    .unwrap();
    config
}

async fn chat(
    http: &reqwest::Client,
    served: &Served,
    id: &str,
    body: Value,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = http
        .post(served.url("/v1/chat/completions"))
        .header("x-correlation-id", id)
        .json(&body);
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn requests_and_attempts_reach_the_collector_with_genai_attributes() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let collector = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let telemetry = format!(
        "[telemetry]\nenabled = true\nendpoint = \"{}\"\nservice_name = \"sb-e2e\"\nheaders = {{ \"x-otlp-token\" = \"env:SB_TEST_OTLP_TOKEN\" }}\n",
        collector.endpoint()
    );
    let config = write_config(dir.path(), &mock, &telemetry);
    let mut command = switchboard(dir.path());
    command.env("SB_TEST_OTLP_TOKEN", "otlp-secret-value");
    let served = Served::start_command(command, &config, &dir.path().join("log.db")).await;
    let http = reqwest::Client::new();

    // A success, child of the caller's trace.
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let body = json!({
        "model": "local/chat",
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 64,
        "temperature": 0.5,
    });
    let ok = chat(
        &http,
        &served,
        "otel-ok",
        body,
        &[("traceparent", incoming)],
    )
    .await;
    assert_eq!(ok.status(), 200);
    let answer: Value = ok.json().await.unwrap();
    // A failure with a fallback, streamed.
    let body = json!({
        "model": "flaky",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": true,
    });
    let fallback = chat(&http, &served, "otel-fallback", body, &[]).await;
    assert_eq!(fallback.status(), 200);
    let _ = fallback.bytes().await.unwrap();

    assert!(
        eventually(Duration::from_secs(10), || async {
            collector.trace_of("otel-ok").is_some() && collector.trace_of("otel-fallback").is_some()
        })
        .await,
        "spans received: {:?}",
        collector
            .spans()
            .iter()
            .map(|(_, s)| s.name.clone())
            .collect::<Vec<_>>()
    );

    let (request, attempts) = collector.trace_of("otel-ok").unwrap();
    assert_eq!(request.name, "chat local/chat");
    assert_eq!(hex(&request.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&request.parent_span_id), "00f067aa0ba902b7");
    assert_eq!(str_attr(&request, "gen_ai.operation.name"), Some("chat"));
    assert_eq!(str_attr(&request, "gen_ai.provider.name"), Some("openai"));
    assert_eq!(
        str_attr(&request, "gen_ai.request.model"),
        Some("local/chat")
    );
    assert_eq!(
        str_attr(&request, "gen_ai.response.model"),
        answer["model"].as_str()
    );
    assert_eq!(int_attr(&request, "gen_ai.request.max_tokens"), Some(64));
    assert_eq!(
        attr(&request, "gen_ai.request.temperature"),
        Some(&Any::DoubleValue(0.5))
    );
    assert_eq!(
        int_attr(&request, "gen_ai.usage.input_tokens"),
        answer["usage"]["prompt_tokens"].as_i64()
    );
    assert_eq!(
        int_attr(&request, "gen_ai.usage.output_tokens"),
        answer["usage"]["completion_tokens"].as_i64()
    );
    let reasons = match attr(&request, "gen_ai.response.finish_reasons") {
        Some(Any::ArrayValue(a)) => a
            .values
            .iter()
            .filter_map(|v| match v.value.as_ref()? {
                Any::StringValue(s) => Some(s.clone()),
                _ => None,
            })
            .collect::<Vec<_>>(),
        other => panic!("finish reasons: {other:?}"),
    };
    assert_eq!(
        reasons,
        vec![answer["choices"][0]["finish_reason"]
            .as_str()
            .unwrap()
            .to_owned()]
    );
    assert_eq!(str_attr(&request, "switchboard.alias"), Some("local/chat"));
    assert_eq!(str_attr(&request, "server.address"), Some("127.0.0.1"));
    assert_eq!(str_attr(&request, "error.type"), None);
    // No prompt or answer text unless capture_content is on.
    assert_eq!(str_attr(&request, "gen_ai.input.messages"), None);
    assert_eq!(attempts.len(), 1);
    let attempt = &attempts[0];
    assert_eq!(attempt.name, "chat some-model");
    assert_eq!(
        str_attr(attempt, "switchboard.target"),
        Some("mock/some-model")
    );
    assert_eq!(str_attr(attempt, "switchboard.outcome"), Some("ok"));
    // The upstream call carried the attempt span as its parent.
    let sent: Vec<String> = mock
        .received()
        .iter()
        .filter_map(|r| {
            r.headers
                .get("traceparent")?
                .to_str()
                .ok()
                .map(str::to_owned)
        })
        .collect();
    let expected = format!(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-{}-01",
        hex(&attempt.span_id)
    );
    assert!(sent.contains(&expected), "{sent:?} lacks {expected}");

    let (request, attempts) = collector.trace_of("otel-fallback").unwrap();
    assert_eq!(request.parent_span_id, Vec::<u8>::new());
    assert_eq!(str_attr(&request, "gen_ai.request.model"), Some("flaky"));
    assert_eq!(str_attr(&request, "switchboard.alias"), Some("local/chat"));
    let mut attempts = attempts;
    attempts.sort_by_key(|s| s.start_time_unix_nano);
    let outcomes: Vec<(Option<&str>, Option<&str>)> = attempts
        .iter()
        .map(|s| (str_attr(s, "switchboard.target"), str_attr(s, "error.type")))
        .collect();
    assert_eq!(outcomes.len(), 2, "{outcomes:?}");
    assert_eq!(outcomes[0].0, Some("mock/fail-500"));
    assert!(outcomes[0].1.is_some(), "{outcomes:?}");
    assert_eq!(outcomes[1], (Some("mock/some-model"), None));
    // An error status on the failed attempt (OTLP status code 2 = error).
    assert_eq!(attempts[0].status.as_ref().map(|s| s.code), Some(2));

    // Every export named the service and carried the secret header from the environment.
    assert!(collector
        .spans()
        .iter()
        .all(|(service, _)| service == "sb-e2e"));
    assert!(collector
        .headers()
        .iter()
        .all(|h| h.get("x-otlp-token").and_then(|v| v.to_str().ok()) == Some("otlp-secret-value")));
    assert!(!served.stderr().contains("otlp-secret-value"));

    // Readiness and /metrics count the exported spans. The exporter counts a batch once the
    // collector's answer is back, a moment after the collector has the spans: poll briefly.
    let deadline = Instant::now() + Duration::from_secs(5);
    let readiness: Value = loop {
        let readiness: Value = http
            .get(served.url("/health/readiness"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if readiness["trace_export"]["exported_spans"].as_u64() >= Some(5)
            || Instant::now() > deadline
        {
            break readiness;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let export = &readiness["trace_export"];
    assert_eq!(export["enabled"], true, "{readiness}");
    assert!(export["exported_spans"].as_u64().unwrap() >= 5, "{export}");
    let metrics = http
        .get(served.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("switchboard_trace_spans_dropped_total{reason=\"queue_full\"} 0"),
        "{metrics}"
    );
}

async fn trace_export(http: &reqwest::Client, served: &Served) -> Value {
    let readiness: Value = http
        .get(served.url("/health/readiness"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    readiness["trace_export"].clone()
}

fn hangup(served: &Served) {
    let pid = served.child.id().unwrap();
    let status = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

/// `enabled = false` sends nothing; a reload turns export on, and off again.
#[tokio::test]
async fn disabled_sends_nothing_and_a_reload_turns_it_on_and_off() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let collector = Collector::start().await;
    let dir = tempfile::tempdir().unwrap();
    let off = format!(
        "[telemetry]\nenabled = false\nendpoint = \"{}\"\n",
        collector.endpoint()
    );
    let config = write_config(dir.path(), &mock, &off);
    let served = Served::start(dir.path(), &config, &dir.path().join("log.db")).await;
    let http = reqwest::Client::new();
    let body = json!({"model": "local/chat", "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(
        chat(&http, &served, "off-1", body.clone(), &[])
            .await
            .status(),
        200
    );
    assert_eq!(trace_export(&http, &served).await["enabled"], false);

    write_config(
        dir.path(),
        &mock,
        &off.replace("enabled = false", "enabled = true"),
    );
    hangup(&served);
    assert!(
        eventually(Duration::from_secs(10), || async {
            trace_export(&http, &served).await["enabled"] == true
        })
        .await
    );
    assert_eq!(
        chat(&http, &served, "on-1", body.clone(), &[])
            .await
            .status(),
        200
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            collector.trace_of("on-1").is_some()
        })
        .await
    );

    write_config(dir.path(), &mock, &off);
    hangup(&served);
    assert!(
        eventually(Duration::from_secs(10), || async {
            trace_export(&http, &served).await["enabled"] == false
        })
        .await
    );
    assert_eq!(
        chat(&http, &served, "off-2", body.clone(), &[])
            .await
            .status(),
        200
    );
    // Give an export (were one queued) the time it took above to arrive; none may.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(collector.trace_of("off-1").is_none());
    assert!(collector.trace_of("off-2").is_none());
    let exported = collector.spans().len();
    assert_eq!(exported, 2, "only on-1's request and attempt spans");
}

/// A collector that accepts connections and never answers: requests are not slowed or failed,
/// the failed export is counted, and shutdown is not held up past its bound.
#[tokio::test]
async fn a_dead_collector_never_slows_or_fails_requests() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/v1/traces", blackhole.local_addr().unwrap());
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = blackhole.accept().await {
            keep.lock().unwrap().push(socket);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let telemetry = format!("[telemetry]\nenabled = true\nendpoint = \"{endpoint}\"\n");
    let config = write_config(dir.path(), &mock, &telemetry);
    let mut served = Served::start(dir.path(), &config, &dir.path().join("log.db")).await;
    let http = reqwest::Client::new();
    let body = json!({"model": "local/chat", "messages": [{"role": "user", "content": "hi"}]});
    let mut slowest = Duration::ZERO;
    for i in 0..40 {
        let started = Instant::now();
        let response = chat(&http, &served, &format!("dead-{i}"), body.clone(), &[]).await;
        assert_eq!(response.status(), 200);
        slowest = slowest.max(started.elapsed());
    }
    // The exporter waits 5 s for the collector; no request waited for it.
    assert!(
        slowest < Duration::from_secs(4),
        "slowest request took {slowest:?}"
    );
    assert!(
        eventually(Duration::from_secs(10), || async {
            !held.lock().unwrap().is_empty()
        })
        .await,
        "the exporter connected"
    );
    assert!(
        eventually(Duration::from_secs(15), || async {
            let export = trace_export(&http, &served).await;
            export["dropped_export_failed"].as_u64().unwrap_or(0) > 0
                && export["last_error"].is_string()
        })
        .await,
        "{}",
        trace_export(&http, &served).await
    );
    let metrics = http
        .get(served.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !metrics.contains("switchboard_trace_spans_dropped_total{reason=\"export_failed\"} 0"),
        "{metrics}"
    );
    served.terminate();
    let status = served.wait_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "{}", served.stderr());
}
