//! Crash safety of the spend ledger: `kill -9` the real `switchboard serve` while clients load it,
//! start it again on the same database, and compare the ledger with what the clients saw.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mock_upstream::{MockConfig, MockUpstream};
use serde_json::{json, Value};
use switchboard_test_support::secret_file;

use crate::support::{chat_body, http_client, switchboard, Served};

const ADMIN: &str = "sb-crash-test-admin";
/// What one mock answer (11 input + 7 output tokens) costs at $10,000 per million tokens.
const NANO_USD_PER_ANSWER: i64 = 180_000_000;

fn config(mock_url: &str, admin_file: &std::path::Path, usd: f64) -> String {
    format!(
        "[server]\nadmin_token = \"file:{}\"\n\
         [providers.cloud]\nkind = \"openai\"\nbase_url = \"{mock_url}\"\nbudget = \"cloud\"\n\
         [aliases.strong]\ntargets = [\"cloud/big\"]\n\
         [prices.\"cloud/big\"]\ninput = 10000\noutput = 10000\n\
         [budgets.cloud]\nusd = {usd}\nperiod = \"month\"\n",
        admin_file.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_under_load_loses_no_committed_spend_and_the_restart_enforces_the_same_budget() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let admin_file = secret_file(home.path(), "admin.token", ADMIN);
    let config_path = home.path().join("config.toml");
    let db = home.path().join("switchboard.db");
    std::fs::write(
        &config_path,
        config(&mock.base_url(), &admin_file, 1_000_000.0),
    )
    .unwrap();

    let mut served = Served::start(home.path(), &config_path, &db).await;
    let url = served.url("/v1/chat/completions");

    // Clients send as fast as they can; each remembers what it sent and what it got back.
    let stop = Arc::new(AtomicBool::new(false));
    let sent: Arc<Mutex<HashSet<String>>> = Arc::default();
    let answered: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut clients = Vec::new();
    for client in 0..8 {
        let (stop, sent, answered, url) =
            (stop.clone(), sent.clone(), answered.clone(), url.clone());
        clients.push(tokio::spawn(async move {
            let http = http_client();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let id = format!("crash-{client}-{n}");
                n += 1;
                sent.lock().unwrap().insert(id.clone());
                let response = http
                    .post(&url)
                    .header("x-correlation-id", &id)
                    .json(&chat_body("strong"))
                    .send()
                    .await;
                let Ok(response) = response else { break };
                let body: Option<Value> = response.json().await.ok();
                let Some(body) = body else { break };
                assert_eq!(body["usage"]["prompt_tokens"], 11, "{body}");
                assert_eq!(body["usage"]["completion_tokens"], 7, "{body}");
                answered.lock().unwrap().insert(id);
            }
        }));
    }
    // Part of the scenario: 1.5 s of load, then the crash.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    served.child.start_kill().unwrap();
    served.child.wait().await.unwrap();
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let sent = sent.lock().unwrap().clone();
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() > 50,
        "the load was too light: {} answers",
        answered.len()
    );

    // The ledger as the crash left it.
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows: Vec<(String, i64)> = sqlx::query_as("SELECT correlation_id, nano_usd FROM spend")
        .fetch_all(&pool)
        .await
        .unwrap();
    pool.close().await;
    let in_ledger: HashSet<String> = rows.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(in_ledger.len(), rows.len(), "no request is charged twice");
    for (id, nano_usd) in &rows {
        assert!(sent.contains(id), "ledger row {id} was never sent");
        assert_eq!(
            *nano_usd, NANO_USD_PER_ANSWER,
            "{id} is charged what its usage cost"
        );
    }
    // Every answer a client got is in the ledger: a priced answer is released only once its
    // spend is committed. Rows beyond that are requests cut off between commit and answer, at
    // most one per client.
    let missing: Vec<&String> = answered.difference(&in_ledger).collect();
    assert!(
        missing.is_empty(),
        "answered but not in the ledger: {missing:?}"
    );
    let cut_off = rows.len() - answered.len();
    assert!(cut_off <= 8, "{cut_off} ledger rows without an answer");
    eprintln!(
        "kill -9 after {} answers: {} ledger rows ({cut_off} committed but cut off before the answer)",
        answered.len(),
        rows.len()
    );
    let ledger_total: i64 = rows.iter().map(|(_, n)| n).sum();

    // Restarted with the budget set to what the ledger holds plus $0.30: the new process starts
    // from the ledger, so exactly two more $0.18 answers fit before it refuses.
    let usd = ledger_total as f64 / 1e9 + 0.30;
    std::fs::write(&config_path, config(&mock.base_url(), &admin_file, usd)).unwrap();
    let served = Served::start(home.path(), &config_path, &db).await;
    let http = http_client();
    let status: Value = http
        .get(served.url("/admin/budgets"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let spent = status["budgets"][0]["spent_usd"].as_f64().unwrap();
    assert!((spent - ledger_total as f64 / 1e9).abs() < 1e-6, "{status}");
    let url = served.url("/v1/chat/completions");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = http
            .post(&url)
            .json(&chat_body("strong"))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "budget_exceeded", "{body}");
        }
    }
    assert_eq!(
        statuses,
        [200, 200, 429],
        "{}",
        json!({"ledger_usd": ledger_total as f64 / 1e9, "limit": usd})
    );

    // `switchboard budgets` shows the same state through the admin API.
    let output = switchboard(home.path())
        .arg("budgets")
        .arg("--url")
        .arg(served.url("/v1"))
        .arg("--admin-token-file")
        .arg(&admin_file)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.starts_with("cloud") && stdout.contains(" spent ") && stdout.contains("per month"),
        "{stdout}"
    );
    served.stop().await;
}

async fn run(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    let mut command = crate::support::switchboard(home);
    command.args(args);
    tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("finishes within 30 s")
        .expect("switchboard runs")
}

/// `switchboard prices import` turns LiteLLM's price data into a price file, `check` accepts a
/// config naming it, and `switchboard budgets` shows where its prices come from, the cache share
/// and what the spend would have cost without caching.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prices_import_then_budgets_show_the_source_and_the_cache_savings() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../gateway/tests/fixtures/model_prices_and_context_window.json"
    );
    let price_file = home.path().join("prices.litellm.toml");
    let out = run(
        home.path(),
        &[
            "prices",
            "import",
            fixture,
            "-o",
            price_file.to_str().unwrap(),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{out:?}");
    assert!(
        stdout.contains("anthropic 2, gemini 2, openai 3"),
        "{stdout}"
    );
    assert!(stdout.contains("prices_file = "), "{stdout}");
    // A second import does not overwrite without --force.
    let again = run(
        home.path(),
        &[
            "prices",
            "import",
            fixture,
            "-o",
            price_file.to_str().unwrap(),
        ],
    )
    .await;
    assert!(!again.status.success());

    let admin_file = secret_file(home.path(), "admin.token", ADMIN);
    let key_file = secret_file(home.path(), "claude.key", "k");
    let config_path = home.path().join("config.toml");
    // The mock's `cached-sonnet` answers with Anthropic's prompt-cache usage (100 fresh,
    // 10,000 read, 2,000 written, 50 out), priced at claude-sonnet-4-5's $3 / $15.
    std::fs::write(
        &config_path,
        format!(
            "[server]\nadmin_token = \"file:{}\"\n\
             [spend]\nprices_file = {:?}\n\
             [providers.claude]\nkind = \"anthropic\"\nbase_url = \"{}\"\napi_key = \"file:{}\"\nbudget = \"cloud\"\n\
             [aliases.sonnet]\ntargets = [\"claude/cached-sonnet\"]\n\
             [prices.\"claude/cached-sonnet\"]\ninput = 3\noutput = 15\n\
             [budgets.cloud]\nusd = 150\nperiod = \"month\"\n",
            admin_file.display(),
            price_file.display().to_string(),
            mock.anthropic_base_url(),
            key_file.display(),
        ),
    )
    .unwrap();
    let check = run(
        home.path(),
        &["--config", config_path.to_str().unwrap(), "check"],
    )
    .await;
    assert!(check.status.success(), "{check:?}");

    let db = home.path().join("switchboard.db");
    let mut served = Served::start(home.path(), &config_path, &db).await;
    let response = http_client()
        .post(served.url("/v1/chat/completions"))
        .json(&chat_body("sonnet"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["usage"]["prompt_tokens"], 12_100, "{body}");

    let out = run(
        home.path(),
        &[
            "budgets",
            "--url",
            &served.url(""),
            "--admin-token-file",
            admin_file.to_str().unwrap(),
        ],
    )
    .await;
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{out:?}");
    // $0.01155 spent; 10,000 of 12,100 input tokens (83%) from the cache; $0.04 without it
    // (12,100 × $3 + 50 × $15 per million = $0.03705).
    assert!(stdout.contains("$     0.01 of $150.00"), "{stdout}");
    assert!(
        stdout.contains(
            "cache: 83% of 12100 input tokens read from a prompt cache; $0.04 without caching"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "prices: {} (7 models; LiteLLM model_prices_and_context_window.json",
            price_file.display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("built-in prices: Published API pricing pages"),
        "{stdout}"
    );
    served.child.start_kill().unwrap();
    served.child.wait().await.unwrap();
}
