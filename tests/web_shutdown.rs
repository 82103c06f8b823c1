//! SIGTERM during a scrape: the listener closes, the scrape in flight finishes and the
//! exporter exits 0; with an upstream that never answers, it exits 0 once
//! `--web.shutdown-timeout` has passed. The upstream is the TLS API server of
//! tests/support, whose metrics lists the tests hold and release.

mod support;

use std::sync::atomic::Ordering;

use simulator::MetricsApiVersion;
use support::{parse_exposition, value, wait_until_ok, Process, TlsApiServer};

async fn start(
    args: &[&str],
) -> (
    TlsApiServer,
    Process,
    std::net::SocketAddr,
    tempfile::TempDir,
) {
    let server = TlsApiServer::start(
        support::small_fixture(&[("default", "web-0")]),
        MetricsApiVersion::V1beta1,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.write_kubeconfig(dir.path());
    let mut all = vec![
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
        "--context",
        "working",
    ];
    all.extend_from_slice(args);
    let (exporter, address) = Process::exporter(&all, &[]);
    wait_until_ok(&format!("http://{address}/readyz")).await;
    (server, exporter, address, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_lets_the_scrape_in_flight_finish_then_exits_0() {
    let (server, mut exporter, address, _dir) = start(&[]).await;
    server.metrics_status.store(support::HOLD, Ordering::SeqCst);
    let scrape = tokio::spawn(reqwest::get(format!("http://{address}/metrics")));
    server.wait_until_waiting(2).await;

    exporter.signal("TERM");
    exporter.wait_for_log("stopped accepting connections").await;
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "new connections are refused once shutdown has begun"
    );

    server.release();
    let response = scrape
        .await
        .unwrap()
        .expect("the scrape in flight is answered");
    assert_eq!(response.status(), 200);
    let samples = parse_exposition(&response.text().await.unwrap());
    assert_eq!(value(&samples, "kube_metrics_server_up", &[]), Some(1.0));

    let status = exporter.wait_exit().await;
    assert!(status.success(), "{status:?}\n{}", exporter.log_text());
    assert!(!exporter.log_text().contains("exiting anyway"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_with_the_upstream_stalled_exits_0_after_the_shutdown_timeout() {
    let (server, mut exporter, address, _dir) =
        start(&["--metrics.timeout", "10m", "--web.shutdown-timeout", "1s"]).await;
    server
        .metrics_status
        .store(support::STALL, Ordering::SeqCst);
    let scrape = tokio::spawn(reqwest::get(format!("http://{address}/metrics")));
    server.wait_until_waiting(2).await;

    exporter.signal("TERM");
    let status = exporter.wait_exit().await;
    assert!(status.success(), "{status:?}\n{}", exporter.log_text());
    assert!(
        exporter.log_text().contains("exiting anyway"),
        "{}",
        exporter.log_text()
    );
    assert!(
        scrape.await.unwrap().is_err(),
        "the stalled scrape is cut off, not answered"
    );
}
