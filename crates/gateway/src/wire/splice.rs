//! Rewriting a client's JSON body in its raw bytes: the target's `model` (and the usage request
//! of a stream) spliced in, everything else sent as the client wrote it. The chat passthrough
//! uses this instead of cloning the parsed body per attempt and serializing it again.
//!
//! The input is always a body `serde_json` already parsed as an object, so the scanner only
//! has to find member boundaries, not validate. Where it cannot be sure what `serde_json` saw
//! (a top-level key written with escapes, a repeated `model`), it answers `None` and the caller
//! serializes the parsed body as before.

use std::ops::Range;

/// The top-level members of `json`: `(key, value span)`, or `None` if a key has escapes.
fn members(json: &[u8]) -> Option<Vec<(&[u8], Range<usize>)>> {
    let mut at = skip_ws(json, 0);
    if json.get(at) != Some(&b'{') {
        return None;
    }
    at += 1;
    let mut out = Vec::with_capacity(8);
    loop {
        at = skip_ws(json, at);
        match json.get(at)? {
            b'}' => return Some(out),
            b',' => {
                at += 1;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = string_end(json, at)?;
        let key = &json[at + 1..key_end - 1];
        if key.contains(&b'\\') {
            return None;
        }
        at = skip_ws(json, key_end);
        if json.get(at) != Some(&b':') {
            return None;
        }
        let start = skip_ws(json, at + 1);
        let end = value_end(json, start)?;
        out.push((key, start..end));
        at = end;
    }
}

fn skip_ws(json: &[u8], mut at: usize) -> usize {
    while matches!(json.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// `at` is on a `"`: the index just past the closing quote.
fn string_end(json: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match json.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// The index just past the value starting at `at`.
fn value_end(json: &[u8], at: usize) -> Option<usize> {
    match json.get(at)? {
        b'"' => string_end(json, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match json.get(i)? {
                    b'"' => {
                        i = string_end(json, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while !matches!(
                json.get(i),
                None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
            ) {
                i += 1;
            }
            Some(i)
        }
    }
}

/// `json` with its top-level `model` set to `model`, and (`include_usage`) with
/// `"stream_options":{"include_usage":true}` added when it has no `stream_options`.
/// `None`: not sure of the body's members; serialize the parsed body instead.
pub fn with_model(json: &[u8], model: &str, include_usage: bool) -> Option<Vec<u8>> {
    let members = members(json)?;
    let mut spans = members.iter().filter(|(k, _)| *k == b"model");
    let span = spans.next()?.1.clone();
    if spans.next().is_some() {
        return None;
    }
    let add_usage = include_usage && !members.iter().any(|(k, _)| *k == b"stream_options");
    if include_usage && !add_usage {
        return None;
    }
    let model_json = serde_json::to_string(model).ok()?;
    let usage: &[u8] = if add_usage {
        br#""stream_options":{"include_usage":true},"#
    } else {
        b""
    };
    let open = json.iter().position(|b| *b == b'{')? + 1;
    let mut out = Vec::with_capacity(json.len() + model_json.len() + usage.len());
    out.extend_from_slice(&json[..open]);
    out.extend_from_slice(usage);
    out.extend_from_slice(&json[open..span.start]);
    out.extend_from_slice(model_json.as_bytes());
    out.extend_from_slice(&json[span.end..]);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn spliced(body: &str, model: &str, usage: bool) -> Option<Value> {
        with_model(body.as_bytes(), model, usage)
            .map(|b| serde_json::from_slice(&b).expect("spliced body is JSON"))
    }

    #[test]
    fn the_model_is_replaced_and_everything_else_kept_as_written() {
        let body = r#"{"messages":[{"role":"user","content":"say \"model\": {x}"}],"model":"bench","max_tokens":5}"#;
        let out = with_model(body.as_bytes(), "gpt-4o", false).expect("splices");
        assert_eq!(
            String::from_utf8(out).expect("utf-8"),
            r#"{"messages":[{"role":"user","content":"say \"model\": {x}"}],"model":"gpt-4o","max_tokens":5}"#
        );
    }

    #[test]
    fn odd_but_valid_layouts_and_values_splice_correctly() {
        let cases = [
            " {\n \"model\" :\t\"a\" , \"n\": -1.5e3, \"t\": true, \"z\": null, \"o\": {\"model\": \"inner\"} }\n",
            r#"{"o":{"a":[1,{"b":"}]"}]},"model":"a"}"#,
            r#"{"model":"a\\"}"#,
            r#"{"model":"a\u0041"}"#,
            r#"{"model":7}"#,
        ];
        for body in cases {
            let mut want: Value = serde_json::from_str(body).expect("case is JSON");
            want["model"] = json!("claude \"x\"");
            assert_eq!(spliced(body, "claude \"x\"", false), Some(want), "{body}");
        }
    }

    #[test]
    fn a_stream_gets_the_usage_request_unless_it_chose_stream_options_itself() {
        let body = r#"{"model":"a","stream":true}"#;
        assert_eq!(
            spliced(body, "b", true),
            Some(json!({"model":"b","stream":true,"stream_options":{"include_usage":true}}))
        );
        let own = r#"{"model":"a","stream":true,"stream_options":{}}"#;
        assert_eq!(spliced(own, "b", true), None);
    }

    #[test]
    fn unsure_bodies_fall_back_to_serializing() {
        // An escaped key could spell `model`; a repeated key is read last-wins by serde_json.
        assert_eq!(spliced(r#"{"mod\u0065l":"a"}"#, "b", false), None);
        assert_eq!(spliced(r#"{"model":"a","model":"c"}"#, "b", false), None);
        assert_eq!(spliced(r#"{"messages":[]}"#, "b", false), None);
        assert_eq!(spliced(r#"[1]"#, "b", false), None);
    }
}
