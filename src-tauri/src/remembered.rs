//! What the app remembers across restarts that is not config: whether the user left the proxy
//! started or stopped. A small JSON file in the app's data dir, never in the config file (the
//! config is the CLI's too, and "stopped" is a choice about this desktop, not about routing).

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remembered {
    /// The proxy serves on launch unless the user stopped it last time.
    pub proxy_enabled: bool,
}

impl Default for Remembered {
    fn default() -> Self {
        Remembered {
            proxy_enabled: true,
        }
    }
}

impl Remembered {
    /// Reads the file; a missing or unreadable one gives the defaults (and a warning if it was
    /// there but broken), because a lost preference must never keep the app from starting.
    pub fn load(path: &Path) -> Remembered {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable app state");
                Remembered::default()
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Remembered::default(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read app state");
                Remembered::default()
            }
        }
    }

    /// Writes atomically: a temp file in the same directory, then a rename.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text + "\n")?;
        std::fs::rename(&tmp, path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_means_enabled() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            Remembered::load(&dir.path().join("nope.json")),
            Remembered::default()
        );
        assert!(Remembered::default().proxy_enabled);
    }

    #[test]
    fn round_trips_and_creates_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/app-state.json");
        let stopped = Remembered {
            proxy_enabled: false,
        };
        stopped.save(&path).unwrap();
        assert_eq!(Remembered::load(&path), stopped);
        assert!(!path.with_extension("json.tmp").exists());
    }

    #[test]
    fn garbage_gives_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app-state.json");
        std::fs::write(&path, "{not json").unwrap();
        assert_eq!(Remembered::load(&path), Remembered::default());
    }
}
