//! `switchboard config history` / `config restore ID` against the real `serve`: a save through
//! the admin API is listed with what replaced it, and restoring it puts the file back.

use std::path::Path;
use std::time::Duration;

use mock_upstream::{MockConfig, MockUpstream};
use serde_json::json;

use crate::support::{http_client, render_config, Served, BASE_CONFIG};

async fn config_cmd(
    home: &Path,
    config: &Path,
    db: &Path,
    served: &Served,
    args: &[&str],
) -> (bool, String) {
    let output = crate::support::switchboard(home)
        .arg("--config")
        .arg(config)
        .arg("config")
        .args(args)
        .arg("--url")
        .arg(served.url(""))
        .arg("--database")
        .arg(db)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(20), output)
        .await
        .expect("finishes within 20 s")
        .expect("switchboard config runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() || !stderr.is_empty(),
        "no reason given for the failure"
    );
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned() + &stderr,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_lists_kept_versions_and_restores_one() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    let original = render_config(BASE_CONFIG, &mock.base_url());
    std::fs::write(&config, &original).unwrap();
    let db = home.path().join("data").join("log.db");
    let served = Served::start(home.path(), &config, &db).await;

    let (ok, out) = config_cmd(home.path(), &config, &db, &served, &["history"]).await;
    assert!(ok && out.contains("no kept versions yet"), "{out}");

    // One save through the admin API, with the per-install secret beside the database.
    let secret = std::fs::read_to_string(db.parent().unwrap().join("admin.secret")).unwrap();
    let http = http_client();
    let listing: serde_json::Value = http
        .get(served.url("/admin/config/aliases"))
        .bearer_auth(secret.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let saved = http
        .put(served.url("/admin/config/aliases/local%2Fchat"))
        .bearer_auth(secret.trim())
        .header("if-match", listing["revision"].as_str().unwrap())
        .json(&json!({"description": "changed by the API", "targets": ["mock/some-model"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 200);
    assert!(std::fs::read_to_string(&config)
        .unwrap()
        .contains("changed by the API"));

    let (ok, out) = config_cmd(home.path(), &config, &db, &served, &["history"]).await;
    assert!(
        ok && out.contains("replaced by: aliases.\"local/chat\" changed"),
        "{out}"
    );
    let id = out.split_whitespace().next().unwrap().to_owned();

    let (ok, out) = config_cmd(home.path(), &config, &db, &served, &["restore", &id]).await;
    assert!(ok && out.contains(&format!("restored {id}")), "{out}");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        original,
        "the file is back"
    );

    let (ok, out) = config_cmd(home.path(), &config, &db, &served, &["restore", "1-abc"]).await;
    assert!(!ok && out.contains("no kept config version"), "{out}");
}
