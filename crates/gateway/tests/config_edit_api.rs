//! The config editor's API over a real server and a hand-written file: the dry run (errors at
//! fields, a diff, nothing written), saves that keep every comment, stale saves refused with
//! the current revision, and the version history (20 kept, restore, restore undone).

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

use serde_json::{json, Value};
use switchboard_gateway::config::file::revision_of;
use switchboard_test_support::TestGateway;

const BASE: &str = r#"# Hand-written: every comment here must survive GUI edits.
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

const TOKEN: &str = "edit-admin-token-123";

const COMMENTS: &[&str] = &[
    "# Hand-written: every comment here must survive GUI edits.",
    "# the admin token lives in a file",
    "# Built-in demo backend.",
    "# The alias every client uses.",
    "# keep me",
];

async fn start() -> TestGateway {
    let builder = TestGateway::builder();
    let token = builder.secret("admin.token", TOKEN);
    builder
        .config(BASE.replace("file:ADMIN_TOKEN_PATH", &token))
        .start()
        .await
}

async fn call(
    g: &TestGateway,
    method: reqwest::Method,
    path: &str,
    revision: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut request = g.request(method, path).bearer_auth(TOKEN);
    if let Some(revision) = revision {
        request = request.header("if-match", revision);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn assert_comments_kept(text: &str) {
    for comment in COMMENTS {
        assert!(text.contains(comment), "lost {comment:?}:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_reports_errors_at_fields_and_a_diff_without_writing() {
    let g = start().await;
    let before = g.config_text();
    let revision = revision_of(&before);

    let (status, bad) = call(
        &g,
        reqwest::Method::POST,
        "/admin/config/preview",
        None,
        Some(json!({
            "section": "aliases", "name": "local/chat", "action": "create",
            "value": {"targets": [{"model": "nosuch/model"}, {"model": "demo/two", "weight": 0}], "strategy": "sideways"},
            "base_revision": revision,
        })),
    )
    .await;
    assert_eq!(status, 200, "{bad}");
    assert_eq!(bad["ok"], false);
    assert_eq!(bad["stale"], false);
    assert_eq!(bad["revision"], revision.as_str());
    let paths: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert!(
        paths.contains(&"aliases.\"local/chat\".targets[0]"),
        "{bad}"
    );
    assert!(
        paths.contains(&"aliases.\"local/chat\".targets[1].weight"),
        "{bad}"
    );
    assert!(paths.contains(&"aliases.\"local/chat\".strategy"), "{bad}");
    for e in bad["errors"].as_array().unwrap() {
        assert!(e["line"].as_u64().unwrap() > 0, "{e}");
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    assert!(
        bad["diff"]
            .as_str()
            .unwrap()
            .contains("+[aliases.\"local/chat\"]"),
        "{bad}"
    );

    let (_, good) = call(
        &g,
        reqwest::Method::POST,
        "/admin/config/preview",
        None,
        Some(json!({
            "section": "aliases", "name": "first",
            "value": {"description": "first alias", "targets": ["demo/one", "demo/two"]},
            "base_revision": "000000000000000000000000",
        })),
    )
    .await;
    assert_eq!(good["ok"], true, "{good}");
    assert_eq!(good["stale"], true, "an old base revision is reported");
    let diff = good["diff"].as_str().unwrap();
    assert!(diff.contains("-targets = [\"demo/one\"]"), "{diff}");
    assert!(
        diff.contains("+targets = [\"demo/one\", \"demo/two\"]"),
        "{diff}"
    );

    // A name that is taken cannot be created: an error at the entry, no diff.
    let (_, taken) = call(
        &g,
        reqwest::Method::POST,
        "/admin/config/preview",
        None,
        Some(json!({"section": "aliases", "name": "first", "action": "create", "value": {"targets": ["demo/x"]}})),
    )
    .await;
    assert_eq!(taken["ok"], false);
    assert_eq!(taken["errors"][0]["path"], "aliases.first");
    assert_eq!(taken["diff"], "");

    assert_eq!(g.config_text(), before, "a dry run writes nothing");
    let history = call(
        &g,
        reqwest::Method::GET,
        "/admin/config/history",
        None,
        None,
    )
    .await;
    assert_eq!(history.1["versions"], json!([]), "nor keeps a version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_saves_are_refused_with_the_current_revision() {
    let g = start().await;
    // The editor reads the entries first; that text is the base it edits.
    let (_, listing) = call(
        &g,
        reqwest::Method::GET,
        "/admin/config/aliases",
        None,
        None,
    )
    .await;
    let old = listing["revision"].as_str().unwrap().to_owned();
    let hand = g.config_text().replace("first alias", "edited by hand");
    std::fs::write(&g.config_path, &hand).unwrap();
    let (status, body) = call(
        &g,
        reqwest::Method::PUT,
        "/admin/config/aliases/first",
        Some(&old),
        Some(json!({"targets": ["demo/gui"]})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "stale_revision");
    assert_eq!(
        body["error"]["current_revision"],
        revision_of(&hand).as_str()
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("the file changed on disk — review the new version"),
        "{body}"
    );
    assert_eq!(g.config_text(), hand, "the hand edit is not overwritten");

    // The dry run on the old base says so, with what changed on disk since.
    let (_, preview) = call(
        &g,
        reqwest::Method::POST,
        "/admin/config/preview",
        None,
        Some(json!({"section": "aliases", "name": "first", "value": {"targets": ["demo/gui"]}, "base_revision": old})),
    )
    .await;
    assert_eq!(preview["stale"], true);
    assert_eq!(preview["revision"], revision_of(&hand).as_str());
    let disk = preview["disk_diff"].as_str().unwrap();
    assert!(
        disk.contains("-description = \"first alias\"")
            && disk.contains("+description = \"edited by hand\""),
        "{disk}"
    );
    let (status, _) = call(
        &g,
        reqwest::Method::POST,
        &format!("/admin/config/history/{}/restore", "1-abc"),
        None,
        None,
    )
    .await;
    assert_eq!(status, 428, "a restore needs If-Match too");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_keeps_twenty_versions_and_restore_is_undoable() {
    let g = start().await;
    let original = g.config_text();
    let mut revision = revision_of(&original);
    let mut texts = vec![original.clone()];
    for i in 0..25 {
        let (status, written) = call(
            &g,
            reqwest::Method::PUT,
            "/admin/config/aliases/first",
            Some(&revision),
            Some(json!({"description": format!("save {i}"), "targets": ["demo/one"]})),
        )
        .await;
        assert_eq!(status, 200, "{written}");
        revision = written["revision"].as_str().unwrap().to_owned();
        let text = g.config_text();
        assert_comments_kept(&text);
        assert_eq!(revision, revision_of(&text));
        texts.push(text);
    }
    let (_, history) = call(
        &g,
        reqwest::Method::GET,
        "/admin/config/history",
        None,
        None,
    )
    .await;
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 20, "{history}");
    assert_eq!(history["revision"], revision.as_str());
    assert_eq!(versions[0]["summary"], "aliases.first changed");
    // Newest first: the newest kept version is the text the last save replaced.
    assert_eq!(versions[0]["revision"], revision_of(&texts[24]).as_str());
    assert_eq!(versions[19]["revision"], revision_of(&texts[5]).as_str());
    let dir = g.db_path.parent().unwrap().join("config-history");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        40,
        "pruned on disk"
    );

    // One version: its text, and the diff a restore would make.
    let id = versions[0]["id"].as_str().unwrap().to_owned();
    let (_, doc) = call(
        &g,
        reqwest::Method::GET,
        &format!("/admin/config/history/{id}"),
        None,
        None,
    )
    .await;
    assert_eq!(doc["text"], texts[24].as_str());
    let diff = doc["diff"].as_str().unwrap();
    assert!(
        diff.contains("-description = \"save 24\"") && diff.contains("+description = \"save 23\""),
        "{diff}"
    );
    let (status, _) = call(
        &g,
        reqwest::Method::GET,
        "/admin/config/history/..%2F..%2Fetc",
        None,
        None,
    )
    .await;
    assert_eq!(status, 404);

    // Undo the last save, then undo the undo.
    let (status, restored) = call(
        &g,
        reqwest::Method::POST,
        &format!("/admin/config/history/{id}/restore"),
        Some(&revision),
        None,
    )
    .await;
    assert_eq!(status, 200, "{restored}");
    assert_eq!(g.config_text(), texts[24]);
    assert_eq!(
        g.gateway.snapshot().config.aliases["first"]
            .description
            .as_deref(),
        Some("save 23"),
        "the restored text serves at once"
    );
    let (_, history) = call(
        &g,
        reqwest::Method::GET,
        "/admin/config/history",
        None,
        None,
    )
    .await;
    let newest = &history["versions"][0];
    assert_eq!(newest["summary"], format!("restored {id}"));
    assert_eq!(newest["revision"], revision_of(&texts[25]).as_str());
    let undo = newest["id"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &g,
        reqwest::Method::POST,
        &format!("/admin/config/history/{undo}/restore"),
        Some(restored["revision"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(g.config_text(), texts[25], "the restore was undone");

    // A hand edit between two saves: the version it replaced is kept too.
    let hand = g.config_text().replace("save 24", "by hand");
    std::fs::write(&g.config_path, &hand).unwrap();
    let (status, _) = call(
        &g,
        reqwest::Method::PUT,
        "/admin/config/aliases/first",
        Some(&revision_of(&hand)),
        Some(json!({"description": "after the hand edit", "targets": ["demo/one"]})),
    )
    .await;
    assert_eq!(status, 200);
    let (_, history) = call(
        &g,
        reqwest::Method::GET,
        "/admin/config/history",
        None,
        None,
    )
    .await;
    let summaries: Vec<&str> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .take(2)
        .map(|v| v["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries, ["aliases.first changed", "a hand edit"]);
    assert_eq!(
        history["versions"][0]["revision"],
        revision_of(&hand).as_str()
    );
    assert_eq!(
        history["versions"][1]["revision"],
        revision_of(&texts[25]).as_str()
    );
    assert_comments_kept(&g.config_text());
}
