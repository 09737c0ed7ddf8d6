//! A test's own temp folder: HOME and the XDG dirs inside it, config and secret files.

use std::path::{Path, PathBuf};

/// A temp folder removed on drop, with `home/`, `home/.config` and `home/.local/share` made, so
/// a spawned `switchboard` never sees the user's real config, data or keychain files.
pub struct TestDir {
    dir: tempfile::TempDir,
}

impl Default for TestDir {
    fn default() -> Self {
        Self::new()
    }
}

impl TestDir {
    pub fn new() -> TestDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let test = TestDir { dir };
        for (_, sub) in test.env() {
            std::fs::create_dir_all(sub).expect("create the temp HOME's XDG dirs");
        }
        test
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `<dir>/name`.
    pub fn join(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The temp HOME (`<dir>/home`).
    pub fn home(&self) -> PathBuf {
        self.join("home")
    }

    /// Writes `<dir>/name` and returns its path.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Writes a secret file (mode 0600, as the gateway requires) and returns its `file:` reference
    /// for the config (`api_key = "file:/tmp/.../name"`).
    pub fn secret(&self, name: &str, value: &str) -> String {
        format!("file:{}", secret_file(self.path(), name, value).display())
    }

    /// The environment variables that keep a child process inside this folder.
    pub fn env(&self) -> Vec<(&'static str, PathBuf)> {
        home_env(&self.home())
    }
}

/// HOME and the XDG config and data dirs inside `home`, for a child process that must never see
/// the user's own config, data or keychain files.
pub fn home_env(home: &Path) -> Vec<(&'static str, PathBuf)> {
    vec![
        ("HOME", home.to_path_buf()),
        ("XDG_CONFIG_HOME", home.join(".config")),
        ("XDG_DATA_HOME", home.join(".local/share")),
    ]
}

/// Writes `dir/name` with `value`, mode 0600 on Unix (the gateway refuses wider secret files).
pub fn secret_file(dir: &Path, name: &str, value: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, value).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .expect("chmod 600 a secret file");
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_test_dir_keeps_home_and_secrets_inside_itself() {
        let dir = TestDir::new();
        for (_, path) in dir.env() {
            assert!(path.starts_with(dir.path()) && path.is_dir(), "{path:?}");
        }
        let reference = dir.secret("k.key", "sk-123");
        let path = PathBuf::from(reference.strip_prefix("file:").unwrap());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "sk-123");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
