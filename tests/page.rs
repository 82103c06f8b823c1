//! The page at `/` in a real browser (headless Chromium, Debian's `chromium`; without
//! it these tests fail, never skip), served by the exporter reading the simulated
//! cluster. What a person would see is checked against the API: every namespace with
//! its exact totals, the top pods, the nodes and their share of allocatable; the filter
//! narrowing the table; sorting; the refresh picking up a change; a phone's width.
//!
//! The first test also takes the README's screenshot: it always writes
//! `page.png` under Cargo's test tmp dir, and with `PAGE_SCREENSHOT=docs/page.png`
//! there too (`PAGE_SCREENSHOT=docs/page.png cargo test --test page`).

mod browser;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use browser::Browser;
use serde_json::Value;
use simulator::{Fixture, FixtureContainer, FixtureNode, FixturePod, MetricsApiVersion};
use support::{get_text, wait_until_ok, Process};
use tower::ServiceExt;

/// The simulator (frozen, so the page and the test read the same numbers) and the
/// exporter reading it with `--resources`, reusing one read for an hour.
struct Simulated {
    _dir: tempfile::TempDir,
    _simulator: Process,
    _exporter: Process,
    address: SocketAddr,
}

async fn simulated() -> Simulated {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let (simulator, _) = Process::simulator(&kubeconfig, &["--tick", "0s"]);
    let (exporter, address) = Process::exporter(
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--resources",
            "--metrics.max-age",
            "1h",
        ],
        &[],
    );
    wait_until_ok(&format!("http://{address}/readyz")).await;
    Simulated {
        _dir: dir,
        _simulator: simulator,
        _exporter: exporter,
        address,
    }
}

impl Simulated {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    async fn api(&self, query: &str) -> Value {
        serde_json::from_str(&get_text(&self.url(&format!("/api/v1/usage?{query}"))).await).unwrap()
    }

    /// The API's CSV rows by their first field: each row's fields, as text.
    async fn csv_by_first(&self, query: &str) -> BTreeMap<String, BTreeMap<String, String>> {
        let text = get_text(&self.url(&format!("/api/v1/usage?format=csv&{query}"))).await;
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        lines
            .map(|line| {
                let fields: BTreeMap<String, String> = header
                    .iter()
                    .zip(line.split(','))
                    .map(|(k, v)| (k.to_string(), v.to_owned()))
                    .collect();
                (line.split(',').next().unwrap().to_owned(), fields)
            })
            .collect()
    }
}

/// What the page shows in a table: per row, its key attribute and per cell (by
/// `data-column`) the visible text and the exact `data-value`.
const READ_TABLE: &str = "(id, key) => [...document.querySelectorAll('#' + id + ' tbody tr')]
    .filter((tr) => tr.dataset[key] !== undefined)
    .map((tr) => ({
        key: tr.dataset[key],
        pod: tr.dataset.pod || null,
        cells: Object.fromEntries([...tr.cells].map((c) =>
            [c.dataset.column, { text: c.textContent, value: c.dataset.value ?? null }])),
    }))";

async fn table(browser: &mut Browser, id: &str, key: &str) -> Vec<Value> {
    let rows = browser
        .eval(&format!("({READ_TABLE})({id:?}, {key:?})"))
        .await;
    rows.as_array().unwrap().clone()
}

/// Whether `shown` is `exact` rounded as the page rounds: to the digits shown, with
/// the unit's multiple (cores; B, KiB, MiB, ...).
fn shows(shown: &str, exact: &str) -> bool {
    let exact: f64 = exact.parse().unwrap();
    let (number, unit) = shown.split_once(' ').unwrap_or((shown, ""));
    let scale = match unit {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0f64.powi(2),
        "GiB" => 1024.0f64.powi(3),
        "TiB" => 1024.0f64.powi(4),
        other => panic!("unit {other:?}"),
    };
    let decimals = number.split_once('.').map_or(0, |(_, d)| d.len());
    let shown: f64 = number.parse().unwrap();
    let half_step = 0.5 * 10f64.powi(-(decimals as i32)) * scale;
    (shown * scale - exact).abs() <= half_step * (1.0 + 1e-9)
}

fn screenshot_paths() -> Vec<PathBuf> {
    let mut paths = vec![PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("page.png")];
    if let Some(path) = std::env::var_os("PAGE_SCREENSHOT") {
        paths.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path));
    }
    paths
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_shows_every_namespace_top_pods_and_nodes_exactly() {
    let cluster = simulated().await;
    let mut browser = Browser::start().await;
    browser.open(&cluster.url("/")).await;
    browser.wait_until_drawn().await;

    // Every namespace, with the API's exact numbers behind what is shown.
    let api = cluster.csv_by_first("group_by=namespace").await;
    assert!(
        api.len() >= 3,
        "the simulator has several namespaces: {api:?}"
    );
    let shown = table(&mut browser, "namespaces", "namespace").await;
    let names: BTreeSet<&str> = shown.iter().map(|r| r["key"].as_str().unwrap()).collect();
    assert_eq!(names, api.keys().map(String::as_str).collect());
    for row in &shown {
        let namespace = row["key"].as_str().unwrap();
        let expected = &api[namespace];
        let cells = &row["cells"];
        assert_eq!(cells["namespace"]["text"], namespace);
        for count in ["pods", "containers"] {
            assert_eq!(
                cells[count]["text"],
                expected[count].as_str(),
                "{namespace} {count}"
            );
        }
        for value in ["cpu_cores", "memory_bytes"] {
            let cell = &cells[value];
            assert_eq!(
                cell["value"],
                expected[value].as_str(),
                "{namespace} {value}"
            );
            let text = cell["text"].as_str().unwrap();
            assert!(
                shows(text, &expected[value]),
                "{namespace} {value}: shows {text:?} for {}",
                expected[value]
            );
        }
    }

    // The cluster's totals.
    let total = |key: &str| -> u64 { api.values().map(|r| r[key].parse::<u64>().unwrap()).sum() };
    let totals = browser
        .eval(
            "Object.fromEntries([...document.querySelectorAll('[data-total]')]
                .map((dd) => [dd.dataset.total, dd.textContent]))",
        )
        .await;
    assert_eq!(totals["namespaces"], api.len().to_string());
    assert_eq!(totals["pods"], total("pods").to_string());
    assert_eq!(totals["containers"], total("containers").to_string());

    // The top pods: the API's largest first.
    let pods = cluster.api("group_by=pod").await;
    let pods = pods.as_array().unwrap();
    for (id, column) in [("top-cpu", "cpu_cores"), ("top-memory", "memory_bytes")] {
        let top = pods
            .iter()
            .filter(|p| p[column].is_number())
            .max_by(|a, b| {
                let (x, y) = (a[column].as_f64().unwrap(), b[column].as_f64().unwrap());
                x.total_cmp(&y).then_with(|| {
                    let name = |p: &Value| (p["namespace"].to_string(), p["pod"].to_string());
                    name(b).cmp(&name(a))
                })
            })
            .unwrap();
        let shown = table(&mut browser, id, "namespace").await;
        assert_eq!(shown.len(), pods.len().min(10), "{id}");
        assert_eq!(shown[0]["key"], top["namespace"], "{id}");
        assert_eq!(shown[0]["pod"], top["pod"], "{id}");
        assert_eq!(
            shown[0]["cells"][column]["value"],
            top[column].to_string(),
            "{id}"
        );
    }

    // Every node, and with --resources its usage as a share of allocatable.
    let nodes = cluster.api("nodes=true").await;
    let nodes = nodes.as_array().unwrap();
    let shown = table(&mut browser, "nodes", "node").await;
    assert_eq!(shown.len(), nodes.len());
    for node in nodes {
        let row = shown.iter().find(|r| r["key"] == node["node"]).unwrap();
        let share =
            node["cpu_cores"].as_f64().unwrap() / node["cpu_allocatable_cores"].as_f64().unwrap();
        let shown_share: f64 = row["cells"]["cpu_share"]["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(shown_share, share, "{}", node["node"]);
        let percent = row["cells"]["cpu_share"]["text"].as_str().unwrap();
        assert_eq!(percent, format!("{:.0} %", share * 100.0));
    }

    // The links stay.
    let links = browser
        .eval("[...document.querySelectorAll('footer a')].map((a) => a.getAttribute('href'))")
        .await;
    for link in ["/metrics", "/healthz", "/readyz"] {
        assert!(
            links.as_array().unwrap().iter().any(|l| l == link),
            "{links}"
        );
    }

    for path in screenshot_paths() {
        browser.screenshot(&path).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_filter_narrows_the_table() {
    let cluster = simulated().await;
    let namespaces = cluster.csv_by_first("group_by=namespace").await;
    let matching = |filter: &str| -> BTreeSet<String> {
        namespaces
            .keys()
            .filter(|n| n.contains(filter))
            .cloned()
            .collect()
    };
    let shown_names = |rows: &[Value]| -> BTreeSet<String> {
        rows.iter()
            .map(|r| r["key"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut browser = Browser::start().await;
    browser.open(&cluster.url("/")).await;
    browser.wait_until_drawn().await;

    browser.type_into("#filter", "shop").await;
    let shown = table(&mut browser, "namespaces", "namespace").await;
    assert_eq!(shown_names(&shown), matching("shop"));
    assert_eq!(matching("shop").len(), 2, "shop and shop-staging");
    for id in ["top-cpu", "top-memory"] {
        let top = table(&mut browser, id, "namespace").await;
        assert!(!top.is_empty());
        assert!(
            shown_names(&top).is_subset(&matching("shop")),
            "{id}: {top:?}"
        );
    }

    browser.type_into("#filter", "-nothing").await;
    assert!(table(&mut browser, "namespaces", "namespace")
        .await
        .is_empty());
    let says = browser
        .eval("document.querySelector('#namespaces tbody').textContent")
        .await;
    assert_eq!(says, "No namespace matches the filter.");

    // A link can open the page filtered.
    browser.open(&cluster.url("/?filter=kube")).await;
    browser.wait_until_drawn().await;
    let shown = table(&mut browser, "namespaces", "namespace").await;
    assert_eq!(shown_names(&shown), matching("kube"));
}

#[tokio::test(flavor = "multi_thread")]
async fn columns_sort_when_their_heading_is_clicked() {
    let cluster = simulated().await;
    let api = cluster.csv_by_first("group_by=namespace").await;
    let mut browser = Browser::start().await;
    browser.open(&cluster.url("/")).await;
    browser.wait_until_drawn().await;
    let order = |rows: Vec<Value>| -> Vec<String> {
        rows.iter()
            .map(|r| r["key"].as_str().unwrap().to_owned())
            .collect()
    };

    // By CPU, largest first, to begin with.
    let mut by_cpu: Vec<(f64, String)> = api
        .iter()
        .map(|(n, r)| (r["cpu_cores"].parse().unwrap_or(f64::MIN), n.clone()))
        .collect();
    by_cpu.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let expected: Vec<String> = by_cpu.into_iter().map(|(_, n)| n).collect();
    assert_eq!(
        order(table(&mut browser, "namespaces", "namespace").await),
        expected
    );

    browser
        .click("#namespaces th[data-column=namespace] button")
        .await;
    assert_eq!(
        order(table(&mut browser, "namespaces", "namespace").await),
        api.keys().cloned().collect::<Vec<_>>()
    );
    let sorted = browser
        .eval("document.querySelector('#namespaces th[data-column=namespace]').getAttribute('aria-sort')")
        .await;
    assert_eq!(sorted, "ascending");

    browser
        .click("#namespaces th[data-column=namespace] button")
        .await;
    let mut descending: Vec<String> = api.keys().cloned().collect();
    descending.reverse();
    assert_eq!(
        order(table(&mut browser, "namespaces", "namespace").await),
        descending
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn it_fits_a_phone() {
    let cluster = simulated().await;
    let mut browser = Browser::start().await;
    browser.viewport(390, 844, true).await;
    browser.open(&cluster.url("/")).await;
    browser.wait_until_drawn().await;
    let widths = browser
        .eval("[document.documentElement.scrollWidth, window.innerWidth]")
        .await;
    assert!(
        widths[0].as_f64() <= widths[1].as_f64(),
        "the page scrolls sideways on a phone: {widths}"
    );
    // Every column of every table in view, none behind a sideways scroll.
    let overflowing = browser
        .eval(
            "[...document.querySelectorAll('.scroll')]
                .filter((box) => box.scrollWidth > box.clientWidth)
                .map((box) => box.querySelector('table').id)",
        )
        .await;
    assert_eq!(
        overflowing,
        serde_json::json!([]),
        "tables wider than a phone"
    );
}

/// A fixture: one node, and pods `shop/web-0` and `blog/web-0`, `shop`'s container
/// using `shop_cpu`.
fn fixture(shop_cpu: &str) -> Fixture {
    let pod = |namespace: &str, cpu: &str| FixturePod {
        namespace: namespace.into(),
        name: "web-0".into(),
        node: Some("node-a".into()),
        ip: Some("10.0.0.1".into()),
        listed: true,
        containers: vec![FixtureContainer {
            name: "app".into(),
            cpu: cpu.into(),
            memory: "1Mi".into(),
        }],
    };
    Fixture {
        nodes: vec![FixtureNode {
            name: "node-a".into(),
            cpu: "1".into(),
            memory: "1Gi".into(),
        }],
        pods: vec![pod("shop", shop_cpu), pod("blog", "5m")],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_picks_up_a_change() {
    // An API server whose cluster the test can swap for a changed one.
    let serving = Arc::new(Mutex::new(simulator::fixture_router(
        fixture("5m"),
        MetricsApiVersion::V1beta1,
    )));
    let app = axum::Router::new().fallback({
        let serving = serving.clone();
        move |request: axum::extract::Request| {
            let router = serving.lock().unwrap().clone();
            async move { router.oneshot(request).await.unwrap() }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, simulator::kubeconfig(&url)).unwrap();
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

    let mut browser = Browser::start().await;
    browser
        .open(&format!("http://{address}/?refresh=0.2"))
        .await;
    browser.wait_until_drawn().await;
    let shop_cpu = "document.querySelector('#namespaces tr[data-namespace=shop] \
                    td[data-column=cpu_cores]').dataset.value";
    assert_eq!(browser.eval(shop_cpu).await, "0.005");

    *serving.lock().unwrap() = simulator::fixture_router(fixture("7m"), MetricsApiVersion::V1beta1);
    // The refresh under way may have read before the swap; the one after it cannot.
    let mut seen = Vec::new();
    for _ in 0..2 {
        let refreshed = browser.next_refresh().await;
        assert!(refreshed > 0, "the refresh failed");
        seen.push(browser.eval(shop_cpu).await);
    }
    assert_eq!(seen.last().unwrap(), "0.007", "after the swap: {seen:?}");
    let status = browser
        .eval("document.getElementById('status').textContent")
        .await;
    assert!(
        status.as_str().unwrap().contains("refreshed every 0.2 s"),
        "{status}"
    );
    server.abort();
}
