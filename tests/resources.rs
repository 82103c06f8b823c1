//! `--resources`: requests, limits, capacity and allocatable exported beside usage with
//! the usage series' labels, exact, only where set, and absent without the flag; and the
//! pod and node watches that supply them, against the simulated cluster.

mod fixture_server;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fixture_server::FixtureServer;
use metrics_server_prom::connect::Connection;
use metrics_server_prom::scope::Scope;
use metrics_server_prom::sources::node_capacity::NodeIndex;
use metrics_server_prom::sources::pod_index::PodIndex;
use simulator::{self, SimulateArgs};
use support::{parse_exposition, series, wait_until_ok, Process};

/// The exporter reading the fixture server, once ready.
async fn exporter(
    server: &FixtureServer,
    dir: &std::path::Path,
    extra: &[&str],
) -> (Process, String) {
    let kubeconfig = server.write_kubeconfig(dir);
    let mut args = vec!["--kubeconfig", kubeconfig.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (process, address) = Process::exporter(&args, &[]);
    wait_until_ok(&format!("http://{address}/readyz")).await;
    (process, format!("http://{address}/metrics"))
}

async fn scrape(url: &str) -> String {
    let response = reqwest::get(url).await.unwrap();
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

fn labels(node: &str, pod: &str, ip: &str, container: &str, namespace: &str) -> String {
    format!("container={container},ip={ip},namespace={namespace},node={node},pod={pod}")
}

fn expect(entries: &[(String, f64)]) -> BTreeMap<String, f64> {
    entries.iter().cloned().collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn requests_limits_and_capacity_are_exported_beside_usage() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (_exporter, url) = exporter(&server, dir.path(), &["--resources"]).await;
    let text = scrape(&url).await;
    let samples = parse_exposition(&text);

    let shop_app = labels("node-a", "web-0", "10.0.0.10", "app", "shop");
    let shop_sidecar = labels("node-a", "web-0", "10.0.0.10", "sidecar", "shop");
    let blog_app = labels("node-b", "web-0", "10.0.1.20", "app", "blog");
    assert_eq!(
        series(&samples, "kube_metrics_server_pod_cpu_request"),
        expect(&[(shop_app.clone(), 0.1), (blog_app.clone(), 1.0)])
    );
    assert_eq!(
        series(&samples, "kube_metrics_server_pod_cpu_limit"),
        expect(&[(shop_app.clone(), 0.5)])
    );
    assert_eq!(
        series(&samples, "kube_metrics_server_pod_mem_request"),
        expect(&[
            (shop_app.clone(), 67_108_864.0),
            (shop_sidecar.clone(), 123_456_789.0)
        ])
    );
    assert_eq!(
        series(&samples, "kube_metrics_server_pod_mem_limit"),
        expect(&[
            (shop_app.clone(), 134_217_728.0),
            (blog_app.clone(), 1_073_741_824.0)
        ])
    );
    let node = |name: &str, value: f64| (format!("node={name}"), value);
    assert_eq!(
        series(&samples, "kube_metrics_server_node_cpu_capacity"),
        expect(&[node("node-a", 2.0), node("node-b", 4.0)])
    );
    assert_eq!(
        series(&samples, "kube_metrics_server_node_cpu_allocatable"),
        expect(&[node("node-a", 1.93), node("node-b", 3.91)])
    );
    assert_eq!(
        series(&samples, "kube_metrics_server_node_mem_capacity"),
        expect(&[
            node("node-a", 8_589_934_592.0),
            node("node-b", 16_710_139_904.0)
        ])
    );
    assert_eq!(
        series(&samples, "kube_metrics_server_node_mem_allocatable"),
        expect(&[
            node("node-a", 8_053_063_680.0),
            node("node-b", 16_642_998_272.0)
        ])
    );

    // Same labels as usage: utilisation is one division with no join.
    let cpu = series(&samples, "kube_metrics_server_pod_cpu");
    let requests = series(&samples, "kube_metrics_server_pod_cpu_request");
    let utilisation: BTreeMap<&String, f64> = requests
        .iter()
        .filter_map(|(labels, request)| Some((labels, cpu.get(labels)? / request)))
        .collect();
    assert_eq!(utilisation.len(), 2);
    assert_eq!(utilisation[&shop_app], 0.123456789 / 0.1);
    assert!(text.contains(
        "# HELP kube_metrics_server_pod_mem_request Memory request of a pod's container in bytes"
    ));
    assert!(text.contains("# TYPE kube_metrics_server_node_cpu_capacity gauge\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_flag_no_resource_family_is_exported() {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (_exporter, url) = exporter(&server, dir.path(), &[]).await;
    let text = scrape(&url).await;
    assert!(!series(&parse_exposition(&text), "kube_metrics_server_pod_cpu").is_empty());
    for family in [
        "_pod_cpu_request",
        "_pod_cpu_limit",
        "_pod_mem_request",
        "_pod_mem_limit",
        "_node_cpu_capacity",
        "_node_cpu_allocatable",
        "_node_mem_capacity",
        "_node_mem_allocatable",
    ] {
        assert!(!text.contains(family), "{family} in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn node_capacity_follows_node_usage_scope() {
    // With a namespace allow list and no --node-metrics there is no node usage, so no
    // node watch and no capacity; pod requests are still there.
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let (_exporter, url) = exporter(
        &server,
        dir.path(),
        &["--resources", "--namespaces", "shop"],
    )
    .await;
    let samples = parse_exposition(&scrape(&url).await);
    assert!(series(&samples, "kube_metrics_server_node_cpu_capacity").is_empty());
    assert_eq!(
        series(&samples, "kube_metrics_server_pod_cpu_request").len(),
        1,
        "shop/web-0/app only"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watches_keep_requirements_and_capacity_of_the_simulated_cluster() {
    let cluster = simulator::start(&SimulateArgs {
        pods: 60,
        nodes: 4,
        tick: Duration::from_secs(3600),
        churn: 0.0,
        ..SimulateArgs::default()
    })
    .await
    .unwrap();
    let connection = Connection::unauthenticated(cluster.url(), "simulated").unwrap();
    let scope = Arc::new(Scope::default());

    let lean = PodIndex::spawn(connection.watch_client().unwrap(), scope.clone());
    let with_resources =
        PodIndex::spawn_with_resources(connection.watch_client().unwrap(), scope.clone());
    let nodes = NodeIndex::spawn(connection.watch_client().unwrap());
    lean.synced().await;
    with_resources.synced().await;
    nodes.synced().await;

    assert!(lean.resources().is_none(), "nothing kept without the flag");
    assert_eq!(with_resources.len(), 60);
    // The simulator gives about nine workloads in ten requests (and a memory limit).
    let kept = with_resources.resources().unwrap().len();
    assert!(kept > 0 && kept <= 60, "{kept}");

    let list: serde_json::Value = reqwest::get(format!("{}/api/v1/pods", cluster.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let resources = with_resources.resources().unwrap();
    for pod in list["items"].as_array().unwrap() {
        let (namespace, name) = (
            pod["metadata"]["namespace"].as_str().unwrap(),
            pod["metadata"]["name"].as_str().unwrap(),
        );
        for container in pod["spec"]["containers"].as_array().unwrap() {
            let requests = &container["resources"]["requests"];
            let kept = resources.get(namespace, name, container["name"].as_str().unwrap());
            match requests["cpu"].as_str() {
                None => assert_eq!(kept, None, "{namespace}/{name}"),
                Some(cpu) => {
                    let kept = kept.unwrap();
                    let memory = requests["memory"].as_str().unwrap();
                    assert_eq!(
                        kept.cpu_request,
                        metrics_server_prom::quantity::parse(cpu).ok()
                    );
                    assert_eq!(
                        kept.memory_request,
                        metrics_server_prom::quantity::parse(memory).ok()
                    );
                    assert_eq!(kept.memory_limit, kept.memory_request);
                    assert_eq!(kept.cpu_limit, None);
                }
            }
        }
    }

    assert_eq!(nodes.len(), 4);
    let list: serde_json::Value = reqwest::get(format!("{}/api/v1/nodes", cluster.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for node in list["items"].as_array().unwrap() {
        let name = node["metadata"]["name"].as_str().unwrap();
        let kept = nodes.get(name).unwrap();
        let quantity = |path: &str, what: &str| {
            metrics_server_prom::quantity::parse(node["status"][path][what].as_str().unwrap()).ok()
        };
        assert_eq!(kept.cpu_capacity, quantity("capacity", "cpu"));
        assert_eq!(kept.memory_allocatable, quantity("allocatable", "memory"));
        assert!(kept.cpu_allocatable < kept.cpu_capacity, "{name}");
    }

    lean.stop();
    with_resources.stop();
    nodes.stop();
    cluster.shutdown().await;
}
