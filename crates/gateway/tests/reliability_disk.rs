//! Drills for the request log's disk: full (a tiny tmpfs) and corrupt or foreign files at the
//! log path. The gateway keeps serving, readiness and `/health` say what is wrong, spend is never
//! lost, and the log recovers by itself.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

use std::path::{Path, PathBuf};
use std::time::Duration;

use mock_upstream::{MockConfig, MockUpstream};
use serde_json::{json, Value};
use switchboard_gateway::hash_token;
use switchboard_test_support::{eventually_with, TestGateway};

const TOKEN: &str = "sb-disk-test-token";

struct Running(TestGateway);

/// The gateway in `dir` with its request log at `db` (on the tmpfs, or a planted bad file).
async fn start(dir: &Path, db: PathBuf, mock: &MockUpstream) -> Running {
    let body = format!(
        "[providers.cloud]\nkind = \"openai\"\nbase_url = \"{{mock}}\"\n\
         [aliases.strong]\ntargets = [\"cloud/big\"]\n\
         [prices.\"cloud/big\"]\ninput = 10000\noutput = 10000\n\
         [tokens.obsidian]\nhash = \"sha256:{hash}\"\n",
        hash = hash_token(TOKEN),
    );
    let gateway = TestGateway::builder_in(dir)
        .mock_urls(mock)
        .database(db)
        .config(body)
        .start()
        .await;
    Running(gateway)
}

impl Running {
    async fn chat(&self, i: usize) -> u16 {
        let response = self
            .0
            .post("/v1/chat/completions")
            .bearer_auth(TOKEN)
            .json(&json!({"model": "strong", "messages": [{"role": "user", "content": format!("hi {i} {}", "x".repeat(200))}]}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        response.bytes().await.unwrap();
        status
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.0.get(path).send().await.unwrap();
        (
            response.status().as_u16(),
            response.json().await.unwrap_or(Value::Null),
        )
    }

    /// Polls readiness until `check` holds, or panics with the last answer after `within`.
    async fn wait_readiness(&self, within: Duration, check: impl Fn(u16, &Value) -> bool) -> Value {
        let answer = eventually_with(
            within,
            || self.get("/health/readiness"),
            |(status, body)| check(*status, body),
        )
        .await;
        match answer {
            Ok((_, body)) => body,
            Err((status, body)) => panic!("readiness never turned as expected: {status} {body}"),
        }
    }

    async fn stop(mut self) {
        self.0.stop().await;
    }
}

async fn count(db: &Path, table: &str) -> i64 {
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(&pool)
        .await
        .unwrap();
    pool.close().await;
    n
}

/// A real tmpfs of `size`, unmounted on drop. `None` (and the test says it is skipped) when this
/// process may not mount: the drill needs root, as in CI and on the dev machines.
struct Tmpfs(tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.0.path())
            .status();
    }
}

/// Fills the filesystem at `dir` with one file until a write fails (ENOSPC).
fn fill(dir: &Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 4096];
    while file.write_all(&chunk).is_ok() {}
    let _ = file.sync_all();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_reported_spend_waits_in_memory_and_the_log_recovers() {
    let Some(fs) = Tmpfs::mount("8m") else {
        eprintln!("skipped: cannot mount a tmpfs here (needs root)");
        return;
    };
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = fs.0.path().join("log.db");
    let gw = start(dir.path(), db.clone(), &mock).await;

    let mut sent = 0;
    for _ in 0..20 {
        assert_eq!(gw.chat(sent).await, 200);
        sent += 1;
    }
    gw.wait_readiness(Duration::from_secs(10), |s, b| {
        s == 200 && b["spend_ledger"]["written"] == 20 && b["database"]["written"] == 20
    })
    .await;

    // The disk fills up: requests keep being answered while the log cannot write.
    let filler = fill(fs.0.path());
    let during = 600;
    let mut reasons = std::collections::BTreeSet::new();
    for _ in 0..during {
        assert_eq!(gw.chat(sent).await, 200, "the gateway keeps serving");
        sent += 1;
        if sent % 100 == 0 {
            let (_, b) = gw.get("/health/readiness").await;
            reasons.insert(format!(
                "log: {} / ledger: {}",
                b["database"]["error"], b["spend_ledger"]["error"]
            ));
        }
    }
    eprintln!("reasons while full: {reasons:#?}");
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("ledger: \"write failed") && r.contains("full")),
        "the ledger met the full disk too: {reasons:?}"
    );
    let failing = gw
        .wait_readiness(Duration::from_secs(15), |s, b| {
            s == 503 && b["database"]["ok"] == false
        })
        .await;
    let reason = failing["database"]["error"].as_str().unwrap_or_default();
    assert!(reason.contains("full"), "the reason is given: {failing}");
    let (status, health) = gw.get("/health").await;
    assert_eq!(health["database"]["ok"], false, "{status} {health}");
    assert!(
        health["database"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("full"),
        "{health}"
    );

    // Space returns: the log recovers by itself (no request needed) and the ledger writes
    // every row it kept in memory.
    std::fs::remove_file(filler).unwrap();
    gw.wait_readiness(Duration::from_secs(20), |s, b| {
        s == 200 && b["spend_ledger"]["pending"] == 0 && b["database"]["ok"] == true
    })
    .await;
    for _ in 0..20 {
        assert_eq!(gw.chat(sent).await, 200);
        sent += 1;
    }
    let recovered = gw
        .wait_readiness(Duration::from_secs(10), |s, b| {
            s == 200 && b["spend_ledger"]["written"] == sent && b["database"]["written"] == 40
        })
        .await;
    let dropped = recovered["database"]["dropped"].as_u64().unwrap();
    assert_eq!(
        dropped, during as u64,
        "only rows sent while full: {recovered}"
    );
    gw.stop().await;
    assert_eq!(count(&db, "spend").await, sent as i64, "no lost spend");
    assert_eq!(count(&db, "requests").await, 40);
    eprintln!("disk full drill: sent {sent}, request log rows dropped while full {dropped}, spend rows lost 0");
}

/// A foreign SQLite database: someone else's tables at the log path.
async fn foreign_db(path: &Path) {
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    sqlx::query("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("INSERT INTO notes (body) VALUES ('keep me')")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_foreign_file_at_the_log_path_is_kept_aside_and_a_fresh_log_created() {
    let mock = MockUpstream::start(MockConfig::default()).await.unwrap();
    let mut header_then_garbage = b"SQLite format 3\0".to_vec();
    header_then_garbage.extend((0..8192u32).map(|i| (i * 7919 % 251) as u8));
    let cases: Vec<(&str, Option<Vec<u8>>)> = vec![
        ("text", Some(b"this is not a database\n".repeat(100))),
        ("torn header", Some(header_then_garbage)),
        ("foreign", None),
    ];
    for (name, bytes) in cases {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("data").join("log.db");
        std::fs::create_dir_all(db.parent().unwrap()).unwrap();
        match &bytes {
            Some(b) => std::fs::write(&db, b).unwrap(),
            None => foreign_db(&db).await,
        }
        let original = std::fs::read(&db).unwrap();
        let gw = start(dir.path(), db.clone(), &mock).await;
        assert_eq!(gw.chat(0).await, 200, "{name}");
        let ready = gw
            .wait_readiness(Duration::from_secs(10), |s, b| {
                s == 200 && b["database"]["written"] == 1
            })
            .await;
        let note = ready["database"]["set_aside"].as_str().unwrap_or_default();
        assert!(note.contains("kept as"), "{name}: a clear note: {ready}");
        let reason_word = if name == "foreign" {
            "another program"
        } else {
            "not"
        };
        assert!(note.contains(reason_word), "{name}: {note}");
        gw.stop().await;
        let aside: Vec<PathBuf> = std::fs::read_dir(db.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let n = p.file_name().unwrap().to_string_lossy().into_owned();
                n.starts_with("log.db.unusable-") && !n.ends_with("-wal") && !n.ends_with("-shm")
            })
            .collect();
        assert_eq!(aside.len(), 1, "{name}: {aside:?}");
        assert!(note.contains(&aside[0].display().to_string()), "{note}");
        assert_eq!(
            std::fs::read(&aside[0]).unwrap(),
            original,
            "{name}: kept unchanged"
        );
        assert_eq!(count(&db, "requests").await, 1, "{name}: a fresh log");
        eprintln!("{name}: {note}");
    }
}
