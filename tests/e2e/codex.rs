//! Codex CLI for real (the pinned `@openai/codex` in tests/agents, installed by
//! `scripts/bootstrap.sh test`): `codex exec` with its own temp HOME and a config.toml pointing
//! at `switchboard serve` (`wire_api = "responses"`), against the mock upstream through an
//! OpenAI-compatible backend and an Anthropic backend. The mock answers Codex's first request
//! with a call to its `exec_command` tool (`echo tool-ran-$((6*7))`); Codex runs it, sends the
//! output (`tool-ran-42`, which is not in the arguments) back, and the mock's final text quotes it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use mock_upstream::{MockConfig, MockUpstream};

use crate::support::{read_log, Served};

fn codex_binary() -> PathBuf {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/agents/node_modules/.bin/codex");
    assert!(
        path.exists(),
        "Codex CLI is not installed at {}; run scripts/bootstrap.sh test",
        path.display()
    );
    path
}

/// Runs `codex exec` with `model` through the gateway at `base`; returns (success, output).
async fn codex_exec(home: &Path, base: &str, model: &str, prompt: &str) -> (bool, String) {
    let codex_home = home.join(".codex");
    std::fs::create_dir_all(&codex_home).expect("codex home");
    std::fs::write(
        codex_home.join("config.toml"),
        format!(
            "model = \"{model}\"\nmodel_provider = \"switchboard\"\n\n\
             [model_providers.switchboard]\nname = \"Switchboard\"\nbase_url = \"{base}/v1\"\n\
             env_key = \"SWITCHBOARD_API_KEY\"\nwire_api = \"responses\"\n"
        ),
    )
    .expect("codex config");
    let work = home.join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let mut command = tokio::process::Command::new(codex_binary());
    command
        // No sandbox: Codex's bubblewrap helper is not there in every container, and the one
        // command the mock asks for is `echo` in a temp dir.
        .args([
            "exec",
            "--skip-git-repo-check",
            "--sandbox",
            "danger-full-access",
            prompt,
        ])
        .current_dir(&work)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("CODEX_HOME", &codex_home)
        .env("SWITCHBOARD_API_KEY", "codex-client-key")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(180), command.output())
        .await
        .expect("codex exec finishes within 180 s")
        .expect("codex runs");
    let text = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_cli_runs_a_tool_turn_through_openai_and_anthropic_backends() {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock upstream starts");
    let dir = tempfile::tempdir().expect("tempdir");
    let key = switchboard_test_support::secret_file(
        dir.path(),
        "anthropic.key",
        "upstream-anthropic-key",
    );
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[providers.mock]\nkind = \"openai\"\nbase_url = \"{}\"\n\n\
             [providers.claude]\nkind = \"anthropic\"\nbase_url = \"{}\"\napi_key = \"file:{}\"\n\n\
             [aliases.\"codex/openai\"]\ntargets = [\"mock/gpt-mock\"]\n\
             [aliases.\"codex/anthropic\"]\ntargets = [\"claude/claude-mock\"]\n",
            mock.base_url(),
            mock.anthropic_base_url(),
            key.display()
        ),
    )
    .expect("write config");
    let database = dir.path().join("requests.db");
    let served = Served::start(dir.path(), &config, &database).await;
    let base = served.url("");

    for (alias, upstream_path) in [
        ("codex/openai", "/v1/chat/completions"),
        ("codex/anthropic", "/v1/messages"),
    ] {
        let home = dir.path().join(alias.replace('/', "-"));
        let (ok, output) = codex_exec(
            &home,
            &base,
            alias,
            "Run echo, then tell me what it printed.",
        )
        .await;
        assert!(
            ok,
            "codex exec through {alias} failed:\n{output}\n{}",
            served.stderr()
        );
        // The final text quotes the tool's output: the command ran and its result went back.
        assert!(
            output.contains("got tool results") && output.contains("tool-ran-42"),
            "{alias}:\n{output}"
        );
        let upstream: Vec<_> = mock
            .received()
            .into_iter()
            .filter(|r| r.path == upstream_path)
            .collect();
        let tool_turn = upstream.iter().any(|r| {
            let text = r.body.to_string();
            text.contains("tool-ran-42") && text.contains("exec_command")
        });
        assert!(
            tool_turn,
            "{alias}: no request carried the tool result: {upstream:#?}"
        );
    }
    served.stop().await;

    // The request log shows both turns (the tool call, then the answer) for each backend.
    let rows = read_log(&database).await;
    for alias in ["codex/openai", "codex/anthropic"] {
        let turns: Vec<_> = rows
            .iter()
            .filter(|r| r.endpoint == "responses" && r.alias.as_deref() == Some(alias))
            .collect();
        assert!(turns.len() >= 2, "{alias}: {rows:#?}");
        assert!(
            turns.iter().all(|r| r.status == 200 && r.streamed),
            "{turns:#?}"
        );
        // Usage reached the log from the translated stream's `response.completed`.
        assert!(
            turns
                .iter()
                .all(|r| r.output_tokens.is_some_and(|t| t > 0) && r.input_tokens.is_some()),
            "{turns:#?}"
        );
    }
}
