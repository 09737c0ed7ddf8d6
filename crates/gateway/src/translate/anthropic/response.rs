//! Response translation, both ways: a Message as a chat completion and back.

use serde_json::json;

use super::super::openai as oa;
use super::super::unix_now;
use super::request::parse_arguments;
use super::*;

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

pub(super) fn message_id(id: &str) -> String {
    if id.starts_with("msg_") {
        id.to_owned()
    } else if id.is_empty() {
        format!("msg_{}", uuid::Uuid::new_v4().simple())
    } else {
        format!("msg_{id}")
    }
}
