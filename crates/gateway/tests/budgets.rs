//! Budgets end to end, in front of the mock upstream (which reports 11 input and 7 output tokens
//! per answer): refuse with when it resets, reroute to another alias, the alert event once, the
//! spend in the ledger, and a restarted gateway enforcing the same remaining budget.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

use std::ops::Deref;
use std::path::Path;

use mock_upstream::{MockConfig, MockUpstream};
use serde_json::{json, Value};
use switchboard_gateway::events::GatewayEvent;
use switchboard_gateway::hash_token;
use switchboard_test_support::{secret_file, spawn, TestGateway};

const TOKEN: &str = "sb-budget-test-token";
const ADMIN: &str = "sb-budget-admin";

/// $10,000 per million tokens both ways: one mock answer (11 + 7 tokens) costs $0.18.
const PRICED: &str = "input = 10000\noutput = 10000\n";

struct Running(TestGateway);

impl Deref for Running {
    type Target = TestGateway;
    fn deref(&self) -> &TestGateway {
        &self.0
    }
}

/// The gateway on `body` in `dir` (kept by the test: a restart reads the same ledger).
async fn start(dir: &Path, body: &str) -> Running {
    Running(TestGateway::builder_in(dir).config(body).start().await)
}

impl Running {
    async fn chat(&self, model: &str, stream: bool) -> reqwest::Response {
        self.0
            .post("/v1/chat/completions")
            .bearer_auth(TOKEN)
            .json(&json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap()
    }

    async fn budgets(&self) -> Value {
        self.0
            .get("/admin/budgets")
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn stop(mut self) {
        self.0.stop().await;
    }
}

fn config(mock: &MockUpstream, dir: &Path, budgets: &str) -> String {
    let admin_file = secret_file(dir, "admin.token", ADMIN);
    format!(
        "[server]\nadmin_token = \"file:{admin}\"\n\
         [providers.cloud]\nkind = \"openai\"\nbase_url = \"{mock}\"\n\
         [providers.local]\nkind = \"openai\"\nbase_url = \"{mock}\"\n\
         [aliases.strong]\ntargets = [\"cloud/big\"]\n\
         [aliases.\"local/chat\"]\ntargets = [\"local/small\"]\n\
         [prices.\"cloud/big\"]\n{PRICED}\
         [tokens.obsidian]\nhash = \"sha256:{hash}\"\n\
         {budgets}",
        admin = admin_file.display(),
        mock = mock.base_url(),
        hash = hash_token(TOKEN),
    )
}

async fn ledger_total(db: &Path) -> (i64, i64) {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let row: (i64, Option<i64>) = sqlx::query_as("SELECT COUNT(*), SUM(nano_usd) FROM spend")
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    (row.0, row.1.unwrap_or(0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_token_budget_refuses_until_it_resets_and_survives_a_restart() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The token's budget lives on the token: $1 a month.
    let body = config(
        &mock,
        dir.path(),
        "[budgets.obsidian]\nusd = 1\nperiod = \"month\"\n",
    )
    .replace(
        "[tokens.obsidian]\n",
        "[tokens.obsidian]\nbudget = \"obsidian\"\n",
    );
    let gw = start(dir.path(), &body).await;

    // $0.18 each: five answers ($0.90) leave it open; a stream (11 + 5 tokens, $0.16, priced
    // from its usage chunk) spends it.
    for i in 0..6 {
        let response = gw.chat("strong", i == 5).await;
        assert_eq!(response.status(), 200, "request {i}");
        response.bytes().await.unwrap();
    }
    let refused = gw.chat("strong", false).await;
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let error = refused.json::<Value>().await.unwrap()["error"].clone();
    assert_eq!(error["code"], "budget_exceeded", "{error}");
    assert_eq!(error["type"], "budget_error");
    assert_eq!(error["route"], "strong");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("budget `obsidian` is spent: $1.06 of $1.00 this month"),
        "{message}"
    );
    let resets_at = error["resets_at"].as_str().unwrap().to_owned();
    assert!(message.contains(&resets_at), "{message}");
    let retry_ms = error["retry_after_ms"].as_u64().unwrap();
    assert!(
        retry_ms > 0 && retry_ms <= 31 * 24 * 3600 * 1000,
        "{retry_ms}"
    );
    assert!(
        retry_after.abs_diff(retry_ms / 1000) <= 1,
        "{retry_after} vs {retry_ms}"
    );

    let status = gw.budgets().await;
    let budget = &status["budgets"][0];
    assert_eq!(budget["name"], "obsidian");
    assert_eq!(budget["state"], "spent");
    assert!((budget["spent_usd"].as_f64().unwrap() - 1.06).abs() < 1e-9);
    assert_eq!(budget["charged_by"], json!(["token:obsidian"]));
    gw.stop().await;

    // Everything charged is in the ledger, streams included (their usage chunk was priced).
    let db = dir.path().join("log.db");
    assert_eq!(ledger_total(&db).await, (6, 1_060_000_000));

    // A new process computes the same spend from the ledger and keeps refusing.
    let gw = start(dir.path(), &body).await;
    let spent = gw.budgets().await["budgets"][0]["spent_usd"].as_f64();
    assert!((spent.unwrap() - 1.06).abs() < 1e-9, "{spent:?}");
    let refused = gw.chat("strong", false).await;
    assert_eq!(refused.status(), 429);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["error"]["resets_at"],
        resets_at.as_str()
    );
    // Raising the budget by a reload opens it again at once, no restart.
    std::fs::write(
        dir.path().join("config.toml"),
        body.replace("usd = 1\n", "usd = 2\n"),
    )
    .unwrap();
    gw.gateway.reload().await.unwrap();
    assert_eq!(gw.chat("strong", false).await.status(), 200);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_provider_budget_reroutes_to_the_local_alias() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = config(
        &mock,
        dir.path(),
        "[budgets.cloud]\nusd = 0.5\nperiod = \"day\"\nwhen_spent = { reroute = \"local/chat\" }\n",
    )
    .replace(
        "[providers.cloud]\n",
        "[providers.cloud]\nbudget = \"cloud\"\n",
    );
    let gw = start(dir.path(), &body).await;
    for _ in 0..3 {
        let response = gw.chat("strong", false).await;
        assert_eq!(response.headers()["x-switchboard-alias"], "strong");
        assert_eq!(
            response.json::<Value>().await.unwrap()["echo"]["model"],
            "big"
        );
    }
    // $0.54 spent: the next requests are served by the local alias, streams too.
    for stream in [false, true] {
        let response = gw.chat("strong", stream).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-switchboard-alias"], "local/chat");
        assert_eq!(response.headers()["x-switchboard-target"], "local/small");
        response.bytes().await.unwrap();
    }
    let status = gw.budgets().await;
    assert_eq!(
        status["budgets"][0]["when_spent"], "reroute:local/chat",
        "{status}"
    );
    assert_eq!(status["budgets"][0]["state"], "spent");
    assert_eq!(status["budgets"][0]["remaining_usd"], 0.0);
    gw.stop().await;

    // The log says why: the reroute note, and the cost of each request (0 once local).
    let pool =
        sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("log.db").display()))
            .await
            .unwrap();
    let rows: Vec<(String, Option<f64>, Option<String>)> =
        sqlx::query_as("SELECT alias, cost_usd, attempts FROM requests ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 5);
    assert!((rows[0].1.unwrap() - 0.18).abs() < 1e-9, "{rows:?}");
    assert_eq!(rows[3].0, "local/chat");
    assert_eq!(rows[3].1, Some(0.0));
    assert!(
        rows[3]
            .2
            .as_deref()
            .unwrap_or_default()
            .contains("budget `cloud` is spent: rerouted to `local/chat`"),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alert_fires_once_when_the_threshold_is_crossed() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = config(
        &mock,
        dir.path(),
        "[budgets.team]\nusd = 1\nperiod = \"week\"\nalert_at = 0.5\n",
    )
    .replace(
        "[aliases.strong]\n",
        "[aliases.strong]\nbudget = \"team\"\n",
    );
    let gw = start(dir.path(), &body).await;
    let mut events = gw.gateway.subscribe();
    // $0.18, $0.36, $0.54 (alert), $0.72, $0.90, $1.08 (spent), then refused.
    for _ in 0..6 {
        assert_eq!(gw.chat("strong", false).await.status(), 200);
    }
    assert_eq!(gw.chat("strong", false).await.status(), 429);
    let mut alerts = Vec::new();
    let mut spent = Vec::new();
    while let Ok(event) = events.try_recv() {
        match event {
            GatewayEvent::BudgetAlert {
                budget, spent_usd, ..
            } => alerts.push((budget, spent_usd)),
            GatewayEvent::BudgetSpent { budget, .. } => spent.push(budget),
            _ => {}
        }
    }
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0].0, "team");
    assert!((alerts[0].1 - 0.54).abs() < 1e-9, "{alerts:?}");
    assert_eq!(spent, vec!["team".to_owned()]);
    // A reload recomputes the total without alerting again.
    std::fs::write(
        dir.path().join("config.toml"),
        format!("{body}\n# touched\n"),
    )
    .unwrap();
    gw.gateway.reload().await.unwrap();
    assert_eq!(gw.chat("strong", false).await.status(), 429);
    while let Ok(event) = events.try_recv() {
        assert!(
            !matches!(
                event,
                GatewayEvent::BudgetAlert { .. } | GatewayEvent::BudgetSpent { .. }
            ),
            "{event:?}"
        );
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_backends_cost_nothing_and_unpriced_cloud_models_are_named() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{}[providers.anthropic]\nkind = \"anthropic\"\napi_key = \"env:SB_UNSET_KEY\"\n\
         [aliases.future]\ntargets = [\"anthropic/claude-99\", \"anthropic/claude-sonnet-4-5\"]\n\
         [budgets.local]\nusd = 0.01\nperiod = \"day\"\n",
        config(&mock, dir.path(), "")
    )
    .replace(
        "[aliases.\"local/chat\"]\n",
        "[aliases.\"local/chat\"]\nbudget = \"local\"\n",
    );
    let gw = start(dir.path(), &body).await;
    for _ in 0..5 {
        assert_eq!(gw.chat("local/chat", false).await.status(), 200);
    }
    let status = gw.budgets().await;
    assert_eq!(status["budgets"][0]["spent_usd"], 0.0);
    assert_eq!(status["unpriced_targets"], json!(["anthropic/claude-99"]));
    assert!(status["price_table"]["source"]
        .as_str()
        .unwrap()
        .contains("anthropic.com"));
    gw.stop().await;
    assert_eq!(ledger_total(&dir.path().join("log.db")).await, (0, 0));
}

/// 50 requests at once against a budget with room for about one more: admission counts the
/// estimates of requests in flight, so one gets through and the rest are refused, instead of
/// all 50 seeing the budget open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_cannot_overspend_a_nearly_spent_budget() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Each answer costs $0.18 (11 + 7 tokens); $1 leaves room for five, then $0.10.
    let body = config(
        &mock,
        dir.path(),
        "[budgets.obsidian]\nusd = 1\nperiod = \"month\"\n\
         [aliases.slow]\ntargets = [\"cloud/slow-400\"]\n\
         [prices.\"cloud/slow-400\"]\ninput = 10000\noutput = 10000\n",
    )
    .replace(
        "[tokens.obsidian]\n",
        "[tokens.obsidian]\nbudget = \"obsidian\"\n",
    );
    let gw = start(dir.path(), &body).await;
    for _ in 0..5 {
        assert_eq!(gw.chat("strong", false).await.status(), 200);
    }
    let http = reqwest::Client::new();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let (http, base) = (http.clone(), gw.base.clone());
        tasks.push(spawn(async move {
            let response = http
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth(TOKEN)
                // max_tokens 7: the estimate (~12 tokens, $0.12) is close to the real cost.
                .json(&json!({"model": "slow", "max_tokens": 7, "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (status, body["error"]["code"].as_str().unwrap_or("").to_owned())
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    let served = outcomes.iter().filter(|(s, _)| *s == 200).count();
    let refused = outcomes
        .iter()
        .filter(|(s, c)| *s == 429 && c == "budget_exceeded")
        .count();
    assert_eq!((served, refused), (1, 49), "{outcomes:?}");
    gw.stop().await;
    // Spent: five answers and the one admitted, $1.08 — not 0.90 + 50 × 0.18 = $9.90.
    let (rows, nano) = ledger_total(&dir.path().join("log.db")).await;
    assert_eq!(rows, 6);
    assert_eq!(nano, 6 * 180_000_000);
}
