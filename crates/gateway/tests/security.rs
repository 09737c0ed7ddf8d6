//! Loopback security end to end: Host allow-list (DNS rebinding), Origin checks and CORS, client
//! tokens (hash-only storage, scopes, no admin access), non-loopback listen refused without auth.

#![cfg(test)] // clippy.toml's allow-unwrap-in-tests then covers the helpers too

use std::ops::Deref;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_gateway::{config, hash_token};
use switchboard_test_support::TestGateway;

const ADMIN: &str = "security-admin-token";
const PROVIDER_KEY: &str = "sk-provider-secret-value-123";

/// The gateway with an admin token, a demo and a cloud provider (its key in a secret file,
/// its URL a closed port), CORS and host allow-lists.
struct Harness(TestGateway);

impl Deref for Harness {
    type Target = TestGateway;
    fn deref(&self) -> &TestGateway {
        &self.0
    }
}

impl Harness {
    async fn start(extra: &str) -> Harness {
        let builder = TestGateway::builder();
        let admin = builder.secret("admin.token", ADMIN);
        let key = builder.secret("provider.key", PROVIDER_KEY);
        let text = format!(
            "[server]\nadmin_token = \"{admin}\"\ncors_origins = [\"http://localhost:3000\"]\nallowed_hosts = [\"hub.lan\"]\n\n\
             [providers.demo]\nkind = \"demo\"\n\n\
             [providers.cloud]\nkind = \"openai\"\nbase_url = \"{{closed}}\"\napi_key = \"{key}\"\n\n\
             [aliases.demo]\ntargets = [\"demo/m\"]\n\n[aliases.other]\ntargets = [\"demo/o\"]\n\n\
             [aliases.cloud]\ntargets = [\"cloud/gpt\"]\n\n{extra}",
        );
        Harness(builder.config(text).start().await)
    }

    fn chat(&self, model: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}/v1/chat/completions", self.base))
            .json(&json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
    }

    /// Stops the gateway (flushing the log); the folder with the database stays with the result.
    async fn stop(mut self) -> TestGateway {
        self.0.stop_within(Duration::from_secs(1)).await;
        self.0
    }
}

async fn code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_host_names_are_refused_everywhere() {
    let h = Harness::start("").await;
    for path in ["/v1/models", "/health", "/admin/status"] {
        let response = h
            .http
            .get(format!("{}{path}", h.base))
            .header("host", "evil.example:4000")
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        assert_eq!(
            code(response).await,
            (403, "host_not_allowed".to_owned()),
            "{path}"
        );
    }
    let response = h
        .http
        .get(format!("{}/v1/models", h.base))
        .header("host", "hub.lan:4000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "a configured host name is allowed");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_origin_browser_calls_are_refused_unless_listed() {
    let h = Harness::start("").await;
    // Admin API: only same-origin (the dashboard), even with the token.
    let response = h
        .http
        .get(format!("{}/admin/status", h.base))
        .bearer_auth(ADMIN)
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(response).await,
        (403, "cross_origin_refused".to_owned())
    );
    let same = format!("http://{}", h.base.trim_start_matches("http://"));
    let response = h
        .http
        .get(format!("{}/admin/status", h.base))
        .bearer_auth(ADMIN)
        .header("origin", &same)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Model API: a page on another origin cannot post (a form post would carry its Origin).
    let response = h
        .chat("demo")
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(code(response).await, (403, "origin_not_allowed".to_owned()));
    // A listed origin gets CORS headers naming it, never `*`.
    let response = h
        .chat("demo")
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let preflight = h
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/chat/completions", h.base),
        )
        .header("origin", "http://localhost:3000")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    assert!(preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .contains("authorization"));
    let preflight = h
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/chat/completions", h.base),
        )
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 403);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_tokens_gate_model_calls_by_hash_scope_and_never_reach_admin() {
    let token = "sb-obsidian-test-token";
    let h = Harness::start(&format!(
        "[tokens.obsidian]\nhash = \"sha256:{}\"\ntenant = \"home\"\naliases = [\"demo\"]\n",
        hash_token(token)
    ))
    .await;
    assert_eq!(
        code(h.chat("demo").send().await.unwrap()).await,
        (401, "invalid_client_token".to_owned())
    );
    assert_eq!(
        code(h.chat("demo").bearer_auth("sb-wrong").send().await.unwrap()).await,
        (401, "invalid_client_token".to_owned())
    );
    assert_eq!(
        h.chat("demo")
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        h.chat("demo")
            .header("x-api-key", token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        code(h.chat("other").bearer_auth(token).send().await.unwrap()).await,
        (403, "alias_not_allowed".to_owned())
    );
    let models: Value = h
        .http
        .get(format!("{}/v1/models", h.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        models["data"].as_array().unwrap().len(),
        1,
        "only the aliases the token may use are listed"
    );
    // A client token is not an admin token.
    let response = h
        .http
        .get(format!("{}/admin/status", h.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(response).await,
        (401, "invalid_admin_token".to_owned())
    );
    // Health stays open for monitors.
    assert_eq!(
        h.http
            .get(format!("{}/health/liveliness", h.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    let stopped = h.stop().await;
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", stopped.db_path.display()))
        .await
        .unwrap();
    let rows: Vec<(Option<String>, Option<String>, i64)> =
        sqlx::query_as("SELECT client, tenant, status FROM requests ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(
        rows.contains(&(Some("obsidian".into()), Some("home".into()), 200)),
        "{rows:?}"
    );
    assert!(
        rows.contains(&(Some("obsidian".into()), Some("home".into()), 403)),
        "{rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_created_through_the_admin_api_are_shown_once_and_stored_as_hashes() {
    let h = Harness::start("").await;
    let revision = h
        .http
        .get(format!("{}/admin/config", h.base))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["revision"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = h
        .http
        .post(format!("{}/admin/tokens", h.base))
        .bearer_auth(ADMIN)
        .header("if-match", &revision)
        .json(&json!({"name": "zed", "tenant": "work"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("sb-") && token.len() > 40);
    let file = std::fs::read_to_string(&h.config_path).unwrap();
    assert!(!file.contains(&token), "the token itself is never written");
    assert!(file.contains(&hash_token(&token)));
    // Live at once: now every model call needs a token, and this one works.
    assert_eq!(h.chat("demo").send().await.unwrap().status(), 401);
    assert_eq!(
        h.chat("demo")
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_appear_in_answers() {
    let h = Harness::start("").await;
    let mut seen = String::new();
    seen.push_str(&h.chat("cloud").send().await.unwrap().text().await.unwrap());
    for path in [
        "/admin/config",
        "/admin/status",
        "/admin/config/providers",
        "/admin/targets",
    ] {
        seen.push_str(
            &h.http
                .get(format!("{}{path}", h.base))
                .bearer_auth(ADMIN)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
    }
    seen.push_str(
        &h.http
            .get(format!("{}/health", h.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    seen.push_str(
        &h.http
            .get(format!("{}/health/readiness", h.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert!(
        seen.contains("cannot connect"),
        "the cloud call really failed: {seen}"
    );
    assert!(
        !seen.contains(PROVIDER_KEY) && !seen.contains(ADMIN),
        "a secret leaked"
    );
    h.stop().await;
}

#[test]
fn listening_beyond_loopback_needs_client_tokens() {
    let text = "listen = \"0.0.0.0:4000\"\n[providers.demo]\nkind = \"demo\"\n[aliases.demo]\ntargets = [\"demo/m\"]\n";
    let error = config::Config::parse(text, "c.toml")
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("c.toml:1:10:") && error.contains("needs inbound auth"),
        "{error}"
    );
    let with_token = format!(
        "{text}[tokens.hub]\nhash = \"sha256:{}\"\n",
        hash_token("x")
    );
    assert!(config::Config::parse(&with_token, "c.toml").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_sessions_need_a_one_time_link_and_csrf_for_writes() {
    let h = Harness::start("").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The per-install secret (made on first start beside the database) works as a bearer.
    let secret = std::fs::read_to_string(h.dir().join("admin.secret")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(h.dir().join("admin.secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let link: Value = http
        .post(format!("{}/admin/login-links", h.base))
        .bearer_auth(secret.trim())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let path = link["path"].as_str().unwrap().to_owned();
    assert!(path.starts_with("/admin/login?code="));

    let login = http.get(format!("{}{path}", h.base)).send().await.unwrap();
    assert_eq!(login.status(), 303);
    assert_eq!(login.headers()["location"], "../ui/");
    let set_cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let again = http.get(format!("{}{path}", h.base)).send().await.unwrap();
    assert_eq!(again.status(), 401, "a login code works once");

    let read = http
        .get(format!("{}/admin/requests", h.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let session: Value = http
        .get(format!("{}/admin/session", h.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(session["via"], "session");
    let openapi: Value = http
        .get(format!("{}/admin/openapi.json", h.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(openapi["paths"]["/admin/requests"]["get"].is_object());
    assert!(openapi["components"]["schemas"]["RequestRow"].is_object());
    let anonymous = http
        .get(format!("{}/admin/openapi.json", h.base))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    let reset = |headers: &[(&str, String)]| {
        let mut request = http
            .post(format!("{}/admin/targets/reset", h.base))
            .header("cookie", &cookie);
        for (k, v) in headers {
            request = request.header(*k, v);
        }
        request.send()
    };
    let origin = h.base.clone();
    let plain = reset(&[("origin", origin.clone())]).await.unwrap();
    assert_eq!(code(plain).await, (403, "csrf_check_failed".to_owned()));
    let no_origin = reset(&[("x-switchboard-csrf", "1".into())]).await.unwrap();
    assert_eq!(code(no_origin).await, (403, "csrf_check_failed".to_owned()));
    let foreign = reset(&[
        ("x-switchboard-csrf", "1".into()),
        ("origin", "http://localhost:3000".into()),
    ])
    .await
    .unwrap();
    assert_eq!(
        code(foreign).await,
        (403, "cross_origin_refused".to_owned())
    );
    let ok = reset(&[
        ("x-switchboard-csrf", "1".into()),
        ("origin", origin.clone()),
    ])
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);

    let logout = http
        .post(format!("{}/admin/logout", h.base))
        .header("cookie", &cookie)
        .header("x-switchboard-csrf", "1")
        .header("origin", &origin)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let after = http
        .get(format!("{}/admin/requests", h.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(code(after).await, (401, "invalid_admin_token".to_owned()));
    let made_up = http
        .get(format!("{}/admin/stats", h.base))
        .header("cookie", "sb_session=0123")
        .send()
        .await
        .unwrap();
    assert_eq!(made_up.status(), 401);
    h.stop().await;
}

/// `/metrics` names aliases and targets: with client tokens configured it needs one, like `/v1`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_a_client_token_when_tokens_exist() {
    let token = "sb-metrics-test-token";
    let h = Harness::start(&format!(
        "[tokens.scraper]\nhash = \"sha256:{}\"\n",
        hash_token(token)
    ))
    .await;
    let url = format!("{}/metrics", h.base);
    assert_eq!(
        code(h.http.get(&url).send().await.unwrap()).await,
        (401, "invalid_client_token".to_owned())
    );
    let scraped = h.http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(scraped.status(), 200);
    assert!(scraped
        .text()
        .await
        .unwrap()
        .contains("# TYPE switchboard_requests_total counter"));
    h.stop().await;
}
