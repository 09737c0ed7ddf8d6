//! Table tests for the Responses translation, from payloads shaped like OpenAI's API reference
//! (platform.openai.com/docs/api-reference/responses) and like what Codex CLI sends.

use serde::Serialize;
use serde_json::{json, Value};

use super::*;
use crate::translate::test_support;
use crate::wire::{SseEvent, UpstreamError};

fn request(value: Value) -> ResponsesRequest {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("bad fixture: {e}"))
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[test]
fn responses_request_becomes_a_chat_request() {
    // (name, Responses request, expected chat request, expected dropped)
    let cases = [
        (
            "string input, instructions, sampling, output cap, user",
            json!({"model": "m", "input": "Hi", "instructions": "Be terse.", "temperature": 0.5,
                   "top_p": 0.9, "max_output_tokens": 100, "user": "u1", "store": false,
                   "metadata": {"k": "v"}, "include": ["reasoning.encrypted_content"]}),
            json!({"model": "m", "messages": [
                    {"role": "system", "content": "Be terse."},
                    {"role": "user", "content": "Hi"}],
                   "max_tokens": 100, "temperature": 0.5, "top_p": 0.9, "user": "u1"}),
            json!([]),
        ),
        (
            "Codex-shaped: developer role, input_text parts, function call round trip, reasoning dropped",
            json!({"model": "m", "stream": true, "parallel_tool_calls": false, "tool_choice": "auto",
                   "reasoning": {"effort": "high", "summary": "auto"},
                   "tools": [
                       {"type": "function", "name": "shell", "description": "Run", "strict": false,
                        "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}},
                       {"type": "web_search"}],
                   "input": [
                       {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "rules"}]},
                       {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "list"}, {"type": "input_text", "text": " files"}]},
                       {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "xyz"},
                       {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Running."}]},
                       {"type": "function_call", "call_id": "call_1", "name": "shell", "arguments": "{\"command\":[\"ls\"]}"},
                       {"type": "function_call", "call_id": "call_2", "name": "shell", "arguments": "{}"},
                       {"type": "function_call_output", "call_id": "call_1", "output": "a.txt"},
                       {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "ok"}]},
                       {"role": "user", "content": "thanks"}
                   ],
                   "prompt_cache_key": "abc"}),
            json!({"model": "m", "stream": true, "parallel_tool_calls": false, "tool_choice": "auto",
                   "reasoning_effort": "high",
                   "tools": [{"type": "function", "function": {"name": "shell", "description": "Run", "strict": false,
                        "parameters": {"type": "object", "properties": {"command": {"type": "array"}}}}}],
                   "messages": [
                       {"role": "system", "content": "rules"},
                       {"role": "user", "content": "list files"},
                       {"role": "assistant", "content": "Running.", "tool_calls": [
                           {"id": "call_1", "type": "function", "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}},
                           {"id": "call_2", "type": "function", "function": {"name": "shell", "arguments": "{}"}}]},
                       {"role": "tool", "content": "a.txt", "tool_call_id": "call_1"},
                       {"role": "tool", "content": "ok", "tool_call_id": "call_2"},
                       {"role": "user", "content": "thanks"}]}),
            json!(["tools.web_search", "prompt_cache_key"]),
        ),
        (
            "images, named tool choice, json schema output",
            json!({"model": "m",
                   "input": [{"role": "user", "content": [
                       {"type": "input_text", "text": "What is this?"},
                       {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
                       {"type": "input_file", "file_id": "f1"}]}],
                   "tools": [{"type": "function", "name": "f", "parameters": null}],
                   "tool_choice": {"type": "function", "name": "f"},
                   "text": {"format": {"type": "json_schema", "name": "out", "strict": true,
                            "schema": {"type": "object"}}, "verbosity": "low"}}),
            json!({"model": "m",
                   "messages": [{"role": "user", "content": [
                       {"type": "text", "text": "What is this?"},
                       {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}],
                   "tools": [{"type": "function", "function": {"name": "f"}}],
                   "tool_choice": {"type": "function", "function": {"name": "f"}},
                   "response_format": {"type": "json_schema", "json_schema": {"name": "out", "strict": true, "schema": {"type": "object"}}}}),
            json!(["input.content.input_file", "text.verbosity"]),
        ),
    ];
    for (name, input, expected, expected_dropped) in cases {
        let (chat, dropped) =
            request_to_chat(&request(input)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(to_json(&chat), expected, "{name}");
        assert_eq!(json!(dropped), expected_dropped, "{name}");
    }
}

#[test]
fn malformed_requests_are_refused_with_the_reason() {
    let cases = [
        (
            json!({"model": "m", "input": [{"role": "robot", "content": "x"}]}),
            "unknown role `robot`",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]}),
            "input[0]",
        ),
        (
            json!({"model": "m", "input": "x", "tools": [{"type": "function"}]}),
            "needs `name`",
        ),
    ];
    for (input, expected) in cases {
        let error = request_to_chat(&request(input)).err().unwrap_or_default();
        assert!(error.contains(expected), "{error}");
    }
}

fn context() -> ResponseContext {
    let mut context = ResponseContext::new(&request(json!({"model": "alias", "input": "x",
        "tools": [{"type": "function", "name": "get_weather"}], "metadata": {"k": "v"}})));
    context.id = "resp_test".into();
    context.created_at = 1;
    context
}

#[test]
fn chat_completion_becomes_a_response() {
    let body = json!({"id": "c", "object": "chat.completion", "created": 1, "model": "backend",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": "Checking.",
            "tool_calls": [{"id": "call_9", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]}}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                  "prompt_tokens_details": {"cached_tokens": 4}, "completion_tokens_details": {"reasoning_tokens": 2}}});
    let response = response_from_chat(body.to_string().as_bytes(), &context())
        .unwrap_or_else(|e| panic!("{e}"));
    let value = to_json(&response);
    assert_eq!(value["id"], "resp_test");
    assert_eq!(value["object"], "response");
    assert_eq!(value["status"], "completed");
    assert_eq!(value["model"], "alias");
    assert_eq!(value["metadata"], json!({"k": "v"}));
    assert_eq!(value["output"][0]["type"], "message");
    assert_eq!(
        value["output"][0]["content"],
        json!([{"type": "output_text", "text": "Checking.", "annotations": []}])
    );
    assert_eq!(value["output"][1]["type"], "function_call");
    assert_eq!(value["output"][1]["call_id"], "call_9");
    assert_eq!(value["output"][1]["arguments"], "{\"city\":\"Paris\"}");
    assert_eq!(
        value["usage"],
        json!({"input_tokens": 10, "input_tokens_details": {"cached_tokens": 4},
        "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 2}, "total_tokens": 15})
    );

    let cut = json!({"choices": [{"index": 0, "finish_reason": "length", "message": {"role": "assistant", "content": "Hal"}}]});
    let response = response_from_chat(cut.to_string().as_bytes(), &context()).unwrap_or_default();
    assert_eq!(response.status, "incomplete");
    assert_eq!(
        response.incomplete_details,
        Some(json!({"reason": "max_output_tokens"}))
    );
}

fn events_of(results: Vec<Result<SseEvent, UpstreamError>>) -> Vec<Value> {
    results
        .into_iter()
        .map(|r| {
            let event = r.unwrap_or_else(|e| panic!("{e}"));
            let value: Value = serde_json::from_str(&event.data).unwrap_or_default();
            assert_eq!(event.event.as_deref(), value["type"].as_str());
            value
        })
        .collect()
}

const TEXT_THEN_TOOLS: &str = concat!(
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n",
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Let me \"}}]}\n\n",
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"check. \u{00e9}\"}}]}\n\n",
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n",
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n",
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"Paris\\\"}\"}}]}}]}\n\n",
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"{}\"}}]}}]}\n\n",
    "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}\n\n",
    "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":9,\"total_tokens\":21}}\n\n",
    "data: [DONE]\n\n",
);

#[tokio::test]
async fn chat_stream_becomes_responses_events_in_order() {
    for seed in 0..8 {
        let events = events_of(
            test_support::run(TEXT_THEN_TOOLS, seed, ToResponsesStream::new(context())).await,
        );
        let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(
            kinds,
            [
                "response.created",
                "response.in_progress",
                "response.output_item.added",
                "response.content_part.added",
                "response.output_text.delta",
                "response.output_text.delta",
                "response.output_text.done",
                "response.content_part.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.output_item.added",
                "response.function_call_arguments.delta",
                "response.function_call_arguments.done",
                "response.output_item.done",
                "response.completed",
            ],
            "seed {seed}"
        );
        for (i, event) in events.iter().enumerate() {
            assert_eq!(event["sequence_number"], i as u64);
        }
        assert_eq!(events[0]["response"]["status"], "in_progress");
        assert_eq!(events[0]["response"]["id"], "resp_test");
        assert_eq!(events[6]["text"], "Let me check. \u{00e9}");
        assert_eq!(events[9]["output_index"], 1);
        assert_eq!(events[9]["item"]["call_id"], "call_a");
        assert_eq!(events[12]["arguments"], "{\"city\":\"Paris\"}");
        assert_eq!(events[14]["output_index"], 2);
        let done = &events[18]["response"];
        assert_eq!(done["status"], "completed");
        assert_eq!(done["output"].as_array().map(Vec::len), Some(3));
        assert_eq!(done["output"][2]["call_id"], "call_b");
        assert_eq!(done["usage"]["input_tokens"], 12);
        assert_eq!(done["usage"]["output_tokens"], 9);
        assert_eq!(done["usage"]["total_tokens"], 21);
        assert_eq!(
            done["usage"]["output_tokens_details"]["reasoning_tokens"],
            0
        );
    }
}

#[tokio::test]
async fn stream_without_done_still_completes_and_errors_fail() {
    let raw = "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":\"length\"}]}\n\n";
    let events = events_of(test_support::run(raw, 1, ToResponsesStream::new(context())).await);
    let last = events.last().cloned().unwrap_or_default();
    assert_eq!(last["type"], "response.incomplete");
    assert_eq!(
        last["response"]["incomplete_details"]["reason"],
        "max_output_tokens"
    );
    assert_eq!(last["response"]["output"][0]["content"][0]["text"], "Hi");

    let raw = "data: {\"error\":{\"message\":\"boom\"}}\n\n";
    let results = test_support::run(raw, 1, ToResponsesStream::new(context())).await;
    assert!(matches!(
        results.last(),
        Some(Err(UpstreamError::Status { .. }))
    ));
}

#[test]
fn failed_event_carries_the_summary() {
    let event = failed_event(
        "resp_1",
        "alias",
        7,
        json!({"code": "backend_error", "message": "down"}),
    );
    let value: Value = serde_json::from_str(&event.data).unwrap_or_default();
    assert_eq!(value["type"], "response.failed");
    assert_eq!(value["sequence_number"], 7);
    assert_eq!(value["response"]["status"], "failed");
    assert_eq!(value["response"]["error"]["code"], "backend_error");
}

#[test]
fn an_output_before_its_own_call_is_refused() {
    // Found by the fuzzer: chat backends refuse a tool message that precedes its call.
    let early = request(json!({"model": "m", "input": [
        {"type": "message", "role": "user", "content": "weather?"},
        {"type": "function_call_output", "call_id": "call_0", "output": "sunny"},
        {"type": "function_call", "call_id": "call_0", "name": "get_weather", "arguments": "{}"}
    ]}));
    let refused = request_to_chat(&early).err().unwrap_or_default();
    assert!(
        refused.contains("input[1]") && refused.contains("call_0"),
        "{refused}"
    );
    // An output for a call in a stored earlier response still goes through.
    let stored = request(json!({"model": "m", "input": [
        {"type": "function_call_output", "call_id": "call_9", "output": "sunny"}
    ]}));
    assert!(request_to_chat(&stored).is_ok());
    // Found by the fuzzer: an empty `call_id` became a chat tool call without an id.
    let unnamed = request(json!({"model": "m", "input": [
        {"type": "function_call", "call_id": "", "name": "get_weather", "arguments": "{}"}
    ]}));
    let refused = request_to_chat(&unnamed).err().unwrap_or_default();
    assert!(refused.contains("non-empty `call_id`"), "{refused}");
}
