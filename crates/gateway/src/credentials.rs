//! Secret values for the request path, read off it. Providers hold a `Credential` (one per
//! reference, shared); its value is read once when the provider is built (the keychain's in the
//! background) and re-read every `REFRESH_EVERY` by one task the gateway owns, so a rotated file
//! or keychain entry is used within seconds without a restart, and no request ever waits on a
//! disk read or a D-Bus round trip. Only a keychain entry not read yet makes a request wait, on
//! the refresher, never on a blocking call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::keychain::KeychainError;
use crate::secret::{Secret, SecretRef};

/// How often every reference in use is read again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// How long a request waits for a keychain entry's first read before it fails.
const FIRST_READ_WAIT: Duration = Duration::from_secs(10);

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
    Keychain(#[from] KeychainError),
    #[error("the keychain has not answered yet (reading `{0}`)")]
    NotReadYet(String),
}

impl SecretRef {
    /// Reads the value now: a file read or, for `keychain:`, a blocking keychain call. The
    /// request path uses a `Credential` instead.
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

type Read = Result<Secret<String>, SecretError>;

/// The last read of one reference; `None` until the first read.
struct Slot {
    reference: SecretRef,
    value: watch::Sender<Option<Read>>,
}

/// A provider's handle on one secret reference.
#[derive(Clone)]
pub struct Credential {
    slot: Arc<Slot>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credential({})", self.slot.reference)
    }
}

impl Credential {
    pub fn reference(&self) -> &SecretRef {
        &self.slot.reference
    }

    /// The value as last read. Waits (asynchronously) only for a first read still under way.
    pub async fn get(&self) -> Read {
        if let Some(read) = self.slot.value.borrow().as_ref() {
            return read.clone();
        }
        let mut changes = self.slot.value.subscribe();
        let first = tokio::time::timeout(FIRST_READ_WAIT, async {
            changes
                .wait_for(Option::is_some)
                .await
                .ok()
                .and_then(|read| read.clone())
        });
        first
            .await
            .ok()
            .flatten()
            .unwrap_or_else(|| Err(self.not_read_yet()))
    }

    /// The value as last read, without waiting.
    pub fn current(&self) -> Option<Read> {
        self.slot.value.borrow().clone()
    }

    fn not_read_yet(&self) -> SecretError {
        SecretError::NotReadYet(self.slot.reference.to_string())
    }
}

/// Every reference the gateway's providers use, and the task that keeps them read.
#[derive(Clone, Default)]
pub struct Credentials {
    inner: Arc<Registry>,
}

#[derive(Default)]
struct Registry {
    /// Weak: a reference no provider holds any more is dropped from the refresh.
    slots: Mutex<HashMap<SecretRef, Weak<Slot>>>,
    /// Wakes the refresher early (a new keychain reference, a key set through the admin API).
    wake: Notify,
    /// Bumped after each refresh pass, for `refresh_now`.
    passes: watch::Sender<u64>,
    /// Stands in for `SecretRef::resolve` in tests (a slow keychain).
    resolver: Option<Resolver>,
}

type Resolver = Arc<dyn Fn(&SecretRef) -> Read + Send + Sync>;

impl Credentials {
    #[cfg(test)]
    fn with_resolver(resolver: impl Fn(&SecretRef) -> Read + Send + Sync + 'static) -> Self {
        Credentials {
            inner: Arc::new(Registry {
                resolver: Some(Arc::new(resolver)),
                ..Registry::default()
            }),
        }
    }

    /// The shared handle on `reference`. Environment variables and files are read here (a
    /// reload builds providers off the request path); keychain entries by the refresher.
    pub fn credential(&self, reference: &SecretRef) -> Credential {
        let mut slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = slots.get(reference).and_then(Weak::upgrade) {
            return Credential { slot };
        }
        let first = match reference {
            SecretRef::Keychain(_) => None,
            other => Some(other.resolve()),
        };
        let keychain = first.is_none();
        let slot = Arc::new(Slot {
            reference: reference.clone(),
            value: watch::Sender::new(first),
        });
        slots.insert(reference.clone(), Arc::downgrade(&slot));
        drop(slots);
        if keychain {
            self.inner.wake.notify_one();
        }
        Credential { slot }
    }

    /// Why `reference` cannot be read, from its last read and without reading anything:
    /// `Some(None)` when it can, `None` when no provider (nor the admin token) uses it.
    pub fn last_problem(&self, reference: &SecretRef) -> Option<Option<String>> {
        let slots = self.inner.slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = slots.get(reference).and_then(Weak::upgrade)?;
        drop(slots);
        let read = slot.value.borrow().clone();
        Some(match read {
            Some(Ok(_)) => None,
            Some(Err(e)) => Some(e.to_string()),
            None => Some(SecretError::NotReadYet(reference.to_string()).to_string()),
        })
    }

    /// Reads every reference again now and returns once that is done (after `keys set` through
    /// the admin API, so the very next request uses the new key).
    pub async fn refresh_now(&self) {
        let mut passes = self.inner.passes.subscribe();
        let seen = *passes.borrow_and_update();
        self.inner.wake.notify_one();
        // Two passes: one may have been under way with the old value when we asked.
        let _ = tokio::time::timeout(
            FIRST_READ_WAIT,
            passes.wait_for(|n| *n >= seen.saturating_add(2)),
        )
        .await;
    }

    /// Starts the refresher on the gateway's tracker; it ends with `stop`.
    pub fn spawn_refresher(&self, tracker: &TaskTracker, stop: CancellationToken) {
        let registry = self.inner.clone();
        let blocking = tracker.clone();
        tracker.spawn(async move {
            loop {
                let live = registry.live();
                if !live.is_empty() {
                    let references: Vec<SecretRef> =
                        live.iter().map(|s| s.reference.clone()).collect();
                    let resolver = registry.resolver.clone();
                    // One blocking task per pass: file reads and keychain calls never run on
                    // the runtime's threads.
                    let reads = blocking
                        .spawn_blocking(move || {
                            let resolve = |r: &SecretRef| match &resolver {
                                Some(resolver) => resolver(r),
                                None => r.resolve(),
                            };
                            references.iter().map(resolve).collect::<Vec<_>>()
                        })
                        .await;
                    if let Ok(reads) = reads {
                        for (slot, read) in live.iter().zip(reads) {
                            store(slot, read);
                        }
                    }
                }
                registry.passes.send_modify(|n| *n += 1);
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = registry.wake.notified() => {}
                    _ = tokio::time::sleep(REFRESH_EVERY) => {}
                }
            }
        });
    }
}

impl Registry {
    fn live(&self) -> Vec<Arc<Slot>> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.retain(|_, slot| slot.strong_count() > 0);
        slots.values().filter_map(Weak::upgrade).collect()
    }
}

/// Replaces the slot's value when it changed (a new value, or a new error), so readers that
/// hold the old one are not woken for nothing.
fn store(slot: &Slot, read: Read) {
    slot.value.send_if_modified(|current| {
        let same = match (current.as_ref(), &read) {
            (Some(Ok(old)), Ok(new)) => old.expose() == new.expose(),
            (Some(Err(old)), Err(new)) => old == new,
            _ => false,
        };
        if !same {
            *current = Some(read);
        }
        !same
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn key_file(dir: &std::path::Path, value: &str) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("k");
        std::fs::write(&path, value).ok();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).ok();
        path
    }

    #[cfg(unix)]
    #[test]
    fn key_file_readable_by_others_is_refused() -> anyhow::Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir()?;
        let path = key_file(dir.path(), "secret\n");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
        let r = SecretRef::File(path.clone());
        assert!(matches!(r.resolve(), Err(SecretError::FileTooOpen { .. })));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        assert_eq!(r.resolve()?.expose(), "secret");
        Ok(())
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn a_rotated_file_is_picked_up_by_the_refresher_and_handles_are_shared() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = key_file(dir.path(), "one");
        let reference = SecretRef::File(path.clone());
        let credentials = Credentials::default();
        let a = credentials.credential(&reference);
        let b = credentials.credential(&reference);
        assert!(Arc::ptr_eq(&a.slot, &b.slot), "one slot per reference");
        assert_eq!(a.get().await.map(|s| s.expose().clone()), Ok("one".into()));

        let (tracker, stop) = (TaskTracker::new(), CancellationToken::new());
        credentials.spawn_refresher(&tracker, stop.clone());
        key_file(dir.path(), "two");
        credentials.refresh_now().await;
        assert_eq!(b.get().await.map(|s| s.expose().clone()), Ok("two".into()));
        std::fs::remove_file(&path).ok();
        credentials.refresh_now().await;
        assert!(matches!(
            a.current(),
            Some(Err(SecretError::FileUnreadable { .. }))
        ));
        stop.cancel();
        tracker.close();
        tracker.wait().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_keychain_never_delays_a_read_that_has_a_value() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let calls = Arc::new(AtomicU64::new(0));
        let counter = calls.clone();
        // Every keychain read takes 500 ms (a locked or busy Secret Service).
        let credentials = Credentials::with_resolver(move |_| {
            std::thread::sleep(Duration::from_millis(500));
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(Secret::new(format!("v{n}")))
        });
        let handle = credentials.credential(&SecretRef::Keychain("slow".into()));
        assert!(
            handle.current().is_none(),
            "keychain entries are read in the background"
        );
        let (tracker, stop) = (TaskTracker::new(), CancellationToken::new());
        credentials.spawn_refresher(&tracker, stop.clone());
        // Only the very first read waits (asynchronously) for the refresher.
        let first = handle.get().await.map(|s| s.expose().clone());
        assert_eq!(first, Ok("v1".to_owned()));
        // The next pass is reading (500 ms) while requests keep getting the last value at once.
        credentials.inner.wake.notify_one();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        for _ in 0..1000 {
            assert!(handle.get().await.is_ok());
        }
        let took = started.elapsed();
        assert!(
            took < Duration::from_millis(100),
            "1000 reads took {took:?}"
        );
        credentials.refresh_now().await;
        assert!(calls.load(Ordering::SeqCst) >= 2);
        assert_ne!(
            handle
                .current()
                .and_then(Result::ok)
                .map(|s| s.expose().clone()),
            Some("v1".into())
        );
        stop.cancel();
        tracker.close();
        tracker.wait().await;
    }

    #[tokio::test]
    async fn dropped_handles_leave_the_refresh() {
        let credentials = Credentials::default();
        let reference = SecretRef::Env("SWITCHBOARD_TEST_UNSET_VARIABLE".into());
        let handle = credentials.credential(&reference);
        assert!(matches!(
            handle.get().await,
            Err(SecretError::EnvMissing(_))
        ));
        assert_eq!(credentials.inner.live().len(), 1);
        drop(handle);
        assert!(credentials.inner.live().is_empty());
    }
}
