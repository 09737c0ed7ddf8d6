//! Table tests for the Gemini translations from real-shaped payloads. Payloads marked "docs"
//! follow the examples of the Gemini API reference (ai.google.dev/api/generate-content,
//! ai.google.dev/gemini-api/docs/function-calling, ai.google.dev/api/embeddings).

use serde_json::json;

use super::*;
use crate::translate::test_support;

fn chat(value: Value) -> oa::ChatRequest {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("bad fixture: {e}"))
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[test]
fn openai_request_becomes_generate_content() {
    let cases = [
        (
            "system, images, sampling, JSON mode",
            json!({
                "model": "gemini-2.5-flash", "temperature": 0.3, "top_p": 0.8, "max_tokens": 200, "seed": 7,
                "stop": ["END"], "response_format": {"type": "json_object"},
                "messages": [
                    {"role": "system", "content": "Be terse."},
                    {"role": "user", "content": [
                        {"type": "text", "text": "Describe"},
                        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
                        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
                    ]},
                    {"role": "assistant", "content": "A cat."},
                    {"role": "user", "content": "More"}
                ]
            }),
            json!({
                "systemInstruction": {"parts": [{"text": "Be terse."}]},
                "contents": [
                    {"role": "user", "parts": [
                        {"text": "Describe"},
                        {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}},
                        {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/a.png"}}
                    ]},
                    {"role": "model", "parts": [{"text": "A cat."}]},
                    {"role": "user", "parts": [{"text": "More"}]}
                ],
                "generationConfig": {"stopSequences": ["END"], "temperature": 0.3, "topP": 0.8,
                    "maxOutputTokens": 200, "seed": 7, "responseMimeType": "application/json"}
            }),
        ),
        (
            "tools, parallel calls, results found by name, one user turn, named choice, schema",
            json!({
                "model": "gemini-2.5-flash",
                "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": false}}}],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                "response_format": {"type": "json_schema", "json_schema": {"name": "o", "schema": {"type": "object"}}},
                "messages": [
                    {"role": "user", "content": "Paris and Tokyo?"},
                    {"role": "assistant", "content": null, "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                        {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Tokyo\"}"}}
                    ]},
                    {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 18}"},
                    {"role": "tool", "tool_call_id": "call_2", "content": "22C"}
                ]
            }),
            json!({
                "contents": [
                    {"role": "user", "parts": [{"text": "Paris and Tokyo?"}]},
                    {"role": "model", "parts": [
                        {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                        {"functionCall": {"name": "get_weather", "args": {"city": "Tokyo"}}}
                    ]},
                    {"role": "user", "parts": [
                        {"functionResponse": {"name": "get_weather", "response": {"temp": 18}}},
                        {"functionResponse": {"name": "get_weather", "response": {"content": "22C"}}}
                    ]}
                ],
                "tools": [{"functionDeclarations": [{"name": "get_weather", "description": "Weather",
                    "parametersJsonSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "additionalProperties": false}}]}],
                "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}},
                "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {"type": "object"}}
            }),
        ),
    ];
    for (name, input, expected) in cases {
        let out = request_from_openai(&chat(input)).map(|r| to_json(&r));
        assert_eq!(out, Ok(expected), "case: {name}");
    }
    let unknown = request_from_openai(&chat(json!({"model": "m", "messages": [
        {"role": "tool", "tool_call_id": "nope", "content": "x"}]})));
    assert!(unknown
        .err()
        .unwrap_or_default()
        .contains("matches no earlier assistant tool call"));
}

#[test]
fn generate_content_answers_become_chat_completions() {
    // (name, Gemini answer, expected message, finish_reason, usage)
    let cases = [
        (
            "docs: text",
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}, {"text": " there"}]},
                "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 2, "totalTokenCount": 6, "thoughtsTokenCount": 3, "cachedContentTokenCount": 2},
                "modelVersion": "gemini-2.5-flash", "responseId": "abc"}),
            json!({"role": "assistant", "content": "Hello there"}),
            "stop",
            // Thoughts are output (and reasoning); cached content stays inside prompt_tokens.
            Some(oa::CompletionUsage {
                prompt_tokens_details: Some(oa::PromptTokensDetails {
                    cached_tokens: Some(2),
                    ..oa::PromptTokensDetails::default()
                }),
                completion_tokens_details: Some(oa::CompletionTokensDetails {
                    reasoning_tokens: Some(3),
                }),
                ..oa::CompletionUsage::new(4, 5)
            }),
        ),
        (
            "docs: function calls",
            json!({"candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"id": "fc-2", "name": "get_weather", "args": {"city": "Tokyo"}}}]},
                "finishReason": "STOP"}]}),
            json!(null),
            "tool_calls",
            None,
        ),
        (
            "safety stop",
            json!({"candidates": [{"finishReason": "SAFETY"}]}),
            json!({"role": "assistant", "content": ""}),
            "content_filter",
            None,
        ),
        (
            "prompt blocked",
            json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}}),
            json!({"role": "assistant", "content": ""}),
            "content_filter",
            None,
        ),
        (
            "length, thoughts left out",
            json!({"candidates": [{"content": {"parts": [{"text": "hmm", "thought": true}, {"text": "cut"}]}, "finishReason": "MAX_TOKENS"}]}),
            json!({"role": "assistant", "content": "cut"}),
            "length",
            None,
        ),
    ];
    for (name, input, message, finish, usage) in cases {
        let response: GenerateContentResponse = serde_json::from_value(input).unwrap_or_default();
        let out = response_to_openai(response, "gemini-2.5-flash");
        let choice = &out.choices[0];
        assert_eq!(choice.finish_reason.as_deref(), Some(finish), "{name}");
        assert_eq!(out.usage, usage, "{name}");
        if message.is_null() {
            let calls = choice.message.tool_calls.clone().unwrap_or_default();
            assert_eq!(calls.len(), 2, "{name}");
            assert!(
                calls[0].id.starts_with("call_") && calls[1].id == "fc-2",
                "{calls:?}"
            );
            assert_eq!(calls[0].function.arguments, "{\"city\":\"Paris\"}");
            assert_eq!(choice.message.content, None);
        } else {
            assert_eq!(to_json(&choice.message), message, "{name}");
        }
    }
}

/// docs-shaped `streamGenerateContent?alt=sse` output: CRLF framing, text in pieces (a
/// multi-byte character among them), a whole function call, the last event with `finishReason`
/// and `usageMetadata`.
const GEMINI_STREAM: &str = concat!(
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"The weather \"}],\"role\": \"model\"},\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"totalTokenCount\": 9},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"is — checking.\"}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"get_weather\",\"args\": {\"city\": \"Zürich\"}}}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n",
    "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"\"}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 9,\"candidatesTokenCount\": 12,\"totalTokenCount\": 21},\"modelVersion\": \"gemini-2.5-flash\"}\r\n\r\n",
);

#[tokio::test]
async fn gemini_stream_becomes_openai_chunks_at_any_byte_boundary() {
    for seed in 0..40 {
        let items = test_support::run(
            GEMINI_STREAM,
            seed,
            ToOpenAiStream::new("gemini-2.5-flash", true),
        )
        .await;
        let events: Vec<SseEvent> = items
            .into_iter()
            .map(|i| i.unwrap_or_else(|e| panic!("seed {seed}: {e}")))
            .collect();
        assert_eq!(events.last().map(|e| e.data.as_str()), Some("[DONE]"));
        let mut content = String::new();
        let mut args = String::new();
        let mut finish = None;
        let mut usage = None;
        for e in &events[..events.len() - 1] {
            let chunk: oa::ChatChunk = serde_json::from_str(&e.data).unwrap_or_default();
            usage = chunk.usage.or(usage);
            for c in chunk.choices {
                content.push_str(c.delta.content.as_deref().unwrap_or(""));
                for call in c.delta.tool_calls.into_iter().flatten() {
                    assert_eq!(call.index, 0);
                    args.push_str(
                        call.function
                            .and_then(|f| f.arguments)
                            .as_deref()
                            .unwrap_or(""),
                    );
                }
                finish = c.finish_reason.or(finish);
            }
        }
        assert_eq!(content, "The weather is — checking.");
        assert_eq!(
            serde_json::from_str::<Value>(&args).ok(),
            Some(json!({"city": "Zürich"}))
        );
        assert_eq!(finish.as_deref(), Some("tool_calls"));
        assert_eq!(usage, Some(oa::CompletionUsage::new(9, 12)));
    }
}

#[tokio::test]
async fn gemini_stream_errors_surface() {
    let raw = "data: {\"error\": {\"code\": 503, \"message\": \"The model is overloaded.\", \"status\": \"UNAVAILABLE\"}}\r\n\r\n";
    let items = test_support::run(raw, 1, ToOpenAiStream::new("g", false)).await;
    assert!(
        matches!(&items[..], [Err(UpstreamError::Status { status, message, .. })] if status.as_u16() == 503 && message.starts_with("UNAVAILABLE")),
        "{items:?}"
    );
    let items = test_support::run("", 1, ToOpenAiStream::new("g", false)).await;
    assert!(
        matches!(&items[..], [Err(UpstreamError::Protocol(_))]),
        "{items:?}"
    );
}

#[test]
fn google_errors_map_to_statuses() {
    let cases: [(&[u8], u16, u16); 5] = [
        (br#"{"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT"}}"#, 400, 401),
        (br#"{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).", "status": "RESOURCE_EXHAUSTED"}}"#, 429, 429),
        (br#"{"error": {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"}}"#, 403, 403),
        (br#"[{"error": {"code": 404, "message": "models/nope is not found", "status": "NOT_FOUND"}}]"#, 404, 404),
        (br#"{"error": {"code": 400, "message": "Invalid JSON payload", "status": "INVALID_ARGUMENT"}}"#, 400, 400),
    ];
    for (body, http, expected) in cases {
        match upstream_error(body, http, None) {
            UpstreamError::Status { status, .. } => assert_eq!(status.as_u16(), expected),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn thought_signatures_travel_inside_tool_call_ids() {
    // Gemini 2.5+ with thinking: the function call part carries `thoughtSignature`, which must
    // come back with the call in the next turn.
    let response: GenerateContentResponse = serde_json::from_value(json!({"candidates": [{
        "content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {}},
            "thoughtSignature": "CiQB+/xyzw=="}]}, "finishReason": "STOP"}]}))
    .unwrap_or_default();
    let completion = response_to_openai(response, "g");
    let calls = completion.choices[0]
        .message
        .tool_calls
        .clone()
        .unwrap_or_default();
    let id = calls[0].id.clone();
    assert!(
        id.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "{id}"
    );
    let next = request_from_openai(&chat(json!({"model": "g", "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": id, "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": id, "content": "done"}
    ]})))
    .map(|r| to_json(&r))
    .unwrap_or_default();
    assert_eq!(
        next["contents"][1]["parts"][0]["thoughtSignature"],
        "CiQB+/xyzw=="
    );
    assert_eq!(
        next["contents"][2]["parts"][0]["functionResponse"]["name"],
        "f"
    );
}

#[test]
fn embeddings_translate_both_ways() {
    let req: oa::EmbeddingRequest = serde_json::from_value(json!({
        "model": "text-embedding-004", "input": ["a", "b"], "dimensions": 3
    }))
    .unwrap_or_default();
    assert_eq!(
        embeddings_from_openai(&req).map(|r| to_json(&r)),
        Ok(json!({"requests": [
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 3},
            {"model": "models/text-embedding-004", "content": {"parts": [{"text": "b"}]}, "outputDimensionality": 3}
        ]}))
    );
    let tokens: oa::EmbeddingRequest =
        serde_json::from_value(json!({"model": "m", "input": [[1, 2, 3]]})).unwrap_or_default();
    assert!(embeddings_from_openai(&tokens).is_err());
    let response: BatchEmbedResponse =
        serde_json::from_value(json!({"embeddings": [{"values": [0.5, 1.0]}, {"values": [0.25]}]}))
            .unwrap_or_default();
    assert_eq!(
        to_json(&embeddings_to_openai(response, "text-embedding-004", 4)),
        json!({"object": "list", "model": "text-embedding-004", "usage": {"prompt_tokens": 4, "total_tokens": 4},
               "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 1.0]},
                        {"object": "embedding", "index": 1, "embedding": [0.25]}]})
    );
}

#[test]
fn a_request_with_no_turn_left_is_refused() {
    // Found by the fuzzer: system messages around a user turn with no parts.
    let request = chat(json!({"model": "m", "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": []},
        {"role": "system", "content": "tion"}
    ]}));
    assert_eq!(
        request_from_openai(&request).err().as_deref(),
        Some(crate::translate::NO_TURN_LEFT)
    );
}
