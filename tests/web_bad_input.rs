//! Bad input at the endpoint: huge or malformed request heads, unknown methods, paths
//! with `..` or encoded bytes, many pipelined requests and half-closed connections.
//! Each gets a clear 4xx or a closed connection, and the next good scrape is answered.
//! The exporter reads `metrics-server-prom simulate`, over raw TCP.

mod support;

use std::net::SocketAddr;

use support::Process;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Writes `request` on a new connection, closes the writing half, and reads until the
/// server closes the connection.
async fn exchange(address: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    // A server that stops reading may reset a connection still being written to.
    let _ = stream.write_all(request).await;
    let _ = stream.shutdown().await;
    let mut answer = Vec::new();
    let read = tokio::time::timeout(support::PATIENCE, stream.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server never closed the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

/// The status code of the first response in `answer`, if there is one.
fn status(answer: &str) -> Option<u16> {
    answer.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
}

/// A good scrape still works.
async fn still_scraped(address: SocketAddr) {
    let answer = exchange(
        address,
        b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(
        status(&answer),
        Some(200),
        "{}",
        &answer[..answer.len().min(300)]
    );
    assert!(answer.contains("kube_metrics_server_up 1\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_a_4xx_or_a_closed_connection_and_scrapes_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (_simulator, _) = Process::simulator(&kubeconfig, &["--tick", "1h", "--churn", "0"]);
    let (_exporter, address) =
        Process::exporter(&["--kubeconfig", kubeconfig.to_str().unwrap()], &[]);
    support::wait_until_ok(&format!("http://{address}/readyz")).await;
    still_scraped(address).await;

    let huge_header = format!(
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Filler: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let many_headers = format!(
        "GET /metrics HTTP/1.1\r\nHost: localhost\r\n{}\r\n",
        (0..2000)
            .map(|i| format!("X-{i}: {i}\r\n"))
            .collect::<String>()
    );
    let bad: Vec<(&str, Vec<u8>)> = vec![
        ("a 200 KiB header", huge_header.into_bytes()),
        ("2,000 headers", many_headers.into_bytes()),
        (
            "a request line that is not HTTP",
            b"GARBAGE\r\n\r\n".to_vec(),
        ),
        (
            "a control byte in a header value",
            b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Bad: a\x01b\r\n\r\n".to_vec(),
        ),
        (
            "a header without a colon",
            b"GET /metrics HTTP/1.1\r\nHost localhost\r\n\r\n".to_vec(),
        ),
        (
            "an HTTP version that does not exist",
            b"GET /metrics HTTP/7.3\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
        (
            "an unknown method",
            b"BREW /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
        (
            "DELETE",
            b"DELETE /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
        (
            "a path with ..",
            b"GET /../etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
        (
            "a path with encoded ..",
            b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
        (
            "a path below /metrics",
            b"GET /metrics/.. HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
        (
            "an encoded NUL in the path",
            b"GET /metrics%00 HTTP/1.1\r\nHost: localhost\r\n\r\n".to_vec(),
        ),
    ];
    for (what, request) in bad {
        let answer = exchange(address, &request).await;
        match status(&answer) {
            None => assert!(answer.is_empty(), "{what}: not HTTP: {answer:?}"),
            Some(code) => assert!(
                (400..500).contains(&code),
                "{what}: expected a 4xx or a closed connection, got {}",
                answer.lines().next().unwrap_or_default()
            ),
        }
        still_scraped(address).await;
    }

    // Many pipelined requests on one connection are each answered, in order.
    let pipelined = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n".repeat(99)
        + "GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let answer = exchange(address, pipelined.as_bytes()).await;
    assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 100, "{answer}");
    still_scraped(address).await;

    // A client that sends its request and closes its writing half still gets the answer.
    let answer = exchange(address, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    assert_eq!(status(&answer), Some(200), "{answer}");
    assert!(answer.ends_with("ok\n"), "{answer}");

    // One that connects and closes at once, or sends half a request line and closes.
    for request in [&b""[..], b"GET /metr"] {
        let answer = exchange(address, request).await;
        assert!(
            status(&answer).is_none_or(|code| (400..500).contains(&code)),
            "{answer}"
        );
    }
    still_scraped(address).await;
}
