//! Translation between OpenAI's wire format (the gateway's internal shape) and other providers'
//! dialects. Pure functions over typed request/response structs, and incremental state machines
//! for streams: no network, no I/O, so every translation is testable from recorded payloads.
//!
//! - `openai`: the internal shape, typed.
//! - `anthropic`: Anthropic's Messages API, both ways (provider and ingress).
//! - `gemini`: Google's Gemini `generateContent` API.
//! - `responses`: OpenAI's Responses API, for the `/v1/responses` ingress.
//! - `shape`: request-shape checks before a body is translated (a clear 400 naming the field).

pub mod anthropic;
pub mod gemini;
pub mod openai;
pub mod responses;
pub mod shape;

use std::collections::VecDeque;

use futures::StreamExt;

use crate::wire::{EventStream, SseEvent, UpstreamError};

/// An incremental stream translation: fed one parsed SSE event at a time, it answers with the
/// events to send on (possibly none, possibly several).
pub trait StreamTranslator: Send + 'static {
    /// `event` is the SSE event name (`message` when the stream names none).
    fn on_event(&mut self, event: &str, data: &str) -> Result<Vec<SseEvent>, UpstreamError>;

    /// The upstream stream ended; whatever must close the translated stream.
    fn finish(&mut self) -> Result<Vec<SseEvent>, UpstreamError>;
}

/// Runs `events` through `translator`, event by event; ends after the first error.
pub fn translate_stream<T: StreamTranslator>(events: EventStream, translator: T) -> EventStream {
    struct State<T> {
        events: EventStream,
        translator: T,
        pending: VecDeque<Result<SseEvent, UpstreamError>>,
        ended: bool,
    }
    let state = State {
        events,
        translator,
        pending: VecDeque::new(),
        ended: false,
    };
    Box::pin(futures::stream::unfold(state, |mut state| async move {
        loop {
            if let Some(item) = state.pending.pop_front() {
                if item.is_err() {
                    state.pending.clear();
                    state.ended = true;
                }
                return Some((item, state));
            }
            if state.ended {
                return None;
            }
            match state.events.next().await {
                Some(Ok(event)) => {
                    let name = event.event.as_deref().unwrap_or("message");
                    match state.translator.on_event(name, &event.data) {
                        Ok(out) => state.pending.extend(out.into_iter().map(Ok)),
                        Err(e) => state.pending.push_back(Err(e)),
                    }
                }
                Some(Err(e)) => state.pending.push_back(Err(e)),
                None => {
                    state.ended = true;
                    match state.translator.finish() {
                        Ok(out) => state.pending.extend(out.into_iter().map(Ok)),
                        Err(e) => state.pending.push_back(Err(e)),
                    }
                }
            }
        }
    }))
}

/// Seconds since the Unix epoch, for `created`.
/// A request whose every turn the translation dropped (system prompts moved to the backend's
/// system field, empty turns and blocks the target has no place for left out): a 400, not an
/// upstream call with no messages.
pub(crate) const NO_TURN_LEFT: &str = "`messages` has no user or assistant turn with content \
     once system and developer messages become the system prompt and empty turns are dropped";

pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Splits a `data:` URL into (media type, base64 payload).
pub(crate) fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type.to_owned(), data.to_owned()))
}

/// A media type guessed from a URL's extension, for providers that want one with a URL.
pub(crate) fn guess_media_type(url: &str) -> &'static str {
    let path = url
        .split(['?', '#'])
        .next()
        .unwrap_or(url)
        .to_ascii_lowercase();
    if path.ends_with(".png") {
        "image/png"
    } else if path.ends_with(".gif") {
        "image/gif"
    } else if path.ends_with(".webp") {
        "image/webp"
    } else if path.ends_with(".pdf") {
        "application/pdf"
    } else {
        "image/jpeg"
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Feeding recorded SSE bytes through the production parser in awkward pieces.

    use bytes::Bytes;

    use super::*;
    use crate::wire::parse_sse;

    /// Splits `raw` into pieces of 1..=7 bytes (a fixed pseudo-random pattern, so failures
    /// reproduce), cutting through lines, field names and multi-byte characters alike.
    pub fn awkward_chunks(raw: &[u8], seed: u64) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut at = 0;
        while at < raw.len() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let len = 1 + ((state >> 33) % 7) as usize;
            let end = (at + len).min(raw.len());
            out.push(Bytes::copy_from_slice(&raw[at..end]));
            at = end;
        }
        out
    }

    /// Runs raw SSE bytes, split awkwardly, through the parser and `translator`.
    pub async fn run<T: StreamTranslator>(
        raw: &str,
        seed: u64,
        translator: T,
    ) -> Vec<Result<SseEvent, UpstreamError>> {
        let chunks = awkward_chunks(raw.as_bytes(), seed);
        let bytes = futures::stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
        translate_stream(parse_sse(bytes), translator)
            .collect()
            .await
    }
}
