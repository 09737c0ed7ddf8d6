//! The wire types translation and the provider adapters both use: server-sent events and their
//! parser, token usage, upstream errors and sanitizing their text. A leaf: it uses nothing else
//! in the crate and does no I/O, so `translate` can depend on it and stay pure.

mod error;
mod estimate;
pub mod splice;
mod sse;
mod usage;

pub use error::{sanitize_upstream_message, TimeoutPhase, UpstreamError};
pub use estimate::estimate_input_tokens;
pub use sse::{is_json_object_shaped, parse_sse, EventStream, SseEvent, SseParser};
pub use usage::Usage;
