#!/usr/bin/env python3
"""Drives a running Switchboard with the official OpenAI Python SDK.

Usage: python3 test_openai_sdk.py BASE_URL    (e.g. http://127.0.0.1:4000/v1)

The gateway must serve the aliases `local/chat` (mock/some-model), `limited` (mock/fail-429) and
`broken` (mock/break-stream) in front of the e2e mock upstream (the Rust e2e test
`sdk::openai_python_sdk_talks_to_the_gateway` sets that up and runs this script). Exits 0 when every
check passed, 1 when one failed, 3 when the `openai` package is missing.
"""

import sys
import traceback

PROMPT = [{"role": "user", "content": "Hello from the OpenAI SDK"}]
EXPECTED_STREAM_TEXT = "tok0 tok1 tok2 tok3 tok4 "


def main(base_url: str) -> int:
    try:
        import openai
    except ImportError as e:
        print(f"cannot import openai with {sys.executable}: {e}", file=sys.stderr)
        return 3

    client = openai.OpenAI(base_url=base_url, api_key="sk-unused-by-switchboard", max_retries=0, timeout=20)
    passed, failed = [], []

    def check(name, fn):
        try:
            fn()
        except Exception:  # noqa: BLE001 - every failure is reported, then the next check runs
            failed.append(name)
            print(f"FAIL {name}", file=sys.stderr)
            traceback.print_exc()
        else:
            passed.append(name)
            print(f"ok   {name}")

    def non_streaming():
        completion = client.chat.completions.create(model="local/chat", messages=PROMPT, seed=7)
        assert completion.object == "chat.completion", completion
        assert completion.model == "some-model", completion.model
        content = completion.choices[0].message.content
        assert content and set(content) == {"x"}, content
        assert completion.choices[0].finish_reason == "stop"
        assert completion.usage.prompt_tokens == 11 and completion.usage.completion_tokens == 7, completion.usage

    def raw_response_headers():
        raw = client.chat.completions.with_raw_response.create(
            model="Local/Chat", messages=PROMPT, extra_headers={"X-Correlation-Id": "sdk-corr-1"}
        )
        assert raw.headers.get("x-correlation-id") == "sdk-corr-1", dict(raw.headers)
        assert raw.headers.get("x-switchboard-alias") == "local/chat", dict(raw.headers)
        assert raw.parse().model == "some-model"

    def streaming():
        stream = client.chat.completions.create(model="local/chat", messages=PROMPT, stream=True)
        parts, chunks, usage_chunks = [], 0, 0
        for chunk in stream:
            chunks += 1
            if chunk.usage is not None:
                usage_chunks += 1
            for choice in chunk.choices:
                if choice.delta.content:
                    parts.append(choice.delta.content)
        text = "".join(parts)
        assert text == EXPECTED_STREAM_TEXT, repr(text)
        assert chunks == 7, chunks  # role, 5 tokens, finish: the gateway's own usage request is hidden
        assert usage_chunks == 0, usage_chunks

    def streaming_with_usage():
        stream = client.chat.completions.create(
            model="local/chat", messages=PROMPT, stream=True, stream_options={"include_usage": True}
        )
        last = None
        text = ""
        for chunk in stream:
            last = chunk
            for choice in chunk.choices:
                text += choice.delta.content or ""
        assert text == EXPECTED_STREAM_TEXT, repr(text)
        assert last is not None and last.usage is not None, last
        assert last.usage.prompt_tokens == 11 and last.usage.completion_tokens == 5, last.usage

    def models():
        ids = [model.id for model in client.models.list()]
        assert "local/chat" in ids, ids
        model = client.models.retrieve("local/chat")
        assert model.id == "local/chat", model

    def completions_and_embeddings():
        completion = client.completions.create(model="local/chat", prompt="Once upon", max_tokens=5)
        assert completion.choices[0].text == "mock completion", completion
        embedding = client.embeddings.create(model="local/chat", input="hello")
        assert embedding.data[0].embedding == [0.1, 0.2, 0.3], embedding

    def unknown_model():
        try:
            client.chat.completions.create(model="Local/Caht", messages=PROMPT)
        except openai.NotFoundError as e:
            assert e.status_code == 404
            body = e.body if isinstance(e.body, dict) else {}
            body = body.get("error", body)
            assert body.get("code") == "model_not_found", e.body
            assert e.code == "model_not_found", e.code
            assert "local/chat" in body.get("suggestions", []), e.body
            assert body.get("correlation_id") == e.response.headers.get("x-correlation-id"), e.body
        else:
            raise AssertionError("an unknown model did not raise NotFoundError")

    def rate_limited():
        try:
            client.chat.completions.create(model="limited", messages=PROMPT)
        except openai.RateLimitError as e:
            assert e.status_code == 429
            assert e.code == "backend_rate_limited", e.body
            assert e.response.headers.get("retry-after") == "2", dict(e.response.headers)
            assert "sk-mocksecret123" not in str(e.body), e.body
        else:
            raise AssertionError("a 429 from the backend did not raise RateLimitError")

    def error_mid_stream():
        stream = client.chat.completions.create(model="broken", messages=PROMPT, stream=True)
        received = []
        try:
            for chunk in stream:
                received.append(chunk)
        except openai.APIError as e:
            assert received, "the stream broke before its first chunk"
            body = e.body if isinstance(e.body, dict) else {}
            assert body.get("code") == "backend_protocol_error", e.body
            assert body.get("route") == "broken", e.body
        else:
            raise AssertionError("a stream that broke mid-way ended without an error")

    for name, fn in [
        ("chat completion", non_streaming),
        ("raw response headers", raw_response_headers),
        ("streamed chat completion", streaming),
        ("streamed chat completion with usage", streaming_with_usage),
        ("models list and retrieve", models),
        ("completions and embeddings", completions_and_embeddings),
        ("unknown model raises NotFoundError", unknown_model),
        ("backend 429 raises RateLimitError", rate_limited),
        ("error mid-stream raises APIError", error_mid_stream),
    ]:
        check(name, fn)

    print(f"openai-sdk: {len(passed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
