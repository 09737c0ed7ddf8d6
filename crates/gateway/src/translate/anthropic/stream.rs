//! Stream translation, both ways: Anthropic events → OpenAI chunks (`ToOpenAiStream`) and
//! OpenAI chunks → Anthropic events (`FromOpenAiStream`).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::super::openai as oa;
use super::super::{unix_now, StreamTranslator};
use super::response::message_id;
use super::*;
use crate::wire::{sanitize_upstream_message, SseEvent, UpstreamError, Usage};

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
