//! The pipeline over fake upstreams, in-process: a `FakeProvider` answers from a script, the
//! request carries a snapshot built around it (the seam the front layer uses), and each test
//! checks the outcome the client gets and which backends were called how.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::{handle, Ingress};
use crate::config::Config;
use crate::gateway::{Gateway, GatewayOptions, Snapshot};
use crate::provider::{
    Dialect, Endpoint, NativeEndpoint, NativeRequest, Provider, ProviderRequest, ProviderResponse,
};
use crate::server::dialect::{self, chat, ClientRequest};
use crate::server::{CorrelationId, RequestSnapshot};
use crate::wire::{SseEvent, UpstreamError};

/// What a fake backend does with one call.
#[derive(Clone)]
enum Reply {
    /// A whole chat completion saying `text`.
    Text(&'static str),
    /// A stream of these `data:` events, then this error (if any).
    Stream(Vec<&'static str>, Option<UpstreamError>),
    Fail(UpstreamError),
}

/// One call a fake backend got.
#[derive(Debug, Clone, PartialEq)]
struct Call {
    native: bool,
    model: String,
    keys: Vec<String>,
}

struct FakeProvider {
    dialects: &'static [Dialect],
    unsupported: Vec<String>,
    script: Mutex<VecDeque<Reply>>,
    calls: Mutex<Vec<Call>>,
}

impl FakeProvider {
    fn new(dialects: &'static [Dialect], script: Vec<Reply>) -> Arc<FakeProvider> {
        Arc::new(FakeProvider {
            dialects,
            unsupported: Vec::new(),
            script: Mutex::new(script.into()),
            calls: Mutex::new(Vec::new()),
        })
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().map(|c| c.clone()).unwrap_or_default()
    }

    fn answer(&self, call: Call, stream: bool) -> Result<ProviderResponse, UpstreamError> {
        if let Ok(mut calls) = self.calls.lock() {
            calls.push(call);
        }
        let reply = self.script.lock().ok().and_then(|mut s| s.pop_front());
        match reply.unwrap_or(Reply::Text("unscripted")) {
            Reply::Fail(e) => Err(e),
            Reply::Text(text) if !stream => Ok(ProviderResponse::Complete {
                body: Bytes::from(chat_completion(text).to_string()),
                usage: None,
            }),
            Reply::Text(text) => Ok(ProviderResponse::Stream(Box::pin(futures::stream::iter([
                Ok(SseEvent::data(chat_chunk(text).to_string())),
            ])))),
            Reply::Stream(events, end) => {
                let items: Vec<Result<SseEvent, UpstreamError>> = events
                    .into_iter()
                    .map(|e| Ok(SseEvent::data(e)))
                    .chain(end.map(Err))
                    .collect();
                Ok(ProviderResponse::Stream(Box::pin(futures::stream::iter(
                    items,
                ))))
            }
        }
    }
}

fn keys(body: &Map<String, Value>) -> Vec<String> {
    body.keys().cloned().collect()
}

fn model_of(body: &Map<String, Value>) -> String {
    body.get("model")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

#[async_trait]
impl Provider for FakeProvider {
    fn family(&self) -> &'static str {
        "fake"
    }

    async fn send(&self, request: ProviderRequest) -> Result<ProviderResponse, UpstreamError> {
        let call = Call {
            native: false,
            model: model_of(&request.body),
            keys: keys(&request.body),
        };
        self.answer(call, request.stream)
    }

    async fn probe(&self, _timeout: Duration) -> Result<(), String> {
        Ok(())
    }

    fn unsupported_params(&self, _endpoint: Endpoint, body: &Map<String, Value>) -> Vec<String> {
        self.unsupported
            .iter()
            .filter(|k| body.contains_key(*k))
            .cloned()
            .collect()
    }

    fn native_dialects(&self) -> &'static [Dialect] {
        self.dialects
    }

    async fn send_native(&self, request: NativeRequest) -> Result<ProviderResponse, UpstreamError> {
        let call = Call {
            native: true,
            model: model_of(&request.body),
            keys: keys(&request.body),
        };
        self.answer(call, request.stream)
    }
}

fn chat_completion(text: &str) -> Value {
    json!({
        "id": "c1", "object": "chat.completion", "created": 1, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    })
}

fn chat_chunk(text: &str) -> Value {
    json!({
        "id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": null}]
    })
}

/// A running gateway (its own temp database) and a snapshot of `config` whose providers are
/// the given fakes.
struct Harness {
    gateway: Gateway,
    snapshot: Arc<Snapshot>,
    _dir: tempfile::TempDir,
}

async fn harness(config: &str, fakes: &[(&str, Arc<FakeProvider>)]) -> Harness {
    harness_on(config, config, fakes).await
}

/// Like `harness`, with the gateway itself running `serving` (what `gateway.snapshot()` gives).
async fn harness_on(serving: &str, config: &str, fakes: &[(&str, Arc<FakeProvider>)]) -> Harness {
    let config = Config::parse(config, "test").unwrap_or_else(|e| panic!("{e}"));
    let serving = Config::parse(serving, "test").unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let options = GatewayOptions {
        config_path: None,
        database_path: Some(dir.path().join("log.db")),
    };
    let gateway = Gateway::start(serving, options)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let providers: BTreeMap<String, Arc<dyn Provider>> = fakes
        .iter()
        .map(|(name, p)| (name.to_string(), p.clone() as Arc<dyn Provider>))
        .collect();
    let snapshot = Arc::new(Snapshot {
        config,
        providers,
        loaded_at_unix: 0,
        admin_token: None,
    });
    Harness {
        gateway,
        snapshot,
        _dir: dir,
    }
}

/// Two fake providers `a` and `b`; alias `x` tries `a/one`, then falls back to alias `y`
/// (`b/two`). Extra alias settings go after `[aliases.x]`'s targets.
fn two_backends(x_extra: &str) -> String {
    format!(
        "[providers.a]\nkind = \"openai\"\nbase_url = \"http://a.invalid/v1\"\n\
         [providers.b]\nkind = \"openai\"\nbase_url = \"http://b.invalid/v1\"\n\
         [aliases.x]\ntargets = [\"a/one\"]\nfallbacks = [\"y\"]\n{x_extra}\n\
         [aliases.y]\ntargets = [\"b/two\"]\nretries = {{ attempts = 1 }}\n"
    )
}

impl Harness {
    fn request(&self, body: Value) -> Request {
        let mut request = Request::new(Body::from(body.to_string()));
        request
            .extensions_mut()
            .insert(RequestSnapshot(self.snapshot.clone()));
        request
            .extensions_mut()
            .insert(CorrelationId("test-id".into()));
        request
    }

    async fn chat(&self, body: Value) -> Response {
        let ingress = Ingress {
            endpoint: Endpoint::ChatCompletions,
            path: "chat/completions",
            render: dialect::openai_error,
        };
        let parse = |body: Map<String, Value>| async move {
            Ok((body, Box::new(chat::ChatRequest) as Box<dyn ClientRequest>))
        };
        handle(self.gateway.clone(), ingress, self.request(body), parse).await
    }

    async fn messages(&self, body: Value) -> Response {
        let request = self.request(body);
        dialect::anthropic::handle(self.gateway.clone(), NativeEndpoint::Messages, request).await
    }
}

async fn body_json(response: Response) -> Value {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
}

async fn body_text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn header<'a>(response: &'a Response, name: &str) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn server_error() -> UpstreamError {
    UpstreamError::Status {
        status: StatusCode::INTERNAL_SERVER_ERROR,
        message: "boom".into(),
        retry_after_ms: None,
    }
}

fn hello(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

#[tokio::test]
async fn a_failing_target_falls_back_to_the_next_alias() {
    let a = FakeProvider::new(&[], vec![Reply::Fail(server_error())]);
    let b = FakeProvider::new(&[], vec![Reply::Text("from b")]);
    let config = two_backends("retries = { attempts = 1 }");
    let h = harness(&config, &[("a", a.clone()), ("b", b.clone())]).await;
    let response = h.chat(hello("x")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "x-switchboard-target"), "b/two");
    assert_eq!(header(&response, "x-switchboard-alias"), "y");
    let body = body_json(response).await;
    assert_eq!(body["choices"][0]["message"]["content"], "from b");
    assert_eq!(a.calls().len(), 1);
    assert_eq!(
        b.calls()[0].model,
        "two",
        "each target gets its own model id"
    );
}

#[tokio::test]
async fn the_request_is_served_from_the_snapshot_it_carries() {
    // The gateway serves a config without alias `x` (a reload may have swapped it in): the
    // request still routes on the snapshot the front layer loaded for it.
    let serving = "[providers.a]\nkind = \"openai\"\nbase_url = \"http://a.invalid/v1\"\n\
                   [aliases.other]\ntargets = [\"a/z\"]\n";
    let a = FakeProvider::new(&[], vec![Reply::Text("from the request's snapshot")]);
    let h = harness_on(serving, &two_backends(""), &[("a", a.clone())]).await;
    let response = h.chat(hello("x")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(a.calls().len(), 1);
}

#[tokio::test]
async fn a_refused_request_is_the_answer_and_no_other_target_is_tried() {
    let refused = UpstreamError::Status {
        status: StatusCode::BAD_REQUEST,
        message: "bad request".into(),
        retry_after_ms: None,
    };
    let a = FakeProvider::new(&[], vec![Reply::Fail(refused)]);
    let b = FakeProvider::new(&[], vec![Reply::Text("never")]);
    let h = harness(&two_backends(""), &[("a", a.clone()), ("b", b.clone())]).await;
    let response = h.chat(hello("x")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = body_json(response).await;
    assert_eq!(body["error"]["code"], "backend_rejected_request");
    assert_eq!(body["error"]["correlation_id"], "test-id");
    assert_eq!(a.calls().len(), 1, "a refusal is not retried");
    assert!(b.calls().is_empty());
}

#[tokio::test]
async fn the_last_target_is_retried_after_a_transient_failure() {
    let a = FakeProvider::new(
        &[],
        vec![
            Reply::Fail(server_error()),
            Reply::Fail(server_error()),
            Reply::Text("third time"),
        ],
    );
    let config = "[providers.a]\nkind = \"openai\"\nbase_url = \"http://a.invalid/v1\"\n\
                  [aliases.x]\ntargets = [\"a/one\"]\nretries = { attempts = 3, backoff_ms = 1 }\n";
    let h = harness(config, &[("a", a.clone())]).await;
    let response = h.chat(hello("x")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(a.calls().len(), 3);
}

#[tokio::test]
async fn every_failure_is_named_when_no_target_serves() {
    let a = FakeProvider::new(&[], vec![Reply::Fail(server_error())]);
    let b = FakeProvider::new(
        &[],
        vec![Reply::Fail(UpstreamError::Connect("refused".into()))],
    );
    let config = two_backends("retries = { attempts = 1 }");
    let h = harness(&config, &[("a", a), ("b", b)]).await;
    let response = h.chat(hello("x")).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = body_json(response).await;
    assert_eq!(body["error"]["code"], "all_backends_failed");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("a/one") && message.contains("b/two"),
        "{message}"
    );
}

#[tokio::test]
async fn a_context_window_too_small_skips_without_a_call() {
    let a = FakeProvider::new(&[], vec![]);
    let config = "[providers.a]\nkind = \"openai\"\nbase_url = \"http://a.invalid/v1\"\n\
                  [aliases.x]\ntargets = [{ model = \"a/one\", max_input_tokens = 5 }]\n";
    let h = harness(config, &[("a", a.clone())]).await;
    let long = "word ".repeat(200);
    let response = h
        .chat(json!({"model": "x", "messages": [{"role": "user", "content": long}]}))
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = body_json(response).await;
    assert_eq!(body["error"]["code"], "context_length_exceeded");
    assert!(a.calls().is_empty());
}

#[tokio::test]
async fn an_unknown_model_is_refused_in_admission() {
    let a = FakeProvider::new(&[], vec![]);
    let h = harness(&two_backends(""), &[("a", a.clone())]).await;
    let response = h.chat(hello("nope")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        body_json(response).await["error"]["code"],
        "model_not_found"
    );
    assert!(a.calls().is_empty());
}

#[tokio::test]
async fn anthropic_requests_pass_through_to_a_native_backend_and_are_translated_elsewhere() {
    static NATIVE: [Dialect; 1] = [Dialect::AnthropicMessages];
    let native = FakeProvider::new(&NATIVE, vec![Reply::Text("unused")]);
    let plain = FakeProvider::new(&[], vec![Reply::Text("translated")]);
    let config = "[providers.n]\nkind = \"openai\"\nbase_url = \"http://n.invalid/v1\"\n\
                  [providers.p]\nkind = \"openai\"\nbase_url = \"http://p.invalid/v1\"\n\
                  [aliases.native]\ntargets = [\"n/claude\"]\n\
                  [aliases.plain]\ntargets = [\"p/gpt\"]\n";
    let h = harness(config, &[("n", native.clone()), ("p", plain.clone())]).await;
    let body = |model: &str| {
        json!({"model": model, "max_tokens": 10, "top_k": 3,
               "messages": [{"role": "user", "content": "hi"}]})
    };
    h.messages(body("native")).await;
    let call = &native.calls()[0];
    assert!(call.native, "the native backend gets the Messages request");
    assert!(call.keys.contains(&"top_k".to_owned()), "{:?}", call.keys);
    assert_eq!(call.model, "claude");

    let response = h.messages(body("plain")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!plain.calls()[0].native, "the other gets chat");
    let answer = body_json(response).await;
    assert_eq!(answer["type"], "message");
    assert_eq!(answer["content"][0]["text"], "translated");
}

#[tokio::test]
async fn anthropic_errors_use_anthropics_envelope() {
    let a = FakeProvider::new(&[], vec![]);
    let h = harness(&two_backends(""), &[("a", a)]).await;
    let response = h
        .messages(json!({"model": "nope", "max_tokens": 1, "messages": []}))
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body = body_json(response).await;
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["code"], "model_not_found");
}

#[tokio::test]
async fn a_stream_that_fails_midway_ends_with_the_dialects_error_event() {
    let first = r#"{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"he"},"finish_reason":null}]}"#;
    let a = FakeProvider::new(&[], vec![Reply::Stream(vec![first], Some(server_error()))]);
    let config = "[providers.a]\nkind = \"openai\"\nbase_url = \"http://a.invalid/v1\"\n\
                  [aliases.x]\ntargets = [\"a/one\"]\n";
    let h = harness(config, &[("a", a)]).await;
    let mut request = hello("x");
    request["stream"] = json!(true);
    let response = h.chat(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = body_text(response).await;
    assert!(text.contains("\"he\""), "{text}");
    assert!(text.contains("\"backend_error\""), "{text}");
    assert!(!text.contains("[DONE]"), "{text}");
}

#[tokio::test]
async fn count_tokens_is_answered_locally_where_anthropic_is_not_spoken() {
    let a = FakeProvider::new(&[], vec![]);
    let config = "[providers.a]\nkind = \"openai\"\nbase_url = \"http://a.invalid/v1\"\n\
                  [aliases.x]\ntargets = [\"a/one\"]\n";
    let h = harness(config, &[("a", a.clone())]).await;
    let request = h.request(json!({"model": "x", "messages": [{"role": "user", "content": "hi"}]}));
    let response =
        dialect::anthropic::handle(h.gateway.clone(), NativeEndpoint::CountTokens, request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(body_json(response).await["input_tokens"].as_u64().is_some());
    assert!(a.calls().is_empty());
}

/// The plan, table-tested: (native dialects, unsupported params, policy, window) of one
/// target and facts of the request → what the target would do.
#[test]
fn plan_decides_passthrough_translation_and_skips() {
    use super::plan::{plan_target, PlanRequest, Ready, TargetPlan};
    static ANTHROPIC: [Dialect; 1] = [Dialect::AnthropicMessages];
    let try_it = |passthrough: bool, remove: &[&str], dropped: &[&str]| {
        TargetPlan::Try(Ready {
            passthrough,
            remove: remove.iter().map(|s| s.to_string()).collect(),
            dropped: dropped.iter().map(|s| s.to_string()).collect(),
        })
    };
    #[derive(Clone)]
    struct Case {
        name: &'static str,
        native: &'static [Dialect],
        unsupported: &'static [&'static str],
        policy: &'static str,
        window: Option<u64>,
        dialect: Dialect,
        untranslatable: Option<&'static str>,
        answers_locally: bool,
        expect: TargetPlan,
    }
    let base = Case {
        name: "",
        native: &[],
        unsupported: &[],
        policy: "drop",
        window: None,
        dialect: Dialect::Chat,
        untranslatable: None,
        answers_locally: false,
        expect: try_it(false, &[], &[]),
    };
    let cases = [
        Case {
            name: "chat goes as chat",
            ..base.clone()
        },
        Case {
            name: "unsupported params are dropped and named",
            unsupported: &["logprobs"],
            expect: try_it(false, &["logprobs"], &["logprobs"]),
            ..base.clone()
        },
        Case {
            name: "or refused",
            unsupported: &["logprobs"],
            policy: "refuse",
            expect: TargetPlan::Refuse(vec!["logprobs".into()]),
            ..base.clone()
        },
        Case {
            name: "a window smaller than the input skips first",
            window: Some(10),
            unsupported: &["logprobs"],
            policy: "refuse",
            expect: TargetPlan::TooSmall { window: 10 },
            ..base.clone()
        },
        Case {
            name: "a native backend gets the dialect untouched",
            native: &ANTHROPIC,
            dialect: Dialect::AnthropicMessages,
            unsupported: &["logprobs"],
            untranslatable: Some("no"),
            answers_locally: true,
            expect: try_it(true, &[], &[]),
            ..base.clone()
        },
        Case {
            name: "elsewhere the translation's losses are named",
            dialect: Dialect::AnthropicMessages,
            expect: try_it(false, &[], &["thinking"]),
            ..base.clone()
        },
        Case {
            name: "an untranslatable request skips a translating backend",
            dialect: Dialect::AnthropicMessages,
            untranslatable: Some("audio"),
            expect: TargetPlan::Untranslatable("audio".into()),
            ..base.clone()
        },
        Case {
            name: "count_tokens is answered locally where it is not spoken",
            dialect: Dialect::AnthropicMessages,
            answers_locally: true,
            untranslatable: Some("audio"),
            expect: TargetPlan::AnswerLocally,
            ..base.clone()
        },
        Case {
            name: "a backend speaking another dialect translates",
            native: &ANTHROPIC,
            dialect: Dialect::Responses,
            expect: try_it(false, &[], &["thinking"]),
            ..base.clone()
        },
    ];
    for case in cases {
        let window = case
            .window
            .map(|w| format!(", max_input_tokens = {w}"))
            .unwrap_or_default();
        let text = format!(
            "[providers.a]\nkind = \"openai\"\nbase_url = \"http://a.invalid/v1\"\n\
             unsupported_params = \"{}\"\n[aliases.x]\ntargets = [{{ model = \"a/m\"{window} }}]\n",
            case.policy
        );
        let config = Config::parse(&text, "test").unwrap_or_else(|e| panic!("{e}"));
        let fake = FakeProvider {
            dialects: case.native,
            unsupported: case.unsupported.iter().map(|s| s.to_string()).collect(),
            script: Mutex::default(),
            calls: Mutex::default(),
        };
        let providers: BTreeMap<String, Arc<dyn Provider>> =
            [("a".to_owned(), Arc::new(fake) as Arc<dyn Provider>)].into();
        let body = json!({"model": "x", "logprobs": true})
            .as_object()
            .cloned()
            .unwrap_or_default();
        let dropped = if case.dialect == Dialect::Chat {
            Vec::new()
        } else {
            vec!["thinking".to_owned()]
        };
        let request = PlanRequest {
            endpoint: Endpoint::ChatCompletions,
            body: &body,
            estimate: 100,
            dialect: case.dialect,
            dropped: &dropped,
            untranslatable: case.untranslatable,
            answers_locally: case.answers_locally,
        };
        let target = &config.aliases["x"].targets[0];
        let got = plan_target(&config, &providers, &request, target);
        assert_eq!(got, case.expect, "{}", case.name);
    }
    // A provider without an adapter is skipped.
    let config = Config::parse(
        "[providers.a]\nkind = \"openai\"\nbase_url = \"http://a.invalid/v1\"\n[aliases.x]\ntargets = [\"a/m\"]\n",
        "test",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let body = Map::new();
    let request = PlanRequest {
        endpoint: Endpoint::ChatCompletions,
        body: &body,
        estimate: 1,
        dialect: Dialect::Chat,
        dropped: &[],
        untranslatable: None,
        answers_locally: false,
    };
    let target = &config.aliases["x"].targets[0];
    assert_eq!(
        plan_target(&config, &BTreeMap::new(), &request, target),
        TargetPlan::NoProvider
    );
}
