//! The one bare `tokio::spawn` the gateway allows (clippy.toml's `disallowed-methods`). Every
//! other task goes on the gateway's TaskTracker so that shutdown waits for it.

use std::future::Future;

/// Starts `future` off the tracker: for a task that sleeps long and must not hold shutdown up,
/// and that ends by itself (e.g. it holds only a weak reference to what it serves).
pub(crate) fn spawn_detached<F>(what: &'static str, future: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    tracing::trace!(task = what, "detached task started");
    #[allow(clippy::disallowed_methods)] // this is the named exception
    tokio::spawn(future);
}
