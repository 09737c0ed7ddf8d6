//! Prompt-cache usage end to end: each provider's cache report (the mock's `cached-...` models)
//! through both ingresses, streamed or not, must land in the request log and the ledger as the
//! same parts and the same cost, and reach the client in its own dialect.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

mod providers_support;

use std::time::Duration;

use providers_support::Harness;
use serde_json::{json, Value};
use switchboard_test_support::eventually_with;

const ALIASES: &str = "\
[aliases.anthropic]\ntargets = [\"an/cached-sonnet\"]\n\
[aliases.openai]\ntargets = [\"oa/cached-gpt\"]\n\
[aliases.gemini]\ntargets = [\"ge/cached-gemini\"]\n\
[prices.\"an/cached-sonnet\"]\ninput = 3\noutput = 15\n\
[prices.\"oa/cached-gpt\"]\ninput = 2\noutput = 8\ncache_read = 0.5\n\
[prices.\"ge/cached-gemini\"]\ninput = 1.25\noutput = 10\ncache_read = 0.125\n";

/// What one request left in the log and the ledger.
#[derive(Debug, PartialEq)]
struct Logged {
    input: i64,
    cache_read: i64,
    cache_write: i64,
    output: i64,
    cost_nano: i64,
    ledger_nano: i64,
    ledger_uncached_nano: i64,
}

/// `requests`: input, cache reads, cache writes, output, cost.
type RequestRow = (i64, Option<i64>, Option<i64>, i64, Option<f64>);
/// `spend`: input, cache reads, cache writes, output, nano-USD, uncached nano-USD.
type SpendRow = (i64, i64, i64, i64, i64, Option<i64>);

async fn logged(harness: &Harness, correlation_id: &str) -> Logged {
    let db = harness.db_path.clone();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let rows = {
        let pool = &pool;
        // The log writer batches: wait for both rows rather than a guessed time.
        eventually_with(
            Duration::from_secs(5),
            move || async move {
                let request: Option<RequestRow> = sqlx::query_as(
                    "SELECT input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, cost_usd \
                     FROM requests WHERE correlation_id = ?",
                )
                .bind(correlation_id)
                .fetch_optional(pool)
                .await
                .unwrap();
                let spend: Option<SpendRow> = sqlx::query_as(
                    "SELECT input_tokens, cache_read_tokens, cache_write_tokens, output_tokens, nano_usd, \
                     uncached_nano_usd FROM spend WHERE correlation_id = ?",
                )
                .bind(correlation_id)
                .fetch_optional(pool)
                .await
                .unwrap();
                request.zip(spend)
            },
            Option::is_some,
        )
        .await
    };
    pool.close().await;
    let Ok(Some((r, s))) = rows else {
        panic!("no log row and ledger row for {correlation_id}");
    };
    assert_eq!(
        (s.0, s.1, s.2, s.3),
        (r.0, r.1.unwrap_or(0), r.2.unwrap_or(0), r.3),
        "the ledger and the request log agree on the parts"
    );
    Logged {
        input: r.0,
        cache_read: r.1.unwrap_or(0),
        cache_write: r.2.unwrap_or(0),
        output: r.3,
        cost_nano: (r.4.unwrap() * 1e9).round() as i64,
        ledger_nano: s.4,
        ledger_uncached_nano: s.5.unwrap(),
    }
}

async fn send(harness: &Harness, path: &str, alias: &str, stream: bool, id: &str) -> Value {
    let mut body = json!({"model": alias, "stream": stream, "max_tokens": 64,
        "messages": [{"role": "user", "content": "hello"}]});
    if path == "/v1/chat/completions" {
        body.as_object_mut().unwrap().remove("max_tokens");
        if stream {
            body["stream_options"] = json!({"include_usage": true});
        }
    }
    let response = harness
        .http
        .post(format!("{}{path}", harness.base))
        .header("x-correlation-id", id)
        .header("x-api-key", "client-secret-key")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path} {alias} stream={stream}");
    if !stream {
        return response.json::<Value>().await.unwrap()["usage"].clone();
    }
    // The last usage the stream carried: OpenAI's usage chunk, or Anthropic's
    // message_start + message_delta merged.
    let text = response.text().await.unwrap();
    let mut usage = json!({});
    for line in text.lines() {
        let Some(data) = line.strip_prefix("data: ") else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        let found = event
            .get("usage")
            .or_else(|| event.pointer("/message/usage"))
            .filter(|u| u.is_object());
        for (k, v) in found.and_then(Value::as_object).into_iter().flatten() {
            usage[k] = v.clone();
        }
    }
    usage
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_parts_and_cost_are_the_same_on_every_path() {
    let harness = Harness::start(ALIASES, "").await;
    // (alias, fresh input + reads + writes, reads, writes, output, cost in nano-USD, uncached)
    let cases = [
        // Claude: 100 × $3 + 10,000 × $0.30 + 2,000 × $3.75 + 50 × $15 per million = $0.01155.
        (
            "anthropic",
            12_100,
            10_000,
            2_000,
            50,
            11_550_000,
            12_100 * 3_000 + 50 * 15_000,
        ),
        // OpenAI: 2,000 × $2 + 8,000 × $0.50 + 500 × $8 per million = $0.012.
        (
            "openai",
            10_000,
            8_000,
            0,
            500,
            12_000_000,
            10_000 * 2_000 + 500 * 8_000,
        ),
        // Gemini: 1,500 × $1.25 + 10,000 × $0.125 + 11,000 × $10 per million = $0.113125.
        (
            "gemini",
            11_500,
            10_000,
            0,
            11_000,
            113_125_000,
            11_500 * 1_250 + 11_000 * 10_000,
        ),
    ];
    let mut n = 0;
    for (alias, input, read, write, output, nano, uncached) in cases {
        for path in ["/v1/chat/completions", "/v1/messages"] {
            for stream in [false, true] {
                n += 1;
                let id = format!("cache-{n}");
                let usage = send(&harness, path, alias, stream, &id).await;
                let got = logged(&harness, &id).await;
                let case = format!("{alias} through {path}, stream={stream}: {usage}");
                assert_eq!(
                    got,
                    Logged {
                        input,
                        cache_read: read,
                        cache_write: write,
                        output,
                        cost_nano: nano,
                        ledger_nano: nano,
                        ledger_uncached_nano: uncached,
                    },
                    "{case}"
                );
                // The client sees the parts in its own dialect.
                if path == "/v1/chat/completions" {
                    assert_eq!(usage["prompt_tokens"], input, "{case}");
                    assert_eq!(usage["completion_tokens"], output, "{case}");
                    assert_eq!(
                        usage["prompt_tokens_details"]["cached_tokens"], read,
                        "{case}"
                    );
                    if write > 0 {
                        assert_eq!(
                            usage["prompt_tokens_details"]["cache_write_tokens"], write,
                            "{case}"
                        );
                    }
                } else {
                    assert_eq!(usage["input_tokens"], input - read - write, "{case}");
                    assert_eq!(usage["cache_read_input_tokens"], read, "{case}");
                    assert_eq!(usage["output_tokens"], output, "{case}");
                    if write > 0 {
                        assert_eq!(usage["cache_creation_input_tokens"], write, "{case}");
                    }
                }
            }
        }
    }
    harness.stop().await;
}

/// LiteLLM's price data (the fixture is a subset of `model_prices_and_context_window.json`),
/// imported into a price file: it prices the models it knows, names their context windows for
/// routing, and leaves the rest to the built-in table.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imported_litellm_prices_price_targets_and_their_windows_route() {
    use switchboard_gateway::config::Pricing;
    use switchboard_gateway::spend::import::from_litellm_json;

    let json = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/model_prices_and_context_window.json"),
    )
    .unwrap();
    let imported = from_litellm_json(&json, "LiteLLM fixture", "2026-12-01").unwrap();
    // Only the families the gateway prices (anthropic, gemini, openai); vertex and azure
    // entries and image models are not taken.
    assert_eq!(
        imported.models.values().copied().collect::<Vec<_>>(),
        vec![2, 2, 3],
        "{}",
        imported.toml
    );
    let files = tempfile::tempdir().unwrap();
    let price_file = files.path().join("prices.litellm.toml");
    std::fs::write(&price_file, &imported.toml).unwrap();

    let aliases = format!(
        "[spend]\nprices_file = {:?}\n\
         [aliases.window]\ntargets = [\"an/claude-haiku-4-5-20251001\", \"ge/gemini-2.5-flash\"]\n\
         [aliases.other]\ntargets = [\"an/claude-opus-4-1\"]\n",
        price_file.display().to_string()
    );
    let harness = Harness::start(&aliases, "").await;
    let config = harness.gateway.snapshot().config.clone();
    let window = &config.aliases["window"].targets;
    assert_eq!(window[0].max_input_tokens, Some(200_000));
    assert_eq!(window[1].max_input_tokens, Some(1_048_576));
    let Pricing::Imported(haiku) = window[0].pricing else {
        panic!("{:?}", window[0].pricing)
    };
    assert_eq!(
        (haiku.input, haiku.cache_read, haiku.cache_write_1h),
        (1.0, 0.1, 2.0)
    );
    // Not in the file: the built-in table still prices it.
    assert!(matches!(
        config.aliases["other"].targets[0].pricing,
        Pricing::BuiltIn(_)
    ));

    // About 225,000 tokens: more than Haiku's window, so Gemini answers, every time.
    for (chars, served_by) in [(900_000, "ge/gemini-2.5-flash"); 3] {
        let response = harness
            .post(
                "/v1/chat/completions",
                json!({"model": "window", "messages": [{"role": "user", "content": "x".repeat(chars)}]}),
            )
            .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["x-switchboard-target"],
            served_by,
            "{chars} characters"
        );
    }

    // A new import applies on the next reload, though the config itself did not change.
    std::fs::write(
        &price_file,
        imported
            .toml
            .replace("max_input_tokens = 200000", "max_input_tokens = 1000"),
    )
    .unwrap();
    assert!(harness.gateway.reload().await.unwrap().changed);
    let config = harness.gateway.snapshot().config.clone();
    assert_eq!(
        config.aliases["window"].targets[0].max_input_tokens,
        Some(1000)
    );
    assert!(!harness.gateway.reload().await.unwrap().changed);

    let admin = harness.gateway.admin().budgets();
    let file = admin.price_file.unwrap();
    assert_eq!(
        (file.source.as_str(), file.as_of.as_str(), file.models),
        ("LiteLLM fixture", "2026-12-01", 7)
    );
    harness.stop().await;
}
