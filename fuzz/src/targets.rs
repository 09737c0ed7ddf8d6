//! The fuzz targets' bodies, shared by the libFuzzer binaries (`fuzz/fuzz_targets/`) and the
//! corpus replay in `cargo test` (`crates/gateway/tests/reliability_fuzz.rs`), so a crash the
//! fuzzer found stays fixed. Each asserts an invariant, not only "no panic".

use std::collections::HashSet;

use serde_json::{Map, Value};
use switchboard_gateway::config::edit::{self, WriteMode, SECTIONS};
use switchboard_gateway::translate::shape::{check_anthropic, check_openai_chat, Problem};
use switchboard_gateway::translate::StreamTranslator;
use switchboard_gateway::translate::{anthropic, gemini, openai, responses};
use switchboard_gateway::Config;
use switchboard_import_litellm::{import_litellm, ImportError};

/// One target: its name (as `fuzz/corpus/<name>/` and `fuzz/fuzz_targets/<name>.rs` name it)
/// and its body.
pub type Target = (&'static str, fn(&[u8]));

/// Every target.
pub const TARGETS: &[Target] = &[
    ("config", config),
    ("config_edit", config_edit),
    ("import_litellm", litellm),
    ("sse", sse),
    ("request_chat_to_anthropic", request_chat_to_anthropic),
    ("request_chat_to_gemini", request_chat_to_gemini),
    ("request_anthropic_to_chat", request_anthropic_to_chat),
    ("request_responses_to_chat", request_responses_to_chat),
    ("stream_anthropic_to_openai", stream_anthropic_to_openai),
    ("stream_openai_to_anthropic", stream_openai_to_anthropic),
    ("stream_gemini_to_openai", stream_gemini_to_openai),
    ("stream_chat_to_responses", stream_chat_to_responses),
    ("guard_headers", guard_headers),
];

fn text(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

fn json_object(data: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(data) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// The config parser and validator: never panics.
pub fn config(data: &[u8]) {
    if let Some(text) = text(data) {
        let _ = Config::parse(text, "fuzz");
    }
}

/// A config that validates round-trips through the editor unchanged: writing every entry back
/// with its own value changes neither the text nor what `list` reads.
pub fn config_edit(data: &[u8]) {
    let Some(text) = text(data) else { return };
    if Config::parse(text, "fuzz").is_err() {
        return;
    }
    for section in SECTIONS {
        let Ok(entries) = edit::list(text, section) else {
            panic!("a valid config's `{section}` cannot be listed");
        };
        for (name, value) in &entries {
            if !value.is_object() {
                continue;
            }
            let written = match edit::write(text, section, name, value, WriteMode::Upsert) {
                Ok(written) => written,
                Err(e) => panic!("{section}.{name}: writing its own value back failed: {e}"),
            };
            let again = edit::list(&written, section).ok();
            assert_eq!(
                again.as_ref(),
                Some(&entries),
                "{section}.{name}: the entries changed"
            );
            assert_eq!(written, text, "{section}.{name}: the text changed");
            // Delete and create again (the admin API's remove + create): the same entries, and
            // the config still validates.
            let removed = match edit::remove(text, section, name) {
                Ok(removed) => removed,
                Err(e) => panic!("{section}.{name}: removing it failed: {e}"),
            };
            let recreated = match edit::write(&removed, section, name, value, WriteMode::Create) {
                Ok(recreated) => recreated,
                Err(e) => panic!("{section}.{name}: creating it again failed: {e}"),
            };
            let mut again = edit::list(&recreated, section).unwrap_or_default();
            let mut before = entries.clone();
            again.sort_by(|a, b| a.0.cmp(&b.0));
            before.sort_by(|a, b| a.0.cmp(&b.0));
            assert_eq!(
                again, before,
                "{section}.{name}: remove + create changed the entries"
            );
            if let Err(e) = Config::parse(&recreated, "fuzz") {
                panic!(
                    "{section}.{name}: remove + create gave an invalid config: {e}\n{recreated}"
                );
            }
        }
    }
}

/// The LiteLLM importer: never panics, and never produces a config Switchboard rejects.
pub fn litellm(data: &[u8]) {
    let Some(yaml) = text(data) else { return };
    match import_litellm(yaml) {
        Err(ImportError::Invalid(why)) => panic!("the importer produced an invalid config: {why}"),
        Err(_) => {}
        Ok(outcome) => {
            if let Err(e) = Config::parse(&outcome.toml, "imported") {
                panic!("the imported config does not parse: {e}");
            }
        }
    }
}

/// The SSE parser: the events do not depend on where the bytes were split. The first byte
/// seeds the split points.
pub fn sse(data: &[u8]) {
    let Some((&seed, body)) = data.split_first() else {
        return;
    };
    let whole = parse_sse(vec![body.to_vec()]);
    let mut chunks = Vec::new();
    let (mut at, mut step) = (0usize, usize::from(seed % 17) + 1);
    while at < body.len() {
        let end = (at + step).min(body.len());
        chunks.push(body[at..end].to_vec());
        at = end;
        step = (step * 7 + 3) % 13 + 1;
    }
    let split = parse_sse(chunks);
    assert_eq!(whole, split, "splitting the bytes changed the events");
    // One byte at a time: every CR/LF pair, BOM and UTF-8 sequence cut through.
    let bytewise = parse_sse(body.chunks(1).map(<[u8]>::to_vec).collect());
    assert_eq!(
        whole, bytewise,
        "feeding one byte at a time changed the events"
    );
}

fn parse_sse(chunks: Vec<Vec<u8>>) -> Vec<Result<(Option<String>, String), String>> {
    use futures::StreamExt;
    let bytes = futures::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok::<_, std::convert::Infallible>(bytes::Bytes::from(c))),
    );
    futures::executor::block_on(
        switchboard_gateway::wire::parse_sse(bytes)
            .map(|item| item.map(|e| (e.event, e.data)).map_err(|e| e.to_string()))
            .collect(),
    )
}

/// Roles Anthropic's Messages API takes in `messages`.
const ANTHROPIC_ROLES: [&str; 2] = ["user", "assistant"];

/// OpenAI chat → Anthropic: a body that passes the shape check translates to a request
/// Anthropic's schema takes (or to a clear refusal).
pub fn request_chat_to_anthropic(data: &[u8]) {
    let Some(body) = json_object(data) else {
        return;
    };
    let checked = check_openai_chat(&body).is_ok();
    let Ok(chat) = serde_json::from_value::<openai::ChatRequest>(Value::Object(body)) else {
        return;
    };
    let Ok(request) = anthropic::request_from_openai(&chat, 4096) else {
        return;
    };
    if !checked {
        return;
    }
    let out = to_object(&request);
    if let Err(e) = check_anthropic(&out) {
        panic!(
            "translated to an invalid Anthropic request ({e}): {}",
            Value::Object(out)
        );
    }
    let messages = out["messages"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    assert!(
        !messages.is_empty(),
        "no messages: {}",
        Value::Object(out.clone())
    );
    for m in messages {
        let role = m["role"].as_str().unwrap_or("");
        assert!(ANTHROPIC_ROLES.contains(&role), "role {role:?} in {m}");
    }
    assert!(
        out["max_tokens"].as_u64().is_some_and(|n| n > 0),
        "max_tokens"
    );
}

/// OpenAI chat → Gemini: a body that passes the shape check becomes `contents` of `user` and
/// `model` turns, none empty.
pub fn request_chat_to_gemini(data: &[u8]) {
    let Some(body) = json_object(data) else {
        return;
    };
    let checked = check_openai_chat(&body).is_ok();
    let Ok(chat) = serde_json::from_value::<openai::ChatRequest>(Value::Object(body)) else {
        return;
    };
    let Ok(request) = gemini::request_from_openai(&chat) else {
        return;
    };
    if !checked {
        return;
    }
    let out = to_object(&request);
    let contents = out["contents"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    assert!(
        !contents.is_empty(),
        "no contents: {}",
        Value::Object(out.clone())
    );
    for c in contents {
        let role = c["role"].as_str().unwrap_or("");
        assert!(matches!(role, "user" | "model"), "role {role:?} in {c}");
        let parts = c["parts"].as_array().map(Vec::len).unwrap_or(0);
        assert!(parts > 0, "a turn with no parts: {c}");
    }
}

/// Anthropic → OpenAI chat: a body that passes the shape check becomes a chat request that
/// passes OpenAI's (tool results keep their call ids).
pub fn request_anthropic_to_chat(data: &[u8]) {
    let Some(body) = json_object(data) else {
        return;
    };
    let checked = check_anthropic(&body).is_ok();
    let Ok(request) = serde_json::from_value::<anthropic::MessagesRequest>(Value::Object(body))
    else {
        return;
    };
    let Ok((chat, _dropped)) = anthropic::request_to_openai(request) else {
        return;
    };
    if !checked || chat.messages.is_empty() {
        return;
    }
    let out = to_object(&chat);
    if let Err(e) = check_openai_chat(&out) {
        panic!(
            "translated to an invalid chat request ({e}): {}",
            Value::Object(out)
        );
    }
}

/// Responses → chat: the chat request passes OpenAI's shape check, except for tool results
/// whose call the request itself does not hold (it may be in a stored earlier response).
pub fn request_responses_to_chat(data: &[u8]) {
    let Some(body) = json_object(data) else {
        return;
    };
    let own_calls: HashSet<String> = body
        .get("input")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "function_call")
        .filter_map(|item| item["call_id"].as_str().map(str::to_owned))
        .collect();
    let Ok(request) = serde_json::from_value::<responses::ResponsesRequest>(Value::Object(body))
    else {
        return;
    };
    let Ok((chat, _dropped)) = responses::request_to_chat(&request) else {
        return;
    };
    if chat.messages.is_empty() {
        return;
    }
    let out = to_object(&chat);
    match check_openai_chat(&out) {
        Ok(()) => {}
        Err(e) if matches!(&e.problem, Problem::UnmatchedToolResult(id) if !own_calls.contains(id)) =>
            {}
        // Only `instructions`: system-only chat is valid for a chat backend (the check's rule
        // is for Anthropic and Gemini targets).
        Err(e) if e.problem == Problem::OnlySystem => {}
        Err(e) => panic!(
            "translated to an invalid chat request ({e}): {}",
            Value::Object(out)
        ),
    }
}

fn to_object<T: serde::Serialize>(value: &T) -> Map<String, Value> {
    match serde_json::to_value(value) {
        Ok(Value::Object(map)) => map,
        other => panic!("a request that does not serialize to an object: {other:?}"),
    }
}

/// Events from fuzz bytes: one per line, `name\tdata` or just `data` (named `message`).
fn events(data: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(data)
        .lines()
        .map(|line| match line.split_once('\t') {
            Some((name, data)) => (name.to_owned(), data.to_owned()),
            None => ("message".to_owned(), line.to_owned()),
        })
        .collect()
}

/// The last event of a stream in every dialect (success or error).
fn is_terminal(event: Option<&str>, data: &str) -> bool {
    matches!(
        event,
        Some(
            "message_stop"
                | "error"
                | "response.completed"
                | "response.incomplete"
                | "response.failed"
        )
    ) || data.trim() == "[DONE]"
}

/// Feeds `data` as an event sequence (as `translate_stream` does: it stops at the first
/// error); no event may follow a terminal one.
fn drive<T: StreamTranslator>(mut translator: T, data: &[u8]) {
    let mut out = Vec::new();
    let mut failed = false;
    for (name, payload) in events(data) {
        match translator.on_event(&name, &payload) {
            Ok(events) => out.extend(events),
            Err(_) => {
                failed = true;
                break;
            }
        }
    }
    if !failed {
        if let Ok(events) = translator.finish() {
            out.extend(events);
        }
    }
    for e in &out {
        if e.data.trim() == "[DONE]" {
            continue;
        }
        let Ok(data) = serde_json::from_str::<Value>(&e.data) else {
            panic!(
                "an event whose data is not JSON: {:?} {:?}",
                e.event, e.data
            );
        };
        // Named events (Anthropic, Responses) carry their name as `type` too.
        if let (Some(name), Some(kind)) = (e.event.as_deref(), data["type"].as_str()) {
            assert_eq!(name, kind, "event name and `type` differ: {}", e.data);
        }
    }
    if let Some(end) = out
        .iter()
        .position(|e| is_terminal(e.event.as_deref(), &e.data))
    {
        let after: Vec<_> = out[end + 1..]
            .iter()
            .map(|e| (e.event.clone(), e.data.clone()))
            .collect();
        assert!(after.is_empty(), "events after the terminal one: {after:?}");
    }
}

pub fn stream_anthropic_to_openai(data: &[u8]) {
    drive(anthropic::ToOpenAiStream::new("fuzz", true), data);
}

pub fn stream_openai_to_anthropic(data: &[u8]) {
    drive(anthropic::FromOpenAiStream::new("fuzz", 10), data);
}

pub fn stream_gemini_to_openai(data: &[u8]) {
    drive(gemini::ToOpenAiStream::new("fuzz", true), data);
}

pub fn stream_chat_to_responses(data: &[u8]) {
    let context = responses::ResponseContext::new(&responses::ResponsesRequest::default());
    drive(responses::ToResponsesStream::new(context), data);
}

/// The guard's header handling, on a config with one client token and one extra host: never
/// panics; a foreign `Host` is refused; a model call is let through only with the token.
pub fn guard_headers(data: &[u8]) {
    static CONFIG: std::sync::OnceLock<Config> = std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let text = format!(
            "[server]\nallowed_hosts = [\"gateway.internal\"]\n\
             [tokens.ci]\nhash = \"sha256:{}\"\n\
             [providers.demo]\nkind = \"demo\"\n[aliases.demo]\ntargets = [\"demo/m\"]\n",
            switchboard_gateway::hash_token(GUARD_TOKEN)
        );
        match Config::parse(&text, "fuzz") {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    });
    // Line 1: method and path; then `name: value` header lines.
    let mut lines = data.split(|b| *b == b'\n');
    let first = lines.next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    let (method, uri) = first.split_once(' ').unwrap_or(("POST", &first));
    let headers: Vec<(&[u8], &[u8])> = lines
        .filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let value = &line[colon + 1..];
            let value = value.strip_prefix(b" ").unwrap_or(value);
            Some((&line[..colon], value))
        })
        .collect();
    let verdict = switchboard_gateway::guard_verdict(config, method, uri, &headers);
    let host_ok = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(b"host"))
        .map(|(_, v)| String::from_utf8_lossy(v).to_ascii_lowercase())
        .next()
        .is_some_and(|h| {
            let name = h.rsplit_once(':').map_or(h.as_str(), |(n, _)| n);
            matches!(
                name,
                "localhost" | "127.0.0.1" | "[::1]" | "gateway.internal"
            )
        });
    if let Ok(identity) = &verdict {
        assert!(
            host_ok,
            "a request with a foreign Host was let through: {headers:?}"
        );
        let token_sent = headers.iter().any(|(n, v)| {
            (n.eq_ignore_ascii_case(b"authorization") || n.eq_ignore_ascii_case(b"x-api-key"))
                && v.windows(GUARD_TOKEN.len())
                    .any(|w| w == GUARD_TOKEN.as_bytes())
        });
        if identity.is_some() {
            assert!(token_sent, "an identity without the token: {headers:?}");
        }
        let path = uri.split('?').next().unwrap_or("");
        if path.starts_with("/v1/") && method != "OPTIONS" {
            assert!(
                identity.is_some(),
                "a model call without a token went on: {headers:?}"
            );
        }
    }
}

const GUARD_TOKEN: &str = "sb-fuzz-token-0123456789";
