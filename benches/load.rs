//! End-to-end load benchmark: the simulator at several cluster sizes, the exporter as a
//! separate process with default settings, scraped as Prometheus scrapes (OpenMetrics
//! Accept header, gzip).
//!
//! ```sh
//! cargo bench --bench load                                # 1k, 10k, 50k, 150k pods
//! cargo bench --bench load -- --sizes 1000,10000 --rounds 5
//! ```
//!
//! Each round is what a metrics-server-prom target sees in one `--metrics.max-age`
//! window from an HA pair of Prometheus servers and a person with curl: three scrapes a
//! second apart. Rounds start after the previous reading has expired, so every round
//! makes one read ("cold" scrape) that the other scrapes reuse ("warm").
//! The floor is the plain download of the same metrics JSON (pods and nodes lists at
//! once) from the same simulator: what a bridge that reads upstream on every scrape
//! cannot beat.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_metrics-server-prom");
const MAX_AGE: Duration = Duration::from_secs(10);
const SCRAPES_PER_ROUND: usize = 3;
const ACCEPT: &str = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

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

struct Row {
    pods: usize,
    containers: usize,
    median: Duration,
    p99: Duration,
    cold: Duration,
    warm: Duration,
    floor: Duration,
    cpu_per_scrape: f64,
    peak_rss_mib: f64,
    bytes: usize,
    api_per_scrape: f64,
    pod_lists_after_start: u64,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let option = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let sizes: Vec<usize> = option("--sizes")
        .unwrap_or_else(|| "1000,10000,50000,150000".to_owned())
        .split(',')
        .map(|s| s.trim().parse().expect("--sizes takes numbers"))
        .collect();
    let rounds: usize = option("--rounds").map_or(10, |r| r.parse().expect("--rounds"));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let rows: Vec<Row> = sizes
        .iter()
        .map(|&pods| runtime.block_on(measure(pods, rounds)))
        .collect();
    print_table(&rows, rounds);
}

async fn measure(pods: usize, rounds: usize) -> Row {
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

    let mut exporter = Command::new(BINARY)
        .args([
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--web.listen-address",
            "127.0.0.1:0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = exporter.id();
    let listening = first_line_after(exporter.stderr.take().unwrap(), "listening on http://");
    let address: SocketAddr = listening.split('/').next().unwrap().parse().unwrap();
    let _exporter = Killed(exporter);

    let client = reqwest::Client::builder().gzip(false).build().unwrap();
    wait_ready(&client, &format!("http://{address}/readyz")).await;

    let mut downloads = Vec::new();
    for _ in 0..10 {
        let started = Instant::now();
        let pods_list = client
            .get(format!("{api}/apis/metrics.k8s.io/v1beta1/pods"))
            .send();
        let nodes_list = client
            .get(format!("{api}/apis/metrics.k8s.io/v1beta1/nodes"))
            .send();
        let (p, n) = tokio::join!(
            async { pods_list.await.unwrap().bytes().await.unwrap() },
            async { nodes_list.await.unwrap().bytes().await.unwrap() }
        );
        downloads.push(started.elapsed());
        assert!(!p.is_empty() && !n.is_empty());
    }
    let containers = count_containers(&client, &api).await;

    let tally_before = tally(&client, &api).await;
    let cpu_before = cpu_seconds(pid);
    let (mut all, mut cold, mut warm) = (Vec::new(), Vec::new(), Vec::new());
    let mut bytes = 0;
    let metrics_url = format!("http://{address}/metrics");
    for _ in 0..rounds {
        tokio::time::sleep(MAX_AGE + Duration::from_millis(500)).await;
        for scrape in 0..SCRAPES_PER_ROUND {
            if scrape > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let started = Instant::now();
            let response = client
                .get(&metrics_url)
                .header("accept", ACCEPT)
                .header("accept-encoding", "gzip")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
            bytes = response.bytes().await.unwrap().len();
            let took = started.elapsed();
            all.push(took);
            if scrape == 0 {
                cold.push(took)
            } else {
                warm.push(took)
            }
        }
    }
    let scrapes = (rounds * SCRAPES_PER_ROUND) as f64;
    let cpu = cpu_seconds(pid) - cpu_before;
    let tally_after = tally(&client, &api).await;
    let api_requests = (tally_after.pod_metrics_lists - tally_before.pod_metrics_lists)
        + (tally_after.node_metrics_lists - tally_before.node_metrics_lists)
        + (tally_after.pod_lists - tally_before.pod_lists);
    Row {
        pods,
        containers,
        median: percentile(&mut all, 50.0),
        p99: percentile(&mut all, 99.0),
        cold: percentile(&mut cold, 50.0),
        warm: percentile(&mut warm, 50.0),
        floor: percentile(&mut downloads, 50.0),
        cpu_per_scrape: cpu / scrapes,
        peak_rss_mib: peak_rss_kib(pid) as f64 / 1024.0,
        bytes,
        api_per_scrape: api_requests as f64 / scrapes,
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

fn print_table(rows: &[Row], rounds: usize) {
    println!(
        "{rounds} rounds of {SCRAPES_PER_ROUND} scrapes per size (HA pair + curl in each {}s max-age window); default settings\n",
        MAX_AGE.as_secs()
    );
    println!("| pods | containers | median scrape | p99 scrape | cold (read) scrape | warm scrape | plain JSON download | CPU s / scrape | peak RSS | response bytes (gzip) | API requests / scrape | pod LISTs after start |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.3} | {:.0} MiB | {} | {:.2} | {} |",
            row.pods,
            row.containers,
            ms(row.median),
            ms(row.p99),
            ms(row.cold),
            ms(row.warm),
            ms(row.floor),
            row.cpu_per_scrape,
            row.peak_rss_mib,
            row.bytes,
            row.api_per_scrape,
            row.pod_lists_after_start,
        );
    }
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}
