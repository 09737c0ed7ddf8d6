//! Server-sent events: one event, a stream of them, and the parser that turns raw bytes into
//! events (the same parser in production and tests).
//!
//! The parser follows the WHATWG `EventSource` rules: lines end with CRLF, LF or CR; a leading
//! BOM is dropped; `:` starts a comment; one space after `field:` is dropped; `data:` lines join
//! with `\n`; a blank line dispatches; an event without data is not dispatched; an unfinished
//! event at the end of the stream is dropped. It works on the chunks as they arrive: a complete
//! line inside a chunk is read in place, only a line split across chunks is copied aside, and
//! each event's data costs one allocation.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;

use super::UpstreamError;

/// One server-sent event in OpenAI's stream format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn data(data: impl Into<String>) -> Self {
        SseEvent {
            event: None,
            data: data.into(),
        }
    }

    pub fn to_bytes(&self) -> Bytes {
        let mut out = Vec::with_capacity(self.data.len() + 16);
        self.write_to(&mut out);
        Bytes::from(out)
    }

    /// Appends the event's wire form to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        if let Some(event) = &self.event {
            out.extend_from_slice(b"event: ");
            out.extend_from_slice(event.as_bytes());
            out.push(b'\n');
        }
        for line in self.data.split('\n') {
            out.extend_from_slice(b"data: ");
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
        out.push(b'\n');
    }
}

pub type EventStream = Pin<Box<dyn Stream<Item = Result<SseEvent, UpstreamError>> + Send>>;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The incremental parser: feed it chunks split anywhere, take the events it completed.
#[derive(Debug, Default)]
pub struct SseParser {
    /// The start of a line whose end has not arrived yet.
    partial: Vec<u8>,
    /// The data lines of the event being read, joined with `\n`.
    data: Vec<u8>,
    has_data: bool,
    event: Option<Vec<u8>>,
    /// The last chunk ended in CR: an LF starting the next one belongs to that line end.
    skip_lf: bool,
    /// The first bytes have been checked for a BOM.
    started: bool,
}

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads one chunk, calling `emit` with each event it completes (or a UTF-8 error).
    pub fn feed(&mut self, chunk: &[u8], emit: &mut impl FnMut(Result<SseEvent, UpstreamError>)) {
        if !self.started {
            // A BOM may itself be split across chunks: hold the first bytes until it is decided.
            let mut head = std::mem::take(&mut self.partial);
            head.extend_from_slice(chunk);
            if head.len() < BOM.len() && BOM.starts_with(&head) {
                self.partial = head;
                return;
            }
            self.started = true;
            let body = head.strip_prefix(BOM).unwrap_or(&head);
            self.lines(body, emit);
            return;
        }
        self.lines(chunk, emit);
    }

    fn lines(&mut self, mut rest: &[u8], emit: &mut impl FnMut(Result<SseEvent, UpstreamError>)) {
        if self.skip_lf && !rest.is_empty() {
            self.skip_lf = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(at) = memchr::memchr2(b'\n', b'\r', rest) {
            if self.partial.is_empty() {
                self.line(&rest[..at], emit);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..at]);
                self.line(&line, emit);
                line.clear();
                self.partial = line;
            }
            let mut next = at + 1;
            if rest[at] == b'\r' {
                match rest.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.skip_lf = true,
                }
            }
            rest = &rest[next..];
        }
        self.partial.extend_from_slice(rest);
    }

    fn line(&mut self, line: &[u8], emit: &mut impl FnMut(Result<SseEvent, UpstreamError>)) {
        if line.is_empty() {
            if let Some(event) = self.dispatch() {
                emit(event);
            }
            return;
        }
        let (field, value) = match memchr::memchr(b':', line) {
            Some(0) => return, // a comment
            Some(at) => {
                let value = &line[at + 1..];
                (&line[..at], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &[][..]),
        };
        match field {
            b"data" => {
                if self.has_data {
                    self.data.push(b'\n');
                    self.data.extend_from_slice(value);
                } else {
                    // The common one-line event: one allocation of the right size.
                    self.data = value.to_vec();
                    self.has_data = true;
                }
            }
            b"event" => self.event = Some(value.to_vec()),
            // `id` and `retry` matter to a reconnecting browser, not to a proxy that forwards
            // one response: read and dropped, like unknown fields.
            _ => {}
        }
    }

    fn dispatch(&mut self) -> Option<Result<SseEvent, UpstreamError>> {
        let event = self.event.take();
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        let data = std::mem::take(&mut self.data);
        let event = event.filter(|e| !e.is_empty() && e != b"message");
        if data.is_empty() && event.is_none() {
            return None;
        }
        let text = |bytes: Vec<u8>| {
            String::from_utf8(bytes).map_err(|e| {
                UpstreamError::Protocol(format!("stream broke: not UTF-8 ({})", e.utf8_error()))
            })
        };
        Some((|| {
            Ok(SseEvent {
                event: event.map(text).transpose()?,
                data: text(data)?,
            })
        })())
    }
}

/// Whether `data` has the shape of one JSON object: `{`…`}` with brackets that match outside
/// strings, strings closed, escapes complete and no raw control characters but whitespace. Numbers
/// and literals are not checked: it catches what upstreams send by mistake (HTML, plain text,
/// a cut-off object, two objects in one event) at a fraction of a JSON parse per chunk; a
/// translator still parses what it translates.
pub fn is_json_object_shaped(data: &str) -> bool {
    let data = data.trim_ascii().as_bytes();
    if data.first() != Some(&b'{') || data.last() != Some(&b'}') {
        return false;
    }
    // Raw control characters are never valid JSON, except whitespace between tokens (a raw
    // tab or line end inside a string is let through: the one gap of this check).
    if data
        .iter()
        .any(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
    {
        return false;
    }
    // The open brackets as a bit stack (1 = `{`); deeper than 128 goes to the real parser.
    let (mut stack, mut depth) = (0u128, 0u32);
    let mut at = 0;
    while at < data.len() {
        match data[at] {
            b'"' => {
                // Jump from quote or backslash to the next: string content is most of a chunk.
                at += 1;
                loop {
                    match memchr::memchr2(b'"', b'\\', &data[at..]) {
                        None => return false,
                        Some(skip) if data[at + skip] == b'"' => {
                            at += skip;
                            break;
                        }
                        Some(skip) => at += skip + 2,
                    }
                    if at >= data.len() {
                        return false;
                    }
                }
            }
            open @ (b'{' | b'[') => {
                if depth == 128 {
                    return serde_json::from_slice::<serde::de::IgnoredAny>(data).is_ok();
                }
                stack = (stack << 1) | u128::from(open == b'{');
                depth += 1;
            }
            close @ (b'}' | b']') => {
                if depth == 0 || (stack & 1 == 1) != (close == b'}') {
                    return false;
                }
                stack >>= 1;
                depth -= 1;
                // The first object closes only at the very end.
                if depth == 0 && at + 1 != data.len() {
                    return false;
                }
            }
            _ => {}
        }
        at += 1;
    }
    depth == 0
}

/// Parses raw SSE bytes (as they come off the wire, split anywhere) into events, with the same
/// parser the providers use.
pub fn parse_sse<S, E>(bytes: S) -> EventStream
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    Box::pin(SseStream {
        inner: Box::pin(bytes),
        parser: SseParser::new(),
        ready: std::collections::VecDeque::new(),
        ended: false,
    })
}

struct SseStream<S> {
    inner: Pin<Box<S>>,
    parser: SseParser,
    /// Events of the last chunk not yet taken (a chunk often completes more than one).
    ready: std::collections::VecDeque<Result<SseEvent, UpstreamError>>,
    ended: bool,
}

impl<S, E> Stream for SseStream<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    type Item = Result<SseEvent, UpstreamError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if let Some(item) = this.ready.pop_front() {
                if item.is_err() {
                    // Nothing after broken bytes can be trusted.
                    this.ended = true;
                    this.ready.clear();
                }
                return Poll::Ready(Some(item));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Err(e))) => {
                    this.ended = true;
                    let error = UpstreamError::Protocol(format!("stream broke: {e}"));
                    return Poll::Ready(Some(Err(error)));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    let ready = &mut this.ready;
                    this.parser.feed(&chunk, &mut |item| ready.push_back(item));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    #[test]
    fn sse_event_serializes_multiline_data() {
        let e = SseEvent {
            event: Some("x".into()),
            data: "a\nb".into(),
        };
        assert_eq!(&e.to_bytes()[..], b"event: x\ndata: a\ndata: b\n\n");
    }

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<Result<(Option<String>, String), String>> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut |item| {
                out.push(item.map(|e| (e.event, e.data)).map_err(|e| e.to_string()))
            });
        }
        out
    }

    fn parse(bytes: &[u8]) -> Vec<(Option<String>, String)> {
        parse_chunks(&[bytes])
            .into_iter()
            .map(|r| r.unwrap())
            .collect()
    }

    fn ev(event: Option<&str>, data: &str) -> (Option<String>, String) {
        (event.map(str::to_string), data.to_string())
    }

    #[test]
    fn sse_line_ends_crlf_cr_and_lf_all_end_lines() {
        let want = vec![ev(None, "a"), ev(Some("x"), "b\nc")];
        assert_eq!(parse(b"data: a\n\nevent: x\ndata: b\ndata: c\n\n"), want);
        assert_eq!(
            parse(b"data: a\r\n\r\nevent: x\r\ndata: b\r\ndata: c\r\n\r\n"),
            want
        );
        assert_eq!(parse(b"data: a\r\revent: x\rdata: b\rdata: c\r\r"), want);
        // Mixed, and a CR then LF split across chunks is one line end, not two.
        assert_eq!(
            parse_chunks(&[
                b"data: a\r",
                b"\n\r",
                b"\nevent: x\ndata: b\r",
                b"\ndata: c\r\n\n"
            ])
            .into_iter()
            .map(|r| r.unwrap())
            .collect::<Vec<_>>(),
            want
        );
    }

    #[test]
    fn sse_fields_follow_the_spec() {
        // Without the space, with two spaces (one is kept), a field with no colon, an empty
        // `data:`, comments, `id:`/`retry:`/unknown fields ignored.
        assert_eq!(
            parse(b": hello\ndata:x\ndata:  y\ndata\nid: 7\nretry: 100\nfoo: bar\n\n"),
            vec![ev(None, "x\n y\n")]
        );
        // `event: message` is the default type; an event with no data is not dispatched, and
        // its type does not leak into the next one.
        assert_eq!(
            parse(b"event: message\ndata: a\n\nevent: ping\n\ndata: b\n\n"),
            vec![ev(None, "a"), ev(None, "b")]
        );
        // A lone `data:` with no type is an empty message: dropped, as before.
        assert_eq!(parse(b"data:\n\n"), vec![]);
        assert_eq!(parse(b"event: e\ndata:\n\n"), vec![ev(Some("e"), "")]);
        // An unfinished event at the end is dropped.
        assert_eq!(parse(b"data: a\n\ndata: b\n"), vec![ev(None, "a")]);
    }

    #[test]
    fn sse_bom_is_dropped_even_when_split() {
        assert_eq!(parse(b"\xEF\xBB\xBFdata: a\n\n"), vec![ev(None, "a")]);
        let split = parse_chunks(&[b"\xEF", b"\xBB", b"\xBFdata: a\n\n"]);
        assert_eq!(split, vec![Ok(ev(None, "a"))]);
        // Only at the very start.
        assert_eq!(
            parse(b"data: a\n\n\xEF\xBB\xBFdata: b\n\n"),
            vec![ev(None, "a")]
        );
    }

    #[test]
    fn sse_events_do_not_depend_on_where_the_bytes_split() {
        let body: &[u8] = b"\xEF\xBB\xBF: c\r\nevent: a\r\ndata: {\"x\":\"\xC3\xA9\"}\r\n\r\ndata: 1\rdata: 2\r\rdata:3\n\ndata: [DONE]\n\n";
        let whole = parse_chunks(&[body]);
        assert_eq!(whole.len(), 4);
        for at in 0..=body.len() {
            assert_eq!(
                parse_chunks(&[&body[..at], &body[at..]]),
                whole,
                "split at {at}"
            );
        }
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(parse_chunks(&bytes), whole);
    }

    #[test]
    fn sse_invalid_utf8_is_an_error_that_ends_the_stream() {
        let chunks = vec![
            Ok::<_, std::convert::Infallible>(Bytes::from_static(b"data: a\n\ndata: \xFF\n\n")),
            Ok(Bytes::from_static(b"data: b\n\n")),
        ];
        let items: Vec<_> =
            futures::executor::block_on(parse_sse(futures::stream::iter(chunks)).collect());
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap().data, "a");
        assert!(items[1].as_ref().unwrap_err().to_string().contains("UTF-8"));
    }

    #[test]
    fn json_object_shape_catches_what_is_not_one_object() {
        for ok in [
            "{}",
            " {\"a\":[1,{\"b\":\"}]\\\"\"}],\"c\":null} ",
            "{\"s\":\"\\\\\"}",
        ] {
            assert!(is_json_object_shaped(ok), "{ok}");
        }
        for bad in [
            "",
            "[DONE]",
            "<html>{}</html>",
            "{\"a\":1",
            "{\"a\":\"}",
            "{\"a\":[1}",
            "{\"a\":1}]",
            "{}{}",
            "{\"a\":\"x\u{1}y\"}",
            "{\"a\":\"\\\"}",
            "{\"a\":\"\\}",
        ] {
            assert!(!is_json_object_shaped(bad), "{bad}");
        }
        let deep = |n: usize| format!("{}{}", "{\"a\":[".repeat(n), "]}".repeat(n));
        assert!(is_json_object_shaped(&deep(60)));
        assert!(!is_json_object_shaped(&deep(60)[..deep(60).len() - 1]));
        // Deeper than the bit stack: the parser decides.
        assert!(is_json_object_shaped(&deep(100)));
        assert!(!is_json_object_shaped(&deep(100)[..deep(100).len() - 1]));
    }

    #[test]
    fn sse_transport_error_ends_the_stream() {
        let chunks = vec![
            Ok(Bytes::from_static(b"data: a\n\n")),
            Err("reset"),
            Ok(Bytes::from_static(b"data: b\n\n")),
        ];
        let items: Vec<_> =
            futures::executor::block_on(parse_sse(futures::stream::iter(chunks)).collect());
        assert_eq!(items.len(), 2);
        assert!(items[1].as_ref().unwrap_err().to_string().contains("reset"));
    }
}
