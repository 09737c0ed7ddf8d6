"""Tool-call round trips with the official OpenAI Python SDK, streaming and not, through each
alias named on the command line. Run by crates/gateway/tests/providers_sdk.rs.

usage: openai_roundtrip.py BASE_URL ALIAS [ALIAS ...]
"""
import json
import sys

import openai

TOOLS = [{
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}]
QUESTION = [{"role": "user", "content": "What is the weather in Paris and Tokyo?"}]
WEATHER = {"Paris": "18C and sunny", "Tokyo": "22C and rainy"}


def check_calls(calls):
    cities = sorted(json.loads(c["arguments"])["city"] for c in calls)
    assert cities == ["Paris", "Tokyo"], calls
    assert all(c["name"] == "get_weather" and c["id"] for c in calls), calls


def follow_up(calls):
    assistant = {"role": "assistant", "content": None, "tool_calls": [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
        for c in calls]}
    results = [{"role": "tool", "tool_call_id": c["id"],
                "content": json.dumps({"forecast": WEATHER[json.loads(c["arguments"])["city"]]})}
               for c in calls]
    return QUESTION + [assistant] + results


def check_answer(text):
    assert "got tool results" in text and "18C" in text and "22C" in text, text


def plain(client, alias):
    r = client.chat.completions.create(model=alias, messages=QUESTION, tools=TOOLS)
    choice = r.choices[0]
    assert choice.finish_reason == "tool_calls", r
    calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
             for c in choice.message.tool_calls]
    check_calls(calls)
    assert r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0, r.usage
    r = client.chat.completions.create(model=alias, messages=follow_up(calls), tools=TOOLS)
    assert r.choices[0].finish_reason == "stop", r
    check_answer(r.choices[0].message.content)


def streamed(client, alias):
    calls, finish, chunks = {}, None, 0
    for chunk in client.chat.completions.create(model=alias, messages=QUESTION, tools=TOOLS, stream=True):
        chunks += 1
        for choice in chunk.choices:
            for d in choice.delta.tool_calls or []:
                c = calls.setdefault(d.index, {"id": "", "name": "", "arguments": ""})
                c["id"] = d.id or c["id"]
                if d.function:
                    c["name"] += d.function.name or ""
                    c["arguments"] += d.function.arguments or ""
            finish = choice.finish_reason or finish
    assert finish == "tool_calls", finish
    calls = [calls[i] for i in sorted(calls)]
    check_calls(calls)
    text, finish = "", None
    for chunk in client.chat.completions.create(model=alias, messages=follow_up(calls), tools=TOOLS,
                                                stream=True, stream_options={"include_usage": True}):
        for choice in chunk.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
        if chunk.usage:
            assert chunk.usage.completion_tokens > 0, chunk.usage
    assert finish == "stop", finish
    check_answer(text)


def main():
    base, aliases = sys.argv[1], sys.argv[2:]
    client = openai.OpenAI(base_url=base + "/v1", api_key="client-secret-key", max_retries=0)
    for alias in aliases:
        plain(client, alias)
        streamed(client, alias)
        print("ok", alias, flush=True)


if __name__ == "__main__":
    main()
