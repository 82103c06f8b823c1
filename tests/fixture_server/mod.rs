//! A plain-HTTP API server on loopback serving a fixture cluster with requests, limits
//! and capacities, the kubeconfig that points at it, and failures injected by path
//! prefix; and the fixture the snapshot and resources tests share.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use simulator::{
    self, Fixture, FixtureContainer, FixtureContainerResources, FixtureNode, FixtureNodeResources,
    FixturePod, FixtureResources, MetricsApiVersion,
};

/// Requests whose path starts with a prefix are answered with a status instead.
type Failures = Arc<Mutex<Vec<(String, u16)>>>;

pub struct FixtureServer {
    pub url: String,
    failures: Failures,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl FixtureServer {
    pub async fn start() -> FixtureServer {
        let failures = Failures::default();
        let router = simulator::fixture_router_with_resources(
            fixture(),
            resources(),
            MetricsApiVersion::V1beta1,
        )
        .layer(axum::middleware::from_fn_with_state(failures.clone(), fail));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        FixtureServer {
            url,
            failures,
            task,
        }
    }

    /// Answers requests under `prefix` with `status` from now on.
    pub fn fail(&self, prefix: &str, status: u16) {
        self.failures
            .lock()
            .unwrap()
            .push((prefix.to_owned(), status));
    }

    /// Answers every request normally again.
    pub fn heal(&self) {
        self.failures.lock().unwrap().clear();
    }

    /// Writes a kubeconfig for this server into `dir`.
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        std::fs::write(&path, simulator::kubeconfig(&self.url)).unwrap();
        path
    }

    /// The `timestamp` and `window` the fixture's PodMetrics carry.
    pub async fn sample_time(&self) -> (String, String) {
        let list: serde_json::Value =
            reqwest::get(format!("{}/apis/metrics.k8s.io/v1beta1/pods", self.url))
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
        let item = &list["items"][0];
        (
            item["timestamp"].as_str().unwrap().to_owned(),
            item["window"].as_str().unwrap().to_owned(),
        )
    }
}

async fn fail(State(failures): State<Failures>, request: Request, next: Next) -> Response {
    let failing = failures
        .lock()
        .unwrap()
        .iter()
        .find(|(prefix, _)| request.uri().path().starts_with(prefix.as_str()))
        .map(|(_, status)| *status);
    match failing {
        None => next.run(request).await,
        Some(code) => {
            let body = serde_json::json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Failure", "message": format!("injected {code}"), "code": code,
            });
            (
                http::StatusCode::from_u16(code).unwrap(),
                [(http::header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
    }
}

fn container(name: &str, cpu: &str, memory: &str) -> FixtureContainer {
    FixtureContainer {
        name: name.into(),
        cpu: cpu.into(),
        memory: memory.into(),
    }
}

fn pod(
    namespace: &str,
    name: &str,
    node: &str,
    ip: &str,
    containers: Vec<FixtureContainer>,
) -> FixturePod {
    FixturePod {
        namespace: namespace.into(),
        name: name.into(),
        node: Some(node.into()),
        ip: Some(ip.into()),
        listed: true,
        containers,
    }
}

/// Usage in every quantity form, the same pod name in two namespaces, a pod the pod
/// list does not know and a quantity that does not parse.
pub fn fixture() -> Fixture {
    Fixture {
        nodes: vec![
            FixtureNode {
                name: "node-a".into(),
                cpu: "1500m".into(),
                memory: "4Gi".into(),
            },
            FixtureNode {
                name: "node-b".into(),
                cpu: "250123456n".into(),
                memory: "2097152Ki".into(),
            },
        ],
        pods: vec![
            pod(
                "kube-system",
                "etcd-server-events-abc",
                "node-a",
                "10.30.62.138",
                vec![container("etcd-container", "7m", "125448Ki")],
            ),
            pod(
                "shop",
                "web-0",
                "node-a",
                "10.0.0.10",
                vec![
                    container("app", "123456789n", "1Mi"),
                    container("sidecar", "1500u", "123456789"),
                ],
            ),
            pod(
                "blog",
                "web-0",
                "node-b",
                "10.0.1.20",
                vec![container("app", "1", "1Gi"), container("idle", "0", "1k")],
            ),
            FixturePod {
                listed: false,
                ..pod(
                    "blog",
                    "just-deleted",
                    "node-b",
                    "10.0.1.99",
                    vec![container("app", "2m", "2Mi")],
                )
            },
            pod(
                "shop",
                "broken-quantity",
                "node-b",
                "10.0.1.30",
                vec![container("app", "12 m", "3Mi")],
            ),
        ],
    }
}

fn requirements(
    (namespace, pod, container): (&str, &str, &str),
    [cpu_request, cpu_limit, memory_request, memory_limit]: [Option<&str>; 4],
) -> FixtureContainerResources {
    FixtureContainerResources {
        namespace: namespace.into(),
        pod: pod.into(),
        container: container.into(),
        cpu_request: cpu_request.map(Into::into),
        cpu_limit: cpu_limit.map(Into::into),
        memory_request: memory_request.map(Into::into),
        memory_limit: memory_limit.map(Into::into),
    }
}

/// Requests and limits for three containers (some set, some not), capacities for both
/// nodes.
pub fn resources() -> FixtureResources {
    FixtureResources {
        containers: vec![
            requirements(
                ("shop", "web-0", "app"),
                [Some("100m"), Some("500m"), Some("64Mi"), Some("128Mi")],
            ),
            requirements(
                ("shop", "web-0", "sidecar"),
                [None, None, Some("123456789"), None],
            ),
            requirements(
                ("blog", "web-0", "app"),
                [Some("1"), None, None, Some("1Gi")],
            ),
        ],
        nodes: vec![
            FixtureNodeResources {
                node: "node-a".into(),
                cpu_capacity: Some("2".into()),
                cpu_allocatable: Some("1930m".into()),
                memory_capacity: Some("8Gi".into()),
                memory_allocatable: Some("7680Mi".into()),
            },
            FixtureNodeResources {
                node: "node-b".into(),
                cpu_capacity: Some("4".into()),
                cpu_allocatable: Some("3910m".into()),
                memory_capacity: Some("16318496Ki".into()),
                memory_allocatable: Some("15.5Gi".into()),
            },
        ],
    }
}
