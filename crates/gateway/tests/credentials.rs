//! Credentials off the request path: a rotated key file is used within seconds without a
//! restart; Copilot's `/models` windows stand in for `max_input_tokens`; the background tasks
//! (credential refresher, Copilot token refresh) end with the gateway. The admin token is kept
//! read the same way, and `/admin/keys` reports the refresher's last reads.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

use std::path::Path;
use std::time::{Duration, Instant};

use mock_upstream::copilot::{MockCopilot, GITHUB_TOKEN};
use mock_upstream::{MockConfig, MockUpstream};
use serde_json::{json, Value};
use switchboard_gateway::{config, Gateway, GatewayOptions};
use switchboard_test_support::eventually;

fn write_key(path: &Path, value: &str) {
    // Written whole then renamed, as editors and secret managers do.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, value).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::rename(&tmp, path).unwrap();
}

async fn start(dir: &Path, toml: &str) -> Gateway {
    let path = dir.join("config.toml");
    std::fs::write(&path, toml).unwrap();
    let config = config::load_file(&path).unwrap();
    let options = GatewayOptions {
        config_path: Some(path),
        database_path: Some(dir.join("log.db")),
    };
    Gateway::start(config, options).await.unwrap()
}

/// Stops within a bound: a background task that ignored the stop would hang here.
async fn stop(gateway: Gateway) {
    tokio::time::timeout(Duration::from_secs(10), gateway.shutdown())
        .await
        .expect("the gateway's tasks end when it stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_file_is_used_within_seconds_without_a_restart() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("openai.key");
    write_key(&key, "sk-file-one\n");
    let gateway = start(
        dir.path(),
        &format!(
            "[providers.cloud]\nkind = \"openai\"\nbase_url = \"{}\"\napi_key = \"file:{}\"\n\n[aliases.a]\ntargets = [\"cloud/m\"]\n",
            mock.base_url(),
            key.display()
        ),
    )
    .await;
    let server = gateway.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{}/v1/chat/completions", server.local_addr());
    let http = reqwest::Client::new();
    let body = json!({"model": "a", "messages": [{"role": "user", "content": "hi"}]});
    let last_auth = |mock: &MockUpstream| {
        mock.received()
            .last()
            .and_then(|r| r.headers.get("authorization").cloned())
            .map(|v| v.to_str().unwrap_or("").to_owned())
    };

    let status = http.post(&url).json(&body).send().await.unwrap().status();
    assert_eq!(status, 200);
    assert_eq!(last_auth(&mock).as_deref(), Some("Bearer sk-file-one"));

    write_key(&key, "sk-file-two\n");
    let rotated_at = Instant::now();
    let mut seen = None;
    while rotated_at.elapsed() < Duration::from_secs(8) {
        assert_eq!(
            http.post(&url).json(&body).send().await.unwrap().status(),
            200
        );
        if last_auth(&mock).as_deref() == Some("Bearer sk-file-two") {
            seen = Some(rotated_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let seen = seen.expect("the rotated key is used within 8 s");
    assert!(
        seen <= switchboard_gateway::credentials::REFRESH_EVERY + Duration::from_secs(1),
        "picked up after {seen:?}"
    );

    server.stop(Duration::from_secs(1)).await;
    stop(gateway).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copilot_model_windows_stand_in_for_max_input_tokens() {
    let mock = MockCopilot::start(3600).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("github.token");
    write_key(&token, GITHUB_TOKEN);
    let gateway = start(
        dir.path(),
        &format!(
            "[providers.copilot]\nkind = \"github_copilot\"\ngithub_url = \"{}\"\napi_key = \"file:{}\"\n\n[aliases.cop]\ntargets = [\"copilot/gpt-4o\"]\n\n[aliases.set]\ntargets = [{{ model = \"copilot/gpt-4o\", max_input_tokens = 200000 }}]\n",
            mock.github_url(),
            token.display()
        ),
    )
    .await;
    let server = gateway.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = format!("http://{}/v1/chat/completions", server.local_addr());
    let http = reqwest::Client::new();
    let ask = |alias: &str, text: String| {
        let request = http
            .post(&url)
            .json(&json!({"model": alias, "messages": [{"role": "user", "content": text}]}));
        async move { request.send().await.unwrap() }
    };

    // Nothing known before the first token: the request goes through.
    assert_eq!(ask("cop", "hi".into()).await.status(), 200);
    // The first token's refresh task reads `/models` (mock: gpt-4o takes 64000 prompt tokens).
    let window = || {
        gateway
            .snapshot()
            .providers
            .get("copilot")
            .and_then(|p| p.max_input_tokens("gpt-4o"))
    };
    assert!(
        eventually(Duration::from_secs(5), || async {
            window() == Some(64_000)
        })
        .await,
        "window: {:?}",
        window()
    );

    // About 100k tokens: over Copilot's window, under the one the `set` alias configures.
    let long = "word ".repeat(100_000);
    let refused = ask("cop", long.clone()).await;
    assert_eq!(refused.status(), 400);
    let error: Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "context_length_exceeded", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("`copilot/gpt-4o` takes 64000"),
        "{error}"
    );
    assert_eq!(
        ask("set", long).await.status(),
        200,
        "the config's window wins"
    );

    server.stop(Duration::from_secs(1)).await;
    stop(gateway).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_token_is_kept_read_off_the_admin_path_and_keys_list_the_last_reads() {
    let dir = tempfile::tempdir().unwrap();
    let admin = dir.path().join("admin.token");
    let key = dir.path().join("cloud.key");
    write_key(&admin, "adm-one\n");
    write_key(&key, "sk-cloud\n");
    let gateway = start(
        dir.path(),
        &format!(
            "[server]\nadmin_token = \"file:{}\"\n\n\
             [providers.cloud]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key = \"file:{}\"\n\n\
             [providers.other]\nkind = \"openai\"\nbase_url = \"http://127.0.0.1:9/v1\"\napi_key = \"env:SWITCHBOARD_TEST_R16_UNSET\"\n\n\
             [aliases.a]\ntargets = [\"cloud/m\", \"other/m\"]\n",
            admin.display(),
            key.display()
        ),
    )
    .await;
    let server = gateway.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let url = |path: &str| format!("http://{}{path}", server.local_addr());
    let http = reqwest::Client::new();
    let status = |token: &'static str| {
        let (http, url) = (http.clone(), url("/admin/status"));
        async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status("adm-one").await, 200);
    assert_eq!(status("adm-wrong").await, 401);

    // Rotated: the new token opens the admin API within seconds, the old one no longer does.
    write_key(&admin, "adm-two\n");
    assert!(
        eventually(Duration::from_secs(8), || async {
            status("adm-two").await == 200
        })
        .await,
        "the rotated admin token was not picked up"
    );
    assert_eq!(status("adm-one").await, 401);

    // The listing: every reference with the refresher's last read, never a value.
    let keys: Value = http
        .get(url("/admin/keys"))
        .bearer_auth("adm-two")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = keys.to_string();
    assert!(
        !text.contains("adm-two") && !text.contains("sk-cloud"),
        "{text}"
    );
    let entry = |used_by: &str| {
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["used_by"].to_string().contains(used_by))
            .cloned()
            .unwrap_or_else(|| panic!("no key used by {used_by}: {text}"))
    };
    assert_eq!(entry("provider cloud")["present"], true, "{text}");
    assert_eq!(entry("server.admin_token")["present"], true, "{text}");
    let missing = entry("provider other");
    assert_eq!(missing["present"], false, "{text}");
    assert!(
        missing["problem"]
            .as_str()
            .unwrap()
            .contains("SWITCHBOARD_TEST_R16_UNSET"),
        "{text}"
    );

    // Gone: the admin API says why instead of refusing every token alike.
    std::fs::remove_file(&admin).unwrap();
    assert!(
        eventually(Duration::from_secs(8), || async {
            status("adm-two").await == 503
        })
        .await,
        "a vanished admin token file must answer 503 admin_token_unavailable"
    );
    server.stop(Duration::from_secs(1)).await;
    stop(gateway).await;
}
