//! Secrets and references to them. The config holds only references (`keychain:NAME`,
//! `env:VAR`, `file:PATH`); values are wrapped in `Secret` so they cannot be printed by accident.
//! A leaf: reading a reference's value is `credentials`' job (which knows the keychain).

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
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SecretRef {
    Env(String),
    File(PathBuf),
    /// A key in the OS keychain (service `switchboard`).
    Keychain(String),
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
}
