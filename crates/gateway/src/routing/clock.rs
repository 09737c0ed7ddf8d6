//! Where routing state reads the time, so simulations replay traces deterministically.

use std::fmt::Debug;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Where routing state reads the time. Tests drive a `ManualClock`.
pub trait Clock: Send + Sync + Debug {
    fn now(&self) -> Instant;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to.
#[derive(Debug)]
pub struct ManualClock {
    start: Instant,
    elapsed: Mutex<Duration>,
}

impl Default for ManualClock {
    fn default() -> Self {
        ManualClock {
            start: Instant::now(),
            elapsed: Mutex::new(Duration::ZERO),
        }
    }
}

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        if let Ok(mut e) = self.elapsed.lock() {
            *e += by;
        }
    }

    /// Time since the clock was made.
    pub fn elapsed(&self) -> Duration {
        self.elapsed.lock().map(|e| *e).unwrap_or_default()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        self.start + self.elapsed()
    }
}
