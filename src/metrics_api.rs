//! The resource metrics API (`metrics.k8s.io`): which version the server offers, and one
//! list each of PodMetrics and NodeMetrics per read. metrics-server neither pages nor
//! watches these lists, so a read is one request per resource.
//!
//! Bodies are decoded straight into the typed structs below (no `serde_json::Value`),
//! and every field that a broken server could omit has a default, so one malformed item
//! costs that item, not the read.

use std::sync::Mutex;
use std::time::Duration;

use kube::Client;
use serde::de::DeserializeOwned;
use serde::Deserialize;

pub const GROUP: &str = "metrics.k8s.io";

/// Versions we can read, most preferred first: v1 is GA from Kubernetes 1.37.
const KNOWN_VERSIONS: [&str; 2] = ["v1", "v1beta1"];

#[derive(Debug, Deserialize, Default)]
pub struct PodMetricsList {
    #[serde(default, deserialize_with = "null_as_default")]
    pub items: Vec<PodMetrics>,
}

#[derive(Debug, Deserialize, Default)]
pub struct PodMetrics {
    #[serde(default)]
    pub metadata: ObjectName,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub window: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub containers: Vec<ContainerMetrics>,
}

#[derive(Debug, Deserialize, Default)]
pub struct ContainerMetrics {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub usage: Usage,
}

#[derive(Debug, Deserialize, Default)]
pub struct NodeMetricsList {
    #[serde(default, deserialize_with = "null_as_default")]
    pub items: Vec<NodeMetrics>,
}

#[derive(Debug, Deserialize, Default)]
pub struct NodeMetrics {
    #[serde(default)]
    pub metadata: ObjectName,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub window: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub usage: Usage,
}

#[derive(Debug, Deserialize, Default)]
pub struct ObjectName {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub namespace: String,
}

/// Raw quantity strings, parsed later so that one bad value skips one series.
#[derive(Debug, Deserialize, Default)]
pub struct Usage {
    #[serde(default)]
    pub cpu: Option<String>,
    #[serde(default)]
    pub memory: Option<String>,
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// Which list a read was for; also the `resource` label of the read self-metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resource {
    Pods,
    Nodes,
}

impl Resource {
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Pods => "pods",
            Resource::Nodes => "nodes",
        }
    }
}

/// Why a read failed. `reason()` is the bounded label value for the error counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadError {
    /// The server does not serve metrics.k8s.io (metrics-server not installed).
    NotServed,
    Timeout,
    /// Could not connect or the connection broke.
    Transport(String),
    /// The server answered with an HTTP error status.
    Status {
        code: u16,
        message: String,
    },
    /// The body was not a metrics list.
    Decode(String),
}

impl ReadError {
    pub fn reason(&self) -> &'static str {
        match self {
            ReadError::NotServed => "not_served",
            ReadError::Timeout => "timeout",
            ReadError::Transport(_) => "transport",
            ReadError::Status { code: 401, .. } => "unauthorized",
            ReadError::Status { code: 403, .. } => "forbidden",
            ReadError::Status { code: 404, .. } => "not_found",
            ReadError::Status { code: 429, .. } => "too_many_requests",
            ReadError::Status { code: 503, .. } => "unavailable",
            ReadError::Status { code, .. } if *code >= 500 => "server_error",
            ReadError::Status { .. } => "client_error",
            ReadError::Decode(_) => "decode",
        }
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::NotServed => write!(f, "{GROUP} is not served by this API server"),
            ReadError::Timeout => f.write_str("timed out"),
            ReadError::Transport(e) => write!(f, "transport error: {e}"),
            ReadError::Status { code, message } => write!(f, "HTTP {code}: {message}"),
            ReadError::Decode(e) => write!(f, "invalid response: {e}"),
        }
    }
}

impl std::error::Error for ReadError {}

/// Reads the metrics lists with a bounded client. The served version is discovered
/// once, and again on later reads for as long as it is missing.
pub struct MetricsApi {
    client: Client,
    timeout: Duration,
    version: Mutex<Option<&'static str>>,
}

impl MetricsApi {
    pub fn new(client: Client, timeout: Duration) -> Self {
        MetricsApi {
            client,
            timeout,
            version: Mutex::new(None),
        }
    }

    /// The served version, asking the server if it is not known yet.
    pub async fn discover(&self) -> Result<&'static str, ReadError> {
        if let Some(version) = *self.version.lock().unwrap_or_else(|e| e.into_inner()) {
            return Ok(version);
        }
        let group: ApiGroup = self
            .get(&format!("/apis/{GROUP}"))
            .await
            .map_err(|e| match e {
                ReadError::Status { code: 404, .. } => ReadError::NotServed,
                other => other,
            })?;
        let version = KNOWN_VERSIONS
            .into_iter()
            .find(|known| group.versions.iter().any(|v| v.version == *known))
            .ok_or(ReadError::NotServed)?;
        *self.version.lock().unwrap_or_else(|e| e.into_inner()) = Some(version);
        Ok(version)
    }

    pub async fn list_pods(&self) -> Result<PodMetricsList, ReadError> {
        let version = self.discover().await?;
        self.get(&format!("/apis/{GROUP}/{version}/pods")).await
    }

    pub async fn list_nodes(&self) -> Result<NodeMetricsList, ReadError> {
        let version = self.discover().await?;
        self.get(&format!("/apis/{GROUP}/{version}/nodes")).await
    }

    /// One GET, bounded as a whole (headers and body) by the read timeout.
    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ReadError> {
        tokio::time::timeout(self.timeout, self.get_unbounded(path))
            .await
            .unwrap_or(Err(ReadError::Timeout))
    }

    async fn get_unbounded<T: DeserializeOwned>(&self, path: &str) -> Result<T, ReadError> {
        let request = http::Request::get(path)
            .header(http::header::ACCEPT, "application/json")
            .body(kube::client::Body::empty())
            .map_err(|e| ReadError::Transport(e.to_string()))?;
        let response = self.client.send(request).await.map_err(transport_error)?;
        let status = response.status();
        let body = response
            .into_body()
            .collect_bytes()
            .await
            .map_err(transport_error)?;
        if !status.is_success() {
            return Err(ReadError::Status {
                code: status.as_u16(),
                message: status_message(&body),
            });
        }
        serde_json::from_slice(&body).map_err(|e| ReadError::Decode(e.to_string()))
    }
}

fn transport_error(error: kube::Error) -> ReadError {
    let text = error_chain(&error);
    if text.contains("timed out") || text.contains("deadline has elapsed") {
        ReadError::Timeout
    } else {
        ReadError::Transport(text)
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The `message` of a Kubernetes Status body, else the start of the body itself.
fn status_message(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct Status {
        message: String,
    }
    match serde_json::from_slice::<Status>(body) {
        Ok(status) => status.message,
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim()
            .to_owned(),
    }
}

#[derive(Deserialize)]
struct ApiGroup {
    #[serde(default)]
    versions: Vec<GroupVersion>,
}

#[derive(Deserialize)]
struct GroupVersion {
    version: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_metrics_server_documents() {
        let pods: PodMetricsList = serde_json::from_str(
            r#"{"kind":"PodMetricsList","apiVersion":"metrics.k8s.io/v1beta1","metadata":{},
            "items":[{"metadata":{"name":"etcd","namespace":"kube-system","creationTimestamp":"2018-08-20T03:19:05Z"},
            "timestamp":"2018-08-20T03:19:00Z","window":"1m0s",
            "containers":[{"name":"etcd-container","usage":{"cpu":"7m","memory":"125448Ki"}}]}]}"#,
        )
        .unwrap();
        let pod = &pods.items[0];
        assert_eq!(pod.metadata.namespace, "kube-system");
        assert_eq!(pod.window.as_deref(), Some("1m0s"));
        assert_eq!(pod.containers[0].usage.cpu.as_deref(), Some("7m"));
        assert_eq!(pod.containers[0].usage.memory.as_deref(), Some("125448Ki"));
    }

    #[test]
    fn missing_and_null_fields_cost_only_themselves() {
        let pods: PodMetricsList = serde_json::from_str(
            r#"{"items":[{"metadata":{"name":"a"},"timestamp":null,"containers":null},
                         {"metadata":{"name":"b","namespace":"x"},"containers":[{"name":"c","usage":null}]},
                         {}]}"#,
        )
        .unwrap();
        assert_eq!(pods.items.len(), 3);
        assert!(pods.items[0].containers.is_empty());
        assert_eq!(pods.items[1].containers[0].usage.cpu, None);
        let nodes: NodeMetricsList = serde_json::from_str(r#"{"items":null}"#).unwrap();
        assert!(nodes.items.is_empty());
    }

    #[test]
    fn error_reasons_are_bounded_labels() {
        let status = |code| ReadError::Status {
            code,
            message: String::new(),
        };
        assert_eq!(status(401).reason(), "unauthorized");
        assert_eq!(status(403).reason(), "forbidden");
        assert_eq!(status(404).reason(), "not_found");
        assert_eq!(status(503).reason(), "unavailable");
        assert_eq!(status(502).reason(), "server_error");
        assert_eq!(status(418).reason(), "client_error");
        assert_eq!(ReadError::Timeout.reason(), "timeout");
    }

    #[test]
    fn status_message_prefers_the_kubernetes_status() {
        assert_eq!(
            status_message(br#"{"kind":"Status","message":"pods is forbidden"}"#),
            "pods is forbidden"
        );
        assert_eq!(status_message(b"upstream down\n"), "upstream down");
    }
}
