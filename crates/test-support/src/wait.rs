//! Waiting for a condition instead of sleeping a guessed time.

use std::future::Future;
use std::time::Duration;

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(20);

/// Polls `condition` every 20 ms until it holds (`true`) or `within` has passed (`false`).
/// Tokio's clock, so a test with paused time advances instead of hanging.
///
/// ```ignore
/// assert!(eventually(Duration::from_secs(5), || async { gw.health().await["ok"] == true }).await);
/// ```
pub async fn eventually<F, Fut>(within: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if condition().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Polls `probe` every 20 ms until `done` accepts its value: `Ok(value)`, or `Err(last value)`
/// once `within` has passed, so a failing test can say what it saw last.
pub async fn eventually_with<T, F, Fut>(
    within: Duration,
    mut probe: F,
    done: impl Fn(&T) -> bool,
) -> Result<T, T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = T>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let value = probe().await;
        if done(&value) {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(value);
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn eventually_returns_once_the_condition_holds() {
        let calls = AtomicU32::new(0);
        let held = eventually(Duration::from_secs(5), || async {
            calls.fetch_add(1, Ordering::SeqCst) >= 2
        })
        .await;
        assert!(held);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn eventually_gives_up_after_the_timeout() {
        let started = std::time::Instant::now();
        assert!(!eventually(Duration::from_millis(100), || async { false }).await);
        assert!(started.elapsed() >= Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn eventually_follows_paused_time() {
        assert!(!eventually(Duration::from_secs(60), || async { false }).await);
    }

    #[tokio::test]
    async fn eventually_with_hands_back_the_last_value() {
        let calls = AtomicU32::new(0);
        let last = eventually_with(
            Duration::from_millis(60),
            || async { calls.fetch_add(1, Ordering::SeqCst) },
            |n| *n > 1000,
        )
        .await;
        let last = last.unwrap_err();
        assert_eq!(last + 1, calls.load(Ordering::SeqCst));
        let found = eventually_with(
            Duration::from_secs(5),
            || async { calls.fetch_add(1, Ordering::SeqCst) },
            |n| *n >= last + 2,
        )
        .await;
        assert_eq!(found, Ok(last + 2));
    }
}
