//! Crash drills: `kill -9` the real `switchboard serve` while the admin API saves the config
//! (the file must be the old or the new version, never a torn one) and while it reloads (the
//! restart must come up on the file and the request log must be intact). The ledger drill is
//! in `budgets.rs`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mock_upstream::{MockConfig, MockUpstream};
use serde_json::{json, Value};
use switchboard_gateway::config::file::revision_of;
use switchboard_gateway::Config;

use crate::support::{chat_body, http_client, Served};

const ADMIN: &str = "sb-drill-admin-token";

/// A config with about 250 KB of comments, so that each save (write, fsync, rename) takes long
/// enough for a kill to land inside it.
fn config(mock_url: &str, admin_file: &Path) -> String {
    let padding: String = (0..4_000)
        .map(|i| format!("# padding line {i:05} keeps the file large for the drill .......\n"))
        .collect();
    format!(
        "[server]\nadmin_token = \"file:{}\"\n\n\
         [providers.mock]\nkind = \"openai\"\nbase_url = \"{mock_url}\"\n\n\
         [aliases.drill]\ntargets = [\"mock/gpt-mock\"]\n\n{padding}",
        admin_file.display()
    )
}

fn setup(home: &Path, mock_url: &str) -> std::path::PathBuf {
    let admin_file = home.join("admin.token");
    std::fs::write(&admin_file, ADMIN).unwrap();
    std::fs::set_permissions(&admin_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config_path = home.join("config.toml");
    std::fs::write(&config_path, config(mock_url, &admin_file)).unwrap();
    config_path
}

/// The entries `saved-N` a config text holds.
fn saved_entries(text: &str) -> Vec<u32> {
    let mut out: Vec<u32> = text
        .lines()
        .filter_map(|l| l.strip_prefix("[aliases.saved-"))
        .filter_map(|l| l.strip_suffix(']'))
        .filter_map(|n| n.parse().ok())
        .collect();
    out.sort_unstable();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_config_saves_leaves_the_old_or_the_new_file() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let config_path = setup(home.path(), &mock.base_url());
    let db = home.path().join("switchboard.db");
    let http = http_client();
    let mut next = 0u32;
    let mut kills_mid_save = 0;
    let mut temps_left_by_kills = 0;
    // One temp file as a killed save of a long-gone process leaves it (a pid past pid_max).
    std::fs::write(
        home.path().join(".config.toml.switchboard-4194999-0.tmp"),
        "torn",
    )
    .unwrap();
    for round in 0..8u64 {
        let mut served = Served::start(home.path(), &config_path, &db).await;
        let left = temp_files(home.path());
        assert!(
            left.is_empty(),
            "round {round}: the restart left the killed saves' temp files: {left:?}"
        );
        let base = served.url("");
        // One writer saving entry after entry; each save needs the current revision.
        let saves = Arc::new(AtomicU32::new(0));
        let writer = {
            let (http, base, path) = (http.clone(), base.clone(), config_path.clone());
            let saves = saves.clone();
            let first = next;
            tokio::spawn(async move {
                let mut acked: Vec<u32> = Vec::new();
                let mut n = first;
                loop {
                    let revision = revision_of(&std::fs::read_to_string(&path).unwrap());
                    let sent = http
                        .post(format!("{base}/admin/config/aliases"))
                        .bearer_auth(ADMIN)
                        .header("if-match", revision)
                        .json(&json!({"name": format!("saved-{n}"), "value": {"targets": ["mock/gpt-mock"]}}))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status() == 201 => {
                            acked.push(n);
                            saves.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => panic!(
                            "save {n}: {} {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        ),
                        Err(e) => {
                            eprintln!("save {n}: {e}");
                            return (acked, n);
                        }
                    }
                    n += 1;
                }
            })
        };
        // Two saves tell how long one takes; then kill at a different point of it each round.
        let started = Instant::now();
        while saves.load(Ordering::SeqCst) < 2 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "round {round}: saves stall"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let one_save = started.elapsed() / 2;
        tokio::time::sleep(one_save * (round as u32 + 1) / 9).await;
        served.child.start_kill().unwrap();
        served.child.wait().await.unwrap();
        let (acked, in_flight) = writer.await.unwrap();

        let text = std::fs::read_to_string(&config_path).unwrap();
        if let Err(e) = Config::parse(&text, "after kill") {
            panic!("round {round}: the config file is torn or invalid: {e}");
        }
        let on_disk = saved_entries(&text);
        let before: Vec<u32> = (0..next + acked.len() as u32).collect();
        let with_in_flight: Vec<u32> = (0..=in_flight).collect();
        assert!(
            on_disk == before || on_disk == with_in_flight,
            "round {round}: the file holds {:?}..{:?}, acknowledged up to {:?}, in flight {in_flight}",
            on_disk.first(),
            on_disk.last(),
            acked.last()
        );
        if on_disk == with_in_flight && on_disk != before {
            kills_mid_save += 1;
        }
        temps_left_by_kills += temp_files(home.path()).len();
        assert!(
            acked.len() >= 2,
            "round {round}: too few saves ({})",
            acked.len()
        );
        next = on_disk.len() as u32;
    }
    eprintln!("config-save drill: 8 kills, {kills_mid_save} after the save's rename but before its answer, {temps_left_by_kills} before its rename (temp file left), {next} entries saved");
    // The restart after the last kill sweeps what it left too.
    let mut served = Served::start(home.path(), &config_path, &db).await;
    let left = temp_files(home.path());
    served.child.start_kill().unwrap();
    served.child.wait().await.unwrap();
    assert!(left.is_empty(), "temp files after the restart: {left:?}");
}

/// The `write_atomic` temp files in `dir`.
fn temp_files(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".switchboard-") && n.ends_with(".tmp"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill_9_during_reloads_restarts_on_the_file_with_the_log_intact() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let home = tempfile::tempdir().unwrap();
    let config_path = setup(home.path(), &mock.base_url());
    let db = home.path().join("switchboard.db");
    let http = http_client();
    let base_text = std::fs::read_to_string(&config_path).unwrap();
    for round in 0..6u64 {
        let mut served = Served::start(home.path(), &config_path, &db).await;
        let base = served.url("");
        // Requests (log rows) and reloads of a file that changes under them.
        let reloads = Arc::new(AtomicU32::new(0));
        let load = {
            let reloads = reloads.clone();
            let (http, base, path, base_text) = (
                http.clone(),
                base.clone(),
                config_path.clone(),
                base_text.clone(),
            );
            tokio::spawn(async move {
                for i in 0.. {
                    let alias =
                        format!("\n[aliases.reload-{round}-{i}]\ntargets = [\"mock/gpt-mock\"]\n");
                    switchboard_gateway::config::file::write_atomic(
                        &path,
                        &format!("{base_text}{alias}"),
                    )
                    .unwrap();
                    let reload = http
                        .post(format!("{base}/admin/config/reload"))
                        .bearer_auth(ADMIN)
                        .send();
                    let chat = http
                        .post(format!("{base}/v1/chat/completions"))
                        .json(&chat_body("drill"))
                        .send();
                    let (reload, _) = tokio::join!(reload, chat);
                    match reload {
                        Ok(r) if r.status().is_success() => {
                            reloads.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(r) => panic!(
                            "reload: {} {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        ),
                        Err(_) => return,
                    }
                }
            })
        };
        let started = Instant::now();
        while reloads.load(Ordering::SeqCst) < 2 {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "round {round}: reloads stall"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(started.elapsed() / 2 * (round as u32 + 1) / 7).await;
        served.child.start_kill().unwrap();
        served.child.wait().await.unwrap();
        load.await.unwrap();

        // The restart serves the file as it is, and the log is readable and intact.
        let text = std::fs::read_to_string(&config_path).unwrap();
        let served = Served::start(home.path(), &config_path, &db).await;
        let models: Value = http
            .get(served.url("/v1/models"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let newest = text
            .lines()
            .filter_map(|l| l.strip_prefix("[aliases."))
            .filter_map(|l| l.strip_suffix(']'))
            .next_back()
            .unwrap()
            .to_owned();
        assert!(
            models["data"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["id"] == newest.as_str()),
            "round {round}: the restart does not serve `{newest}`: {models}"
        );
        let response = http
            .post(served.url("/v1/chat/completions"))
            .json(&chat_body("drill"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "round {round}");
        drop(served);
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(check, "ok", "round {round}: the log is damaged");
        pool.close().await;
    }
}
