//! End-to-end load benchmark: the simulator at several cluster sizes, the exporter as a
//! separate process, scraped as Prometheus scrapes (OpenMetrics Accept header, gzip).
//!
//! ```sh
//! cargo bench --bench load                                # 10k, 50k, 150k pods
//! cargo bench --bench load -- --sizes 1000,10000 --rounds 5
//! cargo bench --bench load -- --compare before=/tmp/old/metrics-server-prom
//! ```
//!
//! The headline is the case most users meet: a single Prometheus, every scrape cold
//! (`--metrics.max-age 0s`, so each scrape reads the metrics API), once with the lists
//! read in protobuf (the default) and once in JSON. Warm scrapes (a reading reused
//! within `--metrics.max-age`, as an HA pair shares one) are measured beside them.
//! The floors are the plain downloads of the same lists (pods and nodes at once) from
//! the same simulator, in JSON and in protobuf: what a bridge that reads upstream on
//! every scrape cannot beat. One exporter runs at a time.
//!
//! `--compare LABEL=PATH` (repeatable) adds cold rows for another exporter binary, an
//! older commit's build for instance, run with its own defaults against the same
//! simulator in the same run: a before and after measured on one machine at one time.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_metrics-server-prom");
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
const WARM_SCRAPES: usize = 5;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[derive(serde::Deserialize, Default, Clone, Copy)]
struct Tally {
    pod_metrics_lists: u64,
    node_metrics_lists: u64,
    pod_lists: u64,
}

/// One exporter's scrapes at one size.
struct Scrapes {
    median: Duration,
    p99: Duration,
    cpu_per_scrape: f64,
    peak_rss_mib: f64,
    bytes: usize,
    api_per_scrape: f64,
    pod_lists_after_start: u64,
}

struct Row {
    pods: usize,
    containers: usize,
    json_floor: Duration,
    protobuf_floor: Duration,
    cold_protobuf: Scrapes,
    cold_json: Scrapes,
    /// `--compare`'s binaries, cold, each with its own defaults.
    compared: Vec<(String, Scrapes)>,
    warm: Scrapes,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let sizes: Vec<usize> = option("--sizes")
        .unwrap_or_else(|| "10000,50000,150000".to_owned())
        .split(',')
        .map(|s| s.trim().parse().expect("--sizes takes numbers"))
        .collect();
    let rounds: usize = option("--rounds").map_or(10, |r| r.parse().expect("--rounds"));
    let compare: Vec<(String, String)> = args
        .windows(2)
        .filter(|pair| pair[0] == "--compare")
        .map(|pair| {
            let (label, path) = pair[1].split_once('=').expect("--compare LABEL=PATH");
            (label.to_owned(), path.to_owned())
        })
        .collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let rows: Vec<Row> = sizes
        .iter()
        .map(|&pods| runtime.block_on(measure(pods, rounds, &compare)))
        .collect();
    print_tables(&rows, rounds);
}

async fn measure(pods: usize, rounds: usize, compare: &[(String, String)]) -> Row {
    eprintln!("measuring {pods} pods ...");
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let nodes = (pods / 30).max(1).to_string();
    let mut simulator = Command::new(BINARY)
        .args([
            "simulate",
            "--listen-address",
            "127.0.0.1:0",
            "--pods",
            &pods.to_string(),
            "--nodes",
            &nodes,
        ])
        .arg("--write-kubeconfig")
        .arg(&kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let api = first_line_after(simulator.stdout.take().unwrap(), "listening on ");
    let _simulator = Killed(simulator);
    let client = reqwest::Client::builder().gzip(false).build().unwrap();

    let json_floor = download(&client, &api, "application/json").await;
    let protobuf_floor = download(&client, &api, PROTOBUF).await;
    let containers = count_containers(&client, &api).await;

    let cold_protobuf = scrapes(
        BINARY,
        &client,
        &api,
        &kubeconfig,
        &["--metrics.max-age", "0s"],
        rounds,
        false,
    )
    .await;
    let cold_json = scrapes(
        BINARY,
        &client,
        &api,
        &kubeconfig,
        &["--metrics.max-age", "0s", "--metrics.content-type", "json"],
        rounds,
        false,
    )
    .await;
    let mut compared = Vec::new();
    for (label, binary) in compare {
        let flags = ["--metrics.max-age", "0s"];
        let cold = scrapes(binary, &client, &api, &kubeconfig, &flags, rounds, false).await;
        compared.push((label.clone(), cold));
    }
    let warm = scrapes(
        BINARY,
        &client,
        &api,
        &kubeconfig,
        &["--metrics.max-age", "1h"],
        WARM_SCRAPES,
        true,
    )
    .await;
    Row {
        pods,
        containers,
        json_floor,
        protobuf_floor,
        cold_protobuf,
        cold_json,
        compared,
        warm,
    }
}

/// The median time to download both metrics lists at once, as `accept` asks.
async fn download(client: &reqwest::Client, api: &str, accept: &str) -> Duration {
    let mut downloads = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let get = |path: &str| {
            client
                .get(format!("{api}/apis/metrics.k8s.io/v1beta1/{path}"))
                .header("accept", accept)
                .send()
        };
        let (pods, nodes) = tokio::join!(
            async { get("pods").await.unwrap().bytes().await.unwrap() },
            async { get("nodes").await.unwrap().bytes().await.unwrap() }
        );
        downloads.push(started.elapsed());
        assert!(!pods.is_empty() && !nodes.is_empty());
    }
    percentile(&mut downloads, 50.0)
}

/// An exporter (`binary`) started with `flags`, scraped `count` times (a scrape every 200 ms, so
/// each cold one is a read of its own); `warm` scrapes once first, unmeasured.
async fn scrapes(
    binary: &str,
    client: &reqwest::Client,
    api: &str,
    kubeconfig: &std::path::Path,
    flags: &[&str],
    count: usize,
    warm: bool,
) -> Scrapes {
    let mut exporter = Command::new(binary)
        .args([
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.1:0",
        ])
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = exporter.id();
    let listening = first_line_after(exporter.stderr.take().unwrap(), "listening on http://");
    let address: SocketAddr = listening.split('/').next().unwrap().parse().unwrap();
    let _exporter = Killed(exporter);
    wait_ready(client, &format!("http://{address}/readyz")).await;
    let metrics_url = format!("http://{address}/metrics");
    let scrape = || async {
        let started = Instant::now();
        let response = client
            .get(&metrics_url)
            .header("accept", ACCEPT)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let bytes = response.bytes().await.unwrap().len();
        (started.elapsed(), bytes)
    };
    if warm {
        scrape().await;
    }

    let tally_before = tally(client, api).await;
    let cpu_before = cpu_seconds(pid);
    let mut took = Vec::new();
    let mut bytes = 0;
    for _ in 0..count {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (duration, size) = scrape().await;
        took.push(duration);
        bytes = size;
    }
    let cpu = cpu_seconds(pid) - cpu_before;
    let tally_after = tally(client, api).await;
    let api_requests = (tally_after.pod_metrics_lists - tally_before.pod_metrics_lists)
        + (tally_after.node_metrics_lists - tally_before.node_metrics_lists)
        + (tally_after.pod_lists - tally_before.pod_lists);
    Scrapes {
        median: percentile(&mut took, 50.0),
        p99: percentile(&mut took, 99.0),
        cpu_per_scrape: cpu / count as f64,
        peak_rss_mib: peak_rss_kib(pid) as f64 / 1024.0,
        bytes,
        api_per_scrape: api_requests as f64 / count as f64,
        pod_lists_after_start: tally_after.pod_lists - tally_before.pod_lists,
    }
}

fn first_line_after(stream: impl std::io::Read + Send + 'static, marker: &str) -> String {
    let strip_slash = !marker.ends_with("http://");
    let marker = marker.to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(at) = line.find(&marker) {
                let rest = line[at + marker.len()..].trim();
                let _ = tx.send(
                    rest.split_whitespace()
                        .next()
                        .unwrap_or_default()
                        .to_owned(),
                );
            }
        }
    });
    let found = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("process did not start");
    if strip_slash {
        found.trim_end_matches('/').to_owned()
    } else {
        found
    }
}

async fn wait_ready(client: &reqwest::Client, url: &str) {
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        if let Ok(response) = client.get(url).send().await {
            if response.status().is_success() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never became ready");
}

async fn tally(client: &reqwest::Client, api: &str) -> Tally {
    let response = client
        .get(format!("{api}/simulator/requests"))
        .send()
        .await
        .unwrap();
    response.json().await.unwrap()
}

async fn count_containers(client: &reqwest::Client, api: &str) -> usize {
    let body = client
        .get(format!("{api}/apis/metrics.k8s.io/v1beta1/pods"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let list = metrics_server_prom::sources::metrics_api::PodMetricsList::decode(&body).unwrap();
    list.items
        .iter()
        .flatten()
        .map(|pod| pod.containers.as_ref().map_or(0, Vec::len))
        .sum()
}

fn percentile(samples: &mut [Duration], percent: f64) -> Duration {
    samples.sort();
    let rank = ((percent / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// User plus system CPU time of a process, from /proc.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat, counted from the state field (the third).
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let per_second = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse::<f64>().ok())
        .unwrap_or(100.0);
    ticks as f64 / per_second
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn print_tables(rows: &[Row], rounds: usize) {
    println!("Cold: every scrape reads (--metrics.max-age 0s), {rounds} scrapes per size; OpenMetrics + gzip\n");
    println!("| pods | containers | upstream | cold scrape (median) | p99 | plain JSON download | x JSON download | plain protobuf download | CPU ms / scrape | CPU ns / container | peak RSS | API requests / scrape | pod LISTs |");
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let ours = [("protobuf", &row.cold_protobuf), ("json", &row.cold_json)];
        let compared = row
            .compared
            .iter()
            .map(|(label, cold)| (label.as_str(), cold));
        for (upstream, cold) in ours.into_iter().chain(compared) {
            println!(
                "| {} | {} | {upstream} | {} | {} | {} | {:.2} | {} | {:.0} | {:.0} | {:.0} MiB | {:.2} | {} |",
                row.pods,
                row.containers,
                ms(cold.median),
                ms(cold.p99),
                ms(row.json_floor),
                cold.median.as_secs_f64() / row.json_floor.as_secs_f64(),
                ms(row.protobuf_floor),
                cold.cpu_per_scrape * 1000.0,
                cold.cpu_per_scrape * 1e9 / row.containers as f64,
                cold.peak_rss_mib,
                cold.api_per_scrape,
                cold.pod_lists_after_start,
            );
        }
    }
    println!("\nWarm: a reading reused within --metrics.max-age (protobuf upstream), {WARM_SCRAPES} scrapes per size\n");
    println!("| pods | warm scrape (median) | p99 | CPU ms / scrape | response bytes (gzip) | API requests / scrape |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        let warm = &row.warm;
        println!(
            "| {} | {} | {} | {:.1} | {} | {:.2} |",
            row.pods,
            ms(warm.median),
            ms(warm.p99),
            warm.cpu_per_scrape * 1000.0,
            warm.bytes,
            warm.api_per_scrape,
        );
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
