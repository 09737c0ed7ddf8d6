//! `switchboard import litellm` end to end: a LiteLLM config mixing OpenAI, Anthropic, Gemini,
//! Z.AI and GitHub Copilot models plus a master key becomes a config that `switchboard check`
//! accepts and that serves every alias to the official OpenAI Python SDK with the old master key;
//! and `--from-url` reads a running LiteLLM's `/model/info` (a mock LiteLLM here).

use std::path::Path;
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use mock_upstream::{MockConfig, MockUpstream};

use crate::support::{run_check, switchboard, Served};

const MASTER_KEY: &str = "sk-litellm-master-e2e-0123456789";
const VIRTUAL_KEY: &str = "sk-virtual-key-of-ci-9876543210";

/// `switchboard import litellm ARGS...` with `envs`, its exit status, stdout and stderr.
async fn run_import(home: &Path, args: &[&str], envs: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = switchboard(home);
    command.args(["import", "litellm"]).args(args);
    for (k, v) in envs {
        command.env(k, v);
    }
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("import finishes within 30 s")
        .expect("switchboard import runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn python() -> String {
    std::env::var("SWITCHBOARD_PYTHON")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "python3".to_owned())
}

/// Calls each alias (plain and streamed) with the master key, then once with a wrong key.
const SDK_SCRIPT: &str = r#"
import sys, openai
base, key, aliases = sys.argv[1], sys.argv[2], sys.argv[3:]
client = openai.OpenAI(base_url=base, api_key=key, max_retries=0)
messages = [{"role": "user", "content": "Say hello"}]
for alias in aliases:
    reply = client.chat.completions.create(model=alias, messages=messages)
    assert reply.choices[0].message.content, alias
    stream = client.chat.completions.create(model=alias, messages=messages, stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text, alias
    print("served", alias)
wrong = openai.OpenAI(base_url=base, api_key="sk-not-the-master-key", max_retries=0)
try:
    wrong.chat.completions.create(model=aliases[0], messages=messages)
    print("wrong key accepted")
except openai.AuthenticationError:
    print("wrong key refused")
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_litellm_config_serves_every_alias_to_clients_keeping_their_master_key() {
    let mock = MockUpstream::start(MockConfig::default())
        .await
        .expect("mock upstream starts");
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let litellm = format!(
        r#"model_list:
  - model_name: gpt-4o
    litellm_params:
      model: openai/gpt-4o-mini
      api_base: {openai}
      api_key: os.environ/OPENAI_API_KEY
      rpm: 600
  - model_name: claude-sonnet
    litellm_params:
      model: anthropic/claude-sonnet-4-5
      api_base: {anthropic}
      api_key: os.environ/ANTHROPIC_API_KEY
      max_tokens: 1024
  - model_name: gemini-flash
    litellm_params:
      model: gemini/gemini-2.5-flash
      api_base: {gemini}
      api_key: os.environ/GEMINI_API_KEY
  - model_name: glm
    litellm_params:
      model: zai/glm-4.6
      api_base: {openai}
      api_key: os.environ/ZAI_API_KEY
  - model_name: copilot-gpt
    litellm_params:
      model: github_copilot/gpt-4.1
litellm_settings:
  drop_params: true
general_settings:
  master_key: os.environ/LITELLM_MASTER_KEY
"#,
        openai = mock.base_url(),
        anthropic = mock.anthropic_base_url(),
        gemini = mock.gemini_base_url(),
    );
    let yaml_path = home.join("litellm.yaml");
    std::fs::write(&yaml_path, litellm).unwrap();
    let out = home.join("switchboard.toml");
    // A virtual key as LiteLLM's database holds it: the SHA-256 of the client's sk- key.
    let keys_path = home.join("keys.json");
    std::fs::write(
        &keys_path,
        format!(
            r#"[{{"token": "{}", "key_alias": "ci", "models": ["gpt-4o"], "rpm_limit": 100}}]"#,
            switchboard_gateway::hash_token(VIRTUAL_KEY)
        ),
    )
    .unwrap();

    let (ok, _, report) = run_import(
        home,
        &[
            yaml_path.to_str().unwrap(),
            "--keys",
            keys_path.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        &[("LITELLM_MASTER_KEY", MASTER_KEY)],
    )
    .await;
    assert!(ok, "import failed:\n{report}");
    let toml = std::fs::read_to_string(&out).unwrap();
    assert!(!toml.contains(MASTER_KEY) && !report.contains(MASTER_KEY));
    assert!(
        toml.contains("kind = \"anthropic\"") && toml.contains("kind = \"gemini\""),
        "{toml}"
    );
    assert!(toml.contains("kind = \"github_copilot\""), "{toml}");
    assert!(report.contains("switchboard login copilot"), "{report}");

    let check = run_check(home, &out).await;
    assert!(
        check.status.success(),
        "switchboard check refused the imported config:\n{}\n{toml}",
        String::from_utf8_lossy(&check.stderr)
    );

    let mut command = switchboard(home);
    for (var, value) in [
        ("OPENAI_API_KEY", "openai-test-key"),
        ("ANTHROPIC_API_KEY", "anthropic-test-key"),
        ("GEMINI_API_KEY", "gemini-test-key"),
        ("ZAI_API_KEY", "zai-test-key"),
    ] {
        command.env(var, value);
    }
    let served = Served::start_command(command, &out, &home.join("requests.db")).await;

    let script = home.join("sdk_import.py");
    std::fs::write(&script, SDK_SCRIPT).unwrap();
    let aliases = ["gpt-4o", "claude-sonnet", "gemini-flash", "glm"];
    let run = tokio::process::Command::new(python())
        .arg(&script)
        .arg(served.url("/v1"))
        .arg(MASTER_KEY)
        .args(aliases)
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env("NO_PROXY", "*")
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("the SDK script finishes within 90 s")
        .expect("the SDK script runs (SWITCHBOARD_PYTHON with the openai package)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "SDK script failed:\n{stdout}\n{}\n--- gateway\n{}",
        String::from_utf8_lossy(&output.stderr),
        served.stderr()
    );
    for alias in aliases {
        assert!(stdout.contains(&format!("served {alias}\n")), "{stdout}");
    }
    assert!(stdout.contains("wrong key refused"), "{stdout}");

    // The virtual key works as it did in LiteLLM: on its own models only.
    let http = crate::support::http_client();
    let call = |model: &str| {
        http.post(served.url("/v1/chat/completions"))
            .bearer_auth(VIRTUAL_KEY)
            .json(&serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    };
    assert_eq!(call("gpt-4o").await.unwrap().status(), 200);
    assert_eq!(call("claude-sonnet").await.unwrap().status(), 403);

    // Each alias reached its backend in that backend's own protocol, with its own key.
    let received = mock.received();
    let header = |r: &mock_upstream::Received, name: &str| {
        r.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(received.iter().any(
        |r| r.path.ends_with("/v1/messages") && header(r, "x-api-key") == "anthropic-test-key"
    ));
    assert!(received.iter().any(|r| r.path.contains("gemini-2.5-flash:")
        && header(r, "x-goog-api-key") == "gemini-test-key"));
    assert!(received.iter().any(
        |r| r.body["model"] == "glm-4.6" && header(r, "authorization") == "Bearer zai-test-key"
    ));
    assert!(received.iter().any(|r| r.body["model"] == "gpt-4o-mini"
        && header(r, "authorization") == "Bearer openai-test-key"));
    // The client's master key never went upstream.
    assert!(received
        .iter()
        .all(|r| !format!("{:?}", r.headers).contains(MASTER_KEY)));
}

/// A mock LiteLLM: `/model/info` as LiteLLM answers it, for its master key only.
async fn mock_litellm() -> (String, tokio::task::JoinHandle<()>) {
    const BODY: &str = r#"{"data": [
      {"model_name": "gpt-4o", "litellm_params": {"model": "openai/gpt-4o", "use_in_pass_through": false},
       "model_info": {"id": "cfg-1", "db_model": false, "max_input_tokens": 128000, "mode": "chat"}},
      {"model_name": "seeded-glm", "litellm_params": {"model": "zai/glm-4.6", "tpm": 100000, "use_in_pass_through": false},
       "model_info": {"id": "db-1", "db_model": true, "max_input_tokens": 200000}},
      {"model_name": "seeded-claude", "litellm_params": {"model": "anthropic/claude-haiku-4-5", "rpm": 50},
       "model_info": {"id": "db-2", "db_model": true}}
    ]}"#;
    async fn model_info(headers: HeaderMap) -> axum::response::Response {
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if auth != format!("Bearer {MASTER_KEY}") {
            return (StatusCode::UNAUTHORIZED, "{\"error\": \"invalid key\"}").into_response();
        }
        ([("content-type", "application/json")], BODY).into_response()
    }
    let app = axum::Router::new().route("/model/info", axum::routing::get(model_info));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn import_from_a_running_litellm_reads_its_database_models() {
    let (url, task) = mock_litellm().await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let yaml_path = home.join("litellm.yaml");
    std::fs::write(
        &yaml_path,
        "model_list:\n  - model_name: gpt-4o\n    litellm_params:\n      model: openai/gpt-4o\n      api_key: os.environ/OPENAI_API_KEY\n",
    )
    .unwrap();
    let out = home.join("switchboard.toml");
    let env = [("LITELLM_MASTER_KEY", MASTER_KEY)];

    let (ok, _, report) = run_import(
        home,
        &[
            "--from-url",
            &url,
            "--master-key",
            "env:LITELLM_MASTER_KEY",
            yaml_path.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
        &env,
    )
    .await;
    assert!(ok, "import failed:\n{report}");
    let toml = std::fs::read_to_string(&out).unwrap();
    assert!(!toml.contains(MASTER_KEY) && !report.contains(MASTER_KEY));
    let config = switchboard_gateway::config::load_file(&out).expect("imported config loads");
    // The file's gpt-4o (listed again by LiteLLM) once; the two database models added.
    assert_eq!(config.aliases["gpt-4o"].targets.len(), 1);
    assert_eq!(
        config.aliases["seeded-glm"].targets[0].label(),
        "zai/glm-4.6"
    );
    assert_eq!(
        config.aliases["seeded-claude"].targets[0].limits.rpm,
        Some(50)
    );
    assert_eq!(
        config.tokens["litellm-master-key"].hash,
        switchboard_gateway::hash_token(MASTER_KEY)
    );
    assert!(report.contains("2 of the 3 models"), "{report}");
    let check = run_check(home, &out).await;
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    // A wrong master key: LiteLLM refuses, the import says so and writes nothing.
    let other = home.join("other.toml");
    let (ok, _, stderr) = run_import(
        home,
        &[
            "--from-url",
            &url,
            "--master-key",
            "env:WRONG_KEY",
            "-o",
            other.to_str().unwrap(),
        ],
        &[("WRONG_KEY", "sk-wrong")],
    )
    .await;
    assert!(!ok && stderr.contains("refused the master key"), "{stderr}");
    assert!(!other.exists());
    // A literal key is refused before anything is sent.
    let (ok, _, stderr) =
        run_import(home, &["--from-url", &url, "--master-key", MASTER_KEY], &[]).await;
    assert!(!ok && !stderr.contains(MASTER_KEY), "{stderr}");
    task.abort();
}
