//! `GET /metrics`: the Prometheus text format. Behind the same client-token rule as `/v1`
//! (the guard treats it as a model call), since labels name aliases and targets.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::gateway::Gateway;
use crate::telemetry::metrics::Gauges;

pub(super) async fn metrics(State(gateway): State<Gateway>) -> Response {
    let snapshot = gateway.snapshot();
    let routing = &gateway.inner.routing;
    let now = routing.now();
    let mut seen = std::collections::HashSet::new();
    let targets = snapshot
        .config
        .aliases
        .values()
        .flat_map(|a| a.targets.iter())
        .filter(|t| seen.insert(t.label()))
        .map(|t| {
            let status = routing.target(t).status(now);
            (
                t.label(),
                t.provider.clone(),
                status.state,
                status.in_flight,
            )
        })
        .collect();
    let budgets = gateway
        .inner
        .budgets
        .status()
        .into_iter()
        .map(|b| (b.name, b.period, b.spent_usd, b.usd))
        .collect();
    let log = gateway.inner.log.health();
    let gauges = Gauges {
        targets,
        budgets,
        log_written: log.written,
        log_dropped: log.dropped,
    };
    let mut body = gateway.inner.log.metrics().render(&gauges);
    gateway.inner.tracing.render_metrics(&mut body);
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        body,
    )
        .into_response()
}
