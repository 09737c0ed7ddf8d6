//! A file at the log path that is not Switchboard's log (corrupt, not SQLite at all, or another
//! program's database) is moved aside with a timestamp and a fresh log created, so the gateway
//! starts with a working log and the old file is kept for whoever wants it.

use std::path::{Path, PathBuf};

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::ConnectOptions;

/// Why the file at `path` cannot be used as the log, or `None` when it can (or does not exist).
pub async fn unusable(path: &Path) -> Option<String> {
    match std::fs::metadata(path) {
        Ok(m) if m.len() > 0 => {}
        _ => return None,
    }
    let options = SqliteConnectOptions::new().filename(path).read_only(true);
    let mut conn = match options.connect().await {
        Ok(conn) => conn,
        Err(e) => return Some(format!("cannot be opened: {e}")),
    };
    let tables: Result<Vec<(String,)>, _> =
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table'")
            .fetch_all(&mut conn)
            .await;
    let verdict = match tables {
        Err(e) => Some(format!("is not a readable SQLite database: {e}")),
        Ok(tables) if tables.is_empty() => None,
        Ok(tables) if tables.iter().any(|(t,)| t == "_sqlx_migrations") => {
            match sqlx::query_as::<_, (String,)>("PRAGMA quick_check")
                .fetch_one(&mut conn)
                .await
            {
                Ok((ok,)) if ok == "ok" => None,
                Ok((problem,)) => Some(format!("is corrupt: {problem}")),
                Err(e) => Some(format!("is corrupt: {e}")),
            }
        }
        Ok(tables) => Some(format!(
            "is another program's database (tables: {})",
            tables
                .iter()
                .map(|(t,)| t.as_str())
                .take(5)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    };
    let _ = sqlx::Connection::close(conn).await;
    verdict
}

/// Renames `path` (and its `-wal`/`-shm` files) to `<name>.unusable-<UTC time>`; returns the
/// new path.
pub fn set_aside(path: &Path) -> std::io::Result<PathBuf> {
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%SZ")
        .to_string();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "log.db".into());
    let aside = path.with_file_name(format!("{name}.unusable-{stamp}"));
    std::fs::rename(path, &aside)?;
    for suffix in ["-wal", "-shm"] {
        let side = path.with_file_name(format!("{name}{suffix}"));
        if side.exists() {
            let _ = std::fs::rename(
                &side,
                aside.with_file_name(format!("{name}.unusable-{stamp}{suffix}")),
            );
        }
    }
    Ok(aside)
}
