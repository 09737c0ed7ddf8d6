//! `[telemetry]`: OpenTelemetry trace export over OTLP/HTTP (off by default).

use super::super::diagnostics::{Diagnostic, Locator, Seg};
use super::super::raw::RawTelemetry;
use crate::secret::SecretRef;

/// The OTLP/HTTP collector a local Jaeger, Phoenix or OpenTelemetry Collector listens on.
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://127.0.0.1:4318/v1/traces";

/// A header sent with every export: its value, or where to read it (never logged).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValueSource {
    Plain(String),
    Secret(SecretRef),
}

#[derive(Debug, Clone, PartialEq)]
pub struct TelemetrySettings {
    pub enabled: bool,
    pub endpoint: String,
    pub headers: Vec<(String, HeaderValueSource)>,
    pub service_name: String,
    /// Share of traces started here that are recorded (a sampled incoming `traceparent` is
    /// always followed).
    pub sample_ratio: f64,
    /// Prompts and answers as span attributes (`gen_ai.input.messages`, ...).
    pub capture_content: bool,
}

impl Default for TelemetrySettings {
    fn default() -> Self {
        TelemetrySettings {
            enabled: false,
            endpoint: DEFAULT_OTLP_ENDPOINT.to_owned(),
            headers: Vec::new(),
            service_name: "switchboard".to_owned(),
            sample_ratio: 1.0,
            capture_content: false,
        }
    }
}

pub(crate) fn build(
    raw: &RawTelemetry,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> TelemetrySettings {
    let mut settings = TelemetrySettings::default();
    let at = |key: &'static str| [Seg::Key("telemetry"), Seg::Key(key)];
    settings.enabled = raw.enabled.unwrap_or(false);
    settings.capture_content = raw.capture_content.unwrap_or(false);
    if let Some(endpoint) = &raw.endpoint {
        let ok = url::Url::parse(endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
        if ok.is_some() {
            settings.endpoint = endpoint.clone();
        } else {
            errors.push(loc.at(
                &at("endpoint"),
                format!("{endpoint:?} is not an OTLP/HTTP URL; write it like \"{DEFAULT_OTLP_ENDPOINT}\""),
            ));
        }
    }
    if let Some(name) = &raw.service_name {
        if name.trim().is_empty() {
            errors.push(loc.at(&at("service_name"), "`service_name` must not be empty"));
        } else {
            settings.service_name = name.clone();
        }
    }
    if let Some(ratio) = raw.sample_ratio {
        if (0.0..=1.0).contains(&ratio) {
            settings.sample_ratio = ratio;
        } else {
            errors.push(loc.at(
                &at("sample_ratio"),
                format!("`sample_ratio` is a share between 0 and 1, not {ratio}"),
            ));
        }
    }
    for (name, value) in &raw.headers {
        let path = [Seg::Key("telemetry"), Seg::Key("headers"), Seg::Key(name)];
        if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
            errors.push(loc.at_key(&path, format!("`{name}` is not a valid HTTP header name")));
            continue;
        }
        let source = if ["env:", "keychain:", "file:"]
            .iter()
            .any(|p| value.starts_with(p))
        {
            match SecretRef::parse(value) {
                Ok(reference) => HeaderValueSource::Secret(reference),
                Err(message) => {
                    errors.push(loc.at(&path, message.replace("api_key", "the header")));
                    continue;
                }
            }
        } else if http::HeaderValue::from_str(value).is_err() {
            errors.push(loc.at(
                &path,
                format!("the value of header `{name}` is not a valid HTTP header value"),
            ));
            continue;
        } else {
            HeaderValueSource::Plain(value.clone())
        };
        settings.headers.push((name.clone(), source));
    }
    settings
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, HeaderValueSource};
    use crate::secret::SecretRef;

    #[test]
    fn off_by_default_with_the_local_collector() {
        let config = Config::parse("", "t").unwrap();
        assert!(!config.telemetry.enabled);
        assert_eq!(config.telemetry.endpoint, "http://127.0.0.1:4318/v1/traces");
        assert_eq!(config.telemetry.sample_ratio, 1.0);
        assert!(!config.telemetry.capture_content);
    }

    #[test]
    fn reads_every_key_and_secret_headers() {
        let text = r#"
[telemetry]
enabled = true
endpoint = "https://otlp.example.com/v1/traces"
service_name = "hub"
sample_ratio = 0.25
capture_content = true
headers = { "x-team" = "ml", "authorization" = "env:OTLP_AUTH" }
"#;
        let t = Config::parse(text, "t").unwrap().telemetry;
        assert!(t.enabled && t.capture_content);
        assert_eq!(t.endpoint, "https://otlp.example.com/v1/traces");
        assert_eq!(t.service_name, "hub");
        assert_eq!(t.sample_ratio, 0.25);
        assert!(t.headers.contains(&(
            "authorization".into(),
            HeaderValueSource::Secret(SecretRef::Env("OTLP_AUTH".into()))
        )));
        assert!(t
            .headers
            .contains(&("x-team".into(), HeaderValueSource::Plain("ml".into()))));
    }

    #[test]
    fn bad_values_are_located() {
        let text = "[telemetry]\nendpoint = \"localhost:4318\"\nsample_ratio = 2.0\nheaders = { \"a b\" = \"x\", ok = \"env:\" }\nbogus = 1\n";
        let errors = Config::parse(text, "t").unwrap_err().to_string();
        assert!(errors.contains("bogus"), "{errors}");
        let text = "[telemetry]\nendpoint = \"localhost:4318\"\nsample_ratio = 2.0\nheaders = { \"a b\" = \"x\", ok = \"env:\" }\n";
        let errors = Config::parse(text, "t").unwrap_err().diagnostics;
        let lines: Vec<usize> = errors.iter().map(|d| d.line).collect();
        assert_eq!(lines, vec![2, 3, 4, 4], "{errors:?}");
    }
}
