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

/// A process that is not Switchboard holding a TCP port: (child, port).
async fn hold_a_port() -> (tokio::process::Child, u16) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new("python3")
        .args([
            "-c",
            "import socket,sys,time\ns=socket.socket()\ns.bind(('127.0.0.1',0))\ns.listen()\nprint(s.getsockname()[1],flush=True)\ntime.sleep(120)",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("python3 runs");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let port = lines.next_line().await.unwrap().unwrap().parse().unwrap();
    (child, port)
}

fn findings(out: &std::process::Output) -> Vec<Value> {
    let body: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|_| panic!("--json prints JSON: {}", text(&out.stdout)));
    body["findings"].as_array().unwrap().clone()
}

fn find<'f>(findings: &'f [Value], check: &str, severity: &str) -> &'f Value {
    findings
        .iter()
        .find(|f| f["check"] == check && f["severity"] == severity)
        .unwrap_or_else(|| panic!("no {severity} `{check}` finding in {findings:#?}"))
}

#[tokio::test]
async fn doctor_names_the_port_holder_and_every_broken_backend() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (holder, port) = hold_a_port().await;
    let holder_pid = holder.id().unwrap();
    let config_text = format!(
        r#"listen = "127.0.0.1:{port}"

[providers.mock]
kind = "openai"
base_url = "{{mock}}"
api_key = "env:SB_TEST_DOCTOR_KEY"

[providers.down]
kind = "openai"
base_url = "{{closed}}"

[providers.nokey]
kind = "openai"
base_url = "{{mock}}"
api_key = "env:SB_TEST_DOCTOR_KEY_NOT_SET"

[providers.nowhere]
kind = "openai"
base_url = "http://no-such-host.invalid/v1"

[aliases."local/chat"]
targets = ["mock/some-model"]
"#
    );
    let config = dir.path().join("config.toml");
    std::fs::write(&config, render_config(&config_text, &mock.base_url())).unwrap();
    let secret = "sk-doctor-secret-value-123";
    let out = run(
        dir.path(),
        &config,
        &["doctor", "--json", "--timeout-s", "2"],
        &[("SB_TEST_DOCTOR_KEY", secret)],
    )
    .await;
    let printed = text(&out.stdout);
    assert!(
        !printed.contains(secret),
        "doctor printed a key:\n{printed}"
    );
    assert_eq!(out.status.code(), Some(2), "errors exit 2:\n{printed}");
    let all = findings(&out);
    find(&all, "config", "ok");
    let listen = find(&all, "listen", "error");
    let summary = listen["summary"].as_str().unwrap();
    if cfg!(target_os = "linux") {
        assert!(
            summary.contains(&format!("python3 (pid {holder_pid})")),
            "{summary}"
        );
        assert!(listen["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("kill {holder_pid}")));
    }
    let bind = find(&all, "bind", "ok");
    assert!(
        bind["summary"].as_str().unwrap().contains("loopback"),
        "{bind}"
    );
    let missing = find(&all, "secret", "error");
    assert!(missing["summary"]
        .as_str()
        .unwrap()
        .contains("SB_TEST_DOCTOR_KEY_NOT_SET"));
    assert!(missing["fix"]
        .as_str()
        .unwrap()
        .contains("export SB_TEST_DOCTOR_KEY_NOT_SET"));
    let present = find(&all, "secret", "ok");
    assert!(present["summary"]
        .as_str()
        .unwrap()
        .contains("env:SB_TEST_DOCTOR_KEY "));
    find(&all, "backend mock dns", "ok");
    find(&all, "backend mock tcp", "ok");
    let http = find(&all, "backend mock http", "ok");
    assert!(
        http["summary"].as_str().unwrap().contains("200 OK"),
        "{http}"
    );
    assert!(http["latency_ms"].is_u64());
    // The mock got the key as a bearer, as the gateway would send it.
    let down = find(&all, "backend down tcp", "error");
    assert!(
        down["summary"].as_str().unwrap().contains("cannot connect"),
        "{down}"
    );
    let dns = find(&all, "backend nowhere dns", "error");
    assert!(
        dns["summary"]
            .as_str()
            .unwrap()
            .contains("no-such-host.invalid"),
        "{dns}"
    );
    find(&all, "clock", "ok");
    find(&all, "gateway", "info");

    // Human output: the same findings with their fixes.
    let out = run(dir.path(), &config, &["doctor", "--timeout-s", "2"], &[]).await;
    let human = text(&out.stdout);
    assert!(human.contains("[ERROR] listen: "), "{human}");
    assert!(human.contains("        fix: "), "{human}");
    assert_eq!(out.status.code(), Some(2));
    drop(holder);

    // An invalid config: its line:col, exit 2.
    std::fs::write(&config, "listn = \"127.0.0.1:4000\"\n").unwrap();
    let out = run(dir.path(), &config, &["doctor", "--json"], &[]).await;
    assert_eq!(out.status.code(), Some(2));
    let all = findings(&out);
    let bad = find(&all, "config", "error");
    assert!(
        bad["summary"]
            .as_str()
            .unwrap()
            .contains("config.toml:1:1: unknown key `listn`"),
        "{bad}"
    );
}

#[tokio::test]
async fn doctor_reads_breakers_and_budgets_of_a_running_gateway() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = r#"
[providers.down]
kind = "openai"
base_url = "{closed}"
timeouts = { connect_s = 1, first_byte_s = 2, idle_s = 2, total_s = 5 }

[aliases."broken"]
targets = ["down/nothing"]

[prices."mock/some-model"]
input = 100000
output = 100000

[budgets.team]
usd = 2
period = "month"
alert_at = 0.8
"#;
    let text_config = render_config(&format!("{BASE_CONFIG}\n{extra}"), &mock.base_url()).replace(
        "[providers.mock]\n",
        "[providers.mock]\nbudget = \"team\"\n",
    );
    let config = dir.path().join("config.toml");
    std::fs::write(&config, text_config).unwrap();
    let served = Served::start(dir.path(), &config, &dir.path().join("log.db")).await;
    let url = served.url("");
    // 11 input + 7 output tokens at $0.10 each: $1.80 of $2, past the 80% alert.
    let out = run(
        dir.path(),
        &config,
        &[
            "smoke",
            "--url",
            &url,
            "--alias",
            "local/chat",
            "--alias",
            "broken",
        ],
        &[],
    )
    .await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));

    let out = run(
        dir.path(),
        &config,
        &["doctor", "--json", "--url", &url],
        &[],
    )
    .await;
    let all = findings(&out);
    let gateway = find(&all, "gateway", "info");
    assert!(
        gateway["summary"].as_str().unwrap().contains("is running"),
        "{gateway}"
    );
    let breaker = find(&all, "breaker", "warning");
    assert!(
        breaker["summary"]
            .as_str()
            .unwrap()
            .starts_with("down/nothing is open"),
        "{breaker}"
    );
    assert!(breaker["fix"]
        .as_str()
        .unwrap()
        .contains("switchboard targets reset down/nothing"));
    let budget = find(&all, "budget", "warning");
    assert!(
        budget["summary"]
            .as_str()
            .unwrap()
            .starts_with("team: $1.80 of $2.00 (90%)"),
        "{budget}"
    );
    assert_eq!(out.status.code(), Some(2), "the down backend is an error");
    served.stop().await;
}

#[tokio::test]
async fn discover_lists_local_servers_and_add_writes_aliases_a_running_gateway_serves() {
    let ollama = MockUpstream::start(MockConfig::default()).await.unwrap();
    let vllm = MockUpstream::start(MockConfig::default()).await.unwrap();
    let configured = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let original = render_config(BASE_CONFIG, &configured.base_url());
    std::fs::write(&config, &original).unwrap();
    let closed = crate::support::closed_port_url();
    let closed_port = closed
        .trim_end_matches("/v1")
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let ports = format!(
        "ollama={},vllm={},jan={closed_port},llamacpp={}",
        ollama.addr.port(),
        vllm.addr.port(),
        configured.addr.port()
    );
    let served = Served::start(dir.path(), &config, &dir.path().join("log.db")).await;

    let out = run(
        dir.path(),
        &config,
        &["discover", "--json", "--ports", &ports],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let found: Value = serde_json::from_slice(&out.stdout).unwrap();
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 3, "{found:?}");
    let server = |name: &str| found.iter().find(|f| f["server"] == name).unwrap().clone();
    assert_eq!(
        server("ollama")["base_url"],
        format!("http://127.0.0.1:{}/v1", ollama.addr.port())
    );
    assert_eq!(server("ollama")["label"], "Ollama");
    assert_eq!(
        server("ollama")["models"],
        serde_json::json!(["mock-model"])
    );
    assert_eq!(server("vllm")["provider"], Value::Null);
    assert_eq!(server("llamacpp")["provider"], "mock", "already configured");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        original,
        "no --add: nothing written"
    );

    // The human listing, with the port list from the environment.
    let out = run(
        dir.path(),
        &config,
        &["discover"],
        &[("SWITCHBOARD_DISCOVER_PORTS", &ports)],
    )
    .await;
    let listing = text(&out.stdout);
    assert!(
        listing.contains(&format!(
            "Ollama at http://127.0.0.1:{}/v1\n  mock-model",
            ollama.addr.port()
        )),
        "{listing}"
    );
    assert!(
        listing.contains("(provider `mock` in the config)"),
        "{listing}"
    );

    let out = run(
        dir.path(),
        &config,
        &["discover", "--add", "--ports", &ports],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&config).unwrap();
    // The file's own lines (comments included) are all kept, in order.
    let mut rest = written.lines();
    for line in original.lines() {
        assert!(rest.any(|l| l == line), "lost {line:?}:\n{written}");
    }
    let check = crate::support::run_check(dir.path(), &config).await;
    assert!(check.status.success(), "{}", text(&check.stderr));
    let parsed: toml::Table = toml::from_str(&written).unwrap();
    assert_eq!(
        parsed["providers"]["ollama"]["base_url"].as_str(),
        Some(format!("http://127.0.0.1:{}/v1", ollama.addr.port()).as_str())
    );
    assert_eq!(
        parsed["aliases"]["vllm/mock-model"]["targets"][0].as_str(),
        Some("vllm/mock-model")
    );
    assert_eq!(
        parsed["aliases"]["mock/mock-model"]["targets"][0].as_str(),
        Some("mock/mock-model"),
        "a configured server's new model goes through its provider"
    );
    assert!(parsed["providers"].get("llamacpp").is_none());

    // The running gateway picked the file up: the new alias answers from that server.
    let http = crate::support::http_client();
    let mut served_by_ollama = false;
    for _ in 0..50 {
        let response = http
            .post(served.url("/v1/chat/completions"))
            .json(&crate::support::chat_body("ollama/mock-model"))
            .send()
            .await
            .unwrap();
        if response.status().is_success() {
            served_by_ollama = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served_by_ollama, "the new alias never answered");
    assert!(ollama
        .received()
        .iter()
        .any(|r| r.path == "/v1/chat/completions" && r.body["model"] == "mock-model"));

    // Again: nothing new to add, nothing written.
    let out = run(
        dir.path(),
        &config,
        &["discover", "--add", "--ports", &ports],
        &[],
    )
    .await;
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("nothing to add"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), written);
    served.stop().await;
}

#[tokio::test]
async fn first_run_default_config_mentions_the_servers_found() {
    let ollama = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fresh/config.toml");
    let mut command = switchboard(dir.path());
    command.env(
        "SWITCHBOARD_DISCOVER_PORTS",
        format!("ollama={}", ollama.addr.port()),
    );
    let served = Served::start_command(command, &config, &dir.path().join("log.db")).await;
    let written = std::fs::read_to_string(&config).unwrap();
    assert!(
        written.contains(&format!(
            "#   Ollama at http://127.0.0.1:{}/v1: mock-model",
            ollama.addr.port()
        )),
        "{written}"
    );
    assert!(
        written.contains("`switchboard discover --add` adds them"),
        "{written}"
    );
    assert!(
        served.stderr().contains("found Ollama at"),
        "{}",
        served.stderr()
    );
    // The note is a comment: the default config serves as it always does.
    let models: Value = crate::support::http_client()
        .get(served.url("/v1/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(models["data"][0]["id"], "demo", "{models}");
    served.stop().await;
}

#[tokio::test]
async fn connect_writes_a_client_file_with_a_diff_and_a_backup_that_reaches_the_gateway() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, render_config(BASE_CONFIG, &mock.base_url())).unwrap();
    let served = Served::start(dir.path(), &config, &dir.path().join("log.db")).await;
    let url = served.url("");

    // Printed: nothing written.
    let out = run(
        dir.path(),
        &config,
        &["connect", "codex", "--url", &url],
        &[],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let toml_text: String = printed
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let codex: toml::Table = toml::from_str(&toml_text).unwrap();
    assert_eq!(
        codex["model"].as_str(),
        Some("local/chat"),
        "the first alias"
    );
    assert_eq!(
        codex["model_providers"]["switchboard"]["base_url"].as_str(),
        Some(format!("{url}/v1").as_str())
    );
    assert!(!dir.path().join(".codex/config.toml").exists());

    // Written over an existing file: a diff, a backup of the old file, the merged new one.
    let opencode = dir.path().join(".config/opencode/opencode.json");
    std::fs::create_dir_all(opencode.parent().unwrap()).unwrap();
    let old = "{\n  \"theme\": \"dark\"\n}\n";
    std::fs::write(&opencode, old).unwrap();
    let out = run(
        dir.path(),
        &config,
        &["connect", "opencode", "-m", "local/chat", "--write"],
        &[
            ("SWITCHBOARD_URL", &url),
            ("SWITCHBOARD_TOKEN", "sb-test-token"),
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    assert!(shown.contains("+     \"switchboard\": {"), "{shown}");
    assert!(shown.contains("  \"theme\": \"dark\""), "{shown}");
    assert!(
        shown.contains("export SWITCHBOARD_TOKEN=sb-test-token"),
        "{shown}"
    );
    // A timestamped copy next to the file, named in the output.
    let backup = std::fs::read_dir(opencode.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("opencode.json.switchboard-backup-"))
        })
        .expect("a backup");
    assert!(
        shown.contains(&format!("backed up the old file to {}", backup.display())),
        "{shown}"
    );
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), old);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&opencode).unwrap()).unwrap();
    assert_eq!(written["theme"], "dark");
    assert_eq!(written["model"], "switchboard/local/chat");
    assert_eq!(
        written["provider"]["switchboard"]["options"]["apiKey"],
        "{env:SWITCHBOARD_TOKEN}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&opencode).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "mode {mode:o}");
    }

    // The base URL it wrote is the gateway's: its model list has the alias.
    let base = written["provider"]["switchboard"]["options"]["baseURL"]
        .as_str()
        .unwrap();
    let models: Value = crate::support::http_client()
        .get(format!("{base}/models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(models["data"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "local/chat"));

    // Again: nothing changes.
    let out = run(
        dir.path(),
        &config,
        &[
            "connect",
            "opencode",
            "-m",
            "local/chat",
            "--write",
            "--url",
            &url,
            "--token",
            "sb-test-token",
        ],
        &[],
    )
    .await;
    assert!(
        text(&out.stdout).contains("already has this setup"),
        "{}",
        text(&out.stdout)
    );

    let out = run(dir.path(), &config, &["connect", "vim"], &[]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("one of: opencode, claude, codex, continue, zed, aider"));
    served.stop().await;
}
