//! The Response object and its translation from a chat completion.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::super::openai as oa;
use super::super::unix_now;
use super::*;

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
    pub(super) fn new(text: String) -> Self {
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

pub(super) fn usage_of(value: &Value) -> Option<ResponseUsage> {
    value
        .get("usage")
        .filter(|u| !u.is_null())
        .and_then(|u| serde_json::from_value::<ChatUsage>(u.clone()).ok())
        .map(ResponseUsage::from)
}

pub(super) fn item_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// `completed`, or `incomplete` with the reason for a cut-off answer.
pub(super) fn final_status(finish_reason: Option<&str>) -> (&'static str, Option<Value>) {
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
