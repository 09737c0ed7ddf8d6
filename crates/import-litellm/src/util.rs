//! Small text helpers for notes and output: values shown without secrets, one-line text.

use super::*;

/// Alias names cannot contain whitespace; LiteLLM model names may.
pub(crate) fn normalize_alias_name(raw: &str) -> String {
    raw.split_whitespace().collect::<Vec<_>>().join("-")
}

pub(crate) fn param_message(key: &str, v: &Value) -> String {
    let shown = shown(v);
    match key {
        "rpm" | "tpm" | "max_parallel_requests" => format!("{key}{shown} not imported: LiteLLM reads a deployment's {key} only under litellm_params (set it there, or as the target's `limits` by hand)"),
        "max_tokens" => format!("max_tokens{shown} not imported: Switchboard sets a default max_tokens per target only for `anthropic` targets (which require one); other backends get the client's"),
        "max_completion_tokens" | "temperature" | "top_p" | "top_k" | "stop"
        | "seed" | "frequency_penalty" | "presence_penalty" | "n" | "response_format"
        | "reasoning_effort" | "extra_body" | "num_ctx" | "keep_alive" => format!(
            "{key}{shown} not imported: Switchboard sends the client's request parameters and has no per-target defaults for them"
        ),
        "weight" => format!("weight{shown} not imported: LiteLLM reads a deployment's weight only under litellm_params"),
        "extra_headers" | "headers" => format!("{key} not imported: add non-secret headers to the provider's `headers` table by hand"),
        "organization" => "organization not imported: add it by hand as an `OpenAI-Organization` entry in the provider's `headers`".to_owned(),
        "tags" => "tags not imported: Switchboard has no tag-based routing".to_owned(),
        k if k.contains("cost_per") => format!("{key}{shown} not imported: Switchboard prices input, output, cache reads and cache writes per token (input_cost_per_token, output_cost_per_token, cache_read_input_token_cost, cache_creation_input_token_cost)"),
        k if k.starts_with("aws_")
            || k.starts_with("vertex_")
            || k.starts_with("azure_")
            || k == "api_version"
            || k == "region_name" =>
        {
            format!("provider-specific setting `{key}` not imported")
        }
        _ => format!("`{key}` not imported: Switchboard has no equivalent yet"),
    }
}

/// ` = VALUE` for numbers and booleans, which cannot be secrets; nothing for anything else.
pub(crate) fn shown(v: &Value) -> String {
    match v {
        Value::Number(n) => format!(" = {n}"),
        Value::Bool(b) => format!(" = {b}"),
        _ => String::new(),
    }
}

pub(crate) fn show_number(s: f64) -> String {
    match seconds_value(s) {
        toml_edit::Value::Integer(i) => i.value().to_string(),
        other => other.to_string().trim().to_owned(),
    }
}

pub(crate) fn seconds_value(s: f64) -> toml_edit::Value {
    if s.fract() == 0.0 && s.abs() < 1.0e15 {
        toml_edit::Value::from(s as i64)
    } else {
        toml_edit::Value::from(s)
    }
}

pub(crate) fn key_text(key: &Value) -> String {
    scalar_text(key).unwrap_or_else(|| format!("<{} key>", type_name(key)))
}

pub(crate) fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Control characters (newlines included) become spaces, so a note or comment stays one line.
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
