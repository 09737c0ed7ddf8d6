//! Things worth telling a person about, as they happen: the tray turns them into notifications
//! and the dashboard into banners. A broadcast channel: slow or absent listeners never hold the
//! gateway up (they miss old events instead).

use serde::Serialize;
use tokio::sync::broadcast;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GatewayEvent {
    ConfigReloaded {
        revision: String,
    },
    /// A save was rejected; the previous config keeps serving.
    ConfigRejected {
        message: String,
    },
    BreakerOpened {
        target: String,
        reason: String,
        #[cfg_attr(test, ts(type = "number"))]
        retry_in_ms: u64,
    },
    BreakerClosed {
        target: String,
    },
    TargetMisconfigured {
        target: String,
        reason: String,
    },
    /// A budget crossed its alert threshold (once per period).
    BudgetAlert {
        budget: String,
        spent_usd: f64,
        limit_usd: f64,
        alert_at: f64,
        period: &'static str,
        resets_at: String,
    },
    /// A budget is spent: its `when_spent` applies until `resets_at`.
    BudgetSpent {
        budget: String,
        spent_usd: f64,
        limit_usd: f64,
        period: &'static str,
        resets_at: String,
    },
}

/// The sending side, cheap to clone into every place that has news.
#[derive(Clone, Debug)]
pub struct Events(broadcast::Sender<GatewayEvent>);

impl Default for Events {
    fn default() -> Self {
        Events(broadcast::channel(256).0)
    }
}

impl Events {
    pub fn emit(&self, event: GatewayEvent) {
        // No listener is fine: nobody is watching right now.
        let _ = self.0.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<GatewayEvent> {
        self.0.subscribe()
    }
}
