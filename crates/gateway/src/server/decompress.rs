//! Compressed request bodies (`Content-Encoding: gzip`, `deflate`, `zstd`; Codex CLI sends zstd)
//! on every endpoint. The body is decoded as it is read, so whatever reads it with a size cap
//! caps the decompressed bytes: a zip bomb gets 413, never the memory.

use axum::body::Body;
use axum::extract::Request;
use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH};
use axum::http::StatusCode;
use futures::TryStreamExt;
use tokio_util::io::{ReaderStream, StreamReader};

use crate::error::ApiError;

/// The request with its body decoded (and `Content-Encoding` gone); an unknown encoding is a 415.
pub(super) fn decompress(request: Request) -> Result<Request, Box<ApiError>> {
    let Some(value) = request.headers().get(CONTENT_ENCODING) else {
        return Ok(request);
    };
    let encoding = value
        .to_str()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let (mut parts, body) = request.into_parts();
    parts.headers.remove(CONTENT_ENCODING);
    if encoding.is_empty() || encoding == "identity" {
        return Ok(Request::from_parts(parts, body));
    }
    let reader = StreamReader::new(body.into_data_stream().map_err(std::io::Error::other));
    use async_compression::tokio::bufread::{GzipDecoder, ZlibDecoder, ZstdDecoder};
    let body = match encoding.as_str() {
        "gzip" | "x-gzip" => Body::from_stream(ReaderStream::new(GzipDecoder::new(reader))),
        "deflate" => Body::from_stream(ReaderStream::new(ZlibDecoder::new(reader))),
        "zstd" => Body::from_stream(ReaderStream::new(ZstdDecoder::new(reader))),
        other => {
            return Err(Box::new(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid_request_error",
                "unsupported_content_encoding",
                format!("request bodies in `Content-Encoding: {other}` are not supported; send gzip, deflate, zstd or identity"),
            )))
        }
    };
    // The length was the compressed one.
    parts.headers.remove(CONTENT_LENGTH);
    Ok(Request::from_parts(parts, body))
}

/// Whether reading a body failed on its size cap (else it failed to decode or arrive).
pub(super) fn is_over_limit(error: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = e.source();
    }
    false
}
