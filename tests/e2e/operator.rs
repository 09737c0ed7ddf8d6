//! Operator tools against a real `switchboard serve` and the mock upstream: `smoke`, `doctor`,
//! `discover`, `connect`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use mock_upstream::{MockConfig, MockUpstream};
use serde_json::Value;

use crate::support::{render_config, switchboard, Served, BASE_CONFIG};

/// `switchboard --config CONFIG ARGS...` with extra environment, bounded to 60 s.
async fn run(
    home: &Path,
    config: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut command = switchboard(home);
    command.arg("--config").arg(config).args(args);
    command
        .env_remove("SWITCHBOARD_URL")
        .env_remove("SWITCHBOARD_TOKEN");
    for (k, v) in env {
        command.env(k, v);
    }
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("finishes within 60 s")
        .expect("switchboard runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Two aliases that work (chat and embeddings), one whose backend is down and one whose key
/// cannot be read.
const SMOKE_EXTRA: &str = r#"
[providers.down]
kind = "openai"
base_url = "{closed}"
timeouts = { connect_s = 1, first_byte_s = 2, idle_s = 2, total_s = 5 }

[providers.nokey]
kind = "openai"
base_url = "{mock}"
api_key = "env:SB_TEST_SMOKE_KEY_NOT_SET"

[aliases."local/embed"]
targets = ["mock/text-embedding-mock"]

[aliases."broken"]
targets = ["down/nothing"]

[aliases."badkey"]
targets = ["nokey/some-model"]
"#;

#[tokio::test]
async fn smoke_probes_every_alias_and_reports_failures() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        render_config(&format!("{BASE_CONFIG}\n{SMOKE_EXTRA}"), &mock.base_url()),
    )
    .unwrap();
    let served = Served::start(dir.path(), &config, &dir.path().join("log.db")).await;
    let url = served.url("");

    let out = run(
        dir.path(),
        &config,
        &["smoke", "--url", &url, "--json"],
        &[],
    )
    .await;
    assert!(!out.status.success(), "a failing alias fails the run");
    let results: Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    let by_alias = |name: &str| -> Value {
        results
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["alias"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing from {results}"))
    };
    let chat = by_alias("local/chat");
    assert_eq!(chat["ok"], true, "{chat}");
    assert_eq!(chat["probe"], "chat");
    assert_eq!(chat["target"], "mock/some-model");
    assert_eq!(chat["input_tokens"], 11);
    assert_eq!(chat["output_tokens"], 7);
    let embed = by_alias("local/embed");
    assert_eq!(embed["ok"], true, "{embed}");
    assert_eq!(embed["probe"], "embeddings");
    assert!(mock
        .received()
        .iter()
        .any(|r| r.path == "/v1/embeddings" && r.body["model"] == "text-embedding-mock"));
    let broken = by_alias("broken");
    assert_eq!(broken["ok"], false);
    assert!(
        broken["error"]
            .as_str()
            .unwrap()
            .contains("backend_unreachable"),
        "{broken}"
    );
    let badkey = by_alias("badkey");
    assert_eq!(badkey["ok"], false);
    let why = badkey["error"].as_str().unwrap();
    assert!(why.contains("SB_TEST_SMOKE_KEY_NOT_SET"), "{why}");

    // The table: one line per alias, a summary, exit 1.
    let out = run(dir.path(), &config, &["smoke", "--url", &url], &[]).await;
    assert_eq!(out.status.code(), Some(1));
    let table = text(&out.stdout);
    assert!(table.starts_with("ALIAS"), "{table}");
    let line = |alias: &str| {
        table
            .lines()
            .find(|l| l.starts_with(&format!("{alias} ")))
            .unwrap_or_else(|| panic!("no line for {alias}:\n{table}"))
            .to_owned()
    };
    assert!(line("local/chat").ends_with("  ok"), "{table}");
    assert!(line("local/chat").contains("mock/some-model"), "{table}");
    assert!(line("local/chat").contains("11/7"), "{table}");
    assert!(
        line("broken").contains("FAILED: 503 Service Unavailable"),
        "{table}"
    );
    assert!(line("badkey").contains("FAILED"), "{table}");
    assert!(table.contains("2 of 4 aliases ok, 2 FAILED"), "{table}");

    // One alias (from SWITCHBOARD_URL): the working ones pass on their own.
    let out = run(
        dir.path(),
        &config,
        &["smoke", "--alias", "local/chat", "--alias", "local/embed"],
        &[("SWITCHBOARD_URL", &url)],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("2 of 2 aliases ok"));
    served.stop().await;
}
