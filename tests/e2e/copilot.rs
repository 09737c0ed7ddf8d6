//! `kind = "github_copilot"` end to end against a mock GitHub and Copilot API: the device-flow
//! login of the real binary, the token exchange, a chat completion and a stream through
//! `switchboard serve` with Copilot's headers, the refresh ahead of expiry, and a revoked
//! GitHub token marking the target misconfigured with the login hint.

use std::time::Duration;

use mock_upstream::copilot::{MockCopilot, GITHUB_TOKEN};
use serde_json::{json, Value};

use crate::support::{eventually, http_client, joined_content, read_sse, Served};

/// The last chat completion Copilot got (the gateway also reads `/models` after each token).
fn last_chat(mock: &MockCopilot) -> mock_upstream::Received {
    mock.received()
        .into_iter()
        .rev()
        .find(|r| r.path == "/copilot/chat/completions")
        .unwrap()
}

fn header<'a>(r: &'a mock_upstream::Received, name: &str) -> &'a str {
    r.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copilot_login_exchange_refresh_and_revocation() {
    // 63 s tokens: refreshed 60 s before expiry, so about every 3 s.
    let mock = MockCopilot::start(63).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let token_file = home.join("secrets/github_copilot.token");
    let config = home.join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"listen = "127.0.0.1:0"

[providers.copilot]
kind = "github_copilot"
github_url = "{}"
api_key = "file:{}"

[aliases.cop]
targets = ["copilot/gpt-4o"]
"#,
            mock.github_url(),
            token_file.display()
        ),
    )
    .unwrap();

    // Login: one authorization_pending, one slow_down (+5 s), then granted; no TTY.
    let output = tokio::time::timeout(
        Duration::from_secs(40),
        crate::support::switchboard(home)
            .arg("--config")
            .arg(&config)
            .arg("login")
            .arg("copilot")
            .output(),
    )
    .await
    .expect("login finishes")
    .expect("login runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "login failed: {stdout} {stderr}");
    assert!(stdout.contains("ABCD-1234") && stdout.contains("https://github.com/login/device"));
    assert!(!stdout.contains(GITHUB_TOKEN) && !stderr.contains(GITHUB_TOKEN));
    let polls = mock.polls();
    assert_eq!(polls.len(), 3, "pending, slow_down, granted");
    assert!(
        polls[2] - polls[1] >= Duration::from_secs(6),
        "slow_down adds 5 s to the 1 s interval: {:?}",
        polls[2] - polls[1]
    );
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap().trim(),
        GITHUB_TOKEN
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    let served = Served::start(home, &config, &home.join("db.sqlite")).await;
    let http = http_client();
    let chat = |body: Value, id: &'static str| {
        let request = http
            .post(served.url("/v1/chat/completions"))
            .header("x-correlation-id", id)
            .json(&body);
        async move { request.send().await.unwrap() }
    };

    let response = chat(
        json!({"model": "cop", "messages": [{"role": "user", "content": "hi"}]}),
        "corr-one",
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "hello from copilot"
    );
    assert_eq!(mock.exchanges(), 1);
    let first = last_chat(&mock);
    assert_eq!(first.path, "/copilot/chat/completions");
    assert_eq!(header(&first, "authorization"), "Bearer tid=mock1;exp=x");
    // The new token's `/models` (context windows) is read in the background, with that token.
    assert!(
        eventually(Duration::from_secs(5), || std::future::ready(
            mock.received().iter().any(|r| r.path == "/copilot/models"
                && header(r, "authorization") == "Bearer tid=mock1;exp=x")
        ))
        .await,
        "/models read after the first exchange"
    );
    assert_eq!(header(&first, "copilot-integration-id"), "vscode-chat");
    assert!(header(&first, "editor-version").starts_with("vscode/"));
    assert!(header(&first, "editor-plugin-version").starts_with("copilot-chat/"));
    assert!(header(&first, "user-agent").starts_with("GitHubCopilotChat/"));
    assert_eq!(header(&first, "openai-intent"), "conversation-panel");
    assert!(!header(&first, "x-github-api-version").is_empty());
    assert_eq!(header(&first, "x-request-id"), "corr-one");
    assert_eq!(header(&first, "x-initiator"), "user");
    assert_eq!(header(&first, "copilot-vision-request"), "");

    // A tool-loop follow-up with an image, streamed.
    let response = chat(
        json!({"model": "cop", "stream": true, "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "what is in it?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
            ]},
            {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function",
                "function": {"name": "look", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "a cat"}
        ]}),
        "corr-two",
    )
    .await;
    assert_eq!(response.status(), 200);
    let (events, _) = read_sse(response).await;
    assert_eq!(joined_content(&events), "hello from copilot");
    let second = last_chat(&mock);
    assert_eq!(header(&second, "x-initiator"), "agent");
    assert_eq!(header(&second, "copilot-vision-request"), "true");
    assert_eq!(header(&second, "x-request-id"), "corr-two");

    // Refreshed ahead of expiry with no request waiting on it.
    assert!(
        eventually(Duration::from_secs(10), || std::future::ready(
            mock.exchanges() >= 2
        ))
        .await,
        "the token was refreshed in the background"
    );
    // The mock counts the exchange when it answers; the gateway swaps the token a moment later,
    // so requests are sent until one carries the new token (a request in between may not).
    assert!(
        eventually(Duration::from_secs(5), || async {
            let response = chat(
                json!({"model": "cop", "messages": [{"role": "user", "content": "again"}]}),
                "corr-three",
            )
            .await;
            response.status() == 200
                && header(&last_chat(&mock), "authorization") != "Bearer tid=mock1;exp=x"
        })
        .await,
        "requests after the background refresh carry the new token"
    );

    // The GitHub token is revoked: misconfigured, with the way out, and no retry loop.
    mock.revoke();
    let response = chat(
        json!({"model": "cop", "messages": [{"role": "user", "content": "still there?"}]}),
        "corr-four",
    )
    .await;
    assert!(response.status().is_server_error() || response.status().is_client_error());
    let text = response.text().await.unwrap();
    assert!(
        text.contains("switchboard login copilot"),
        "the error says how to fix it: {text}"
    );
    assert!(!text.contains(GITHUB_TOKEN));
    let health: Value = http
        .get(served.url("/health"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let state = health["targets"]
        .as_array()
        .and_then(|ts| ts.iter().find(|t| t["target"] == "copilot/gpt-4o"))
        .map(|t| t["state"].clone());
    assert_eq!(state, Some(json!("misconfigured")), "{health}");
    let exchanges = mock.exchanges();
    // Part of the scenario: no new exchange may start for a while after the refusal.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        mock.exchanges(),
        exchanges,
        "no exchange loop after a refusal"
    );
    assert!(!served.stderr().contains(GITHUB_TOKEN));
}
