//! Reading the file into the raw shape, with every unknown key reported. The raw structs deny
//! unknown fields, so serde itself knows the schema; serde stops at the first unknown key, so each
//! one found is reported (with the fields serde expected there), taken out, and the file read
//! again, until none is left. Nothing here restates which keys exist.

use serde_path_to_error::Segment;

use super::diagnostics::{closest, Diagnostic, Locator, Seg};
use super::raw::RawConfig;

/// More unknown keys than this in one file are not worth listing one by one.
const MAX_UNKNOWN: usize = 200;

/// A step of a path, owned (serde's paths outlive the document they came from).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Key(String),
    Index(usize),
}

/// The raw config, or `None` when it cannot be read (the reasons are in `errors`). Unknown keys
/// are reported in `errors` and the rest of the file is read without them, so the checks after
/// this one still run.
pub(super) fn read(
    text: &str,
    locator: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> Option<RawConfig> {
    let first = serde_path_to_error::deserialize::<_, RawConfig>(toml::Deserializer::new(text));
    let mut error = match first {
        Ok(raw) => return Some(raw),
        Err(e) => e,
    };
    // Re-reads go through a value tree (the keys found so far taken out); positions come from
    // the original text through each key's path.
    let mut root: Option<toml::Value> = None;
    for _ in 0..MAX_UNKNOWN {
        let path = parts(error.path());
        let message = error.inner().message().to_owned();
        let Some((key, expected)) = unknown_field(&message) else {
            let segs = segs(&path);
            match (root.is_some(), error.inner().span()) {
                // Straight from the text: the parser's own position.
                (false, Some(span)) => {
                    errors.push(locator.diagnostic_at(span.start, first_line(&message)))
                }
                _ => errors.push(locator.at(&segs, first_line(&message))),
            }
            return None;
        };
        let mut path = path;
        if path.last() != Some(&Part::Key(key.clone())) {
            path.push(Part::Key(key.clone()));
        }
        errors.push(locator.at_key(&segs(&path), describe(&key, &expected, &path)));
        let tree = match root.as_mut() {
            Some(tree) => tree,
            None => root.insert(toml::Value::Table(
                toml::from_str::<toml::Table>(text).ok()?,
            )),
        };
        if !remove(tree, &path) {
            return None;
        }
        match serde_path_to_error::deserialize::<_, RawConfig>(tree.clone()) {
            Ok(raw) => return Some(raw),
            Err(e) => error = e,
        }
    }
    None
}

/// `unknown field `x`, expected one of `a`, `b`` (serde's wording) → the key and the fields.
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    Some((key.to_owned(), expected))
}

fn describe(key: &str, expected: &[String], path: &[Part]) -> String {
    let mut message = format!("unknown key `{key}` in {}", section(path));
    match closest(key, expected.iter().map(String::as_str)) {
        Some(suggestion) => message.push_str(&format!("; did you mean `{suggestion}`?")),
        None => message.push_str(&format!("; expected one of: {}", expected.join(", "))),
    }
    message
}

/// Where a key sits, as a user reads the file: `the top level`, `[server]`, `[providers.x]`,
/// `target 2 of [aliases."x"]` (nested tables such as `timeouts` name their entry).
fn section(path: &[Part]) -> String {
    let keys: Vec<&str> = path[..path.len().saturating_sub(1)]
        .iter()
        .filter_map(|p| match p {
            Part::Key(k) => Some(k.as_str()),
            Part::Index(_) => None,
        })
        .collect();
    let entry = match keys.as_slice() {
        [] => return "the top level".to_owned(),
        [table] => format!("[{table}]"),
        // Alias names and price keys hold dots and slashes: always quoted.
        [table @ ("aliases" | "prices"), name, ..] => format!("[{table}.\"{name}\"]"),
        [table, name, ..] => format!("[{table}.{name}]"),
    };
    let target = match path {
        [Part::Key(a), _, Part::Key(t), Part::Index(i), ..] if a == "aliases" && t == "targets" => {
            Some(*i)
        }
        _ => None,
    };
    match target {
        Some(i) => format!("target {} of {entry}", i + 1),
        None => entry,
    }
}

fn parts(path: &serde_path_to_error::Path) -> Vec<Part> {
    path.iter()
        .filter_map(|segment| match segment {
            Segment::Map { key } => Some(Part::Key(key.clone())),
            Segment::Seq { index } => Some(Part::Index(*index)),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .collect()
}

fn segs(path: &[Part]) -> Vec<Seg<'_>> {
    path.iter()
        .map(|p| match p {
            Part::Key(k) => Seg::Key(k),
            Part::Index(i) => Seg::Index(*i),
        })
        .collect()
}

/// Takes the key at the end of `path` out of `root`; false if it is not there.
fn remove(root: &mut toml::Value, path: &[Part]) -> bool {
    let Some((Part::Key(last), parents)) = path.split_last() else {
        return false;
    };
    let mut node = root;
    for part in parents {
        let next = match (part, node) {
            (Part::Key(k), toml::Value::Table(t)) => t.get_mut(k),
            (Part::Index(i), toml::Value::Array(a)) => a.get_mut(*i),
            _ => None,
        };
        let Some(next) = next else { return false };
        node = next;
    }
    match node {
        toml::Value::Table(t) => t.remove(last).is_some(),
        _ => false,
    }
}

fn first_line(message: &str) -> String {
    message.lines().next().unwrap_or(message).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_wording_gives_the_key_and_the_expected_fields() {
        assert_eq!(
            unknown_field("unknown field `bse_url`, expected one of `kind`, `base_url`"),
            Some(("bse_url".into(), vec!["kind".into(), "base_url".into()]))
        );
        assert_eq!(
            unknown_field("unknown field `x`, expected `model`"),
            Some(("x".into(), vec!["model".into()]))
        );
        assert_eq!(
            unknown_field("unknown field `x`, there are no fields"),
            Some(("x".into(), vec![]))
        );
        assert_eq!(unknown_field("invalid type: string, expected u32"), None);
    }

    #[test]
    fn sections_are_named_as_the_file_reads() {
        let k = |s: &str| Part::Key(s.into());
        assert_eq!(section(&[k("listn")]), "the top level");
        assert_eq!(section(&[k("server"), k("x")]), "[server]");
        assert_eq!(
            section(&[k("providers"), k("a"), k("timeouts"), k("x")]),
            "[providers.a]"
        );
        assert_eq!(
            section(&[k("aliases"), k("a/b"), k("targets"), Part::Index(1), k("x")]),
            "target 2 of [aliases.\"a/b\"]"
        );
    }

    #[test]
    fn every_unknown_key_is_found_at_every_depth() {
        let text = concat!(
            "listn = 1\n[server]\nmax_body_mbb = 1\n[providers.p]\nkind = \"demo\"\n",
            "[providers.p.timeouts]\nconect_s = 1\n",
            "[aliases.a]\ntargets = [\"p/m\", { model = \"p/m\", wieght = 2, limits = { rpn = 1 } }]\n",
        );
        let locator = Locator::new(text);
        let mut errors = Vec::new();
        let raw = read(text, &locator, &mut errors);
        assert!(raw.is_some(), "{errors:?}");
        let shown: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 5, "{shown:?}");
        for (want, at) in [
            (
                "unknown key `listn` in the top level; did you mean `listen`?",
                "1:1",
            ),
            (
                "`max_body_mbb` in [server]; did you mean `max_body_mb`?",
                "3:1",
            ),
            (
                "`conect_s` in [providers.p]; did you mean `connect_s`?",
                "7:1",
            ),
            (
                "`wieght` in target 2 of [aliases.\"a\"]; did you mean `weight`?",
                "9:36",
            ),
            (
                "`rpn` in target 2 of [aliases.\"a\"]; did you mean `rpm`?",
                "9:59",
            ),
        ] {
            assert!(
                shown.iter().any(|s| s.starts_with(at) && s.contains(want)),
                "missing {at} {want:?} in {shown:?}"
            );
        }
    }
}
