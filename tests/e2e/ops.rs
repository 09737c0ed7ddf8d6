//! Operator commands against a real `switchboard serve` and the mock upstream: `ask`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use mock_upstream::{MockConfig, MockUpstream};
use tokio::io::AsyncWriteExt;

use crate::support::{render_config, switchboard, Served, BASE_CONFIG};

/// `switchboard --config CONFIG ARGS...` with `stdin` piped in (when given).
async fn run(
    home: &Path,
    config: &Path,
    args: &[&str],
    stdin: Option<&str>,
) -> std::process::Output {
    let mut command = switchboard(home);
    command.arg("--config").arg(config).args(args);
    command
        .env_remove("SWITCHBOARD_URL")
        .env_remove("SWITCHBOARD_TOKEN");
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command.spawn().expect("switchboard runs");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin piped");
        pipe.write_all(text.as_bytes()).await.unwrap();
        drop(pipe);
    }
    tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("finishes within 30 s")
        .expect("output")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn ask_streams_lists_models_and_fails_loudly() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let extra = r#"
[providers.down]
kind = "openai"
base_url = "{closed}"
timeouts = { connect_s = 1, first_byte_s = 2, idle_s = 2, total_s = 5 }

[aliases."broken"]
targets = ["down/nothing"]
"#;
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        render_config(&format!("{BASE_CONFIG}\n{extra}"), &mock.base_url()),
    )
    .unwrap();
    let served = Served::start(dir.path(), &config, &dir.path().join("log.db")).await;
    let url = served.url("");

    let out = run(
        dir.path(),
        &config,
        &["ask", "--url", &url, "--list-models"],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let models = text(&out.stdout);
    assert!(models.lines().any(|l| l == "local/chat"), "{models}");
    assert!(models.lines().any(|l| l == "broken"), "{models}");

    // Streamed: the mock's chunks, joined, then a newline.
    let out = run(
        dir.path(),
        &config,
        &[
            "ask",
            "--url",
            &url,
            "-m",
            "local/chat",
            "-s",
            "be brief",
            "hello",
        ],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "tok0 tok1 tok2 tok3 tok4 \n");
    let sent = mock.received().last().unwrap().body.clone();
    assert_eq!(sent["messages"][0]["role"], "system");
    assert_eq!(sent["messages"][0]["content"], "be brief");
    assert_eq!(sent["stream"], true);

    // Piped stdin becomes context after the prompt; the URL comes from SWITCHBOARD_URL.
    let mut command = switchboard(dir.path());
    command
        .arg("--config")
        .arg(&config)
        .args(["ask", "--json", "-m", "local/chat", "review this"])
        .env("SWITCHBOARD_URL", &url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let mut pipe = child.stdin.take().unwrap();
    pipe.write_all(b"fn main() {}\n").await.unwrap();
    drop(pipe);
    let out = child.wait_with_output().await.unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let raw: serde_json::Value = serde_json::from_slice(&out.stdout).expect("--json prints JSON");
    assert!(raw["choices"][0]["message"]["content"].is_string(), "{raw}");
    let sent = mock.received().last().unwrap().body.clone();
    assert_eq!(
        sent["messages"][0]["content"],
        "review this\n\nfn main() {}"
    );
    assert_eq!(sent["stream"], false);

    // A down backend: non-zero exit, the gateway's summary on stderr, nothing on stdout.
    let out = run(
        dir.path(),
        &config,
        &["ask", "--url", &url, "-m", "broken", "hi"],
        None,
    )
    .await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("`broken`") && err.contains("error: "), "{err}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));

    // Nothing listening: a plain "cannot reach".
    let closed = crate::support::closed_port_url();
    let out = run(
        dir.path(),
        &config,
        &["ask", "--url", &closed, "-m", "x", "hi"],
        None,
    )
    .await;
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot reach"),
        "{}",
        text(&out.stderr)
    );
    served.stop().await;
}

/// `service install --dry-run` renders the unit for this binary and config without touching the
/// system; `systemd-analyze verify` accepts it where systemd is installed.
#[tokio::test]
async fn service_install_dry_run_renders_a_unit_systemd_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, render_config(BASE_CONFIG, "http://127.0.0.1:9/v1")).unwrap();
    let out = run(
        dir.path(),
        &config,
        &["service", "install", "--user", "--dry-run"],
        None,
    )
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let printed = text(&out.stdout);
    let unit_path = dir.path().join(".config/systemd/user/switchboard.service");
    assert!(!unit_path.exists(), "--dry-run wrote nothing");
    if !cfg!(target_os = "linux") {
        return;
    }
    assert!(
        printed.contains(&format!("# would write {}", unit_path.display())),
        "{printed}"
    );
    assert!(
        printed.contains("# would run: systemctl --user enable --now switchboard.service"),
        "{printed}"
    );
    let unit: String = printed
        .lines()
        .filter(|l| !l.starts_with("# would"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(
        unit.contains(&format!("--config \"{}\" serve", config.display())),
        "{unit}"
    );
    for directive in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "PrivateTmp=yes",
        "Restart=on-failure",
    ] {
        assert!(unit.lines().any(|l| l == directive), "{directive}:\n{unit}");
    }
    let Ok(which) = std::process::Command::new("systemd-analyze")
        .arg("--version")
        .output()
    else {
        eprintln!("skipped systemd-analyze verify: systemd-analyze is not installed");
        return;
    };
    assert!(which.status.success());
    let file = dir.path().join("switchboard.service");
    std::fs::write(&file, &unit).unwrap();
    let verify = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&file)
        .output()
        .unwrap();
    let complaints = text(&verify.stderr);
    assert!(
        verify.status.success() && !complaints.contains("switchboard.service:"),
        "systemd-analyze verify:\n{complaints}\n{unit}"
    );
}
