//! The official OpenAI Python SDK against the gateway (tests/python/test_openai_sdk.py).
//!
//! The interpreter comes from SWITCHBOARD_PYTHON (default `python3`) and must have the `openai`
//! package: the test command (`make test`, i.e. scripts/test.sh) installs it in a virtualenv and
//! sets SWITCHBOARD_PYTHON. Without it this test fails; it never skips.

use std::path::Path;
use std::time::Duration;

use crate::support::Gw;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/python/test_openai_sdk.py"
);

fn python() -> String {
    std::env::var("SWITCHBOARD_PYTHON")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "python3".to_owned())
}

/// A Python child with no proxy or OpenAI settings leaking in from the environment.
fn python_command(python: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(python);
    for var in [
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        command.env_remove(var);
    }
    command
        .env("NO_PROXY", "*")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_python_sdk_talks_to_the_gateway() {
    let python = python();
    let probe = python_command(&python)
        .args(["-c", "import openai; print(openai.__version__)"])
        .output()
        .await;
    match probe {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "the OpenAI Python SDK is not importable with `{python}` (SWITCHBOARD_PYTHON): {}\n\
             Run the test command, `make test` (scripts/test.sh), which installs it in a \
             virtualenv and points SWITCHBOARD_PYTHON at it.",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(e) => panic!(
            "cannot run `{python}` (SWITCHBOARD_PYTHON): {e}\n\
             Run the test command, `make test` (scripts/test.sh), which installs Python and the \
             OpenAI SDK and points SWITCHBOARD_PYTHON at them."
        ),
    }
    assert!(Path::new(SCRIPT).exists(), "{SCRIPT} is missing");

    let gw = Gw::start(
        r#"
[aliases.limited]
targets = ["mock/fail-429"]
retries = { attempts = 1 }

[aliases.broken]
targets = ["mock/break-stream"]
"#,
    )
    .await;
    let run = python_command(&python)
        .arg(SCRIPT)
        .arg(gw.url("/v1"))
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the SDK script finishes within 90 s")
        .expect("the SDK script runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the OpenAI SDK script failed ({}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        output.status
    );
    assert!(stdout.contains("0 failed"), "{stdout}");

    // The SDK's requests really went through to the backend.
    let received = gw.mock().received();
    assert!(
        received.len() >= 7,
        "the mock saw {} requests",
        received.len()
    );
    assert!(received
        .iter()
        .any(|r| r.body["stream_options"]["include_usage"] == true));
}
