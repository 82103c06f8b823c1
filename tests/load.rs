//! A bounded load test on loopback: hundreds of concurrent scrapers for a few seconds,
//! three rounds, against the exporter on `metrics-server-prom simulate`. Every answer
//! must be 200, and the exporter's resident memory must level off: the third round may
//! not grow it the way a leak would. The soak over minutes is scripts/soak.sh (SOAK.md).

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{wait_until_ok, Process, PATIENCE};

/// Concurrent scrapers; half reuse a keep-alive connection, half open one per scrape.
const SCRAPERS: usize = 256;
const ROUND: Duration = Duration::from_secs(3);

struct Round {
    answered: usize,
    failures: Vec<String>,
}

async fn round(address: std::net::SocketAddr) -> Round {
    let answered = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let shared = reqwest::Client::builder()
        .timeout(PATIENCE)
        .build()
        .unwrap();
    let end = Instant::now() + ROUND;
    let scrapers: Vec<_> = (0..SCRAPERS)
        .map(|i| {
            let (answered, failures) = (answered.clone(), failures.clone());
            let shared = shared.clone();
            tokio::spawn(async move {
                while Instant::now() < end {
                    let client = match i % 2 {
                        0 => shared.clone(),
                        _ => reqwest::Client::builder()
                            .timeout(PATIENCE)
                            .pool_max_idle_per_host(0)
                            .build()
                            .unwrap(),
                    };
                    let outcome = match client.get(format!("http://{address}/metrics")).send().await
                    {
                        Ok(response) if response.status() == 200 => match response.text().await {
                            Ok(body) if body.contains("kube_metrics_server_up ") => Ok(()),
                            Ok(body) => Err(format!("200 without metrics: {body:.200}")),
                            Err(error) => Err(format!("body: {error}")),
                        },
                        Ok(response) => Err(format!("status {}", response.status())),
                        Err(error) => Err(format!("request: {error}")),
                    };
                    match outcome {
                        Ok(()) => answered.fetch_add(1, Ordering::Relaxed),
                        Err(failure) => {
                            failures.lock().unwrap().push(failure);
                            0
                        }
                    };
                }
            })
        })
        .collect();
    for scraper in scrapers {
        scraper.await.unwrap();
    }
    let failures = std::mem::take(&mut *failures.lock().unwrap());
    Round {
        answered: answered.load(Ordering::Relaxed),
        failures,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hundreds_of_concurrent_scrapes_all_answer_200_and_memory_levels_off() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (_simulator, _) = Process::simulator(&kubeconfig, &["--tick", "1h", "--churn", "0"]);
    let (exporter, address) =
        Process::exporter(&["--kubeconfig", kubeconfig.to_str().unwrap()], &[]);
    wait_until_ok(&format!("http://{address}/readyz")).await;

    let mut rss = vec![exporter.rss_kib()];
    for number in 1..=3 {
        let round = round(address).await;
        rss.push(exporter.rss_kib());
        eprintln!(
            "round {number}: {} scrapes answered 200 by {SCRAPERS} scrapers in {ROUND:?}; RSS {} KiB",
            round.answered,
            rss[number]
        );
        assert!(
            round.failures.is_empty(),
            "round {number}: {} of {} scrapes failed, e.g. {:?}",
            round.failures.len(),
            round.failures.len() + round.answered,
            &round.failures[..round.failures.len().min(5)]
        );
        assert!(round.answered > 0);
    }
    // Rounds 2 and 3 put the same load on a warmed-up process: a leak grows RSS in
    // each; a process that levels off does not grow by half again.
    let (second, third) = (rss[2], rss[3]);
    assert!(
        third < second + second / 2,
        "RSS grew from {second} KiB after round 2 to {third} KiB after round 3 (at start {} KiB, after round 1 {} KiB)",
        rss[0],
        rss[1]
    );
}
