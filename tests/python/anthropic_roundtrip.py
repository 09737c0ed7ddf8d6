"""Tool-call round trips with the official Anthropic Python SDK against Switchboard's
Anthropic ingress (/v1/messages), streaming and not, plus count_tokens, through each alias
named on the command line. Run by crates/gateway/tests/providers_sdk.rs.

usage: anthropic_roundtrip.py BASE_URL ALIAS [ALIAS ...]
"""
import sys

import anthropic

TOOLS = [{
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city"],
    },
}]
QUESTION = [{"role": "user", "content": "What is the weather in Paris and Tokyo?"}]
WEATHER = {"Paris": "18C and sunny", "Tokyo": "22C and rainy"}


def tool_uses(message):
    uses = [b for b in message.content if b.type == "tool_use"]
    assert sorted(u.input["city"] for u in uses) == ["Paris", "Tokyo"], message
    assert all(u.name == "get_weather" and u.id for u in uses), message
    return uses


def follow_up(message, uses):
    # One result as a plain string, one as structured content blocks.
    results = []
    for i, u in enumerate(uses):
        text = "forecast: " + WEATHER[u.input["city"]]
        content = text if i == 0 else [{"type": "text", "text": text}]
        results.append({"type": "tool_result", "tool_use_id": u.id, "content": content})
    assistant = {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in message.content]}
    return QUESTION + [assistant, {"role": "user", "content": results}]


def answer_text(message):
    text = "".join(b.text for b in message.content if b.type == "text")
    assert "got tool results" in text and "18C" in text and "22C" in text, message
    assert message.stop_reason == "end_turn", message


def main():
    base, aliases = sys.argv[1], sys.argv[2:]
    client = anthropic.Anthropic(base_url=base, api_key="client-secret-key", max_retries=0)
    for alias in aliases:
        m = client.messages.create(model=alias, max_tokens=256, tools=TOOLS, messages=QUESTION)
        assert m.stop_reason == "tool_use", m
        assert m.usage.input_tokens > 0 and m.usage.output_tokens > 0, m.usage
        uses = tool_uses(m)
        m2 = client.messages.create(model=alias, max_tokens=256, tools=TOOLS, messages=follow_up(m, uses))
        answer_text(m2)

        with client.messages.stream(model=alias, max_tokens=256, tools=TOOLS, messages=QUESTION) as s:
            events = [e.type for e in s]
            m = s.get_final_message()
        assert events[0] == "message_start" and "content_block_delta" in events, events
        assert m.stop_reason == "tool_use", m
        uses = tool_uses(m)
        with client.messages.stream(model=alias, max_tokens=256, tools=TOOLS,
                                    messages=follow_up(m, uses)) as s:
            text = "".join(s.text_stream)
            final = s.get_final_message()
        assert "got tool results" in text, text
        answer_text(final)
        assert final.usage.output_tokens > 0, final.usage

        count = client.messages.count_tokens(model=alias, messages=QUESTION, tools=TOOLS)
        assert count.input_tokens > 0, count
        print("ok", alias, flush=True)


if __name__ == "__main__":
    main()
