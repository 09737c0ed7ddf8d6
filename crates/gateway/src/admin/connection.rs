//! "Test connection": DNS, TCP connect, TLS and the models endpoint with the key, each step
//! timed and, when it fails, explained with the fix. The dashboard's test button (saved and
//! unsaved providers) and `switchboard doctor`'s per-backend check both run this one function.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::{ConnectionStep, ConnectionTest};
use crate::config::{ProviderConfig, ProviderKind, ProviderSettings};
use crate::secret::{Secret, SecretRef};

fn step(name: &str, severity: &str, summary: impl Into<String>) -> ConnectionStep {
    ConnectionStep {
        step: name.to_owned(),
        severity: severity.to_owned(),
        summary: summary.into(),
        fix: None,
        latency_ms: None,
    }
}

trait StepExt {
    fn fix(self, fix: impl Into<String>) -> Self;
    fn took(self, since: Instant) -> Self;
}

impl StepExt for ConnectionStep {
    fn fix(mut self, fix: impl Into<String>) -> Self {
        self.fix = Some(fix.into());
        self
    }

    fn took(mut self, since: Instant) -> Self {
        self.latency_ms = Some(since.elapsed().as_secs_f64() * 1000.0);
        self
    }
}

/// The URL whose answer tells whether the backend takes our key: the models list, or for
/// Copilot GitHub's token exchange (what a GitHub token is good for).
pub fn check_url(provider: &ProviderConfig) -> Option<String> {
    if let ProviderSettings::GithubCopilot(s) = &provider.settings {
        return Some(format!(
            "{}/copilot_internal/v2/token",
            crate::provider::copilot::github_api_url(&s.github_url)
        ));
    }
    let base = provider
        .base_url()
        .or_else(|| provider.kind().default_base_url())?
        .trim_end_matches('/')
        .to_owned();
    Some(match provider.kind() {
        ProviderKind::Anthropic if !base.ends_with("/v1") => format!("{base}/v1/models"),
        _ => format!("{base}/models"),
    })
}

/// Runs every step against `provider`, stopping at the first that fails; each network step is
/// bounded by `timeout`. Keys are read here (never shown): a missing one is a failed step.
pub async fn test_provider(provider: &ProviderConfig, timeout: Duration) -> ConnectionTest {
    test_provider_with_key(provider, timeout, None).await
}

/// As `test_provider`, with `key` (typed but not stored yet) instead of the one `api_key` names.
pub async fn test_provider_with_key(
    provider: &ProviderConfig,
    timeout: Duration,
    key: Option<Secret<String>>,
) -> ConnectionTest {
    let mut out = ConnectionTest {
        provider: provider.name.clone(),
        kind: provider.kind().as_str().to_owned(),
        ..ConnectionTest::default()
    };
    run(provider, timeout, key, &mut out).await;
    out.ok = out.steps.iter().all(|s| s.severity != "error");
    out
}

async fn run(
    provider: &ProviderConfig,
    timeout: Duration,
    key: Option<Secret<String>>,
    out: &mut ConnectionTest,
) {
    if provider.kind() == ProviderKind::Demo {
        out.steps
            .push(step("local", "ok", "the built-in demo answers locally"));
        return;
    }
    let Some(url) = check_url(provider) else {
        out.steps
            .push(step("config", "error", "no base_url").fix("set base_url"));
        return;
    };
    out.url = Some(url.clone());
    let Ok(parsed) = url::Url::parse(&url) else {
        out.steps.push(
            step("config", "error", format!("{url} is not a URL"))
                .fix("base_url must look like https://host[:port]/path"),
        );
        return;
    };
    let host = parsed
        .host_str()
        .unwrap_or("")
        .trim_matches(['[', ']'])
        .to_owned();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let https = parsed.scheme() == "https";
    let secs = timeout.as_secs_f64();

    let started = Instant::now();
    let addrs =
        match tokio::time::timeout(timeout, tokio::net::lookup_host((host.as_str(), port))).await {
            Ok(Ok(addrs)) => addrs.collect::<Vec<_>>(),
            Ok(Err(e)) => {
                out.steps.push(
                    step("dns", "error", format!("{host} does not resolve: {e}"))
                        .took(started)
                        .fix(format!(
                    "check the host name in base_url, /etc/resolv.conf, and `getent hosts {host}`"
                )),
                );
                return;
            }
            Err(_) => {
                out.steps.push(
                    step(
                        "dns",
                        "error",
                        format!("resolving {host} took over {secs} s"),
                    )
                    .took(started)
                    .fix("the DNS server is not answering: check /etc/resolv.conf"),
                );
                return;
            }
        };
    let shown: Vec<String> = addrs.iter().take(3).map(|a| a.ip().to_string()).collect();
    out.steps
        .push(step("dns", "ok", format!("{host} → {}", shown.join(", "))).took(started));

    let started = Instant::now();
    let connect = async {
        let mut last = None;
        for addr in &addrs {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(stream) => return Ok((*addr, stream)),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("no address")))
    };
    let stream = match tokio::time::timeout(timeout, connect).await {
        Ok(Ok((addr, stream))) => {
            out.steps
                .push(step("tcp", "ok", format!("connected to {addr}")).took(started));
            stream
        }
        Ok(Err(e)) => {
            out.steps.push(
                step("tcp", "error", format!("cannot connect to {host}:{port}: {e}"))
                    .took(started)
                    .fix("the server is not running or a firewall blocks the port: start it, or check base_url's port"),
            );
            return;
        }
        Err(_) => {
            out.steps.push(
                step(
                    "tcp",
                    "error",
                    format!("no TCP answer from {host}:{port} within {secs} s"),
                )
                .took(started)
                .fix("a firewall drops the packets, or the host is down"),
            );
            return;
        }
    };

    if https {
        let started = Instant::now();
        match tokio::time::timeout(timeout, handshake(stream, &host)).await {
            Ok(Ok(version)) => out.steps.push(
                step(
                    "tls",
                    "ok",
                    format!("handshake ok ({version}), certificate trusted for {host}"),
                )
                .took(started),
            ),
            Ok(Err(e)) => {
                out.steps.push(
                    step("tls", "error", format!("TLS with {host}:{port} failed: {e}"))
                        .took(started)
                        .fix("the server's certificate is not trusted or it does not speak TLS on that port: check the host name, the port, and http:// versus https://"),
                );
                return;
            }
            Err(_) => {
                out.steps.push(
                    step("tls", "error", format!("no TLS handshake within {secs} s"))
                        .took(started)
                        .fix("the port accepts connections but does not answer TLS: check http:// versus https://"),
                );
                return;
            }
        }
    } else {
        drop(stream);
    }

    http_step(provider, &url, timeout, key, out).await;
}

/// A TLS handshake with the public roots, as the proxy's client does; the protocol version.
async fn handshake(stream: tokio::net::TcpStream, host: &str) -> Result<String, String> {
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    })
    .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| format!("{host} is not a valid TLS server name: {e}"))?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tls = connector
        .connect(name, stream)
        .await
        .map_err(|e| e.to_string())?;
    let version = tls
        .get_ref()
        .1
        .protocol_version()
        .map(|v| format!("{v:?}").replace('_', "."))
        .unwrap_or_else(|| "TLS".into());
    Ok(version)
}

/// Reads the key a provider names, off the async threads (a keychain read is a D-Bus call).
async fn read_key(reference: &SecretRef) -> Result<crate::secret::Secret<String>, String> {
    let reference = reference.clone();
    tokio::task::spawn_blocking(move || reference.resolve().map_err(|e| e.to_string()))
        .await
        .map_err(|e| e.to_string())?
}

async fn http_step(
    provider: &ProviderConfig,
    url: &str,
    timeout: Duration,
    typed: Option<Secret<String>>,
    out: &mut ConnectionTest,
) {
    let kind = provider.kind();
    let reference = provider.api_key();
    let key = match (reference, typed) {
        (_, Some(typed)) => Some(typed),
        (Some(r), None) => match read_key(r).await {
            Ok(key) => Some(key),
            Err(e) => {
                let fix = match (kind, r) {
                    (ProviderKind::GithubCopilot, _) => "log in to GitHub: the dashboard's \"Log in\" button, or `switchboard login copilot`".to_owned(),
                    (_, SecretRef::Keychain(name)) => format!("set the key: the dashboard's key field, or `switchboard keys set {name}`"),
                    (_, SecretRef::Env(var)) => format!("export {var} in the gateway's environment"),
                    (_, SecretRef::File(path)) => format!("write the key to {} (mode 600)", path.display()),
                };
                out.steps
                    .push(step("http", "error", format!("`{r}` cannot be read: {e}")).fix(fix));
                return;
            }
        },
        (None, None) => None,
    };
    let http = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new());
    let mut request = http.get(url);
    for (header, value) in &provider.headers {
        request = request.header(header, value);
    }
    if let Some(key) = &key {
        request = match kind {
            ProviderKind::Anthropic => request
                .header("x-api-key", key.expose())
                .header("anthropic-version", "2023-06-01"),
            ProviderKind::Gemini => request.header("x-goog-api-key", key.expose()),
            ProviderKind::GithubCopilot => {
                request.header("authorization", format!("token {}", key.expose()))
            }
            _ => request.bearer_auth(key.expose()),
        };
    }
    let started = Instant::now();
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => {
            out.steps.push(
                step("http", "error", format!("GET {url}: {}", error_chain(&e)))
                    .took(started)
                    .fix("the server accepted the connection but did not answer HTTP: check base_url (scheme, port, path)"),
            );
            return;
        }
    };
    let status = response.status();
    out.server_date_unix = response
        .headers()
        .get("date")
        .and_then(|v| v.to_str().ok())
        .and_then(|d| jiff::fmt::rfc2822::parse(d).ok())
        .map(|z| z.timestamp().as_second());
    let mut s = step("http", "ok", format!("GET {url}: {status}")).took(started);
    let code = status.as_u16();
    // Gemini answers a wrong key with 400 API_KEY_INVALID, not 401.
    let gemini_bad_key = kind == ProviderKind::Gemini && code == 400 && {
        let body = response.text().await.unwrap_or_default();
        body.contains("API_KEY_INVALID") || body.contains("API key not valid")
    };
    if code == 401 || code == 403 || gemini_bad_key {
        s.severity = "error".into();
        s.summary = match reference {
            Some(r) => format!("{code}: the key in `{r}` was refused"),
            None => format!("{code}: the backend wants a key and none is configured"),
        };
        s.fix = Some(match (kind, reference) {
            (ProviderKind::GithubCopilot, _) => "the GitHub token was refused or has no Copilot access: log in again (the dashboard's \"Log in\" button, or `switchboard login copilot`)".to_owned(),
            (_, Some(SecretRef::Keychain(name))) => format!("set a new one: the dashboard's key field, or `switchboard keys set {name}`"),
            (_, Some(r)) => format!("the key in `{r}` is wrong or lacks access: replace it"),
            (_, None) => "set api_key (e.g. \"keychain:NAME\") and store the key".to_owned(),
        });
    } else if code == 404 && kind == ProviderKind::OpenAi {
        s.severity = "warning".into();
        s.summary.push_str(": no models list there");
        s.fix = Some("base_url usually ends in /v1 for OpenAI-compatible servers".into());
    } else if code == 429 {
        s.severity = "warning".into();
        s.summary
            .push_str(": the key is accepted but rate limited right now");
        s.fix = Some("wait, or check the account's limits and billing".into());
    } else if !status.is_success() {
        s.severity = if status.is_server_error() {
            "error".into()
        } else {
            "warning".into()
        };
        s.fix = Some(
            "the backend answers but not as expected: check base_url, and the backend's own logs"
                .into(),
        );
    } else {
        s.summary.push_str(match key {
            Some(_) => ", the key is accepted",
            None => ", no key needed",
        });
    }
    out.steps.push(s);
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
