//! The config editor's operations: the dry run (the change tried on the file's text, the
//! gateway's own validator run on the result, errors located at fields, a unified diff), saves
//! that keep the version they replaced, the version history and restore.

use std::path::Path;
use std::time::Instant;

use toml_edit::{ImDocument, Item, Value};

use super::{edit_error, AdminError, AdminService, ConfigChange};
use crate::api::{
    ChangeAction, ConfigHistory, ConfigPreview, ConfigPreviewRequest, ConfigVersionDocument,
    Diagnostic, FieldError, WriteOutcome,
};
use crate::config::{self, file::revision_of, Config};

/// A change written to the file: the config it makes, the text it replaced and the new text.
pub(crate) struct Written<T = ()> {
    pub config: Config,
    pub previous: String,
    pub new_text: String,
    /// What the change did, `aliases.chat created`: the replaced version's summary.
    pub summary: String,
    /// Whatever else the edit reports (the entries a discovery added).
    pub detail: T,
}

/// An edit of the file's text: the new text, what it did in words, and anything else it reports.
pub(crate) struct TextEdit<T = ()> {
    pub new_text: String,
    pub summary: String,
    pub detail: T,
}

fn read_text(path: &Path) -> Result<String, AdminError> {
    std::fs::read_to_string(path)
        .map_err(|e| AdminError::Io(format!("cannot read {}: {e}", path.display())))
}

fn check_revision(text: &str, expected: &str) -> Result<(), AdminError> {
    let current = revision_of(text);
    if current != expected {
        return Err(AdminError::StaleRevision {
            expected: expected.to_owned(),
            current,
        });
    }
    Ok(())
}

fn parse(text: &str, path: &Path) -> Result<Config, AdminError> {
    Config::parse(text, &path.display().to_string()).map_err(|e| AdminError::Invalid {
        message: e.to_string(),
        diagnostics: e.diagnostics,
    })
}

/// `text` with the change made (comments kept), and what it did in words.
pub(super) fn edited(
    text: &str,
    section: &str,
    name: &str,
    change: &ConfigChange,
) -> Result<(String, String), config::edit::EditError> {
    use config::edit::{write, WriteMode};
    let existed = config::edit::list(text, section)?
        .iter()
        .any(|(n, _)| n == name);
    let (new_text, verb) = match change {
        ConfigChange::Create(value) => (
            write(text, section, name, value, WriteMode::Create)?,
            "created",
        ),
        ConfigChange::Upsert(value) => (
            write(text, section, name, value, WriteMode::Upsert)?,
            if existed { "changed" } else { "created" },
        ),
        ConfigChange::Delete => (config::edit::remove(text, section, name)?, "deleted"),
    };
    Ok((new_text, format!("{section}.{} {verb}", toml_key(name))))
}

/// The one writer of the config file for every admin save: revision check, the edit (comments
/// kept), full validation, atomic write. Nothing is written unless every step passes.
pub(crate) fn write_edit<T>(
    path: &Path,
    expected_revision: &str,
    edit: impl FnOnce(&str) -> Result<TextEdit<T>, AdminError>,
) -> Result<Written<T>, AdminError> {
    let previous = read_text(path)?;
    check_revision(&previous, expected_revision)?;
    let TextEdit {
        new_text,
        summary,
        detail,
    } = edit(&previous)?;
    let config = parse(&new_text, path)?;
    config::file::write_atomic(path, &new_text)
        .map_err(|e| AdminError::Io(format!("cannot write {}: {e}", path.display())))?;
    Ok(Written {
        config,
        previous,
        new_text,
        summary,
        detail,
    })
}

/// One entry created, changed or deleted, through [`write_edit`].
pub(crate) fn write_change(
    path: &Path,
    section: &str,
    name: &str,
    change: ConfigChange,
    expected_revision: &str,
) -> Result<Written, AdminError> {
    write_edit(path, expected_revision, |text| {
        let (new_text, summary) = edited(text, section, name, &change).map_err(edit_error)?;
        Ok(TextEdit {
            new_text,
            summary,
            detail: (),
        })
    })
}

/// Unified diff of `before` → `after` (three lines of context), empty when they are equal.
pub fn unified_diff(before: &str, after: &str, from: &str, to: &str) -> String {
    if before == after {
        return String::new();
    }
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(from, to)
        .to_string()
}

/// The validator's diagnostics as errors at fields of `text` (the file after the change).
pub fn field_errors(text: &str, diagnostics: &[Diagnostic]) -> Vec<FieldError> {
    let doc = ImDocument::parse(text).ok();
    diagnostics
        .iter()
        .map(|d| FieldError {
            path: doc
                .as_ref()
                .and_then(|doc| offset_of(text, d.line, d.col).and_then(|o| field_at(doc, o))),
            message: d.message.clone(),
            line: d.line,
            col: d.col,
        })
        .collect()
}

/// A key as TOML writes it in a dotted path: bare when it can be, quoted otherwise.
pub fn toml_key(key: &str) -> String {
    let bare = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        key.to_owned()
    } else {
        format!("\"{}\"", key.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// Byte offset of a 1-based line and column (in characters).
fn offset_of(text: &str, line: usize, col: usize) -> Option<usize> {
    if line == 0 || col == 0 {
        return None;
    }
    let mut start = 0;
    for _ in 1..line {
        start += text[start..].find('\n')? + 1;
    }
    let rest = &text[start..];
    Some(
        start
            + rest
                .char_indices()
                .nth(col - 1)
                .map(|(i, _)| i)
                .unwrap_or(rest.len()),
    )
}

/// The dotted path of the smallest key or value whose span holds `offset`.
fn field_at(doc: &ImDocument<&str>, offset: usize) -> Option<String> {
    let mut best: Option<(usize, String)> = None;
    walk_item(doc.as_item(), String::new(), offset, &mut best);
    best.map(|(_, path)| path)
}

fn consider(
    span: Option<std::ops::Range<usize>>,
    path: &str,
    offset: usize,
    best: &mut Option<(usize, String)>,
) {
    let Some(span) = span else { return };
    if path.is_empty() || offset < span.start || offset >= span.end.max(span.start + 1) {
        return;
    }
    let len = span.end - span.start;
    if best.as_ref().is_none_or(|(l, _)| len <= *l) {
        *best = Some((len, path.to_owned()));
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        toml_key(key)
    } else {
        format!("{path}.{}", toml_key(key))
    }
}

fn walk_item(item: &Item, path: String, offset: usize, best: &mut Option<(usize, String)>) {
    match item {
        Item::Table(table) => {
            for (key, _) in table.iter() {
                if let Some((k, child)) = table.get_key_value(key) {
                    let child_path = join(&path, key);
                    consider(k.span(), &child_path, offset, best);
                    walk_item(child, child_path, offset, best);
                }
            }
        }
        Item::ArrayOfTables(tables) => {
            for (i, table) in tables.iter().enumerate() {
                let child_path = format!("{path}[{i}]");
                consider(table.span(), &child_path, offset, best);
                for (key, _) in table.iter() {
                    if let Some((k, child)) = table.get_key_value(key) {
                        let p = join(&child_path, key);
                        consider(k.span(), &p, offset, best);
                        walk_item(child, p, offset, best);
                    }
                }
            }
        }
        Item::Value(value) => walk_value(value, path, offset, best),
        Item::None => {}
    }
}

fn walk_value(value: &Value, path: String, offset: usize, best: &mut Option<(usize, String)>) {
    consider(value.span(), &path, offset, best);
    match value {
        Value::Array(array) => {
            for (i, v) in array.iter().enumerate() {
                walk_value(v, format!("{path}[{i}]"), offset, best);
            }
        }
        Value::InlineTable(table) => {
            for (key, _) in table.iter() {
                if let Some((k, child)) = table.get_key_value(key) {
                    let p = join(&path, key);
                    consider(k.span(), &p, offset, best);
                    walk_item(child, p, offset, best);
                }
            }
        }
        _ => {}
    }
}

impl AdminService {
    fn config_file(&self) -> Result<std::path::PathBuf, AdminError> {
        Ok(self
            .gateway
            .config_path()
            .ok_or(AdminError::NoFile)?
            .to_owned())
    }

    /// Tries a change on the file's current text without writing: the errors the gateway's
    /// validator finds in the result (at fields), and the diff.
    pub fn config_preview(
        &self,
        request: &ConfigPreviewRequest,
    ) -> Result<ConfigPreview, AdminError> {
        let path = self.config_file()?;
        let text = read_text(&path)?;
        let revision = revision_of(&text);
        let history = &self.gateway.inner.config_history;
        history.remember(&text);
        let stale = request
            .base_revision
            .as_deref()
            .is_some_and(|base| base != revision);
        let disk_diff = match request.base_revision.as_deref() {
            Some(base) if stale => history
                .recall(base)
                .map(|old| unified_diff(&old, &text, "the version you edited", "the file now"))
                .unwrap_or_default(),
            _ => String::new(),
        };
        let change = match request.action {
            ChangeAction::Create => ConfigChange::Create(request.value.clone()),
            ChangeAction::Upsert => ConfigChange::Upsert(request.value.clone()),
            ChangeAction::Delete => ConfigChange::Delete,
        };
        let entry = format!("{}.{}", request.section, toml_key(&request.name));
        let new_text = match edited(&text, &request.section, &request.name, &change) {
            Ok((new_text, _)) => new_text,
            Err(e) => {
                // The change cannot even be made (a name taken, not a table): no diff.
                return Ok(ConfigPreview {
                    ok: false,
                    errors: vec![FieldError {
                        path: Some(entry),
                        message: e.to_string(),
                        line: 0,
                        col: 0,
                    }],
                    diff: String::new(),
                    revision,
                    stale,
                    disk_diff,
                });
            }
        };
        let errors = match Config::parse(&new_text, &path.display().to_string()) {
            Ok(_) => Vec::new(),
            Err(e) => field_errors(&new_text, &e.diagnostics),
        };
        Ok(ConfigPreview {
            ok: errors.is_empty(),
            errors,
            diff: unified_diff(&text, &new_text, "config.toml (now)", "config.toml (after)"),
            revision,
            stale,
            disk_diff,
        })
    }

    /// Keeps the version a save replaced; a failure to keep it is logged, never fails the
    /// save (the file is already written).
    pub(crate) fn keep_replaced(&self, previous: &str, new_text: &str, summary: &str) {
        if let Err(e) = self.gateway.inner.config_history.saved(
            previous,
            new_text,
            summary,
            crate::clock::now_ms(),
        ) {
            tracing::warn!(
                error = %e,
                dir = %self.gateway.inner.config_history.dir().display(),
                "could not keep the replaced config version"
            );
        }
    }

    /// The kept versions, newest first.
    pub fn config_history(&self) -> Result<ConfigHistory, AdminError> {
        let text = read_text(&self.config_file()?)?;
        let versions = self.gateway.inner.config_history.list().map_err(|e| {
            AdminError::Io(format!(
                "cannot read {}: {e}",
                self.gateway.inner.config_history.dir().display()
            ))
        })?;
        Ok(ConfigHistory {
            revision: revision_of(&text),
            versions,
        })
    }

    /// One kept version with the diff restoring it would make.
    pub fn config_version(&self, id: &str) -> Result<ConfigVersionDocument, AdminError> {
        let current = read_text(&self.config_file()?)?;
        let (version, text) = self
            .gateway
            .inner
            .config_history
            .read(id)
            .ok_or_else(|| AdminError::NotFound(format!("no kept config version `{id}`")))?;
        Ok(ConfigVersionDocument {
            diff: unified_diff(
                &current,
                &text,
                "config.toml (now)",
                &format!("version {id}"),
            ),
            revision: revision_of(&current),
            version,
            text,
        })
    }

    /// Writes a kept version back (checked, validated and atomic like every save), keeping the
    /// text it replaces, so a restore is itself undoable.
    pub async fn restore_version(
        &self,
        id: &str,
        expected_revision: &str,
    ) -> Result<WriteOutcome, AdminError> {
        let (_, text) = self
            .gateway
            .inner
            .config_history
            .read(id)
            .ok_or_else(|| AdminError::NotFound(format!("no kept config version `{id}`")))?;
        let (outcome, ()) = self
            .save(expected_revision, |_| {
                Ok(TextEdit {
                    new_text: text,
                    summary: format!("restored {id}"),
                    detail: (),
                })
            })
            .await?;
        Ok(outcome)
    }

    /// The one way an admin save lands: under the config lock, through [`write_edit`], the
    /// replaced text kept for undo, and the new config made live at once.
    pub(crate) async fn save<T>(
        &self,
        expected_revision: &str,
        edit: impl FnOnce(&str) -> Result<TextEdit<T>, AdminError>,
    ) -> Result<(WriteOutcome, T), AdminError> {
        let _guard = self.gateway.inner.config_lock.lock().await;
        let started = Instant::now();
        let path = self.config_file()?;
        let written = write_edit(&path, expected_revision, edit)?;
        self.keep_replaced(&written.previous, &written.new_text, &written.summary);
        let revision = revision_of(&written.new_text);
        let reload = self
            .gateway
            .install(written.config, revision.clone(), started)
            .map_err(|e| AdminError::Io(e.to_string()))?;
        Ok((WriteOutcome { revision, reload }, written.detail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diag(line: usize, col: usize) -> Diagnostic {
        Diagnostic {
            line,
            col,
            message: "m".into(),
        }
    }

    #[test]
    fn diagnostics_land_on_the_field_they_point_at() {
        let text = "[aliases.\"local/chat\"]\ntargets = [\"a/b\", { model = \"c/d\", weight = 2 }]\nstrategy = \"x\"\n";
        let paths: Vec<Option<String>> = field_errors(
            text,
            &[
                diag(2, 12),
                diag(2, 29),
                diag(2, 1),
                diag(3, 12),
                diag(0, 0),
            ],
        )
        .into_iter()
        .map(|e| e.path)
        .collect();
        assert_eq!(
            paths,
            [
                Some("aliases.\"local/chat\".targets[0]".to_owned()),
                Some("aliases.\"local/chat\".targets[1].model".to_owned()),
                Some("aliases.\"local/chat\".targets".to_owned()),
                Some("aliases.\"local/chat\".strategy".to_owned()),
                None,
            ]
        );
    }

    #[test]
    fn diff_is_unified_and_empty_for_no_change() {
        assert_eq!(unified_diff("a\n", "a\n", "x", "y"), "");
        let diff = unified_diff("a\nb\n", "a\nc\n", "now", "after");
        assert!(diff.starts_with("--- now\n+++ after\n@@"), "{diff}");
        assert!(diff.contains("-b\n+c\n"), "{diff}");
    }
}
