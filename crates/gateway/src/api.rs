//! The admin API's wire types for watching the gateway (request log, stats, events, sessions):
//! one definition used by the HTTP handlers, the CLI and (generated with ts-rs, see
//! `ui/src/lib/api.gen.ts`) the dashboard. Change a type here and `cargo test` tells you to
//! regenerate the TypeScript (`UPDATE_TS=1 cargo test -p switchboard-gateway --lib api`).
//! The same types describe these endpoints in the OpenAPI document (`GET /admin/openapi.json`).

use serde::{Deserialize, Serialize};
#[cfg(test)]
use ts_rs::TS;

/// Filters for `GET /admin/requests`; every one optional, all must match.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[cfg_attr(test, derive(TS))]
pub struct RequestQuery {
    pub alias: Option<String>,
    pub target: Option<String>,
    /// `2xx`, `4xx`, `5xx` or `error` (any status from 400 on, or a failed stream).
    pub status: Option<String>,
    pub error_type: Option<String>,
    pub client: Option<String>,
    pub correlation_id: Option<String>,
    /// Unix milliseconds, inclusive.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub from_ms: Option<i64>,
    /// Unix milliseconds, exclusive.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub to_ms: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Rows per page (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// One row of the request log.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct RequestRow {
    /// The row id: the `Last-Event-ID` of `GET /admin/events`.
    #[cfg_attr(test, ts(type = "number"))]
    pub id: i64,
    #[cfg_attr(test, ts(type = "number"))]
    pub ts_ms: i64,
    pub correlation_id: String,
    pub endpoint: String,
    pub requested_model: Option<String>,
    pub alias: Option<String>,
    pub target: Option<String>,
    pub provider: Option<String>,
    pub status: u16,
    pub error_type: Option<String>,
    pub latency_ms: f64,
    pub ttft_ms: Option<f64>,
    #[cfg_attr(test, ts(type = "number | null"))]
    pub input_tokens: Option<i64>,
    #[cfg_attr(test, ts(type = "number | null"))]
    pub output_tokens: Option<i64>,
    pub streamed: bool,
    pub client: Option<String>,
    pub tenant: Option<String>,
    pub cost_usd: Option<f64>,
}

/// A page of `GET /admin/requests`, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct RequestList {
    pub rows: Vec<RequestRow>,
    /// Pass as `cursor` for the next (older) page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// One step on the path a request took: a target tried (with its outcome and time) or a
/// routing note (e.g. a long-context reroute).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct Attempt {
    pub target: Option<String>,
    pub outcome: Option<String>,
    pub ms: Option<f64>,
    pub note: Option<String>,
}

/// Bodies kept with `[database] capture_bodies`, credentials redacted.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct CapturedBodies {
    /// The client's JSON body.
    pub request: Option<String>,
    /// The JSON answer, or for a stream the events as sent (`data: ...` lines).
    pub response: Option<String>,
    /// Either body was cut at `capture_max_kb`.
    pub truncated: bool,
}

/// `GET /admin/requests/{id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct RequestDetail {
    pub row: RequestRow,
    pub attempts: Vec<Attempt>,
    /// `None` when bodies were not captured for this request.
    pub bodies: Option<CapturedBodies>,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Alias,
    Target,
    Client,
}

impl GroupBy {
    pub fn column(self) -> &'static str {
        match self {
            GroupBy::Alias => "alias",
            GroupBy::Target => "target",
            GroupBy::Client => "client",
        }
    }
}

/// `GET /admin/stats`: `[from_ms, to_ms)` in buckets of `step_ms`, optionally per group.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[cfg_attr(test, derive(TS))]
pub struct StatsQuery {
    /// Default: 24 hours before `to_ms`.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub from_ms: Option<i64>,
    /// Default: now.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub to_ms: Option<i64>,
    /// Default: the smallest round step (1 s to 1 day) giving at most 60 buckets. At most
    /// 2,000 buckets. Whole-minute (hour) steps round `from_ms` down to the minute (hour).
    #[cfg_attr(test, ts(type = "number | null"))]
    pub step_ms: Option<i64>,
    pub group_by: Option<GroupBy>,
}

/// Counts and percentiles for one time bucket (and group), or for the whole range.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct StatsBucket {
    /// Bucket start (unix ms); the range start for totals.
    #[cfg_attr(test, ts(type = "number"))]
    pub t_ms: i64,
    /// The alias, target or client; `None` without grouping (or for rows without one).
    pub group: Option<String>,
    pub count: u32,
    /// Requests answered with a status from 400 on, or streams that failed after starting.
    pub errors: u32,
    pub latency_p50_ms: Option<f64>,
    pub latency_p95_ms: Option<f64>,
    pub ttft_p50_ms: Option<f64>,
    pub ttft_p95_ms: Option<f64>,
    #[cfg_attr(test, ts(type = "number"))]
    pub input_tokens: i64,
    #[cfg_attr(test, ts(type = "number"))]
    pub output_tokens: i64,
    pub cost_usd: f64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct Stats {
    #[cfg_attr(test, ts(type = "number"))]
    pub from_ms: i64,
    #[cfg_attr(test, ts(type = "number"))]
    pub to_ms: i64,
    #[cfg_attr(test, ts(type = "number"))]
    pub step_ms: i64,
    pub group_by: Option<GroupBy>,
    /// Only buckets with requests, ordered by time then group.
    pub buckets: Vec<StatsBucket>,
    pub totals: StatsBucket,
}

/// `POST /admin/login-links`: a one-time link to open the dashboard with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct LoginLink {
    /// Path and query, relative to the gateway's base URL (`/admin/login?code=...`).
    pub path: String,
    pub expires_in_s: u32,
}

/// `GET /admin/session`: who is calling and how to make state-changing calls.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct SessionInfo {
    /// `session` (the dashboard's cookie) or `bearer` (the admin secret or token).
    pub via: String,
    /// Send this header (any value) with POST/PUT/DELETE when using the cookie.
    pub csrf_header: String,
    /// The address the gateway listens on, as configured.
    pub listen: String,
    pub version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TypeScript the dashboard compiles against, from the types above.
    fn typescript() -> String {
        let mut out = String::from(
            "// Generated from crates/gateway/src/api.rs by `UPDATE_TS=1 cargo test -p switchboard-gateway --lib api`; do not edit.\n\n",
        );
        for decl in [
            RequestQuery::decl(),
            RequestRow::decl(),
            RequestList::decl(),
            Attempt::decl(),
            CapturedBodies::decl(),
            RequestDetail::decl(),
            GroupBy::decl(),
            StatsQuery::decl(),
            StatsBucket::decl(),
            Stats::decl(),
            LoginLink::decl(),
            SessionInfo::decl(),
            crate::events::GatewayEvent::decl(),
        ] {
            out.push_str("export ");
            out.push_str(&decl);
            out.push_str("\n\n");
        }
        out.trim_end().to_owned() + "\n"
    }

    #[test]
    fn generated_typescript_is_current() -> anyhow::Result<()> {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../ui/src/lib/api.gen.ts");
        let wanted = typescript();
        if std::env::var_os("UPDATE_TS").is_some() {
            std::fs::write(&path, &wanted)?;
        }
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            current == wanted,
            "{} is out of date: run `UPDATE_TS=1 cargo test -p switchboard-gateway --lib api`",
            path.display()
        );
        Ok(())
    }
}
