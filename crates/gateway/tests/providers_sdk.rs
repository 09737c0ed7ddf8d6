//! Real SDK clients against the gateway, through one alias per backend kind (OpenAI-compatible,
//! Anthropic, Gemini), each backend a mock speaking its own wire format over TCP: the official
//! `openai` Python SDK and `openai` Node SDK on /v1/chat/completions, the official `anthropic`
//! Python SDK on the Anthropic ingress (/v1/messages). Each does a tool-call round trip
//! (parallel calls, results back, final answer), streaming and not.
//!
//! Needs `SWITCHBOARD_PYTHON` (a python with `openai` and `anthropic` installed) and
//! `SWITCHBOARD_NODE` (node, with `npm ci` run in tests/node). Missing ones fail the test with
//! what to do; nothing is skipped.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

mod providers_support;

use std::path::Path;
use std::process::Stdio;

use providers_support::{repo_root, Harness, UPSTREAM_KEY};

const ALIASES: &str = "[aliases.\"via/openai\"]\ntargets = [\"oa/gpt-mock\"]\n\
                       [aliases.\"via/anthropic\"]\ntargets = [\"an/claude-mock\"]\n\
                       [aliases.\"via/gemini\"]\ntargets = [\"ge/gemini-mock\"]\n";
const ALIAS_NAMES: [&str; 3] = ["via/openai", "via/anthropic", "via/gemini"];

fn interpreter(var: &str, how: &str) -> String {
    match std::env::var(var) {
        Ok(path) if !path.is_empty() => path,
        _ => panic!("set {var}: {how}"),
    }
}

async fn run(program: &str, script: &Path, cwd: &Path, base: &str) -> (bool, String) {
    let output = tokio::process::Command::new(program)
        .arg(script)
        .arg(base)
        .args(ALIAS_NAMES)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = format!(
        "{} {}:\nstdout:\n{}\nstderr:\n{}",
        program,
        script.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn check_packages(python: &str, node: &str, root: &Path) {
    let py = std::process::Command::new(python)
        .args(["-c", "import openai, anthropic"])
        .output()
        .unwrap_or_else(|e| panic!("SWITCHBOARD_PYTHON={python} does not run: {e}"));
    assert!(
        py.status.success(),
        "SWITCHBOARD_PYTHON={python} lacks the SDKs; run: {python} -m pip install openai==3.54.0 anthropic==2.12.0 ({})",
        String::from_utf8_lossy(&py.stderr).trim()
    );
    assert!(
        root.join("tests/node/node_modules/openai").is_dir(),
        "the OpenAI Node SDK is not installed; run: npm ci --prefix {}",
        root.join("tests/node").display()
    );
    let version = std::process::Command::new(node)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("SWITCHBOARD_NODE={node} does not run: {e}"));
    assert!(
        version.status.success(),
        "SWITCHBOARD_NODE={node} does not run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_clients_round_trip_tools_through_every_backend_kind() {
    let python = interpreter(
        "SWITCHBOARD_PYTHON",
        "a python with the SDKs, e.g. ~/.cache/switchboard/venv/bin/python (scripts/bootstrap.sh test creates it)",
    );
    let node = interpreter(
        "SWITCHBOARD_NODE",
        "the node binary, e.g. $(command -v node)",
    );
    let root = repo_root();
    check_packages(&python, &node, &root);

    let h = Harness::start(ALIASES, "").await;
    let py_openai_script = root.join("tests/python/openai_roundtrip.py");
    let py_anthropic_script = root.join("tests/python/anthropic_roundtrip.py");
    let node_script = root.join("tests/node/openai_roundtrip.mjs");
    let node_dir = root.join("tests/node");
    let (py_openai, py_anthropic, node_openai) = tokio::join!(
        run(&python, &py_openai_script, &root, &h.base),
        run(&python, &py_anthropic_script, &root, &h.base),
        run(&node, &node_script, &node_dir, &h.base),
    );
    for (ok, text) in [&py_openai, &py_anthropic, &node_openai] {
        assert!(*ok, "{text}");
        for alias in ALIAS_NAMES {
            assert!(text.contains(&format!("ok {alias}")), "{text}");
        }
    }

    // The clients' keys never reached a backend; the gateway's own did.
    let received = h.mock().received();
    assert!(received.len() >= 30, "{}", received.len());
    for r in &received {
        let auth = r.headers.get("authorization").and_then(|v| v.to_str().ok());
        let x_api_key = r.headers.get("x-api-key").and_then(|v| v.to_str().ok());
        let goog = r
            .headers
            .get("x-goog-api-key")
            .and_then(|v| v.to_str().ok());
        if r.path.starts_with("/v1/messages") {
            assert_eq!(x_api_key, Some(UPSTREAM_KEY), "{}", r.path);
            assert_eq!(auth, None, "{}", r.path);
            assert_eq!(
                r.headers
                    .get("anthropic-version")
                    .and_then(|v| v.to_str().ok()),
                Some("2023-06-01")
            );
        } else if r.path.starts_with("/v1beta/") {
            assert_eq!(goog, Some(UPSTREAM_KEY), "{}", r.path);
            assert_eq!((auth, x_api_key), (None, None), "{}", r.path);
        } else {
            assert_eq!(
                auth,
                Some(format!("Bearer {UPSTREAM_KEY}").as_str()),
                "{}",
                r.path
            );
            assert_eq!(x_api_key, None, "{}", r.path);
        }
    }
    h.stop().await;
}
