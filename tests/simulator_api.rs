//! The simulated API server through the real `kube` client and `kube-runtime` watcher:
//! paging, watching (initial list, churn, expiry), discovery per served metrics version,
//! the metrics documents with every quantity spelling, and the fixture router.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::Client;
use kube_runtime::watcher;
use serde::Deserialize;
use simulator::{
    self, Fixture, FixtureContainer, FixtureNode, FixturePod, MetricsApiVersion, RunningSimulator,
    SimulateArgs,
};

/// Longest any wait may take before the test gives up instead of hanging.
const PATIENCE: Duration = Duration::from_secs(60);

/// A tick so long that the cluster never changes during a test.
const FROZEN: Duration = Duration::from_secs(365 * 86_400);

async fn start(args: SimulateArgs) -> (RunningSimulator, Client) {
    let simulator = simulator::start(&args)
        .await
        .expect("starting the simulator");
    let client = client(simulator.url());
    (simulator, client)
}

fn frozen() -> SimulateArgs {
    SimulateArgs {
        tick: FROZEN,
        ..SimulateArgs::default()
    }
}

fn client(url: &str) -> Client {
    Client::try_from(kube::Config::new(url.parse().expect("a URL"))).expect("a client")
}

fn key(pod: &Pod) -> (String, String) {
    (
        pod.metadata.namespace.clone().unwrap_or_default(),
        pod.metadata.name.clone().unwrap_or_default(),
    )
}

async fn get_json<T: serde::de::DeserializeOwned>(url: &str) -> T {
    let response = reqwest::get(url).await.expect("GET");
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/json");
    response.json().await.expect("JSON of the expected shape")
}

#[tokio::test]
async fn paging_with_continue_returns_every_pod_once() {
    let (simulator, client) = start(frozen()).await;
    let pods: Api<Pod> = Api::all(client.clone());

    let mut seen = Vec::new();
    let mut params = ListParams::default().limit(7);
    let mut pages = 0;
    loop {
        let page = pods.list(&params).await.expect("a page");
        pages += 1;
        assert!(page.items.len() <= 7);
        assert!(page
            .metadata
            .resource_version
            .is_some_and(|rv| !rv.is_empty()));
        seen.extend(page.items.iter().map(key));
        match page.metadata.continue_.filter(|token| !token.is_empty()) {
            Some(token) => params = params.continue_token(&token),
            None => break,
        }
    }
    assert_eq!(pages, 40usize.div_ceil(7));
    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(seen.len(), 40);
    assert_eq!(unique.len(), 40);

    let unpaged: Vec<_> = pods
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(key)
        .collect();
    assert_eq!(seen, unpaged);
    for (namespace, name) in [("shop", "web-0"), ("shop-staging", "web-0")] {
        assert!(unique.contains(&(namespace.to_owned(), name.to_owned())));
    }

    let shop: Api<Pod> = Api::namespaced(client, "shop");
    let web = shop.get("web-0").await.expect("GET one pod");
    let status = web.status.expect("status");
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert!(status.pod_ip.is_some_and(|ip| ip.starts_with("10.")));
    assert!(web
        .spec
        .expect("spec")
        .node_name
        .is_some_and(|node| node.starts_with("sim-node-")));
    assert!(shop
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .all(|pod| key(pod).0 == "shop"));
    simulator.shutdown().await;
}

/// The pods a watcher reports before InitDone.
async fn initial_pods(client: Client, config: watcher::Config) -> BTreeSet<(String, String)> {
    let events = watcher(Api::<Pod>::all(client), config);
    let mut events = std::pin::pin!(events);
    let mut pods = BTreeSet::new();
    tokio::time::timeout(PATIENCE, async {
        while let Some(event) = events.try_next().await.expect("a watch event") {
            match event {
                watcher::Event::Init => {}
                watcher::Event::InitApply(pod) => {
                    pods.insert(key(&pod));
                }
                watcher::Event::InitDone => break,
                other => panic!("unexpected event before InitDone: {other:?}"),
            }
        }
    })
    .await
    .expect("InitDone");
    pods
}

#[tokio::test]
async fn watcher_lists_every_pod_then_reports_init_done() {
    let (simulator, client) = start(frozen()).await;
    let paged = initial_pods(client.clone(), watcher::Config::default().page_size(9)).await;
    assert_eq!(paged.len(), 40);
    let streamed = initial_pods(client, watcher::Config::default().streaming_lists()).await;
    assert_eq!(streamed, paged);
    simulator.shutdown().await;
}

#[tokio::test]
async fn start_rejects_a_churn_outside_zero_to_one() {
    let args = SimulateArgs {
        churn: 1.5,
        ..frozen()
    };
    assert!(simulator::start(&args).await.is_err());
}

#[tokio::test]
async fn watcher_sees_pods_replaced_as_ticks_pass() {
    let (simulator, client) = start(SimulateArgs {
        tick: Duration::from_millis(50),
        churn: 0.1,
        ..SimulateArgs::default()
    })
    .await;
    let events = watcher(Api::<Pod>::all(client.clone()), watcher::Config::default());
    let mut events = std::pin::pin!(events);
    let (mut deleted, mut applied) = (None, None);
    tokio::time::timeout(PATIENCE, async {
        while deleted.is_none() || applied.is_none() {
            match events
                .try_next()
                .await
                .expect("a watch event")
                .expect("an open stream")
            {
                watcher::Event::Delete(pod) => deleted = Some(key(&pod)),
                watcher::Event::Apply(pod) => applied = Some(pod),
                watcher::Event::Init | watcher::Event::InitApply(_) | watcher::Event::InitDone => {}
            }
        }
    })
    .await
    .expect("a Delete and an Apply");
    let applied = applied.unwrap();
    assert!(applied.metadata.uid.is_some());
    assert!(applied.metadata.resource_version.is_some());
    assert!(deleted.is_some());
    simulator.shutdown().await;
}

#[tokio::test]
async fn an_expired_resource_version_gets_a_410_error_event() {
    let (simulator, client) = start(frozen()).await;
    let pods: Api<Pod> = Api::all(client);
    let current = pods.list(&ListParams::default().limit(1)).await.unwrap();
    let current: u64 = current.metadata.resource_version.unwrap().parse().unwrap();
    assert!(current > 1);

    let stream = pods
        .watch(&WatchParams::default().timeout(5), "1")
        .await
        .expect("a watch");
    let mut stream = std::pin::pin!(stream);
    match stream.next().await {
        Some(Ok(WatchEvent::Error(status))) => {
            assert_eq!(status.code, 410);
            assert_eq!(status.reason, "Expired");
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }
    assert!(
        stream.next().await.is_none(),
        "the stream ends after the error"
    );
    simulator.shutdown().await;
}

#[tokio::test]
async fn discovery_offers_v1beta1_by_default() {
    let (simulator, client) = start(frozen()).await;
    let version = client.apiserver_version().await.expect("/version");
    assert_eq!(version.git_version, "v1.37.0-sim");
    let core = client.list_core_api_versions().await.expect("/api");
    assert_eq!(core.versions, ["v1"]);
    let core_resources = client.list_core_api_resources("v1").await.expect("/api/v1");
    let pods = core_resources
        .resources
        .iter()
        .find(|r| r.name == "pods")
        .expect("pods");
    assert!(pods.namespaced && pods.verbs.contains(&"watch".to_owned()));
    assert!(core_resources
        .resources
        .iter()
        .any(|r| r.name == "nodes" && !r.namespaced));

    let groups = client.list_api_groups().await.expect("/apis");
    let metrics = groups
        .groups
        .iter()
        .find(|g| g.name == "metrics.k8s.io")
        .expect("the group");
    let versions: Vec<_> = metrics
        .versions
        .iter()
        .map(|v| v.version.as_str())
        .collect();
    assert_eq!(versions, ["v1beta1"]);
    assert_eq!(
        metrics.preferred_version.as_ref().unwrap().version,
        "v1beta1"
    );

    let resources = client
        .list_api_group_resources("metrics.k8s.io/v1beta1")
        .await
        .expect("resources");
    let pods = resources
        .resources
        .iter()
        .find(|r| r.name == "pods")
        .expect("pods");
    assert!(pods.namespaced);
    assert_eq!(pods.kind, "PodMetrics");
    assert!(resources
        .resources
        .iter()
        .any(|r| r.name == "nodes" && r.kind == "NodeMetrics"));

    match client.list_api_group_resources("metrics.k8s.io/v1").await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 404),
        other => panic!("v1 should not be served: {other:?}"),
    }
    let missing = reqwest::get(format!("{}/apis/metrics.k8s.io/v1/pods", simulator.url()))
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let status: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["code"], 404);
    simulator.shutdown().await;
}

#[tokio::test]
async fn discovery_prefers_v1_when_asked() {
    let (simulator, client) = start(SimulateArgs {
        metrics_api_version: MetricsApiVersion::V1,
        ..frozen()
    })
    .await;
    let groups = client.list_api_groups().await.expect("/apis");
    let metrics = groups
        .groups
        .iter()
        .find(|g| g.name == "metrics.k8s.io")
        .expect("the group");
    let versions: Vec<_> = metrics
        .versions
        .iter()
        .map(|v| v.version.as_str())
        .collect();
    assert_eq!(versions, ["v1", "v1beta1"]);
    assert_eq!(metrics.preferred_version.as_ref().unwrap().version, "v1");
    for version in ["v1", "v1beta1"] {
        let resources = client
            .list_api_group_resources(&format!("metrics.k8s.io/{version}"))
            .await
            .expect("resources");
        assert_eq!(resources.group_version, format!("metrics.k8s.io/{version}"));
        let list: MetricsList<PodMetrics> = get_json(&format!(
            "{}/apis/metrics.k8s.io/{version}/pods",
            simulator.url()
        ))
        .await;
        assert_eq!(list.api_version, format!("metrics.k8s.io/{version}"));
    }
    simulator.shutdown().await;
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MetricsList<T> {
    kind: String,
    api_version: String,
    items: Vec<T>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PodMetrics {
    #[serde(default)]
    kind: Option<String>,
    metadata: Metadata,
    timestamp: String,
    window: String,
    containers: Vec<ContainerMetrics>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    creation_timestamp: String,
}

#[derive(Debug, Deserialize)]
struct ContainerMetrics {
    name: String,
    usage: Usage,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NodeMetrics {
    metadata: Metadata,
    timestamp: String,
    window: String,
    usage: Usage,
}

#[derive(Debug, Deserialize)]
struct Usage {
    cpu: String,
    memory: String,
}

/// The suffix of a valid Kubernetes quantity (digits, an optional fraction, then one of
/// the known suffixes), or None if it is not one.
fn quantity_suffix(quantity: &str) -> Option<&str> {
    let number_end = quantity
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(quantity.len());
    let (number, suffix) = quantity.split_at(number_end);
    let digits = number.replacen('.', "", 1);
    let valid_number = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    let known = [
        "", "n", "u", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ];
    (valid_number && known.contains(&suffix)).then_some(suffix)
}

#[tokio::test]
async fn metrics_documents_use_every_quantity_spelling() {
    let (simulator, client) = start(frozen()).await;
    let url = simulator.url().to_owned();
    let pods: MetricsList<PodMetrics> =
        get_json(&format!("{url}/apis/metrics.k8s.io/v1beta1/pods")).await;
    assert_eq!(pods.kind, "PodMetricsList");
    assert_eq!(pods.api_version, "metrics.k8s.io/v1beta1");
    assert_eq!(pods.items.len(), 40);

    let (mut cpu_forms, mut memory_forms) = (BTreeSet::new(), BTreeSet::new());
    for pod in &pods.items {
        assert!(pod.kind.is_none(), "list items carry no kind");
        assert!(pod.metadata.namespace.is_some());
        assert!(pod.timestamp.ends_with('Z') && pod.metadata.creation_timestamp.ends_with('Z'));
        assert!(pod.window.ends_with('s'));
        assert!(!pod.containers.is_empty());
        for container in &pod.containers {
            assert!(!container.name.is_empty());
            let cpu = quantity_suffix(&container.usage.cpu)
                .unwrap_or_else(|| panic!("invalid CPU {:?}", container.usage.cpu));
            let memory = quantity_suffix(&container.usage.memory)
                .unwrap_or_else(|| panic!("invalid memory {:?}", container.usage.memory));
            cpu_forms.insert(match (cpu, container.usage.cpu.as_str()) {
                ("", "0") => "0",
                ("", _) => "cores",
                (suffix, _) => suffix,
            });
            memory_forms.insert(if memory.is_empty() { "bytes" } else { memory });
        }
    }
    assert_eq!(cpu_forms, BTreeSet::from(["0", "cores", "m", "n", "u"]));
    assert_eq!(
        memory_forms,
        BTreeSet::from(["Gi", "Ki", "Mi", "bytes", "k"])
    );

    let nodes: MetricsList<NodeMetrics> =
        get_json(&format!("{url}/apis/metrics.k8s.io/v1beta1/nodes")).await;
    assert_eq!(nodes.kind, "NodeMetricsList");
    assert_eq!(nodes.items.len(), 3);
    for node in &nodes.items {
        assert!(node.metadata.name.starts_with("sim-node-"));
        assert!(node.timestamp.ends_with('Z') && node.window.ends_with('s'));
        assert!(
            quantity_suffix(&node.usage.cpu).is_some(),
            "{:?}",
            node.usage.cpu
        );
        assert!(
            quantity_suffix(&node.usage.memory).is_some(),
            "{:?}",
            node.usage.memory
        );
    }

    // The same pod name in two namespaces, each with its own metrics.
    for namespace in ["shop", "shop-staging"] {
        let list: MetricsList<PodMetrics> = get_json(&format!(
            "{url}/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods"
        ))
        .await;
        assert!(list
            .items
            .iter()
            .all(|p| p.metadata.namespace.as_deref() == Some(namespace)));
        let one: PodMetrics = get_json(&format!(
            "{url}/apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/web-0"
        ))
        .await;
        assert_eq!(one.kind.as_deref(), Some("PodMetrics"));
        assert_eq!(one.metadata.name, "web-0");
        let listed = list
            .items
            .iter()
            .find(|p| p.metadata.name == "web-0")
            .expect("web-0 listed");
        assert_eq!(
            listed
                .containers
                .iter()
                .map(|c| &c.usage.cpu)
                .collect::<Vec<_>>(),
            one.containers
                .iter()
                .map(|c| &c.usage.cpu)
                .collect::<Vec<_>>()
        );
    }

    // Between ticks every read is the same.
    let again = reqwest::get(format!("{url}/apis/metrics.k8s.io/v1beta1/pods"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let first = reqwest::get(format!("{url}/apis/metrics.k8s.io/v1beta1/pods"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(first, again);

    // Nodes in the core API, with what `kubectl top node` needs.
    let node_list = Api::<Node>::all(client)
        .list(&ListParams::default())
        .await
        .expect("nodes");
    assert_eq!(node_list.items.len(), 3);
    for node in node_list.items {
        let status = node.status.expect("status");
        let allocatable = status.allocatable.expect("allocatable");
        assert!(allocatable.contains_key("cpu") && allocatable.contains_key("memory"));
        let ready = status
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "True");
    }
    simulator.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_answer_a_status() {
    let (simulator, _client) = start(frozen()).await;
    let response = reqwest::get(format!("{}/apis/apps/v1/deployments", simulator.url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let status: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "NotFound");
    simulator.shutdown().await;
}

#[tokio::test]
async fn fixture_router_serves_fixture_values_verbatim() {
    let fixture = Fixture {
        nodes: vec![FixtureNode {
            name: "node-a".into(),
            cpu: "1500m".into(),
            memory: "12x".into(),
        }],
        pods: vec![
            FixturePod {
                namespace: "team".into(),
                name: "api-1".into(),
                node: Some("node-a".into()),
                ip: Some("10.1.2.3".into()),
                listed: true,
                containers: vec![FixtureContainer {
                    name: "app".into(),
                    cpu: "12x".into(),
                    memory: "1Mi".into(),
                }],
            },
            FixturePod {
                namespace: "team".into(),
                name: "ghost".into(),
                node: None,
                ip: None,
                listed: false,
                containers: vec![FixtureContainer {
                    name: "app".into(),
                    cpu: "5m".into(),
                    memory: "1Ki".into(),
                }],
            },
        ],
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = simulator::fixture_router(fixture, MetricsApiVersion::V1);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });

    let pods: MetricsList<PodMetrics> =
        get_json(&format!("{url}/apis/metrics.k8s.io/v1/pods")).await;
    let names: Vec<_> = pods
        .items
        .iter()
        .map(|p| p.metadata.name.as_str())
        .collect();
    assert_eq!(names, ["api-1", "ghost"]);
    assert_eq!(pods.items[0].containers[0].usage.cpu, "12x");
    let nodes: MetricsList<NodeMetrics> =
        get_json(&format!("{url}/apis/metrics.k8s.io/v1/nodes")).await;
    assert_eq!(nodes.items[0].usage.memory, "12x");

    let listed = Api::<Pod>::all(client(&url))
        .list(&ListParams::default())
        .await
        .unwrap();
    let listed: Vec<_> = listed.items.iter().map(key).collect();
    assert_eq!(listed, [("team".to_owned(), "api-1".to_owned())]);
    let pod = Api::<Pod>::namespaced(client(&url), "team")
        .get("api-1")
        .await
        .unwrap();
    assert_eq!(pod.status.unwrap().pod_ip.as_deref(), Some("10.1.2.3"));
    assert_eq!(pod.spec.unwrap().node_name.as_deref(), Some("node-a"));
    server.abort();
}

/// The simulator with `--chaos` set to one phase that lasts the whole test.
async fn in_chaos(fault: &str) -> RunningSimulator {
    let args = SimulateArgs {
        chaos: Some(format!("{fault}=1h").parse().expect("a schedule")),
        ..frozen()
    };
    simulator::start(&args)
        .await
        .expect("starting the simulator")
}

async fn chaos_tally(simulator: &RunningSimulator) -> simulator::ChaosTally {
    get_json(&format!("{}/simulator/chaos", simulator.url())).await
}

#[tokio::test]
async fn chaos_throttle_answers_429_with_retry_after_and_counts_it() {
    let simulator = in_chaos("throttle").await;
    let url = format!("{}/apis/metrics.k8s.io/v1beta1/pods", simulator.url());
    let response = reqwest::get(&url).await.expect("an answer");
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "5");
    let status: serde_json::Value = response.json().await.expect("a Status");
    assert_eq!(status["reason"], "TooManyRequests");
    let tally = chaos_tally(&simulator).await;
    assert_eq!(
        (tally.fault, tally.throttled),
        (simulator::Fault::Throttle, 1)
    );
    let requests: simulator::RequestTally =
        get_json(&format!("{}/simulator/requests", simulator.url())).await;
    assert_eq!(
        requests.pod_metrics_lists, 1,
        "a throttled request is still counted"
    );
    simulator.shutdown().await;
}

#[tokio::test]
async fn chaos_refuse_closes_the_listening_socket() {
    let simulator = in_chaos("refuse").await;
    let url = format!("{}/version", simulator.url());
    let refused = tokio::time::timeout(PATIENCE, async {
        // The accept loop closes its socket as soon as it runs; until then a
        // connection may still be taken (and cut off). Either way there is no answer.
        loop {
            match reqwest::get(&url).await {
                Err(error) if error.is_connect() => return,
                Err(_) => tokio::task::yield_now().await,
                Ok(response) => match response.bytes().await {
                    Ok(_) => panic!("answered while refusing"),
                    Err(_) => tokio::task::yield_now().await,
                },
            }
        }
    })
    .await;
    assert!(refused.is_ok(), "connections were never refused");
    simulator.shutdown().await;
}

#[tokio::test]
async fn chaos_reset_cuts_list_bodies() {
    let simulator = in_chaos("reset").await;
    let url = format!("{}/apis/metrics.k8s.io/v1beta1/pods", simulator.url());
    // Cut before or after the head reached the client: either way no whole answer.
    let cut = match reqwest::get(&url).await {
        Err(_) => true,
        Ok(response) => response.bytes().await.is_err(),
    };
    assert!(cut, "the body was not cut");
    assert_eq!(chaos_tally(&simulator).await.reset, 1);
    simulator.shutdown().await;
}

#[tokio::test]
async fn chaos_slow_still_delivers_whole_lists() {
    let simulator = in_chaos("slow").await;
    let pods: serde_json::Value = reqwest::get(format!(
        "{}/apis/metrics.k8s.io/v1beta1/pods",
        simulator.url()
    ))
    .await
    .expect("an answer")
    .json()
    .await
    .expect("a whole PodMetricsList");
    assert_eq!(pods["items"].as_array().map(Vec::len), Some(40));
    assert_eq!(chaos_tally(&simulator).await.slowed, 1);
    simulator.shutdown().await;
}

#[tokio::test]
async fn chaos_gone_expires_watches_from_before_the_compaction() {
    let simulator = in_chaos("gone").await;
    let client = client(simulator.url());
    let pods: Api<Pod> = Api::all(client);
    let current = pods
        .list(&ListParams::default())
        .await
        .expect("a list")
        .metadata
        .resource_version
        .expect("a resourceVersion");
    // From before the compaction: one ERROR event, 410.
    let mut old = pods
        .watch(&WatchParams::default(), "1")
        .await
        .expect("a watch")
        .boxed();
    match old.try_next().await.expect("an event") {
        Some(WatchEvent::Error(status)) => assert_eq!(status.code, 410),
        other => panic!("expected 410, got {other:?}"),
    }
    // From the list's version (not older than the compaction): a live watch.
    let params = WatchParams::default().timeout(1);
    let mut live = pods
        .watch(&params, &current)
        .await
        .expect("a watch")
        .boxed();
    while let Some(event) = live.try_next().await.expect("an event") {
        assert!(!matches!(event, WatchEvent::Error(_)), "{event:?}");
    }
    assert_eq!(chaos_tally(&simulator).await.expired, 1);
    simulator.shutdown().await;
}
