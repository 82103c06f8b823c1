//! The compose demo's Prometheus configuration, rules and Grafana dashboard, run for real:
//! Prometheus (Debian package `prometheus`; the test fails without it, never skips)
//! loads `example/prometheus/` as the demo mounts it, with only the addresses and
//! intervals changed, and scrapes the exporter, run with `--resources` as in the demo,
//! on the simulator. Every query of every dashboard panel must then return data, so a
//! panel that shows nothing in the demo (a metric renamed, a rule missing) fails here.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::{free_port, tool, wait_until_ok, KillOnDrop, Process, PATIENCE};

/// The values the dashboard's Grafana variables stand for in these queries.
const VARIABLES: &[(&str, &str)] = &[
    ("$__rate_interval", "1m"),
    ("$__interval", "15s"),
    ("$__range", "1h"),
    ("$namespace", ".*"),
    ("$node", ".*"),
    ("$pod", ".*"),
];

struct PanelQuery {
    panel: String,
    promql: String,
    /// The panel shows a value of its own when the query has none (error counters).
    may_be_empty: bool,
}

fn dashboard_queries() -> Vec<PanelQuery> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("example/grafana/dashboards/metrics-server-prom.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let may_be_empty = !panel["fieldConfig"]["defaults"]["noValue"].is_null();
        for target in panel["targets"].as_array().into_iter().flatten() {
            let mut promql = target["expr"].as_str().unwrap().to_owned();
            for (variable, value) in VARIABLES {
                promql = promql.replace(variable, value);
            }
            queries.push(PanelQuery {
                panel: panel["title"].as_str().unwrap().to_owned(),
                promql,
                may_be_empty,
            });
        }
    }
    queries
}

/// `example/prometheus/` copied into `dir`, its targets pointed at `exporter` and
/// Prometheus itself, and its intervals at one second.
fn demo_prometheus_config(dir: &Path, exporter: &str, prometheus: &str) -> std::path::PathBuf {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("example/prometheus");
    std::fs::create_dir(dir.join("rules")).unwrap();
    for entry in std::fs::read_dir(example.join("rules")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join("rules").join(entry.file_name())).unwrap();
    }
    let config = std::fs::read_to_string(example.join("prometheus.yml")).unwrap();
    for expected in ["exporter:9100", "localhost:9090", "scrape_interval: 15s"] {
        assert!(
            config.contains(expected),
            "prometheus.yml has no {expected}"
        );
    }
    let config = config
        .replace("exporter:9100", exporter)
        .replace("localhost:9090", prometheus)
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("scrape_timeout: 10s", "scrape_timeout: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s");
    let path = dir.join("prometheus.yml");
    std::fs::write(&path, config).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread")]
async fn every_dashboard_panel_shows_data_from_the_demo_setup() {
    let prometheus_binary = tool("prometheus");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (_simulator, _) = Process::simulator(
        &kubeconfig,
        &[
            "--pods", "30", "--nodes", "3", "--tick", "1h", "--churn", "0",
        ],
    );
    let (_exporter, address) = Process::exporter(
        &["--kubeconfig", kubeconfig.to_str().unwrap(), "--resources"],
        &[],
    );
    wait_until_ok(&format!("http://{address}/readyz")).await;

    let port = free_port();
    let prometheus_address = format!("127.0.0.1:{port}");
    let config = demo_prometheus_config(dir.path(), &address.to_string(), &prometheus_address);
    let _prometheus = KillOnDrop(
        std::process::Command::new(prometheus_binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={prometheus_address}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let prometheus = format!("http://{prometheus_address}");
    wait_until_ok(&format!("{prometheus}/-/ready")).await;

    let queries = dashboard_queries();
    assert!(
        queries
            .iter()
            .any(|q| q.promql.contains("process_resident_memory_bytes")),
        "the dashboard shows the exporter's memory"
    );
    // Rates need two scrapes and recording rules an evaluation: poll until every query
    // has data, or report those that never had.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut empty = Vec::new();
        for query in queries.iter().filter(|q| !q.may_be_empty) {
            if support::prometheus_query(&prometheus, &query.promql)
                .await
                .is_empty()
            {
                empty.push(format!("{}: {}", query.panel, query.promql));
            }
        }
        if empty.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "dashboard queries without data:\n{}",
            empty.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // With --resources the ratio alerts have one ratio per node to judge, and the
    // absolute ones leave those nodes alone.
    let ratios = support::prometheus_query(
        &prometheus,
        "kube_metrics_server_node_cpu / kube_metrics_server_node_cpu_allocatable",
    )
    .await;
    assert_eq!(ratios.len(), 3, "{ratios:?}");
    let absolute = support::prometheus_query(
        &prometheus,
        "kube_metrics_server_node_cpu unless on (job, instance, node) kube_metrics_server_node_cpu_allocatable",
    )
    .await;
    assert!(absolute.is_empty(), "{absolute:?}");
    let rules: serde_json::Value = reqwest::get(format!("{prometheus}/api/v1/rules"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rules = rules.to_string();
    for alert in ["KubeNodeCPUNearAllocatable", "KubeNodeHighCPUUsage"] {
        assert!(rules.contains(alert), "{alert} not loaded");
    }
}
