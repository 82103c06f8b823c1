//! `--selector` (issue #9, part 5): the label selector reaches the API server on both
//! reads, the PodMetrics list and the pod watch, so neither carries other pods, and
//! only the selected pods are exported, by `serve` and by `snapshot`. The simulated
//! API server honours `labelSelector` on both and counts the requests that carry one.

mod support;

use std::collections::BTreeSet;
use std::process::Command;

use simulator::{RequestTally, SimulateArgs};
use support::{parse_exposition, wait_until_ok, Process};

const BINARY: &str = env!("CARGO_BIN_EXE_metrics-server-prom");

async fn get_json(url: &str) -> serde_json::Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

use support::request_tally as tally;

/// namespace/name of every item of a list.
fn keys(items: &[serde_json::Value]) -> BTreeSet<String> {
    items
        .iter()
        .map(|item| {
            let meta = &item["metadata"];
            format!(
                "{}/{}",
                meta["namespace"].as_str().unwrap(),
                meta["name"].as_str().unwrap()
            )
        })
        .collect()
}

/// A simulated cluster that does not change, the selector `app in (A, B),!canary` for
/// its two most common apps, and the pods that have metrics and that selector selects,
/// worked out here from the unfiltered lists.
struct Arranged {
    simulator: simulator::RunningSimulator,
    kubeconfig: tempfile::NamedTempFile,
    selector: String,
    selected: BTreeSet<String>,
    all: BTreeSet<String>,
}

async fn arrange() -> Arranged {
    let args = SimulateArgs {
        pods: 60,
        churn: 0.0,
        ..SimulateArgs::default()
    };
    let simulator = simulator::start(&args).await.unwrap();
    let api = simulator.url().to_owned();
    let pods = get_json(&format!("{api}/api/v1/pods")).await;
    let pods = pods["items"].as_array().unwrap().clone();
    let mut apps: Vec<(usize, String)> = Vec::new();
    for pod in &pods {
        if let Some(app) = pod["metadata"]["labels"]["app"].as_str() {
            match apps.iter_mut().find(|(_, name)| name == app) {
                Some((count, _)) => *count += 1,
                None => apps.push((1, app.to_owned())),
            }
        }
    }
    apps.sort();
    let chosen: Vec<String> = apps
        .iter()
        .rev()
        .take(2)
        .map(|(_, app)| app.clone())
        .collect();
    assert_eq!(chosen.len(), 2, "the simulated cluster has several apps");
    let selected_pods: Vec<serde_json::Value> = pods
        .iter()
        .filter(|pod| {
            pod["metadata"]["labels"]["app"]
                .as_str()
                .is_some_and(|app| chosen.iter().any(|c| c == app))
        })
        .cloned()
        .collect();
    let metrics = get_json(&format!("{api}/apis/metrics.k8s.io/v1beta1/pods")).await;
    let with_metrics = keys(metrics["items"].as_array().unwrap());
    let selected: BTreeSet<String> = keys(&selected_pods)
        .intersection(&with_metrics)
        .cloned()
        .collect();
    assert!(!selected.is_empty());
    assert!(
        selected.len() < with_metrics.len(),
        "the selector leaves pods out"
    );
    let kubeconfig = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(kubeconfig.path(), simulator::kubeconfig(&api)).unwrap();
    Arranged {
        simulator,
        kubeconfig,
        selector: format!("app in ({}, {}),!canary", chosen[0], chosen[1]),
        selected,
        all: with_metrics,
    }
}

/// The requests made since `before` that read pods or PodMetrics all carried a label
/// selector, and there was at least one of each.
fn every_pod_read_was_labelled(before: RequestTally, after: RequestTally) {
    let metrics_lists = after.pod_metrics_lists - before.pod_metrics_lists;
    let pod_reads = after.pod_lists + after.pod_watches - before.pod_lists - before.pod_watches;
    assert!(metrics_lists > 0 && pod_reads > 0, "{before:?} {after:?}");
    assert_eq!(
        after.labelled_pod_metrics_lists - before.labelled_pod_metrics_lists,
        metrics_lists,
        "every PodMetrics list carried the selector"
    );
    assert_eq!(
        after.labelled_pod_reads - before.labelled_pod_reads,
        pod_reads,
        "every pod list and watch carried the selector"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_exports_only_the_selected_pods() {
    let arranged = arrange().await;
    let api = arranged.simulator.url().to_owned();
    let before = tally(&api).await;
    let kubeconfig = arranged.kubeconfig.path().to_str().unwrap();
    let (_exporter, address) = Process::exporter(
        &["--kubeconfig", kubeconfig],
        &[("SELECTOR", &arranged.selector)],
    );
    wait_until_ok(&format!("http://{address}/readyz")).await;
    let text = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let exported: BTreeSet<String> = parse_exposition(&text)
        .into_iter()
        .filter(|sample| sample.name == "kube_metrics_server_pod_cpu")
        .map(|sample| format!("{}/{}", sample.labels["namespace"], sample.labels["pod"]))
        .collect();
    assert_eq!(exported, arranged.selected);
    assert!(exported.len() < arranged.all.len());
    every_pod_read_was_labelled(before, tally(&api).await);
    arranged.simulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn snapshot_prints_only_the_selected_pods() {
    let arranged = arrange().await;
    let api = arranged.simulator.url().to_owned();
    let before = tally(&api).await;
    let kubeconfig = arranged.kubeconfig.path().to_owned();
    let selector = arranged.selector.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(BINARY)
            .args(["snapshot", "-o", "json", "--selector", &selector])
            .arg("--kubeconfig")
            .arg(kubeconfig)
            .env_remove("KUBECONFIG")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    let printed: BTreeSet<String> = rows
        .iter()
        .map(|row| {
            format!(
                "{}/{}",
                row["namespace"].as_str().unwrap(),
                row["pod"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(printed, arranged.selected);
    assert!(
        rows.iter()
            .all(|row| !row["node"].as_str().unwrap().is_empty()),
        "the pod watch knew every selected pod"
    );
    every_pod_read_was_labelled(before, tally(&api).await);
    arranged.simulator.shutdown().await;
}

#[test]
fn a_malformed_selector_is_refused_before_connecting() {
    let output = Command::new(BINARY)
        .args(["snapshot", "--selector", "app in web"])
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("not a label selector"), "{said}");
}
