//! The clients pages' API end to end: every client's setup parses as its format with the real
//! base URL, "set it up for me" (dry run, backup, a parsable result), the token-only second
//! listener, and playground requests tagged as the dashboard in the log.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_gateway::supervisor::{Supervisor, SupervisorOptions};
use switchboard_test_support::{eventually_with, reserve_port, MockConfig, TestDir, TestGateway};

const ADMIN: &str = "clients-admin-token";

/// One HOME for this test binary (set once, before any test reads it): the clients' files
/// go there, never into the real home.
fn home() -> &'static Path {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    HOME.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sb-clients-home-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::env::set_var("HOME", &dir);
        switchboard_client_setup::install();
        dir
    })
}

async fn gateway(extra: &str) -> TestGateway {
    home();
    let builder = TestGateway::builder().mock(MockConfig::default());
    let admin = builder.secret("admin.token", ADMIN);
    builder
        .config(format!(
            "[server]\nadmin_token = \"{admin}\"\n\n[database]\ncapture_bodies = \"all\"\n\n\
             [providers.mock]\nkind = \"openai\"\nbase_url = \"{{mock}}\"\n\n\
             [aliases.chat]\ntargets = [{{ model = \"mock/gpt-mock\", max_input_tokens = 64000 }}]\n\n\
             [aliases.other]\ntargets = [\"mock/other-model\"]\n\n{extra}"
        ))
        .start()
        .await
}

fn admin(gw: &TestGateway, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    gw.request(method, path).bearer_auth(ADMIN)
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The file parsed by its declared format.
fn parse_file(format: &str, content: &str) -> Value {
    match format {
        "json" => serde_json::from_str(content).unwrap(),
        "toml" => serde_json::to_value(toml::from_str::<toml::Table>(content).unwrap()).unwrap(),
        "yaml" => serde_yaml_ng::from_str(content).unwrap(),
        other => panic!("unknown format {other}"),
    }
}

#[tokio::test]
async fn every_clients_setup_parses_as_its_format_with_the_real_base_url() {
    let mut gw = gateway("").await;
    let (status, list) = json_of(
        admin(&gw, reqwest::Method::GET, "/admin/connect")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["base_url"], gw.base);
    let clients: Vec<String> = list["clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    for wanted in [
        "opencode",
        "claude",
        "codex",
        "continue",
        "zed",
        "aider",
        "openwebui",
        "curl",
        "openai-python",
        "openai-js",
        "anthropic-python",
    ] {
        assert!(
            clients.iter().any(|c| c == wanted),
            "{wanted} missing from {clients:?}"
        );
    }
    let v1 = format!("{}/v1", gw.base);
    for client in &clients {
        let (status, setup) = json_of(
            admin(
                &gw,
                reqwest::Method::GET,
                &format!("/admin/connect/{client}?alias=chat&token=sb-given"),
            )
            .send()
            .await
            .unwrap(),
        )
        .await;
        assert_eq!(status, 200, "{client}: {setup}");
        assert_eq!(setup["alias"], "chat");
        let everything = setup.to_string();
        assert!(
            everything.contains(&gw.base) || client == "openwebui",
            "{client} does not name {}: {everything}",
            gw.base
        );
        for var in setup["env"].as_array().unwrap() {
            let name = var["name"].as_str().unwrap();
            assert!(
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{client}: env {name}"
            );
        }
        if let Some(file) = setup["file"].as_object() {
            let parsed = parse_file(
                file["format"].as_str().unwrap(),
                file["content"].as_str().unwrap(),
            );
            let text = parsed.to_string();
            assert!(
                text.contains(&gw.base),
                "{client}'s file has no base URL: {text}"
            );
            match client.as_str() {
                "opencode" => {
                    assert_eq!(parsed["provider"]["switchboard"]["options"]["baseURL"], v1);
                    assert_eq!(
                        parsed["provider"]["switchboard"]["models"]["chat"]["limit"]["context"],
                        64000
                    );
                }
                "claude" => assert_eq!(parsed["env"]["ANTHROPIC_BASE_URL"], gw.base),
                "codex" => {
                    assert_eq!(parsed["model_providers"]["switchboard"]["base_url"], v1);
                    assert_eq!(
                        parsed["model_providers"]["switchboard"]["wire_api"],
                        "responses"
                    );
                    assert_eq!(
                        parsed["model_context_window"], 64000,
                        "Codex learns the context window"
                    );
                }
                "continue" => assert_eq!(parsed["models"][0]["apiBase"], v1),
                "aider" => assert_eq!(parsed["openai-api-base"], v1),
                "zed" => assert_eq!(
                    parsed["language_models"]["openai_compatible"]["Switchboard"]["api_url"],
                    v1
                ),
                _ => {}
            }
        }
        if client == "openwebui" {
            assert!(everything.contains("host.docker.internal"), "{everything}");
        }
    }

    // The curl snippet answers as it is.
    let (_, curl) = json_of(
        admin(&gw, reqwest::Method::GET, "/admin/connect/curl?alias=other")
            .send()
            .await
            .unwrap(),
    )
    .await;
    let command = curl["snippet"]["text"].as_str().unwrap().to_owned();
    let output = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&command)
        .output()
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    assert!(
        answer["choices"][0]["message"]["content"].is_string(),
        "{command}\n{answer}"
    );

    // An unknown client or alias is a 404 that says so.
    let (status, body) = json_of(
        admin(&gw, reqwest::Method::GET, "/admin/connect/vim")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("opencode"),
        "{body}"
    );
    let (status, body) = json_of(
        admin(&gw, reqwest::Method::GET, "/admin/connect/curl?alias=chta")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did you mean `chat`"),
        "{body}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn set_it_up_for_me_shows_a_diff_then_writes_with_a_backup() {
    let mut gw = gateway("").await;
    let opencode = home().join(".config/opencode/opencode.json");
    std::fs::create_dir_all(opencode.parent().unwrap()).unwrap();
    let old = "{\n  \"theme\": \"dark\"\n}\n";
    std::fs::write(&opencode, old).unwrap();

    let write = |client: &str, body: Value| {
        admin(
            &gw,
            reqwest::Method::POST,
            &format!("/admin/connect/{client}/write"),
        )
        .json(&body)
        .send()
    };
    let (status, dry) = json_of(
        write(
            "opencode",
            json!({"alias": "chat", "token": "sb-t", "dry_run": true}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        (dry["changed"].as_bool(), dry["written"].as_bool()),
        (Some(true), Some(false))
    );
    let diff = dry["diff"].as_str().unwrap();
    assert!(
        diff.contains("+     \"switchboard\": {") && diff.contains("  \"theme\": \"dark\""),
        "{diff}"
    );
    assert_eq!(
        std::fs::read_to_string(&opencode).unwrap(),
        old,
        "a dry run changes nothing"
    );
    assert_eq!(
        std::fs::read_dir(opencode.parent().unwrap())
            .unwrap()
            .count(),
        1,
        "and makes no backup"
    );

    let (status, done) = json_of(
        write("opencode", json!({"alias": "chat", "token": "sb-t"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["written"], true);
    let backup = PathBuf::from(done["backup"].as_str().unwrap());
    assert!(backup
        .file_name()
        .unwrap()
        .to_str()
        .unwrap()
        .starts_with("opencode.json.switchboard-backup-"));
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), old);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&opencode).unwrap()).unwrap();
    assert_eq!(written["theme"], "dark");
    assert_eq!(
        written["provider"]["switchboard"]["options"]["baseURL"],
        format!("{}/v1", gw.base)
    );
    assert_eq!(done["env"][0]["name"], "SWITCHBOARD_TOKEN");
    let (_, again) = json_of(
        write("opencode", json!({"alias": "chat", "token": "sb-t"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (again["changed"].as_bool(), again["backup"].is_null()),
        (Some(false), true)
    );

    // Claude Code: its settings.json env; Codex: a new config.toml (no backup: none existed).
    let (_, claude) = json_of(
        write("claude", json!({"alias": "chat", "token": "sb-t"}))
            .await
            .unwrap(),
    )
    .await;
    let settings: Value = serde_json::from_str(
        &std::fs::read_to_string(home().join(".claude/settings.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(settings["env"]["ANTHROPIC_BASE_URL"], gw.base, "{claude}");
    assert_eq!(settings["env"]["ANTHROPIC_AUTH_TOKEN"], "sb-t");
    let (_, codex) = json_of(write("codex", json!({"alias": "other"})).await.unwrap()).await;
    assert!(codex["backup"].is_null(), "{codex}");
    let config: toml::Table =
        toml::from_str(&std::fs::read_to_string(home().join(".codex/config.toml")).unwrap())
            .unwrap();
    assert_eq!(config["model"].as_str(), Some("other"));

    // Snippet-only clients have nothing to write; a file with comments is not overwritten.
    let (status, _) = json_of(write("curl", json!({})).await.unwrap()).await;
    assert_eq!(status, 400);
    let zed = home().join(".config/zed/settings.json");
    std::fs::create_dir_all(zed.parent().unwrap()).unwrap();
    std::fs::write(&zed, "{ // mine\n}\n").unwrap();
    let (status, body) = json_of(write("zed", json!({})).await.unwrap()).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(std::fs::read_to_string(&zed).unwrap(), "{ // mine\n}\n");
    gw.stop().await;
}

#[tokio::test]
async fn playground_requests_run_the_pipeline_and_are_logged_as_the_dashboard() {
    let mut gw = gateway("").await;
    let response = admin(&gw, reqwest::Method::POST, "/admin/playground")
        .json(&json!({"alias": "chat", "prompt": "hello there", "stream": true}))
        .send()
        .await
        .unwrap();
    if response.status() != 200 {
        panic!("{}", response.text().await.unwrap());
    }
    assert_eq!(response.headers()["x-switchboard-target"], "mock/gpt-mock");
    let correlation = response.headers()["x-correlation-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let text = response.text().await.unwrap();
    assert!(
        text.contains("data: ") && text.contains("\"usage\""),
        "{text}"
    );

    // A model call from outside is logged without a client; the playground's as `dashboard`.
    let outside = gw
        .post("/v1/chat/completions")
        .json(&json!({"model": "chat", "messages": [{"role": "user", "content": "from curl"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 200);
    let rows = |query: &'static str| {
        let request = admin(
            &gw,
            reqwest::Method::GET,
            &format!("/admin/requests?{query}"),
        );
        async move { json_of(request.send().await.unwrap()).await.1 }
    };
    let all = eventually_with(
        Duration::from_secs(5),
        || rows("limit=10"),
        |v| v["rows"].as_array().is_some_and(|r| r.len() == 2),
    )
    .await
    .unwrap();
    let tagged = rows("client=dashboard").await;
    let tagged = tagged["rows"].as_array().unwrap();
    assert_eq!(tagged.len(), 1, "{all}");
    assert_eq!(tagged[0]["correlation_id"], correlation.as_str());
    assert_eq!(tagged[0]["alias"], "chat");

    // Replay the outside request (its body was captured) on another alias.
    let outside_id = all["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["client"].is_null())
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let replay = admin(&gw, reqwest::Method::POST, "/admin/playground")
        .json(&json!({"alias": "other", "replay_of": outside_id}))
        .send()
        .await
        .unwrap();
    let status = replay.status();
    let served_by = replay.headers().get("x-switchboard-target").cloned();
    assert_eq!(status, 200, "{}", replay.text().await.unwrap());
    assert_eq!(served_by.unwrap(), "mock/other-model");
    let replayed = eventually_with(
        Duration::from_secs(5),
        || rows("client=dashboard&alias=other"),
        |v| v["rows"].as_array().is_some_and(|r| r.len() == 1),
    )
    .await;
    assert!(replayed.is_ok(), "{replayed:?}");

    // Only the admin API can tag a request so; it needs the admin secret or a session.
    let anonymous = gw
        .post("/admin/playground")
        .json(&json!({"alias": "chat", "prompt": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    gw.stop().await;
}

#[tokio::test]
async fn a_token_may_not_be_named_like_the_dashboard() {
    let text = format!(
        "[providers.demo]\nkind = \"demo\"\n[aliases.demo]\ntargets = [\"demo/m\"]\n[tokens.dashboard]\nhash = \"sha256:{}\"\n",
        switchboard_gateway::hash_token("x")
    );
    let error = switchboard_gateway::Config::parse(&text, "config.toml").unwrap_err();
    assert!(
        error.to_string().contains("`dashboard` is the client name"),
        "{error}"
    );
}

#[tokio::test]
async fn the_second_listener_refuses_without_a_token_and_serves_with_one() {
    home();
    let dir = TestDir::new();
    let mock = switchboard_test_support::mock(MockConfig::default()).await;
    let lan = reserve_port().release();
    let admin_ref = dir.secret("admin.token", ADMIN);
    let config_path = dir.write(
        "config.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\n\n# access\n[server]\nadmin_token = \"{admin_ref}\"\nlan_listen = \"{lan}\"\n\n\
             [providers.mock]\nkind = \"openai\"\nbase_url = \"{}\"\n\n[aliases.chat]\ntargets = [\"mock/gpt-mock\"]\n",
            mock.base_url()
        ),
    );
    let mut supervisor = Supervisor::open(SupervisorOptions {
        config_path: config_path.clone(),
        database_path: Some(dir.join("log.db")),
        watch_config: false,
        listen: None,
    })
    .await;
    let main = supervisor.start().await.unwrap();
    assert_eq!(
        supervisor.lan_addr(),
        Some(lan),
        "the second listener is up"
    );
    let http = switchboard_test_support::http_client();
    let chat = |addr: std::net::SocketAddr, token: Option<&str>| {
        let mut request = http
            .post(format!("http://{addr}/v1/chat/completions"))
            .json(&json!({"model": "chat", "messages": [{"role": "user", "content": "hi"}]}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            request
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };

    // No tokens configured: loopback serves, the second listener refuses everything.
    assert_eq!(chat(main, None).await, 200);
    assert_eq!(chat(lan, None).await, 401);
    assert_eq!(chat(lan, Some("made-up")).await, 401);
    let health = http
        .get(format!("http://{lan}/v1/models"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 401);
    let admin_there = http
        .get(format!("http://{lan}/admin/status"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    assert_eq!(
        admin_there.status(),
        403,
        "no admin API on the second listener"
    );
    let ui_there = http.get(format!("http://{lan}/ui/")).send().await.unwrap();
    assert_eq!(ui_there.status(), 403, "no dashboard either");
    // A foreign Host is fine there (every call carries a token); the loopback one refuses it.
    let foreign = http
        .post(format!("http://{lan}/v1/chat/completions"))
        .header("host", "host.docker.internal")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), 401);

    // A token made through the admin API: the second listener serves it.
    let revision = http
        .get(format!("http://{main}/admin/access"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let etag = revision.headers()["etag"].to_str().unwrap().to_owned();
    let access: Value = revision.json().await.unwrap();
    assert_eq!(access["lan_listen"], lan.to_string());
    let created: Value = http
        .post(format!("http://{main}/admin/tokens"))
        .bearer_auth(ADMIN)
        .header("if-match", &etag)
        .json(&json!({"name": "docker"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert_eq!(chat(lan, Some(&token)).await, 200);
    assert_eq!(chat(lan, None).await, 401);

    // Turned off from the access settings: the supervisor closes it; comments stay.
    let update = http
        .put(format!("http://{main}/admin/access"))
        .bearer_auth(ADMIN)
        .header("if-match", created["revision"].as_str().unwrap())
        .json(&json!({"cors_origins": ["app://obsidian.md"], "allowed_hosts": [], "lan_listen": null}))
        .send()
        .await
        .unwrap();
    assert_eq!(update.status(), 200);
    supervisor.tick().await.unwrap();
    assert_eq!(supervisor.lan_addr(), None);
    assert_eq!(
        chat(lan, Some(&token)).await,
        0,
        "nothing listens there any more"
    );
    let text = std::fs::read_to_string(&config_path).unwrap();
    assert!(
        text.contains("# access\n[server]")
            && text.contains("cors_origins = [\"app://obsidian.md\"]"),
        "{text}"
    );
    supervisor.shutdown().await;
}
