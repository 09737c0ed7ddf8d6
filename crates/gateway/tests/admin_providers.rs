//! The providers vertical of the admin API against real mock upstreams: a backend's own model
//! list, "test connection" (healthy, down, refused key, unsaved), discovery on an injected port
//! and its one-step add, the Copilot device login, and keys that are never returned.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

use std::time::Duration;

use mock_upstream::copilot::{MockCopilot, GITHUB_TOKEN};
use serde_json::{json, Value};
use switchboard_test_support::{eventually_with, mock, MockConfig, TestGateway};

const TOKEN: &str = "admin-providers-token";

async fn start(providers: &str) -> (TestGateway, String) {
    let builder = TestGateway::builder();
    let admin = builder.secret("admin.token", TOKEN);
    let text = format!(
        "# hand-written: this comment must survive\nlisten = \"127.0.0.1:0\"\n\n[server]\nadmin_token = \"{admin}\"\n\n{providers}"
    );
    let h = builder
        .mock(MockConfig::default())
        .config(text)
        .start()
        .await;
    (h, TOKEN.to_owned())
}

async fn get(h: &TestGateway, path: &str) -> (u16, Value) {
    let r = h.get(path).bearer_auth(TOKEN).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(h: &TestGateway, path: &str, body: Value) -> (u16, Value) {
    let r = h
        .post(path)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

fn steps(report: &Value) -> Vec<(String, String)> {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["step"].as_str().unwrap().to_owned(),
                s["severity"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_come_from_each_backends_own_list() {
    let (h, _) = start(
        "[providers.local]\nkind = \"openai\"\nbase_url = \"{mock}\"\n\n\
         [providers.claude]\nkind = \"anthropic\"\nbase_url = \"{mock_anthropic}\"\napi_key = \"env:PATH\"\n\n\
         [providers.gem]\nkind = \"gemini\"\nbase_url = \"{mock_gemini}\"\napi_key = \"env:PATH\"\n\n\
         [providers.down]\nkind = \"openai\"\nbase_url = \"{closed}\"\n\n\
         [providers.demo]\nkind = \"demo\"\n\n\
         [aliases.a]\ntargets = [\"local/mock-model\"]\n",
    )
    .await;
    let (status, local) = get(&h, "/admin/providers/local/models").await;
    assert_eq!(status, 200, "{local}");
    assert_eq!(
        local,
        json!({"models": [{"id": "mock-model", "max_input_tokens": null}], "error": null})
    );
    let (_, claude) = get(&h, "/admin/providers/claude/models").await;
    assert_eq!(claude["models"][0]["id"], "mock-model", "{claude}");
    let (_, gem) = get(&h, "/admin/providers/gem/models").await;
    assert_eq!(gem["models"][0]["id"], "gemini-mock", "{gem}");
    let (_, demo) = get(&h, "/admin/providers/demo/models").await;
    assert_eq!(demo["models"][0]["id"], "switchboard-demo");
    // A backend that cannot be read says so, with the provider's name, and lists nothing.
    let (status, down) = get(&h, "/admin/providers/down/models").await;
    assert_eq!(status, 200);
    assert_eq!(down["models"], json!([]));
    let error = down["error"].as_str().unwrap();
    assert!(error.contains("`down`"), "{error}");
    let (status, missing) = get(&h, "/admin/providers/nope/models").await;
    assert_eq!(status, 404, "{missing}");
    // Every route is guarded.
    let unauth = h.get("/admin/providers/local/models").send().await.unwrap();
    assert_eq!(unauth.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_connection_explains_a_down_backend_a_refused_key_and_a_healthy_one() {
    let builder = TestGateway::builder();
    let admin = builder.secret("admin.token", TOKEN);
    let bad = builder.secret("gem.key", "bad-key");
    let good = builder.secret("gem-good.key", "good-key");
    let text = format!(
        "listen = \"127.0.0.1:0\"\n[server]\nadmin_token = \"{admin}\"\n\n\
         [providers.healthy]\nkind = \"openai\"\nbase_url = \"{{mock}}\"\n\n\
         [providers.down]\nkind = \"openai\"\nbase_url = \"{{closed}}\"\n\n\
         [providers.refused]\nkind = \"gemini\"\nbase_url = \"{{mock_gemini}}\"\napi_key = \"{bad}\"\n\n\
         [providers.gem]\nkind = \"gemini\"\nbase_url = \"{{mock_gemini}}\"\napi_key = \"{good}\"\n"
    );
    let h = builder
        .mock(MockConfig::default())
        .config(text)
        .start()
        .await;

    let (status, healthy) = post(&h, "/admin/providers/healthy/test", json!({})).await;
    assert_eq!(status, 200, "{healthy}");
    assert_eq!(healthy["ok"], true, "{healthy}");
    assert_eq!(
        steps(&healthy),
        [
            ("dns".into(), "ok".into()),
            ("tcp".into(), "ok".into()),
            ("http".into(), "ok".into())
        ]
    );
    for s in healthy["steps"].as_array().unwrap() {
        assert!(s["latency_ms"].as_f64().is_some(), "{s}");
    }
    assert!(healthy["steps"][2]["summary"]
        .as_str()
        .unwrap()
        .contains("200 OK"));

    let (_, down) = post(&h, "/admin/providers/down/test", json!({})).await;
    assert_eq!(down["ok"], false);
    assert_eq!(
        steps(&down).last().unwrap(),
        &("tcp".into(), "error".into())
    );
    let tcp = &down["steps"][1];
    assert!(
        tcp["summary"].as_str().unwrap().contains("cannot connect"),
        "{tcp}"
    );
    assert!(
        tcp["fix"].as_str().unwrap().contains("not running"),
        "{tcp}"
    );

    let (_, refused) = post(&h, "/admin/providers/refused/test", json!({})).await;
    assert_eq!(refused["ok"], false, "{refused}");
    let http = refused["steps"].as_array().unwrap().last().unwrap();
    let summary = http["summary"].as_str().unwrap();
    assert!(summary.starts_with("400: the key in `file:"), "{summary}");
    assert!(summary.contains("was refused"), "{summary}");
    assert!(
        http["fix"].as_str().unwrap().contains("replace it"),
        "{http}"
    );
    assert!(
        !refused.to_string().contains("bad-key"),
        "the key is never shown"
    );

    let (_, gem) = post(&h, "/admin/providers/gem/test", json!({})).await;
    assert_eq!(gem["ok"], true, "{gem}");

    // The add dialog tests before saving: the same steps for an entry not in the file.
    let mock_url = h.mock().base_url();
    let (status, unsaved) = post(
        &h,
        "/admin/providers/test",
        json!({"name": "trial", "value": {"kind": "openai", "base_url": mock_url}}),
    )
    .await;
    assert_eq!(status, 200, "{unsaved}");
    assert_eq!(
        (unsaved["provider"].as_str(), unsaved["ok"].as_bool()),
        (Some("trial"), Some(true))
    );
    let (status, invalid) = post(
        &h,
        "/admin/providers/test",
        json!({"value": {"kind": "nonsense"}}),
    )
    .await;
    assert_eq!(status, 422, "{invalid}");
    assert!(!h.config_text().contains("trial"), "testing never writes");
    // A key typed in the dialog (not stored yet) is used for that test only.
    let gemini_url = h.mock().gemini_base_url();
    let with_key = |key: &str| json!({"name": "g", "value": {"kind": "gemini", "base_url": gemini_url, "api_key": "keychain:not-stored-yet"}, "key": key});
    let (_, typed_bad) = post(&h, "/admin/providers/test", with_key("bad-key")).await;
    assert_eq!(typed_bad["ok"], false, "{typed_bad}");
    assert!(!typed_bad.to_string().contains("bad-key"));
    let (_, typed_good) = post(&h, "/admin/providers/test", with_key("typed-key")).await;
    assert_eq!(typed_good["ok"], true, "{typed_good}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_finds_a_server_on_an_injected_port_and_adds_it_keeping_comments() {
    let server = mock(MockConfig::default()).await;
    let port = server.addr.port();
    let (h, _) = start("[providers.demo]\nkind = \"demo\"\n\n# the default alias\n[aliases.demo]\ntargets = [\"demo/switchboard-demo\"]\n").await;
    let before = h.config_text();

    let r = h
        .get(&format!(
            "/admin/discover?ports=ollama={port}&timeout_ms=2000"
        ))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let report: Value = r.json().await.unwrap();
    let base_url = format!("http://127.0.0.1:{port}/v1");
    assert_eq!(report["scanned"], json!([base_url]));
    assert_eq!(
        report["servers"][0]["base_url"],
        base_url.as_str(),
        "{report}"
    );
    assert_eq!(report["servers"][0]["models"], json!(["mock-model"]));
    let proposed: Vec<String> = report["proposed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{}.{}",
                p["section"].as_str().unwrap(),
                p["name"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        proposed,
        [
            "providers.ollama",
            "aliases.ollama/mock-model",
            "aliases.local/chat"
        ]
    );

    // A stale revision writes nothing.
    let entries = json!({"entries": report["proposed"]});
    let stale = h
        .post("/admin/discover/add")
        .bearer_auth(TOKEN)
        .header("if-match", "\"0000\"")
        .json(&entries)
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status().as_u16(), 409);
    assert_eq!(h.config_text(), before);

    let r = h
        .post("/admin/discover/add")
        .bearer_auth(TOKEN)
        .header("if-match", &etag)
        .json(&entries)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let added: Value = r.json().await.unwrap();
    assert_eq!(added["added"].as_array().unwrap().len(), 3, "{added}");
    let text = h.config_text();
    for line in before.lines().filter(|l| l.starts_with('#')) {
        assert!(text.contains(line), "comment `{line}` lost:\n{text}");
    }
    assert!(text.contains(&base_url), "{text}");
    // Live at once: the new alias answers through the found server.
    let answer: Value = h
        .post("/v1/chat/completions")
        .json(&json!({"model": "local/chat", "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        answer["choices"][0]["message"]["content"].is_string(),
        "{answer}"
    );
    // A second scan proposes nothing new: the server is the config's provider now.
    let (_, again) = get(&h, &format!("/admin/discover?ports=ollama={port}")).await;
    assert_eq!(again["servers"][0]["provider"], "ollama");
    assert_eq!(again["proposed"], json!([]));
    let (status, bad) = get(&h, "/admin/discover?ports=ollama").await;
    assert_eq!(status, 400, "{bad}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copilot_logs_in_from_the_admin_api_and_lists_its_models() {
    let github = MockCopilot::start(3600).await.unwrap();
    let builder = TestGateway::builder();
    let admin = builder.secret("admin.token", TOKEN);
    let token_path = builder.dir().join("github.token");
    let text = format!(
        "listen = \"127.0.0.1:0\"\n[server]\nadmin_token = \"{admin}\"\n\n\
         [providers.copilot]\nkind = \"github_copilot\"\ngithub_url = \"{}\"\napi_key = \"file:{}\"\n",
        github.github_url(),
        token_path.display()
    );
    let h = builder.config(text).start().await;

    // Before the login the test says what to do.
    let (_, before) = post(&h, "/admin/providers/copilot/test", json!({})).await;
    assert_eq!(before["ok"], false, "{before}");
    let last = before["steps"].as_array().unwrap().last().unwrap().clone();
    assert!(last["fix"].as_str().unwrap().contains("Log in"), "{last}");

    let (status, login) = post(&h, "/admin/copilot/login", json!({})).await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["user_code"], "ABCD-1234");
    assert_eq!(login["verification_uri"], "https://github.com/login/device");
    assert_eq!(login["state"], "pending");
    let id = login["id"].as_str().unwrap().to_owned();
    let done = eventually_with(
        Duration::from_secs(30),
        || async { get(&h, &format!("/admin/copilot/login/{id}")).await.1 },
        |l| l["state"] != "pending",
    )
    .await
    .unwrap_or_else(|l| panic!("the login did not finish: {l}"));
    assert_eq!(done["state"], "done", "{done}");
    assert_eq!(done["stored_in"], format!("file:{}", token_path.display()));
    assert!(
        !done.to_string().contains(GITHUB_TOKEN),
        "the token is never returned"
    );
    assert_eq!(
        std::fs::read_to_string(&token_path).unwrap().trim(),
        GITHUB_TOKEN
    );
    // RFC 8628's slow_down was honoured: the third poll came at least 5 s after the second.
    let polls = github.polls();
    assert!(polls.len() >= 3 && polls[2] - polls[1] >= Duration::from_secs(5));

    let (_, models) = get(&h, "/admin/providers/copilot/models").await;
    assert_eq!(
        models,
        json!({"models": [{"id": "gpt-4o", "max_input_tokens": 64000}], "error": null})
    );
    let (_, after) = post(&h, "/admin/providers/copilot/test", json!({})).await;
    assert_eq!(after["ok"], true, "{after}");

    let (status, _) = get(&h, "/admin/copilot/login/not-a-login").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copilot_login_without_a_copilot_provider_says_how_to_add_one() {
    let (h, _) = start("[providers.demo]\nkind = \"demo\"\n").await;
    let (status, body) = post(&h, "/admin/copilot/login", json!({})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("kind = \"github_copilot\""));
}

/// Set through the API, listed as present by the same function `switchboard keys list` uses,
/// and never returned by any GET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a Secret Service: scripts/test.sh runs it under dbus-run-session"]
async fn a_key_set_through_the_api_is_seen_and_never_returned() {
    let name = format!("switchboard-test-providers-{}", std::process::id());
    let value = "sk-admin-providers-secret-value";
    let (h, _) = start(&format!(
        "[providers.cloud]\nkind = \"openai\"\nbase_url = \"{{mock}}\"\napi_key = \"keychain:{name}\"\n"
    ))
    .await;
    let r = h
        .request(reqwest::Method::PUT, &format!("/admin/keys/{name}"))
        .bearer_auth(TOKEN)
        .json(&json!({"value": value}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let listed = switchboard_gateway::admin::list_keys(&h.gateway.snapshot().config);
    assert!(
        listed.iter().any(|k| k.name == name && k.present),
        "{listed:?}"
    );
    for path in [
        "/admin/keys".to_owned(),
        "/admin/config".to_owned(),
        "/admin/config/providers".to_owned(),
        "/admin/providers/cloud/models".to_owned(),
    ] {
        let (_, body) = get(&h, &path).await;
        assert!(!body.to_string().contains(value), "{path} returned the key");
    }
    let (_, test) = post(&h, "/admin/providers/cloud/test", json!({})).await;
    assert_eq!(test["ok"], true, "{test}");
    assert!(!test.to_string().contains(value));
    let r = h
        .request(reqwest::Method::DELETE, &format!("/admin/keys/{name}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
}
