//! Correlation ids both ways: the client's id (or a new one) is on the response, sent to the
//! backend, in error bodies and in the log row.

use crate::support::{chat_body, header, read_sse, row_for, stream_body, Failure, Gw};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn given_correlation_id_is_returned_forwarded_and_logged() {
    let mut gw = Gw::start("").await;
    let response = gw
        .post_with(
            "/v1/chat/completions",
            &chat_body("local/chat"),
            &[("X-Correlation-Id", "e2e-corr-0001")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(response.headers(), "x-correlation-id"),
        Some("e2e-corr-0001")
    );
    let response = gw
        .post_with(
            "/v1/chat/completions",
            &stream_body("local/chat"),
            &[("X-Correlation-Id", "e2e-corr-0002")],
        )
        .await;
    assert_eq!(
        header(response.headers(), "x-correlation-id"),
        Some("e2e-corr-0002")
    );
    read_sse(response).await;

    let forwarded: Vec<Option<String>> = gw
        .mock()
        .received()
        .iter()
        .map(|r| header(&r.headers, "x-correlation-id").map(str::to_owned))
        .collect();
    assert_eq!(
        forwarded,
        [
            Some("e2e-corr-0001".to_owned()),
            Some("e2e-corr-0002".to_owned())
        ]
    );

    let rows = gw.finish().await;
    assert_eq!(row_for(&rows, "e2e-corr-0001").status, 200);
    assert!(row_for(&rows, "e2e-corr-0002").streamed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_accepted_too() {
    let mut gw = Gw::start("").await;
    let response = gw
        .post_with(
            "/v1/chat/completions",
            &chat_body("local/chat"),
            &[("X-Request-Id", "req-e2e-42")],
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(response.headers(), "x-correlation-id"),
        Some("req-e2e-42")
    );
    let received = gw.mock().received();
    assert_eq!(
        header(&received[0].headers, "x-correlation-id"),
        Some("req-e2e-42")
    );

    // An error carries it in its body as well.
    let failure = Failure::read(
        gw.post_with(
            "/v1/chat/completions",
            &chat_body("no-such-alias"),
            &[("X-Request-Id", "req-e2e-43")],
        )
        .await,
    )
    .await;
    failure.assert_envelope(404, "model_not_found");
    assert_eq!(failure.error()["correlation_id"], "req-e2e-43");

    let rows = gw.finish().await;
    assert_eq!(row_for(&rows, "req-e2e-42").status, 200);
    assert_eq!(row_for(&rows, "req-e2e-43").status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn correlation_id_is_generated_when_absent_or_unusable() {
    let mut gw = Gw::start("").await;
    let response = gw.chat(&chat_body("local/chat")).await;
    assert_eq!(response.status(), 200);
    let first = header(response.headers(), "x-correlation-id")
        .expect("a generated id")
        .to_owned();
    assert!(first.len() >= 16, "{first}");

    let failure = Failure::read(gw.chat(&chat_body("no-such-alias")).await).await;
    failure.assert_envelope(404, "model_not_found");
    let second = failure.error()["correlation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, second, "every request gets its own id");

    // An id with spaces (or absurdly long) is replaced, not echoed.
    for unusable in ["has spaces in it", &"x".repeat(300)] {
        let response = gw
            .post_with(
                "/v1/chat/completions",
                &chat_body("local/chat"),
                &[("X-Correlation-Id", unusable)],
            )
            .await;
        assert_eq!(response.status(), 200);
        let id = header(response.headers(), "x-correlation-id").expect("an id");
        assert_ne!(id, unusable);
        assert!(!id.is_empty());
    }

    // Even health and listing answers carry one.
    let response = gw.get("/health/liveliness").await;
    assert!(header(response.headers(), "x-correlation-id").is_some());

    let received = gw.mock().received();
    assert_eq!(
        header(&received[0].headers, "x-correlation-id"),
        Some(first.as_str())
    );
    let rows = gw.finish().await;
    assert_eq!(row_for(&rows, &first).status, 200);
    let row = row_for(&rows, &second);
    assert_eq!(row.status, 404);
    assert_eq!(row.error_type.as_deref(), Some("model_not_found"));
}
