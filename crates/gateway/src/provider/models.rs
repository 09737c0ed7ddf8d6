//! A backend's own model list (`GET .../models`), parsed from each API's shape, for the
//! dashboard's model pickers and "create aliases from these".

use std::time::{Duration, Instant};

use serde_json::Value;

use super::http;
use crate::config::Timeouts;

/// One model the backend lists, with the prompt window when it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelEntry {
    pub id: String,
    pub max_input_tokens: Option<u64>,
}

/// Sends a models request built by the adapter and reads the whole answer; a refusal becomes
/// the adapter's usual error text (via `refused`).
pub(super) async fn fetch<F, Fut>(
    builder: http::RequestBuilder<'_>,
    timeout: Duration,
    refused: F,
) -> Result<Vec<u8>, String>
where
    F: FnOnce(http::Response) -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let started = Instant::now();
    let response = match builder.timeout(timeout).send().await {
        Ok(response) if response.status().is_success() => response,
        Ok(response) => return Err(refused(response).await),
        Err(e) => return Err(e.to_string()),
    };
    let timeouts = Timeouts {
        total: timeout,
        ..Timeouts::default()
    };
    http::read_body(response, &timeouts, started)
        .await
        .map(|b| b.to_vec())
        .map_err(|e| e.to_string())
}

/// The window fields OpenAI-compatible servers add to `/v1/models` entries: vLLM's
/// `max_model_len`, LM Studio's and others' `context_length`, llama.cpp's `meta.n_ctx_train`.
fn openai_window(model: &Value) -> Option<u64> {
    [
        "/max_input_tokens",
        "/max_model_len",
        "/context_length",
        "/context_window",
        "/max_context_length",
        "/meta/n_ctx_train",
        "/capabilities/limits/max_prompt_tokens",
        "/capabilities/limits/max_context_window_tokens",
    ]
    .iter()
    .find_map(|p| model.pointer(p).and_then(Value::as_u64))
}

/// `{"data": [{"id": ...}]}`: OpenAI, OpenAI-compatible servers, Anthropic, Copilot.
pub(super) fn parse_data_list(body: &[u8]) -> Result<Vec<ModelEntry>, String> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|e| format!("the models list is not JSON: {e}"))?;
    let data = answer
        .get("data")
        .and_then(Value::as_array)
        .ok_or("the models list has no `data` array")?;
    Ok(sorted(data.iter().filter_map(|m| {
        Some(ModelEntry {
            id: m.get("id")?.as_str()?.to_owned(),
            max_input_tokens: openai_window(m),
        })
    })))
}

/// Gemini's `{"models": [{"name": "models/gemini-2.5-pro", "inputTokenLimit": ...}]}`.
pub(super) fn parse_gemini_list(body: &[u8]) -> Result<Vec<ModelEntry>, String> {
    let answer: Value =
        serde_json::from_slice(body).map_err(|e| format!("the models list is not JSON: {e}"))?;
    let models = answer
        .get("models")
        .and_then(Value::as_array)
        .ok_or("the models list has no `models` array")?;
    Ok(sorted(models.iter().filter_map(|m| {
        let name = m.get("name")?.as_str()?;
        Some(ModelEntry {
            id: name.strip_prefix("models/").unwrap_or(name).to_owned(),
            max_input_tokens: m.get("inputTokenLimit").and_then(Value::as_u64),
        })
    })))
}

fn sorted(models: impl Iterator<Item = ModelEntry>) -> Vec<ModelEntry> {
    let mut out: Vec<ModelEntry> = models.collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out.dedup_by(|a, b| a.id == b.id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_read_from_each_servers_field() {
        let body = br#"{"data": [
            {"id": "b-vllm", "max_model_len": 32768},
            {"id": "a-llamacpp", "meta": {"n_ctx_train": 8192}},
            {"id": "c-plain"},
            {"id": "d-copilot", "capabilities": {"limits": {"max_prompt_tokens": 128000}}}
        ]}"#;
        let models = parse_data_list(body).unwrap_or_default();
        let got: Vec<(&str, Option<u64>)> = models
            .iter()
            .map(|m| (m.id.as_str(), m.max_input_tokens))
            .collect();
        assert_eq!(
            got,
            [
                ("a-llamacpp", Some(8192)),
                ("b-vllm", Some(32768)),
                ("c-plain", None),
                ("d-copilot", Some(128000))
            ]
        );
        assert!(parse_data_list(b"{}").is_err());
        assert!(parse_data_list(b"<html>").is_err());
    }

    #[test]
    fn gemini_names_lose_their_prefix() {
        let body =
            br#"{"models": [{"name": "models/gemini-2.5-pro", "inputTokenLimit": 1048576}]}"#;
        let models = parse_gemini_list(body).unwrap_or_default();
        assert_eq!(
            models,
            [ModelEntry {
                id: "gemini-2.5-pro".into(),
                max_input_tokens: Some(1048576)
            }]
        );
    }
}
