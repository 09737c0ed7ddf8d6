//! Defences for a service on loopback, applied to every request before any handler:
//! - `Host` must be a loopback name or one in `server.allowed_hosts` (DNS rebinding);
//! - a browser `Origin` must be this origin, or (for the model API only) in `server.cors_origins`;
//!   the admin API accepts only same-origin browser calls (the dashboard). CORS is closed unless
//!   configured, and never `*`;
//! - when client tokens exist, model calls need one (`Authorization: Bearer` or `x-api-key`);
//! - on the second listener (`server.lan_listen`, marked `TokenOnly`) every request needs a
//!   client token, even when none exist, and the admin API and dashboard are not served. Its
//!   `Host` is not checked: rebinding a name gains a page nothing without a token.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::config::{ClientToken, Config};
use crate::error::ApiError;

/// Who is calling, when client tokens are configured.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    pub token: String,
    pub tenant: Option<String>,
    pub aliases: Option<Vec<String>>,
}

impl ClientIdentity {
    fn of(token: &ClientToken) -> Self {
        ClientIdentity {
            token: token.name.clone(),
            tenant: token.tenant.clone(),
            aliases: token.aliases.clone(),
        }
    }

    pub fn may_use(&self, alias: &str) -> bool {
        self.aliases
            .as_ref()
            .is_none_or(|list| list.iter().any(|a| a == alias))
    }
}

const CORS_ALLOW_HEADERS: &str = "authorization, content-type, x-api-key, x-correlation-id, x-request-id, anthropic-version, anthropic-beta";
const CORS_EXPOSE_HEADERS: &str =
    "x-correlation-id, x-switchboard-alias, x-switchboard-target, retry-after";

/// Marks requests that came in on the second listener (`server.lan_listen`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenOnly;

/// A request that may go on, with the CORS origin to answer with, if any.
pub(super) struct Admitted {
    cors_origin: Option<String>,
}

/// Checks a request before any handler sees it; `Err` is the refusal (or the CORS preflight
/// answer) to send instead. Records the caller's `ClientIdentity` when client tokens exist.
pub(super) fn check(
    config: &Config,
    request: &mut Request,
    correlation_id: &str,
) -> Result<Admitted, Box<Response>> {
    let deny = |status: StatusCode, code: &'static str, message: String| {
        Box::new(
            ApiError::new(status, "permission_error", code, message)
                .with_correlation_id(correlation_id)
                .into_response(),
        )
    };

    let token_only = request.extensions().get::<TokenOnly>().is_some();
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !token_only && !host_allowed(host, config) {
        return Err(deny(
            StatusCode::FORBIDDEN,
            "host_not_allowed",
            format!("Host {host:?} is not allowed; reach Switchboard as localhost or 127.0.0.1, or add the name to server.allowed_hosts"),
        ));
    }

    let path = request.uri().path();
    let is_admin = path == "/admin" || path.starts_with("/admin/");
    let is_ui = path == "/ui" || path.starts_with("/ui/");
    if token_only && (is_admin || is_ui) {
        return Err(deny(
            StatusCode::FORBIDDEN,
            "not_on_this_listener",
            "the admin API and the dashboard are served on the loopback listener only, not on server.lan_listen".to_owned(),
        ));
    }
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok());
    let mut cors_origin = None;
    if let Some(origin) = origin {
        let same_origin = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            .is_some_and(|rest| rest == host);
        let listed = !is_admin && config.server.cors_origins.iter().any(|o| o == origin);
        if !same_origin && !listed {
            let (code, message) = if is_admin {
                (
                    "cross_origin_refused",
                    "cross-origin requests to the admin API are refused".to_owned(),
                )
            } else {
                ("origin_not_allowed", format!("web origin {origin:?} may not call this API; add it to server.cors_origins"))
            };
            return Err(deny(StatusCode::FORBIDDEN, code, message));
        }
        if listed {
            cors_origin = Some(origin.to_owned());
        }
    }
    if request.method() == Method::OPTIONS {
        let mut response = StatusCode::NO_CONTENT.into_response();
        if let Some(origin) = &cors_origin {
            add_cors(response.headers_mut(), origin, true);
        }
        return Err(Box::new(response));
    }

    let is_model_call = !is_admin && !path.starts_with("/health") && !is_ui;
    if token_only || (is_model_call && !config.tokens.is_empty()) {
        match identify(request.headers(), config) {
            Some(identity) => {
                request.extensions_mut().insert(identity);
            }
            None => {
                return Err(Box::new(
                    ApiError::new(
                        StatusCode::UNAUTHORIZED,
                        "authentication_error",
                        "invalid_client_token",
                        if token_only {
                            "every request on this listener (server.lan_listen) needs a client token: send `Authorization: Bearer <token>` (or `x-api-key`); create one on the dashboard's Client tokens page"
                        } else {
                            "this Switchboard needs a client token: send `Authorization: Bearer <token>` (or `x-api-key`)"
                        },
                    )
                    .with_correlation_id(correlation_id)
                    .into_response(),
                ));
            }
        }
    }
    Ok(Admitted { cors_origin })
}

impl Admitted {
    /// Adds the CORS headers an admitted cross-origin call gets.
    pub(super) fn finish(self, response: &mut Response) {
        if let Some(origin) = &self.cors_origin {
            add_cors(response.headers_mut(), origin, false);
        }
    }
}

fn add_cors(headers: &mut HeaderMap, origin: &str, preflight: bool) {
    if let Ok(value) = HeaderValue::from_str(origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(CORS_ALLOW_HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    } else {
        headers.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(CORS_EXPOSE_HEADERS),
        );
    }
}

/// The host name part of a `Host` header, lower-cased; IPv6 keeps its brackets.
fn host_name(host: &str) -> String {
    if let Some(rest) = host.strip_prefix('[') {
        // After the brackets only a port may follow (found by the fuzzer: `[::1]0:o40` passed).
        return match rest.split_once(']') {
            Some((ip, tail))
                if tail.is_empty()
                    || tail
                        .strip_prefix(':')
                        .is_some_and(|port| port.chars().all(|c| c.is_ascii_digit())) =>
            {
                format!("[{}]", ip.to_ascii_lowercase())
            }
            _ => String::new(),
        };
    }
    host.rsplit_once(':')
        .map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        })
        .to_ascii_lowercase()
}

pub(super) fn host_allowed(host: &str, config: &Config) -> bool {
    let name = host_name(host);
    if name.is_empty() {
        return false;
    }
    if matches!(name.as_str(), "localhost" | "127.0.0.1" | "[::1]") {
        return true;
    }
    let listen_ip = config.listen.ip();
    if !listen_ip.is_unspecified() {
        let shown = match listen_ip {
            std::net::IpAddr::V4(ip) => ip.to_string(),
            std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        };
        if name == shown {
            return true;
        }
    }
    config.server.allowed_hosts.contains(&name)
}

/// Finds the client token presented, comparing SHA-256 digests (never the tokens themselves).
fn identify(headers: &HeaderMap, config: &Config) -> Option<ClientIdentity> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))?
        .trim();
    let digest = hash_token(presented);
    config
        .tokens
        .values()
        .find(|t| constant_time_eq(t.hash.as_bytes(), digest.as_bytes()))
        .map(ClientIdentity::of)
}

pub(crate) use crate::tokens::{constant_time_eq, hash_token};

/// The guard's verdict on a request made of `method`, `uri` and `headers`, for the fuzz targets:
/// `Ok(token name)` when it may go on (`None`: no client token needed), else the refusal's status.
pub fn verdict(
    config: &Config,
    method: &str,
    uri: &str,
    headers: &[(&[u8], &[u8])],
) -> Result<Option<String>, StatusCode> {
    let mut builder = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let mut request = builder
        .body(axum::body::Body::empty())
        .map_err(|_| StatusCode::BAD_REQUEST)?;
    match check(config, &mut request, "fuzz") {
        Ok(_) => Ok(request
            .extensions()
            .get::<ClientIdentity>()
            .map(|i| i.token.clone())),
        Err(response) => Err(response.status()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        let text = format!(
            "{extra}\n[providers.demo]\nkind = \"demo\"\n[aliases.demo]\ntargets = [\"demo/m\"]\n"
        );
        match Config::parse(&text, "t") {
            Ok(c) => c,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn loopback_and_configured_hosts_only() {
        let c = config("[server]\nallowed_hosts = [\"Hub.LAN\"]");
        for ok in [
            "localhost:4000",
            "127.0.0.1:4000",
            "[::1]:4000",
            "LOCALHOST",
            "127.0.0.1",
            "hub.lan:4000",
        ] {
            assert!(host_allowed(ok, &c), "{ok}");
        }
        for bad in [
            "evil.example",
            "127.0.0.1.evil.example:4000",
            "",
            "[::2]:4000",
            "[::1]0:o40",
            "[::1]:4000x",
            "[::1",
            "localhost.evil",
            "hub.lan.evil",
        ] {
            assert!(!host_allowed(bad, &c), "{bad}");
        }
    }

    #[test]
    fn tokens_are_found_by_hash() {
        let token = "sb-test-token";
        let c = config(&format!(
            "[tokens.app]\nhash = \"sha256:{}\"\ntenant = \"home\"",
            hash_token(token)
        ));
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer sb-test-token"),
        );
        assert_eq!(
            identify(&headers, &c).map(|i| i.tenant),
            Some(Some("home".into()))
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-api-key", HeaderValue::from_static("sb-test-token"));
        assert!(identify(&headers, &c).is_some());
        headers.insert("x-api-key", HeaderValue::from_static("sb-test-tokeN"));
        assert!(identify(&headers, &c).is_none());
    }
}
