//! OpenAI's Responses API (`POST /v1/responses`), for the Responses ingress: a request becomes a
//! chat completions request (`request_to_chat`), a chat completion becomes a Response
//! (`response_from_chat`) and a chat stream becomes the Responses event stream
//! (`ToResponsesStream`), in the order and shape the official SDKs and Codex CLI read.
//!
//! Wire types follow OpenAI's API reference (platform.openai.com/docs/api-reference/responses,
//! /responses-streaming) and the openai-python SDK's `types/responses`; the request mapping
//! follows LiteLLM's responses↔chat transformation. They are kept apart from the chat types in
//! `super::openai`.

mod request;
mod response;
mod stream;

pub use request::*;
pub use response::*;
pub use stream::*;

#[cfg(test)]
mod tests;
