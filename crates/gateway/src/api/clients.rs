//! Wire types of the clients pages: client tokens, Connect a client ("set it up for me"),
//! access settings and the playground. A leaf like the rest of `api`.

use serde::{Deserialize, Serialize};
#[cfg(test)]
use ts_rs::TS;

use super::TokenLimits;

/// A client Switchboard has a setup for.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ClientKind {
    /// `opencode`, `claude`, `codex`, `continue`, `zed`, `aider`, `openwebui`, `curl`,
    /// `openai-python`, `openai-js`, `anthropic-python`.
    pub name: String,
    pub label: String,
    /// "Set it up for me" can write its config file.
    pub writable: bool,
    /// The file it reads, relative to the home directory, if it has one.
    pub file: Option<String>,
}

/// `GET /admin/connect`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ClientKindList {
    pub clients: Vec<ClientKind>,
    /// The URL clients should use, as this request reached the gateway.
    pub base_url: String,
    /// Client tokens exist, so clients need one.
    pub tokens_required: bool,
}

/// `GET /admin/connect/{client}` parameters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[cfg_attr(test, derive(TS))]
pub struct ConnectQuery {
    /// Default: the config's first alias.
    pub alias: Option<String>,
    /// A client token to fill in; absent: a placeholder (or none where the gateway needs none).
    pub token: Option<String>,
    /// Default: the URL the request came in on.
    pub base_url: Option<String>,
}

/// One file of a client's setup.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct SetupFile {
    /// Relative to the home directory (`.config/opencode/opencode.json`), or a name in the
    /// working directory for files without a fixed place.
    pub path: String,
    /// `json`, `toml`, `yaml`.
    pub format: String,
    pub content: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// Code to paste (a command, a script).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct Snippet {
    /// `shell`, `python`, `javascript`.
    pub format: String,
    pub text: String,
}

/// `GET /admin/connect/{client}`: a ready-to-paste setup.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConnectSetup {
    pub client: String,
    pub label: String,
    pub alias: String,
    /// The gateway's root URL (no `/v1`).
    pub base_url: String,
    /// The config file, when the client reads one (shown without the user's other entries).
    pub file: Option<SetupFile>,
    /// Variables to export before running the client.
    pub env: Vec<EnvVar>,
    pub snippet: Option<Snippet>,
    /// How to try it.
    pub run: String,
    pub notes: Vec<String>,
    pub writable: bool,
    /// No token was given though the gateway needs one: the setup carries a placeholder.
    pub token_placeholder: bool,
}

/// `POST /admin/connect/{client}/write`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConnectWrite {
    #[serde(default)]
    pub alias: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub base_url: Option<String>,
    /// Only compute the diff; nothing is written.
    #[serde(default)]
    pub dry_run: bool,
}

/// What "set it up for me" did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConnectWritten {
    pub client: String,
    /// The client's config file, absolute.
    pub path: String,
    /// Line diff from the current file (`- `, `+ `, `  ` prefixes).
    pub diff: String,
    /// The file would change.
    pub changed: bool,
    /// The file was written (false for `dry_run` or when nothing changed).
    pub written: bool,
    /// Where the previous file was copied, when there was one and it was replaced.
    pub backup: Option<String>,
    /// Still to export before running the client.
    pub env: Vec<EnvVar>,
    pub run: String,
}

/// One `[tokens.NAME]` entry as the Client tokens page lists it; never the token.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ClientTokenInfo {
    pub name: String,
    pub tenant: Option<String>,
    /// Aliases it may call; all when absent.
    pub aliases: Option<Vec<String>>,
    pub description: Option<String>,
    pub budget: Option<String>,
    pub limits: Option<TokenLimits>,
    /// RFC 3339, when the dashboard or `switchboard tokens create` made it.
    pub created: Option<String>,
    /// The newest request log row made with it.
    #[cfg_attr(test, ts(type = "number | null"))]
    pub last_used_ms: Option<i64>,
}

/// `GET /admin/clients`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ClientTokenList {
    /// The config file's revision (send it as `If-Match` to create or revoke).
    pub revision: String,
    pub tokens: Vec<ClientTokenInfo>,
}

/// `GET /admin/access`: who can reach the gateway, and how.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct AccessSettings {
    pub revision: String,
    /// The main listener (`listen`).
    pub listen: String,
    /// `server.cors_origins`: web origins whose pages may call the model API.
    pub cors_origins: Vec<String>,
    /// `server.allowed_hosts`: extra names the gateway may be reached by.
    pub allowed_hosts: Vec<String>,
    /// `server.lan_listen`: the second listener for LAN and containers; every call on it
    /// needs a client token.
    pub lan_listen: Option<String>,
    /// How many client tokens exist (the second listener is useless without one).
    pub tokens: u32,
}

/// `PUT /admin/access` (with `If-Match`): the new values; the rest of `[server]` is kept.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct AccessUpdate {
    #[serde(default)]
    pub cors_origins: Vec<String>,
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// Absent or empty: no second listener.
    #[serde(default)]
    pub lan_listen: Option<String>,
}

/// `POST /admin/playground`: one request through the real pipeline, logged with client
/// `dashboard`. The answer is the chat completions answer (streamed when `stream`), or for a
/// replay the answer of the logged request's own endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct PlaygroundRequest {
    pub alias: String,
    #[serde(default)]
    pub prompt: String,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub max_tokens: Option<u32>,
    #[serde(default)]
    pub stream: bool,
    /// Replay this request log row's captured body on `alias` instead of `prompt`.
    #[serde(default)]
    #[cfg_attr(test, ts(type = "number | null"))]
    pub replay_of: Option<i64>,
}

#[cfg(test)]
pub(super) fn typescript_decls() -> Vec<String> {
    vec![
        ClientKind::decl(),
        ClientKindList::decl(),
        ConnectQuery::decl(),
        SetupFile::decl(),
        EnvVar::decl(),
        Snippet::decl(),
        ConnectSetup::decl(),
        ConnectWrite::decl(),
        ConnectWritten::decl(),
        ClientTokenInfo::decl(),
        ClientTokenList::decl(),
        AccessSettings::decl(),
        AccessUpdate::decl(),
        PlaygroundRequest::decl(),
    ]
}
