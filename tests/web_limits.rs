//! Slow and greedy clients: one that trickles its request head, or opens a TLS connection
//! and says nothing, is disconnected after `--web.read-header-timeout`; request bodies
//! are refused. The exporter reads `metrics-server-prom simulate`.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;

use support::{Process, TestCa};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

struct Running {
    address: SocketAddr,
    _exporter: Process,
    _simulator: Process,
    _dir: tempfile::TempDir,
}

/// The exporter on the simulator, with `args`; `web_config` written beside, if given.
fn exporter(args: &[&str], web_config: Option<&str>) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (simulator, _) = Process::simulator(&kubeconfig, &["--tick", "1h", "--churn", "0"]);
    let mut all: Vec<String> = vec!["--kubeconfig".into(), kubeconfig.display().to_string()];
    all.extend(args.iter().map(|a| a.to_string()));
    if let Some(web_config) = web_config {
        let path: PathBuf = dir.path().join("web.yml");
        std::fs::write(&path, web_config).unwrap();
        let ca = TestCa::new("test CA");
        let server = ca.server("exporter");
        std::fs::write(dir.path().join("server.crt"), &server.cert_pem).unwrap();
        std::fs::write(dir.path().join("server.key"), &server.key_pem).unwrap();
        all.extend(["--web.config.file".into(), path.display().to_string()]);
    }
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let (exporter, address) = Process::exporter(&all, &[]);
    Running {
        address,
        _exporter: exporter,
        _simulator: simulator,
        _dir: dir,
    }
}

/// Writes `request` on a new connection and reads until the server closes it.
async fn exchange(address: SocketAddr, request: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(support::PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("the server never closed the connection")
        .unwrap();
    answer
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_trickling_its_request_head_is_disconnected() {
    let running = exporter(&["--web.read-header-timeout", "1s"], None);
    let address = running.address;

    // The request line and one header, then nothing: the server hangs up unanswered.
    let answer = exchange(address, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n").await;
    assert!(
        answer.is_empty(),
        "expected EOF, got {:?}",
        String::from_utf8_lossy(&answer)
    );

    // The same request completed is answered, and the connection held for the next one
    // is also let go once it idles past the timeout.
    let answer = exchange(address, b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n").await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("ok\n"), "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_silent_client_on_the_tls_port_is_disconnected() {
    let running = exporter(
        &["--web.read-header-timeout", "1s"],
        Some("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"),
    );
    let answer = exchange(running.address, b"").await;
    assert!(answer.is_empty(), "{answer:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn request_bodies_are_refused() {
    let running = exporter(&[], None);
    let answer = exchange(
        running.address,
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 100000\r\n\r\n",
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    let answer = exchange(
        running.address,
        b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
