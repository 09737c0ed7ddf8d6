//! `[providers.NAME]`: the settings every kind shares, then each kind's own (`ProviderSettings`),
//! with a key that belongs to another kind reported as such.

use std::time::Duration;

use super::super::diagnostics::{closest, Diagnostic, Locator, Seg};
use super::super::raw::RawProvider;
use super::super::{
    AnthropicSettings, CopilotSettings, GeminiSettings, OpenAiSettings, ParamPolicy,
    ProviderConfig, ProviderKind, ProviderSettings, Timeouts,
};
use super::shared::{apply_timeouts, build_breaker, http_url, seconds};
use crate::secret::SecretRef;

/// Keys only some kinds take, with the kinds that take them.
const KIND_KEYS: [(&str, &[ProviderKind]); 6] = [
    (
        "base_url",
        &[
            ProviderKind::OpenAi,
            ProviderKind::Anthropic,
            ProviderKind::Gemini,
        ],
    ),
    (
        "api_key",
        &[
            ProviderKind::OpenAi,
            ProviderKind::Anthropic,
            ProviderKind::Gemini,
            ProviderKind::GithubCopilot,
        ],
    ),
    ("default_max_tokens", &[ProviderKind::Anthropic]),
    (
        "responses",
        &[ProviderKind::OpenAi, ProviderKind::GithubCopilot],
    ),
    ("github_url", &[ProviderKind::GithubCopilot]),
    ("api_url", &[ProviderKind::GithubCopilot]),
];

/// Checks one provider. With errors, the result still names the provider (so targets that
/// refer to it are not reported as well) and is never served.
pub(super) fn build_provider(
    name: &str,
    raw: &RawProvider,
    loc: &Locator,
    errors: &mut Vec<Diagnostic>,
) -> ProviderConfig {
    let path = [Seg::Key("providers"), Seg::Key(name)];
    let at = |key: &'static str| [path[0], path[1], Seg::Key(key)];
    if name.contains('/') {
        errors.push(loc.at_key(&path, format!("provider name `{name}` must not contain `/` (targets are written `provider/model`)")));
    }
    let kind = ProviderKind::parse(&raw.kind).unwrap_or_else(|| {
        let mut message = format!("unknown provider kind `{}`", raw.kind);
        match closest(&raw.kind, ProviderKind::NAMES) {
            Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
            None => message.push_str(&format!(
                "; expected one of: {}",
                ProviderKind::NAMES.join(", ")
            )),
        }
        errors.push(loc.at(&at("kind"), message));
        ProviderKind::OpenAi
    });
    let mut check = Check {
        name,
        kind,
        path,
        loc,
        errors,
    };
    check.foreign_keys(raw);
    let settings = match kind {
        ProviderKind::OpenAi => check.openai(raw),
        ProviderKind::Anthropic => check.anthropic(raw),
        ProviderKind::Gemini => check.gemini(raw),
        ProviderKind::GithubCopilot => check.copilot(raw),
        ProviderKind::Demo => ProviderSettings::Demo,
    };
    let errors = check.errors;

    let unsupported_params = match raw.unsupported_params.as_deref() {
        None => ParamPolicy::Drop,
        Some(text) => {
            if kind == ProviderKind::Demo {
                errors.push(loc.at_key(
                    &at("unsupported_params"),
                    "the demo provider takes no `unsupported_params`",
                ));
            }
            ParamPolicy::parse(text).unwrap_or_else(|| {
                let mut message = format!("unknown `unsupported_params` value `{text}`");
                match closest(text, ParamPolicy::NAMES) {
                    Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
                    None => message.push_str("; expected `drop` or `refuse`"),
                }
                errors.push(loc.at(&at("unsupported_params"), message));
                ParamPolicy::Drop
            })
        }
    };

    let mut headers = Vec::new();
    for (header, value) in &raw.headers {
        let header_path = [path[0], path[1], Seg::Key("headers"), Seg::Key(header)];
        let lower = header.to_ascii_lowercase();
        if matches!(
            lower.as_str(),
            "authorization" | "x-api-key" | "api-key" | "proxy-authorization"
        ) {
            errors.push(loc.at_key(&header_path, format!("header `{header}` carries a secret; put it in `api_key` as a reference instead")));
        } else if http::HeaderName::from_bytes(header.as_bytes()).is_err() {
            errors.push(loc.at_key(
                &header_path,
                format!("`{header}` is not a valid HTTP header name"),
            ));
        } else if http::HeaderValue::from_str(value).is_err() {
            errors.push(loc.at(
                &header_path,
                format!("the value of header `{header}` is not a valid HTTP header value"),
            ));
        } else {
            headers.push((header.clone(), value.clone()));
        }
    }

    let timeouts = apply_timeouts(
        Timeouts::default(),
        raw.timeouts.as_ref(),
        &at("timeouts"),
        true,
        loc,
        errors,
    );
    let breaker = build_breaker(raw.breaker.as_ref(), &at("breaker"), loc, errors);
    let health_check = raw.health_check_s.and_then(|v| {
        seconds(
            Some(v),
            &at("health_check_s"),
            "health_check_s",
            loc,
            errors,
        )
        .map(Duration::from_secs_f64)
    });
    ProviderConfig {
        name: name.to_owned(),
        settings,
        headers,
        timeouts,
        breaker,
        health_check,
        unsupported_params,
        budget: raw.budget.clone(),
    }
}

/// The kind-specific checks of one provider.
struct Check<'a, 'l, 'e> {
    name: &'a str,
    kind: ProviderKind,
    path: [Seg<'a>; 2],
    loc: &'l Locator<'l>,
    errors: &'e mut Vec<Diagnostic>,
}

impl<'a> Check<'a, '_, '_> {
    fn at(&self, key: &'a str) -> [Seg<'a>; 3] {
        [self.path[0], self.path[1], Seg::Key(key)]
    }

    fn value_error(&mut self, key: &'a str, message: impl Into<String>) {
        let at = self.at(key);
        self.errors.push(self.loc.at(&at, message));
    }

    /// A key set that this kind does not take, said with what the kind takes instead.
    fn foreign_keys(&mut self, raw: &RawProvider) {
        let set = |key: &str| match key {
            "base_url" => raw.base_url.is_some(),
            "api_key" => raw.api_key.is_some(),
            "default_max_tokens" => raw.default_max_tokens.is_some(),
            "responses" => raw.responses.is_some(),
            "github_url" => raw.github_url.is_some(),
            "api_url" => raw.api_url.is_some(),
            _ => false,
        };
        let kind = self.kind.as_str();
        for (key, kinds) in KIND_KEYS {
            if !set(key) || kinds.contains(&self.kind) {
                continue;
            }
            let message = match (self.kind, key) {
                (ProviderKind::Demo, "base_url") => {
                    "the demo provider answers locally and takes no `base_url`".to_owned()
                }
                (ProviderKind::Demo, "api_key") => "the demo provider takes no `api_key`".to_owned(),
                (ProviderKind::GithubCopilot, "base_url") => "a `github_copilot` provider takes `github_url` (GitHub Enterprise) and `api_url` (the Copilot API, normally named by the token exchange), not `base_url`".to_owned(),
                (_, "github_url" | "api_url") => format!("`{key}` only applies to `github_copilot` providers; a `{kind}` provider takes `base_url`"),
                (_, "default_max_tokens") => format!("`default_max_tokens` only applies to `anthropic` providers (Anthropic requires `max_tokens`); a `{kind}` backend uses the request's own"),
                (_, "responses") => format!("`responses` only applies to `openai` and `github_copilot` providers; a `{kind}` backend gets Responses requests translated"),
                _ => format!("a `{kind}` provider takes no `{key}`"),
            };
            let at = self.at(key);
            // Values the kind cannot use point at the value; keys of another kind at the key.
            let shown = if matches!(key, "base_url" | "api_key") {
                self.loc.at(&at, message)
            } else {
                self.loc.at_key(&at, message)
            };
            self.errors.push(shown);
        }
    }

    /// `base_url`, or the kind's default; `None` with an error when the kind needs one.
    fn base_url(&mut self, raw: &RawProvider) -> String {
        match raw.base_url.as_deref() {
            None => {
                match self.kind.default_base_url() {
                    Some(url) => url.to_owned(),
                    None => {
                        let name = self.name;
                        self.errors.push(self.loc.at_key(
                        &self.path,
                        format!("provider `{name}` needs `base_url`, e.g. \"http://127.0.0.1:8000/v1\""),
                    ));
                        String::new()
                    }
                }
            }
            Some(url) => match url::Url::parse(url) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
                    url.trim_end_matches('/').to_owned()
                }
                _ => {
                    self.value_error(
                        "base_url",
                        format!("`base_url` must be an http:// or https:// URL, not {url:?}"),
                    );
                    String::new()
                }
            },
        }
    }

    /// `api_key` as a reference; `example` makes it required.
    fn api_key(&mut self, raw: &RawProvider, example: Option<&str>) -> Option<SecretRef> {
        let Some(text) = raw.api_key.as_deref() else {
            if let Some(example) = example {
                let (name, kind) = (self.name, self.kind.as_str());
                self.errors.push(self.loc.at_key(
                    &self.path,
                    format!(
                        "provider `{name}` (kind `{kind}`) needs `api_key`, e.g. \"{example}\""
                    ),
                ));
            }
            return None;
        };
        SecretRef::parse(text)
            .map_err(|message| self.value_error("api_key", message))
            .ok()
    }

    fn openai(&mut self, raw: &RawProvider) -> ProviderSettings {
        let base_url = self.base_url(raw);
        let api_key = self.api_key(raw, None);
        // On by default for OpenAI itself, the one backend known to serve `/responses`.
        let responses = raw.responses.unwrap_or_else(|| {
            url::Url::parse(&base_url)
                .ok()
                .is_some_and(|u| u.host_str() == Some("api.openai.com"))
        });
        ProviderSettings::OpenAi(OpenAiSettings {
            base_url,
            api_key,
            responses,
        })
    }

    fn anthropic(&mut self, raw: &RawProvider) -> ProviderSettings {
        let base_url = self.base_url(raw);
        let api_key = self.api_key(raw, Some("env:ANTHROPIC_API_KEY"));
        let default_max_tokens = match raw.default_max_tokens {
            Some(0) => {
                self.value_error(
                    "default_max_tokens",
                    "`default_max_tokens` must be at least 1",
                );
                None
            }
            other => other,
        };
        ProviderSettings::Anthropic(AnthropicSettings {
            base_url,
            api_key,
            default_max_tokens,
        })
    }

    fn gemini(&mut self, raw: &RawProvider) -> ProviderSettings {
        let base_url = self.base_url(raw);
        let api_key = self.api_key(raw, Some("env:GEMINI_API_KEY"));
        ProviderSettings::Gemini(GeminiSettings { base_url, api_key })
    }

    fn copilot(&mut self, raw: &RawProvider) -> ProviderSettings {
        let api_url = http_url(
            raw.api_url.as_deref(),
            &self.at("api_url"),
            "api_url",
            self.loc,
            self.errors,
        );
        let github_url = http_url(
            raw.github_url.as_deref(),
            &self.at("github_url"),
            "github_url",
            self.loc,
            self.errors,
        )
        .unwrap_or_else(|| super::super::GITHUB_URL.to_owned());
        // Where `switchboard login copilot` stores the GitHub token unless told otherwise.
        let github_token = self
            .api_key(raw, None)
            .unwrap_or_else(|| SecretRef::Keychain("github_copilot".to_owned()));
        ProviderSettings::GithubCopilot(CopilotSettings {
            github_url,
            api_url,
            github_token,
            // Copilot serves `/responses` for its newer models; the config says when it does.
            responses: raw.responses.unwrap_or(false),
        })
    }
}
