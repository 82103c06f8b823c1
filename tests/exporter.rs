//! The exporter binary as a process against a TLS API server with a bearer token,
//! selected through KUBE_CONTEXT from a kubeconfig with two contexts.

mod fixture_server;
mod support;

use std::sync::atomic::Ordering;

use fixture_server::fixture;
use simulator::MetricsApiVersion;
use support::{parse_exposition, series, value, wait_until_ok, Process, TlsApiServer};

/// A TLS API server serving `fixture()` and the exporter reading it through a
/// kubeconfig; `env` selects the context, `args` adds flags.
struct Running {
    server: TlsApiServer,
    exporter: Process,
    address: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

async fn run_exporter(version: MetricsApiVersion, args: &[&str], env: &[(&str, &str)]) -> Running {
    let server = TlsApiServer::start(fixture(), version).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.write_kubeconfig(dir.path());
    let mut all_args = vec!["--kubeconfig", kubeconfig.to_str().unwrap()];
    all_args.extend_from_slice(args);
    let (exporter, address) = Process::exporter(&all_args, env);
    Running {
        server,
        exporter,
        address,
        _dir: dir,
    }
}

async fn run_ready_exporter(args: &[&str]) -> Running {
    let running = run_exporter(
        MetricsApiVersion::V1beta1,
        args,
        &[("KUBE_CONTEXT", "working")],
    )
    .await;
    wait_until_ok(&format!("http://{}/readyz", running.address)).await;
    running
}

fn labels(node: &str, pod: &str, ip: &str, container: &str, namespace: &str) -> String {
    format!("container={container},ip={ip},namespace={namespace},node={node},pod={pod}")
}

#[tokio::test(flavor = "multi_thread")]
async fn exports_every_series_through_tls_and_kube_context() {
    let running = run_ready_exporter(&[]).await;
    let (server, address) = (&running.server, running.address);

    let response = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let samples = parse_exposition(&response.text().await.unwrap());

    let cpu = series(&samples, "kube_metrics_server_pod_cpu");
    let want_cpu = [
        (
            labels(
                "node-a",
                "etcd-server-events-abc",
                "10.30.62.138",
                "etcd-container",
                "kube-system",
            ),
            0.007,
        ),
        (
            labels("node-a", "web-0", "10.0.0.10", "app", "shop"),
            0.123456789,
        ),
        (
            labels("node-a", "web-0", "10.0.0.10", "sidecar", "shop"),
            0.0015,
        ),
        (labels("node-b", "web-0", "10.0.1.20", "app", "blog"), 1.0),
        (labels("node-b", "web-0", "10.0.1.20", "idle", "blog"), 0.0),
        (labels("", "just-deleted", "", "app", "blog"), 0.002),
    ];
    assert_eq!(cpu, want_cpu.into_iter().collect(), "pod cpu");

    let memory = series(&samples, "kube_metrics_server_pod_mem");
    let want_memory = [
        (
            labels(
                "node-a",
                "etcd-server-events-abc",
                "10.30.62.138",
                "etcd-container",
                "kube-system",
            ),
            128_458_752.0,
        ),
        (
            labels("node-a", "web-0", "10.0.0.10", "app", "shop"),
            1_048_576.0,
        ),
        (
            labels("node-a", "web-0", "10.0.0.10", "sidecar", "shop"),
            123_456_789.0,
        ),
        (
            labels("node-b", "web-0", "10.0.1.20", "app", "blog"),
            1_073_741_824.0,
        ),
        (
            labels("node-b", "web-0", "10.0.1.20", "idle", "blog"),
            1000.0,
        ),
        (labels("", "just-deleted", "", "app", "blog"), 2_097_152.0),
        (
            labels("node-b", "broken-quantity", "10.0.1.30", "app", "shop"),
            3_145_728.0,
        ),
    ];
    assert_eq!(memory, want_memory.into_iter().collect(), "pod memory");

    let node_cpu = series(&samples, "kube_metrics_server_node_cpu");
    assert_eq!(
        node_cpu,
        [
            ("node=node-a".to_owned(), 1.5),
            ("node=node-b".to_owned(), 0.250123456)
        ]
        .into()
    );
    let node_memory = series(&samples, "kube_metrics_server_node_mem");
    assert_eq!(
        node_memory,
        [
            ("node=node-a".to_owned(), 4_294_967_296.0),
            ("node=node-b".to_owned(), 2_147_483_648.0)
        ]
        .into()
    );

    assert_eq!(value(&samples, "kube_metrics_server_up", &[]), Some(1.0));
    assert_eq!(
        value(&samples, "kube_metrics_server_pods_without_metadata", &[]),
        Some(1.0)
    );
    assert_eq!(
        value(
            &samples,
            "kube_metrics_server_quantity_parse_errors_total",
            &[("resource", "pod"), ("usage", "cpu")]
        ),
        Some(1.0)
    );
    assert_eq!(
        value(&samples, "kube_metrics_server_pod_index_pods", &[]),
        Some(4.0)
    );
    assert_eq!(
        value(
            &samples,
            "kube_metrics_server_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        Some(1.0)
    );

    let log = running.exporter.log_text();
    let started = log
        .lines()
        .find(|line| line.contains("is served"))
        .unwrap_or_else(|| panic!("no start line in:\n{log}"));
    assert!(started.contains(&server.url), "{started}");
    assert!(started.contains("\"context\":\"working\""), "{started}");
    assert!(started.contains("\"user\":\"tester\""), "{started}");
    assert!(started.contains("metrics.k8s.io/v1beta1"), "{started}");
    assert!(
        !log.contains(&server.token),
        "the token must never be logged"
    );
    assert!(
        log.contains("skipping series with an invalid quantity"),
        "{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_api_failure_answers_200_with_up_0_then_recovers() {
    let running = run_exporter(
        MetricsApiVersion::V1beta1,
        &["--context", "working", "--metrics.max-age", "0s"],
        &[],
    )
    .await;
    let (server, address) = (&running.server, running.address);
    wait_until_ok(&format!("http://{address}/readyz")).await;
    let scrape = || async {
        let response = reqwest::get(format!("http://{address}/metrics"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        parse_exposition(&response.text().await.unwrap())
    };

    server.metrics_status.store(503, Ordering::SeqCst);
    let before = server.metrics_requests.load(Ordering::SeqCst);
    let samples = scrape().await;
    assert_eq!(
        server.metrics_requests.load(Ordering::SeqCst) - before,
        2,
        "one request per list, no retries of the 503"
    );
    assert_eq!(value(&samples, "kube_metrics_server_up", &[]), Some(0.0));
    assert!(
        series(&samples, "kube_metrics_server_pod_cpu").is_empty(),
        "no stale usage"
    );
    assert!(
        series(&samples, "kube_metrics_server_node_mem").is_empty(),
        "no stale usage"
    );
    assert_eq!(
        value(
            &samples,
            "kube_metrics_server_read_errors_total",
            &[("resource", "pods"), ("reason", "unavailable")]
        ),
        Some(1.0)
    );

    server.metrics_status.store(0, Ordering::SeqCst);
    let samples = scrape().await;
    assert_eq!(value(&samples, "kube_metrics_server_up", &[]), Some(1.0));
    assert_eq!(series(&samples, "kube_metrics_server_pod_cpu").len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn openmetrics_and_gzip_when_asked() {
    let running = run_ready_exporter(&[]).await;
    let address = running.address;

    let plain = reqwest::Client::builder().no_gzip().build().unwrap();
    let response = plain
        .get(format!("http://{address}/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(response.headers().get("content-encoding").is_none());
    let body = response.text().await.unwrap();
    assert!(body.ends_with("# EOF\n"), "{body}");

    let response = plain
        .get(format!("http://{address}/metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let gzipped = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap();
    let samples = parse_exposition(&gzipped.text().await.unwrap());
    assert_eq!(series(&samples, "kube_metrics_server_pod_cpu").len(), 6);

    for path in ["/", "/healthz"] {
        let response = reqwest::get(format!("http://{address}{path}"))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let landing = reqwest::get(format!("http://{address}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(landing.contains("href=\"/metrics\""), "{landing}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_current_context_alone_is_rejected_by_the_server() {
    let running = run_exporter(
        MetricsApiVersion::V1beta1,
        &["--metrics.timeout", "2s"],
        &[],
    )
    .await;
    let address = running.address;
    let samples = parse_exposition(
        &reqwest::get(format!("http://{address}/metrics"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(value(&samples, "kube_metrics_server_up", &[]), Some(0.0));
    assert_eq!(
        value(
            &samples,
            "kube_metrics_server_read_errors_total",
            &[("resource", "pods"), ("reason", "unauthorized")]
        ),
        Some(1.0)
    );
}

#[test]
fn unknown_context_fails_at_start_and_lists_the_contexts() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(TlsApiServer::start(fixture(), MetricsApiVersion::V1beta1));
    let kubeconfig = server.write_kubeconfig(dir.path());
    let output = std::process::Command::new(support::BINARY)
        .args([
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.1:0",
        ])
        .env("KUBE_CONTEXT", "staging")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("\"staging\""), "{stderr}");
    assert!(stderr.contains("broken, working"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_metrics_api_is_cut_off_by_the_timeout() {
    let running = run_ready_exporter(&["--metrics.timeout", "1s"]).await;
    let (server, address) = (&running.server, running.address);
    server
        .metrics_status
        .store(support::STALL, Ordering::SeqCst);
    let response = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let samples = parse_exposition(&response.text().await.unwrap());
    assert_eq!(value(&samples, "kube_metrics_server_up", &[]), Some(0.0));
    assert_eq!(
        value(
            &samples,
            "kube_metrics_server_read_errors_total",
            &[("resource", "nodes"), ("reason", "timeout")]
        ),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_and_sigint_shut_down_cleanly() {
    for signal in ["-TERM", "-INT"] {
        let Running { mut exporter, .. } = run_ready_exporter(&[]).await;
        let pid = exporter.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let status = exporter.child.wait().unwrap();
        assert!(
            status.success(),
            "{signal}: {status:?}\n{}",
            exporter.log_text()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_picks_metrics_v1_where_served() {
    let running = run_exporter(MetricsApiVersion::V1, &[], &[("KUBE_CONTEXT", "working")]).await;
    wait_until_ok(&format!("http://{}/readyz", running.address)).await;
    let samples = parse_exposition(
        &reqwest::get(format!("http://{}/metrics", running.address))
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    assert_eq!(value(&samples, "kube_metrics_server_up", &[]), Some(1.0));
    let log = running.exporter.log_text();
    assert!(
        log.contains("\"metrics_api\":\"metrics.k8s.io/v1\""),
        "{log}"
    );
}
