"""Responses API tool-call round trips with the official OpenAI Python SDK: `responses.create`
(with the history sent back, and with `previous_response_id`) and `responses.stream`, through
each alias named on the command line. Run by crates/gateway/tests/providers_responses.rs.

usage: responses_roundtrip.py BASE_URL ALIAS [ALIAS ...]
"""
import json
import sys

import openai

TOOLS = [{
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
        "required": ["city"],
    },
}]
QUESTION = "What is the weather in Paris and Tokyo?"
WEATHER = {"Paris": "18C and sunny", "Tokyo": "22C and rainy"}


def calls_of(response):
    calls = [o for o in response.output if o.type == "function_call"]
    cities = sorted(json.loads(c.arguments)["city"] for c in calls)
    assert cities == ["Paris", "Tokyo"], response
    assert all(c.name == "get_weather" and c.call_id for c in calls), calls
    return calls


def results(calls):
    return [{"type": "function_call_output", "call_id": c.call_id,
             "output": json.dumps({"forecast": WEATHER[json.loads(c.arguments)["city"]]})} for c in calls]


def check_answer(text):
    assert "got tool results" in text and "18C" in text and "22C" in text, text


def plain(client, alias):
    r = client.responses.create(model=alias, input=QUESTION, tools=TOOLS, instructions="Be brief.")
    assert r.object == "response" and r.status == "completed", r
    calls = calls_of(r)
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0, r.usage
    history = [{"role": "user", "content": QUESTION}] + [
        {"type": "function_call", "call_id": c.call_id, "name": c.name, "arguments": c.arguments} for c in calls]
    again = client.responses.create(model=alias, input=history + results(calls), tools=TOOLS, store=False)
    check_answer(again.output_text)
    # The gateway kept the first response: a follow-up sends only the tool results.
    follow = client.responses.create(model=alias, previous_response_id=r.id, input=results(calls), tools=TOOLS)
    check_answer(follow.output_text)
    assert client.responses.retrieve(follow.id).id == follow.id
    # `store: false` kept nothing.
    try:
        client.responses.retrieve(again.id)
        raise AssertionError("a store: false response was stored")
    except openai.NotFoundError:
        pass


def streamed(client, alias):
    with client.responses.stream(model=alias, input=QUESTION, tools=TOOLS) as stream:
        kinds = [event.type for event in stream]
        first = stream.get_final_response()
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed", kinds
    assert "response.function_call_arguments.delta" in kinds, kinds
    calls = calls_of(first)
    text, usage = "", None
    for event in client.responses.create(model=alias, previous_response_id=first.id,
                                         input=results(calls), tools=TOOLS, stream=True):
        if event.type == "response.output_text.delta":
            text += event.delta
        if event.type == "response.completed":
            usage = event.response.usage
    check_answer(text)
    assert usage and usage.output_tokens > 0, usage


def main():
    base, aliases = sys.argv[1], sys.argv[2:]
    client = openai.OpenAI(base_url=base + "/v1", api_key="client-secret-key", max_retries=0)
    for alias in aliases:
        plain(client, alias)
        streamed(client, alias)
        print("ok", alias, flush=True)


if __name__ == "__main__":
    main()
