//! The config file on disk: revisions (content hashes) for optimistic concurrency, and atomic
//! writes that keep the file's mode and never leave a half-written file behind.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// A content hash of the config text. Equal text, equal revision.
pub fn revision_of(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    digest.iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// The file that holds the config: a symlinked config is written through to its target so the
/// link survives.
pub fn resolve_target(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Writes `text` to `path` atomically: a temp file in the same directory, fsync, rename over.
/// The original file's permissions are kept.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let target = resolve_target(path);
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    sweep_stale_temps(&target);
    let mut temp = tempfile_in(dir, &target)?;
    let result = (|| {
        temp.1.write_all(text.as_bytes())?;
        if let Ok(meta) = std::fs::metadata(&target) {
            temp.1.set_permissions(meta.permissions())?;
        }
        temp.1.sync_all()?;
        std::fs::rename(&temp.0, &target)?;
        if let Ok(dir) = std::fs::File::open(dir) {
            // Make the rename itself durable; not every platform allows syncing a directory.
            let _ = dir.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp.0);
    }
    result
}

/// A temp file older than this is stale even if its pid is alive (pids are reused).
const STALE_AFTER: Duration = Duration::from_secs(60);

/// Removes the temp files `write_atomic` left beside `path` when its process was killed inside
/// a save (`.<name>.switchboard-<pid>-<n>.tmp`): those whose process is gone, or older than a
/// minute. Returns the names removed. Called at start and before every write.
pub fn sweep_stale_temps(path: &Path) -> Vec<String> {
    let target = resolve_target(path);
    let Some(dir) = target.parent() else {
        return Vec::new();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let Some(stem) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!(".{stem}.switchboard-");
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = temp_pid(&name, &prefix) else {
            continue;
        };
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > STALE_AFTER);
        if (old || !process_alive(pid)) && std::fs::remove_file(entry.path()).is_ok() {
            tracing::info!(file = %entry.path().display(), "removed a temp file left by an interrupted config save");
            removed.push(name);
        }
    }
    removed
}

/// The pid in `<prefix><pid>-<n>.tmp`, if `name` is such a temp file.
fn temp_pid(name: &str, prefix: &str) -> Option<u32> {
    let (pid, attempt) = name
        .strip_prefix(prefix)?
        .strip_suffix(".tmp")?
        .split_once('-')?;
    attempt.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// Whether `pid` is a live process. Our own pid counts as alive (a save may be in flight on
/// another task); where it cannot be told, the age rule alone applies.
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

fn tempfile_in(dir: &Path, target: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let stem = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for attempt in 0..100u32 {
        let name = format!(".{stem}.switchboard-{}-{attempt}.tmp", std::process::id());
        let path = dir.join(name);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(file) => return Ok((path, file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other(
        "cannot create a temporary file next to the config",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_changes_with_content_only() {
        assert_eq!(revision_of("a = 1\n"), revision_of("a = 1\n"));
        assert_ne!(revision_of("a = 1\n"), revision_of("a = 2\n"));
        assert_eq!(revision_of("").len(), 24);
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_keeps_mode_and_symlink() -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let real = dir.path().join("real.toml");
        std::fs::write(&real, "old")?;
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640))?;
        let link = dir.path().join("config.toml");
        std::os::unix::fs::symlink(&real, &link)?;
        write_atomic(&link, "new")?;
        assert!(std::fs::symlink_metadata(&link)?.file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&real)?, "new");
        assert_eq!(
            std::fs::metadata(&real)?.permissions().mode() & 0o777,
            0o640
        );
        let leftovers = std::fs::read_dir(dir.path())?.count();
        assert_eq!(leftovers, 2, "no temp file left behind");
        Ok(())
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn stale_temp_files_are_swept_before_a_write() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let config = dir.path().join("config.toml");
        std::fs::write(&config, "old")?;
        // A pid past the kernel's pid_max (2^22) is never alive.
        let dead = dir.path().join(".config.toml.switchboard-4194999-0.tmp");
        std::fs::write(&dead, "torn")?;
        // A live process's fresh temp file is a save in flight: kept.
        let mine = format!(".config.toml.switchboard-{}-7.tmp", std::process::id());
        std::fs::write(dir.path().join(&mine), "in flight")?;
        // A live pid's temp file from over a minute ago is stale (the pid may be reused).
        let old = dir.path().join(".config.toml.switchboard-1-3.tmp");
        std::fs::write(&old, "old")?;
        let two_minutes_ago = std::time::SystemTime::now() - Duration::from_secs(120);
        std::fs::File::options()
            .write(true)
            .open(&old)?
            .set_modified(two_minutes_ago)?;
        // Not ours: another file's temp, and names that only look alike.
        let others = [
            ".other.toml.switchboard-4194999-0.tmp",
            ".config.toml.switchboard-x-0.tmp",
            "config.toml.switchboard-4194999-0.tmp",
        ];
        for name in others {
            std::fs::write(dir.path().join(name), "keep")?;
        }
        write_atomic(&config, "new")?;
        assert_eq!(std::fs::read_to_string(&config)?, "new");
        let mut left: Vec<String> = std::fs::read_dir(dir.path())?
            .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
            .collect::<std::io::Result<_>>()?;
        left.sort();
        let mut wanted: Vec<String> = others.iter().map(|s| s.to_string()).collect();
        wanted.extend([mine, "config.toml".to_owned()]);
        wanted.sort();
        assert_eq!(left, wanted);
        Ok(())
    }
}
