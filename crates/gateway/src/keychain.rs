//! Provider keys in the OS keychain (macOS Keychain, Linux Secret Service), all under one
//! service name. Every call blocks (a D-Bus round trip on Linux): the request path never makes
//! one; `credentials` reads the entries in use in the background.

use crate::secret::Secret;

/// The keychain service every Switchboard key is stored under.
pub const SERVICE: &str = "switchboard";

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeychainError {
    #[error("no key named `{0}` in the keychain; store it with `switchboard keys set {0}`")]
    Missing(String),
    #[error("the keychain is locked or unavailable (reading `keychain:{name}`): {reason}")]
    Unavailable { name: String, reason: String },
    #[error("`{0}` is not a valid key name: use letters, digits, `-`, `_` and `.`")]
    BadName(String),
}

fn check_name(name: &str) -> Result<(), KeychainError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(KeychainError::BadName(name.to_owned()))
    }
}

fn entry(name: &str) -> Result<keyring::Entry, KeychainError> {
    check_name(name)?;
    keyring::Entry::new(SERVICE, name).map_err(|e| unavailable(name, &e))
}

fn unavailable(name: &str, error: &keyring::Error) -> KeychainError {
    match error {
        keyring::Error::NoEntry => KeychainError::Missing(name.to_owned()),
        other => KeychainError::Unavailable {
            name: name.to_owned(),
            reason: other.to_string(),
        },
    }
}

/// Reads a key.
pub fn get(name: &str) -> Result<Secret<String>, KeychainError> {
    let value = entry(name)?
        .get_password()
        .map_err(|e| unavailable(name, &e))?;
    Ok(Secret::new(value))
}

/// Stores (or replaces) a key. A running gateway reads it within `credentials::REFRESH_EVERY`.
pub fn set(name: &str, value: &Secret<String>) -> Result<(), KeychainError> {
    let value = value.expose().trim();
    if value.is_empty() {
        return Err(KeychainError::Unavailable {
            name: name.to_owned(),
            reason: "refusing to store an empty key".into(),
        });
    }
    entry(name)?
        .set_password(value)
        .map_err(|e| unavailable(name, &e))?;
    Ok(())
}

/// Removes a key. Removing a key that is not there is an error naming it.
pub fn delete(name: &str) -> Result<(), KeychainError> {
    entry(name)?
        .delete_credential()
        .map_err(|e| unavailable(name, &e))?;
    Ok(())
}

/// Whether a key is stored.
pub fn exists(name: &str) -> Result<bool, KeychainError> {
    match entry(name)?.get_password() {
        Ok(_) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(unavailable(name, &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_touching_the_keychain() {
        assert!(matches!(get("bad name"), Err(KeychainError::BadName(n)) if n == "bad name"));
        assert!(matches!(
            set("", &Secret::new("x".into())),
            Err(KeychainError::BadName(_))
        ));
        assert!(check_name("openai.prod-2_key").is_ok());
    }
}
