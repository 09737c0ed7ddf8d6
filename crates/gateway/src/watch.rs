//! Watches the config file and reloads it on change. The parent directory is watched, not the
//! file, because editors that save by rename (vim, VS Code, JetBrains) or delete-then-create
//! replace the file and a watch on it would be lost. A symlinked config is followed: the link's
//! directory and its target's directory are both watched. The gateway's own writes are
//! recognised by content hash and cause no second reload.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::gateway::Gateway;

/// An editor's save is several events (write, rename, chmod): reload once they have been
/// quiet this long.
const DEBOUNCE: Duration = Duration::from_millis(120);

impl Gateway {
    /// Watches the config file and reloads on every change.
    pub fn watch_config(&self) -> Result<(), String> {
        spawn(self)
    }
}

// The debounce is a timer on the gateway's runtime that runs only after an event, so an idle
// gateway (a tray app on a laptop) is never woken by it; notify-debouncer-full's thread ticked
// every 30 ms for as long as the watch lived.
fn spawn(gateway: &Gateway) -> Result<(), String> {
    let Some(path) = gateway.config_path().map(Path::to_owned) else {
        return Ok(());
    };
    let path = absolute(&path);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<PathBuf>>();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
        if let Ok(event) = event {
            // Reading the file (the reload itself) is an access event: acting on it would
            // reload again forever.
            if !event.paths.is_empty() && !event.kind.is_access() {
                let _ = tx.send(event.paths);
            }
        }
    })
    .map_err(|e| format!("cannot watch the config file: {e}"))?;

    let mut watched: HashSet<PathBuf> = HashSet::new();
    let mut watch_dirs_of = move |watcher: &mut notify::RecommendedWatcher, path: &Path| {
        for file in [
            path.to_owned(),
            std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()),
        ] {
            if let Some(dir) = file.parent().map(Path::to_owned) {
                if watched.insert(dir.clone()) {
                    if let Err(e) = watcher.watch(&dir, RecursiveMode::NonRecursive) {
                        tracing::warn!(dir = %dir.display(), error = %e, "cannot watch directory");
                    }
                }
            }
        }
    };
    watch_dirs_of(&mut watcher, &path);

    let gateway = gateway.clone();
    let stop = gateway.inner.stop_background.clone();
    let tracker = gateway.inner.tracker.clone();
    tracker.spawn(async move {
        // Other files in the directory (a database beside the config) change all the time:
        // only the config's own events start or extend the quiet period.
        let is_config = |paths: &[PathBuf]| {
            let target = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
            paths
                .iter()
                .any(|p| p == &path || p == &target || same_file_name_in_dir(p, &path))
        };
        'events: loop {
            let paths = tokio::select! {
                _ = stop.cancelled() => break,
                paths = rx.recv() => match paths {
                    Some(paths) => paths,
                    None => break,
                },
            };
            if !is_config(&paths) {
                continue;
            }
            let mut quiet_at = tokio::time::Instant::now() + DEBOUNCE;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break 'events,
                    _ = tokio::time::sleep_until(quiet_at) => break,
                    more = rx.recv() => match more {
                        Some(paths) if is_config(&paths) => {
                            quiet_at = tokio::time::Instant::now() + DEBOUNCE;
                        }
                        Some(_) => {}
                        None => break,
                    },
                }
            }
            // The link may now point somewhere new: follow it.
            watch_dirs_of(&mut watcher, &path);
            // Errors are recorded in the config state and logged by reload itself.
            let _ = gateway.reload().await;
        }
        drop(watcher);
    });
    Ok(())
}

fn absolute(path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir()
            .map(|d| d.join(path))
            .unwrap_or_else(|_| path.to_owned())
    }
}

/// Some platforms report the directory's canonical path (e.g. /private/var on macOS).
fn same_file_name_in_dir(event: &Path, config: &Path) -> bool {
    match (
        event.file_name(),
        config.file_name(),
        event.parent(),
        config.parent(),
    ) {
        (Some(a), Some(b), Some(da), Some(db)) => {
            a == b && std::fs::canonicalize(da).ok() == std::fs::canonicalize(db).ok()
        }
        _ => false,
    }
}
