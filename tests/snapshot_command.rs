//! `metrics-server-prom snapshot` as a process against a fixture cluster over loopback:
//! exact CSV, JSON and table output per container and per node, exact group sums,
//! requests, limits and capacity, a clear non-zero exit when the cluster cannot be read,
//! and `--every` files that only ever appear complete.

mod fixture_server;
mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use fixture_server::FixtureServer;
use k8s_openapi::jiff::Timestamp;
use support::BINARY;

/// How long a wait may take before the test gives up.
const PATIENCE: Duration = Duration::from_secs(60);

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `metrics-server-prom snapshot --kubeconfig <kubeconfig> <args>` to completion.
async fn snapshot(kubeconfig: &Path, args: &[&str]) -> Output {
    let output = support::run_snapshot(kubeconfig, args).await;
    Output {
        status: output.status,
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A fixture server and a kubeconfig for it.
struct Cluster {
    server: FixtureServer,
    _dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
}

async fn cluster() -> Cluster {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.write_kubeconfig(dir.path());
    Cluster {
        server,
        _dir: dir,
        kubeconfig,
    }
}

impl Cluster {
    async fn run(&self, args: &[&str]) -> String {
        let output = snapshot(&self.kubeconfig, args).await;
        assert!(
            output.status.success(),
            "{args:?}: {:?}\n{}",
            output.status,
            output.stderr
        );
        output.stdout
    }

    /// `lines` with `{sample}` replaced by the fixture's timestamp, window and window
    /// in seconds, joined as a file.
    async fn expected(&self, lines: &[&str]) -> String {
        let (timestamp, window) = self.server.sample_time().await;
        assert_eq!(window, "15.01s");
        let sample = format!("{timestamp},{window},15.01");
        lines
            .iter()
            .map(|line| line.replace("{sample}", &sample) + "\n")
            .collect()
    }
}

const CONTAINERS_CSV: [&str; 8] = [
    "namespace,pod,container,node,ip,cpu_cores,memory_bytes,timestamp,window,window_seconds",
    "blog,just-deleted,app,,,0.002,2097152,{sample}",
    "blog,web-0,app,node-b,10.0.1.20,1,1073741824,{sample}",
    "blog,web-0,idle,node-b,10.0.1.20,0,1000,{sample}",
    "kube-system,etcd-server-events-abc,etcd-container,node-a,10.30.62.138,0.007,128458752,{sample}",
    "shop,broken-quantity,app,node-b,10.0.1.30,,3145728,{sample}",
    "shop,web-0,app,node-a,10.0.0.10,0.123456789,1048576,{sample}",
    "shop,web-0,sidecar,node-a,10.0.0.10,0.0015,123456789,{sample}",
];

#[tokio::test(flavor = "multi_thread")]
async fn csv_has_every_container_with_exact_values() {
    let cluster = cluster().await;
    let csv = cluster.run(&["--output", "csv"]).await;
    assert_eq!(csv, cluster.expected(&CONTAINERS_CSV).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn csv_with_resources_adds_requests_and_limits_where_set() {
    let cluster = cluster().await;
    let csv = cluster.run(&["-o", "csv", "--resources"]).await;
    let expected = cluster
        .expected(&[
            "namespace,pod,container,node,ip,cpu_cores,memory_bytes,timestamp,window,window_seconds,\
             cpu_request_cores,cpu_limit_cores,memory_request_bytes,memory_limit_bytes",
            "blog,just-deleted,app,,,0.002,2097152,{sample},,,,",
            "blog,web-0,app,node-b,10.0.1.20,1,1073741824,{sample},1,,,1073741824",
            "blog,web-0,idle,node-b,10.0.1.20,0,1000,{sample},,,,",
            "kube-system,etcd-server-events-abc,etcd-container,node-a,10.30.62.138,0.007,128458752,{sample},,,,",
            "shop,broken-quantity,app,node-b,10.0.1.30,,3145728,{sample},,,,",
            "shop,web-0,app,node-a,10.0.0.10,0.123456789,1048576,{sample},0.1,0.5,67108864,134217728",
            "shop,web-0,sidecar,node-a,10.0.0.10,0.0015,123456789,{sample},,,123456789,",
        ])
        .await;
    assert_eq!(csv, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn json_has_the_same_rows_with_numbers_as_numbers() {
    let cluster = cluster().await;
    let text = cluster.run(&["--output", "json", "--resources"]).await;
    assert!(text.contains("\"cpu_cores\":0.123456789,"), "{text}");
    let rows: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (timestamp, _) = cluster.server.sample_time().await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 7);
    assert_eq!(
        rows[5],
        serde_json::json!({
            "namespace": "shop", "pod": "web-0", "container": "app",
            "node": "node-a", "ip": "10.0.0.10",
            "cpu_cores": 0.123456789, "memory_bytes": 1048576,
            "timestamp": timestamp, "window": "15.01s", "window_seconds": 15.01,
            "cpu_request_cores": 0.1, "cpu_limit_cores": 0.5,
            "memory_request_bytes": 67108864, "memory_limit_bytes": 134217728,
        })
    );
    assert_eq!(rows[4]["pod"], "broken-quantity");
    assert_eq!(rows[4]["cpu_cores"], serde_json::Value::Null);
    assert_eq!(rows[0]["node"], "", "a pod the pod list does not know");
    assert_eq!(rows[1]["cpu_request_cores"], 1.0);
    assert_eq!(rows[1]["memory_request_bytes"], serde_json::Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_table_is_like_kubectl_top_with_units_in_the_headers() {
    let cluster = cluster().await;
    let table = cluster.run(&[]).await;
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|line| line.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAMESPACE",
            "POD",
            "CONTAINER",
            "NODE",
            "IP",
            "CPU(cores)",
            "MEMORY(bytes)"
        ]
    );
    assert_eq!(
        lines[1],
        [
            "blog",
            "just-deleted",
            "app",
            "<none>",
            "<none>",
            "0.002",
            "2097152"
        ]
    );
    assert_eq!(
        lines[5],
        [
            "shop",
            "broken-quantity",
            "app",
            "node-b",
            "10.0.1.30",
            "<none>",
            "3145728"
        ]
    );
    assert_eq!(lines.len(), 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_with_capacity_and_allocatable() {
    let cluster = cluster().await;
    let csv = cluster.run(&["--nodes", "-o", "csv"]).await;
    let expected = cluster
        .expected(&[
            "node,cpu_cores,memory_bytes,timestamp,window,window_seconds",
            "node-a,1.5,4294967296,{sample}",
            "node-b,0.250123456,2147483648,{sample}",
        ])
        .await;
    assert_eq!(csv, expected);

    let csv = cluster.run(&["--nodes", "-o", "csv", "--resources"]).await;
    let expected = cluster
        .expected(&[
            "node,cpu_cores,memory_bytes,timestamp,window,window_seconds,cpu_capacity_cores,\
             cpu_allocatable_cores,memory_capacity_bytes,memory_allocatable_bytes",
            "node-a,1.5,4294967296,{sample},2,1.93,8589934592,8053063680",
            "node-b,0.250123456,2147483648,{sample},4,3.91,16710139904,16642998272",
        ])
        .await;
    assert_eq!(csv, expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn group_sums_by_namespace_node_and_pod_are_exact() {
    let cluster = cluster().await;
    let by_namespace = cluster.run(&["--group-by", "namespace", "-o", "csv"]).await;
    assert_eq!(
        by_namespace,
        "namespace,pods,containers,cpu_cores,memory_bytes\n\
         blog,2,3,1.002,1075839976\n\
         kube-system,1,1,0.007,128458752\n\
         shop,2,3,0.124956789,127651093\n"
    );
    let by_node = cluster.run(&["--group-by", "node", "-o", "csv"]).await;
    assert_eq!(
        by_node,
        "node,pods,containers,cpu_cores,memory_bytes\n\
         ,1,1,0.002,2097152\n\
         node-a,2,3,0.131956789,252964117\n\
         node-b,2,3,1,1076888552\n"
    );
    let by_pod = cluster
        .run(&["--group-by", "pod", "-o", "csv", "--resources"])
        .await;
    assert_eq!(
        by_pod,
        "namespace,pod,pods,containers,cpu_cores,memory_bytes,\
         cpu_request_cores,cpu_limit_cores,memory_request_bytes,memory_limit_bytes\n\
         blog,just-deleted,1,1,0.002,2097152,,,,\n\
         blog,web-0,1,2,1,1073742824,1,,,1073741824\n\
         kube-system,etcd-server-events-abc,1,1,0.007,128458752,,,,\n\
         shop,broken-quantity,1,1,,3145728,,,,\n\
         shop,web-0,1,2,0.124956789,124505365,0.1,0.5,190565653,134217728\n"
    );
    let json: serde_json::Value = serde_json::from_str(
        &cluster
            .run(&["--group-by", "namespace", "-o", "json"])
            .await,
    )
    .unwrap();
    assert_eq!(
        json[2],
        serde_json::json!({"namespace": "shop", "pods": 2, "containers": 3,
            "cpu_cores": 0.124956789, "memory_bytes": 127651093})
    );
}

/// A kubeconfig for a loopback port nothing listens on.
fn unreachable_kubeconfig(dir: &Path) -> (std::path::PathBuf, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let path = dir.join("unreachable");
    std::fs::write(&path, simulator::kubeconfig(&url)).unwrap();
    (path, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_cluster_exits_non_zero_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let (unreachable, url) = unreachable_kubeconfig(dir.path());
    let output = snapshot(&unreachable, &["-o", "csv"]).await;
    assert!(!output.status.success());
    assert!(output.stdout.is_empty(), "{}", output.stdout);
    assert!(
        output
            .stderr
            .contains(&format!("reading metrics.k8s.io from {url}/")),
        "{}",
        output.stderr
    );

    let cluster = cluster().await;
    let cases: [(&str, u16, &[&str], &[&str]); 4] = [
        (
            "/apis/metrics.k8s.io/v1beta1/pods",
            503,
            &["-o", "csv"],
            &["listing PodMetrics", "HTTP 503: injected 503"],
        ),
        (
            "/apis/metrics.k8s.io/v1beta1/nodes",
            503,
            &["--nodes"],
            &["listing NodeMetrics", "HTTP 503: injected 503"],
        ),
        (
            "/apis/metrics.k8s.io",
            404,
            &["-o", "json"],
            &[
                "metrics.k8s.io is not served",
                "is metrics-server installed?",
            ],
        ),
        (
            "/api/v1/pods",
            403,
            &["-o", "json"],
            &["listing pods from", "injected 403"],
        ),
    ];
    for (prefix, status, args, messages) in cases {
        cluster.server.fail(prefix, status);
        let output = snapshot(&cluster.kubeconfig, args).await;
        cluster.server.heal();
        assert!(!output.status.success(), "{prefix} {status}");
        assert!(output.stdout.is_empty(), "{prefix}: {}", output.stdout);
        for message in messages {
            assert!(
                output.stderr.contains(message),
                "{prefix} {status}: no {message:?} in\n{}",
                output.stderr
            );
        }
    }
    // And the same cluster, healed, reads.
    assert_eq!(cluster.run(&["-o", "csv"]).await.lines().count(), 8);
}

/// `snapshot --every` running, its log lines arriving on a channel.
struct Every {
    child: std::process::Child,
    log: mpsc::Receiver<String>,
}

impl Drop for Every {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Every {
    fn start(kubeconfig: &Path, dir: &Path) -> Every {
        let mut child = Command::new(BINARY)
            .args([
                "snapshot",
                "--every",
                "1s",
                "--name",
                "probe",
                "--kubeconfig",
            ])
            .arg(kubeconfig)
            .arg("--dir")
            .arg(dir)
            .env_remove("KUBECONFIG")
            .env_remove("KUBE_CONTEXT")
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Every { child, log }
    }

    /// The next log line containing `needle`.
    fn wait_for(&self, needle: &str) -> String {
        loop {
            let line = self
                .log
                .recv_timeout(PATIENCE)
                .unwrap_or_else(|_| panic!("never logged {needle:?}"));
            if line.contains(needle) {
                return line;
            }
        }
    }

    fn terminate(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        self.child.wait().unwrap()
    }
}

/// The CSV files in `dir` (not hidden ones), by name.
fn csv_files(dir: &Path) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
            (name, text)
        })
        .collect();
    files.sort();
    files
}

fn minute(at: Timestamp) -> String {
    at.strftime("%Y%m%d_%H_%M").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_interval_writes_a_complete_file_atomically_until_sigterm() {
    let cluster = cluster().await;
    let expected = cluster.expected(&CONTAINERS_CSV).await;
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().to_owned();
    let started = Timestamp::now();
    let mut every = Every::start(&cluster.kubeconfig, &dir);

    // While it writes, whatever bears a file's name is a complete file.
    let (checker_stop, stop) = mpsc::channel::<()>();
    let checker_dir = dir.clone();
    let checker_expected = expected.clone();
    let checker = std::thread::spawn(move || {
        let mut looks = 0u64;
        while stop.try_recv().is_err() {
            for (name, text) in csv_files(&checker_dir) {
                assert_eq!(text, checker_expected, "{name} seen incomplete");
            }
            looks += 1;
        }
        looks
    });
    for _ in 0..3 {
        every.wait_for("wrote ");
    }
    checker_stop.send(()).unwrap();
    assert!(checker.join().unwrap() > 0);

    let status = every.terminate();
    assert!(status.success(), "{status:?}");
    let ended = Timestamp::now();
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|name| !name.starts_with('.')),
        "a temporary file was left: {names:?}"
    );
    let files = csv_files(&dir);
    assert!(!files.is_empty());
    let (first, last) = (minute(started), minute(ended));
    for (name, text) in &files {
        let stamp = name
            .strip_prefix("probe@")
            .and_then(|rest| rest.strip_suffix(".csv"))
            .unwrap_or_else(|| panic!("unexpected file {name}"));
        assert_eq!(stamp.len(), "20240229_23_59".len(), "{name}");
        assert!(
            first.as_str() <= stamp && stamp <= last.as_str(),
            "{name} is not named for a minute between {first} and {last}"
        );
        assert_eq!(text, &expected, "{name}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_interval_is_logged_and_writes_nothing_then_the_loop_goes_on() {
    let cluster = cluster().await;
    let out = tempfile::tempdir().unwrap();
    cluster
        .server
        .fail("/apis/metrics.k8s.io/v1beta1/pods", 503);
    let mut every = Every::start(&cluster.kubeconfig, out.path());
    let error = every.wait_for("no file for this interval");
    assert!(error.contains("HTTP 503"), "{error}");
    assert!(csv_files(out.path()).is_empty());

    cluster.server.heal();
    every.wait_for("wrote ");
    assert!(every.terminate().success());
    let files = csv_files(out.path());
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].1, cluster.expected(&CONTAINERS_CSV).await);
}
