//! Admin access for people: the per-install admin secret (a mode-600 file beside the database,
//! made on first start), one-time login links, and the dashboard's session cookies.
//!
//! The secret is a bearer credential for programs (the CLI). A person gets a login link from
//! `switchboard dashboard`: the link's code works once, within `LINK_TTL`, and is exchanged for
//! an HttpOnly, SameSite=Strict cookie. Only SHA-256 digests of codes and sessions are kept, in
//! memory: a restart logs everyone out.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::secret::Secret;

pub const SESSION_COOKIE: &str = "sb_session";
/// The header every state-changing call with a session cookie must carry (CSRF): a browser
/// cannot add it to a cross-origin request without a preflight, which the guard refuses.
pub const CSRF_HEADER: &str = "x-switchboard-csrf";
pub const LINK_TTL: Duration = Duration::from_secs(120);
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
const SECRET_FILE: &str = "admin.secret";

/// The per-install admin secret's file: beside the request log, in the data dir.
pub fn secret_path(database_path: &Path) -> PathBuf {
    database_path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .join(SECRET_FILE)
}

/// Reads the admin secret at `path`, creating it (mode 600) if it does not exist yet.
pub fn load_or_create_secret(path: &Path) -> Result<Secret<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => return Ok(Secret::new(text.trim().to_owned())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let secret = format!("sba-{}", random_token());
    match create_private(path, &secret) {
        Ok(()) => {}
        // Another process's first start made it between our read and our create: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return read_secret(path);
        }
        Err(e) => return Err(format!("cannot write {}: {e}", path.display())),
    }
    tracing::info!(path = %path.display(), "created the admin secret");
    Ok(Secret::new(secret))
}

/// Reads an existing admin secret (the CLI; it never creates one).
pub fn read_secret(path: &Path) -> Result<Secret<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read the admin secret {}: {e} (it is made when `switchboard serve` first starts)",
            path.display()
        )
    })?;
    Ok(Secret::new(text.trim().to_owned()))
}

/// Creates `path` holding `text` (and a newline), owner-only on Unix, only if it does not exist
/// yet: the full content appears at once (a temp file hard-linked into place), so a kill never
/// leaves an empty or partial secret. A blank file (an older version's kill left one) counts as
/// absent. `AlreadyExists` if another process made it first.
fn create_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    if std::fs::read_to_string(path).is_ok_and(|t| t.trim().is_empty()) {
        std::fs::remove_file(path)?;
    }
    let temp = path.with_file_name(format!(".{SECRET_FILE}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let result = (|| {
        let mut file = options.open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.write_all(b"\n")?;
        file.sync_all()?;
        // A hard link fails if the name exists, unlike rename: two first starts cannot swap
        // secrets under each other.
        std::fs::hard_link(&temp, path)
    })();
    let _ = std::fs::remove_file(&temp);
    result
}

/// 256 random bits as hex (two v4 UUIDs' random parts come from the OS CSPRNG via `getrandom`).
pub fn random_token() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

fn digest(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}

/// Live login codes and sessions, by digest, with their expiry.
#[derive(Default)]
pub struct Sessions {
    links: Mutex<HashMap<[u8; 32], Instant>>,
    sessions: Mutex<HashMap<[u8; 32], Instant>>,
}

impl Sessions {
    /// A new one-time login code.
    pub fn new_link(&self) -> String {
        let code = random_token();
        if let Ok(mut links) = self.links.lock() {
            let now = Instant::now();
            links.retain(|_, expiry| *expiry > now);
            links.insert(digest(&code), now + LINK_TTL);
        }
        code
    }

    /// Spends a login code: a new session token if the code was live, else `None`.
    pub fn redeem(&self, code: &str) -> Option<String> {
        let expiry = self.links.lock().ok()?.remove(&digest(code))?;
        let now = Instant::now();
        if expiry <= now {
            return None;
        }
        let session = random_token();
        let mut sessions = self.sessions.lock().ok()?;
        sessions.retain(|_, expiry| *expiry > now);
        sessions.insert(digest(&session), now + SESSION_TTL);
        Some(session)
    }

    pub fn is_valid(&self, session: &str) -> bool {
        self.sessions
            .lock()
            .ok()
            .and_then(|s| s.get(&digest(session)).copied())
            .is_some_and(|expiry| expiry > Instant::now())
    }

    pub fn end(&self, session: &str) {
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.remove(&digest(session));
        }
    }

    pub fn session_ttl() -> Duration {
        SESSION_TTL
    }
}

/// The value of cookie `name` in a `Cookie` header.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_works_once_and_its_session_until_logout() {
        let sessions = Sessions::default();
        let code = sessions.new_link();
        let session = sessions.redeem(&code);
        assert!(session.is_some());
        assert!(sessions.redeem(&code).is_none(), "a code works once");
        assert!(sessions.redeem("made-up").is_none());
        let session = session.unwrap_or_default();
        assert!(sessions.is_valid(&session));
        assert!(!sessions.is_valid(&code), "the code is not a session");
        sessions.end(&session);
        assert!(!sessions.is_valid(&session));
    }

    #[test]
    fn the_secret_is_made_once_and_private() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = secret_path(&dir.path().join("data").join("switchboard.db"));
        let first = load_or_create_secret(&path).map_err(anyhow::Error::msg)?;
        let again = load_or_create_secret(&path).map_err(anyhow::Error::msg)?;
        assert_eq!(first.expose(), again.expose());
        assert!(first.expose().len() > 60);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path)?.permissions().mode() & 0o777,
                0o600
            );
        }
        Ok(())
    }

    #[test]
    fn a_blank_secret_file_left_by_a_kill_is_replaced() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(SECRET_FILE);
        std::fs::write(&path, "\n")?;
        let secret = load_or_create_secret(&path).map_err(anyhow::Error::msg)?;
        assert!(secret.expose().starts_with("sba-"));
        assert_eq!(
            read_secret(&path).map_err(anyhow::Error::msg)?.expose(),
            secret.expose()
        );
        Ok(())
    }

    #[test]
    fn cookies_are_found_by_name() {
        let header = "a=1; sb_session=abc; sb_sessionx=no";
        assert_eq!(cookie(header, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie("x=1", SESSION_COOKIE), None);
    }
}
