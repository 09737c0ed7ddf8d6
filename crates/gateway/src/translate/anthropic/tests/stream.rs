//! Stream translation tests, both directions, streams fed at awkward byte boundaries.

use super::*;

/// docs: the tool-use streaming example (text block, then a tool_use block whose input arrives
/// as `input_json_delta`s), with a ping in between.
const ANTHROPIC_STREAM: &str = concat!(
    "event: message_start\n",
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_014p7gG3wDgGV9EUtLvnow3U\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-3-haiku-20240307\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":472,\"output_tokens\":2},\"content\":[],\"stop_reason\":null}}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    "event: ping\n",
    "data: {\"type\": \"ping\"}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Okay\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\", let's check the weather — für San Francisco:\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
    "event: content_block_start\n",
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_01T1x1fJ34qAmk2tNTrN7Up6\",\"name\":\"get_weather\",\"input\":{}}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"location\\\":\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\" \\\"San Fra\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"ncisc\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"o, CA\\\", \"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"unit\\\": \\\"fah\"}}\n\n",
    "event: content_block_delta\n",
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"renheit\\\"}\"}}\n\n",
    "event: content_block_stop\n",
    "data: {\"type\":\"content_block_stop\",\"index\":1}\n\n",
    "event: message_delta\n",
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":89}}\n\n",
    "event: message_stop\n",
    "data: {\"type\":\"message_stop\"}\n\n",
);

/// (content, tool calls (id, name, arguments), finish, usage)
type Assembled = (
    String,
    Vec<(String, String, String)>,
    Option<String>,
    Option<oa::CompletionUsage>,
);

/// Reassembles OpenAI chunks.
fn assemble_openai(events: &[SseEvent]) -> Assembled {
    let mut content = String::new();
    let mut calls: Vec<(String, String, String)> = Vec::new();
    let mut finish = None;
    let mut usage = None;
    for event in events {
        if event.data == "[DONE]" {
            continue;
        }
        let chunk: oa::ChatChunk = serde_json::from_str(&event.data).unwrap_or_default();
        if chunk.usage.is_some() {
            usage = chunk.usage;
        }
        for choice in chunk.choices {
            content.push_str(choice.delta.content.as_deref().unwrap_or(""));
            for call in choice.delta.tool_calls.into_iter().flatten() {
                let i = call.index as usize;
                if calls.len() <= i {
                    calls.resize(i + 1, Default::default());
                }
                let function = call.function.unwrap_or_default();
                calls[i].0.push_str(call.id.as_deref().unwrap_or(""));
                calls[i].1.push_str(function.name.as_deref().unwrap_or(""));
                calls[i]
                    .2
                    .push_str(function.arguments.as_deref().unwrap_or(""));
            }
            if choice.finish_reason.is_some() {
                finish = choice.finish_reason;
            }
        }
    }
    (content, calls, finish, usage)
}

#[tokio::test]
async fn anthropic_stream_becomes_openai_chunks_at_any_byte_boundary() {
    let mut reference: Option<Vec<String>> = None;
    for seed in 0..40 {
        let items =
            test_support::run(ANTHROPIC_STREAM, seed, ToOpenAiStream::new("claude", true)).await;
        let events: Vec<SseEvent> = items
            .into_iter()
            .map(|i| i.unwrap_or_else(|e| panic!("seed {seed}: {e}")))
            .collect();
        // The same chunks whatever the split (modulo `created`, which is per stream).
        let normalized: Vec<String> = events
            .iter()
            .map(|e| {
                let mut v: Value =
                    serde_json::from_str(&e.data).unwrap_or(Value::String(e.data.clone()));
                if let Some(o) = v.as_object_mut() {
                    o.remove("created");
                }
                v.to_string()
            })
            .collect();
        match &reference {
            None => reference = Some(normalized),
            Some(r) => assert_eq!(r, &normalized, "seed {seed}"),
        }
        let (content, calls, finish, usage) = assemble_openai(&events);
        assert_eq!(
            content,
            "Okay, let's check the weather — für San Francisco:"
        );
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, "toolu_01T1x1fJ34qAmk2tNTrN7Up6");
        assert_eq!(calls[0].1, "get_weather");
        let args: Value = serde_json::from_str(&calls[0].2).unwrap_or_default();
        assert_eq!(
            args,
            json!({"location": "San Francisco, CA", "unit": "fahrenheit"})
        );
        assert_eq!(finish.as_deref(), Some("tool_calls"));
        assert_eq!(usage, Some(oa::CompletionUsage::new(472, 89)));
        assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
        // Every tool-argument delta of the upstream became its own chunk (incremental).
        let arg_chunks = events
            .iter()
            .filter(|e| e.data.contains("\"arguments\""))
            .count();
        assert_eq!(
            arg_chunks, 7,
            "one per non-empty delta plus the opening one"
        );
    }
}

#[tokio::test]
async fn anthropic_stream_errors_and_truncation_surface() {
    let overloaded = concat!(
        "event: message_start\n",
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n",
        "event: error\n",
        "data: {\"type\": \"error\", \"error\": {\"type\": \"overloaded_error\", \"message\": \"Overloaded\"}}\n\n",
    );
    let items = test_support::run(overloaded, 3, ToOpenAiStream::new("claude", false)).await;
    assert_eq!(items.len(), 2);
    assert!(
        matches!(&items[1], Err(UpstreamError::Status { status, message, .. }) if status.as_u16() == 503 && message.contains("overloaded_error")),
        "{:?}",
        items[1]
    );
    let truncated = &ANTHROPIC_STREAM[..ANTHROPIC_STREAM.len() / 2];
    let items = test_support::run(truncated, 5, ToOpenAiStream::new("claude", false)).await;
    assert!(
        matches!(items.last(), Some(Err(UpstreamError::Protocol(m))) if m.contains("message_stop"))
    );
}

/// docs-shaped OpenAI stream: text, then two parallel tool calls whose arguments arrive in many
/// small deltas, the finish chunk, the usage chunk, `[DONE]`.
fn openai_stream() -> String {
    let mut out = String::new();
    let mut push = |v: Value| out.push_str(&format!("data: {v}\n\n"));
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1, "model": "qwen",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    push(chunk(
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ));
    for piece in ["Let me ", "check — ", "ça va."] {
        push(chunk(json!({"content": piece}), Value::Null));
    }
    for (i, (id, args)) in [
        ("call_a", "{\"city\": \"Paris\"}"),
        ("call_b", "{\"city\": \"Tokyo\"}"),
    ]
    .iter()
    .enumerate()
    {
        push(chunk(
            json!({"tool_calls": [{"index": i, "id": id, "type": "function", "function": {"name": "get_weather", "arguments": ""}}]}),
            Value::Null,
        ));
        let chars: Vec<char> = args.chars().collect();
        for piece in chars.chunks(2) {
            let piece: String = piece.iter().collect();
            push(chunk(
                json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                Value::Null,
            ));
        }
    }
    push(chunk(json!({}), json!("tool_calls")));
    push(
        json!({"id": "chatcmpl-9", "object": "chat.completion.chunk", "created": 1, "model": "qwen", "choices": [],
                "usage": {"prompt_tokens": 30, "completion_tokens": 25, "total_tokens": 55}}),
    );
    out.push_str("data: [DONE]\n\n");
    out
}

#[tokio::test]
async fn openai_stream_becomes_anthropic_events_at_any_byte_boundary() {
    let raw = openai_stream();
    for seed in 0..40 {
        let items = test_support::run(&raw, seed, FromOpenAiStream::new("local/chat", 12)).await;
        let events: Vec<StreamEvent> = items
            .into_iter()
            .map(|i| {
                let e = i.unwrap_or_else(|e| panic!("seed {seed}: {e}"));
                let parsed: StreamEvent =
                    serde_json::from_str(&e.data).unwrap_or(StreamEvent::Unknown);
                assert_eq!(
                    e.event.as_deref(),
                    Some(parsed.name()),
                    "event name matches type"
                );
                parsed
            })
            .collect();
        let names: Vec<&str> = events.iter().map(StreamEvent::name).collect();
        assert_eq!(names.first(), Some(&"message_start"));
        assert_eq!(&names[names.len() - 2..], ["message_delta", "message_stop"]);
        // Rebuild the message the way Anthropic's SDKs do, block by block.
        let mut blocks: Vec<(String, String)> = Vec::new();
        let mut open = false;
        for event in &events {
            match event {
                StreamEvent::ContentBlockStart {
                    index,
                    content_block,
                } => {
                    assert!(!open, "blocks never overlap");
                    open = true;
                    assert_eq!(*index as usize, blocks.len());
                    blocks.push(match content_block {
                        Block::Text { .. } => ("text".into(), String::new()),
                        Block::ToolUse { id, .. } => (id.clone(), String::new()),
                        other => panic!("{other:?}"),
                    });
                }
                StreamEvent::ContentBlockDelta { index, delta } => {
                    assert!(open);
                    let text = match delta {
                        BlockDelta::TextDelta { text } => text,
                        BlockDelta::InputJsonDelta { partial_json } => partial_json,
                        other => panic!("{other:?}"),
                    };
                    blocks[*index as usize].1.push_str(text);
                }
                StreamEvent::ContentBlockStop { .. } => open = false,
                StreamEvent::MessageDelta { delta, usage } => {
                    assert_eq!(delta.stop_reason.as_deref(), Some("tool_use"));
                    assert_eq!(usage.output_tokens, 25);
                    assert_eq!(usage.input_tokens, Some(30));
                }
                _ => {}
            }
        }
        assert_eq!(blocks.len(), 3, "{blocks:?}");
        assert_eq!(blocks[0], ("text".into(), "Let me check — ça va.".into()));
        assert_eq!(blocks[1].0, "call_a");
        assert_eq!(
            serde_json::from_str::<Value>(&blocks[1].1).ok(),
            Some(json!({"city": "Paris"}))
        );
        assert_eq!(blocks[2].0, "call_b");
        assert_eq!(
            serde_json::from_str::<Value>(&blocks[2].1).ok(),
            Some(json!({"city": "Tokyo"}))
        );
    }
}

#[tokio::test]
async fn a_round_trip_through_both_stream_translators_keeps_the_content() {
    // OpenAI chunks → Anthropic events → OpenAI chunks.
    let raw = openai_stream();
    let anthropic_events = test_support::run(&raw, 7, FromOpenAiStream::new("m", 0)).await;
    let mut anthropic_raw = String::new();
    for e in anthropic_events {
        let e = e.unwrap_or_else(|e| panic!("{e}"));
        anthropic_raw.push_str(&String::from_utf8_lossy(&e.to_bytes()));
    }
    let back = test_support::run(&anthropic_raw, 11, ToOpenAiStream::new("m", true)).await;
    let back: Vec<SseEvent> = back
        .into_iter()
        .map(|e| e.unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let (content, calls, finish, usage) = assemble_openai(&back);
    assert_eq!(content, "Let me check — ça va.");
    assert_eq!(
        calls,
        vec![
            (
                "call_a".to_owned(),
                "get_weather".to_owned(),
                "{\"city\": \"Paris\"}".to_owned()
            ),
            (
                "call_b".to_owned(),
                "get_weather".to_owned(),
                "{\"city\": \"Tokyo\"}".to_owned()
            ),
        ]
    );
    assert_eq!(finish.as_deref(), Some("tool_calls"));
    assert_eq!(usage, Some(oa::CompletionUsage::new(30, 25)));
}
