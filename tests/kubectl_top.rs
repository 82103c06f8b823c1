//! `kubectl top` against `metrics-server-prom simulate` run as a real process: discovery,
//! the metrics lists and the node list must satisfy kubectl, and the values it prints
//! must be the quantities served, rounded as kubectl rounds them.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BINARY: &str = env!("CARGO_BIN_EXE_metrics-server-prom");

/// The kubectl to use: $KUBECTL, else the one on PATH.
fn kubectl_program() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned())
}

/// The simulator process, killed (by its own handle) when dropped.
struct Simulator {
    child: Child,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the simulator with a kubeconfig at `kubeconfig` and returns once it has
/// announced its address on stdout.
fn start_simulator(kubeconfig: &Path) -> (Simulator, String) {
    let mut child = Command::new(BINARY)
        .args([
            "simulate",
            "--listen-address",
            "127.0.0.1:0",
            "--tick",
            "1h",
            "--write-kubeconfig",
        ])
        .arg(kubeconfig)
        .env_remove("SIMULATE_LISTEN_ADDRESS")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the simulator");
    let stdout = child.stdout.take().expect("piped stdout");
    let simulator = Simulator { child };
    let mut lines = BufReader::new(stdout).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split_once("listening on ")
                .map(|(_, url)| url.trim().to_owned())
        })
        .expect("the simulator announces its address");
    // Keep reading so the simulator never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (simulator, url)
}

fn kubectl(kubeconfig: &Path, cache: &Path, args: &[&str]) -> String {
    let output = Command::new(kubectl_program())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache)
        .args(args)
        .env_remove("KUBECONFIG")
        .output()
        .expect("running kubectl");
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("UTF-8 output")
}

/// A quantity in billionths of its unit ("250m" is 250_000_000), for the spellings
/// the simulator serves.
fn nano_units(quantity: &str) -> u128 {
    let split = quantity
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(quantity.len());
    let (number, suffix) = quantity.split_at(split);
    let number: u128 = number.parse().expect("digits");
    let scale: u128 = match suffix {
        "n" => 1,
        "u" => 1_000,
        "m" => 1_000_000,
        "" => 1_000_000_000,
        "k" => 1_000_000_000_000,
        "Ki" => 1_000_000_000 << 10,
        "Mi" => 1_000_000_000 << 20,
        "Gi" => 1_000_000_000 << 30,
        other => panic!("unexpected suffix {other:?} in {quantity:?}"),
    };
    number * scale
}

/// CPU as kubectl top prints it: millicores rounded up.
fn kubectl_cpu(quantity: &str) -> String {
    format!("{}m", nano_units(quantity).div_ceil(1_000_000))
}

/// Memory as kubectl top prints it: whole bytes rounded up, then whole MiB rounded down.
fn kubectl_memory(quantity: &str) -> String {
    format!("{}Mi", nano_units(quantity).div_ceil(1_000_000_000) >> 20)
}

/// The rows of a kubectl table, split on whitespace, without the header.
fn rows(table: &str) -> Vec<Vec<&str>> {
    table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect())
        .collect()
}

#[test]
fn kubectl_top_shows_the_served_metrics() {
    if Command::new(kubectl_program())
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        panic!("kubectl is not installed: install it or set KUBECTL to its path (bash .ci/run installs it)");
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let kubeconfig = dir.path().join("kubeconfig");
    let cache = dir.path().join("cache");
    let (_simulator, url) = start_simulator(&kubeconfig);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let raw_pods: Value = serde_json::from_str(&kubectl(
        &kubeconfig,
        &cache,
        &["get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods"],
    ))
    .expect("PodMetricsList JSON");
    let mut expected = HashMap::new();
    for pod in raw_pods["items"].as_array().expect("items") {
        let namespace = pod["metadata"]["namespace"].as_str().unwrap();
        let name = pod["metadata"]["name"].as_str().unwrap();
        for container in pod["containers"].as_array().unwrap() {
            let usage = &container["usage"];
            expected.insert(
                (
                    namespace.to_owned(),
                    name.to_owned(),
                    container["name"].as_str().unwrap().to_owned(),
                ),
                (
                    kubectl_cpu(usage["cpu"].as_str().unwrap()),
                    kubectl_memory(usage["memory"].as_str().unwrap()),
                ),
            );
        }
    }

    let top_pods = kubectl(&kubeconfig, &cache, &["top", "pod", "-A", "--containers"]);
    let pod_rows = rows(&top_pods);
    assert_eq!(
        pod_rows.len(),
        expected.len(),
        "one row per container:\n{top_pods}"
    );
    for row in &pod_rows {
        let [namespace, pod, container, cpu, memory] = row[..] else {
            panic!("unexpected row {row:?}");
        };
        let key = (namespace.to_owned(), pod.to_owned(), container.to_owned());
        let (expected_cpu, expected_memory) = &expected[&key];
        assert_eq!(
            (cpu, memory),
            (expected_cpu.as_str(), expected_memory.as_str()),
            "{key:?}"
        );
    }
    for namespace in ["shop", "shop-staging"] {
        assert!(
            pod_rows
                .iter()
                .any(|row| row[0] == namespace && row[1] == "web-0"),
            "web-0 in {namespace}:\n{top_pods}"
        );
    }
    // Whole cores and zero were among the CPU values kubectl had to read.
    let served_cpu: Vec<&str> = raw_pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|pod| pod["containers"].as_array().unwrap())
        .map(|container| container["usage"]["cpu"].as_str().unwrap())
        .collect();
    assert!(served_cpu.contains(&"0"));
    assert!(served_cpu
        .iter()
        .any(|cpu| *cpu != "0" && cpu.bytes().all(|b| b.is_ascii_digit())));

    let one = kubectl(
        &kubeconfig,
        &cache,
        &["top", "pod", "-n", "shop-staging", "web-0"],
    );
    assert!(rows(&one).iter().any(|row| row[0] == "web-0"), "{one}");

    let raw_nodes: Value = serde_json::from_str(&kubectl(
        &kubeconfig,
        &cache,
        &["get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes"],
    ))
    .expect("NodeMetricsList JSON");
    let top_nodes = kubectl(&kubeconfig, &cache, &["top", "node"]);
    let node_rows = rows(&top_nodes);
    assert_eq!(node_rows.len(), 3, "{top_nodes}");
    for node in raw_nodes["items"].as_array().expect("items") {
        let name = node["metadata"]["name"].as_str().unwrap();
        let row = node_rows
            .iter()
            .find(|row| row[0] == name)
            .unwrap_or_else(|| panic!("{name} missing:\n{top_nodes}"));
        let [_, cpu, cpu_percent, memory, memory_percent] = row[..] else {
            panic!("unexpected row {row:?}");
        };
        assert_eq!(
            cpu,
            kubectl_cpu(node["usage"]["cpu"].as_str().unwrap()),
            "{name}"
        );
        assert_eq!(
            memory,
            kubectl_memory(node["usage"]["memory"].as_str().unwrap()),
            "{name}"
        );
        // Percentages of allocatable, which kubectl read from the node list.
        for percent in [cpu_percent, memory_percent] {
            let value: u32 = percent.trim_end_matches('%').parse().expect("a percentage");
            assert!(value > 0, "{name}: {row:?}");
        }
    }

    // kubectl top asked for protobuf and read the simulator's encoding, while
    // `get --raw` (the expected values above) read JSON: the two encodings agree.
    let tally: Value = serde_json::from_str(&kubectl(
        &kubeconfig,
        &cache,
        &["get", "--raw", "/simulator/requests"],
    ))
    .expect("the request tally");
    let protobuf = tally["protobuf_metrics_lists"].as_u64().expect("a count");
    assert_eq!(
        protobuf, 2,
        "kubectl top read the pod and node lists in protobuf: {tally}"
    );
}
