//! `--web.listen-address` repeated, as exporter-toolkit takes it: the exporter listens
//! on every address given, and each serves everything. And `--web.telemetry-path`:
//! anywhere but on another endpoint's path.

mod support;

use std::net::SocketAddr;

use support::{get_text, wait_until_ok, Process};

#[tokio::test(flavor = "multi_thread")]
async fn every_listen_address_serves_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (_simulator, _) = Process::simulator(&kubeconfig, &["--tick", "1h", "--churn", "0"]);
    // The helper passes one 127.0.0.1:0; a second flag adds a second listener.
    let (exporter, first) = Process::exporter(
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.2:0",
        ],
        &[],
    );
    exporter
        .wait_for_log("listening on http://127.0.0.2:")
        .await;
    let addresses: Vec<SocketAddr> = exporter
        .log_text()
        .lines()
        .filter_map(|line| {
            let rest = &line[line.find("listening on http://")? + "listening on http://".len()..];
            rest.split('/').next()?.parse().ok()
        })
        .collect();
    assert_eq!(addresses.len(), 2, "{}", exporter.log_text());
    assert_eq!(addresses[0], first);
    assert_eq!(addresses[1].ip().to_string(), "127.0.0.2");
    for address in addresses {
        wait_until_ok(&format!("http://{address}/readyz")).await;
        let text = get_text(&format!("http://{address}/metrics")).await;
        assert!(
            text.contains("kube_metrics_server_up 1\n"),
            "{address}: {text}"
        );
        assert!(text.contains("kube_metrics_server_pod_cpu{"), "{address}");
    }
}

#[test]
fn a_telemetry_path_taken_by_another_endpoint_stops_the_start() {
    for taken in ["/healthz", "/readyz", "/api/v1/usage", "/static/page.js"] {
        let output = std::process::Command::new(support::BINARY)
            .args([
                "--web.listen-address",
                "127.0.0.1:0",
                "--web.telemetry-path",
                taken,
            ])
            .args(["--kubeconfig", "/nonexistent"])
            .output()
            .unwrap();
        assert!(!output.status.success(), "{taken} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!(
                "--web.telemetry-path {taken} is taken by another endpoint"
            )),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_custom_telemetry_path_serves_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (_simulator, _) = Process::simulator(&kubeconfig, &["--tick", "1h", "--churn", "0"]);
    let (_exporter, address) = Process::exporter(
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--web.telemetry-path",
            "/prometheus/metrics",
        ],
        &[],
    );
    wait_until_ok(&format!("http://{address}/readyz")).await;
    let text = get_text(&format!("http://{address}/prometheus/metrics")).await;
    assert!(text.contains("kube_metrics_server_up 1"), "{text}");
}
