//! The Responses request and its translation to a chat completions request.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::super::openai as oa;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponsesRequest {
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// Everything else (`truncation`, `service_tier`, `prompt_cache_key`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Input {
    Text(String),
    /// Input items, kept loose: an item without `type` is a message.
    Items(Vec<Value>),
}

impl Input {
    /// The input as items (a string is one user message).
    pub fn into_items(self) -> Vec<Value> {
        match self {
            Input::Text(text) => vec![json!({"type": "message", "role": "user", "content": text})],
            Input::Items(items) => items,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `{"type": "text" | "json_object" | "json_schema", name, schema, strict, description}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reasoning {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One input item, typed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum InputItem {
    Message {
        role: String,
        #[serde(default)]
        content: Option<MessageContent>,
    },
    FunctionCall {
        call_id: String,
        name: String,
        #[serde(default)]
        arguments: String,
    },
    FunctionCallOutput {
        call_id: String,
        #[serde(default)]
        output: Option<MessageContent>,
    },
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
enum MessageContent {
    Text(String),
    Parts(Vec<Value>),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ContentPart {
    InputText {
        text: String,
    },
    OutputText {
        text: String,
    },
    Refusal {
        refusal: String,
    },
    InputImage {
        #[serde(default)]
        image_url: Option<String>,
        #[serde(default)]
        detail: Option<String>,
    },
}

/// Item types that carry nothing a chat backend can use: left out without a note (reasoning is
/// the backend's own scratch work, sent back by agents every turn).
const SILENT_ITEMS: &[&str] = &["reasoning"];

/// The chat completions request for a Responses request, and what could not be carried over
/// (named for `x-switchboard-dropped-params`). An Err is why the request is malformed (a 400).
pub fn request_to_chat(req: &ResponsesRequest) -> Result<(oa::ChatRequest, Vec<String>), String> {
    let mut dropped: Vec<String> = Vec::new();
    let mut drop = |name: String| {
        if !dropped.contains(&name) {
            dropped.push(name);
        }
    };
    let mut messages: Vec<oa::Message> = Vec::new();
    if let Some(instructions) = req.instructions.as_ref().filter(|i| !i.is_empty()) {
        messages.push(text_message("system", instructions.clone()));
    }
    let items = req.input.clone().map(Input::into_items).unwrap_or_default();
    // An output may answer a call in a stored earlier response (`previous_response_id`), but
    // not one this input makes later: chat backends refuse a tool message before its call.
    let own_calls: std::collections::HashSet<String> = items
        .iter()
        .filter(|item| item.get("type").and_then(Value::as_str) == Some("function_call"))
        .filter_map(|item| {
            item.get("call_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    let mut called: std::collections::HashSet<String> = std::collections::HashSet::new();
    for (index, mut item) in items.into_iter().enumerate() {
        let kind = match item.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            None => {
                if let Value::Object(map) = &mut item {
                    map.insert("type".into(), Value::String("message".into()));
                }
                "message".into()
            }
            Some(_) => return Err(format!("input[{index}].type must be a string")),
        };
        if !matches!(
            kind.as_str(),
            "message" | "function_call" | "function_call_output"
        ) {
            if !SILENT_ITEMS.contains(&kind.as_str()) {
                drop(format!("input.{kind}"));
            }
            continue;
        }
        let parsed: InputItem =
            serde_json::from_value(item).map_err(|e| format!("input[{index}]: {e}"))?;
        match parsed {
            InputItem::Message { role, content } => {
                let role = match role.as_str() {
                    // Chat servers other than OpenAI's (vLLM, llama.cpp, Ollama) know `system` only.
                    "developer" | "system" => "system",
                    "user" => "user",
                    "assistant" => "assistant",
                    other => return Err(format!("input[{index}]: unknown role `{other}`")),
                };
                let content = content_to_chat(content, role == "user", &mut drop);
                messages.push(oa::Message {
                    role: role.into(),
                    content: Some(content),
                    ..oa::Message::default()
                });
            }
            InputItem::FunctionCall {
                call_id,
                name,
                arguments,
            } => {
                if call_id.is_empty() {
                    return Err(format!(
                        "input[{index}]: a function_call needs a non-empty `call_id`"
                    ));
                }
                called.insert(call_id.clone());
                let call = oa::ToolCall {
                    id: call_id,
                    kind: "function".into(),
                    function: oa::FunctionCall { name, arguments },
                };
                // Consecutive calls (and the text before them) are one assistant turn in chat.
                match messages.last_mut() {
                    Some(last) if last.role == "assistant" => {
                        last.tool_calls.get_or_insert_with(Vec::new).push(call);
                    }
                    _ => messages.push(oa::Message {
                        role: "assistant".into(),
                        tool_calls: Some(vec![call]),
                        ..oa::Message::default()
                    }),
                }
            }
            InputItem::FunctionCallOutput { call_id, output } => {
                if call_id.is_empty() {
                    return Err(format!(
                        "input[{index}]: a function_call_output needs a non-empty `call_id`"
                    ));
                }
                if own_calls.contains(&call_id) && !called.contains(&call_id) {
                    return Err(format!(
                        "input[{index}]: the output of `{call_id}` comes before its function_call"
                    ));
                }
                let text = match output {
                    None => String::new(),
                    Some(MessageContent::Text(text)) => text,
                    Some(parts) => text_of(&content_to_chat(Some(parts), false, &mut drop)),
                };
                messages.push(oa::Message {
                    role: "tool".into(),
                    content: Some(oa::Content::Text(text)),
                    tool_call_id: Some(call_id),
                    ..oa::Message::default()
                });
            }
        }
    }

    let mut tools = Vec::new();
    for tool in req.tools.iter().flatten() {
        let kind = tool.get("type").and_then(Value::as_str).unwrap_or("");
        if kind != "function" {
            drop(format!("tools.{kind}"));
            continue;
        }
        let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
        if name.is_empty() {
            return Err("a function tool needs `name`".into());
        }
        tools.push(oa::Tool {
            kind: "function".into(),
            function: oa::FunctionDef {
                name: name.to_owned(),
                description: tool
                    .get("description")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                parameters: tool.get("parameters").filter(|p| !p.is_null()).cloned(),
                strict: tool.get("strict").and_then(Value::as_bool),
            },
        });
    }

    let tool_choice = match &req.tool_choice {
        None => None,
        Some(Value::String(mode)) => Some(oa::ToolChoice::Mode(mode.clone())),
        Some(choice) => match (
            choice.get("type").and_then(Value::as_str),
            choice.get("name").and_then(Value::as_str),
        ) {
            (Some("function"), Some(name)) => Some(oa::ToolChoice::Named(oa::NamedToolChoice {
                kind: "function".into(),
                function: oa::NamedFunction { name: name.into() },
            })),
            _ => {
                drop("tool_choice".into());
                None
            }
        },
    };

    let mut response_format = None;
    if let Some(text) = &req.text {
        match text.format.as_ref().map(|f| f.kind.as_str()) {
            None | Some("text") => {}
            Some("json_object") => {
                response_format = Some(oa::ResponseFormat {
                    kind: "json_object".into(),
                    json_schema: None,
                })
            }
            Some("json_schema") => {
                let format = text.format.clone().unwrap_or_default();
                response_format = Some(oa::ResponseFormat {
                    kind: "json_schema".into(),
                    json_schema: Some(oa::JsonSchemaFormat {
                        name: format.name.unwrap_or_else(|| "response".into()),
                        description: format.description,
                        schema: format.schema,
                        strict: format.strict,
                    }),
                })
            }
            Some(_) => drop("text.format".into()),
        }
        for key in text.extra.keys() {
            drop(format!("text.{key}"));
        }
    }

    let mut extra = Map::new();
    if let Some(effort) = req.reasoning.as_ref().and_then(|r| r.effort.clone()) {
        // Chat's name for it; backends without it drop it through `unsupported_params`.
        extra.insert("reasoning_effort".into(), Value::String(effort));
    }
    // `store`, `metadata`, `include` and `previous_response_id` are typed fields: the ingress
    // handles them. Anything else has no chat equivalent.
    for key in req.extra.keys() {
        drop(key.clone());
    }

    let chat = oa::ChatRequest {
        model: req.model.clone(),
        messages,
        stream: req.stream.filter(|s| *s),
        max_tokens: req.max_output_tokens,
        temperature: req.temperature,
        top_p: req.top_p,
        tools: (!tools.is_empty()).then_some(tools),
        tool_choice,
        parallel_tool_calls: req.parallel_tool_calls,
        response_format,
        user: req.user.clone(),
        extra,
        ..oa::ChatRequest::default()
    };
    Ok((chat, dropped))
}

fn text_message(role: &str, text: String) -> oa::Message {
    oa::Message {
        role: role.into(),
        content: Some(oa::Content::Text(text)),
        ..oa::Message::default()
    }
}

fn text_of(content: &oa::Content) -> String {
    content.text()
}

/// Message content in chat's shape: text parts joined into a string when that is all there is,
/// else parts (images only for user turns).
fn content_to_chat(
    content: Option<MessageContent>,
    images: bool,
    drop: &mut impl FnMut(String),
) -> oa::Content {
    let parts = match content {
        None => return oa::Content::Text(String::new()),
        Some(MessageContent::Text(text)) => return oa::Content::Text(text),
        Some(MessageContent::Parts(parts)) => parts,
    };
    let mut out: Vec<oa::Part> = Vec::new();
    for part in parts {
        let kind = part
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        match serde_json::from_value::<ContentPart>(part) {
            Ok(
                ContentPart::InputText { text }
                | ContentPart::OutputText { text }
                | ContentPart::Refusal { refusal: text },
            ) => out.push(oa::Part::text(&text)),
            Ok(ContentPart::InputImage {
                image_url: Some(url),
                detail,
            }) if images => out.push(oa::Part {
                kind: "image_url".into(),
                text: None,
                image_url: Some(oa::ImageUrl {
                    url,
                    detail: detail.filter(|d| d != "auto"),
                }),
            }),
            _ => drop(format!("input.content.{kind}")),
        }
    }
    if out.iter().all(|p| p.kind == "text") {
        let text: Vec<String> = out.into_iter().filter_map(|p| p.text).collect();
        oa::Content::Text(text.join(""))
    } else {
        oa::Content::Parts(out)
    }
}
