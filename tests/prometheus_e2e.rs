//! End to end with a real Prometheus: the exporter runs against `metrics-server-prom
//! simulate`, Prometheus scrapes it, and the values read back through Prometheus' query
//! API equal the quantities the simulator served. Needs the `prometheus` and `promtool`
//! binaries (Debian package `prometheus`); without them this test fails, never skips.

mod support;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{parse_exposition, wait_until_ok, Process, PATIENCE};

fn tool(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .unwrap_or_default();
    found.unwrap_or_else(|| {
        panic!("`{name}` is not installed: install the Debian package `prometheus` (bash .ci/run does)")
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

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

async fn query(prometheus: &str, promql: &str) -> Vec<serde_json::Value> {
    let response: serde_json::Value = reqwest::Client::new()
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", promql)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["status"], "success", "{response}");
    response["data"]["result"].as_array().unwrap().clone()
}

fn sample_value(sample: &serde_json::Value) -> f64 {
    sample["value"][1].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_exact_values_the_simulator_serves() {
    let prometheus_binary = tool("prometheus");
    let promtool = tool("promtool");
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
    let mut check = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    check
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let checked = check.wait_with_output().unwrap();
    assert!(
        checked.status.success() && checked.stdout.is_empty() && checked.stderr.is_empty(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&checked.stdout),
        String::from_utf8_lossy(&checked.stderr)
    );
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
    let _prometheus = KillOnDrop(
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
        let scraped = query(&prometheus_url, "kube_metrics_server_pod_cpu").await;
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

    let up = query(&prometheus_url, "kube_metrics_server_up").await;
    assert_eq!(sample_value(&up[0]), 1.0);
    let target_up = query(&prometheus_url, "up{job=\"metrics-server-prom\"}").await;
    assert_eq!(sample_value(&target_up[0]), 1.0);

    for (name, want) in [
        ("kube_metrics_server_pod_cpu", &cpu),
        ("kube_metrics_server_pod_mem", &memory),
    ] {
        let got: Series = query(&prometheus_url, name)
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
    let nodes = query(&prometheus_url, "kube_metrics_server_node_mem").await;
    assert_eq!(nodes.len(), 3);
}

struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
