//! Edits to named entries of the config file (`[providers.NAME]`, `[aliases."NAME"]`, ...) through
//! `toml_edit`, so comments, ordering and formatting of everything else stay byte-identical.
//! These functions only transform text; validation and writing are the admin service's job.

use serde_json::Value as Json;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Table, Value};

/// Top-level sections whose entries are named tables the admin API may edit.
pub const SECTIONS: &[&str] = &[
    "providers",
    "aliases",
    "tokens",
    "tenants",
    "budgets",
    "prices",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error("`{0}` is not an editable section; expected one of: {list}", list = SECTIONS.join(", "))]
    UnknownSection(String),
    #[error("{section}.{name} does not exist")]
    NotFound { section: String, name: String },
    #[error("{section}.{name} already exists")]
    AlreadyExists { section: String, name: String },
    #[error("{0}")]
    InvalidValue(String),
    #[error("the config file is not valid TOML: {0}")]
    Unparsable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// Fails if the entry exists.
    Create,
    /// Creates or replaces.
    Upsert,
}

fn check_section(section: &str) -> Result<(), EditError> {
    if SECTIONS.contains(&section) {
        Ok(())
    } else {
        Err(EditError::UnknownSection(section.to_owned()))
    }
}

/// Every entry of `section` as JSON, in file order.
pub fn list(text: &str, section: &str) -> Result<Vec<(String, Json)>, EditError> {
    check_section(section)?;
    let doc: toml::Table =
        toml::from_str(text).map_err(|e| EditError::Unparsable(e.message().to_owned()))?;
    let Some(toml::Value::Table(entries)) = doc.get(section) else {
        return Ok(Vec::new());
    };
    let order = file_order(text, section);
    let mut out: Vec<(String, Json)> = entries
        .iter()
        .map(|(name, value)| {
            (
                name.clone(),
                serde_json::to_value(value).unwrap_or(Json::Null),
            )
        })
        .collect();
    out.sort_by_key(|(name, _)| order.iter().position(|n| n == name).unwrap_or(usize::MAX));
    Ok(out)
}

fn file_order(text: &str, section: &str) -> Vec<String> {
    let Ok(doc) = text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    doc.get(section)
        .and_then(Item::as_table_like)
        .map(|t| t.iter().map(|(k, _)| k.to_owned()).collect())
        .unwrap_or_default()
}

/// Writes `value` (a JSON object) as `section.name`. Keys whose value is unchanged are left
/// untouched, changed ones keep their comments, removed ones go.
pub fn write(
    text: &str,
    section: &str,
    name: &str,
    value: &Json,
    mode: WriteMode,
) -> Result<String, EditError> {
    check_section(section)?;
    let Json::Object(fields) = value else {
        return Err(EditError::InvalidValue(format!(
            "{section}.{name} must be a JSON object"
        )));
    };
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Unparsable(e.message().to_owned()))?;
    let root = doc.as_table_mut();
    if !root.contains_key(section) {
        let mut table = Table::new();
        table.set_implicit(true);
        root.insert(section, Item::Table(table));
    }
    let Some(entries) = root.get_mut(section).and_then(Item::as_table_like_mut) else {
        return Err(EditError::InvalidValue(format!(
            "`{section}` in the config is not a table"
        )));
    };
    match entries.get_mut(name) {
        Some(existing) => {
            if mode == WriteMode::Create {
                return Err(EditError::AlreadyExists {
                    section: section.to_owned(),
                    name: name.to_owned(),
                });
            }
            merge_item(existing, fields)?;
        }
        None => {
            let mut table = Table::new();
            for (key, field) in fields {
                if let Some(v) = to_toml(field)? {
                    table.insert(key, Item::Value(v));
                }
            }
            entries.insert(name, Item::Table(table));
        }
    }
    Ok(doc.to_string())
}

/// Removes `section.name`.
pub fn remove(text: &str, section: &str, name: &str) -> Result<String, EditError> {
    check_section(section)?;
    let mut doc: DocumentMut = text
        .parse()
        .map_err(|e: toml_edit::TomlError| EditError::Unparsable(e.message().to_owned()))?;
    let removed = doc
        .get_mut(section)
        .and_then(Item::as_table_like_mut)
        .and_then(|entries| entries.remove(name));
    if removed.is_none() {
        return Err(EditError::NotFound {
            section: section.to_owned(),
            name: name.to_owned(),
        });
    }
    Ok(doc.to_string())
}

fn merge_item(item: &mut Item, fields: &serde_json::Map<String, Json>) -> Result<(), EditError> {
    match item {
        Item::Table(table) => {
            let stale: Vec<String> = table
                .iter()
                .map(|(k, _)| k.to_owned())
                .filter(|k| !fields.contains_key(k))
                .collect();
            for key in stale {
                table.remove(&key);
            }
            for (key, field) in fields {
                match table.get_mut(key) {
                    Some(Item::Table(_)) | Some(Item::Value(Value::InlineTable(_)))
                        if field.is_object() =>
                    {
                        if let (Some(child), Json::Object(sub)) = (table.get_mut(key), field) {
                            merge_item(child, sub)?;
                        }
                    }
                    Some(Item::Value(old)) => {
                        if replace_value(old, field)?.is_none() {
                            table.remove(key);
                        }
                    }
                    _ => {
                        if let Some(v) = to_toml(field)? {
                            table.insert(key, Item::Value(v));
                        } else {
                            table.remove(key);
                        }
                    }
                }
            }
            Ok(())
        }
        Item::Value(Value::InlineTable(inline)) => merge_inline(inline, fields),
        _ => Err(EditError::InvalidValue(
            "the existing entry is not a table".into(),
        )),
    }
}

fn merge_inline(
    table: &mut InlineTable,
    fields: &serde_json::Map<String, Json>,
) -> Result<(), EditError> {
    let stale: Vec<String> = table
        .iter()
        .map(|(k, _)| k.to_owned())
        .filter(|k| !fields.contains_key(k))
        .collect();
    for key in stale {
        table.remove(&key);
    }
    for (key, field) in fields {
        match table.get_mut(key) {
            Some(Value::InlineTable(child)) if field.is_object() => {
                if let Json::Object(sub) = field {
                    merge_inline(child, sub)?;
                }
            }
            Some(old) => {
                if replace_value(old, field)?.is_none() {
                    table.remove(key);
                }
            }
            None => {
                if let Some(v) = to_toml(field)? {
                    table.insert(key, v);
                }
            }
        }
    }
    Ok(())
}

/// Replaces `old` with `field` unless they are equal, keeping `old`'s comments and spacing.
/// Returns `None` when `field` is null (the key should be removed).
fn replace_value(old: &mut Value, field: &Json) -> Result<Option<()>, EditError> {
    let Some(mut new) = to_toml(field)? else {
        return Ok(None);
    };
    if value_to_json(old).as_ref() == Some(field) {
        return Ok(Some(()));
    }
    *new.decor_mut() = old.decor().clone();
    *old = new;
    Ok(Some(()))
}

fn value_to_json(value: &Value) -> Option<Json> {
    let table: toml::Table = toml::from_str(&format!("v = {}", value.to_string().trim())).ok()?;
    table.get("v").and_then(|v| serde_json::to_value(v).ok())
}

/// JSON to TOML. `null` means "absent" and yields `None`.
fn to_toml(json: &Json) -> Result<Option<Value>, EditError> {
    Ok(Some(match json {
        Json::Null => return Ok(None),
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(f)) => Value::from(f),
            _ => {
                return Err(EditError::InvalidValue(format!(
                    "number {n} does not fit in TOML"
                )))
            }
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => {
            let mut array = Array::new();
            for item in items {
                match to_toml(item)? {
                    Some(v) => array.push_formatted(v),
                    None => return Err(EditError::InvalidValue("arrays cannot hold null".into())),
                }
            }
            array.fmt();
            Value::Array(array)
        }
        Json::Object(fields) => {
            let mut table = InlineTable::new();
            for (key, field) in fields {
                if let Some(v) = to_toml(field)? {
                    table.insert(key, v);
                }
            }
            table.fmt();
            Value::InlineTable(table)
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const COMMENTED: &str = r#"# Top comment, kept.
listen = "127.0.0.1:4000"   # trailing, kept

# The demo provider.
[providers.demo]
kind = "demo"

# Chat alias: keep this comment.
[aliases."local/chat"]
description = "chat"   # why it exists
targets = ["demo/a"]   # primary
# fallbacks go here

[aliases.other]
targets = ["demo/b"]
"#;

    #[test]
    fn updating_one_value_keeps_every_comment_and_the_rest_byte_identical() -> Result<(), EditError>
    {
        let out = write(
            COMMENTED,
            "aliases",
            "local/chat",
            &json!({"description": "chat", "targets": ["demo/a", "demo/c"]}),
            WriteMode::Upsert,
        )?;
        let expected = COMMENTED.replace(
            r#"targets = ["demo/a"]   # primary"#,
            r#"targets = ["demo/a", "demo/c"]   # primary"#,
        );
        assert_eq!(out, expected);
        Ok(())
    }

    #[test]
    fn unchanged_write_is_a_no_op() -> Result<(), EditError> {
        let entries = list(COMMENTED, "aliases")?;
        let (name, value) = &entries[0];
        assert_eq!(name, "local/chat");
        assert_eq!(
            write(COMMENTED, "aliases", name, value, WriteMode::Upsert)?,
            COMMENTED
        );
        Ok(())
    }

    #[test]
    fn create_adds_a_table_and_refuses_duplicates() -> Result<(), EditError> {
        let out = write(
            COMMENTED,
            "aliases",
            "new/one",
            &json!({"targets": ["demo/x"], "timeouts": null}),
            WriteMode::Create,
        )?;
        assert!(
            out.starts_with(COMMENTED.trim_end()),
            "existing text unchanged:\n{out}"
        );
        assert!(
            out.contains("[aliases.\"new/one\"]\ntargets = [\"demo/x\"]"),
            "{out}"
        );
        let again = write(
            &out,
            "aliases",
            "new/one",
            &json!({"targets": []}),
            WriteMode::Create,
        );
        assert!(matches!(again, Err(EditError::AlreadyExists { .. })));
        Ok(())
    }

    #[test]
    fn removed_keys_and_entries_disappear() -> Result<(), EditError> {
        let out = write(
            COMMENTED,
            "aliases",
            "local/chat",
            &json!({"targets": ["demo/a"]}),
            WriteMode::Upsert,
        )?;
        assert!(!out.contains("description"));
        assert!(out.contains("# Chat alias: keep this comment."));
        let out = remove(&out, "aliases", "other")?;
        assert!(!out.contains("[aliases.other]"));
        assert!(matches!(
            remove(&out, "aliases", "other"),
            Err(EditError::NotFound { .. })
        ));
        assert!(matches!(
            list(&out, "server"),
            Err(EditError::UnknownSection(_))
        ));
        Ok(())
    }
}
