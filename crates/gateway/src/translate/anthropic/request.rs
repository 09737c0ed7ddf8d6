//! Request translation, both ways: OpenAI chat → Messages (provider direction) and Messages →
//! OpenAI chat (ingress direction).

use serde_json::{json, Map, Value};

use super::super::openai as oa;
use super::super::parse_data_url;
use super::*;

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

    if messages.is_empty() {
        return Err(crate::translate::NO_TURN_LEFT.into());
    }
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

pub(super) fn parse_arguments(arguments: &str) -> Result<Value, serde_json::Error> {
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
    if messages.iter().all(|m| m.role == "system") {
        return Err(crate::translate::NO_TURN_LEFT.into());
    }
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
