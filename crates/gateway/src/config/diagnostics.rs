//! Errors with a position in the config file, and the lookups that find those positions.

use std::fmt;

use toml_edit::{ImDocument, Item, Key, Value};

/// One problem in a config file, with a 1-based line and column (a wire type: the admin API
/// returns these as they are).
pub use crate::api::Diagnostic;

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

/// Every problem found in one config file. Displays as `file:line:col: message` lines.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    pub origin: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}:{}", self.origin, d)?;
        }
        Ok(())
    }
}

/// A step in a path through the document: a table key or an array index.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Finds where things are in the source text, so later checks can point at them.
pub struct Locator<'a> {
    text: &'a str,
    doc: Option<ImDocument<&'a str>>,
}

enum Node<'d> {
    Item(&'d Item),
    Value(&'d Value),
}

impl<'a> Locator<'a> {
    pub fn new(text: &'a str) -> Self {
        Locator {
            text,
            doc: ImDocument::parse(text).ok(),
        }
    }

    pub fn document(&self) -> Option<&ImDocument<&'a str>> {
        self.doc.as_ref()
    }

    pub fn diagnostic_at(&self, offset: usize, message: impl Into<String>) -> Diagnostic {
        let (line, col) = line_col(self.text, offset);
        Diagnostic {
            line,
            col,
            message: message.into(),
        }
    }

    /// Points at the value at `path`, or at the nearest part of it that exists.
    pub fn at(&self, path: &[Seg], message: impl Into<String>) -> Diagnostic {
        let offset = self.find(path, false).unwrap_or(0);
        self.diagnostic_at(offset, message)
    }

    /// Points at the key that ends `path` (for "unknown key" and "defined twice" errors).
    pub fn at_key(&self, path: &[Seg], message: impl Into<String>) -> Diagnostic {
        let offset = self.find(path, true).unwrap_or(0);
        self.diagnostic_at(offset, message)
    }

    fn find(&self, path: &[Seg], want_key: bool) -> Option<usize> {
        let doc = self.doc.as_ref()?;
        let mut node = Node::Item(doc.as_item());
        let mut best = None;
        for (i, seg) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            let (key, next): (Option<&Key>, Node) = match (seg, &node) {
                (Seg::Key(k), Node::Item(item)) => {
                    let Some((key, child)) = item.as_table_like().and_then(|t| t.get_key_value(k))
                    else {
                        break;
                    };
                    (Some(key), Node::Item(child))
                }
                (Seg::Key(k), Node::Value(Value::InlineTable(t))) => {
                    let Some((key, child)) = t.get_key_value(k) else {
                        break;
                    };
                    (Some(key), Node::Item(child))
                }
                (Seg::Index(n), Node::Item(Item::ArrayOfTables(a))) => {
                    let Some(table) = a.get(*n) else { break };
                    best = table.span().map(|s| s.start).or(best);
                    // Arrays of tables are rare in our schema; stop at the table itself.
                    return best;
                }
                (Seg::Index(n), Node::Item(Item::Value(Value::Array(a))))
                | (Seg::Index(n), Node::Value(Value::Array(a))) => {
                    let Some(child) = a.get(*n) else { break };
                    (None, Node::Value(child))
                }
                _ => break,
            };
            let value_span = match &next {
                Node::Item(item) => item.span(),
                Node::Value(value) => value.span(),
            };
            let key_span = key.and_then(|k| k.span());
            best = if last && want_key {
                key_span.or(value_span).map(|s| s.start).or(best)
            } else {
                value_span.or(key_span).map(|s| s.start).or(best)
            };
            node = next;
        }
        best
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

/// The candidate closest to `name` when it is close enough to be a likely typo or case drift.
pub fn closest<'c>(name: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    let lowered = name.to_lowercase();
    candidates
        .into_iter()
        .map(|c| {
            (
                c,
                strsim::normalized_damerau_levenshtein(&lowered, &c.to_lowercase()),
            )
        })
        .filter(|(_, score)| *score >= 0.6)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(c, _)| c)
}

/// The candidates closest to `name`, best first, at most `limit` of them.
pub fn closest_n<'c>(
    name: &str,
    candidates: impl IntoIterator<Item = &'c str>,
    limit: usize,
) -> Vec<&'c str> {
    let lowered = name.to_lowercase();
    let mut scored: Vec<(&str, f64)> = candidates
        .into_iter()
        .map(|c| {
            let lc = c.to_lowercase();
            let mut score = strsim::normalized_damerau_levenshtein(&lowered, &lc);
            if lc == lowered {
                score = 2.0;
            } else if lc.contains(&lowered) || lowered.contains(&lc) {
                score = score.max(0.75);
            }
            (c, score)
        })
        .filter(|(_, score)| *score >= 0.4)
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    scored.into_iter().take(limit).map(|(c, _)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one_in_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 9), (2, 3));
    }

    #[test]
    fn closest_finds_case_drift_and_typos() {
        let names = ["local/chat", "local/embed", "default"];
        assert_eq!(closest("Local/Chat", names), Some("local/chat"));
        assert_eq!(closest("defualt", names), Some("default"));
        assert_eq!(closest("zzzzzz", names), None);
        assert_eq!(closest_n("local/caht", names, 2)[0], "local/chat");
    }

    #[test]
    fn locator_points_at_nested_keys_and_array_items() {
        let text = "[aliases.x]\ntargets = [\"a/b\", { model = \"c/d\" }]\n";
        let loc = Locator::new(text);
        let d = loc.at(
            &[
                Seg::Key("aliases"),
                Seg::Key("x"),
                Seg::Key("targets"),
                Seg::Index(1),
            ],
            "m",
        );
        assert_eq!((d.line, d.col), (2, 19));
        let d = loc.at_key(
            &[Seg::Key("aliases"), Seg::Key("x"), Seg::Key("targets")],
            "m",
        );
        assert_eq!((d.line, d.col), (2, 1));
    }
}
