//! The config file's recent versions, for undo: the text each admin save replaced, kept as
//! plain files in `config-history/` beside the database (never in SQLite, which holds no copy
//! of the config). Each version is `<unix ms>-<revision>.toml` plus a `.json` with what replaced
//! it; the newest `KEEP` stay.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::file::{revision_of, write_atomic};
use crate::api::ConfigVersion;

/// How many versions are kept.
pub const KEEP: usize = 20;
/// How many recently read texts are remembered (in memory) for "what changed on disk".
const SEEN: usize = 8;
/// The folder's name beside the database.
pub const DIR: &str = "config-history";

/// What replaced a version (the `.json` beside its text).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Meta {
    at_unix_ms: u64,
    revision: String,
    summary: String,
}

pub struct History {
    dir: PathBuf,
    keep: usize,
    /// The text the last admin save wrote and when: if the next save finds other text, a hand
    /// edit replaced it, and this is the version the hand edit replaced.
    last_written: Mutex<Option<(String, u64)>>,
    /// Texts the editor read lately, by revision, so a stale edit can be shown what changed on
    /// disk since the version it started from.
    seen: Mutex<VecDeque<(String, String)>>,
}

impl History {
    /// The history beside `database_path` (`<data dir>/config-history/`).
    pub fn beside(database_path: &Path) -> History {
        let dir = database_path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join(DIR);
        History::new(dir, KEEP)
    }

    pub fn new(dir: PathBuf, keep: usize) -> History {
        History {
            dir,
            keep,
            last_written: Mutex::new(None),
            seen: Mutex::new(VecDeque::new()),
        }
    }

    /// Remembers `text` (read by the editor) under its revision.
    pub fn remember(&self, text: &str) {
        let revision = revision_of(text);
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.iter().any(|(r, _)| *r == revision) {
            return;
        }
        if seen.len() == SEEN {
            seen.pop_front();
        }
        seen.push_back((revision, text.to_owned()));
    }

    /// A text remembered (or kept) with `revision`.
    pub fn recall(&self, revision: &str) -> Option<String> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, text)) = seen.iter().find(|(r, _)| r == revision) {
            return Some(text.clone());
        }
        drop(seen);
        let last = self.last_written.lock().unwrap_or_else(|e| e.into_inner());
        last.as_ref()
            .filter(|(text, _)| revision_of(text) == revision)
            .map(|(text, _)| text.clone())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// After a save replaced `previous` with `new`: keeps `previous` (and, when a hand edit
    /// came between the last save and this one, the text that hand edit replaced), then prunes.
    pub fn saved(
        &self,
        previous: &str,
        new: &str,
        summary: &str,
        now_ms: u64,
    ) -> std::io::Result<()> {
        let mut last = self.last_written.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((written, at)) = last.as_ref() {
            if written != previous {
                // It was replaced after it was written: one ms later keeps the order.
                self.keep_version(written, "a hand edit", at + 1)?;
            }
        }
        self.keep_version(previous, summary, now_ms)?;
        *last = Some((new.to_owned(), now_ms));
        drop(last);
        self.prune()
    }

    fn keep_version(&self, text: &str, summary: &str, at_unix_ms: u64) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let revision = revision_of(text);
        let id = format!("{at_unix_ms:013}-{revision}");
        let meta = Meta {
            at_unix_ms,
            revision,
            summary: summary.to_owned(),
        };
        // The text first: a version is listed only once its metadata exists.
        write_atomic(&self.dir.join(format!("{id}.toml")), text)?;
        let json = serde_json::to_string(&meta).map_err(std::io::Error::other)?;
        write_atomic(&self.dir.join(format!("{id}.json")), &json)
    }

    /// Every kept version, newest first.
    pub fn list(&self) -> std::io::Result<Vec<ConfigVersion>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(id) = name.strip_suffix(".json") else {
                continue;
            };
            if let Some(version) = self.version(id) {
                out.push(version);
            }
        }
        out.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(out)
    }

    fn version(&self, id: &str) -> Option<ConfigVersion> {
        if !valid_id(id) {
            return None;
        }
        let meta: Meta = serde_json::from_str(
            &std::fs::read_to_string(self.dir.join(format!("{id}.json"))).ok()?,
        )
        .ok()?;
        let size = std::fs::metadata(self.dir.join(format!("{id}.toml")))
            .ok()?
            .len();
        Some(ConfigVersion {
            id: id.to_owned(),
            at_unix_ms: meta.at_unix_ms,
            revision: meta.revision,
            summary: meta.summary,
            size,
        })
    }

    /// One version and its text; `None` for an unknown (or malformed) id.
    pub fn read(&self, id: &str) -> Option<(ConfigVersion, String)> {
        let version = self.version(id)?;
        let text = std::fs::read_to_string(self.dir.join(format!("{id}.toml"))).ok()?;
        Some((version, text))
    }

    fn prune(&self) -> std::io::Result<()> {
        for old in self.list()?.into_iter().skip(self.keep) {
            for ext in ["toml", "json"] {
                let _ = std::fs::remove_file(self.dir.join(format!("{}.{ext}", old.id)));
            }
        }
        Ok(())
    }
}

/// Ids are digits, a dash and a hex revision: nothing that could name another path.
fn valid_id(id: &str) -> bool {
    let Some((ms, revision)) = id.split_once('-') else {
        return false;
    };
    !ms.is_empty()
        && ms.bytes().all(|b| b.is_ascii_digit())
        && !revision.is_empty()
        && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_and_the_text_a_hand_edit_replaced() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let history = History::new(dir.path().join(DIR), 3);
        history.saved("v1", "v2", "a changed", 1000)?;
        // A hand edit turned v2 into v2-hand; the next save keeps both.
        history.saved("v2-hand", "v3", "b changed", 2000)?;
        let list = history.list()?;
        let summaries: Vec<&str> = list.iter().map(|v| v.summary.as_str()).collect();
        assert_eq!(summaries, ["b changed", "a hand edit", "a changed"]);
        assert_eq!(
            history.read(&list[1].id).map(|(_, t)| t).as_deref(),
            Some("v2")
        );
        history.saved("v3", "v4", "c changed", 3000)?;
        assert_eq!(history.list()?.len(), 3, "pruned to the newest 3");
        assert!(history.read("../../etc/passwd").is_none());
        assert!(history.read("1-zz").is_none());
        history.remember("seen");
        assert_eq!(
            history.recall(&revision_of("seen")).as_deref(),
            Some("seen")
        );
        assert_eq!(
            history.recall(&revision_of("v4")).as_deref(),
            Some("v4"),
            "the last write"
        );
        assert_eq!(history.recall(&revision_of("never")), None);
        Ok(())
    }
}
