//! OpenAI's Responses API (`POST /v1/responses`), for the Responses ingress: a request becomes a
//! chat completions request (`request_to_chat`), a chat completion becomes a Response
//! (`response_from_chat`) and a chat stream becomes the Responses event stream
//! (`ToResponsesStream`), in the order and shape the official SDKs and Codex CLI read.
//!
//! Wire types follow OpenAI's API reference (platform.openai.com/docs/api-reference/responses,
//! /responses-streaming) and the openai-python SDK's `types/responses`; the request mapping
//! follows LiteLLM's responses↔chat transformation. They are kept apart from the chat types in
//! `super::openai`.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::openai as oa;
use super::{unix_now, StreamTranslator};
use crate::wire::{sanitize_upstream_message, SseEvent, UpstreamError};

// ---- request ----

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

// ---- response ----

/// What a Response echoes of its request, plus its id; built once per request by the ingress.
#[derive(Debug, Clone, Default)]
pub struct ResponseContext {
    pub id: String,
    pub created_at: u64,
    /// The model as the client named it (the alias).
    pub model: String,
    pub request: ResponsesRequest,
}

impl ResponseContext {
    pub fn new(request: &ResponsesRequest) -> Self {
        ResponseContext {
            id: format!("resp_{}", uuid::Uuid::now_v7().simple()),
            created_at: unix_now(),
            model: request.model.clone(),
            request: ResponsesRequest {
                input: None,
                ..request.clone()
            },
        }
    }

    /// The Response object with `status`, `output` and `usage` (the request's settings echoed).
    pub fn response(
        &self,
        status: &str,
        output: Vec<OutputItem>,
        usage: Option<ResponseUsage>,
    ) -> ResponseObject {
        let r = &self.request;
        ResponseObject {
            id: self.id.clone(),
            object: "response".into(),
            created_at: self.created_at,
            status: status.into(),
            error: None,
            incomplete_details: None,
            instructions: r.instructions.clone(),
            max_output_tokens: r.max_output_tokens,
            model: self.model.clone(),
            output,
            parallel_tool_calls: r.parallel_tool_calls.unwrap_or(true),
            previous_response_id: r.previous_response_id.clone(),
            reasoning: json!({
                "effort": r.reasoning.as_ref().and_then(|x| x.effort.clone()),
                "summary": null,
            }),
            store: r.store.unwrap_or(true),
            temperature: r.temperature,
            text: json!({"format": r.text.as_ref().and_then(|t| t.format.clone())
                .map_or(json!({"type": "text"}), |f| json!(f))}),
            tool_choice: r.tool_choice.clone().unwrap_or_else(|| json!("auto")),
            tools: r.tools.clone().unwrap_or_default(),
            top_p: r.top_p,
            truncation: "disabled".into(),
            usage,
            user: r.user.clone(),
            metadata: r.metadata.clone().unwrap_or_else(|| json!({})),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseObject {
    pub id: String,
    pub object: String,
    pub created_at: u64,
    pub status: String,
    pub error: Option<Value>,
    pub incomplete_details: Option<Value>,
    pub instructions: Option<String>,
    pub max_output_tokens: Option<u64>,
    pub model: String,
    pub output: Vec<OutputItem>,
    pub parallel_tool_calls: bool,
    pub previous_response_id: Option<String>,
    pub reasoning: Value,
    pub store: bool,
    pub temperature: Option<f64>,
    pub text: Value,
    pub tool_choice: Value,
    pub tools: Vec<Value>,
    pub top_p: Option<f64>,
    pub truncation: String,
    pub usage: Option<ResponseUsage>,
    pub user: Option<String>,
    pub metadata: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OutputItem {
    Message {
        id: String,
        status: String,
        role: String,
        content: Vec<OutputText>,
    },
    FunctionCall {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
        status: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputText {
    /// Always `output_text`.
    #[serde(rename = "type")]
    pub kind: String,
    pub text: String,
    pub annotations: Vec<Value>,
}

impl OutputText {
    fn new(text: String) -> Self {
        OutputText {
            kind: "output_text".into(),
            text,
            annotations: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseUsage {
    pub input_tokens: u64,
    pub input_tokens_details: CachedTokens,
    pub output_tokens: u64,
    pub output_tokens_details: ReasoningTokens,
    pub total_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedTokens {
    pub cached_tokens: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningTokens {
    pub reasoning_tokens: u64,
}

/// Chat usage with the details chat's typed `CompletionUsage` leaves out.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
struct ChatUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
    #[serde(default)]
    prompt_tokens_details: Option<ChatUsageDetails>,
    #[serde(default)]
    completion_tokens_details: Option<ChatUsageDetails>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
struct ChatUsageDetails {
    #[serde(default)]
    cached_tokens: Option<u64>,
    #[serde(default)]
    reasoning_tokens: Option<u64>,
}

impl From<ChatUsage> for ResponseUsage {
    fn from(u: ChatUsage) -> Self {
        ResponseUsage {
            input_tokens: u.prompt_tokens,
            input_tokens_details: CachedTokens {
                cached_tokens: u
                    .prompt_tokens_details
                    .and_then(|d| d.cached_tokens)
                    .unwrap_or(0),
            },
            output_tokens: u.completion_tokens,
            output_tokens_details: ReasoningTokens {
                reasoning_tokens: u
                    .completion_tokens_details
                    .and_then(|d| d.reasoning_tokens)
                    .unwrap_or(0),
            },
            total_tokens: u.prompt_tokens + u.completion_tokens,
        }
    }
}

fn usage_of(value: &Value) -> Option<ResponseUsage> {
    value
        .get("usage")
        .filter(|u| !u.is_null())
        .and_then(|u| serde_json::from_value::<ChatUsage>(u.clone()).ok())
        .map(ResponseUsage::from)
}

fn item_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// `completed`, or `incomplete` with the reason for a cut-off answer.
fn final_status(finish_reason: Option<&str>) -> (&'static str, Option<Value>) {
    match finish_reason {
        Some("length") => ("incomplete", Some(json!({"reason": "max_output_tokens"}))),
        Some("content_filter") => ("incomplete", Some(json!({"reason": "content_filter"}))),
        _ => ("completed", None),
    }
}

/// A chat completion (a JSON body) as a Response.
pub fn response_from_chat(
    body: &[u8],
    context: &ResponseContext,
) -> Result<ResponseObject, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("body is not JSON ({e})"))?;
    let usage = usage_of(&value);
    let completion: oa::ChatCompletion = serde_json::from_value(value)
        .map_err(|e| format!("body is not a chat completion ({e})"))?;
    let choice = completion.choices.into_iter().find(|c| c.index == 0);
    let mut output = Vec::new();
    let finish = choice.as_ref().and_then(|c| c.finish_reason.clone());
    if let Some(choice) = choice {
        if let Some(text) = choice.message.content.filter(|t| !t.is_empty()) {
            output.push(OutputItem::Message {
                id: item_id("msg"),
                status: "completed".into(),
                role: "assistant".into(),
                content: vec![OutputText::new(text)],
            });
        }
        for (i, call) in choice.message.tool_calls.into_iter().flatten().enumerate() {
            output.push(OutputItem::FunctionCall {
                id: item_id("fc"),
                call_id: if call.id.is_empty() {
                    format!("call_{i}")
                } else {
                    call.id
                },
                name: call.function.name,
                arguments: call.function.arguments,
                status: "completed".into(),
            });
        }
    }
    let (status, incomplete) = final_status(finish.as_deref());
    let mut response = context.response(status, output, usage);
    response.incomplete_details = incomplete;
    Ok(response)
}

// ---- stream ----

/// An output item being streamed.
enum Open {
    Text {
        index: usize,
        id: String,
        text: String,
    },
    Call {
        index: usize,
        id: String,
        call_id: String,
        name: String,
        arguments: String,
    },
}

/// Chat completion chunks → Responses events: `response.created`, `response.in_progress`, then
/// per output item `output_item.added`, its deltas and `output_item.done` (text items with
/// `content_part.added/done` and `output_text.done` around the deltas), and at the end
/// `response.completed` with the whole output and usage. Every event has `sequence_number`.
pub struct ToResponsesStream {
    context: ResponseContext,
    sequence: u64,
    started: bool,
    finished: bool,
    open: Option<Open>,
    output: Vec<OutputItem>,
    /// Chat tool call index → whether its item was opened (so later deltas are recognised).
    calls: BTreeMap<u32, usize>,
    usage: Option<ResponseUsage>,
    finish_reason: Option<String>,
}

impl ToResponsesStream {
    pub fn new(context: ResponseContext) -> Self {
        ToResponsesStream {
            context,
            sequence: 0,
            started: false,
            finished: false,
            open: None,
            output: Vec::new(),
            calls: BTreeMap::new(),
            usage: None,
            finish_reason: None,
        }
    }

    fn event(&mut self, kind: &str, mut data: Value, out: &mut Vec<SseEvent>) {
        if let Value::Object(map) = &mut data {
            map.insert("type".into(), Value::String(kind.into()));
            map.insert("sequence_number".into(), Value::from(self.sequence));
        }
        self.sequence += 1;
        out.push(SseEvent {
            event: Some(kind.into()),
            data: data.to_string(),
        });
    }

    fn start(&mut self, out: &mut Vec<SseEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        let response = self.context.response("in_progress", Vec::new(), None);
        self.event("response.created", json!({"response": response}), out);
        self.event("response.in_progress", json!({"response": response}), out);
    }

    fn close_open(&mut self, out: &mut Vec<SseEvent>) {
        match self.open.take() {
            None => {}
            Some(Open::Text { index, id, text }) => {
                let part = OutputText::new(text.clone());
                self.event(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "text": text, "logprobs": []}),
                    out,
                );
                self.event(
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index, "content_index": 0, "part": part}),
                    out,
                );
                let item = OutputItem::Message {
                    id,
                    status: "completed".into(),
                    role: "assistant".into(),
                    content: vec![part],
                };
                self.event(
                    "response.output_item.done",
                    json!({"output_index": index, "item": item}),
                    out,
                );
                self.output.push(item);
            }
            Some(Open::Call {
                index,
                id,
                call_id,
                name,
                arguments,
            }) => {
                self.event(
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": index, "name": name, "arguments": arguments}),
                    out,
                );
                let item = OutputItem::FunctionCall {
                    id,
                    call_id,
                    name,
                    arguments,
                    status: "completed".into(),
                };
                self.event(
                    "response.output_item.done",
                    json!({"output_index": index, "item": item}),
                    out,
                );
                self.output.push(item);
            }
        }
    }

    fn text(&mut self, delta: String, out: &mut Vec<SseEvent>) {
        if !matches!(self.open, Some(Open::Text { .. })) {
            self.close_open(out);
            let index = self.output.len();
            let id = item_id("msg");
            let item = json!({"type": "message", "id": id, "status": "in_progress", "role": "assistant", "content": []});
            self.event(
                "response.output_item.added",
                json!({"output_index": index, "item": item}),
                out,
            );
            self.event(
                "response.content_part.added",
                json!({"item_id": id, "output_index": index, "content_index": 0, "part": OutputText::new(String::new())}),
                out,
            );
            self.open = Some(Open::Text {
                index,
                id,
                text: String::new(),
            });
        }
        let Some(Open::Text { index, id, text }) = &mut self.open else {
            return;
        };
        text.push_str(&delta);
        let data = json!({"item_id": id, "output_index": *index, "content_index": 0, "delta": delta, "logprobs": []});
        self.event("response.output_text.delta", data, out);
    }

    fn tool_call(&mut self, call: oa::ToolCallDelta, out: &mut Vec<SseEvent>) {
        let function = call.function.unwrap_or_default();
        if !self.calls.contains_key(&call.index) {
            self.close_open(out);
            let index = self.output.len();
            self.calls.insert(call.index, index);
            let id = item_id("fc");
            let call_id = call
                .id
                .filter(|id| !id.is_empty())
                .unwrap_or_else(|| format!("call_{}", uuid::Uuid::now_v7().simple()));
            let name = function.name.clone().unwrap_or_default();
            let item = json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": "", "status": "in_progress"});
            self.event(
                "response.output_item.added",
                json!({"output_index": index, "item": item}),
                out,
            );
            self.open = Some(Open::Call {
                index,
                id,
                call_id,
                name,
                arguments: String::new(),
            });
        }
        let Some(arguments) = function.arguments.filter(|a| !a.is_empty()) else {
            return;
        };
        // Deltas of a call other than the open one (interleaved calls) are rare; they are
        // applied to the open call only when it is theirs.
        let open_index = self.calls.get(&call.index).copied();
        if let Some(Open::Call {
            index,
            id,
            arguments: all,
            ..
        }) = &mut self.open
        {
            if Some(*index) == open_index {
                all.push_str(&arguments);
                let data = json!({"item_id": id, "output_index": *index, "delta": arguments});
                self.event("response.function_call_arguments.delta", data, out);
            }
        }
    }

    fn close(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        self.finished = true;
        self.start(&mut out);
        self.close_open(&mut out);
        let (status, incomplete) = final_status(self.finish_reason.as_deref());
        let mut response =
            self.context
                .response(status, std::mem::take(&mut self.output), self.usage);
        response.incomplete_details = incomplete;
        let kind = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        self.event(kind, json!({"response": response}), &mut out);
        out
    }
}

impl StreamTranslator for ToResponsesStream {
    fn on_event(&mut self, _event: &str, data: &str) -> Result<Vec<SseEvent>, UpstreamError> {
        if data.trim() == "[DONE]" {
            return Ok(self.close());
        }
        if self.finished {
            return Ok(Vec::new());
        }
        let value: Value = serde_json::from_str(data)
            .map_err(|e| UpstreamError::Protocol(format!("unreadable stream chunk: {e}")))?;
        if let Some(error) = value.get("error") {
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the backend failed mid-stream");
            return Err(UpstreamError::Status {
                status: StatusCode::BAD_GATEWAY,
                message: sanitize_upstream_message(message),
                retry_after_ms: None,
            });
        }
        if let Some(usage) = usage_of(&value) {
            self.usage = Some(usage);
        }
        let chunk: oa::ChatChunk = serde_json::from_value(value)
            .map_err(|e| UpstreamError::Protocol(format!("unreadable stream chunk: {e}")))?;
        let mut out = Vec::new();
        self.start(&mut out);
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                self.text(text, &mut out);
            }
            for call in choice.delta.tool_calls.into_iter().flatten() {
                self.tool_call(call, &mut out);
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason);
            }
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<SseEvent>, UpstreamError> {
        Ok(self.close())
    }
}

/// The `response.failed` event for a stream that broke after it started: `error` carries the
/// failure summary (`code`, `message`, `type`, `route`, `correlation_id`, ...).
pub fn failed_event(id: &str, model: &str, sequence: u64, error: Value) -> SseEvent {
    let data = json!({
        "type": "response.failed",
        "sequence_number": sequence,
        "response": {
            "id": id, "object": "response", "created_at": unix_now(), "status": "failed",
            "model": model, "output": [], "error": error, "incomplete_details": null,
            "usage": null,
        },
    });
    SseEvent {
        event: Some("response.failed".into()),
        data: data.to_string(),
    }
}

#[cfg(test)]
mod tests;
