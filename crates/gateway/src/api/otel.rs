//! Trace export's part of readiness (`Readiness::trace_export`).

use serde::{Deserialize, Serialize};
#[cfg(test)]
use ts_rs::TS;

/// OpenTelemetry trace export (`[telemetry]`): informational, never makes the gateway unready.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct TraceExport {
    pub enabled: bool,
    /// The OTLP/HTTP traces URL, when enabled.
    pub endpoint: Option<String>,
    #[cfg_attr(test, ts(type = "number"))]
    pub exported_spans: u64,
    /// Spans dropped because the export queue was full (the collector is slow or down).
    #[cfg_attr(test, ts(type = "number"))]
    pub dropped_queue_full: u64,
    /// Spans in batches the collector refused or did not answer.
    #[cfg_attr(test, ts(type = "number"))]
    pub dropped_export_failed: u64,
    pub last_error: Option<String>,
}
