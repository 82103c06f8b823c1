//! Upstream faults: whatever the API server does, the exporter stays up, answers 200
//! with `kube_metrics_server_up 0` and the error counted by reason, and recovers by
//! itself once the server heals.

mod support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use simulator::{self, MetricsApiVersion};
use support::{parse_exposition, series, value, wait_until_ok, Process, Sample, PATIENCE};

/// What the metrics lists answer instead of the fixture.
#[derive(Clone, Debug)]
enum Fault {
    Status(u16),
    Body(String),
}

#[derive(Clone, Default)]
struct Faults(Arc<Mutex<Option<Fault>>>);

impl Faults {
    fn set(&self, fault: Option<Fault>) {
        *self.0.lock().unwrap() = fault;
    }
}

async fn inject(State(faults): State<Faults>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    let is_list = path.starts_with("/apis/metrics.k8s.io/")
        && (path.ends_with("/pods") || path.ends_with("/nodes"));
    let fault = faults.0.lock().unwrap().clone();
    match fault {
        Some(Fault::Status(code)) if is_list => {
            let status = serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": format!("injected {code}"), "code": code,
            });
            (
                http::StatusCode::from_u16(code).unwrap(),
                [(http::header::CONTENT_TYPE, "application/json")],
                status.to_string(),
            )
                .into_response()
        }
        Some(Fault::Body(body)) if is_list => {
            ([(http::header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        _ => next.run(request).await,
    }
}

/// The fixture over plain HTTP with faults injected into the metrics lists.
async fn faulty_server(faults: Faults) -> String {
    let router = simulator::fixture_router(
        support::small_fixture(&[("default", "one"), ("default", "two")]),
        MetricsApiVersion::V1beta1,
    )
    .layer(axum::middleware::from_fn_with_state(faults, inject));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

fn write_kubeconfig(dir: &std::path::Path, url: &str) -> String {
    let path = dir.join("kubeconfig");
    std::fs::write(&path, simulator::kubeconfig(url)).unwrap();
    path.to_str().unwrap().to_owned()
}

async fn scrape(address: SocketAddr) -> Vec<Sample> {
    let response = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    parse_exposition(&response.text().await.unwrap())
}

fn errors(samples: &[Sample], reason: &str) -> f64 {
    value(
        samples,
        "kube_metrics_server_read_errors_total",
        &[("resource", "pods"), ("reason", reason)],
    )
    .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn each_upstream_fault_reports_up_0_with_its_reason_then_recovers() {
    let faults = Faults::default();
    let url = faulty_server(faults.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &url);
    let (mut exporter, address) = Process::exporter(
        &[
            "--kubeconfig",
            &kubeconfig,
            "--metrics.max-age",
            "0s",
            "--metrics.max-response-size",
            "64Ki",
        ],
        &[],
    );
    wait_until_ok(&format!("http://{address}/readyz")).await;

    let valid = r#"{"kind":"PodMetricsList","items":[{"metadata":{"name":"one","namespace":"default"},"containers":[{"name":"app","usage":{"cpu":"5m","memory":"1Mi"}}]}]}"#;
    let oversized = format!(
        r#"{{"kind":"PodMetricsList","metadata":{{"padding":"{}"}},"items":[]}}"#,
        "x".repeat(100 * 1024)
    );
    let cases = [
        (Fault::Status(403), "forbidden"),
        (Fault::Status(503), "unavailable"),
        (Fault::Status(404), "not_found"),
        (Fault::Status(401), "unauthorized"),
        (Fault::Body("{this is not json".into()), "decode"),
        (Fault::Body(valid[..valid.len() / 2].into()), "decode"),
        (Fault::Body("[1, 2, 3]".into()), "decode"),
        (Fault::Body(oversized), "too_large"),
    ];
    for (fault, reason) in cases {
        let before = errors(&scrape(address).await, reason);
        faults.set(Some(fault.clone()));
        let failed = scrape(address).await;
        assert_eq!(
            value(&failed, "kube_metrics_server_up", &[]),
            Some(0.0),
            "{fault:?}"
        );
        assert_eq!(errors(&failed, reason), before + 1.0, "{fault:?}");
        assert!(
            series(&failed, "kube_metrics_server_pod_cpu").is_empty(),
            "{fault:?}"
        );

        faults.set(None);
        let healed = scrape(address).await;
        assert_eq!(
            value(&healed, "kube_metrics_server_up", &[]),
            Some(1.0),
            "{fault:?}"
        );
        assert_eq!(series(&healed, "kube_metrics_server_pod_cpu").len(), 2);
        assert!(
            exporter.child.try_wait().unwrap().is_none(),
            "still running"
        );
    }

    let log = exporter.log_text();
    let forbidden = log
        .lines()
        .find(|line| line.contains("\"reason\":\"forbidden\""))
        .unwrap_or_else(|| panic!("no 403 warning in {log}"));
    assert!(
        forbidden.contains("needs get and list on")
            && forbidden.contains("in API group metrics.k8s.io, cluster-wide"),
        "a 403 names the missing permission: {forbidden}"
    );
    assert!(
        forbidden.contains(r#"user \"simulated\" (context \"simulated\")"#),
        "and the identity: {forbidden}"
    );
    assert!(!log.contains("panicked"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_at_start_then_recovers_by_itself() {
    let port = support::free_port();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &format!("http://127.0.0.1:{port}"));
    let (exporter, address) = Process::exporter(
        &[
            "--kubeconfig",
            &kubeconfig,
            "--metrics.max-age",
            "0s",
            "--metrics.timeout",
            "2s",
        ],
        &[],
    );
    let readyz = reqwest::get(format!("http://{address}/readyz"))
        .await
        .unwrap();
    assert_eq!(readyz.status(), 503, "not ready before the pod list");
    let down = scrape(address).await;
    assert_eq!(value(&down, "kube_metrics_server_up", &[]), Some(0.0));
    assert!(errors(&down, "transport") >= 1.0, "{down:?}");

    let other = dir.path().join("simulator.kubeconfig");
    let listen = format!("127.0.0.1:{port}");
    let (_simulator, _) = Process::simulator(
        &other,
        &["--listen-address", &listen, "--tick", "1h", "--churn", "0"],
    );
    wait_until_ok(&format!("http://{address}/readyz")).await;
    let up = scrape(address).await;
    assert_eq!(value(&up, "kube_metrics_server_up", &[]), Some(1.0));
    assert!(!series(&up, "kube_metrics_server_pod_cpu").is_empty());
    drop(exporter);
}

/// Scrapes until `done` holds for a scrape, within PATIENCE.
async fn scrape_until(address: SocketAddr, done: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let samples = scrape(address).await;
        if done(&samples) {
            return samples;
        }
        assert!(Instant::now() < deadline, "never recovered: {samples:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn api_server_restart_breaks_the_watch_and_the_index_relists() {
    let port = support::free_port();
    let listen = format!("127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let frozen = ["--listen-address", &listen, "--tick", "1h", "--churn", "0"];
    let (first, _) = Process::simulator(&kubeconfig, &[&frozen[..], &["--pods", "60"]].concat());
    let (_exporter, address) = Process::exporter(
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--metrics.max-age",
            "0s",
        ],
        &[],
    );
    wait_until_ok(&format!("http://{address}/readyz")).await;
    let before = scrape(address).await;
    assert_eq!(
        value(&before, "kube_metrics_server_pods_without_metadata", &[]),
        Some(0.0)
    );

    // The API server goes away mid-watch and comes back as a different cluster.
    drop(first);
    let down = scrape(address).await;
    assert_eq!(value(&down, "kube_metrics_server_up", &[]), Some(0.0));
    let restarted = [&frozen[..], &["--pods", "40", "--seed", "2"]].concat();
    let (_second, _) = Process::simulator(&kubeconfig, &restarted);

    let after = scrape_until(address, |samples| {
        value(samples, "kube_metrics_server_up", &[]) == Some(1.0)
            && value(samples, "kube_metrics_server_pods_without_metadata", &[]) == Some(0.0)
            && value(samples, "kube_metrics_server_pod_index_pods", &[]) == Some(40.0)
    })
    .await;
    let pods: std::collections::BTreeSet<(&str, &str)> = after
        .iter()
        .filter(|s| s.name == "kube_metrics_server_pod_cpu")
        .map(|s| (s.labels["namespace"].as_str(), s.labels["pod"].as_str()))
        .collect();
    assert_eq!(pods.len(), 40);
}
