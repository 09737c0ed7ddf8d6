//! The real coding agents, pinned in tests/agents (installed by `scripts/bootstrap.sh test`),
//! run non-interactively through `switchboard serve` against the mock upstream: Claude Code
//! (`claude -p`, Anthropic's Messages API) and opencode (`opencode run`, OpenAI's chat
//! completions through `@ai-sdk/openai-compatible`, which opencode bundles), each once with an
//! OpenAI-compatible backend and once with an Anthropic backend. The mock answers an agent's
//! shell tool (`Bash` / `bash`) with one `echo hi` call and, after the tool result, a text that
//! quotes it, so every run includes a real tool turn executed by the agent.
//!
//! Each agent gets its own temporary HOME and XDG dirs, a clean environment and no network
//! need (opencode's model catalog fetch and autoupdate are off). Missing agents fail the test.

use std::path::{Path, PathBuf};
use std::time::Duration;

use mock_upstream::{MockConfig, MockUpstream, Received};
use serde_json::Value;

use crate::support::{read_log, Served};

fn agent_bin(name: &str) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/agents/node_modules/.bin")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run `scripts/bootstrap.sh test` (installs the pinned agents)",
        path.display()
    );
    path
}

/// The mock, `switchboard serve` in front of it with one alias per backend kind, and a home.
struct Hub {
    dir: tempfile::TempDir,
    mock: MockUpstream,
    served: Served,
    database: PathBuf,
}

impl Hub {
    async fn start() -> Hub {
        let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let key =
            switchboard_test_support::secret_file(dir.path(), "anthropic.key", "upstream-key");
        // `gpt-mock` is the mock's model id that plays the tool-call scenario.
        let config = format!(
            "listen = \"127.0.0.1:0\"\n\n\
             [providers.local]\nkind = \"openai\"\nbase_url = \"{}\"\n\n\
             [providers.claude]\nkind = \"anthropic\"\nbase_url = \"{}\"\napi_key = \"file:{}\"\n\n\
             [aliases.\"agent/openai\"]\ntargets = [\"local/gpt-mock\"]\n\n\
             [aliases.\"agent/anthropic\"]\ntargets = [\"claude/claude-mock\"]\n",
            mock.base_url(),
            mock.anthropic_base_url(),
            key.display()
        );
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        let database = dir.path().join("requests.db");
        let home = dir.path().join("gateway-home");
        std::fs::create_dir_all(&home).unwrap();
        let served = Served::start(&home, &config_path, &database).await;
        Hub {
            dir,
            mock,
            served,
            database,
        }
    }

    fn base(&self) -> String {
        format!("http://{}", self.served.addr)
    }

    /// A fresh home and project directory for one agent run.
    fn agent_home(&self, name: &str) -> (PathBuf, PathBuf) {
        let home = self.dir.path().join(name);
        let project = home.join("project");
        std::fs::create_dir_all(&project).unwrap();
        (home, project)
    }
}

/// A clean environment: no keys, proxies or agent settings from the caller.
fn agent_command(bin: &Path, home: &Path, project: &Path) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(bin);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .env("XDG_CACHE_HOME", home.join(".cache"))
        .env("XDG_STATE_HOME", home.join(".local/state"))
        .env("SHELL", "/bin/bash")
        .env("LANG", "C.UTF-8")
        .current_dir(project)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

/// Runs the agent to the end (at most 3 minutes) and returns its stdout; panics with both
/// streams if it fails.
async fn run(mut command: tokio::process::Command, what: &str) -> String {
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 3 minutes"))
        .unwrap_or_else(|e| panic!("{what} does not run: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    stdout
}

/// The tool result the agent sent back after running `echo hi`, as the backend received it.
fn tool_results(received: &[Received]) -> Vec<String> {
    let mut out = Vec::new();
    for request in received {
        for message in request.body["messages"].as_array().into_iter().flatten() {
            // OpenAI: a `tool` message; Anthropic: `tool_result` blocks in a user turn.
            if message["role"] == "tool" {
                out.push(text_of(&message["content"]));
            }
            for block in message["content"].as_array().into_iter().flatten() {
                if block["type"] == "tool_result" {
                    out.push(text_of(&block["content"]));
                }
            }
        }
    }
    out
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

/// In the request log: for each alias, at least the tool-call turn and the final turn, all
/// served (200) and streamed.
async fn assert_logged(database: &Path, endpoint: &str, aliases: &[&str]) {
    let rows = read_log(database).await;
    for alias in aliases {
        let served: Vec<_> = rows
            .iter()
            .filter(|r| r.alias.as_deref() == Some(alias) && r.endpoint == endpoint)
            .collect();
        assert!(
            served.len() >= 2,
            "{alias}: expected the tool turn and the final turn on {endpoint}: {rows:#?}"
        );
        assert!(
            served.iter().all(|r| r.status == 200 && r.streamed),
            "{rows:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_code_completes_a_tool_turn_against_openai_and_anthropic_backends() {
    let claude = agent_bin("claude");
    let hub = Hub::start().await;
    for (alias, who, path) in [
        ("agent/anthropic", "mock-anthropic", "/v1/messages"),
        ("agent/openai", "mock-openai", "/v1/chat/completions"),
    ] {
        let (home, project) = hub.agent_home(&alias.replace('/', "-"));
        let mut command = agent_command(&claude, &home, &project);
        command
            .env("ANTHROPIC_BASE_URL", hub.base())
            .env("ANTHROPIC_API_KEY", "sk-client-not-forwarded")
            .env("ANTHROPIC_MODEL", alias)
            .env("ANTHROPIC_SMALL_FAST_MODEL", alias)
            .env("DISABLE_TELEMETRY", "1")
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_AUTOUPDATER", "1")
            .args([
                "-p",
                "Run `echo hi` in the shell.",
                "--allowedTools",
                "Bash",
            ]);
        let before = hub.mock.received().len();
        let stdout = run(command, &format!("claude -p ({alias})")).await;
        assert_eq!(stdout.trim(), format!("{who} got tool results: hi"));
        let received: Vec<Received> = hub.mock.received().split_off(before);
        assert!(received.iter().all(|r| r.path == path), "{alias}");
        let results = tool_results(&received);
        assert!(
            !results.is_empty() && results.iter().all(|r| r.trim() == "hi"),
            "{alias}: the Bash tool ran: {results:?}"
        );
        // The client's key never goes upstream.
        for request in &received {
            assert_ne!(
                request
                    .headers
                    .get("x-api-key")
                    .and_then(|v| v.to_str().ok()),
                Some("sk-client-not-forwarded")
            );
        }
    }
    let database = hub.database.clone();
    hub.served.stop().await;
    assert_logged(&database, "messages", &["agent/anthropic", "agent/openai"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opencode_completes_a_tool_turn_against_openai_and_anthropic_backends() {
    let opencode = agent_bin("opencode");
    let hub = Hub::start().await;
    for (alias, who, path) in [
        ("agent/openai", "mock-openai", "/v1/chat/completions"),
        ("agent/anthropic", "mock-anthropic", "/v1/messages"),
    ] {
        let (home, project) = hub.agent_home(&alias.replace('/', "-"));
        let config = serde_json::json!({
            "$schema": "https://opencode.ai/config.json",
            "provider": {"switchboard": {
                "npm": "@ai-sdk/openai-compatible",
                "name": "Switchboard",
                "options": {"baseURL": format!("{}/v1", hub.base()), "apiKey": "sk-client"},
                "models": {alias: {"name": alias, "limit": {"context": 32000, "output": 4096}}}
            }}
        });
        std::fs::write(project.join("opencode.json"), config.to_string()).unwrap();
        let mut command = agent_command(&opencode, &home, &project);
        command
            .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
            .env("OPENCODE_DISABLE_MODELS_FETCH", "1")
            .env("OPENCODE_DISABLE_DEFAULT_PLUGINS", "1")
            .env("OPENCODE_DISABLE_LSP_DOWNLOAD", "1")
            .env("OPENCODE_DISABLE_SHARE", "1")
            .env("OPENCODE_DISABLE_CLAUDE_CODE", "1")
            .args([
                "run",
                "-m",
                &format!("switchboard/{alias}"),
                "Run `echo hi`.",
            ]);
        let before = hub.mock.received().len();
        let stdout = run(command, &format!("opencode run ({alias})")).await;
        assert!(
            stdout.contains(&format!("{who} got tool results: hi")),
            "{alias}: {stdout}"
        );
        let received: Vec<Received> = hub.mock.received().split_off(before);
        assert!(received.iter().all(|r| r.path == path), "{alias}");
        let results = tool_results(&received);
        assert!(
            !results.is_empty() && results.iter().all(|r| r.trim() == "hi"),
            "{alias}: the bash tool ran: {results:?}"
        );
    }
    let database = hub.database.clone();
    hub.served.stop().await;
    assert_logged(
        &database,
        "chat/completions",
        &["agent/openai", "agent/anthropic"],
    )
    .await;
}
