//! Why a call to a backend failed, and the secret-free form of a backend's error text. Shared by
//! the adapters (which produce these errors) and translation (which reads error events).

use axum::http::StatusCode;

/// Why a call to a backend failed. Mapped to the client-facing `ApiError` by `into_api_error`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum UpstreamError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("timed out waiting for {0}")]
    Timeout(TimeoutPhase),
    #[error("answered {status}: {message}")]
    Status {
        status: StatusCode,
        message: String,
        retry_after_ms: Option<u64>,
    },
    #[error("sent a response Switchboard could not read: {0}")]
    Protocol(String),
    #[error("its key is unavailable: {0}")]
    Secret(String),
    #[error("does not support {0}")]
    Unsupported(&'static str),
    /// The request cannot be expressed in the provider's format (an audio part for Anthropic, ...).
    #[error("cannot take this request: {0}")]
    Untranslatable(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeoutPhase {
    FirstByte,
    Idle,
    Total,
}

impl std::fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutPhase::FirstByte => "the first byte (first_byte_s)",
            TimeoutPhase::Idle => "the next stream chunk (idle_s)",
            TimeoutPhase::Total => "the whole response (total_s)",
        })
    }
}

impl UpstreamError {
    /// Worth trying another target: the backend is down, slow or overloaded, not the request bad.
    pub fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Connect(_) | UpstreamError::Timeout(_) => true,
            UpstreamError::Status { status, .. } => {
                status.is_server_error() || *status == StatusCode::TOO_MANY_REQUESTS
            }
            UpstreamError::Protocol(_) | UpstreamError::Secret(_) => true,
            UpstreamError::Unsupported(_) | UpstreamError::Untranslatable(_) => false,
        }
    }

    /// Not transient: a key without access, an unknown model, quota or billing. Routing marks
    /// the target `misconfigured` instead of cooling it down.
    pub fn is_misconfiguration(&self) -> bool {
        match self {
            UpstreamError::Secret(_) => true,
            UpstreamError::Status {
                status, message, ..
            } => {
                let lower = message.to_ascii_lowercase();
                matches!(status.as_u16(), 401..=403)
                    || (status.as_u16() == 404 && lower.contains("model"))
                    || (status.as_u16() == 429
                        && ["quota", "billing", "credit"]
                            .iter()
                            .any(|w| lower.contains(w)))
            }
            _ => false,
        }
    }
}

/// A short, single-line, secret-free version of an upstream error text.
pub fn sanitize_upstream_message(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        let looks_secret = word.starts_with("sk-")
            || word.starts_with("Bearer")
            || (word.len() >= 32
                && word
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(if looks_secret { "[redacted]" } else { word });
        if out.len() > 300 {
            // Cut on a character boundary (`truncate` panics inside a multi-byte character).
            let cut = (0..=300)
                .rev()
                .find(|i| out.is_char_boundary(*i))
                .unwrap_or(0);
            out.truncate(cut);
            out.push('…');
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_truncates_multi_byte_text_without_panicking() {
        let text = format!("a{}", "é".repeat(400));
        let s = sanitize_upstream_message(&text);
        assert!(s.ends_with('…') && s.len() <= 303, "{}", s.len());
    }

    #[test]
    fn sanitize_redacts_keys_and_truncates() {
        let s =
            sanitize_upstream_message("Incorrect API key provided: sk-abc123.\n  Find yours at x");
        assert_eq!(s, "Incorrect API key provided: [redacted] Find yours at x");
        assert!(
            sanitize_upstream_message(&"word ".repeat(200))
                .chars()
                .count()
                <= 301
        );
    }
}
