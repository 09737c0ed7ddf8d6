use serde_json::{json, Map, Value};

use super::*;

fn body(value: Value) -> Map<String, Value> {
    value.as_object().cloned().expect("an object")
}

fn chat_error(value: Value) -> Option<(String, Problem)> {
    check_openai_chat(&body(value))
        .err()
        .map(|e| (e.path, e.problem))
}

fn anthropic_error(value: Value) -> Option<(String, Problem)> {
    check_anthropic(&body(value))
        .err()
        .map(|e| (e.path, e.problem))
}

fn call(id: Value) -> Value {
    json!({"id": id, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}})
}

#[test]
fn openai_chat_table() {
    let ok = |v: Value| (v, None::<(&str, Problem)>);
    let bad = |v: Value, path: &'static str, p: Problem| (v, Some((path, p)));
    let table = vec![
        ok(json!({"messages": [{"role": "user", "content": "hi"}]})),
        ok(json!({"messages": [
            {"role": "system", "content": "be brief"},
            {"role": "developer", "content": [{"type": "text", "text": "x"}]},
            {"role": "user", "content": [
                {"type": "text", "text": "what is this"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA=="}},
                {"type": "input_audio", "input_audio": {}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [call(json!("call_1"))]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            {"role": "assistant", "content": "sunny"}
        ], "tools": [{"type": "function", "function": {"name": "get_weather"}}]})),
        bad(json!({}), "messages", Problem::Missing),
        // Found by the fuzzer: only system/developer messages left Anthropic and Gemini no turn.
        bad(
            json!({"messages": [{"role": "system", "content": "be brief"}]}),
            "messages",
            Problem::OnlySystem,
        ),
        bad(
            json!({"messages": [{"role": "developer", "content": "y"}, {"role": "system", "content": "z"}]}),
            "messages",
            Problem::OnlySystem,
        ),
        // Found by the fuzzer: `tool_calls` on a system message are dropped by the
        // translations, so a result for one answers no call.
        bad(
            json!({"messages": [
                {"role": "system", "content": "be brief", "tool_calls": [call(json!("call_1"))]},
                {"role": "user", "content": "weather?"},
                {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}
            ]}),
            "messages[2].tool_call_id",
            Problem::UnmatchedToolResult("call_1".into()),
        ),
        // Found by the fuzzer: translators drop a turn with no content, leaving none.
        bad(
            json!({"messages": [{"role": "user", "con2tent": "hi"}]}),
            "messages[0].content",
            Problem::Missing,
        ),
        bad(
            json!({"messages": [{"role": "assistant", "content": null}]}),
            "messages[0].content",
            Problem::Missing,
        ),
        bad(json!({"messages": "hi"}), "messages", Problem::NotArray),
        bad(
            json!({"messages": {"role": "user"}}),
            "messages",
            Problem::NotArray,
        ),
        bad(json!({"messages": []}), "messages", Problem::Empty),
        bad(
            json!({"messages": ["hi"]}),
            "messages[0]",
            Problem::NotObject,
        ),
        bad(
            json!({"messages": [{"content": "hi"}]}),
            "messages[0].role",
            Problem::Missing,
        ),
        bad(
            json!({"messages": [{"role": 1, "content": "hi"}]}),
            "messages[0].role",
            Problem::NotString,
        ),
        bad(
            json!({"messages": [{"role": "robot", "content": "hi"}]}),
            "messages[0].role",
            Problem::UnknownRole("robot".into()),
        ),
        bad(
            json!({"messages": [{"role": "user", "content": 42}]}),
            "messages[0].content",
            Problem::WrongContentType,
        ),
        bad(
            json!({"messages": [{"role": "user", "content": {"text": "hi"}}]}),
            "messages[0].content",
            Problem::WrongContentType,
        ),
        bad(
            json!({"messages": [{"role": "user", "content": ["hi"]}]}),
            "messages[0].content[0]",
            Problem::NotObject,
        ),
        bad(
            json!({"messages": [{"role": "user", "content": [{"text": "hi"}]}]}),
            "messages[0].content[0].type",
            Problem::Missing,
        ),
        bad(
            json!({"messages": [{"role": "user", "content": [{"type": "text", "text": 5}]}]}),
            "messages[0].content[0].text",
            Problem::NotString,
        ),
        bad(
            json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}),
            "messages[0].content[0].image_url.url",
            Problem::Missing,
        ),
        bad(
            json!({"messages": [{"role": "assistant", "tool_calls": {}}]}),
            "messages[0].tool_calls",
            Problem::NotArray,
        ),
        bad(
            json!({"messages": [{"role": "assistant", "tool_calls": [call(Value::Null)]}]}),
            "messages[0].tool_calls[0].id",
            Problem::MissingToolCallId,
        ),
        bad(
            json!({"messages": [{"role": "assistant", "tool_calls": [call(json!(""))]}]}),
            "messages[0].tool_calls[0].id",
            Problem::MissingToolCallId,
        ),
        bad(
            json!({"messages": [{"role": "assistant", "tool_calls": [call(json!(7))]}]}),
            "messages[0].tool_calls[0].id",
            Problem::NotString,
        ),
        bad(
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"arguments": "{}"}}]}]}),
            "messages[0].tool_calls[0].function.name",
            Problem::Missing,
        ),
        bad(
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {"a": 1}}}]}]}),
            "messages[0].tool_calls[0].function.arguments",
            Problem::NotString,
        ),
        bad(
            json!({"messages": [{"role": "tool", "content": "sunny"}]}),
            "messages[0].tool_call_id",
            Problem::Missing,
        ),
        bad(
            json!({"messages": [
                {"role": "assistant", "tool_calls": [call(json!("call_1"))]},
                {"role": "tool", "tool_call_id": "call_2", "content": "sunny"}
            ]}),
            "messages[1].tool_call_id",
            Problem::UnmatchedToolResult("call_2".into()),
        ),
        bad(
            json!({"messages": [{"role": "user", "content": "hi"}], "tools": {}}),
            "tools",
            Problem::NotArray,
        ),
        bad(
            json!({"messages": [{"role": "user", "content": "hi"}], "tools": [{"type": "function"}]}),
            "tools[0].function",
            Problem::Missing,
        ),
    ];
    for (input, want) in table {
        let got = chat_error(input.clone());
        let want = want.map(|(path, p)| (path.to_owned(), p));
        assert_eq!(got, want, "input: {input}");
    }
}

#[test]
fn anthropic_table() {
    let ok = |v: Value| (v, None::<(&str, Problem)>);
    let bad = |v: Value, path: &'static str, p: Problem| (v, Some((path, p)));
    let table = vec![
        ok(json!({"messages": [{"role": "user", "content": "hi"}]})),
        ok(
            json!({"system": [{"type": "text", "text": "be brief"}], "messages": [
            {"role": "user", "content": [{"type": "text", "text": "weather?"},
                {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                {"type": "document", "source": {}}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "hm"},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                "content": [{"type": "text", "text": "sunny"}]}]},
            {"role": "system", "content": "mid-conversation"}
        ], "tools": [{"name": "get_weather", "input_schema": {}}]}),
        ),
        bad(json!({}), "messages", Problem::Missing),
        // Found by the fuzzer: a `tool_use` in a user turn is no call the result can answer.
        bad(
            json!({"messages": [
                {"role": "user", "content": [{"type": "tool_use", "id": "toolu_0", "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_0"}]}
            ]}),
            "messages[1].content[0].tool_use_id",
            Problem::UnmatchedToolResult("toolu_0".into()),
        ),
        bad(json!({"messages": "hi"}), "messages", Problem::NotArray),
        bad(
            json!({"system": 3, "messages": []}),
            "system",
            Problem::WrongContentType,
        ),
        bad(
            json!({"system": [{"type": "text"}], "messages": []}),
            "system[0].text",
            Problem::Missing,
        ),
        bad(json!({"messages": [1]}), "messages[0]", Problem::NotObject),
        bad(
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            "messages[0].role",
            Problem::UnknownRole("tool".into()),
        ),
        bad(
            json!({"messages": [{"role": "user"}]}),
            "messages[0].content",
            Problem::Missing,
        ),
        bad(
            json!({"messages": [{"role": "user", "content": true}]}),
            "messages[0].content",
            Problem::WrongContentType,
        ),
        bad(
            json!({"messages": [{"role": "user", "content": [{"type": 1}]}]}),
            "messages[0].content[0].type",
            Problem::NotString,
        ),
        bad(
            json!({"messages": [{"role": "user", "content": [{"type": "image"}]}]}),
            "messages[0].content[0].source",
            Problem::Missing,
        ),
        bad(
            json!({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "name": "f", "input": {}}]}]}),
            "messages[0].content[0].id",
            Problem::MissingToolCallId,
        ),
        bad(
            json!({"messages": [{"role": "assistant", "content": [{"type": "tool_use", "id": "t"}]}]}),
            "messages[0].content[0].name",
            Problem::Missing,
        ),
        bad(
            json!({"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_9"}]}]}),
            "messages[0].content[0].tool_use_id",
            Problem::UnmatchedToolResult("toolu_9".into()),
        ),
        bad(
            json!({"messages": [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f"}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": 5}]}
            ]}),
            "messages[1].content[0].content",
            Problem::WrongContentType,
        ),
        bad(
            json!({"messages": [], "tools": [{}]}),
            "tools[0].name",
            Problem::Missing,
        ),
    ];
    for (input, want) in table {
        let got = anthropic_error(input.clone());
        let want = want.map(|(path, p)| (path.to_owned(), p));
        assert_eq!(got, want, "input: {input}");
    }
}

#[test]
fn only_translated_backends_are_checked() {
    let broken = body(json!({"messages": "hi"}));
    assert!(check_chat_for("anthropic", true, false, &broken).is_err());
    assert!(check_chat_for("gemini", true, false, &broken).is_err());
    // Passed through untouched: the backend judges its own dialect.
    assert!(check_chat_for("anthropic", true, true, &broken).is_ok());
    assert!(check_chat_for("openai", true, false, &broken).is_ok());
    assert!(check_chat_for("github_copilot", true, false, &broken).is_ok());
    // Embeddings are not chat requests.
    assert!(check_chat_for("gemini", false, false, &broken).is_ok());
}

#[test]
fn the_message_names_the_field() {
    let e = check_openai_chat(&body(json!({"messages": [{"role": "robot"}]}))).unwrap_err();
    assert_eq!(e.to_string(), "`messages[0].role` unknown role `robot`");
}
