//! What a scrape costs the API server: concurrent scrapes share one read, a reading is
//! reused for --metrics.max-age, no pod list is made per scrape, namespace filters use
//! namespaced endpoints, and shards split the series without gaps or overlaps.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use metrics_server_prom::config::ClusterArgs;
use metrics_server_prom::connect::Connection;
use metrics_server_prom::exposition::scraper::{ScrapeSettings, Scraper};
use metrics_server_prom::exposition::self_metrics::SelfMetrics;
use metrics_server_prom::scope::Scope;
use metrics_server_prom::sources::metrics_api::MetricsApi;
use metrics_server_prom::sources::pod_index::PodIndex;
use simulator::MetricsApiVersion;
use support::{parse_exposition, series, wait_until_ok, Process, TlsApiServer, HOLD};

/// A scraper in this process, reading the TLS fixture server through its kubeconfig.
async fn scraper(server: &TlsApiServer, dir: &Path, max_age: Duration) -> Arc<Scraper> {
    let kubeconfig = server.write_kubeconfig(dir);
    let connection = Connection::resolve(&ClusterArgs {
        kubeconfig: Some(kubeconfig),
        context: Some("working".into()),
        metrics_timeout: None,
        ..ClusterArgs::default()
    })
    .await
    .unwrap();
    let timeout = Duration::from_secs(30);
    let api = MetricsApi::new(connection.bounded_client(timeout).unwrap());
    api.discover().await.unwrap();
    let scope = Arc::new(Scope::default());
    let pods = PodIndex::spawn(connection.watch_client().unwrap(), scope.clone());
    pods.synced().await;
    let settings = ScrapeSettings {
        max_age,
        sync_wait: timeout,
    };
    Arc::new(Scraper::new(api, pods, scope, SelfMetrics::new(), settings))
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_scrapes_share_one_read() {
    let server = TlsApiServer::start(
        support::small_fixture(&[("a", "one"), ("b", "two")]),
        MetricsApiVersion::V1beta1,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let scraper = scraper(&server, dir.path(), Duration::ZERO).await;
    server.metrics_status.store(HOLD, Ordering::SeqCst);

    let readings = tokio::spawn(futures::future::join_all((0..10).map(|_| {
        let scraper = scraper.clone();
        async move { scraper.reading().await }
    })));
    // The pods and nodes lists of the one read reach the server and are held there.
    server.wait_until_waiting(2).await;
    server.release();
    let readings = readings.await.unwrap();
    assert_eq!(server.metrics_requests.load(Ordering::SeqCst), 2);
    assert!(readings.iter().all(|r| Arc::ptr_eq(r, &readings[0])));
    assert_eq!(readings[0].usage.containers.as_ref().unwrap().len(), 2);

    // With max-age 0 the next scrape reads again.
    let next = scraper.reading().await;
    assert!(!Arc::ptr_eq(&next, &readings[0]));
    assert_eq!(server.metrics_requests.load(Ordering::SeqCst), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reading_is_reused_within_max_age() {
    let server = TlsApiServer::start(
        support::small_fixture(&[("a", "one"), ("b", "two")]),
        MetricsApiVersion::V1beta1,
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let scraper = scraper(&server, dir.path(), Duration::from_secs(3600)).await;
    let first = scraper.reading().await;
    for _ in 0..3 {
        assert!(Arc::ptr_eq(&scraper.reading().await, &first));
    }
    assert_eq!(server.metrics_requests.load(Ordering::SeqCst), 2);
}

use support::request_tally as tally;

async fn scrape(address: std::net::SocketAddr) -> Vec<support::Sample> {
    let response = reqwest::get(format!("http://{address}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    parse_exposition(&response.text().await.unwrap())
}

const FROZEN: [&str; 8] = [
    "--pods", "60", "--nodes", "3", "--tick", "1h", "--churn", "0",
];

#[tokio::test(flavor = "multi_thread")]
async fn scrapes_list_metrics_but_never_pods() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (_simulator, api) = Process::simulator(&kubeconfig, &FROZEN);
    let (_exporter, address) = Process::exporter(
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--metrics.max-age",
            "0s",
        ],
        &[],
    );
    wait_until_ok(&format!("http://{address}/readyz")).await;
    let before = tally(&api).await;
    for _ in 0..3 {
        scrape(address).await;
    }
    let after = tally(&api).await;
    assert_eq!(after.pod_metrics_lists - before.pod_metrics_lists, 3);
    assert_eq!(after.node_metrics_lists - before.node_metrics_lists, 3);
    assert_eq!(after.pod_lists, before.pod_lists, "no pod list per scrape");
}

#[tokio::test(flavor = "multi_thread")]
async fn namespace_filters() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (_simulator, api) = Process::simulator(&kubeconfig, &FROZEN);
    let kubeconfig = kubeconfig.to_str().unwrap();

    let (_all, address) = Process::exporter(&["--kubeconfig", kubeconfig], &[]);
    wait_until_ok(&format!("http://{address}/readyz")).await;
    let everything = scrape(address).await;
    let namespaces: BTreeSet<String> = everything
        .iter()
        .filter(|s| s.name == "kube_metrics_server_pod_cpu")
        .map(|s| s.labels["namespace"].clone())
        .collect();
    assert!(namespaces.len() >= 3, "{namespaces:?}");
    let picked: Vec<&str> = namespaces.iter().take(2).map(String::as_str).collect();
    let allow = picked.join(",");

    let before = tally(&api).await;
    let (_allowed, address) =
        Process::exporter(&["--kubeconfig", kubeconfig, "--namespaces", &allow], &[]);
    wait_until_ok(&format!("http://{address}/readyz")).await;
    let allowed = scrape(address).await;
    let after = tally(&api).await;
    let seen: BTreeSet<&str> = allowed
        .iter()
        .filter(|s| s.name == "kube_metrics_server_pod_cpu")
        .map(|s| s.labels["namespace"].as_str())
        .collect();
    assert_eq!(seen, picked.iter().copied().collect());
    assert!(series(&allowed, "kube_metrics_server_node_cpu").is_empty());
    assert_eq!(
        after.cluster_scoped_reads, before.cluster_scoped_reads,
        "an allow list reads and watches only namespaced endpoints"
    );
    assert!(after.pod_metrics_lists - before.pod_metrics_lists >= 2);
    // Every pod of the allowed namespaces has its node and ip.
    assert!(allowed
        .iter()
        .filter(|s| s.name == "kube_metrics_server_pod_cpu")
        .all(|s| !s.labels["node"].is_empty() && !s.labels["ip"].is_empty()));

    let (_excluded, address) = Process::exporter(
        &[
            "--kubeconfig",
            kubeconfig,
            "--exclude-namespaces",
            picked[0],
        ],
        &[],
    );
    wait_until_ok(&format!("http://{address}/readyz")).await;
    let excluded = scrape(address).await;
    assert!(excluded
        .iter()
        .filter(|s| s.name == "kube_metrics_server_pod_cpu")
        .all(|s| s.labels["namespace"] != picked[0]));
    assert_eq!(
        series(&excluded, "kube_metrics_server_node_cpu"),
        series(&everything, "kube_metrics_server_node_cpu")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shards_cover_every_series_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (_simulator, _api) = Process::simulator(&kubeconfig, &FROZEN);
    let kubeconfig = kubeconfig.to_str().unwrap();
    let usage = [
        "kube_metrics_server_pod_cpu",
        "kube_metrics_server_pod_mem",
        "kube_metrics_server_node_cpu",
        "kube_metrics_server_node_mem",
    ];

    let (_whole, address) = Process::exporter(&["--kubeconfig", kubeconfig], &[]);
    wait_until_ok(&format!("http://{address}/readyz")).await;
    let whole = scrape(address).await;
    let mut expected = BTreeMap::new();
    for name in usage {
        for (labels, value) in series(&whole, name) {
            expected.insert((name, labels), value);
        }
    }

    let mut union = BTreeMap::new();
    for shard in ["0", "1", "2"] {
        let (_exporter, address) = Process::exporter(
            &[
                "--kubeconfig",
                kubeconfig,
                "--shard",
                shard,
                "--total-shards",
                "3",
            ],
            &[],
        );
        wait_until_ok(&format!("http://{address}/readyz")).await;
        let part = scrape(address).await;
        let pods = series(&part, "kube_metrics_server_pod_cpu");
        assert!(!pods.is_empty(), "shard {shard} has pods");
        for name in usage {
            for (labels, value) in series(&part, name) {
                let previous = union.insert((name, labels.clone()), value);
                assert!(previous.is_none(), "{name} {labels} in two shards");
            }
        }
    }
    assert_eq!(union, expected);
}
