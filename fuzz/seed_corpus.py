#!/usr/bin/env python3
"""Writes the seed corpus (fuzz/corpus/<target>/seed-*) from the test fixtures and the formats'
typical shapes. Re-run after changing a seed; files the fuzzer adds are kept."""
import hashlib, json, pathlib, glob

root = pathlib.Path(__file__).resolve().parent
repo = root.parent

def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = root / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / ("seed-" + hashlib.sha1(data).hexdigest()[:12])).write_bytes(data)

H = "a" * 64
configs = [
    (repo / "crates/gateway/src/config/default.toml").read_text(),
    '[server]\nlisten = "127.0.0.1:4000"\nallowed_hosts = ["hub.lan"]\ncors_origins = ["http://localhost:5173"]\n\n'
    '[providers.cloud]\nkind = "openai"\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "env:OPENAI_API_KEY"\n'
    'unsupported_params = "drop"\n\n[providers.an]\nkind = "anthropic"\napi_key = "file:/nonexistent/key"\n\n'
    '[providers.ge]\nkind = "gemini"\napi_key = "env:GEMINI_KEY"\n\n'
    '[aliases.strong]\ntargets = ["cloud/big", "an/claude-sonnet"]\nretries = { attempts = 2 }\nfallbacks = ["cheap"]\n'
    'limits = { rpm = 60, tpm = 100000 }\n\n[aliases.cheap] # the fallback\ntargets = ["ge/gemini-flash"]\n\n'
    f'[tokens.app]\nhash = "sha256:{H}"\ntenant = "home"\naliases = ["strong"]\n\n[tenants.home]\nlimits = {{ tpm = 600 }}\n\n'
    '[budgets.team]\nusd = 1\nperiod = "week"\nalert_at = 0.5\nwhen_spent = { reroute = "cheap" }\n\n'
    '[prices."cloud/big"]\ninput = 2.5\noutput = 10\n',
    '[providers.local]\nkind = "openai"\nbase_url = "http://localhost:11434/v1"\n\n'
    '[aliases."local/chat"]\ntargets = ["local/llama3"]\n[aliases."local/chat".long_context]\nabove_tokens = 8000\nalias = "big"\n'
    '[aliases.big]\ntargets = ["local/llama3-70b"]\n',
]
for c in configs:
    put("config", c)
    put("config_edit", c)

for f in sorted(glob.glob(str(repo / "crates/gateway/tests/fixtures/litellm/**/*.yaml"), recursive=True)):
    put("import_litellm", pathlib.Path(f).read_text())

sse = [
    'event: message_start\ndata: {"type":"message_start"}\n\nevent: ping\ndata: {}\n\n',
    'data: {"choices":[{"delta":{"content":"h\xc3\xa9llo"}}]}\n\ndata: [DONE]\n\n',
    ': comment\nretry: 10\nid: 1\ndata: a\ndata: b\r\n\r\ndata:x\n\n',
]
for i, s in enumerate(sse):
    put("sse", bytes([i * 5]) + s.encode())

tool_chat = {"model": "m", "messages": [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": [{"type": "text", "text": "weather in Paris?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}}]},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    {"role": "assistant", "content": "It is sunny."},
    {"role": "user", "content": "thanks"}],
    "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
    "tool_choice": "auto", "max_tokens": 100, "temperature": 0.2, "stop": ["\n\n"], "stream": True,
    "stream_options": {"include_usage": True}, "response_format": {"type": "json_object"}}
chats = [{"model": "m", "messages": [{"role": "user", "content": "hi"}]}, tool_chat,
         {"model": "m", "messages": [{"role": "developer", "content": "x"}, {"role": "user", "content": "y"}]}]
for c in chats:
    put("request_chat_to_anthropic", json.dumps(c))
    put("request_chat_to_gemini", json.dumps(c))

anth = [{"model": "claude", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]},
        {"model": "claude", "max_tokens": 64, "system": [{"type": "text", "text": "sys"}], "messages": [
            {"role": "user", "content": [{"type": "text", "text": "weather?"}]},
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                {"type": "text", "text": "sunny"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]}],
         "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
         "tool_choice": {"type": "auto"}, "stop_sequences": ["END"], "stream": True}]
for f in sorted(glob.glob(str(repo / "crates/gateway/tests/fixtures/claude-code-*.json"))):
    body = json.loads(pathlib.Path(f).read_text()).get("body")
    if isinstance(body, dict):
        anth.append(body)
for a in anth:
    put("request_anthropic_to_chat", json.dumps(a))

resp = [{"model": "m", "input": "hi"},
        {"model": "m", "instructions": "be brief", "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "weather?"}]},
            {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "sunny"}],
         "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
         "max_output_tokens": 50, "stream": True}]
for r in resp:
    put("request_responses_to_chat", json.dumps(r))

def lines(events):
    return "\n".join(f"{n}\t{json.dumps(d) if not isinstance(d, str) else d}" for n, d in events)

anth_stream = [
    ("message_start", {"type": "message_start", "message": {"id": "msg_1", "type": "message", "role": "assistant",
        "model": "claude", "content": [], "stop_reason": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}),
    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
    ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"a\":"}}),
    ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "1}"}}),
    ("content_block_stop", {"type": "content_block_stop", "index": 1}),
    ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}),
    ("message_stop", {"type": "message_stop"}),
]
put("stream_anthropic_to_openai", lines(anth_stream))
put("stream_anthropic_to_openai", lines(anth_stream[:3] + [("error", {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}})]))

def chunk(delta, finish=None, usage=None):
    c = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage:
        c["choices"] = []
        c["usage"] = usage
    return ("message", c)
oa_stream = [chunk({"role": "assistant", "content": ""}), chunk({"content": "Hel"}), chunk({"content": "lo"}),
    chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":1}"}}]}),
    chunk({}, "tool_calls"), chunk({}, usage={"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}),
    ("message", "[DONE]")]
for t in ["stream_openai_to_anthropic", "stream_chat_to_responses"]:
    put(t, lines(oa_stream))
    put(t, lines(oa_stream[:3] + [("message", {"error": {"message": "upstream broke"}})]))
    put(t, lines(oa_stream[:2] + [chunk({}, "length"), ("message", "[DONE]")]))

gem = [("message", {"candidates": [{"content": {"role": "model", "parts": [{"text": "Hel"}]}, "index": 0}]}),
       ("message", {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"name": "f", "args": {"a": 1}}}]}, "index": 0}]}),
       ("message", {"candidates": [{"content": {"role": "model", "parts": [{"text": "lo"}]}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5}})]
put("stream_gemini_to_openai", lines(gem))
put("stream_gemini_to_openai", lines(gem[:1] + [("message", {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}})]))

guard = [
    "POST /v1/chat/completions\nhost: localhost:4000\nauthorization: Bearer sb-fuzz-token-0123456789\ncontent-type: application/json",
    "POST /v1/messages\nhost: gateway.internal\nx-api-key: sb-fuzz-token-0123456789\norigin: http://gateway.internal",
    "GET /admin/config\nhost: 127.0.0.1\norigin: http://evil.example",
    "OPTIONS /v1/models\nhost: [::1]:4000\norigin: http://localhost:5173\naccess-control-request-method: POST",
    "GET /health/readiness\nhost: evil.example",
    "GET /v1/models?x=1\nhost: LOCALHOST\nauthorization: bearer wrong",
]
for g in guard:
    put("guard_headers", g)
print("seeded", sum(1 for _ in (root / "corpus").rglob("seed-*")), "files")
