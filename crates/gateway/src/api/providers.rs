//! Wire types of the providers vertical: a backend's own model list, "test connection",
//! local-server discovery and the Copilot device login.

use serde::{Deserialize, Serialize};
#[cfg(test)]
use ts_rs::TS;

use super::ReloadOutcome;

/// One model as the backend lists it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct BackendModel {
    pub id: String,
    /// The prompt window the backend reports for it, when it reports one.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub max_input_tokens: Option<u64>,
}

/// `GET /admin/providers/{name}/models`: the backend's own list, or why it cannot be read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct BackendModels {
    pub models: Vec<BackendModel>,
    pub error: Option<String>,
}

/// One step of a connection test.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConnectionStep {
    /// `dns`, `tcp`, `tls`, `http` (the models endpoint with the key), or `local` (demo).
    pub step: String,
    /// `ok`, `warning` or `error`.
    pub severity: String,
    pub summary: String,
    /// What to do about it, in words.
    pub fix: Option<String>,
    pub latency_ms: Option<f64>,
}

/// `POST /admin/providers/{name}/test` and `POST /admin/providers/test`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConnectionTest {
    pub provider: String,
    pub kind: String,
    /// The URL the HTTP step asked.
    pub url: Option<String>,
    /// No step failed (warnings allowed).
    pub ok: bool,
    pub steps: Vec<ConnectionStep>,
    /// The server's `Date` header (Unix seconds), for clock-skew checks.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub server_date_unix: Option<i64>,
}

/// `POST /admin/providers/test`: a provider that is not saved yet, as its config entry.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct UnsavedProvider {
    /// Shown in the answer; `new` when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// The entry as it would be written under `[providers.NAME]`.
    #[schema(value_type = Object)]
    #[cfg_attr(test, ts(type = "unknown"))]
    pub value: serde_json::Value,
    /// A key typed in the dialog but not stored yet: used for this test only, never stored,
    /// logged or returned. Absent: the key `api_key` names is read.
    #[serde(default)]
    pub key: Option<String>,
}

/// `GET /admin/discover` query: where to look besides the usual places.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[cfg_attr(test, derive(TS))]
pub struct DiscoverQuery {
    /// `NAME=PORT,...` instead of the usual ports (e.g. `ollama=11434,vllm=8000`).
    pub ports: Option<String>,
    /// Extra hosts to scan besides loopback and the config's own, comma separated.
    pub hosts: Option<String>,
    /// Milliseconds each server may take (default 1500).
    #[cfg_attr(test, ts(type = "number | null"))]
    pub timeout_ms: Option<u64>,
}

/// A local server that answered, with its models.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct FoundServer {
    /// `ollama`, `llamacpp`, `vllm`, `lmstudio`, `jan`, or `openai` for others.
    pub server: String,
    pub label: String,
    pub base_url: String,
    pub models: Vec<String>,
    /// The config's provider that already points here.
    pub provider: Option<String>,
}

/// A config entry discovery proposes (a provider or an alias).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ProposedEntry {
    /// `providers` or `aliases`.
    pub section: String,
    pub name: String,
    /// The server (`base_url`) it is for.
    pub base_url: String,
    #[schema(value_type = Object)]
    #[cfg_attr(test, ts(type = "unknown"))]
    pub value: serde_json::Value,
}

/// `GET /admin/discover`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct DiscoverReport {
    /// Every base URL asked.
    pub scanned: Vec<String>,
    pub servers: Vec<FoundServer>,
    /// What `POST /admin/discover/add` would write, against the config's current revision.
    pub proposed: Vec<ProposedEntry>,
    pub revision: Option<String>,
}

/// `POST /admin/discover/add`: the chosen entries of a `DiscoverReport`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct DiscoverAdd {
    pub entries: Vec<ProposedEntry>,
}

/// What `POST /admin/discover/add` wrote.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct DiscoverAdded {
    /// `section.name` of every entry written.
    pub added: Vec<String>,
    pub revision: String,
    pub reload: ReloadOutcome,
}

/// `POST /admin/copilot/login`: which `github_copilot` provider (the only one when absent).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct CopilotLoginStart {
    #[serde(default)]
    pub provider: Option<String>,
}

/// A GitHub device login under way or finished.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct CopilotLogin {
    /// Poll `GET /admin/copilot/login/{id}` with it.
    pub id: String,
    pub provider: String,
    /// Enter this at `verification_uri`.
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in_s: u32,
    /// `pending`, `done` or `failed`.
    pub state: String,
    pub error: Option<String>,
    /// Where the GitHub token went (`keychain:NAME`), once stored.
    pub stored_in: Option<String>,
}

/// The TypeScript declarations of this file, for `api::tests::typescript`.
#[cfg(test)]
pub(super) fn ts_decls() -> Vec<String> {
    vec![
        BackendModel::decl(),
        BackendModels::decl(),
        ConnectionStep::decl(),
        ConnectionTest::decl(),
        UnsavedProvider::decl(),
        DiscoverQuery::decl(),
        FoundServer::decl(),
        ProposedEntry::decl(),
        DiscoverReport::decl(),
        DiscoverAdd::decl(),
        DiscoverAdded::decl(),
        CopilotLoginStart::decl(),
        CopilotLogin::decl(),
    ]
}
