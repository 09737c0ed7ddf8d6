//! The config file on disk: revisions (content hashes) for optimistic concurrency, and atomic
//! writes that keep the file's mode and never leave a half-written file behind.

use std::io::Write;
use std::path::{Path, PathBuf};

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
}
