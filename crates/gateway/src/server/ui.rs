//! The dashboard's files (`ui/dist`, built by `crates/gateway/build.rs`) embedded in the binary
//! and served at `/ui/`. Gzip copies are made at build time and sent to clients that accept
//! them; every file has an ETag (its SHA-256), hashed assets are cached for good, `index.html`
//! is revalidated. The pages hold no data: everything comes from the guarded `/admin` API.

use axum::extract::{Path, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use rust_embed::RustEmbed;

use crate::gateway::Gateway;

#[derive(RustEmbed)]
// Relative to this crate's Cargo.toml.
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct Assets;

/// Pages run only our own scripts, load nothing from elsewhere and may not be framed.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

pub(super) fn routes() -> Router<Gateway> {
    Router::new()
        .route("/ui", get(redirect))
        .route("/ui/", get(index))
        .route("/ui/{*path}", get(asset))
}

/// `/ui` → `/ui/`, relative so a reverse-proxy prefix survives.
async fn redirect() -> Response {
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, "ui/")]).into_response()
}

async fn index(request: Request) -> Response {
    serve("index.html", request.headers())
}

async fn asset(Path(path): Path<String>, request: Request) -> Response {
    serve(&path, request.headers())
}

fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(file) = Assets::get(path) else {
        if Assets::get("index.html").is_none() {
            return (
                StatusCode::NOT_FOUND,
                "the dashboard was not built into this binary: build ui/ (npm ci && npm run build) and rebuild",
            )
                .into_response();
        }
        return (StatusCode::NOT_FOUND, "no such file in the dashboard").into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
            .then(|| Assets::get(&format!("{path}.gz")))
            .flatten();
        match gzip {
            Some(compressed) => {
                let mut r = compressed.data.into_owned().into_response();
                r.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                r
            }
            None => file.data.into_owned().into_response(),
        }
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime(path)));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

fn mime(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
