//! Server-sent events: one event, a stream of them, and the parser that turns raw bytes into
//! events (the same parser in production and tests).

use std::pin::Pin;

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures::{Stream, StreamExt};

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
        let mut out = String::with_capacity(self.data.len() + 16);
        if let Some(event) = &self.event {
            out.push_str("event: ");
            out.push_str(event);
            out.push('\n');
        }
        for line in self.data.split('\n') {
            out.push_str("data: ");
            out.push_str(line);
            out.push('\n');
        }
        out.push('\n');
        Bytes::from(out)
    }
}

pub type EventStream = Pin<Box<dyn Stream<Item = Result<SseEvent, UpstreamError>> + Send>>;

/// Parses raw SSE bytes (as they come off the wire, split anywhere) into events, with the same
/// parser the providers use.
pub fn parse_sse<S, E>(bytes: S) -> EventStream
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display + Send + 'static,
{
    Box::pin(bytes.eventsource().filter_map(|item| async move {
        match item {
            Ok(event) if event.data.is_empty() && event.event == "message" => None,
            Ok(event) => Some(Ok(SseEvent {
                event: (event.event != "message").then_some(event.event),
                data: event.data,
            })),
            Err(e) => Some(Err(UpstreamError::Protocol(format!("stream broke: {e}")))),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_event_serializes_multiline_data() {
        let e = SseEvent {
            event: Some("x".into()),
            data: "a\nb".into(),
        };
        assert_eq!(&e.to_bytes()[..], b"event: x\ndata: a\ndata: b\n\n");
    }
}
