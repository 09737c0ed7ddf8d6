//! Secrets and references to them. The config holds only references (`env:VAR`, `file:PATH`);
//! values are read at use and wrapped in `Secret` so they cannot be printed by accident.

use std::fmt;
use std::path::PathBuf;

/// A value that must never be logged, serialized or shown. Reading it is an explicit call.
#[derive(Clone)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("*****")
    }
}

impl<T> serde::Serialize for Secret<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str("*****")
    }
}

/// Where a secret lives. Parsed from the config; never holds the value itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
    /// A key in the OS keychain (service `switchboard`).
    Keychain(String),
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("environment variable `{0}` is not set (referenced as `env:{0}`)")]
    EnvMissing(String),
    #[error("cannot read key file `{path}`: {reason}")]
    FileUnreadable { path: String, reason: String },
    #[error(
        "key file `{path}` is readable by group or others (mode {mode:o}); run `chmod 600 {path}`"
    )]
    FileTooOpen { path: String, mode: u32 },
    #[error("key file `{0}` is empty")]
    FileEmpty(String),
    #[error("{0}")]
    Keychain(#[from] crate::keychain::KeychainError),
}

impl SecretRef {
    /// Parses `env:VAR` or `file:PATH`. The error says what to write instead.
    pub fn parse(text: &str) -> Result<SecretRef, String> {
        if let Some(var) = text.strip_prefix("env:") {
            if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!(
                    "`env:{var}` is not a valid environment variable name"
                ));
            }
            return Ok(SecretRef::Env(var.to_owned()));
        }
        if let Some(path) = text.strip_prefix("file:") {
            if path.is_empty() {
                return Err(
                    "`file:` needs a path, e.g. `file:~/.config/switchboard/openai.key`".into(),
                );
            }
            return Ok(SecretRef::File(expand_home(path)));
        }
        if let Some(name) = text.strip_prefix("keychain:") {
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
            if !valid {
                return Err(format!(
                    "`keychain:{name}` needs a key name of letters, digits, `-`, `_` or `.`"
                ));
            }
            return Ok(SecretRef::Keychain(name.to_owned()));
        }
        Err("api_key must be a reference (`keychain:NAME`, `env:VAR` or `file:PATH`), never the key itself".into())
    }

    /// Reads the value now. Called at use, so a rotated key takes effect without a restart.
    pub fn resolve(&self) -> Result<Secret<String>, SecretError> {
        match self {
            SecretRef::Env(var) => std::env::var(var)
                .ok()
                .filter(|v| !v.is_empty())
                .map(Secret::new)
                .ok_or_else(|| SecretError::EnvMissing(var.clone())),
            SecretRef::File(path) => {
                let shown = path.display().to_string();
                check_file_mode(path, &shown)?;
                let text =
                    std::fs::read_to_string(path).map_err(|e| SecretError::FileUnreadable {
                        path: shown.clone(),
                        reason: e.to_string(),
                    })?;
                let value = text.trim();
                if value.is_empty() {
                    return Err(SecretError::FileEmpty(shown));
                }
                Ok(Secret::new(value.to_owned()))
            }
            SecretRef::Keychain(name) => Ok(crate::keychain::get(name)?),
        }
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SecretRef::Env(var) => write!(f, "env:{var}"),
            SecretRef::File(path) => write!(f, "file:{}", path.display()),
            SecretRef::Keychain(name) => write!(f, "keychain:{name}"),
        }
    }
}

#[cfg(unix)]
fn check_file_mode(path: &std::path::Path, shown: &str) -> Result<(), SecretError> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| SecretError::FileUnreadable {
        path: shown.to_owned(),
        reason: e.to_string(),
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretError::FileTooOpen {
            path: shown.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_file_mode(_path: &std::path::Path, _shown: &str) -> Result<(), SecretError> {
    Ok(())
}

pub(crate) fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), dirs::home_dir()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_never_prints_its_value() {
        let s = Secret::new("sk-live-123".to_string());
        assert_eq!(format!("{s} {s:?}"), "***** *****");
        assert_eq!(serde_json::to_string(&s).ok().as_deref(), Some("\"*****\""));
        assert_eq!(s.expose(), "sk-live-123");
    }

    #[test]
    fn parse_accepts_references_and_refuses_literal_keys() {
        assert_eq!(
            SecretRef::parse("env:OPENAI_API_KEY"),
            Ok(SecretRef::Env("OPENAI_API_KEY".into()))
        );
        assert!(SecretRef::parse("sk-abc").is_err_and(|e| e.contains("reference")));
        assert_eq!(
            SecretRef::parse("keychain:openai"),
            Ok(SecretRef::Keychain("openai".into()))
        );
        assert!(SecretRef::parse("keychain:bad name").is_err_and(|e| e.contains("key name")));
        assert!(SecretRef::parse("env:bad name").is_err());
    }

    #[cfg(unix)]
    #[test]
    fn key_file_readable_by_others_is_refused() -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("k");
        std::fs::write(&path, "secret\n")?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        let r = SecretRef::File(path.clone());
        assert!(matches!(r.resolve(), Err(SecretError::FileTooOpen { .. })));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        assert_eq!(r.resolve()?.expose(), "secret");
        Ok(())
    }
}
