//! The one typed client of the admin API (`crate::api` types in and out, timeouts on every
//! call), used by the CLI's admin commands and anything else that drives a running gateway
//! from outside. Plain HTTP/1.1 over hyper-util (already the upstream client's stack), so it
//! adds no dependency.

use std::time::Duration;

use bytes::Bytes;
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::api::{
    BudgetsReport, ConfigDocument, ConfigEntry, ConfigEntryDocument, ConfigListing, CreateToken,
    ErrorBody, ErrorDetail, HealthReport, KeyChanged, KeyList, KeyValue, LoginLink, Readiness,
    ReloadOutcome, RequestDetail, RequestList, RequestQuery, ResetOutcome, ResetTargets,
    SessionInfo, Stats, StatsQuery, StatusReport, TargetList, TokenCreated, WriteOutcome,
};
use crate::secret::Secret;

/// Default bound on one call, connect to last byte. Probing every backend (`/health`) is
/// bounded by the gateway's own `health_timeout_s`, well under this.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the URL must look like http://127.0.0.1:4000, not {0:?}")]
    BadUrl(String),
    #[error("Switchboard is not answering at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("no answer from {url} within {} s", .after.as_secs_f64())]
    Timeout { url: String, after: Duration },
    /// The gateway refused the call; `error` is its typed error body.
    #[error("{}", .error.message)]
    Refused {
        status: u16,
        error: Box<ErrorDetail>,
    },
    #[error("unexpected answer from {url}: {reason}")]
    Unexpected { url: String, reason: String },
}

impl ClientError {
    /// The refusal's code (`stale_revision`, `invalid_admin_token`, ...), if the gateway refused.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Refused { error, .. } => Some(&error.code),
            _ => None,
        }
    }
}

/// A change to one named config entry, for `AdminClient::config_change`.
#[derive(Debug, Clone)]
pub enum EntryChange {
    Create(serde_json::Value),
    Upsert(serde_json::Value),
    Delete,
}

#[derive(Clone)]
pub struct AdminClient {
    /// `http://host:port`, no trailing slash and no `/v1`.
    base: String,
    token: Option<Secret<String>>,
    timeout: Duration,
    http: hyper_util::client::legacy::Client<HttpConnector, Full<Bytes>>,
}

impl AdminClient {
    /// A client of the gateway at `base_url` (`http://127.0.0.1:4000`, a trailing `/v1` is
    /// dropped), sending `token` (the admin secret or `server.admin_token`) as a bearer.
    pub fn new(base_url: &str, token: Option<Secret<String>>) -> Result<AdminClient, ClientError> {
        let base = base_url
            .trim()
            .trim_end_matches('/')
            .trim_end_matches("/v1")
            .trim_end_matches('/')
            .to_owned();
        let authority = base
            .strip_prefix("http://")
            .filter(|a| !a.is_empty() && !a.contains('/'))
            .ok_or_else(|| ClientError::BadUrl(base_url.to_owned()))?;
        if authority.parse::<http::uri::Authority>().is_err() {
            return Err(ClientError::BadUrl(base_url.to_owned()));
        }
        let mut tcp = HttpConnector::new();
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(DEFAULT_TIMEOUT));
        let http = hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(tcp);
        Ok(AdminClient {
            base,
            token,
            timeout: DEFAULT_TIMEOUT,
            http,
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> AdminClient {
        self.timeout = timeout;
        self
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET /health/readiness` (no credential needed). A not-ready gateway answers 503 with
    /// the same body, which is returned as `Ok`.
    pub async fn readiness(&self) -> Result<Readiness, ClientError> {
        self.call(Method::GET, "/health/readiness", None, None, &[503])
            .await
    }

    /// `GET /health`: probes every backend (no credential needed); 503 when one is down.
    pub async fn health(&self) -> Result<HealthReport, ClientError> {
        self.call(Method::GET, "/health", None, None, &[503]).await
    }

    pub async fn status(&self) -> Result<StatusReport, ClientError> {
        self.get("/admin/status").await
    }

    pub async fn session(&self) -> Result<SessionInfo, ClientError> {
        self.get("/admin/session").await
    }

    pub async fn login_link(&self) -> Result<LoginLink, ClientError> {
        self.send(
            Method::POST,
            "/admin/login-links",
            Some(&serde_json::json!({})),
            None,
        )
        .await
    }

    pub async fn budgets(&self) -> Result<BudgetsReport, ClientError> {
        self.get("/admin/budgets").await
    }

    pub async fn targets(&self) -> Result<TargetList, ClientError> {
        self.get("/admin/targets").await
    }

    pub async fn reset_targets(&self, request: &ResetTargets) -> Result<ResetOutcome, ClientError> {
        self.send(Method::POST, "/admin/targets/reset", Some(request), None)
            .await
    }

    pub async fn keys(&self) -> Result<KeyList, ClientError> {
        self.get("/admin/keys").await
    }

    pub async fn set_key(
        &self,
        name: &str,
        value: &Secret<String>,
    ) -> Result<KeyChanged, ClientError> {
        let body = KeyValue {
            value: value.expose().clone(),
        };
        let path = format!("/admin/keys/{}", segment(name));
        self.send(Method::PUT, &path, Some(&body), None).await
    }

    pub async fn delete_key(&self, name: &str) -> Result<KeyChanged, ClientError> {
        let path = format!("/admin/keys/{}", segment(name));
        self.send::<(), _>(Method::DELETE, &path, None, None).await
    }

    pub async fn create_token(
        &self,
        request: &CreateToken,
        revision: &str,
    ) -> Result<TokenCreated, ClientError> {
        self.send(Method::POST, "/admin/tokens", Some(request), Some(revision))
            .await
    }

    pub async fn config_document(&self) -> Result<ConfigDocument, ClientError> {
        self.get("/admin/config").await
    }

    pub async fn config_list(&self, section: &str) -> Result<ConfigListing, ClientError> {
        self.get(&format!("/admin/config/{}", segment(section)))
            .await
    }

    pub async fn config_entry(
        &self,
        section: &str,
        name: &str,
    ) -> Result<ConfigEntryDocument, ClientError> {
        self.get(&format!(
            "/admin/config/{}/{}",
            segment(section),
            segment(name)
        ))
        .await
    }

    /// Creates, replaces or deletes one entry, based on `revision` (the file's revision when
    /// it was read; a stale one is refused with `stale_revision`).
    pub async fn config_change(
        &self,
        section: &str,
        name: &str,
        change: EntryChange,
        revision: &str,
    ) -> Result<WriteOutcome, ClientError> {
        let entry = format!("/admin/config/{}/{}", segment(section), segment(name));
        match change {
            EntryChange::Create(value) => {
                let body = ConfigEntry {
                    name: name.to_owned(),
                    value,
                };
                let path = format!("/admin/config/{}", segment(section));
                self.send(Method::POST, &path, Some(&body), Some(revision))
                    .await
            }
            EntryChange::Upsert(value) => {
                self.send(Method::PUT, &entry, Some(&value), Some(revision))
                    .await
            }
            EntryChange::Delete => {
                self.send::<(), _>(Method::DELETE, &entry, None, Some(revision))
                    .await
            }
        }
    }

    /// The config file's kept versions (what each admin save replaced), newest first.
    pub async fn config_history(&self) -> Result<crate::api::ConfigHistory, ClientError> {
        self.get("/admin/config/history").await
    }

    /// Writes kept version `id` back, based on `revision` (the file's revision now).
    pub async fn restore_version(
        &self,
        id: &str,
        revision: &str,
    ) -> Result<WriteOutcome, ClientError> {
        let path = format!("/admin/config/history/{}/restore", segment(id));
        self.send::<(), _>(Method::POST, &path, None, Some(revision))
            .await
    }

    pub async fn reload(&self) -> Result<ReloadOutcome, ClientError> {
        self.send::<(), _>(Method::POST, "/admin/config/reload", None, None)
            .await
    }

    pub async fn requests(&self, query: &RequestQuery) -> Result<RequestList, ClientError> {
        self.get(&format!("/admin/requests{}", query_string(query)))
            .await
    }

    pub async fn request(&self, id: i64) -> Result<RequestDetail, ClientError> {
        self.get(&format!("/admin/requests/{id}")).await
    }

    pub async fn stats(&self, query: &StatsQuery) -> Result<Stats, ClientError> {
        self.get(&format!("/admin/stats{}", query_string(query)))
            .await
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.send::<(), T>(Method::GET, path, None, None).await
    }

    async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        revision: Option<&str>,
    ) -> Result<T, ClientError> {
        let body = match body {
            Some(b) => Some(serde_json::to_vec(b).map_err(|e| ClientError::Unexpected {
                url: self.url(path),
                reason: e.to_string(),
            })?),
            None => None,
        };
        self.call(method, path, body, revision, &[]).await
    }

    /// One call: success statuses and those in `also_ok` are parsed as `T`, everything else
    /// as the gateway's error body.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        revision: Option<&str>,
        also_ok: &[u16],
    ) -> Result<T, ClientError> {
        let url = self.url(path);
        let mut request = Request::builder().method(method).uri(&url);
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {}", token.expose()));
        }
        if let Some(revision) = revision {
            request = request.header(header::IF_MATCH, format!("\"{revision}\""));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| ClientError::BadUrl(format!("{url}: {e}")))?;
        let exchange = async {
            let response =
                self.http
                    .request(request)
                    .await
                    .map_err(|e| ClientError::Unreachable {
                        url: self.base.clone(),
                        reason: error_chain(&e),
                    })?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Unreachable {
                    url: url.clone(),
                    reason: e.to_string(),
                })?
                .to_bytes();
            Ok::<_, ClientError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout {
                url: url.clone(),
                after: self.timeout,
            })??;
        if status.is_success() || also_ok.contains(&status.as_u16()) {
            // Answers without a body (204) parse as `null`, which `()` and options accept.
            let bytes: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
            return serde_json::from_slice(bytes).map_err(|e| ClientError::Unexpected {
                url,
                reason: e.to_string(),
            });
        }
        Err(refusal(status, &bytes))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

fn refusal(status: StatusCode, bytes: &[u8]) -> ClientError {
    let error = serde_json::from_slice::<ErrorBody>(bytes)
        .map(|b| b.error)
        .unwrap_or_else(|_| ErrorDetail {
            message: format!(
                "{status}: {}",
                String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
            ),
            kind: "http_error".into(),
            code: status.as_str().into(),
            ..ErrorDetail::default()
        });
    ClientError::Refused {
        status: status.as_u16(),
        error: Box::new(error),
    }
}

/// The error and its causes ("connection refused" sits a few levels down).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Percent-encodes one path segment (names may hold `/`, spaces, ...).
fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for byte in raw.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `?a=1&b=x` from a query struct's set fields (strings as they are, numbers as JSON).
fn query_string<Q: Serialize>(query: &Q) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(query) else {
        return String::new();
    };
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (key, value) in fields {
        match value {
            serde_json::Value::Null => {}
            serde_json::Value::String(s) => {
                out.append_pair(&key, &s);
            }
            other => {
                out.append_pair(&key, &other.to_string());
            }
        }
    }
    let text = out.finish();
    if text.is_empty() {
        text
    } else {
        format!("?{text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_normalised_and_checked() -> anyhow::Result<()> {
        let client = AdminClient::new("http://127.0.0.1:4000/v1/", None)?;
        assert_eq!(client.base_url(), "http://127.0.0.1:4000");
        assert!(AdminClient::new("127.0.0.1:4000", None).is_err());
        assert!(AdminClient::new("http://", None).is_err());
        assert!(AdminClient::new("http://host/x", None).is_err());
        Ok(())
    }

    #[test]
    fn path_segments_and_queries_are_encoded() {
        assert_eq!(segment("openai/gpt-4o mini"), "openai%2Fgpt-4o%20mini");
        let query = RequestQuery {
            alias: Some("a b".into()),
            limit: Some(5),
            ..RequestQuery::default()
        };
        assert_eq!(query_string(&query), "?alias=a+b&limit=5");
        assert_eq!(query_string(&RequestQuery::default()), "");
    }

    #[test]
    fn refusals_carry_the_typed_error_or_the_raw_text() {
        let body = br#"{"error":{"message":"stale","type":"admin_error","code":"stale_revision","correlation_id":"x","current_revision":"abc"}}"#;
        let error = refusal(StatusCode::CONFLICT, body);
        assert_eq!(error.code(), Some("stale_revision"));
        assert!(matches!(
            &error,
            ClientError::Refused { status: 409, error } if error.current_revision.as_deref() == Some("abc")
        ));
        let error = refusal(StatusCode::BAD_GATEWAY, b"nginx says no");
        assert!(error.to_string().contains("nginx says no"));
    }

    /// The client against a real gateway on a socket: reads, a write with its revision, a
    /// stale revision and a missing credential come back typed.
    #[tokio::test]
    async fn drives_a_running_gateway() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let config_path = dir.path().join("config.toml");
        let text = "listen = \"127.0.0.1:0\"\n\n[providers.demo]\nkind = \"demo\"\n\n\
                    [aliases.demo]\ntargets = [\"demo/switchboard-demo\"]\n";
        std::fs::write(&config_path, text)?;
        let database = dir.path().join("switchboard.db");
        let config = crate::config::Config::parse(text, "config.toml")?;
        let gateway = crate::gateway::Gateway::start(
            config,
            crate::gateway::GatewayOptions {
                config_path: Some(config_path.clone()),
                database_path: Some(database.clone()),
            },
        )
        .await
        .map_err(anyhow::Error::msg)?;
        let server = gateway.serve("127.0.0.1:0".parse()?).await?;
        let url = format!("http://{}/v1", server.local_addr());
        let secret = crate::session::read_secret(&crate::session::secret_path(&database))
            .map_err(anyhow::Error::msg)?;
        let client = AdminClient::new(&url, Some(secret))?;

        let readiness = client.readiness().await?;
        assert!(readiness.ready);
        let status = client.status().await?;
        assert_eq!(
            status.aliases.first().map(|a| a.name.as_str()),
            Some("demo")
        );
        assert_eq!(client.session().await?.via, "bearer");
        let targets = client.targets().await?;
        assert_eq!(targets.targets.len(), 1);
        assert_eq!(
            client.reset_targets(&ResetTargets::default()).await?.reset,
            1
        );
        assert!(client
            .login_link()
            .await?
            .path
            .starts_with("/admin/login?code="));

        let revision = client.config_document().await?.revision;
        let request = CreateToken {
            name: "ci".into(),
            limits: Some(crate::api::TokenLimits {
                rpm: Some(5),
                ..Default::default()
            }),
            ..CreateToken::default()
        };
        let created = client.create_token(&request, &revision).await?;
        assert!(created.token.starts_with("sb-"));
        assert_eq!(gateway.snapshot().config.tokens["ci"].limits.rpm, Some(5));
        let stale = client.create_token(&request, &revision).await;
        assert_eq!(
            stale.err().as_ref().and_then(ClientError::code),
            Some("stale_revision")
        );
        let entry = client.config_entry("tokens", "ci").await?;
        assert_eq!(entry.value["limits"]["rpm"], 5);
        let outcome = client
            .config_change("tokens", "ci", EntryChange::Delete, &entry.revision)
            .await?;
        assert!(outcome.reload.changed);

        let anonymous = AdminClient::new(&url, None)?;
        let refused = anonymous.budgets().await;
        assert_eq!(
            refused.err().as_ref().and_then(ClientError::code),
            Some("invalid_admin_token")
        );
        server.stop(Duration::from_secs(1)).await;
        gateway.shutdown().await;

        let gone = client.with_timeout(Duration::from_secs(2)).status().await;
        assert!(
            matches!(gone, Err(ClientError::Unreachable { .. })),
            "{gone:?}"
        );
        Ok(())
    }
}
