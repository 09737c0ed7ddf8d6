//! Telemetry: Prometheus metrics (`metrics`, always on, served at `GET /metrics`) and
//! OpenTelemetry traces over OTLP (`otel`, `[telemetry]` in the config; exported only with the
//! `otel` cargo feature).

pub mod metrics;
pub mod otel;

pub use metrics::{Finished, Metrics};
