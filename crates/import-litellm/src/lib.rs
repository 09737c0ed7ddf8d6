//! `switchboard import litellm`: translates a LiteLLM proxy `config.yaml` into a Switchboard
//! config, plus a report of everything that did not translate one to one.
//!
//! Rules the importer keeps:
//! - The output always passes Switchboard's own validation (checked before returning).
//! - Nothing is dropped silently: every key that is not translated gets a report note.
//! - Key values never leave the importer: a literal `api_key`, `master_key` or anything else that
//!   may hold a secret is neither written to the output nor quoted in the report. Only references
//!   (`os.environ/VAR` → `env:VAR`), variable names and client keys' SHA-256 digests are.
//! - What Switchboard cannot speak yet (Azure, Bedrock, ...) is kept as a commented-out block
//!   at the end of the output, never as invalid TOML.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_yaml_ng::{Mapping, Value};
use toml_edit::{value, Array, DocumentMut, InlineTable, Item, Table};

mod budgets;
mod fallbacks;
mod model;
mod model_list;
mod providers;
mod render;
mod resolve;
mod routing;
mod settings;
mod sources;
mod util;
mod values;

use model::*;
use providers::*;
use routing::*;
use util::*;

/// The translated config and what the user should know about it.
#[derive(Debug, Clone)]
pub struct ImportOutcome {
    /// A complete Switchboard config (TOML) that passes `Config::parse`.
    pub toml: String,
    /// Everything that was not translated one to one, in the order found.
    pub report: Vec<ImportNote>,
}

/// One report line: where in the LiteLLM config, and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportNote {
    /// Location in the LiteLLM config, e.g. `model_list[3].litellm_params.rpm`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for ImportNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Optional details for the header comment of the output.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The file imported, as the user named it (shown in the header comment).
    pub source: Option<String>,
    /// The import date for the header comment; today (UTC) when `None`.
    pub date: Option<time::Date>,
    /// Where `os.environ/VAR` master keys are looked up; `None` reads the process environment.
    pub env: Option<std::collections::BTreeMap<String, String>>,
    /// A running LiteLLM's `/model/info` answer, merged with the file's `model_list`.
    pub remote: Option<RemoteModels>,
    /// LiteLLM's master key as given for `--from-url`: a client token when the file sets none.
    pub master_key: Option<MasterKey>,
    /// A LiteLLM virtual-key export (JSON or YAML rows of `LiteLLM_VerificationToken`).
    pub keys: Option<KeysExport>,
}

/// The body of `GET /model/info` from a running LiteLLM, and the URL it came from.
#[derive(Debug, Clone)]
pub struct RemoteModels {
    pub url: String,
    pub body: String,
}

/// LiteLLM's master key: the reference it was read from (`env:VAR`, `file:PATH`, ...) and its
/// value, which only its SHA-256 leaves the importer as.
#[derive(Debug, Clone)]
pub struct MasterKey {
    pub reference: String,
    pub value: switchboard_gateway::secret::Secret<String>,
}

/// A virtual-key export file's text and name.
#[derive(Debug, Clone)]
pub struct KeysExport {
    pub source: String,
    pub text: String,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ImportError {
    #[error("not valid YAML{}: {message}", position(.line, .column))]
    Yaml {
        /// 1-based, when the parser knows it.
        line: Option<usize>,
        column: Option<usize>,
        message: String,
    },
    #[error("the file is empty: nothing to import")]
    Empty,
    #[error("not a LiteLLM config: the top level must be a mapping with a `model_list`, not {0}")]
    NotAMapping(&'static str),
    #[error("no `model_list` found: a LiteLLM proxy config lists its models under `model_list:`")]
    NoModelList,
    #[error("`model_list` must be a list of deployments (`- model_name: ...`), not {0}")]
    ModelListNotAList(&'static str),
    #[error("`model_list` is empty: nothing to import")]
    EmptyModelList,
    #[error("the /model/info answer from {url} is not LiteLLM's (`{{\"data\": [{{\"model_name\": ..., \"litellm_params\": ...}}]}}`): {message}")]
    ModelInfo { url: String, message: String },
    #[error("{file}: not a LiteLLM virtual-key export (a JSON or YAML list of keys with `token`, `key_alias`, `models`, ...): {message}")]
    Keys { file: String, message: String },
    /// A bug in the importer: it produced a config Switchboard rejects.
    #[error("the imported config did not pass Switchboard's validation (this is a bug in the importer; please report it):\n{0}")]
    Invalid(String),
}

fn position(line: &Option<usize>, column: &Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(" at line {line}, column {column}"),
        (Some(line), None) => format!(" at line {line}"),
        _ => String::new(),
    }
}

/// Translates a LiteLLM proxy config (YAML text) into a Switchboard config.
pub fn import_litellm(yaml: &str) -> Result<ImportOutcome, ImportError> {
    import_litellm_with(yaml, &ImportOptions::default())
}

/// [`import_litellm`] with the source name and date for the header comment.
pub fn import_litellm_with(
    yaml: &str,
    options: &ImportOptions,
) -> Result<ImportOutcome, ImportError> {
    import_litellm_sources(Some(yaml), options)
}

/// Imports a LiteLLM config file, a running LiteLLM's models (`options.remote`), or both, with
/// the virtual keys of `options.keys`.
pub fn import_litellm_sources(
    yaml: Option<&str>,
    options: &ImportOptions,
) -> Result<ImportOutcome, ImportError> {
    let root = match yaml.map(parse_yaml).transpose()? {
        Some(Value::Mapping(map)) => map,
        Some(Value::Null) if options.remote.is_none() => return Err(ImportError::Empty),
        None | Some(Value::Null) => Mapping::new(),
        Some(other) => return Err(ImportError::NotAMapping(type_name(&other))),
    };
    let remote = options.remote.is_some();
    let list: &[Value] = match root.get("model_list") {
        None | Some(Value::Null) if remote => &[],
        None | Some(Value::Null) => return Err(ImportError::NoModelList),
        Some(Value::Sequence(list)) if list.is_empty() && !remote => {
            return Err(ImportError::EmptyModelList)
        }
        Some(Value::Sequence(list)) => list,
        Some(other) => return Err(ImportError::ModelListNotAList(type_name(other))),
    };

    let mut importer = Importer {
        env: options.env.clone(),
        ..Importer::default()
    };
    let mut entries: Vec<(String, Value)> = list
        .iter()
        .enumerate()
        .map(|(i, entry)| (format!("model_list[{i}]"), entry.clone()))
        .collect();
    if let Some(remote) = &options.remote {
        importer.remote_models(remote, &mut entries)?;
    }
    for (path, entry) in &entries {
        importer.remote_entry = path.starts_with(sources::REMOTE_PATH);
        importer.entry(path, entry);
    }
    importer.remote_entry = false;
    importer.alias_notes();
    for (key, section) in &root {
        let name = key_text(key);
        match name.as_str() {
            "model_list" => {}
            "router_settings" => importer.router_settings(section),
            "litellm_settings" => importer.litellm_settings(section),
            "general_settings" => importer.general_settings(section),
            "environment_variables" => importer.environment_variables(section),
            "include" => importer.note(
                "include",
                "included files are not followed: import each of them on its own and merge the results",
            ),
            other => importer.note(
                other,
                format!("top-level section `{other}` not imported: Switchboard has no equivalent"),
            ),
        }
    }
    importer.resolve_fallbacks();
    importer.add_group_aliases();
    importer.routing_notes();
    if let Some(master_key) = &options.master_key {
        importer.given_master_key(master_key);
    }
    if let Some(keys) = &options.keys {
        importer.virtual_keys(keys)?;
    }
    importer.assign_budgets();
    importer.name_literal_keys();

    let toml = importer.render(options);
    if let Err(e) = switchboard_gateway::config::Config::parse(&toml, "imported config") {
        return Err(ImportError::Invalid(e.to_string()));
    }
    Ok(ImportOutcome {
        toml,
        report: importer.notes,
    })
}

fn parse_yaml(yaml: &str) -> Result<Value, ImportError> {
    let yaml_error = |e: serde_yaml_ng::Error| {
        let location = e.location();
        let mut message = e.to_string();
        // The parser appends the position to its message; it is reported separately.
        if let Some(at) = message.find(" at line ") {
            message.truncate(at);
        }
        ImportError::Yaml {
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
        }
    };
    let mut root: Value = serde_yaml_ng::from_str(yaml).map_err(yaml_error)?;
    // LiteLLM (PyYAML) honors `<<: *anchor` merge keys; so do we.
    root.apply_merge().map_err(yaml_error)?;
    Ok(root)
}

#[cfg(test)]
mod tests;
