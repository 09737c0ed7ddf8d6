//! Wire types of the config editor: the dry run (`POST /admin/config/preview`) and the version
//! history (`/admin/config/history`).

use serde::{Deserialize, Serialize};
#[cfg(test)]
use ts_rs::TS;

/// What a change does to its entry.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    /// Fails if the entry exists (as `POST /admin/config/{section}`).
    Create,
    /// Creates or replaces (as `PUT /admin/config/{section}/{name}`).
    #[default]
    Upsert,
    Delete,
}

/// `POST /admin/config/preview`: the change a write would make, tried without writing.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConfigPreviewRequest {
    pub section: String,
    pub name: String,
    #[serde(default)]
    pub action: ChangeAction,
    /// The entry's new value (ignored for `delete`).
    #[serde(default)]
    #[schema(value_type = Object)]
    #[cfg_attr(test, ts(type = "unknown"))]
    pub value: serde_json::Value,
    /// The revision the editor's copy is based on; `stale` says whether the file moved since.
    #[serde(default)]
    pub base_revision: Option<String>,
}

/// One problem the change would cause, at a field the editor can mark.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct FieldError {
    /// The field, e.g. `aliases.default.targets[0].model`; `None` when the problem has no place
    /// in the file (a missing section, an unreadable price file).
    pub path: Option<String>,
    pub message: String,
    /// 1-based, in the file as it would be after the change (0 when there is no place).
    pub line: usize,
    pub col: usize,
}

/// The answer to a dry run: nothing was written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConfigPreview {
    /// True when the change would be accepted.
    pub ok: bool,
    pub errors: Vec<FieldError>,
    /// Unified diff of the file before → after (empty when the change changes nothing).
    pub diff: String,
    /// The revision of the file the change was tried on (send it as `If-Match` to save).
    pub revision: String,
    /// True when `base_revision` was given and the file has changed since.
    pub stale: bool,
    /// With `stale`: what changed on disk since `base_revision` (unified diff), when the gateway
    /// still has that version; empty otherwise.
    pub disk_diff: String,
}

/// One kept version of the config file: the text a save (or a hand edit) replaced.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConfigVersion {
    /// `<unix ms>-<revision>`, the name of its file in `config-history/`.
    pub id: String,
    /// When this text was replaced.
    #[cfg_attr(test, ts(type = "number"))]
    pub at_unix_ms: u64,
    /// The revision of this text.
    pub revision: String,
    /// What replaced it: `aliases.chat changed`, `restored <id>`, `a hand edit`.
    pub summary: String,
    /// Bytes.
    #[cfg_attr(test, ts(type = "number"))]
    pub size: u64,
}

/// `GET /admin/config/history`: newest first, at most 20.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConfigHistory {
    /// The file's revision now.
    pub revision: String,
    pub versions: Vec<ConfigVersion>,
}

/// `GET /admin/config/history/{id}`: one version's text and what restoring it would change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
#[cfg_attr(test, derive(TS))]
pub struct ConfigVersionDocument {
    pub version: ConfigVersion,
    pub text: String,
    /// Unified diff of the current file → this version.
    pub diff: String,
    /// The file's revision now (send it as `If-Match` to restore).
    pub revision: String,
}

#[cfg(test)]
pub(crate) fn decls() -> Vec<String> {
    vec![
        ChangeAction::decl(),
        ConfigPreviewRequest::decl(),
        FieldError::decl(),
        ConfigPreview::decl(),
        ConfigVersion::decl(),
        ConfigHistory::decl(),
        ConfigVersionDocument::decl(),
    ]
}
