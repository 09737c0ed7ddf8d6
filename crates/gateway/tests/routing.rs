//! Routing and resilience against real mock backends over TCP: load balancing, retries on
//! another target, breakers that open and heal by themselves, misconfigured targets, Retry-After,
//! long-context routing, and state that survives a reload.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

use std::ops::Deref;
use std::time::{Duration, Instant};

use mock_upstream::{MockConfig, MockUpstream};
use serde_json::{json, Value};
use switchboard_test_support::{closed_addr, eventually, spawn, TestGateway};

const TOKEN: &str = "routing-admin-token";

/// The gateway with an admin token, and the calls these tests make.
struct Harness(TestGateway);

impl Deref for Harness {
    type Target = TestGateway;
    fn deref(&self) -> &TestGateway {
        &self.0
    }
}

impl Harness {
    /// `body` is the config after `[server]`.
    async fn start(body: &str) -> Harness {
        let builder = TestGateway::builder();
        let token = builder.secret("admin.token", TOKEN);
        let text = format!("[server]\nadmin_token = \"{token}\"\n\n{body}");
        Harness(builder.config(text).start().await)
    }

    async fn chat(&self, model: &str, content: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = self
            .http
            .post(format!("{}/v1/chat/completions", self.base))
            .json(&json!({"model": model, "messages": [{"role": "user", "content": content}]}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        (
            status,
            headers,
            response.json().await.unwrap_or(Value::Null),
        )
    }

    async fn health(&self) -> Value {
        self.http
            .get(format!("{}/health", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn target_state(&self, target: &str) -> Value {
        let health = self.health().await;
        health["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["target"] == target)
            .cloned()
            .unwrap_or(Value::Null)
    }

    async fn stop(mut self) {
        self.0.stop_within(Duration::from_secs(1)).await;
    }
}

fn served_by(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get("x-switchboard-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

fn models_received(mock: &MockUpstream) -> Vec<String> {
    mock.received()
        .iter()
        .map(|r| r.body["model"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_round_robin_spreads_by_weight() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let h = Harness::start(&format!(
        "[providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n\n[aliases.lb]\ntargets = [{{ model = \"m/a\", weight = 3 }}, {{ model = \"m/b\", weight = 1 }}]\n",
        mock.base_url()
    ))
    .await;
    for _ in 0..40 {
        assert_eq!(h.chat("lb", "hi").await.0, 200);
    }
    let models = models_received(&mock);
    let a = models.iter().filter(|m| *m == "a").count();
    let b = models.iter().filter(|m| *m == "b").count();
    assert_eq!(
        (a, b),
        (30, 10),
        "smooth weighted round-robin is exact over full cycles"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_target_is_retried_on_another_and_its_breaker_opens() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dead = closed_addr();
    let h = Harness::start(&format!(
        "[providers.dead]\nkind = \"openai\"\nbase_url = \"http://{dead}/v1\"\nbreaker = {{ failures = 2, cooldown_s = 30 }}\n\n\
         [providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n\n\
         [aliases.pair]\nstrategy = \"weighted\"\ntargets = [\"dead/x\", \"m/y\"]\n",
        mock.base_url()
    ))
    .await;
    for _ in 0..6 {
        let (status, headers, _) = h.chat("pair", "hi").await;
        assert_eq!(status, 200);
        assert_eq!(served_by(&headers), "m/y");
    }
    let state = h.target_state("dead/x").await;
    assert_eq!(state["state"], "open", "{state}");
    assert_eq!(state["opened_for"], "failures", "{state}");
    assert!(state["retry_in_ms"].as_u64().unwrap() > 20_000);
    assert!(state["last_error"]
        .as_str()
        .unwrap()
        .contains("cannot connect"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_breaker_answers_at_once_and_heals_when_the_backend_returns() {
    let addr = closed_addr();
    let h = Harness::start(&format!(
        "[providers.solo]\nkind = \"openai\"\nbase_url = \"http://{addr}/v1\"\nbreaker = {{ failures = 2, cooldown_s = 0.4 }}\n\n\
         [aliases.solo]\ntargets = [\"solo/m\"]\nretries = {{ attempts = 1 }}\n"
    ))
    .await;
    for _ in 0..2 {
        let (status, _, body) = h.chat("solo", "hi").await;
        assert_eq!(status, 503);
        assert_eq!(body["error"]["code"], "backend_unreachable");
    }
    // Open: no connection attempt, the answer says when to retry.
    let started = Instant::now();
    let (status, _, body) = h.chat("solo", "hi").await;
    assert!(started.elapsed() < Duration::from_millis(200));
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "no_backend_available");
    let retry = body["error"]["retry_after_ms"].as_u64().unwrap();
    assert!(retry > 0 && retry <= 400, "{retry}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("`solo/m` is cooling down"));

    // The backend comes back on the same port: after the cooldown one probe closes the breaker.
    let mock = MockUpstream::start_on(addr, MockConfig::default())
        .await
        .unwrap();
    // Part of the scenario: the 0.4 s cooldown must pass before the breaker lets a probe through.
    tokio::time::sleep(Duration::from_millis(450)).await;
    let (status, _, _) = h.chat("solo", "hi").await;
    assert_eq!(status, 200);
    assert_eq!(h.target_state("solo/m").await["state"], "healthy");

    // Kill it again, open the breaker, then reset by hand: traffic goes straight through.
    drop(mock);
    assert!(
        eventually(Duration::from_secs(2), move || async move {
            tokio::net::TcpStream::connect(addr).await.is_err()
        })
        .await,
        "the mock's port closes"
    );
    h.chat("solo", "hi").await;
    h.chat("solo", "hi").await;
    assert_eq!(h.target_state("solo/m").await["state"], "open");
    let _mock = MockUpstream::start_on(addr, MockConfig::default())
        .await
        .unwrap();
    let reset: Value = h
        .http
        .post(format!("{}/admin/targets/reset", h.base))
        .bearer_auth(TOKEN)
        .json(&json!({"target": "solo/m"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reset["reset"], 1);
    assert_eq!(h.chat("solo", "hi").await.0, 200);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_errors_mark_a_target_misconfigured_and_routing_skips_it() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let h = Harness::start(&format!(
        "[providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n\n[aliases.two]\ntargets = [\"m/fail-401\", \"m/good\"]\n",
        mock.base_url()
    ))
    .await;
    for _ in 0..4 {
        let (status, headers, _) = h.chat("two", "hi").await;
        assert_eq!(status, 200);
        assert_eq!(served_by(&headers), "m/good");
    }
    let tried = models_received(&mock)
        .iter()
        .filter(|m| *m == "fail-401")
        .count();
    assert_eq!(tried, 1, "a misconfigured target is not retried");
    let state = h.target_state("m/fail-401").await;
    assert_eq!(state["state"], "misconfigured");
    assert!(state["misconfigured"].as_str().unwrap().contains("401"));
    assert!(
        !state.to_string().contains("sk-mocksecret123"),
        "the reason is sanitized"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_up_to_the_cap() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let h = Harness::start(&format!(
        "[providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n\n\
         [aliases.capped]\ntargets = [\"m/fail-429\"]\nretries = {{ attempts = 3, max_retry_after_s = 1 }}\n\n\
         [aliases.patient]\ntargets = [\"m/fail-500\"]\nretries = {{ attempts = 3, backoff_ms = 20 }}\n",
        mock.base_url()
    ))
    .await;
    // The mock's Retry-After (2 s) is above the cap: no waiting, no retry.
    let started = Instant::now();
    let (status, headers, body) = h.chat("capped", "hi").await;
    assert!(started.elapsed() < Duration::from_millis(900));
    assert_eq!(status, 429);
    assert_eq!(body["error"]["retry_after_ms"], 2000);
    assert_eq!(headers.get("retry-after").unwrap(), "2");
    // The 429 cooled the target down for its Retry-After: the next call does not reach it.
    let (status, _, body) = h.chat("capped", "hi").await;
    assert_eq!(status, 503);
    assert!(body["error"]["retry_after_ms"].as_u64().unwrap() <= 2000);
    assert_eq!(
        models_received(&mock)
            .iter()
            .filter(|m| *m == "fail-429")
            .count(),
        1
    );
    // 5xx on the only target: retried with backoff, bounded by `attempts`; the client gets that
    // backend's own error, not a summary of one backend.
    let (status, _, body) = h.chat("patient", "hi").await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["code"], "backend_error");
    assert_eq!(
        models_received(&mock)
            .iter()
            .filter(|m| *m == "fail-500")
            .count(),
        3
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_inputs_go_to_the_long_context_alias_or_fail_with_the_numbers() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let h = Harness::start(&format!(
        "[providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n\n\
         [aliases.short]\ntargets = [{{ model = \"m/small\", max_input_tokens = 4000 }}]\nlong_context = {{ above_tokens = 100, alias = \"long\" }}\n\n\
         [aliases.long]\ntargets = [{{ model = \"m/big\", max_input_tokens = 1000 }}]\n",
        mock.base_url()
    ))
    .await;
    let (status, headers, _) = h.chat("short", "hello").await;
    assert_eq!((status, served_by(&headers)), (200, "m/small".to_owned()));
    let (status, headers, _) = h.chat("short", &"word ".repeat(200)).await;
    assert_eq!((status, served_by(&headers)), (200, "m/big".to_owned()));
    assert_eq!(headers.get("x-switchboard-alias").unwrap(), "long");
    let (status, _, body) = h.chat("short", &"word ".repeat(2000)).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "context_length_exceeded");
    let message = body["error"]["message"].as_str().unwrap();
    let estimate: u64 = message
        .split("about ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(estimate > 1000, "{message}");
    assert!(
        message.contains("largest context window: 1000 tokens"),
        "{message}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lowest_latency_prefers_the_faster_target() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let h = Harness::start(&format!(
        "[providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n\n[aliases.fast]\nstrategy = \"lowest_latency\"\ntargets = [\"m/slow-80\", \"m/quick\"]\n",
        mock.base_url()
    ))
    .await;
    for _ in 0..12 {
        assert_eq!(h.chat("fast", "hi").await.0, 200);
    }
    let slow = models_received(&mock)
        .iter()
        .filter(|m| *m == "slow-80")
        .count();
    assert_eq!(
        slow, 1,
        "after one measurement each, the slow target is not chosen again"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_state_survives_a_reload_and_removed_targets_are_forgotten() {
    let dead = closed_addr();
    let h = Harness::start(&format!(
        "[providers.d]\nkind = \"openai\"\nbase_url = \"http://{dead}/v1\"\nbreaker = {{ failures = 1, cooldown_s = 60 }}\n\n[aliases.a]\ntargets = [\"d/m\"]\nretries = {{ attempts = 1 }}\n"
    ))
    .await;
    h.chat("a", "hi").await;
    assert_eq!(h.target_state("d/m").await["state"], "open");
    let text = std::fs::read_to_string(&h.config_path).unwrap();
    std::fs::write(
        &h.config_path,
        format!("{text}\n[aliases.b]\ntargets = [\"d/m\"]\n"),
    )
    .unwrap();
    assert!(h.gateway.reload().await.unwrap().changed);
    assert_eq!(
        h.target_state("d/m").await["state"],
        "open",
        "state kept across the reload"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_changes_and_config_reloads_are_announced() {
    use switchboard_gateway::GatewayEvent;
    let addr = closed_addr();
    let h = Harness::start(&format!(
        "[providers.solo]\nkind = \"openai\"\nbase_url = \"http://{addr}/v1\"\nbreaker = {{ failures = 1, cooldown_s = 0.2 }}\n\n\
         [aliases.solo]\ntargets = [\"solo/m\"]\nretries = {{ attempts = 1 }}\n"
    ))
    .await;
    let mut events = h.gateway.subscribe();
    h.chat("solo", "hi").await;
    let opened = tokio::time::timeout(Duration::from_secs(2), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(&opened, GatewayEvent::BreakerOpened { target, retry_in_ms: 200, .. } if target == "solo/m"),
        "{opened:?}"
    );
    let _mock = MockUpstream::start_on(addr, MockConfig::default())
        .await
        .unwrap();
    // Part of the scenario: the 0.2 s cooldown must pass before the breaker lets a probe through.
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(h.chat("solo", "hi").await.0, 200);
    let closed = tokio::time::timeout(Duration::from_secs(2), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        closed,
        GatewayEvent::BreakerClosed {
            target: "solo/m".into()
        }
    );

    std::fs::write(&h.config_path, "listen = nope").unwrap();
    assert!(h.gateway.reload().await.is_err());
    let rejected = tokio::time::timeout(Duration::from_secs(2), events.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(rejected, GatewayEvent::ConfigRejected { .. }),
        "{rejected:?}"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_sessions_stick_to_one_target_and_move_when_it_fails() {
    let mocks = [
        MockUpstream::start(MockConfig::default()).await.unwrap(),
        MockUpstream::start(MockConfig::default()).await.unwrap(),
    ];
    let base = |i: usize| mocks[i].base_url();
    let h = Harness::start(&format!(
        // (The harness's body starts inside `[server]`.)
        "affinity_header = \"X-My-Session\"\n\n\
         [providers.p0]\nkind = \"openai\"\nbase_url = \"{}\"\nbreaker = {{ failures = 1, cooldown_s = 60 }}\n\
         [providers.p1]\nkind = \"openai\"\nbase_url = \"{}\"\nbreaker = {{ failures = 1, cooldown_s = 60 }}\n\n\
         [aliases.pair]\ntargets = [\"p0/m\", \"p1/m\"]\n\
         [aliases.spread]\naffinity = false\ntargets = [\"p0/m\", \"p1/m\"]\n",
        base(0),
        base(1)
    ))
    .await;
    let send = |alias: &'static str, header: Option<(&'static str, String)>| {
        let mut request = h
            .http
            .post(format!("{}/v1/chat/completions", h.base))
            .json(&json!({"model": alias, "messages": [{"role": "user", "content": "hi"}]}));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            served_by(response.headers())
        }
    };

    // Each agent's session header keeps its session on one target; new sessions still spread.
    let mut first_targets = Vec::new();
    for (n, name) in [
        "x-claude-code-session-id",
        "x-session-affinity",
        "x-session-id",
        "x-my-session",
    ]
    .into_iter()
    .enumerate()
    {
        let session = format!("session-{n}");
        let first = send("pair", Some((name, session.clone()))).await;
        for _ in 0..5 {
            assert_eq!(
                send("pair", Some((name, session.clone()))).await,
                first,
                "{name}"
            );
        }
        first_targets.push(first);
    }
    first_targets.sort();
    first_targets.dedup();
    assert_eq!(first_targets.len(), 2, "new sessions follow the strategy");
    // Without a session, or with affinity off, requests alternate.
    let plain = [send("pair", None).await, send("pair", None).await];
    assert_ne!(plain[0], plain[1]);
    let session = || Some(("x-session-id", "session-2".to_owned()));
    let off = [
        send("spread", session()).await,
        send("spread", session()).await,
    ];
    assert_ne!(off[0], off[1]);

    // The pinned target goes down: the session moves to the other one and stays there.
    let pinned = send("pair", session()).await;
    let down = if pinned == "p0/m" { 0 } else { 1 };
    mocks[down].set_down(true);
    let moved = send("pair", session()).await;
    assert_ne!(moved, pinned);
    for _ in 0..3 {
        assert_eq!(send("pair", session()).await, moved);
    }
    h.stop().await;
}

/// Issue 13, reproduction 1, with the default breaker: one backend whose answer time grows with
/// `max_tokens` (4 ms a token); ten short answers, three long ones, then more. All must be 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_answers_from_the_only_backend_never_open_its_breaker() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let h = Harness::start(&format!(
        "[providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n\n[aliases.agent]\ntargets = [\"m/per-token-4000\"]\n",
        mock.base_url()
    ))
    .await;
    let ask = |max_tokens: u64| {
        h.http
            .post(format!("{}/v1/chat/completions", h.base))
            .json(&json!({"model": "agent", "max_tokens": max_tokens, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    let mut statuses = Vec::new();
    for max_tokens in [16; 10].into_iter().chain([400; 3]).chain([16; 4]) {
        statuses.push(ask(max_tokens).await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, vec![200; 17]);
    let state = h.target_state("m/per-token-4000").await;
    assert_eq!(state["state"], "healthy", "{state}");
    h.stop().await;
}

/// Issue 13, reproduction 2, with the default breaker: one connection for a while, then a burst
/// of 64 against a backend answering in µs, where queueing makes answers many times slower
/// than usual. Every answer must be a 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_after_a_quiet_spell_gets_no_errors() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let h = Harness::start(&format!(
        "[providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n\n[aliases.fast]\ntargets = [\"m/fast\"]\n",
        mock.base_url()
    ))
    .await;
    let quiet_until = Instant::now() + Duration::from_millis(1500);
    let mut quiet = 0;
    while Instant::now() < quiet_until {
        assert_eq!(h.chat("fast", "hi").await.0, 200);
        quiet += 1;
    }
    let burst_until = Instant::now() + Duration::from_millis(2500);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let (http, base) = (h.http.clone(), h.base.clone());
        tasks.push(spawn(async move {
            let (mut ok, mut failed) = (0u32, Vec::new());
            while Instant::now() < burst_until {
                let stream = i % 2 == 0;
                let response = http
                    .post(format!("{base}/v1/chat/completions"))
                    .json(&json!({"model": "fast", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}))
                    .send()
                    .await;
                match response {
                    Ok(r) if r.status() == 200 => match r.bytes().await {
                        Ok(_) => ok += 1,
                        Err(_) => failed.push(0),
                    },
                    Ok(r) => failed.push(r.status().as_u16()),
                    Err(_) => failed.push(0),
                }
            }
            (ok, failed)
        }));
    }
    let (mut ok, mut failed) = (0, Vec::new());
    for task in tasks {
        let (o, f) = task.await.unwrap();
        ok += o;
        failed.extend(f);
    }
    assert!(
        quiet > 10 && ok > 64,
        "too little traffic: {quiet} quiet, {ok} in the burst"
    );
    assert_eq!(failed, Vec::<u16>::new(), "{ok} answered");
    assert_eq!(h.target_state("m/fast").await["state"], "healthy");
    h.stop().await;
}

/// The last-target rule over HTTP, with the first-token rule switched on: the only target's
/// first tokens become far slower than its median, its breaker opens for slowness, and it still
/// serves every request (never a 503 for a backend that is only slow).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_open_only_for_slowness_still_serves_as_the_last_resort() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let h = Harness::start(&format!(
        "[providers.m]\nkind = \"openai\"\nbase_url = \"{}\"\n\
         breaker = {{ slow_first_token_factor = 5, slow_first_token_floor_ms = 150 }}\n\n\
         [aliases.only]\ntargets = [\"m/per-token-1000\"]\n",
        mock.base_url()
    ))
    .await;
    // per-token-1000: the first byte after max_tokens ms.
    let stream = |max_tokens: u64| {
        let (http, base) = (h.http.clone(), h.base.clone());
        async move {
            let response = http
                .post(format!("{base}/v1/chat/completions"))
                .json(&json!({"model": "only", "stream": true, "max_tokens": max_tokens, "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let text = response.text().await.unwrap();
            (status, text)
        }
    };
    for _ in 0..20 {
        assert_eq!(stream(10).await.0, 200);
    }
    for _ in 0..3 {
        assert_eq!(stream(400).await.0, 200);
    }
    let state = h.target_state("m/per-token-1000").await;
    assert_eq!(state["state"], "open", "{state}");
    assert_eq!(state["opened_for"], "slowness", "{state}");
    assert!(
        state["last_error"]
            .as_str()
            .unwrap()
            .contains("first token"),
        "{state}"
    );
    // Every target open, for slowness only: served anyway, one by one and several at once.
    for _ in 0..2 {
        let (status, text) = stream(400).await;
        assert_eq!(status, 200);
        assert!(text.contains("[DONE]"), "{text}");
    }
    let burst = futures::future::join_all((0..4).map(|_| stream(10))).await;
    assert!(burst.iter().all(|(s, _)| *s == 200), "{burst:?}");
    h.stop().await;
}
