//! Optional body capture for the dashboard (`[database] capture_bodies`): the client's JSON body
//! and what it got back (the JSON answer, or the stream's events as sent), each capped at
//! `capture_max_kb`, with credential-like fields redacted. Stored beside the log row by the
//! writer (`request_bodies`), deleted with it. Headers are never captured.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CaptureMode {
    #[default]
    Off,
    /// Only requests that failed (status from 400 on, or a stream that failed).
    Errors,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaptureSettings {
    pub mode: CaptureMode,
    pub max_bytes: usize,
}

impl Default for CaptureSettings {
    fn default() -> Self {
        CaptureSettings {
            mode: CaptureMode::Off,
            max_bytes: 64 * 1024,
        }
    }
}

impl CaptureSettings {
    pub fn from_raw(mode: Option<&str>, max_kb: Option<u32>) -> Result<Self, String> {
        let mode = match mode {
            None | Some("off") => CaptureMode::Off,
            Some("errors") => CaptureMode::Errors,
            Some("all") => CaptureMode::All,
            Some(other) => {
                return Err(format!(
                    "`capture_bodies` is \"off\", \"errors\" or \"all\", not {other:?}"
                ))
            }
        };
        let max_bytes = match max_kb {
            None => 64 * 1024,
            Some(0) => return Err("`capture_max_kb` must be at least 1".into()),
            Some(kb) => kb as usize * 1024,
        };
        Ok(CaptureSettings { mode, max_bytes })
    }
}

/// What one request captured so far.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CapturedBodies {
    pub request: Option<String>,
    pub response: Option<String>,
    pub truncated: bool,
}

/// Collects one request's bodies while it runs.
#[derive(Debug)]
pub struct Capture {
    settings: CaptureSettings,
    bodies: CapturedBodies,
    response: Vec<u8>,
}

impl Capture {
    /// `None` when capture is off: nothing is copied on the request path.
    pub fn start(settings: CaptureSettings, request: &Map<String, Value>) -> Option<Box<Capture>> {
        if settings.mode == CaptureMode::Off {
            return None;
        }
        let mut redacted = Value::Object(request.clone());
        redact(&mut redacted);
        let mut capture = Capture {
            settings,
            bodies: CapturedBodies::default(),
            response: Vec::new(),
        };
        let text = redacted.to_string();
        capture.bodies.request = Some(capture.cap(text));
        Some(Box::new(capture))
    }

    fn cap(&mut self, mut text: String) -> String {
        if text.len() > self.settings.max_bytes {
            let mut end = self.settings.max_bytes;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
            self.bodies.truncated = true;
        }
        text
    }

    /// Appends response bytes (a whole JSON body, or one stream event), up to the cap.
    pub fn response(&mut self, bytes: &[u8]) {
        let room = self.settings.max_bytes.saturating_sub(self.response.len());
        if bytes.len() > room {
            self.bodies.truncated = true;
        }
        self.response
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The bodies to store, if this request's outcome is one the mode keeps.
    pub fn finish(mut self, failed: bool) -> Option<CapturedBodies> {
        if self.settings.mode == CaptureMode::Errors && !failed {
            return None;
        }
        if !self.response.is_empty() {
            let text = String::from_utf8_lossy(&self.response).into_owned();
            // A JSON answer is redacted like the request; a stream is kept as sent.
            self.bodies.response = Some(match serde_json::from_str::<Value>(&text) {
                Ok(mut value) => {
                    redact(&mut value);
                    value.to_string()
                }
                Err(_) => text,
            });
        }
        Some(self.bodies)
    }
}

/// Replaces the string values of credential-like keys (`api_key`, `authorization`, `password`,
/// `secret`, `*_token` but not token counts) anywhere in a JSON value.
pub fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if v.is_string() && is_secret_key(key) {
                    *v = Value::String("[redacted]".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase().replace('-', "_");
    key.ends_with("api_key")
        || key.ends_with("apikey")
        || key == "authorization"
        || key.ends_with("password")
        || key.ends_with("secret")
        || key == "token"
        || (key.ends_with("_token") && !key.ends_with("max_token"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn settings(mode: CaptureMode, max_bytes: usize) -> CaptureSettings {
        CaptureSettings { mode, max_bytes }
    }

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn modes_keep_what_they_say() {
        let request = body(json!({"model": "m"}));
        assert!(Capture::start(settings(CaptureMode::Off, 100), &request).is_none());
        let errors = Capture::start(settings(CaptureMode::Errors, 100), &request);
        assert_eq!(errors.map(|c| c.finish(false)), Some(None));
        let errors = Capture::start(settings(CaptureMode::Errors, 100), &request);
        assert!(errors.and_then(|c| c.finish(true)).is_some());
        let all = Capture::start(settings(CaptureMode::All, 100), &request);
        let kept = all.and_then(|c| c.finish(false));
        assert_eq!(
            kept.and_then(|b| b.request),
            Some(r#"{"model":"m"}"#.into())
        );
    }

    #[test]
    fn credentials_are_redacted_and_token_counts_kept() {
        let request = body(json!({
            "model": "m", "api_key": "sk-live-1", "max_tokens": 5, "max_completion_tokens": 7,
            "metadata": {"Authorization": "Bearer sk-x", "user_token": "t", "x-api-key": "k"},
            "messages": [{"role": "user", "content": "hi"}]
        }));
        let capture = Capture::start(settings(CaptureMode::All, 10_000), &request);
        let mut capture = capture
            .ok_or_else(|| "no capture".to_owned())
            .unwrap_or_else(|e| panic!("{e}"));
        capture.response(br#"{"id":"x","access_token":"at-1","usage":{"total_tokens":3}}"#);
        let bodies = capture.finish(false).unwrap_or_default();
        let request = bodies.request.unwrap_or_default();
        for secret in ["sk-live-1", "sk-x", "\"t\"", "\"k\""] {
            assert!(!request.contains(secret), "{secret} in {request}");
        }
        assert!(
            request.contains("\"max_tokens\":5") && request.contains("\"max_completion_tokens\":7")
        );
        let response = bodies.response.unwrap_or_default();
        assert!(!response.contains("at-1") && response.contains("\"total_tokens\":3"));
    }

    #[test]
    fn bodies_are_capped() {
        let request = body(json!({"content": "é".repeat(100)}));
        let capture = Capture::start(settings(CaptureMode::All, 33), &request);
        let mut capture = capture.unwrap_or_else(|| panic!("no capture"));
        capture.response(&[b'x'; 20]);
        capture.response(&[b'y'; 20]);
        let bodies = capture.finish(true).unwrap_or_default();
        assert!(bodies.truncated);
        assert!(bodies.request.unwrap_or_default().len() <= 33);
        assert_eq!(
            bodies.response.unwrap_or_default(),
            format!("{}{}", "x".repeat(20), "y".repeat(13))
        );
    }

    #[test]
    fn settings_are_checked() {
        assert_eq!(
            CaptureSettings::from_raw(None, None),
            Ok(CaptureSettings::default())
        );
        assert!(CaptureSettings::from_raw(Some("some"), None).is_err());
        assert!(CaptureSettings::from_raw(Some("all"), Some(0)).is_err());
        assert_eq!(
            CaptureSettings::from_raw(Some("errors"), Some(2)).map(|s| s.max_bytes),
            Ok(2048)
        );
    }
}
