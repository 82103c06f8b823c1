//! `GET /api/v1/usage` on the exporter, run as a process against the fixture cluster:
//! every `group_by` and `nodes=true`, in JSON and CSV, answers byte for byte what
//! `snapshot` prints for the same cluster (with and without `--resources`); filters keep
//! exactly the rows they name; bad requests get a JSON error and a 400; a `/metrics`
//! scrape and API requests within one `--metrics.max-age` cost one metrics read; and
//! basic auth covers the API and the page.

mod fixture_server;
mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use fixture_server::FixtureServer;
use support::{basic, get_text, request_tally, run_snapshot, wait_until_ok, Process};

/// The fixture cluster, and the exporter reading it with `args`.
struct Setup {
    server: FixtureServer,
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    exporter: Process,
    address: SocketAddr,
}

async fn setup(args: &[&str]) -> Setup {
    let server = FixtureServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = server.write_kubeconfig(dir.path());
    let mut all = vec!["--kubeconfig", kubeconfig.to_str().unwrap()];
    all.extend_from_slice(args);
    let (exporter, address) = Process::exporter(&all, &[]);
    wait_until_ok(&format!("http://{address}/readyz")).await;
    Setup {
        server,
        _dir: dir,
        kubeconfig,
        exporter,
        address,
    }
}

impl Setup {
    fn url(&self, query: &str) -> String {
        format!("http://{}/api/v1/usage{query}", self.address)
    }

    async fn api(&self, query: &str) -> String {
        get_text(&self.url(query)).await
    }

    async fn snapshot(&self, args: &[&str]) -> String {
        snapshot(&self.kubeconfig, args).await
    }
}

/// `metrics-server-prom snapshot --kubeconfig <kubeconfig> <args>`'s stdout.
async fn snapshot(kubeconfig: &Path, args: &[&str]) -> String {
    let output = run_snapshot(kubeconfig, args).await;
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Each query of the API beside the `snapshot` flags that print the same view.
const VIEWS: [(&str, &[&str]); 5] = [
    ("", &[]),
    ("group_by=container", &[]),
    ("group_by=namespace", &["--group-by", "namespace"]),
    ("group_by=node", &["--group-by", "node"]),
    ("group_by=pod", &["--group-by", "pod"]),
];

async fn assert_views_match_snapshot(setup: &Setup, resources: bool) {
    let extra: &[&str] = if resources { &["--resources"] } else { &[] };
    let node_view: (&str, &[&str]) = ("nodes=true", &["--nodes"]);
    for (query, flags) in VIEWS.iter().copied().chain([node_view]) {
        for format in ["json", "csv"] {
            let separator = if query.is_empty() { "" } else { "&" };
            let asked = format!("?{query}{separator}format={format}");
            let answered = setup.api(&asked).await;
            let printed = setup
                .snapshot(&[flags, extra, &["-o", format]].concat())
                .await;
            assert_eq!(answered, printed, "{asked} (resources: {resources})");
        }
    }
    // JSON is the default format.
    assert_eq!(
        setup.api("?group_by=namespace").await,
        setup.api("?group_by=namespace&format=json").await
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_view_is_what_snapshot_prints() {
    let setup = setup(&["--metrics.max-age", "1h"]).await;
    assert_views_match_snapshot(&setup, false).await;

    // The sums are exact decimals, as snapshot prints them.
    let by_namespace: serde_json::Value =
        serde_json::from_str(&setup.api("?group_by=namespace").await).unwrap();
    let shop = by_namespace
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["namespace"] == "shop")
        .unwrap();
    assert_eq!(shop["cpu_cores"].to_string(), "0.124956789");
    assert_eq!(shop["pods"], 2);
    assert_eq!(shop["containers"], 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_resources_the_views_gain_requests_limits_and_capacity() {
    let setup = setup(&["--metrics.max-age", "1h", "--resources"]).await;
    assert_views_match_snapshot(&setup, true).await;
    let nodes = setup.api("?nodes=true&format=csv").await;
    assert!(
        nodes.starts_with(
            "node,cpu_cores,memory_bytes,timestamp,window,window_seconds,cpu_capacity_cores,\
             cpu_allocatable_cores,memory_capacity_bytes,memory_allocatable_bytes\n"
        ),
        "{nodes}"
    );
    assert!(nodes.contains(",2,1.93,8589934592,8053063680\n"), "{nodes}");
}

/// The CSV lines of `text` after its header.
fn lines(text: &str) -> BTreeSet<String> {
    text.lines().skip(1).map(str::to_owned).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_keep_exactly_the_rows_they_name() {
    let setup = setup(&["--metrics.max-age", "1h"]).await;
    let csv = |query: &'static str| {
        let setup = &setup;
        async move { setup.api(&format!("?format=csv&{query}")).await }
    };
    let containers = csv("").await;
    let header = containers.lines().next().unwrap().to_owned();
    let namespace_of = |line: &str| line.split(',').next().unwrap().to_owned();
    let node_of = |line: &str| line.split(',').nth(3).unwrap().to_owned();

    let two = csv("namespace=shop&namespace=blog").await;
    assert!(two.starts_with(&format!("{header}\n")));
    let expected: BTreeSet<String> = lines(&containers)
        .into_iter()
        .filter(|line| ["shop", "blog"].contains(&namespace_of(line).as_str()))
        .collect();
    assert_eq!(lines(&two), expected);
    assert_eq!(expected.len(), 6);

    let on_node = csv("node=node-b").await;
    let expected: BTreeSet<String> = lines(&containers)
        .into_iter()
        .filter(|line| node_of(line) == "node-b")
        .collect();
    assert_eq!(lines(&on_node), expected);
    assert_eq!(expected.len(), 3);

    let both = csv("namespace=shop&node=node-b").await;
    assert_eq!(lines(&both).len(), 1, "{both}");
    assert!(
        both.contains("\nshop,broken-quantity,app,node-b,"),
        "{both}"
    );

    // A group of filtered containers is the group of all, when the filter keeps it whole.
    let pods = lines(&csv("group_by=pod").await);
    let shop_pods = lines(&csv("group_by=pod&namespace=shop").await);
    let expected: BTreeSet<String> = pods
        .iter()
        .filter(|line| line.starts_with("shop,"))
        .cloned()
        .collect();
    assert_eq!(shop_pods, expected);
    assert_eq!(
        csv("group_by=namespace&namespace=kube-system").await,
        "namespace,pods,containers,cpu_cores,memory_bytes\nkube-system,1,1,0.007,128458752\n"
    );
    let node_groups = lines(&csv("group_by=node").await);
    let node_b = lines(&csv("group_by=node&node=node-b").await);
    assert_eq!(node_b.len(), 1);
    assert!(node_groups.is_superset(&node_b));

    let node_rows = csv("nodes=true&node=node-a").await;
    assert_eq!(lines(&node_rows).len(), 1);
    assert!(
        node_rows.contains("\nnode-a,1.5,4294967296,"),
        "{node_rows}"
    );

    // Nothing matches: a header and no rows; JSON an empty array.
    assert_eq!(csv("namespace=nowhere").await, format!("{header}\n"));
    assert_eq!(setup.api("?namespace=nowhere").await, "[]\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_requests_get_a_json_error_and_a_400() {
    let setup = setup(&["--metrics.max-age", "1h"]).await;
    let client = reqwest::Client::new();
    for (query, says) in [
        (
            "group_by=cluster",
            "group_by must be container, namespace, node or pod",
        ),
        ("format=xml", "format must be json or csv"),
        ("nodes=maybe", "nodes must be true or false"),
        ("sort=cpu", "unknown parameter \"sort\""),
        ("nodes=true&group_by=pod", "ask for one of them"),
        ("nodes=true&namespace=shop", "node rows have no namespace"),
        ("format=csv&format=csv", "format is given twice"),
    ] {
        let response = client
            .get(setup.url(&format!("?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{query}"
        );
        let body: serde_json::Value = response.json().await.unwrap();
        let message = body["error"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn node_rows_are_refused_where_the_exporter_reads_no_nodes() {
    let setup = setup(&["--namespaces", "shop"]).await;
    let response = reqwest::get(setup.url("?nodes=true")).await.unwrap();
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("this exporter does not read nodes"),
        "{body}"
    );
    assert_eq!(
        setup.api("?group_by=namespace&format=csv").await,
        "namespace,pods,containers,cpu_cores,memory_bytes\nshop,2,3,0.124956789,127651093\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreadable_metrics_api_is_a_json_503() {
    let setup = setup(&["--metrics.max-age", "0s"]).await;
    setup.server.fail("/apis/metrics.k8s.io/", 503);
    let response = reqwest::get(setup.url("")).await.unwrap();
    assert_eq!(response.status(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("the metrics API could not be read"),
        "{body}"
    );
    setup.server.heal();
    assert!(setup.api("?group_by=namespace").await.contains("\"shop\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scrape_and_api_requests_in_one_window_make_one_read() {
    let setup = setup(&["--metrics.max-age", "1h"]).await;
    let before = request_tally(&setup.server.url).await;
    let metrics = get_text(&format!("http://{}/metrics", setup.address)).await;
    assert!(metrics.contains("kube_metrics_server_pod_cpu{"));
    for query in [
        "",
        "?group_by=namespace",
        "?group_by=pod&format=csv",
        "?nodes=true",
    ] {
        setup.api(query).await;
    }
    get_text(&format!("http://{}/", setup.address)).await;
    let after = request_tally(&setup.server.url).await;
    assert_eq!(after.pod_metrics_lists - before.pod_metrics_lists, 1);
    assert_eq!(after.node_metrics_lists - before.node_metrics_lists, 1);
    assert_eq!(after.pod_lists, before.pod_lists, "no pod list per request");
    drop(setup.exporter);
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_covers_the_api_and_the_page() {
    const USER: &str = "lead";
    const PASSWORD: &str = "which namespace eats the cluster";
    let dir = tempfile::tempdir().unwrap();
    let web_config = dir.path().join("web.yml");
    std::fs::write(
        &web_config,
        format!(
            "basic_auth_users:\n  {USER}: '{}'\n",
            bcrypt::hash(PASSWORD, 4).unwrap()
        ),
    )
    .unwrap();
    let server = FixtureServer::start().await;
    let kubeconfig = server.write_kubeconfig(dir.path());
    let (_exporter, address) = Process::exporter(
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--web.config.file",
            web_config.to_str().unwrap(),
        ],
        &[],
    );
    let client = reqwest::Client::new();
    for path in [
        "/api/v1/usage",
        "/api/v1/usage?group_by=namespace&format=csv",
        "/",
        "/static/page.js",
        "/static/page.css",
    ] {
        let url = format!("http://{address}{path}");
        let without = client.get(&url).send().await.unwrap();
        assert_eq!(without.status(), 401, "{path} without credentials");
        assert!(without.headers().contains_key("www-authenticate"));
        let wrong = client
            .get(&url)
            .header("authorization", basic(USER, "guess"))
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{path} with a wrong password");
        let with = client
            .get(&url)
            .header("authorization", basic(USER, PASSWORD))
            .send()
            .await
            .unwrap();
        assert_eq!(with.status(), 200, "{path} with credentials");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_and_its_files_are_served_with_a_strict_policy() {
    let setup = setup(&["--web.telemetry-path", "/custom-metrics"]).await;
    for (path, content_type) in [
        ("/", "text/html; charset=utf-8"),
        ("/static/page.js", "text/javascript; charset=utf-8"),
        ("/static/page.css", "text/css; charset=utf-8"),
    ] {
        let response = reqwest::get(format!("http://{}{path}", setup.address))
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers();
        assert_eq!(headers["content-type"], content_type, "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        assert!(policy.starts_with("default-src 'none'; script-src 'self';"));
        assert!(policy.contains("connect-src 'self'"));
    }
    let page = get_text(&format!("http://{}/", setup.address)).await;
    for link in [
        "href=\"/custom-metrics\"",
        "href=\"/healthz\"",
        "href=\"/readyz\"",
    ] {
        assert!(page.contains(link), "no {link} on the page");
    }
}
