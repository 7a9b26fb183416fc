//! Idle HTTP/1 keep-alive connections are parked between requests (they keep the socket and
//! nothing of the codec) and serve the next request as if nothing happened: a request after
//! the pause, pipelined requests, a head split across the pause, a body. The gauge
//! `portcullis_parked_connections` counts them; this file is its own process so that no
//! other test's connections move it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONNECTIONS: usize = 20;

fn config() -> String {
    format!(
        "{api}listener:\n  address: 127.0.0.1:0\nadmin:\n  address: 127.0.0.1:0\nresources:\n  /hello:\n    GET:\n      integration:\n        type: mock\n        body: hi\n    POST:\n      integration:\n        type: mock\n        body: posted\n",
        api = api_header()
    )
}

/// Reads exactly one response with a `content-length` body; returns head and body.
async fn read_response(s: &mut TcpStream, pending: &mut Vec<u8>) -> (String, String) {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).into_owned();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().ok())?
                })
                .expect("content-length");
            if pending.len() >= end + 4 + len {
                let body = String::from_utf8_lossy(&pending[end + 4..end + 4 + len]).into_owned();
                pending.drain(..end + 4 + len);
                return (head, body);
            }
        }
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("no response")
            .unwrap();
        assert!(n > 0, "connection closed; got so far: {pending:?}");
        pending.extend_from_slice(&buf[..n]);
    }
}

async fn parked(admin: SocketAddr) -> f64 {
    let (_, _, body) = get(admin, "/metrics").await;
    body.lines()
        .find_map(|l| l.strip_prefix("portcullis_parked_connections "))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

async fn wait_parked(admin: SocketAddr, want: f64) {
    for _ in 0..100 {
        if parked(admin).await >= want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "{want} connections should be parked, found {}",
        parked(admin).await
    );
}

/// A connection that has been answered once and is now parked (the only one).
async fn parked_connection(addr: SocketAddr, admin: SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    read_response(&mut s, &mut Vec::new()).await;
    wait_parked(admin, 1.0).await;
    s
}

#[tokio::test]
async fn idle_connections_are_parked_and_serve_the_next_request() {
    let gw = gateway(&config()).await;
    let admin = gw.admin_addr().unwrap();
    let mut conns = Vec::new();
    for _ in 0..CONNECTIONS {
        let mut s = TcpStream::connect(gw.addr()).await.unwrap();
        let mut pending = Vec::new();
        s.write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let (head, body) = read_response(&mut s, &mut pending).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, "hi");
        conns.push((s, pending));
    }
    wait_parked(admin, CONNECTIONS as f64).await;

    // After the pause, each connection answers again, and parks again.
    for (s, pending) in &mut conns {
        s.write_all(b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\n")
            .await
            .unwrap();
        let (head, body) = read_response(s, pending).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(!head.to_ascii_lowercase().contains("connection: close"));
        assert_eq!(body, "hi");
    }
    wait_parked(admin, CONNECTIONS as f64).await;

    // Pipelined requests sent to a parked connection are answered in order.
    let (s, pending) = &mut conns[0];
    s.write_all(
        b"GET /hello HTTP/1.1\r\nhost: x\r\n\r\nPOST /hello HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\n\r\nhelloGET /hello HTTP/1.1\r\nhost: x\r\n\r\n",
    )
    .await
    .unwrap();
    for want in ["hi", "posted", "hi"] {
        let (head, body) = read_response(s, pending).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, want);
    }

    // A head split across a pause long enough to park is still one request; a request in
    // flight is never parked, however long its body takes.
    for (i, (first, rest, want)) in [
        (
            &b"GET /hello HTTP/1.1\r\nho"[..],
            &b"st: x\r\n\r\n"[..],
            "hi",
        ),
        (
            b"POST /hello HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\nab",
            b"cd",
            "posted",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let (s, pending) = &mut conns[1 + i];
        s.write_all(first).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.write_all(rest).await.unwrap();
        let (head, body) = read_response(s, pending).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(body, want);
    }

    // A malformed request on a parked connection gets the gateway's own 400 and a close.
    let (s, pending) = &mut conns[3];
    s.write_all(b"GET /hel lo HTTP/1.1\r\nhost: x\r\n\r\n")
        .await
        .unwrap();
    let (head, body) = read_response(s, pending).await;
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    assert!(head.to_ascii_lowercase().contains("x-amzn-requestid"));
    assert_eq!(body, r#"{"message":"Bad Request"}"#);

    // Closing the parked connections takes them off the gauge.
    conns.clear();
    for _ in 0..100 {
        if parked(admin).await == 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(parked(admin).await, 0.0);

    // Draining closes a parked connection at once.
    let mut s = parked_connection(gw.addr(), admin).await;
    let shutdown = tokio::spawn(gw.shutdown(Duration::from_secs(30)));
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .expect("a parked connection held the drain");
    assert!(matches!(closed, Ok(0) | Err(_)));
    tokio::time::timeout(Duration::from_secs(5), shutdown)
        .await
        .expect("shutdown waited for a parked connection")
        .unwrap();

    // A parked connection that starts a head and stalls is cut after header_read_timeout,
    // as a new one is: parking does not restart the clock for a head once it has begun.
    let gw = gateway(&config().replace(
        "address: 127.0.0.1:0\nadmin",
        "address: 127.0.0.1:0\n  header_read_timeout: 300ms\n  idle_timeout: 30s\nadmin",
    ))
    .await;
    let admin = gw.admin_addr().unwrap();
    let mut s = parked_connection(gw.addr(), admin).await;
    s.write_all(b"GET /hel").await.unwrap();
    let mut buf = [0u8; 1024];
    let cut = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(
        cut.is_ok(),
        "a stalled head on a parked connection was never cut"
    );
}
