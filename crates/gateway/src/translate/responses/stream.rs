//! The Responses event stream, translated from chat completion chunks.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{json, Value};

use super::super::openai as oa;
use super::super::{unix_now, StreamTranslator};
use super::response::{final_status, item_id, usage_of};
use super::*;
use crate::wire::{sanitize_upstream_message, SseEvent, UpstreamError};

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
