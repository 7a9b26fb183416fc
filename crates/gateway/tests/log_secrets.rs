//! The log-secret watch of the test harness (`common/logwatch.rs`) itself: it captures the
//! gateway's tracing output and access log, and a secret in either fails the test. The
//! other test binaries run the same watch over all their traffic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs,
    reason = "tests"
)]

mod common;

use common::*;
use http::Request;

#[tokio::test]
async fn a_secret_in_a_log_line_fails_the_check() {
    let gw = gateway(&format!(
        "{}listener:\n  address: 127.0.0.1:0\nresources:\n  /hello:\n    GET:\n      authorizer: NONE\n      integration:\n        type: mock\n        body: hi\n",
        api_header()
    ))
    .await;
    let token = "eyJhbGciOiJIUzI1NiJ9.watched-token-value.c2lnbmF0dXJl";
    let req = Request::get(format!("http://{}/hello", gw.addr()))
        .header("authorization", format!("Bearer {token}"))
        .body(empty())
        .unwrap();
    let (status, _, _) = send(&client(), req).await;
    assert_eq!(status, 200);
    // The gateway's tracing lines are captured, and its access-log line is read once the
    // writer has written it.
    assert!(logwatch::captured().0 > 0, "no tracing line was captured");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while logwatch::captured().1 == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no access-log line was read"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        logwatch::check();
    }

    // A line that does carry it is caught, wherever it comes from.
    tracing::info!(header = %format!("Bearer {token}"), "a careless line");
    let caught = std::panic::catch_unwind(logwatch::check).unwrap_err();
    let message = caught.downcast_ref::<String>().unwrap();
    assert!(message.contains("watched-token-value"), "{message}");
    // Reported once: the next check is clean again.
    logwatch::check();
}
