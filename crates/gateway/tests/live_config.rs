//! Live config: the watcher under every way editors save, rejected edits, reloads under load,
//! and the admin API's comment-preserving, revision-checked writes. Real files, a real server.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_gateway::config;
use switchboard_test_support::{eventually, eventually_with, spawn, TestGateway};

const BASE: &str = r#"# My switchboard config: this comment must survive GUI edits.
listen = "127.0.0.1:4000"

[server]
admin_token = "file:ADMIN_TOKEN_PATH"   # the admin token lives in a file

# Built-in demo backend.
[providers.demo]
kind = "demo"

# The alias every client uses.
[aliases.first]
description = "first alias"   # keep me
targets = ["demo/one"]
"#;

const TOKEN: &str = "test-admin-token-123";

/// The gateway watching its config file (as `switchboard serve` does), with an admin token.
struct Harness(TestGateway);

impl Deref for Harness {
    type Target = TestGateway;
    fn deref(&self) -> &TestGateway {
        &self.0
    }
}

impl Harness {
    async fn start() -> Harness {
        Self::start_with(|dir, text| {
            let path = dir.join("config.toml");
            std::fs::write(&path, text).unwrap();
            path
        })
        .await
    }

    /// `place` writes the config text where it likes and returns the path to load and watch.
    async fn start_with(place: impl FnOnce(&Path, &str) -> PathBuf + 'static) -> Harness {
        let builder = TestGateway::builder();
        let token = builder.secret("admin.token", TOKEN);
        let text = BASE.replace("file:ADMIN_TOKEN_PATH", &token);
        let gateway = builder
            .config(text)
            .place_config(place)
            .watch_config()
            .start()
            .await;
        Harness(gateway)
    }

    fn text(&self) -> String {
        self.config_text()
    }

    async fn models(&self) -> Vec<String> {
        let body: Value = self
            .http
            .get(format!("{}/v1/models", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect()
    }

    /// Waits (bounded) until `/v1/models` satisfies `check`.
    async fn wait_models(&self, what: &str, check: impl Fn(&[String]) -> bool) {
        if let Err(models) =
            eventually_with(Duration::from_secs(5), || self.models(), |m| check(m)).await
        {
            panic!("timed out waiting for {what}; models: {models:?}");
        }
    }

    fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }

    async fn stop(mut self) {
        self.0.stop_within(Duration::from_secs(1)).await;
    }
}

fn with_alias(text: &str, name: &str) -> String {
    format!("{text}\n[aliases.{name}]\ntargets = [\"demo/{name}\"]\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_place_write_is_picked_up() {
    let h = Harness::start().await;
    std::fs::write(&h.config_path, with_alias(&h.text(), "second")).unwrap();
    h.wait_models("in-place write", |m| m.contains(&"second".to_owned()))
        .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_save_is_one_reload_and_reading_the_file_is_none() {
    let h = Harness::start().await;
    let mut events = h.gateway.subscribe();
    // An invalid save: every reload of it is reported, so extra reloads show.
    std::fs::write(&h.config_path, format!("{}\n[aliases.broken]\n", h.text())).unwrap();
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(switchboard_gateway::GatewayEvent::ConfigRejected { .. }) =
                events.recv().await
            {
                break;
            }
        }
    })
    .await
    .expect("the invalid save is rejected");
    // The reload read the file (so does an editor opening it): neither may start another.
    std::fs::read_to_string(&h.config_path).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut again = 0;
    while let Ok(event) = events.try_recv() {
        if matches!(
            event,
            switchboard_gateway::GatewayEvent::ConfigRejected { .. }
        ) {
            again += 1;
        }
    }
    assert_eq!(again, 0, "one save, one reload");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rename_over_save_is_picked_up() {
    let h = Harness::start().await;
    let temp = h.config_path.with_file_name("config.toml.swp");
    std::fs::write(&temp, with_alias(&h.text(), "renamed")).unwrap();
    std::fs::rename(&temp, &h.config_path).unwrap();
    h.wait_models("rename-over save", |m| m.contains(&"renamed".to_owned()))
        .await;
    // And again: the watch must survive the first rename.
    std::fs::write(&temp, with_alias(&h.text(), "again")).unwrap();
    std::fs::rename(&temp, &h.config_path).unwrap();
    h.wait_models("second rename-over save", |m| {
        m.contains(&"again".to_owned())
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_then_create_is_picked_up() {
    let h = Harness::start().await;
    let text = with_alias(&h.text(), "recreated");
    std::fs::remove_file(&h.config_path).unwrap();
    // Part of the scenario: the file is missing for a moment, as when an editor deletes first.
    tokio::time::sleep(Duration::from_millis(30)).await;
    std::fs::write(&h.config_path, text).unwrap();
    h.wait_models("delete+create", |m| m.contains(&"recreated".to_owned()))
        .await;
    assert!(h.gateway.config_state().last_error.is_none());
    h.stop().await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlink_swap_and_target_edit_are_picked_up() {
    let h = Harness::start_with(|dir, text| {
        let real = dir.join("real");
        std::fs::create_dir(&real).unwrap();
        std::fs::write(real.join("a.toml"), text).unwrap();
        let link = dir.join("config.toml");
        std::os::unix::fs::symlink(real.join("a.toml"), &link).unwrap();
        link
    })
    .await;
    let real_dir = h.config_path.parent().unwrap().join("real");
    // Edit the link's target in its own directory.
    std::fs::write(real_dir.join("a.toml"), with_alias(&h.text(), "viatarget")).unwrap();
    h.wait_models("edit of the symlink target", |m| {
        m.contains(&"viatarget".to_owned())
    })
    .await;
    // Swap the link to another file, as `ln -sfn` does (new link renamed over the old).
    std::fs::write(real_dir.join("b.toml"), with_alias(&h.text(), "swapped")).unwrap();
    let tmp_link = h.config_path.with_file_name("config.toml.new");
    std::os::unix::fs::symlink(real_dir.join("b.toml"), &tmp_link).unwrap();
    std::fs::rename(&tmp_link, &h.config_path).unwrap();
    h.wait_models("symlink swap", |m| m.contains(&"swapped".to_owned()))
        .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_save_keeps_the_old_config_until_fixed() {
    let h = Harness::start().await;
    let good = h.text();
    std::fs::write(
        &h.config_path,
        good.replace("kind = \"demo\"", "kind = \"demo\"\nbse_url = \"x\""),
    )
    .unwrap();
    assert!(
        eventually(Duration::from_secs(5), || async {
            h.gateway.config_state().last_error.is_some()
        })
        .await,
        "the invalid save was not noticed"
    );
    let error = h.gateway.config_state().last_error.unwrap();
    assert!(
        error.message.contains(":10:1: unknown key `bse_url`"),
        "{}",
        error.message
    );
    assert_eq!(
        (error.diagnostics[0].line, error.diagnostics[0].col),
        (10, 1)
    );
    // Still serving the old config, and readiness says what is wrong.
    assert_eq!(h.models().await, vec!["first".to_owned()]);
    let readiness: Value = h
        .http
        .get(format!("{}/health/readiness", h.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(readiness["config_file"]["last_error"]["message"]
        .as_str()
        .unwrap()
        .contains("did you mean `base_url`"));
    // Fix it: the error clears and the new alias is live.
    std::fs::write(&h.config_path, with_alias(&good, "fixed")).unwrap();
    h.wait_models("the fixed config", |m| m.contains(&"fixed".to_owned()))
        .await;
    assert!(h.gateway.config_state().last_error.is_none());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_request_fails_during_a_burst_of_reloads() {
    let h = Harness::start().await;
    let url = format!("{}/v1/chat/completions", h.base);
    let body = json!({"model": "first", "messages": [{"role": "user", "content": "hi"}]});
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (http, url, body) = (h.http.clone(), url.clone(), body.clone());
        clients.push(spawn(async move {
            let mut statuses = Vec::new();
            for _ in 0..60 {
                statuses.push(
                    http.post(&url)
                        .json(&body)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0),
                );
            }
            statuses
        }));
    }
    let base_text = h.text();
    for i in 0..15 {
        std::fs::write(&h.config_path, with_alias(&base_text, &format!("burst{i}"))).unwrap();
        // Part of the scenario: writes 40 ms apart, a burst while the clients keep sending.
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    for client in clients {
        let statuses = client.await.unwrap();
        assert!(
            statuses.iter().all(|s| *s == 200),
            "a request failed during reloads: {statuses:?}"
        );
    }
    h.wait_models("the last burst write", |m| {
        m.contains(&"burst14".to_owned())
    })
    .await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_edits_keep_comments_and_go_live_without_a_second_reload() {
    let h = Harness::start().await;
    let listing: Value = h
        .admin(reqwest::Method::GET, "/admin/config/aliases")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let revision = listing["revision"].as_str().unwrap().to_owned();
    assert_eq!(listing["entries"][0]["name"], "first");
    assert_eq!(
        listing["entries"][0]["value"]["targets"],
        json!(["demo/one"])
    );

    let before = h.text();
    let response = h
        .admin(reqwest::Method::PUT, "/admin/config/aliases/first")
        .header("if-match", &revision)
        .json(&json!({"description": "first alias", "targets": ["demo/one", "demo/two"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let written: Value = response.json().await.unwrap();
    let after = h.text();
    assert_eq!(
        after,
        before.replace(
            r#"targets = ["demo/one"]"#,
            r#"targets = ["demo/one", "demo/two"]"#
        ),
        "only the edited value may change"
    );
    assert_eq!(written["revision"], config::file::revision_of(&after));
    assert_eq!(
        h.gateway.snapshot().config.aliases["first"].targets.len(),
        2,
        "live at once"
    );

    // Create an alias whose name needs quoting; the watcher must not reload our own write again.
    let loaded_at = h.gateway.config_state().loaded_at_unix_ms;
    let response = h
        .admin(reqwest::Method::POST, "/admin/config/aliases")
        .header("if-match", written["revision"].as_str().unwrap())
        .json(&json!({"name": "local/chat", "value": {"targets": ["demo/three"]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created_at = h.gateway.config_state().loaded_at_unix_ms;
    assert!(created_at >= loaded_at);
    // Part of the scenario: nothing must happen, so wait out the watcher's debounce window.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        h.gateway.config_state().loaded_at_unix_ms,
        created_at,
        "own write reloaded twice"
    );
    assert!(h.text().contains("[aliases.\"local/chat\"]"));
    assert!(h
        .text()
        .starts_with("# My switchboard config: this comment must survive GUI edits."));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_revisions_and_invalid_edits_change_nothing() {
    let h = Harness::start().await;
    let listing: Value = h
        .admin(reqwest::Method::GET, "/admin/config/aliases")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let revision = listing["revision"].as_str().unwrap().to_owned();

    // A hand edit between the GUI's read and its write.
    let hand_edited = h.text().replace("# keep me", "# edited by hand");
    std::fs::write(&h.config_path, &hand_edited).unwrap();
    let response = h
        .admin(reqwest::Method::PUT, "/admin/config/aliases/first")
        .header("if-match", &revision)
        .json(&json!({"targets": ["demo/x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "stale_revision");
    assert_eq!(
        body["error"]["current_revision"],
        config::file::revision_of(&hand_edited)
    );
    assert_eq!(
        h.text(),
        hand_edited,
        "the hand edit must not be overwritten"
    );

    // An edit that would break the config: 422 with positions, file untouched.
    let current = config::file::revision_of(&hand_edited);
    let response = h
        .admin(reqwest::Method::PUT, "/admin/config/aliases/first")
        .header("if-match", &current)
        .json(&json!({"targets": ["nosuchprovider/x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("provider `nosuchprovider`"));
    assert!(body["error"]["diagnostics"][0]["line"].as_u64().unwrap() > 0);
    assert_eq!(h.text(), hand_edited);

    // Deleting a provider that aliases use is refused the same way.
    let response = h
        .admin(reqwest::Method::DELETE, "/admin/config/providers/demo")
        .header("if-match", &current)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    // No If-Match: 428.
    let response = h
        .admin(reqwest::Method::DELETE, "/admin/config/aliases/first")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 428);
    assert_eq!(h.text(), hand_edited);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_api_needs_the_token_a_loopback_host_and_no_foreign_origin() {
    let h = Harness::start().await;
    let url = format!("{}/admin/config/aliases", h.base);
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(status(h.http.get(&url).send().await.unwrap()), 401);
    assert_eq!(
        status(h.http.get(&url).bearer_auth("wrong").send().await.unwrap()),
        401
    );
    assert_eq!(
        status(
            h.http
                .get(&url)
                .bearer_auth(TOKEN)
                .header("host", "evil.example")
                .send()
                .await
                .unwrap()
        ),
        403
    );
    assert_eq!(
        status(
            h.http
                .get(&url)
                .bearer_auth(TOKEN)
                .header("origin", "http://evil.example")
                .send()
                .await
                .unwrap()
        ),
        403
    );
    assert_eq!(
        status(h.http.get(&url).bearer_auth(TOKEN).send().await.unwrap()),
        200
    );
    // The admin token never appears in any answer.
    let doc = h
        .admin(reqwest::Method::GET, "/admin/config")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!doc.contains(TOKEN));
    h.stop().await;
}
