//! Anthropic's Messages API, both ways.
//!
//! - Provider direction (`anthropic` backends): an OpenAI chat request becomes a Messages request
//!   (`request_from_openai`), the answer becomes a chat completion (`response_to_openai`), and the
//!   event stream becomes OpenAI chunks (`ToOpenAiStream`).
//! - Ingress direction (`POST /v1/messages` to any other backend): a Messages request becomes an
//!   OpenAI chat request (`request_to_openai`), the chat completion becomes a Message
//!   (`response_from_openai`) and OpenAI chunks become Anthropic's events (`FromOpenAiStream`).
//!
//! Wire types follow Anthropic's public API reference (docs.anthropic.com/en/api/messages,
//! /en/api/messages-streaming, /en/api/errors; `anthropic-version: 2023-06-01`). They are kept
//! apart from the internal (OpenAI) types in `super::openai`.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::openai as oa;
use super::{parse_data_url, unix_now, StreamTranslator};
use crate::wire::{sanitize_upstream_message, SseEvent, UpstreamError, Usage};

pub const API_VERSION: &str = "2023-06-01";

// ---- wire types ----

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessagesRequest {
    #[serde(default)]
    pub model: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    #[serde(default)]
    pub messages: Vec<InputMessage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<System>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<ToolDef>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Structured outputs: `{"format": {"type": "json_schema", "schema": {...}}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_config: Option<OutputConfig>,
    /// Everything else (`thinking`, `service_tier`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputMessage {
    pub role: String,
    pub content: MessageContent,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Blocks(Vec<Block>),
}

impl MessageContent {
    fn into_blocks(self) -> Vec<Block> {
        match self {
            MessageContent::Text(text) => vec![Block::Text { text }],
            MessageContent::Blocks(blocks) => blocks,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum System {
    Text(String),
    Blocks(Vec<Block>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
    },
    Image {
        source: ImageSource,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        content: Option<ToolResultContent>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        is_error: Option<bool>,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    RedactedThinking {
        #[serde(default)]
        data: String,
    },
    /// A block type this translator does not know (documents, server tool results, ...).
    #[serde(other)]
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ImageSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolResultContent {
    Text(String),
    Blocks(Vec<Block>),
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolDef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_schema: Option<Value>,
    /// `custom` (or absent) for client tools; server tools have versioned types.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    Auto {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Any {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    Tool {
        name: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        disable_parallel_tool_use: Option<bool>,
    },
    None,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<OutputFormat>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputFormat {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessagesResponse {
    #[serde(default)]
    pub id: String,
    #[serde(rename = "type", default = "message_type")]
    pub kind: String,
    #[serde(default = "assistant")]
    pub role: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub content: Vec<Block>,
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
    #[serde(default)]
    pub usage: MessageUsage,
}

fn message_type() -> String {
    "message".into()
}

fn assistant() -> String {
    "assistant".into()
}

/// Anthropic's usage: `input_tokens` excludes cache reads and writes, which are counted apart
/// (writes split by lifetime in `cache_creation`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageUsage {
    #[serde(default)]
    pub input_tokens: u64,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<CacheCreation>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheCreation {
    #[serde(default)]
    pub ephemeral_5m_input_tokens: u64,
    #[serde(default)]
    pub ephemeral_1h_input_tokens: u64,
}

impl MessageUsage {
    pub fn to_usage(&self) -> Usage {
        parts(
            Some(self.input_tokens),
            Some(self.output_tokens),
            self.cache_read_input_tokens,
            self.cache_creation_input_tokens,
            self.cache_creation,
        )
    }

    /// Anthropic's usage for `usage`: fresh input apart from cache reads and writes.
    pub fn from_usage(usage: &Usage) -> Self {
        MessageUsage {
            input_tokens: usage.fresh_input_tokens.unwrap_or(0),
            output_tokens: usage.output_tokens.unwrap_or(0),
            cache_creation_input_tokens: usage.cache_write_tokens,
            cache_read_input_tokens: usage.cache_read_tokens,
            cache_creation: cache_creation(usage),
        }
    }
}

fn parts(
    input: Option<u64>,
    output: Option<u64>,
    read: Option<u64>,
    write: Option<u64>,
    creation: Option<CacheCreation>,
) -> Usage {
    let hour = creation.map(|c| c.ephemeral_1h_input_tokens);
    Usage {
        fresh_input_tokens: input,
        cache_read_tokens: read,
        cache_write_tokens: write.or_else(|| {
            creation.map(|c| c.ephemeral_5m_input_tokens + c.ephemeral_1h_input_tokens)
        }),
        cache_write_1h_tokens: hour,
        output_tokens: output,
        reasoning_tokens: None,
    }
}

fn cache_creation(usage: &Usage) -> Option<CacheCreation> {
    usage
        .cache_write_1h_tokens
        .filter(|n| *n > 0)
        .map(|hour| CacheCreation {
            ephemeral_5m_input_tokens: usage.cache_write_5m_tokens(),
            ephemeral_1h_input_tokens: hour,
        })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum StreamEvent {
    MessageStart {
        message: MessagesResponse,
    },
    ContentBlockStart {
        index: u32,
        content_block: Block,
    },
    ContentBlockDelta {
        index: u32,
        delta: BlockDelta,
    },
    ContentBlockStop {
        index: u32,
    },
    MessageDelta {
        delta: MessageDeltaBody,
        #[serde(default)]
        usage: DeltaUsage,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorBody,
    },
    #[serde(other)]
    Unknown,
}

impl StreamEvent {
    pub fn name(&self) -> &'static str {
        match self {
            StreamEvent::MessageStart { .. } => "message_start",
            StreamEvent::ContentBlockStart { .. } => "content_block_start",
            StreamEvent::ContentBlockDelta { .. } => "content_block_delta",
            StreamEvent::ContentBlockStop { .. } => "content_block_stop",
            StreamEvent::MessageDelta { .. } => "message_delta",
            StreamEvent::MessageStop => "message_stop",
            StreamEvent::Ping => "ping",
            StreamEvent::Error { .. } => "error",
            StreamEvent::Unknown => "unknown",
        }
    }

    /// As an SSE event named after its type, the way Anthropic frames them.
    pub fn to_sse(&self) -> SseEvent {
        SseEvent {
            event: Some(self.name().to_owned()),
            data: serde_json::to_string(self).unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum BlockDelta {
    TextDelta {
        text: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageDeltaBody {
    #[serde(default)]
    pub stop_reason: Option<String>,
    #[serde(default)]
    pub stop_sequence: Option<String>,
}

/// `message_delta`'s usage: cumulative counts; older API versions send only `output_tokens`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaUsage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default)]
    pub output_tokens: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_read_input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_creation: Option<CacheCreation>,
}

impl DeltaUsage {
    pub fn to_usage(&self) -> Usage {
        parts(
            self.input_tokens,
            Some(self.output_tokens),
            self.cache_read_input_tokens,
            self.cache_creation_input_tokens,
            self.cache_creation,
        )
    }
}

/// `{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}

// ---- stop reasons, errors ----

/// Anthropic `stop_reason` → OpenAI `finish_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn
        _ => "stop",
    }
}

/// OpenAI `finish_reason` → Anthropic `stop_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

/// The status a failure summary carries for an Anthropic error type (`http` for `api_error`
/// and unknown types). `overloaded_error` (HTTP 529 at Anthropic) becomes 503 so every client knows it.
pub fn error_status(kind: &str, http: Option<u16>) -> StatusCode {
    match kind {
        "invalid_request_error" => StatusCode::BAD_REQUEST,
        "authentication_error" => StatusCode::UNAUTHORIZED,
        "billing_error" => StatusCode::PAYMENT_REQUIRED,
        "permission_error" => StatusCode::FORBIDDEN,
        "not_found_error" => StatusCode::NOT_FOUND,
        "request_too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        "rate_limit_error" => StatusCode::TOO_MANY_REQUESTS,
        "overloaded_error" => StatusCode::SERVICE_UNAVAILABLE,
        _ => match http {
            Some(529) => StatusCode::SERVICE_UNAVAILABLE,
            Some(code) if code >= 400 => {
                StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            // An error event inside a stream (no HTTP status of its own), or a 2xx/3xx body.
            _ => StatusCode::BAD_GATEWAY,
        },
    }
}

/// The Anthropic error type for a status, for errors sent to Anthropic-speaking clients.
pub fn error_type_for_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 405 | 415 | 422 => "invalid_request_error",
        401 => "authentication_error",
        402 => "billing_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        503 | 529 => "overloaded_error",
        504 => "timeout_error",
        _ => "api_error",
    }
}

/// An Anthropic error body (HTTP or `error` event) as an `UpstreamError`.
pub fn upstream_error(
    body: &[u8],
    http: Option<u16>,
    retry_after_ms: Option<u64>,
) -> UpstreamError {
    let parsed: Option<ErrorEnvelope> = serde_json::from_slice(body).ok();
    let (kind, message) = match parsed {
        Some(e) => (e.error.kind, e.error.message),
        None => (
            String::new(),
            String::from_utf8_lossy(body).chars().take(200).collect(),
        ),
    };
    let status = error_status(&kind, http);
    let message = if kind.is_empty() {
        sanitize_upstream_message(&message)
    } else {
        sanitize_upstream_message(&format!("{kind}: {message}"))
    };
    UpstreamError::Status {
        status,
        message,
        retry_after_ms,
    }
}

// ---- provider direction: OpenAI → Anthropic ----

/// An OpenAI chat request as a Messages request. `default_max_tokens` is used when the request
/// has no `max_tokens`/`max_completion_tokens` (Anthropic requires one). Parameters Anthropic
/// cannot take must have been removed before (see `provider::AnthropicProvider`); an Err is a
/// request that cannot be expressed at all (e.g. an audio part), for a 400.
pub fn request_from_openai(
    req: &oa::ChatRequest,
    default_max_tokens: u64,
) -> Result<MessagesRequest, String> {
    let mut system: Vec<String> = Vec::new();
    let mut messages: Vec<InputMessage> = Vec::new();
    let mut push = |role: &str, blocks: Vec<Block>| {
        if blocks.is_empty() {
            return;
        }
        match messages.last_mut() {
            // Consecutive turns of one role become one (tool results of parallel calls must
            // all be in the user turn that follows the assistant's tool calls).
            Some(InputMessage {
                role: last,
                content: MessageContent::Blocks(existing),
            }) if last == role => existing.extend(blocks),
            _ => messages.push(InputMessage {
                role: role.to_owned(),
                content: MessageContent::Blocks(blocks),
            }),
        }
    };
    for (i, message) in req.messages.iter().enumerate() {
        match message.role.as_str() {
            "system" | "developer" => {
                if let Some(content) = &message.content {
                    system.push(content.text());
                }
            }
            "user" => {
                let blocks = match &message.content {
                    None => Vec::new(),
                    Some(content) => parts_to_blocks(&content.parts(), i)?,
                };
                push("user", blocks);
            }
            "assistant" => {
                let mut blocks = Vec::new();
                if let Some(content) = &message.content {
                    let text = content.text();
                    if !text.is_empty() {
                        blocks.push(Block::Text { text });
                    }
                }
                for call in message.tool_calls.iter().flatten() {
                    blocks.push(Block::ToolUse {
                        id: call.id.clone(),
                        name: call.function.name.clone(),
                        input: parse_arguments(&call.function.arguments).map_err(|e| {
                            format!("messages[{i}]: tool call `{}` has arguments that are not JSON ({e})", call.id)
                        })?,
                    });
                }
                push("assistant", blocks);
            }
            "tool" => {
                let id = message.tool_call_id.clone().ok_or_else(|| {
                    format!("messages[{i}]: a `tool` message needs `tool_call_id`")
                })?;
                let content = match &message.content {
                    None => None,
                    Some(oa::Content::Text(text)) => Some(ToolResultContent::Text(text.clone())),
                    Some(oa::Content::Parts(parts)) => {
                        Some(ToolResultContent::Blocks(parts_to_blocks(parts, i)?))
                    }
                };
                push(
                    "user",
                    vec![Block::ToolResult {
                        tool_use_id: id,
                        content,
                        is_error: None,
                    }],
                );
            }
            other => {
                return Err(format!(
                    "messages[{i}]: role `{other}` cannot be sent to Anthropic (use `tool` messages for function results)"
                ))
            }
        }
    }

    let tools = match &req.tools {
        None => None,
        Some(tools) => Some(
            tools
                .iter()
                .map(|tool| {
                    if tool.kind != "function" {
                        return Err(format!(
                            "tools of type `{}` cannot be sent to Anthropic",
                            tool.kind
                        ));
                    }
                    Ok(ToolDef {
                        name: tool.function.name.clone(),
                        description: tool.function.description.clone(),
                        input_schema: Some(
                            tool.function
                                .parameters
                                .clone()
                                .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                        ),
                        kind: None,
                        extra: Map::new(),
                    })
                })
                .collect::<Result<Vec<_>, String>>()?,
        ),
    };
    let disable_parallel = (req.parallel_tool_calls == Some(false)).then_some(true);
    let tool_choice = match &req.tool_choice {
        None if disable_parallel.is_some() && tools.is_some() => Some(ToolChoice::Auto {
            disable_parallel_tool_use: disable_parallel,
        }),
        None => None,
        Some(oa::ToolChoice::Mode(mode)) => match mode.as_str() {
            "none" => Some(ToolChoice::None),
            "required" => Some(ToolChoice::Any {
                disable_parallel_tool_use: disable_parallel,
            }),
            _ => Some(ToolChoice::Auto {
                disable_parallel_tool_use: disable_parallel,
            }),
        },
        Some(oa::ToolChoice::Named(named)) => Some(ToolChoice::Tool {
            name: named.function.name.clone(),
            disable_parallel_tool_use: disable_parallel,
        }),
    };
    let output_config = req
        .response_format
        .as_ref()
        .filter(|f| f.kind == "json_schema")
        .and_then(|f| f.json_schema.as_ref())
        .and_then(|s| s.schema.clone())
        .map(|schema| OutputConfig {
            format: Some(OutputFormat {
                kind: "json_schema".into(),
                schema: Some(schema),
            }),
            extra: Map::new(),
        });

    Ok(MessagesRequest {
        model: req.model.clone(),
        max_tokens: Some(req.max_output_tokens().unwrap_or(default_max_tokens)),
        messages,
        system: (!system.is_empty()).then(|| System::Text(system.join("\n\n"))),
        stop_sequences: req.stop_sequences(),
        // OpenAI's range is 0–2, Anthropic's 0–1.
        temperature: req.temperature.map(|t| t.clamp(0.0, 1.0)),
        top_p: req.top_p,
        top_k: None,
        tools,
        tool_choice,
        metadata: req.user.clone().map(|user| Metadata {
            user_id: Some(user),
        }),
        stream: req.stream.filter(|s| *s),
        output_config,
        extra: Map::new(),
    })
}

fn parse_arguments(arguments: &str) -> Result<Value, serde_json::Error> {
    if arguments.trim().is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_str(arguments)
}

fn parts_to_blocks(parts: &[oa::Part], i: usize) -> Result<Vec<Block>, String> {
    let mut blocks = Vec::new();
    for part in parts {
        match (part.kind.as_str(), &part.text, &part.image_url) {
            ("text", Some(text), _) => {
                // Anthropic refuses empty text blocks.
                if !text.is_empty() {
                    blocks.push(Block::Text { text: text.clone() });
                }
            }
            ("image_url", _, Some(image)) => {
                let source = match parse_data_url(&image.url) {
                    Some((media_type, data)) => ImageSource::Base64 { media_type, data },
                    None => ImageSource::Url {
                        url: image.url.clone(),
                    },
                };
                blocks.push(Block::Image { source });
            }
            (other, _, _) => {
                return Err(format!(
                    "messages[{i}]: content parts of type `{other}` cannot be sent to Anthropic"
                ))
            }
        }
    }
    Ok(blocks)
}

/// A Messages response as an OpenAI chat completion.
pub fn response_to_openai(response: MessagesResponse) -> oa::ChatCompletion {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in &response.content {
        match block {
            Block::Text { text: t } => text.push_str(t),
            Block::ToolUse { id, name, input } => tool_calls.push(oa::ToolCall {
                id: id.clone(),
                kind: "function".into(),
                function: oa::FunctionCall {
                    name: name.clone(),
                    arguments: input.to_string(),
                },
            }),
            _ => {}
        }
    }
    let finish = response
        .stop_reason
        .as_deref()
        .map(|s| finish_reason(s).to_owned());
    oa::ChatCompletion {
        id: response.id,
        object: "chat.completion".into(),
        created: unix_now(),
        model: response.model,
        choices: vec![oa::Choice {
            index: 0,
            message: oa::ResponseMessage {
                role: "assistant".into(),
                content: (!text.is_empty() || tool_calls.is_empty()).then_some(text),
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
            },
            finish_reason: finish,
        }],
        usage: Some(oa::CompletionUsage::from_usage(&response.usage.to_usage())),
    }
}

/// Anthropic's event stream → OpenAI chunks, incrementally: text deltas become `content`,
/// `tool_use` blocks and their `input_json_delta`s become `tool_calls` deltas (one OpenAI index
/// per tool block, in order), `message_delta` carries the finish reason and output tokens.
pub struct ToOpenAiStream {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    /// Content block index → OpenAI tool call index.
    tools: HashMap<u32, u32>,
    next_tool: u32,
    usage: Usage,
    done: bool,
}

impl ToOpenAiStream {
    pub fn new(model: &str, include_usage: bool) -> Self {
        ToOpenAiStream {
            id: String::new(),
            model: model.to_owned(),
            created: unix_now(),
            include_usage,
            tools: HashMap::new(),
            next_tool: 0,
            usage: Usage::default(),
            done: false,
        }
    }

    fn chunk(&self, delta: oa::Delta, finish: Option<&str>) -> SseEvent {
        let chunk = oa::ChatChunk {
            id: self.id.clone(),
            object: "chat.completion.chunk".into(),
            created: self.created,
            model: self.model.clone(),
            choices: vec![oa::ChunkChoice {
                index: 0,
                delta,
                finish_reason: finish.map(str::to_owned),
            }],
            usage: None,
        };
        SseEvent::data(serde_json::to_string(&chunk).unwrap_or_default())
    }
}

impl StreamTranslator for ToOpenAiStream {
    fn on_event(&mut self, event: &str, data: &str) -> Result<Vec<SseEvent>, UpstreamError> {
        let parsed: StreamEvent = serde_json::from_str(data).map_err(|e| {
            UpstreamError::Protocol(format!("unreadable Anthropic `{event}` event: {e}"))
        })?;
        Ok(match parsed {
            StreamEvent::MessageStart { message } => {
                self.id = message.id;
                if !message.model.is_empty() {
                    self.model = message.model;
                }
                self.usage = message.usage.to_usage();
                vec![self.chunk(
                    oa::Delta {
                        role: Some("assistant".into()),
                        content: Some(String::new()),
                        tool_calls: None,
                    },
                    None,
                )]
            }
            StreamEvent::ContentBlockStart {
                index,
                content_block,
            } => match content_block {
                Block::ToolUse { id, name, .. } => {
                    let tool_index = self.next_tool;
                    self.next_tool += 1;
                    self.tools.insert(index, tool_index);
                    vec![self.chunk(
                        oa::Delta {
                            tool_calls: Some(vec![oa::ToolCallDelta {
                                index: tool_index,
                                id: Some(id),
                                kind: Some("function".into()),
                                function: Some(oa::FunctionDelta {
                                    name: Some(name),
                                    arguments: Some(String::new()),
                                }),
                            }]),
                            ..oa::Delta::default()
                        },
                        None,
                    )]
                }
                Block::Text { text } if !text.is_empty() => vec![self.chunk(
                    oa::Delta {
                        content: Some(text),
                        ..oa::Delta::default()
                    },
                    None,
                )],
                _ => Vec::new(),
            },
            StreamEvent::ContentBlockDelta { index, delta } => match delta {
                BlockDelta::TextDelta { text } => vec![self.chunk(
                    oa::Delta {
                        content: Some(text),
                        ..oa::Delta::default()
                    },
                    None,
                )],
                BlockDelta::InputJsonDelta { partial_json } if !partial_json.is_empty() => {
                    match self.tools.get(&index) {
                        Some(tool_index) => vec![self.chunk(
                            oa::Delta {
                                tool_calls: Some(vec![oa::ToolCallDelta {
                                    index: *tool_index,
                                    id: None,
                                    kind: None,
                                    function: Some(oa::FunctionDelta {
                                        name: None,
                                        arguments: Some(partial_json),
                                    }),
                                }]),
                                ..oa::Delta::default()
                            },
                            None,
                        )],
                        None => Vec::new(),
                    }
                }
                _ => Vec::new(),
            },
            StreamEvent::MessageDelta { delta, usage } => {
                self.usage = self.usage.merge(usage.to_usage());
                match delta.stop_reason {
                    Some(reason) => {
                        vec![self.chunk(oa::Delta::default(), Some(finish_reason(&reason)))]
                    }
                    None => Vec::new(),
                }
            }
            StreamEvent::MessageStop => {
                self.done = true;
                let mut out = Vec::new();
                if self.include_usage {
                    let chunk = oa::ChatChunk {
                        id: self.id.clone(),
                        object: "chat.completion.chunk".into(),
                        created: self.created,
                        model: self.model.clone(),
                        choices: Vec::new(),
                        usage: Some(oa::CompletionUsage::from_usage(&self.usage)),
                    };
                    out.push(SseEvent::data(
                        serde_json::to_string(&chunk).unwrap_or_default(),
                    ));
                }
                out.push(SseEvent::data("[DONE]"));
                out
            }
            StreamEvent::Error { error } => {
                let body = serde_json::to_vec(&ErrorEnvelope {
                    kind: "error".into(),
                    error,
                })
                .unwrap_or_default();
                return Err(upstream_error(&body, None, None));
            }
            StreamEvent::ContentBlockStop { .. } | StreamEvent::Ping | StreamEvent::Unknown => {
                Vec::new()
            }
        })
    }

    fn finish(&mut self) -> Result<Vec<SseEvent>, UpstreamError> {
        if self.done {
            Ok(Vec::new())
        } else {
            Err(UpstreamError::Protocol(
                "the Anthropic stream ended before `message_stop`".into(),
            ))
        }
    }
}

// ---- ingress direction: Anthropic → OpenAI ----

/// A Messages request (from an Anthropic client) as an OpenAI chat request, for a backend that
/// speaks OpenAI. Returns the names of what could not be carried over (dropped with a note).
pub fn request_to_openai(req: MessagesRequest) -> Result<(oa::ChatRequest, Vec<String>), String> {
    let mut dropped: Vec<String> = req.extra.keys().cloned().collect();
    if req.top_k.is_some() {
        dropped.push("top_k".into());
    }
    let mut messages = Vec::new();
    match req.system {
        None => {}
        Some(System::Text(text)) => messages.push(text_message("system", text)),
        Some(System::Blocks(blocks)) => messages.push(text_message("system", joined_text(&blocks))),
    }
    for (i, message) in req.messages.into_iter().enumerate() {
        let blocks = message.content.into_blocks();
        for block in &blocks {
            match block {
                Block::Thinking { .. } => note(&mut dropped, "messages[].thinking"),
                Block::RedactedThinking { .. } => {
                    note(&mut dropped, "messages[].redacted_thinking")
                }
                _ => {}
            }
        }
        match message.role.as_str() {
            // Mid-conversation system turns (Claude Code's `mid-conversation-system` beta) stay
            // where they are: OpenAI's format allows system messages anywhere.
            "system" => {
                let text = joined_text(&blocks);
                if !text.is_empty() {
                    messages.push(text_message("system", text));
                }
            }
            "user" => {
                let mut parts = Vec::new();
                let mut tool_images = Vec::new();
                for block in blocks {
                    match block {
                        Block::Text { text } => parts.push(oa::Part::text(&text)),
                        Block::Image { source } => parts.push(image_part(source, i)?),
                        Block::ToolResult {
                            tool_use_id,
                            content,
                            is_error,
                        } => {
                            let mut texts = Vec::new();
                            match content {
                                None => {}
                                Some(ToolResultContent::Text(text)) => texts.push(text),
                                Some(ToolResultContent::Blocks(inner)) => {
                                    for block in inner {
                                        match block {
                                            Block::Text { text } => texts.push(text),
                                            Block::Image { source } => {
                                                tool_images.push(image_part(source, i)?)
                                            }
                                            _ => {}
                                        }
                                    }
                                }
                            }
                            let mut text = texts.join("\n");
                            if is_error == Some(true) {
                                text = format!("Error: {text}");
                            }
                            messages.push(oa::Message {
                                role: "tool".into(),
                                content: Some(oa::Content::Text(text)),
                                tool_call_id: Some(tool_use_id),
                                ..oa::Message::default()
                            });
                        }
                        Block::Unknown => {
                            return Err(format!(
                                "messages[{i}]: a content block type this backend cannot take"
                            ))
                        }
                        _ => {}
                    }
                }
                // OpenAI tool messages carry text only: images from tool results follow in a
                // user turn.
                parts.extend(tool_images);
                if !parts.is_empty() {
                    let content = match parts.as_slice() {
                        [only] if only.kind == "text" => {
                            oa::Content::Text(only.text.clone().unwrap_or_default())
                        }
                        _ => oa::Content::Parts(parts),
                    };
                    messages.push(oa::Message {
                        role: "user".into(),
                        content: Some(content),
                        ..oa::Message::default()
                    });
                }
            }
            "assistant" => {
                let mut text = String::new();
                let mut tool_calls = Vec::new();
                for block in blocks {
                    match block {
                        Block::Text { text: t } => text.push_str(&t),
                        Block::ToolUse { id, name, input } => tool_calls.push(oa::ToolCall {
                            id,
                            kind: "function".into(),
                            function: oa::FunctionCall {
                                name,
                                arguments: input.to_string(),
                            },
                        }),
                        _ => {}
                    }
                }
                messages.push(oa::Message {
                    role: "assistant".into(),
                    content: (!text.is_empty() || tool_calls.is_empty())
                        .then_some(oa::Content::Text(text)),
                    tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                    ..oa::Message::default()
                });
            }
            other => return Err(format!("messages[{i}]: unknown role `{other}`")),
        }
    }

    let mut tools = Vec::new();
    for tool in req.tools.into_iter().flatten() {
        let custom = tool.kind.as_deref().is_none_or(|k| k == "custom");
        // A deferred tool (Anthropic's tool search) is hidden from the model until searched for.
        let deferred = tool.extra.get("defer_loading") == Some(&Value::Bool(true));
        match (custom && !deferred, tool.input_schema) {
            (true, Some(schema)) => tools.push(oa::Tool {
                kind: "function".into(),
                function: oa::FunctionDef {
                    name: tool.name,
                    description: tool.description,
                    parameters: Some(schema),
                    strict: None,
                },
            }),
            _ => dropped.push(format!("tools.{}", tool.name)),
        }
    }
    let mut parallel_tool_calls = None;
    let tool_choice = req.tool_choice.map(|choice| {
        let (choice, disable) = match choice {
            ToolChoice::Auto {
                disable_parallel_tool_use,
            } => (
                oa::ToolChoice::Mode("auto".into()),
                disable_parallel_tool_use,
            ),
            ToolChoice::Any {
                disable_parallel_tool_use,
            } => (
                oa::ToolChoice::Mode("required".into()),
                disable_parallel_tool_use,
            ),
            ToolChoice::Tool {
                name,
                disable_parallel_tool_use,
            } => (
                oa::ToolChoice::Named(oa::NamedToolChoice {
                    kind: "function".into(),
                    function: oa::NamedFunction { name },
                }),
                disable_parallel_tool_use,
            ),
            ToolChoice::None => (oa::ToolChoice::Mode("none".into()), None),
        };
        if disable == Some(true) {
            parallel_tool_calls = Some(false);
        }
        choice
    });
    let mut response_format = None;
    if let Some(config) = req.output_config {
        dropped.extend(config.extra.keys().map(|k| format!("output_config.{k}")));
        if let Some(OutputFormat {
            schema: Some(schema),
            ..
        }) = config.format
        {
            response_format = Some(oa::ResponseFormat {
                kind: "json_schema".into(),
                json_schema: Some(oa::JsonSchemaFormat {
                    name: "output".into(),
                    description: None,
                    schema: Some(schema),
                    strict: Some(true),
                }),
            });
        }
    }
    // OpenAI caps `user` at 64 characters (Claude Code's user_id is a longer JSON object).
    let user = req.metadata.and_then(|m| m.user_id);
    let user = match user {
        Some(user) if user.chars().count() > 64 => {
            dropped.push("metadata.user_id".into());
            None
        }
        user => user,
    };
    let has_tools = !tools.is_empty();
    Ok((
        oa::ChatRequest {
            model: req.model,
            messages,
            stream: req.stream,
            max_tokens: req.max_tokens,
            temperature: req.temperature,
            top_p: req.top_p,
            stop: req.stop_sequences.map(oa::Stop::Many),
            tools: has_tools.then_some(tools),
            tool_choice: tool_choice.filter(|_| has_tools),
            parallel_tool_calls: parallel_tool_calls.filter(|_| has_tools),
            response_format,
            user,
            ..oa::ChatRequest::default()
        },
        dropped,
    ))
}

/// The text blocks of a system prompt, joined; other blocks have no OpenAI equivalent.
fn joined_text(blocks: &[Block]) -> String {
    blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn note(dropped: &mut Vec<String>, name: &str) {
    if !dropped.iter().any(|d| d == name) {
        dropped.push(name.to_owned());
    }
}

fn text_message(role: &str, text: String) -> oa::Message {
    oa::Message {
        role: role.into(),
        content: Some(oa::Content::Text(text)),
        ..oa::Message::default()
    }
}

fn image_part(source: ImageSource, i: usize) -> Result<oa::Part, String> {
    match source {
        ImageSource::Base64 { media_type, data } => {
            Ok(oa::Part::image(format!("data:{media_type};base64,{data}")))
        }
        ImageSource::Url { url } => Ok(oa::Part::image(url)),
        ImageSource::Other => Err(format!(
            "messages[{i}]: an image source type this backend cannot take (use base64 or url)"
        )),
    }
}

/// An OpenAI chat completion as a Messages response. `model` is what the client asked for.
pub fn response_from_openai(completion: oa::ChatCompletion, model: &str) -> MessagesResponse {
    let mut content = Vec::new();
    let mut stop = None;
    if let Some(choice) = completion.choices.into_iter().next() {
        if let Some(text) = choice.message.content.filter(|t| !t.is_empty()) {
            content.push(Block::Text { text });
        }
        for (n, call) in choice.message.tool_calls.into_iter().flatten().enumerate() {
            content.push(Block::ToolUse {
                id: if call.id.is_empty() {
                    format!("toolu_{n}")
                } else {
                    call.id
                },
                name: call.function.name,
                input: parse_arguments(&call.function.arguments).unwrap_or_else(|_| json!({})),
            });
        }
        stop = choice.finish_reason;
    }
    let usage = completion.usage.unwrap_or_default();
    MessagesResponse {
        id: message_id(&completion.id),
        kind: "message".into(),
        role: "assistant".into(),
        model: model.to_owned(),
        content,
        stop_reason: Some(stop_reason(stop.as_deref().unwrap_or("stop")).to_owned()),
        stop_sequence: None,
        usage: MessageUsage::from_usage(&usage.to_usage()),
    }
}

fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_owned()
    } else if id.is_empty() {
        format!("msg_{}", uuid::Uuid::new_v4().simple())
    } else {
        format!("msg_{id}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum OpenBlock {
    Text(u32),
    Tool(u32),
}

/// OpenAI chunks → Anthropic's event stream, incrementally: `message_start` on the first chunk,
/// a text block for content, one `tool_use` block per tool call (arguments as
/// `input_json_delta`s), then `message_delta` (stop reason, usage) and `message_stop` on
/// `[DONE]` or at the end of the stream.
pub struct FromOpenAiStream {
    model: String,
    id: String,
    input_estimate: u64,
    started: bool,
    open: Option<OpenBlock>,
    next_block: u32,
    /// OpenAI tool call index → content block index.
    tool_blocks: HashMap<u32, u32>,
    stop_reason: Option<String>,
    usage: Option<oa::CompletionUsage>,
    finished: bool,
}

impl FromOpenAiStream {
    /// `model`: the name the client asked for; `input_estimate`: the input tokens to report in
    /// `message_start` (the backend's count arrives only at the end, in `message_delta`).
    pub fn new(model: &str, input_estimate: u64) -> Self {
        FromOpenAiStream {
            model: model.to_owned(),
            id: String::new(),
            input_estimate,
            started: false,
            open: None,
            next_block: 0,
            tool_blocks: HashMap::new(),
            stop_reason: None,
            usage: None,
            finished: false,
        }
    }

    fn start(&mut self, id: &str, out: &mut Vec<SseEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        self.id = message_id(id);
        out.push(
            StreamEvent::MessageStart {
                message: MessagesResponse {
                    id: self.id.clone(),
                    kind: "message".into(),
                    role: "assistant".into(),
                    model: self.model.clone(),
                    content: Vec::new(),
                    stop_reason: None,
                    stop_sequence: None,
                    usage: MessageUsage {
                        input_tokens: self.input_estimate,
                        output_tokens: 0,
                        ..MessageUsage::default()
                    },
                },
            }
            .to_sse(),
        );
    }

    fn close_block(&mut self, out: &mut Vec<SseEvent>) {
        if let Some(OpenBlock::Text(index) | OpenBlock::Tool(index)) = self.open.take() {
            out.push(StreamEvent::ContentBlockStop { index }.to_sse());
        }
    }

    fn close(&mut self) -> Vec<SseEvent> {
        let mut out = Vec::new();
        if self.finished {
            return out;
        }
        self.finished = true;
        self.start("", &mut out);
        self.close_block(&mut out);
        let usage = self.usage.map(|u| MessageUsage::from_usage(&u.to_usage()));
        out.push(
            StreamEvent::MessageDelta {
                delta: MessageDeltaBody {
                    stop_reason: Some(
                        stop_reason(self.stop_reason.as_deref().unwrap_or("stop")).to_owned(),
                    ),
                    stop_sequence: None,
                },
                usage: DeltaUsage {
                    input_tokens: usage.map(|u| u.input_tokens),
                    output_tokens: usage.map_or(0, |u| u.output_tokens),
                    cache_creation_input_tokens: usage.and_then(|u| u.cache_creation_input_tokens),
                    cache_read_input_tokens: usage.and_then(|u| u.cache_read_input_tokens),
                    cache_creation: usage.and_then(|u| u.cache_creation),
                },
            }
            .to_sse(),
        );
        out.push(StreamEvent::MessageStop.to_sse());
        out
    }
}

impl StreamTranslator for FromOpenAiStream {
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
        let chunk: oa::ChatChunk = serde_json::from_value(value)
            .map_err(|e| UpstreamError::Protocol(format!("unreadable stream chunk: {e}")))?;
        let mut out = Vec::new();
        self.start(&chunk.id, &mut out);
        if let Some(usage) = chunk.usage {
            self.usage = Some(usage);
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            if let Some(text) = choice.delta.content.filter(|t| !t.is_empty()) {
                let index = match self.open {
                    Some(OpenBlock::Text(index)) => index,
                    _ => {
                        self.close_block(&mut out);
                        let index = self.next_block;
                        self.next_block += 1;
                        self.open = Some(OpenBlock::Text(index));
                        out.push(
                            StreamEvent::ContentBlockStart {
                                index,
                                content_block: Block::Text {
                                    text: String::new(),
                                },
                            }
                            .to_sse(),
                        );
                        index
                    }
                };
                out.push(
                    StreamEvent::ContentBlockDelta {
                        index,
                        delta: BlockDelta::TextDelta { text },
                    }
                    .to_sse(),
                );
            }
            for call in choice.delta.tool_calls.into_iter().flatten() {
                let function = call.function.unwrap_or_default();
                let index = match self.tool_blocks.get(&call.index) {
                    Some(index) => *index,
                    None => {
                        self.close_block(&mut out);
                        let index = self.next_block;
                        self.next_block += 1;
                        self.tool_blocks.insert(call.index, index);
                        self.open = Some(OpenBlock::Tool(index));
                        out.push(
                            StreamEvent::ContentBlockStart {
                                index,
                                content_block: Block::ToolUse {
                                    id: call
                                        .id
                                        .filter(|id| !id.is_empty())
                                        .unwrap_or_else(|| format!("toolu_{index}")),
                                    name: function.name.clone().unwrap_or_default(),
                                    input: json!({}),
                                },
                            }
                            .to_sse(),
                        );
                        index
                    }
                };
                if let Some(arguments) = function.arguments.filter(|a| !a.is_empty()) {
                    out.push(
                        StreamEvent::ContentBlockDelta {
                            index,
                            delta: BlockDelta::InputJsonDelta {
                                partial_json: arguments,
                            },
                        }
                        .to_sse(),
                    );
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.stop_reason = Some(reason);
            }
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<SseEvent>, UpstreamError> {
        Ok(self.close())
    }
}

#[cfg(test)]
mod tests;
