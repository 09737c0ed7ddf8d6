//! Google's Gemini API (native `generateContent` / `streamGenerateContent?alt=sse` /
//! `batchEmbedContents`), translated from and to OpenAI's shape.
//!
//! Wire types follow the public Gemini API reference (ai.google.dev/api/generate-content,
//! ai.google.dev/api/caching#Content, ai.google.dev/api/embeddings,
//! ai.google.dev/gemini-api/docs/function-calling). Field names are camelCase on the wire.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::openai as oa;
use super::{guess_media_type, parse_data_url, unix_now, StreamTranslator};
use crate::wire::{sanitize_upstream_message, SseEvent, UpstreamError};

// ---- wire types ----

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentRequest {
    pub contents: Vec<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_instruction: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_config: Option<ToolConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_config: Option<GenerationConfig>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Content {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default)]
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Part {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inline_data: Option<Blob>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_data: Option<FileData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_call: Option<FunctionCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function_response: Option<FunctionResponse>,
    /// A thought summary, not part of the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought: Option<bool>,
    /// Opaque context of the model's thinking, attached to function calls; Gemini wants it back
    /// with the call in the next turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thought_signature: Option<String>,
}

impl Part {
    fn text(text: String) -> Part {
        Part {
            text: Some(text),
            ..Part::default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Blob {
    pub mime_type: String,
    pub data: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mime_type: Option<String>,
    pub file_uri: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub args: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    pub response: Value,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tool {
    pub function_declarations: Vec<FunctionDeclaration>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionDeclaration {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Plain JSON Schema (the API's alternative to its OpenAPI-subset `parameters`), so tool
    /// schemas pass through without conversion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_json_schema: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolConfig {
    pub function_calling_config: FunctionCallingConfig,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FunctionCallingConfig {
    /// `AUTO`, `ANY`, `NONE`.
    pub mode: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_function_names: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerationConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_sequences: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_mime_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_json_schema: Option<Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateContentResponse {
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_feedback: Option<PromptFeedback>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<Content>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromptFeedback {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    #[serde(default)]
    pub prompt_token_count: u64,
    #[serde(default)]
    pub candidates_token_count: u64,
    #[serde(default)]
    pub total_token_count: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thoughts_token_count: Option<u64>,
    /// The part of `prompt_token_count` served from a context cache (implicit or explicit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_content_token_count: Option<u64>,
}

impl UsageMetadata {
    /// Thought tokens are billed as output, so they join `completion_tokens` (and are listed as
    /// reasoning); cached content stays inside `prompt_tokens`, as in OpenAI's usage.
    fn to_openai(self) -> oa::CompletionUsage {
        let mut usage = oa::CompletionUsage::new(
            self.prompt_token_count,
            self.candidates_token_count + self.thoughts_token_count.unwrap_or(0),
        );
        usage.prompt_tokens_details =
            self.cached_content_token_count
                .map(|cached| oa::PromptTokensDetails {
                    cached_tokens: Some(cached),
                    ..oa::PromptTokensDetails::default()
                });
        usage.completion_tokens_details =
            self.thoughts_token_count
                .map(|thoughts| oa::CompletionTokensDetails {
                    reasoning_tokens: Some(thoughts),
                });
        usage
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchEmbedRequest {
    pub requests: Vec<EmbedContentRequest>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbedContentRequest {
    pub model: String,
    pub content: Content,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_dimensionality: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchEmbedResponse {
    #[serde(default)]
    pub embeddings: Vec<ContentEmbedding>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContentEmbedding {
    #[serde(default)]
    pub values: Vec<f32>,
}

/// `{"error": {"code": 429, "message": "...", "status": "RESOURCE_EXHAUSTED"}}`
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: u16,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub status: String,
}

// ---- helpers ----

/// `models/NAME` for a model id written with or without the prefix.
pub fn model_path(model: &str) -> String {
    if model.starts_with("models/") || model.starts_with("tunedModels/") {
        model.to_owned()
    } else {
        format!("models/{model}")
    }
}

/// Gemini `finishReason` → OpenAI `finish_reason`.
pub fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            "content_filter"
        }
        _ => "stop",
    }
}

/// A Gemini error body as an `UpstreamError`. An invalid key is a 400 `INVALID_ARGUMENT` at
/// Google; it is reported as 401 so routing marks the target misconfigured.
pub fn upstream_error(body: &[u8], http: u16, retry_after_ms: Option<u64>) -> UpstreamError {
    let parsed: Option<ErrorEnvelope> =
        serde_json::from_slice::<ErrorEnvelope>(body)
            .ok()
            .or_else(|| {
                serde_json::from_slice::<Vec<ErrorEnvelope>>(body)
                    .ok()
                    .and_then(|v| v.into_iter().next())
            });
    let (status_text, message) = match parsed {
        Some(e) => (e.error.status, e.error.message),
        None => (
            String::new(),
            String::from_utf8_lossy(body).chars().take(200).collect(),
        ),
    };
    let mut status = StatusCode::from_u16(http).unwrap_or(StatusCode::BAD_GATEWAY);
    let lower = message.to_ascii_lowercase();
    if status_text == "UNAUTHENTICATED" || (http == 400 && lower.contains("api key")) {
        status = StatusCode::UNAUTHORIZED;
    } else if status_text == "PERMISSION_DENIED" {
        status = StatusCode::FORBIDDEN;
    }
    let message = if status_text.is_empty() {
        sanitize_upstream_message(&message)
    } else {
        sanitize_upstream_message(&format!("{status_text}: {message}"))
    };
    UpstreamError::Status {
        status,
        message,
        retry_after_ms,
    }
}

fn new_call_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("call_{}", &id[..24])
}

/// Separates a tool call id from the thought signature carried inside it.
const SIGNATURE_MARK: &str = "__sig_";

/// The OpenAI tool call id for a Gemini function call. Gemini (2.5 and later, with thinking)
/// wants each call's `thoughtSignature` back in the next turn, and OpenAI clients only echo the
/// id, so the signature travels inside it (base64url, so ids stay `[A-Za-z0-9_-]`).
fn call_id(id: Option<String>, signature: Option<&str>) -> String {
    let id = id.unwrap_or_else(new_call_id);
    match signature {
        Some(sig) => {
            let safe: String = sig
                .trim_end_matches('=')
                .chars()
                .map(|c| match c {
                    '+' => '-',
                    '/' => '_',
                    c => c,
                })
                .collect();
            format!("{id}{SIGNATURE_MARK}{safe}")
        }
        None => id,
    }
}

/// The thought signature inside a tool call id made by `call_id`, as Gemini sent it.
fn signature_of(id: &str) -> Option<String> {
    let (_, safe) = id.split_once(SIGNATURE_MARK)?;
    let mut sig: String = safe
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let padding = (4 - sig.len() % 4) % 4;
    sig.extend(std::iter::repeat_n('=', padding));
    Some(sig)
}

// ---- OpenAI → Gemini ----

/// An OpenAI chat request as a `generateContent` request. Parameters Gemini cannot take must have
/// been removed before; an Err is a request that cannot be expressed at all, for a 400.
pub fn request_from_openai(req: &oa::ChatRequest) -> Result<GenerateContentRequest, String> {
    let mut system: Vec<Part> = Vec::new();
    let mut contents: Vec<Content> = Vec::new();
    let mut call_names: HashMap<String, String> = HashMap::new();
    let mut push = |role: &str, parts: Vec<Part>| {
        if parts.is_empty() {
            return;
        }
        match contents.last_mut() {
            // Gemini wants the responses to parallel calls together in one turn.
            Some(last) if last.role.as_deref() == Some(role) => last.parts.extend(parts),
            _ => contents.push(Content {
                role: Some(role.to_owned()),
                parts,
            }),
        }
    };
    for (i, message) in req.messages.iter().enumerate() {
        match message.role.as_str() {
            "system" | "developer" => {
                if let Some(content) = &message.content {
                    system.push(Part::text(content.text()));
                }
            }
            "user" => {
                let parts = match &message.content {
                    None => Vec::new(),
                    Some(content) => convert_parts(&content.parts(), i)?,
                };
                push("user", parts);
            }
            "assistant" => {
                let mut parts = Vec::new();
                if let Some(content) = &message.content {
                    let text = content.text();
                    if !text.is_empty() {
                        parts.push(Part::text(text));
                    }
                }
                for call in message.tool_calls.iter().flatten() {
                    call_names.insert(call.id.clone(), call.function.name.clone());
                    let args = if call.function.arguments.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&call.function.arguments).map_err(|e| {
                            format!("messages[{i}]: tool call `{}` has arguments that are not JSON ({e})", call.id)
                        })?
                    };
                    parts.push(Part {
                        function_call: Some(FunctionCall {
                            id: None,
                            name: call.function.name.clone(),
                            args,
                        }),
                        thought_signature: signature_of(&call.id),
                        ..Part::default()
                    });
                }
                push("model", parts);
            }
            "tool" => {
                let id = message.tool_call_id.clone().unwrap_or_default();
                let name = call_names.get(&id).cloned().ok_or_else(|| {
                    format!("messages[{i}]: `tool_call_id` `{id}` matches no earlier assistant tool call (Gemini needs the function's name)")
                })?;
                let text = message.content.as_ref().map(oa::Content::text).unwrap_or_default();
                // The response must be an object: JSON objects go as they are, anything else
                // is wrapped.
                let response = match serde_json::from_str::<Value>(&text) {
                    Ok(Value::Object(map)) => Value::Object(map),
                    Ok(other) => json!({ "content": other }),
                    Err(_) => json!({ "content": text }),
                };
                push(
                    "user",
                    vec![Part {
                        function_response: Some(FunctionResponse {
                            id: None,
                            name,
                            response,
                        }),
                        ..Part::default()
                    }],
                );
            }
            other => {
                return Err(format!(
                    "messages[{i}]: role `{other}` cannot be sent to Gemini (use `tool` messages for function results)"
                ))
            }
        }
    }

    let tools = match &req.tools {
        None => None,
        Some(tools) => {
            let mut declarations = Vec::new();
            for tool in tools {
                if tool.kind != "function" {
                    return Err(format!(
                        "tools of type `{}` cannot be sent to Gemini",
                        tool.kind
                    ));
                }
                declarations.push(FunctionDeclaration {
                    name: tool.function.name.clone(),
                    description: tool.function.description.clone(),
                    parameters_json_schema: tool.function.parameters.clone(),
                });
            }
            Some(vec![Tool {
                function_declarations: declarations,
            }])
        }
    };
    let tool_config = req.tool_choice.as_ref().map(|choice| {
        let (mode, allowed) = match choice {
            oa::ToolChoice::Mode(mode) => match mode.as_str() {
                "none" => ("NONE", None),
                "required" => ("ANY", None),
                _ => ("AUTO", None),
            },
            oa::ToolChoice::Named(named) => ("ANY", Some(vec![named.function.name.clone()])),
        };
        ToolConfig {
            function_calling_config: FunctionCallingConfig {
                mode: mode.into(),
                allowed_function_names: allowed,
            },
        }
    });
    let (mime, schema) = match &req.response_format {
        Some(f) if f.kind == "json_object" => (Some("application/json".to_owned()), None),
        Some(f) if f.kind == "json_schema" => (
            Some("application/json".to_owned()),
            f.json_schema.as_ref().and_then(|s| s.schema.clone()),
        ),
        _ => (None, None),
    };
    let generation_config = GenerationConfig {
        stop_sequences: req.stop_sequences(),
        temperature: req.temperature,
        top_p: req.top_p,
        max_output_tokens: req.max_output_tokens(),
        seed: req.seed,
        presence_penalty: req.presence_penalty,
        frequency_penalty: req.frequency_penalty,
        response_mime_type: mime,
        response_json_schema: schema,
    };
    if contents.is_empty() {
        return Err(crate::translate::NO_TURN_LEFT.into());
    }
    Ok(GenerateContentRequest {
        contents,
        system_instruction: (!system.is_empty()).then_some(Content {
            role: None,
            parts: system,
        }),
        tools,
        tool_config,
        generation_config: (generation_config != GenerationConfig::default())
            .then_some(generation_config),
    })
}

fn convert_parts(parts: &[oa::Part], i: usize) -> Result<Vec<Part>, String> {
    let mut out = Vec::new();
    for part in parts {
        match (part.kind.as_str(), &part.text, &part.image_url) {
            ("text", Some(text), _) => out.push(Part::text(text.clone())),
            ("image_url", _, Some(image)) => match parse_data_url(&image.url) {
                Some((mime_type, data)) => out.push(Part {
                    inline_data: Some(Blob { mime_type, data }),
                    ..Part::default()
                }),
                None => out.push(Part {
                    file_data: Some(FileData {
                        mime_type: Some(guess_media_type(&image.url).to_owned()),
                        file_uri: image.url.clone(),
                    }),
                    ..Part::default()
                }),
            },
            (other, _, _) => {
                return Err(format!(
                    "messages[{i}]: content parts of type `{other}` cannot be sent to Gemini"
                ))
            }
        }
    }
    Ok(out)
}

// ---- Gemini → OpenAI ----

/// A `generateContent` response as an OpenAI chat completion.
pub fn response_to_openai(response: GenerateContentResponse, model: &str) -> oa::ChatCompletion {
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    let candidate = response.candidates.into_iter().next();
    let mut finish = match (&candidate, &response.prompt_feedback) {
        (
            None,
            Some(PromptFeedback {
                block_reason: Some(_),
            }),
        ) => Some("content_filter".to_owned()),
        (Some(c), _) => c
            .finish_reason
            .as_deref()
            .map(|r| finish_reason(r).to_owned()),
        _ => None,
    };
    if let Some(content) = candidate.and_then(|c| c.content) {
        for part in content.parts {
            if part.thought == Some(true) {
                continue;
            }
            if let Some(t) = part.text {
                text.push_str(&t);
            }
            if let Some(call) = part.function_call {
                tool_calls.push(oa::ToolCall {
                    id: call_id(call.id, part.thought_signature.as_deref()),
                    kind: "function".into(),
                    function: oa::FunctionCall {
                        name: call.name,
                        arguments: call.args.to_string(),
                    },
                });
            }
        }
    }
    if !tool_calls.is_empty() && finish.as_deref() == Some("stop") {
        finish = Some("tool_calls".into());
    }
    oa::ChatCompletion {
        id: response
            .response_id
            .map(|id| format!("chatcmpl-{id}"))
            .unwrap_or_else(|| format!("chatcmpl-{}", uuid::Uuid::new_v4().simple())),
        object: "chat.completion".into(),
        created: unix_now(),
        model: model.to_owned(),
        choices: vec![oa::Choice {
            index: 0,
            message: oa::ResponseMessage {
                role: "assistant".into(),
                content: (!text.is_empty() || tool_calls.is_empty()).then_some(text),
                tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
            },
            finish_reason: finish.or(Some("stop".into())),
        }],
        usage: response.usage_metadata.map(UsageMetadata::to_openai),
    }
}

/// `streamGenerateContent?alt=sse` → OpenAI chunks. Each Gemini event is a whole
/// `GenerateContentResponse` holding the next piece: text parts become `content` deltas,
/// function calls (which Gemini sends whole) become one `tool_calls` delta each, the last event
/// carries `finishReason` and `usageMetadata`. Gemini has no end marker; the stream's end is.
pub struct ToOpenAiStream {
    id: String,
    model: String,
    created: u64,
    include_usage: bool,
    started: bool,
    tool_calls: u32,
    finished: bool,
    usage: Option<UsageMetadata>,
}

impl ToOpenAiStream {
    pub fn new(model: &str, include_usage: bool) -> Self {
        ToOpenAiStream {
            id: format!("chatcmpl-{}", uuid::Uuid::new_v4().simple()),
            model: model.to_owned(),
            created: unix_now(),
            include_usage,
            started: false,
            tool_calls: 0,
            finished: false,
            usage: None,
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

    fn finish_chunk(&mut self, reason: &str) -> SseEvent {
        self.finished = true;
        let reason = if self.tool_calls > 0 && reason == "stop" {
            "tool_calls"
        } else {
            reason
        };
        self.chunk(oa::Delta::default(), Some(reason))
    }
}

impl StreamTranslator for ToOpenAiStream {
    fn on_event(&mut self, _event: &str, data: &str) -> Result<Vec<SseEvent>, UpstreamError> {
        let value: Value = serde_json::from_str(data)
            .map_err(|e| UpstreamError::Protocol(format!("unreadable Gemini stream event: {e}")))?;
        if value.get("error").is_some() {
            let http = value
                .pointer("/error/code")
                .and_then(Value::as_u64)
                .and_then(|c| u16::try_from(c).ok())
                .unwrap_or(502);
            return Err(upstream_error(data.as_bytes(), http, None));
        }
        let response: GenerateContentResponse = serde_json::from_value(value)
            .map_err(|e| UpstreamError::Protocol(format!("unreadable Gemini stream event: {e}")))?;
        let mut out = Vec::new();
        if !self.started {
            self.started = true;
            out.push(self.chunk(
                oa::Delta {
                    role: Some("assistant".into()),
                    content: Some(String::new()),
                    tool_calls: None,
                },
                None,
            ));
        }
        if let Some(usage) = response.usage_metadata {
            self.usage = Some(usage);
        }
        let blocked = response
            .prompt_feedback
            .as_ref()
            .and_then(|f| f.block_reason.as_ref())
            .is_some();
        let candidate = response.candidates.into_iter().next();
        let reason = candidate.as_ref().and_then(|c| c.finish_reason.clone());
        for part in candidate
            .and_then(|c| c.content)
            .map(|c| c.parts)
            .unwrap_or_default()
        {
            if part.thought == Some(true) {
                continue;
            }
            if let Some(text) = part.text.filter(|t| !t.is_empty()) {
                out.push(self.chunk(
                    oa::Delta {
                        content: Some(text),
                        ..oa::Delta::default()
                    },
                    None,
                ));
            }
            if let Some(call) = part.function_call {
                let index = self.tool_calls;
                self.tool_calls += 1;
                out.push(self.chunk(
                    oa::Delta {
                        tool_calls: Some(vec![oa::ToolCallDelta {
                            index,
                            id: Some(call_id(call.id, part.thought_signature.as_deref())),
                            kind: Some("function".into()),
                            function: Some(oa::FunctionDelta {
                                name: Some(call.name),
                                arguments: Some(call.args.to_string()),
                            }),
                        }]),
                        ..oa::Delta::default()
                    },
                    None,
                ));
            }
        }
        if !self.finished {
            if let Some(reason) = reason {
                let chunk = self.finish_chunk(finish_reason(&reason));
                out.push(chunk);
            } else if blocked {
                let chunk = self.finish_chunk("content_filter");
                out.push(chunk);
            }
        }
        Ok(out)
    }

    fn finish(&mut self) -> Result<Vec<SseEvent>, UpstreamError> {
        if !self.started {
            return Err(UpstreamError::Protocol(
                "the Gemini stream ended without a response".into(),
            ));
        }
        let mut out = Vec::new();
        if !self.finished {
            let chunk = self.finish_chunk("stop");
            out.push(chunk);
        }
        if self.include_usage {
            let chunk = oa::ChatChunk {
                id: self.id.clone(),
                object: "chat.completion.chunk".into(),
                created: self.created,
                model: self.model.clone(),
                choices: Vec::new(),
                usage: Some(self.usage.unwrap_or_default().to_openai()),
            };
            out.push(SseEvent::data(
                serde_json::to_string(&chunk).unwrap_or_default(),
            ));
        }
        out.push(SseEvent::data("[DONE]"));
        Ok(out)
    }
}

// ---- embeddings ----

/// An OpenAI embeddings request as `batchEmbedContents` (one request per input).
pub fn embeddings_from_openai(req: &oa::EmbeddingRequest) -> Result<BatchEmbedRequest, String> {
    let inputs = match &req.input {
        oa::EmbeddingInput::One(text) => vec![text.clone()],
        oa::EmbeddingInput::Many(texts) => texts.clone(),
        oa::EmbeddingInput::Tokens(_) => {
            return Err("Gemini embeds text, not token ids: send `input` as strings".into())
        }
    };
    let model = model_path(&req.model);
    Ok(BatchEmbedRequest {
        requests: inputs
            .into_iter()
            .map(|text| EmbedContentRequest {
                model: model.clone(),
                content: Content {
                    role: None,
                    parts: vec![Part::text(text)],
                },
                output_dimensionality: req.dimensions,
            })
            .collect(),
    })
}

/// A `batchEmbedContents` answer in OpenAI's shape. Gemini reports no token counts here, so
/// `prompt_tokens` is the gateway's estimate.
pub fn embeddings_to_openai(
    response: BatchEmbedResponse,
    model: &str,
    prompt_tokens: u64,
) -> oa::EmbeddingResponse {
    oa::EmbeddingResponse {
        object: "list".into(),
        data: response
            .embeddings
            .into_iter()
            .enumerate()
            .map(|(i, e)| oa::Embedding {
                object: "embedding".into(),
                index: i as u32,
                embedding: e.values,
            })
            .collect(),
        model: model.to_owned(),
        usage: oa::EmbeddingUsage {
            prompt_tokens,
            total_tokens: prompt_tokens,
        },
    }
}

#[cfg(test)]
mod tests;
