//! Request-shape checks for bodies about to be translated to another dialect. Native backends
//! judge their own requests; a translated one is checked here first, so a malformed body is a
//! clear 400 naming the field instead of a half-translated request or a backend's puzzling
//! answer. Pure functions over JSON, no I/O.

use std::collections::HashSet;
use std::fmt;

use serde_json::{Map, Value};

/// What is wrong with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Missing,
    NotArray,
    NotObject,
    NotString,
    Empty,
    UnknownRole(String),
    /// `content` is neither text nor an array of parts/blocks.
    WrongContentType,
    /// A tool call or `tool_use` block with no (or an empty) id.
    MissingToolCallId,
    /// A tool result whose id names no earlier tool call.
    UnmatchedToolResult(String),
    /// Only system/developer messages: they become the system prompt, leaving no turn.
    OnlySystem,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Missing => f.write_str("is required"),
            Problem::NotArray => f.write_str("must be an array"),
            Problem::NotObject => f.write_str("must be an object"),
            Problem::NotString => f.write_str("must be a string"),
            Problem::Empty => f.write_str("must not be empty"),
            Problem::UnknownRole(role) => write!(f, "unknown role `{role}`"),
            Problem::WrongContentType => {
                f.write_str("must be a string or an array of content parts")
            }
            Problem::MissingToolCallId => f.write_str("a tool call needs a non-empty `id`"),
            Problem::UnmatchedToolResult(id) => {
                write!(f, "tool result for `{id}` matches no earlier tool call")
            }
            Problem::OnlySystem => f.write_str(
                "needs a user or assistant message: system and developer messages become the \
                 backend's system prompt, which leaves no turn to answer",
            ),
        }
    }
}

/// The field (`messages[2].tool_calls[0].id`) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    pub path: String,
    pub problem: Problem,
}

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.path, self.problem)
    }
}

impl std::error::Error for ShapeError {}

fn err<T>(path: impl Into<String>, problem: Problem) -> Result<T, ShapeError> {
    Err(ShapeError {
        path: path.into(),
        problem,
    })
}

/// Checks a body bound for a backend of `family`: only chat requests (`chat`), only for the
/// families whose adapter translates them (Anthropic, Gemini), and only when the request is not
/// passed through natively.
pub fn check_chat_for(
    family: &str,
    chat: bool,
    native: bool,
    body: &Map<String, Value>,
) -> Result<(), ShapeError> {
    match family {
        "anthropic" | "gemini" if chat && !native => check_openai_chat(body),
        _ => Ok(()),
    }
}

const CHAT_ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

/// An OpenAI chat-completions body, before translation to Anthropic or Gemini.
pub fn check_openai_chat(body: &Map<String, Value>) -> Result<(), ShapeError> {
    let messages = array(body.get("messages"), "messages")?;
    if messages.is_empty() {
        return err("messages", Problem::Empty);
    }
    let mut call_ids: HashSet<&str> = HashSet::new();
    for (i, message) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let message = object(message, &at)?;
        let role = string(message.get("role"), &format!("{at}.role"))?;
        if !CHAT_ROLES.contains(&role) {
            return err(format!("{at}.role"), Problem::UnknownRole(role.to_owned()));
        }
        match message.get("content") {
            // Only an assistant turn that calls tools may go without content (as in OpenAI's
            // schema); the translators would drop any other empty turn.
            None | Some(Value::Null)
                if role != "assistant" || message.get("tool_calls").is_none_or(Value::is_null) =>
            {
                return err(format!("{at}.content"), Problem::Missing)
            }
            None | Some(Value::Null) | Some(Value::String(_)) => {}
            Some(Value::Array(parts)) => {
                for (j, part) in parts.iter().enumerate() {
                    let at = format!("{at}.content[{j}]");
                    let part = object(part, &at)?;
                    let kind = string(part.get("type"), &format!("{at}.type"))?;
                    match kind {
                        "text" => {
                            string(part.get("text"), &format!("{at}.text"))?;
                        }
                        "image_url" => match part.get("image_url") {
                            Some(Value::String(_)) => {}
                            other => {
                                let url = object_at(other, &format!("{at}.image_url"))?;
                                string(url.get("url"), &format!("{at}.image_url.url"))?;
                            }
                        },
                        // Other part types are the translators' to refuse, by name.
                        _ => {}
                    }
                }
            }
            Some(_) => return err(format!("{at}.content"), Problem::WrongContentType),
        }
        if let Some(calls) = message.get("tool_calls").filter(|v| !v.is_null()) {
            let path = format!("{at}.tool_calls");
            for (j, call) in array(Some(calls), &path)?.iter().enumerate() {
                let at = format!("{path}[{j}]");
                let call = object(call, &at)?;
                match call.get("id") {
                    // Only the assistant calls tools: the translations drop `tool_calls`
                    // elsewhere, so a result for one would answer no call.
                    Some(Value::String(id)) if !id.is_empty() => {
                        if role == "assistant" {
                            call_ids.insert(id);
                        }
                    }
                    Some(Value::String(_)) | None | Some(Value::Null) => {
                        return err(format!("{at}.id"), Problem::MissingToolCallId)
                    }
                    Some(_) => return err(format!("{at}.id"), Problem::NotString),
                }
                let function = object_at(call.get("function"), &format!("{at}.function"))?;
                string(function.get("name"), &format!("{at}.function.name"))?;
                if let Some(arguments) = function.get("arguments").filter(|v| !v.is_null()) {
                    string(Some(arguments), &format!("{at}.function.arguments"))?;
                }
            }
        }
        if role == "tool" {
            let path = format!("{at}.tool_call_id");
            let id = string(message.get("tool_call_id"), &path)?;
            if !call_ids.contains(id) {
                return err(path, Problem::UnmatchedToolResult(id.to_owned()));
            }
        }
    }
    let system_only = messages.iter().all(|m| {
        matches!(
            m.get("role").and_then(Value::as_str),
            Some("system" | "developer")
        )
    });
    if system_only {
        return err("messages", Problem::OnlySystem);
    }
    if let Some(tools) = body.get("tools").filter(|v| !v.is_null()) {
        for (i, tool) in array(Some(tools), "tools")?.iter().enumerate() {
            let at = format!("tools[{i}]");
            let tool = object(tool, &at)?;
            let function = object_at(tool.get("function"), &format!("{at}.function"))?;
            string(function.get("name"), &format!("{at}.function.name"))?;
        }
    }
    Ok(())
}

/// `system` mid-conversation is Claude Code's `mid-conversation-system` beta.
const ANTHROPIC_ROLES: [&str; 3] = ["user", "assistant", "system"];

/// An Anthropic Messages body, before translation to OpenAI's shape.
pub fn check_anthropic(body: &Map<String, Value>) -> Result<(), ShapeError> {
    match body.get("system") {
        None | Some(Value::Null) | Some(Value::String(_)) => {}
        Some(Value::Array(blocks)) => check_blocks(blocks, "system", &mut HashSet::new(), false)?,
        Some(_) => return err("system", Problem::WrongContentType),
    }
    let messages = array(body.get("messages"), "messages")?;
    let mut tool_ids: HashSet<String> = HashSet::new();
    for (i, message) in messages.iter().enumerate() {
        let at = format!("messages[{i}]");
        let message = object(message, &at)?;
        let role = string(message.get("role"), &format!("{at}.role"))?;
        if !ANTHROPIC_ROLES.contains(&role) {
            return err(format!("{at}.role"), Problem::UnknownRole(role.to_owned()));
        }
        match message.get("content") {
            Some(Value::String(_)) => {}
            Some(Value::Array(blocks)) => {
                // Only the assistant calls tools: a `tool_use` elsewhere answers no result.
                let calls = role == "assistant";
                check_blocks(blocks, &format!("{at}.content"), &mut tool_ids, calls)?
            }
            None => return err(format!("{at}.content"), Problem::Missing),
            Some(_) => return err(format!("{at}.content"), Problem::WrongContentType),
        }
    }
    if let Some(tools) = body.get("tools").filter(|v| !v.is_null()) {
        for (i, tool) in array(Some(tools), "tools")?.iter().enumerate() {
            let at = format!("tools[{i}]");
            string(object(tool, &at)?.get("name"), &format!("{at}.name"))?;
        }
    }
    Ok(())
}

/// Content blocks; `tool_use` ids seen so far go into `tool_ids` for later `tool_result`s when
/// `calls` (the assistant's turns).
fn check_blocks(
    blocks: &[Value],
    path: &str,
    tool_ids: &mut HashSet<String>,
    calls: bool,
) -> Result<(), ShapeError> {
    for (j, block) in blocks.iter().enumerate() {
        let at = format!("{path}[{j}]");
        let block = object(block, &at)?;
        match string(block.get("type"), &format!("{at}.type"))? {
            "text" => {
                string(block.get("text"), &format!("{at}.text"))?;
            }
            "image" => {
                object_at(block.get("source"), &format!("{at}.source"))?;
            }
            "tool_use" => {
                match block.get("id") {
                    Some(Value::String(id)) if !id.is_empty() => {
                        if calls {
                            tool_ids.insert(id.clone());
                        }
                    }
                    Some(Value::String(_)) | None | Some(Value::Null) => {
                        return err(format!("{at}.id"), Problem::MissingToolCallId)
                    }
                    Some(_) => return err(format!("{at}.id"), Problem::NotString),
                }
                string(block.get("name"), &format!("{at}.name"))?;
            }
            "tool_result" => {
                let id_path = format!("{at}.tool_use_id");
                let id = string(block.get("tool_use_id"), &id_path)?;
                if !tool_ids.contains(id) {
                    return err(id_path, Problem::UnmatchedToolResult(id.to_owned()));
                }
                match block.get("content") {
                    None | Some(Value::Null) | Some(Value::String(_)) => {}
                    Some(Value::Array(inner)) => {
                        check_blocks(inner, &format!("{at}.content"), tool_ids, false)?
                    }
                    Some(_) => return err(format!("{at}.content"), Problem::WrongContentType),
                }
            }
            // Thinking, documents, server tools...: the translation keeps or drops them by name.
            _ => {}
        }
    }
    Ok(())
}

fn array<'a>(value: Option<&'a Value>, path: &str) -> Result<&'a Vec<Value>, ShapeError> {
    match value {
        Some(Value::Array(items)) => Ok(items),
        None | Some(Value::Null) => err(path, Problem::Missing),
        Some(_) => err(path, Problem::NotArray),
    }
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ShapeError> {
    value.as_object().ok_or_else(|| ShapeError {
        path: path.to_owned(),
        problem: Problem::NotObject,
    })
}

fn object_at<'a>(
    value: Option<&'a Value>,
    path: &str,
) -> Result<&'a Map<String, Value>, ShapeError> {
    match value {
        None | Some(Value::Null) => err(path, Problem::Missing),
        Some(value) => object(value, path),
    }
}

fn string<'a>(value: Option<&'a Value>, path: &str) -> Result<&'a str, ShapeError> {
    match value {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => err(path, Problem::Missing),
        Some(_) => err(path, Problem::NotString),
    }
}

#[cfg(test)]
mod tests;
