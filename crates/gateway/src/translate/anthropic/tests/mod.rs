//! Table tests for the Anthropic translations, both ways, from real-shaped payloads. Payloads
//! marked "docs" follow the examples of Anthropic's API reference (docs.anthropic.com/en/api/
//! messages, /en/api/messages-streaming) and OpenAI's (platform.openai.com/docs/api-reference/chat).

use serde::Serialize;
use serde_json::{json, Value};

use super::super::openai as oa;
use super::*;
use crate::translate::test_support;
use crate::wire::SseEvent;

fn chat(value: Value) -> oa::ChatRequest {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("bad fixture: {e}"))
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[test]
fn openai_request_becomes_a_messages_request() {
    // (name, OpenAI request, default max_tokens, expected Anthropic request)
    let cases = [
        (
            "system, multi-turn, images, sampling, stop, user",
            json!({
                "model": "claude-sonnet-4-5", "temperature": 1.5, "top_p": 0.9, "stop": "END", "user": "u-1",
                "messages": [
                    {"role": "system", "content": "You are terse."},
                    {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                    {"role": "user", "content": [
                        {"type": "text", "text": "What is in these images?"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg", "detail": "high"}}
                    ]},
                    {"role": "assistant", "content": "Un chat."},
                    {"role": "user", "content": "Merci"}
                ]
            }),
            4096,
            json!({
                "model": "claude-sonnet-4-5", "max_tokens": 4096,
                "system": "You are terse.\n\nAnswer in French.",
                "stop_sequences": ["END"], "temperature": 1.0, "top_p": 0.9,
                "metadata": {"user_id": "u-1"},
                "messages": [
                    {"role": "user", "content": [
                        {"type": "text", "text": "What is in these images?"},
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}
                    ]},
                    {"role": "assistant", "content": [{"type": "text", "text": "Un chat."}]},
                    {"role": "user", "content": [{"type": "text", "text": "Merci"}]}
                ]
            }),
        ),
        (
            "tools, parallel calls in history, tool results (text and structured) in one user turn",
            json!({
                "model": "claude", "max_completion_tokens": 300, "stream": true,
                "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
                    {"type": "function", "function": {"name": "noop"}}],
                "tool_choice": "required", "parallel_tool_calls": false,
                "messages": [
                    {"role": "user", "content": "Weather in Paris and Tokyo?"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                        {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Tokyo\"}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
                    {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "22C"}]},
                    {"role": "user", "content": "Thanks"}
                ]
            }),
            4096,
            json!({
                "model": "claude", "max_tokens": 300, "stream": true,
                "tools": [
                    {"name": "get_weather", "description": "Weather",
                     "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
                    {"name": "noop", "input_schema": {"type": "object", "properties": {}}}
                ],
                "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris and Tokyo?"}]},
                    {"role": "assistant", "content": [
                        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                        {"type": "tool_use", "id": "call_2", "name": "get_weather", "input": {"city": "Tokyo"}}
                    ]},
                    {"role": "user", "content": [
                        {"type": "tool_result", "tool_use_id": "call_1", "content": "18C"},
                        {"type": "tool_result", "tool_use_id": "call_2", "content": [{"type": "text", "text": "22C"}]},
                        {"type": "text", "text": "Thanks"}
                    ]}
                ]
            }),
        ),
        (
            "named tool choice, JSON schema output, target default max_tokens",
            json!({
                "model": "claude", "messages": [{"role": "user", "content": "Hi"}],
                "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
                "tool_choice": {"type": "function", "function": {"name": "f"}},
                "response_format": {"type": "json_schema", "json_schema": {"name": "out", "schema": {"type": "object", "properties": {"a": {"type": "integer"}}}}}
            }),
            777,
            json!({
                "model": "claude", "max_tokens": 777,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                "tools": [{"name": "f", "input_schema": {"type": "object"}}],
                "tool_choice": {"type": "tool", "name": "f"},
                "output_config": {"format": {"type": "json_schema", "schema": {"type": "object", "properties": {"a": {"type": "integer"}}}}}
            }),
        ),
    ];
    for (name, input, default_max, expected) in cases {
        let out = request_from_openai(&chat(input), default_max);
        assert_eq!(out.map(|r| to_json(&r)), Ok(expected), "case: {name}");
    }
}

#[test]
fn requests_anthropic_cannot_express_are_refused_with_the_reason() {
    let cases = [
        (
            json!({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "x", "format": "wav"}}]}]}),
            "content parts of type `input_audio`",
        ),
        (
            json!({"model": "m", "messages": [{"role": "tool", "content": "x"}]}),
            "needs `tool_call_id`",
        ),
        (
            json!({"model": "m", "messages": [{"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}]}),
            "arguments that are not JSON",
        ),
    ];
    for (input, needle) in cases {
        let err = request_from_openai(&chat(input), 10)
            .err()
            .unwrap_or_default();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn messages_response_becomes_a_chat_completion() {
    // docs: a tool-use answer (text block + tool_use block).
    let response: MessagesResponse = serde_json::from_value(json!({
        "id": "msg_01Aq9w938a90dw8q", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [
            {"type": "text", "text": "I'll check the weather."},
            {"type": "tool_use", "id": "toolu_01A09q90qw90lq917835lq9", "name": "get_weather", "input": {"location": "San Francisco, CA", "unit": "celsius"}}
        ],
        "stop_reason": "tool_use", "stop_sequence": null,
        "usage": {"input_tokens": 472, "output_tokens": 89, "cache_read_input_tokens": 100}
    }))
    .unwrap_or_default();
    let mut out = to_json(&response_to_openai(response));
    out["created"] = json!(0);
    assert_eq!(
        out,
        json!({
            "id": "msg_01Aq9w938a90dw8q", "object": "chat.completion", "created": 0, "model": "claude-sonnet-4-5",
            "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
                "role": "assistant", "content": "I'll check the weather.",
                "tool_calls": [{"id": "toolu_01A09q90qw90lq917835lq9", "type": "function",
                    "function": {"name": "get_weather", "arguments": "{\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}"}}]}}],
            // prompt_tokens counts the cache reads too, and lists them as cached.
            "usage": {"prompt_tokens": 572, "completion_tokens": 89, "total_tokens": 661,
                "prompt_tokens_details": {"cached_tokens": 100}}
        })
    );
}

#[test]
fn stop_reasons_and_error_types_map_both_ways() {
    for (stop, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        ("model_context_window_exceeded", "length"),
    ] {
        assert_eq!(finish_reason(stop), finish, "{stop}");
    }
    for (finish, stop) in [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("content_filter", "refusal"),
    ] {
        assert_eq!(stop_reason(finish), stop, "{finish}");
    }
    for (kind, http, status) in [
        ("overloaded_error", Some(529), 503),
        ("rate_limit_error", Some(429), 429),
        ("authentication_error", Some(401), 401),
        ("permission_error", Some(403), 403),
        ("not_found_error", Some(404), 404),
        ("invalid_request_error", Some(400), 400),
        ("request_too_large", Some(413), 413),
        ("api_error", Some(500), 500),
        ("api_error", None, 502),
        ("", Some(529), 503),
        ("", Some(418), 418),
    ] {
        assert_eq!(error_status(kind, http).as_u16(), status, "{kind}");
    }
    let err = upstream_error(
        br#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests has exceeded your rate limit"}}"#,
        Some(429),
        Some(3000),
    );
    assert!(
        matches!(&err, UpstreamError::Status { status, message, retry_after_ms: Some(3000) }
            if status.as_u16() == 429 && message.starts_with("rate_limit_error: Number of requests")),
        "{err:?}"
    );
}

mod stream;

// ---- ingress direction ----

#[test]
fn messages_request_becomes_an_openai_request() {
    // docs-shaped: what Claude Code sends (system blocks, tool_use history, tool results with
    // structured content and an image, thinking, top_k, a server tool).
    let request: MessagesRequest = serde_json::from_value(json!({
        "model": "local/chat", "max_tokens": 1024, "stream": true, "temperature": 0.2, "top_k": 5,
        "thinking": {"type": "enabled", "budget_tokens": 2000},
        "metadata": {"user_id": "user_abc"},
        "stop_sequences": ["\n\nHuman:"],
        "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "Be brief."}],
        "tools": [
            {"name": "Read", "description": "Read a file", "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}}},
            {"type": "web_search_20250305", "name": "web_search", "max_uses": 3}
        ],
        "tool_choice": {"type": "auto", "disable_parallel_tool_use": true},
        "messages": [
            {"role": "user", "content": "Read a.txt and show me b.png"},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": "Let me read.", "signature": "sig"},
                {"type": "text", "text": "Reading."},
                {"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"path": "a.txt"}},
                {"type": "tool_use", "id": "toolu_2", "name": "Read", "input": {"path": "b.png"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "hello"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "is_error": false, "content": [
                    {"type": "text", "text": "an image:"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
                ]},
                {"type": "text", "text": "Now summarize."}
            ]}
        ]
    }))
    .unwrap_or_default();
    let (out, dropped) = request_to_openai(request).unwrap_or_default();
    assert_eq!(
        to_json(&out),
        json!({
            "model": "local/chat", "max_tokens": 1024, "stream": true, "temperature": 0.2,
            "stop": ["\n\nHuman:"], "user": "user_abc", "parallel_tool_calls": false, "tool_choice": "auto",
            "tools": [{"type": "function", "function": {"name": "Read", "description": "Read a file",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}}}}],
            "messages": [
                {"role": "system", "content": "You are Claude Code.\n\nBe brief."},
                {"role": "user", "content": "Read a.txt and show me b.png"},
                {"role": "assistant", "content": "Reading.", "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "Read", "arguments": "{\"path\":\"a.txt\"}"}},
                    {"id": "toolu_2", "type": "function", "function": {"name": "Read", "arguments": "{\"path\":\"b.png\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "toolu_1", "content": "hello"},
                {"role": "tool", "tool_call_id": "toolu_2", "content": "an image:"},
                {"role": "user", "content": [
                    {"type": "text", "text": "Now summarize."},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}
                ]}
            ]
        })
    );
    assert_eq!(
        dropped,
        vec![
            "thinking",
            "top_k",
            "messages[].thinking",
            "tools.web_search"
        ]
    );
}

#[test]
fn chat_completion_becomes_a_message() {
    // docs: an OpenAI answer with parallel tool calls.
    let completion: oa::ChatCompletion = serde_json::from_value(json!({
        "id": "chatcmpl-abc123", "object": "chat.completion", "created": 1699896916, "model": "qwen",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [
                {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}},
                {"id": "call_def", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\": \"Tokyo\"}"}}
            ]}}],
        "usage": {"prompt_tokens": 82, "completion_tokens": 17, "total_tokens": 99}
    }))
    .unwrap_or_default();
    assert_eq!(
        to_json(&response_from_openai(completion, "local/chat")),
        json!({
            "id": "msg_chatcmpl-abc123", "type": "message", "role": "assistant", "model": "local/chat",
            "content": [
                {"type": "tool_use", "id": "call_abc", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "call_def", "name": "get_weather", "input": {"city": "Tokyo"}}
            ],
            "stop_reason": "tool_use", "stop_sequence": null,
            "usage": {"input_tokens": 82, "output_tokens": 17}
        })
    );
}

// ---- Claude Code's current protocol (requests captured from Claude Code 2.1.332) ----

fn claude_code_fixture(name: &str) -> Value {
    let text = match name {
        "first" => include_str!("../../../../tests/fixtures/claude-code-2.1.332-first.json"),
        _ => include_str!("../../../../tests/fixtures/claude-code-2.1.332-tool-result.json"),
    };
    let fixture: Value = serde_json::from_str(text).unwrap_or_default();
    fixture["body"].clone()
}

#[test]
fn claude_code_requests_translate_with_system_turns_in_place() {
    let body = claude_code_fixture("first");
    let native_messages = body["messages"].as_array().cloned().unwrap_or_default();
    // The capture really has a mid-conversation system turn, with cache_control on its block.
    assert_eq!(native_messages[1]["role"], "system");
    assert!(native_messages[1]["content"][0]
        .get("cache_control")
        .is_some());

    let request: MessagesRequest = serde_json::from_value(body).unwrap_or_default();
    let (out, dropped) = request_to_openai(request).unwrap_or_default();
    let out = to_json(&out);
    let roles: Vec<&str> = out["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["role"].as_str())
        .collect();
    assert_eq!(roles, ["system", "user", "system"]);
    let environment = out["messages"][2]["content"].as_str().unwrap_or_default();
    assert!(environment.starts_with("# Environment"), "{environment}");
    // The top-level system blocks are joined; cache_control is nowhere in the OpenAI body.
    let system = out["messages"][0]["content"].as_str().unwrap_or_default();
    assert!(system.contains("You are a Claude agent"), "{system}");
    assert!(!out.to_string().contains("cache_control"));
    // Every client tool but the deferred placeholder, as functions with their schemas.
    let tools: Vec<&str> = out["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["function"]["name"].as_str())
        .collect();
    assert_eq!(tools.len(), 11);
    assert!(tools.contains(&"Bash") && !tools.contains(&"DeferredToolPlaceholder"));
    assert_eq!(out["max_tokens"], 128000);
    assert_eq!(out["stream"], true);
    assert!(
        out.get("user").is_none(),
        "Claude Code's user_id is longer than OpenAI takes"
    );
    assert_eq!(
        dropped,
        [
            "context_management",
            "thinking",
            "tools.DeferredToolPlaceholder",
            "output_config.effort",
            "metadata.user_id"
        ]
    );
}

#[test]
fn claude_code_history_drops_thinking_with_a_note_and_keeps_the_tool_turn() {
    let request: MessagesRequest =
        serde_json::from_value(claude_code_fixture("tool-result")).unwrap_or_default();
    let (out, dropped) = request_to_openai(request).unwrap_or_default();
    let messages = to_json(&out)["messages"].clone();
    let assistant = &messages[3];
    assert_eq!(assistant["role"], "assistant");
    assert_eq!(assistant["tool_calls"][0]["function"]["name"], "Bash");
    assert!(!assistant.to_string().contains("I should run echo."));
    assert_eq!(messages[4]["role"], "tool");
    assert_eq!(messages[4]["tool_call_id"], "toolu_01");
    assert_eq!(messages[4]["content"], "hi");
    assert!(dropped.iter().any(|d| d == "messages[].thinking"));
}

#[test]
fn thinking_and_system_turns_in_any_shape_never_fail_the_translation() {
    let request: MessagesRequest = serde_json::from_value(json!({
        "model": "m", "max_tokens": 10,
        "tools": [{"name": "Read", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": [
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy"},
                {"type": "thinking", "thinking": "", "signature": "s"},
                {"type": "text", "text": "Hello"}
            ]},
            {"role": "system", "content": "Mode changed: be brief."},
            {"role": "system", "content": [{"type": "text", "text": "", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": [{"type": "text", "text": "and?", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}
        ]
    }))
    .unwrap_or_default();
    let (out, dropped) = request_to_openai(request).unwrap_or_default();
    assert_eq!(
        to_json(&out)["messages"],
        json!([
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hello"},
            {"role": "system", "content": "Mode changed: be brief."},
            {"role": "user", "content": "and?"}
        ])
    );
    assert_eq!(
        to_json(&out)["tools"],
        json!([{"type": "function", "function": {"name": "Read", "parameters": {"type": "object"}}}])
    );
    assert_eq!(
        dropped,
        ["messages[].redacted_thinking", "messages[].thinking"]
    );
}

#[test]
fn cache_usage_crosses_dialects_both_ways() {
    // Anthropic → OpenAI: prompt_tokens counts reads and writes; the details name them.
    let message: MessagesResponse = serde_json::from_value(json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
        "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 100, "output_tokens": 50, "cache_read_input_tokens": 10000,
            "cache_creation_input_tokens": 2000,
            "cache_creation": {"ephemeral_5m_input_tokens": 1500, "ephemeral_1h_input_tokens": 500}}
    }))
    .unwrap_or_default();
    let completion = response_to_openai(message);
    assert_eq!(
        serde_json::to_value(completion.usage).unwrap_or_default(),
        json!({"prompt_tokens": 12100, "completion_tokens": 50, "total_tokens": 12150,
            "prompt_tokens_details": {"cached_tokens": 10000, "cache_write_tokens": 2000,
                "cache_write_1h_tokens": 500}})
    );
    // …and back: fresh input apart from the cache again, 1-hour writes kept.
    let back = response_from_openai(completion, "claude-sonnet-4-5");
    assert_eq!(
        serde_json::to_value(back.usage).unwrap_or_default(),
        json!({"input_tokens": 100, "output_tokens": 50, "cache_read_input_tokens": 10000,
            "cache_creation_input_tokens": 2000,
            "cache_creation": {"ephemeral_5m_input_tokens": 1500, "ephemeral_1h_input_tokens": 500}})
    );
    // OpenAI → Anthropic: cached tokens leave input_tokens.
    let openai: oa::ChatCompletion = serde_json::from_value(json!({
        "id": "c", "object": "chat.completion", "created": 0, "model": "gpt-4.1",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10000, "completion_tokens": 500, "total_tokens": 10500,
            "prompt_tokens_details": {"cached_tokens": 8000, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 100}}
    }))
    .unwrap_or_default();
    let message = response_from_openai(openai, "gpt");
    assert_eq!(
        serde_json::to_value(message.usage).unwrap_or_default(),
        json!({"input_tokens": 2000, "output_tokens": 500, "cache_read_input_tokens": 8000})
    );
}

#[test]
fn a_request_with_no_turn_left_is_refused_both_ways() {
    // Found by the fuzzers: each passed the shape check, and the translation dropped every turn.
    let empty_user = chat(json!({"model": "m", "messages": [{"role": "user", "content": ""}]}));
    assert_eq!(
        request_from_openai(&empty_user, 64).err().as_deref(),
        Some(crate::translate::NO_TURN_LEFT)
    );
    let user_with_no_chat_content: MessagesRequest = serde_json::from_value(json!({
        "model": "claude", "max_tokens": 64, "system": [{"type": "text", "text": "sys"}],
        "messages": [{"role": "user", "content": [
            {"type": "thinking", "thinking": "t", "signature": "s"},
            {"type": "tool_use", "id": "toolu_0", "name": "get_weather", "input": {}}
        ]}]
    }))
    .unwrap_or_else(|e| panic!("bad fixture: {e}"));
    assert_eq!(
        request_to_openai(user_with_no_chat_content)
            .err()
            .as_deref(),
        Some(crate::translate::NO_TURN_LEFT)
    );
    let answerable = chat(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}));
    assert!(request_from_openai(&answerable, 64).is_ok());
}
