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
        for sub in [test.xdg_config_home(), test.xdg_data_home()] {
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

    pub fn xdg_config_home(&self) -> PathBuf {
        self.home().join(".config")
    }

    pub fn xdg_data_home(&self) -> PathBuf {
        self.home().join(".local/share")
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
        vec![
            ("HOME", self.home()),
            ("XDG_CONFIG_HOME", self.xdg_config_home()),
            ("XDG_DATA_HOME", self.xdg_data_home()),
        ]
    }
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
