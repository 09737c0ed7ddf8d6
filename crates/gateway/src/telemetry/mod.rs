//! Telemetry: Prometheus metrics (`metrics`, always on, served at `GET /metrics`).

pub mod metrics;

pub use metrics::{Finished, Metrics};
