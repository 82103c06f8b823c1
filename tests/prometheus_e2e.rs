//! End to end with a real Prometheus: the exporter runs against `metrics-server-prom
//! simulate`, Prometheus scrapes it, and the values read back through Prometheus' query
//! API equal the quantities the simulator served. Needs the `prometheus` and `promtool`
//! binaries (Debian package `prometheus`); without them this test fails, never skips.

mod support;

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{free_port, parse_exposition, tool, wait_until_ok, Process, PATIENCE};

/// The value of a Kubernetes quantity computed independently of the crate's parser:
/// Rust's correctly rounded decimal parser on the equivalent scientific notation.
fn expected(quantity: &str) -> f64 {
    let binary = [
        ("Ki", 10),
        ("Mi", 20),
        ("Gi", 30),
        ("Ti", 40),
        ("Pi", 50),
        ("Ei", 60),
    ];
    for (suffix, power) in binary {
        if let Some(number) = quantity.strip_suffix(suffix) {
            return number.parse::<f64>().unwrap() * 2f64.powi(power);
        }
    }
    let decimal = [
        ("n", -9),
        ("u", -6),
        ("m", -3),
        ("k", 3),
        ("M", 6),
        ("G", 9),
        ("T", 12),
        ("P", 15),
        ("E", 18),
    ];
    for (suffix, power) in decimal {
        if let Some(number) = quantity.strip_suffix(suffix) {
            return format!("{number}e{power}").parse().unwrap();
        }
    }
    quantity.parse().unwrap()
}

type Series = BTreeMap<(String, String, String), f64>;

/// (namespace, pod, container) → cpu and memory as the simulator serves them.
async fn served_usage(api: &str) -> (Series, Series, BTreeMap<(String, String), (String, String)>) {
    let metrics: serde_json::Value =
        reqwest::get(format!("{api}/apis/metrics.k8s.io/v1beta1/pods"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
    let (mut cpu, mut memory) = (Series::new(), Series::new());
    for pod in metrics["items"].as_array().unwrap() {
        let namespace = pod["metadata"]["namespace"].as_str().unwrap().to_owned();
        let name = pod["metadata"]["name"].as_str().unwrap().to_owned();
        for container in pod["containers"].as_array().unwrap() {
            let key = (
                namespace.clone(),
                name.clone(),
                container["name"].as_str().unwrap().to_owned(),
            );
            cpu.insert(
                key.clone(),
                expected(container["usage"]["cpu"].as_str().unwrap()),
            );
            memory.insert(
                key,
                expected(container["usage"]["memory"].as_str().unwrap()),
            );
        }
    }
    let pods: serde_json::Value = reqwest::get(format!("{api}/api/v1/pods"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let placement = pods["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|pod| {
            let key = (
                pod["metadata"]["namespace"].as_str().unwrap().to_owned(),
                pod["metadata"]["name"].as_str().unwrap().to_owned(),
            );
            let node = pod["spec"]["nodeName"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let ip = pod["status"]["podIP"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            (key, (node, ip))
        })
        .collect();
    (cpu, memory, placement)
}

fn sample_value(sample: &serde_json::Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_exact_values_the_simulator_serves() {
    let prometheus_binary = tool("prometheus");
    // Fails here, not later, when promtool is missing.
    tool("promtool");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (_simulator, api) = Process::simulator(
        &kubeconfig,
        &[
            "--pods", "30", "--nodes", "3", "--tick", "1h", "--churn", "0",
        ],
    );
    let (_exporter, address) =
        Process::exporter(&["--kubeconfig", kubeconfig.to_str().unwrap()], &[]);
    wait_until_ok(&format!("http://{address}/readyz")).await;

    // The exposition itself passes promtool's checks and lint.
    let text = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    if let Err(said) = support::promtool_check_metrics(&text) {
        panic!("promtool check metrics: {said}");
    }
    assert!(!parse_exposition(&text).is_empty());

    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: metrics-server-prom\n    static_configs:\n      - targets: ['{address}']\n"
        ),
    )
    .unwrap();
    let prometheus_url = format!("http://127.0.0.1:{port}");
    let _prometheus = support::KillOnDrop(
        Command::new(prometheus_binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until_ok(&format!("{prometheus_url}/-/ready")).await;

    let (cpu, memory, placement) = served_usage(&api).await;
    assert!(
        cpu.len() >= 30,
        "the simulator serves every pod's containers"
    );
    let deadline = Instant::now() + PATIENCE;
    loop {
        let scraped =
            support::prometheus_query(&prometheus_url, "kube_metrics_server_pod_cpu").await;
        if scraped.len() == cpu.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus has {} of {} series",
            scraped.len(),
            cpu.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let up = support::prometheus_query(&prometheus_url, "kube_metrics_server_up").await;
    assert_eq!(sample_value(&up[0]), 1.0);
    let target_up =
        support::prometheus_query(&prometheus_url, "up{job=\"metrics-server-prom\"}").await;
    assert_eq!(sample_value(&target_up[0]), 1.0);

    for (name, want) in [
        ("kube_metrics_server_pod_cpu", &cpu),
        ("kube_metrics_server_pod_mem", &memory),
    ] {
        let got: Series = support::prometheus_query(&prometheus_url, name)
            .await
            .iter()
            .map(|sample| {
                let metric = &sample["metric"];
                let label = |l: &str| metric[l].as_str().unwrap_or_default().to_owned();
                let key = (label("namespace"), label("pod"), label("container"));
                let (node, ip) = &placement[&(key.0.clone(), key.1.clone())];
                assert_eq!((&label("node"), &label("ip")), (node, ip), "{key:?}");
                (key, sample_value(sample))
            })
            .collect();
        assert_eq!(&got, want, "{name}");
    }
    let nodes = support::prometheus_query(&prometheus_url, "kube_metrics_server_node_mem").await;
    assert_eq!(nodes.len(), 3);
}
