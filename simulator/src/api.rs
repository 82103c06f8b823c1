//! The HTTP routes of the simulated API server and their handlers: discovery, pods
//! (list with paging, get, watch), nodes (list, get, watch), and `metrics.k8s.io`. Anything else is a 404
//! Status. Large documents are rendered off the async workers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::chaos;
use super::core_objects::{Items, List, ListMeta, NodeJson, PodJson};
use super::discovery;
use super::label_selector::LabelSelector;
use super::meta::PodLabels;
use super::metrics_objects::{
    node_metrics, node_metrics_list, pod_metrics, pod_metrics_list, Encoding,
};
use super::node_watch;
use super::request_counts::count_requests;
use super::simulation::Simulation;
use super::status::{json_response, json_value, Status};
use super::watch::{self, WatchParams};

type Shared = State<Arc<Simulation>>;
type QueryMap = Query<HashMap<String, String>>;

/// The routes; with `chaos`, the faults of [`super::chaos`] in front of them.
pub(crate) fn router(simulation: Arc<Simulation>, chaos: bool) -> Router {
    let metrics = "/apis/metrics.k8s.io/{version}";
    let routes = Router::new()
        .route(
            "/version",
            get(|| async { json_value(&discovery::version_info()) }),
        )
        .route("/api", get(core_versions))
        .route(
            "/api/v1",
            get(|| async { json_value(&discovery::core_resources()) }),
        )
        .route("/api/v1/pods", get(all_pods))
        .route("/api/v1/namespaces/{namespace}/pods", get(namespace_pods))
        .route("/api/v1/namespaces/{namespace}/pods/{name}", get(one_pod))
        .route("/api/v1/nodes", get(all_nodes))
        .route("/api/v1/nodes/{name}", get(one_node))
        .route("/apis", get(groups))
        .route("/apis/metrics.k8s.io", get(metrics_group))
        .route(metrics, get(metrics_resources))
        .route(&format!("{metrics}/pods"), get(all_pod_metrics))
        .route(
            &format!("{metrics}/namespaces/{{namespace}}/pods"),
            get(namespace_pod_metrics),
        )
        .route(
            &format!("{metrics}/namespaces/{{namespace}}/pods/{{name}}"),
            get(one_pod_metrics),
        )
        .route(&format!("{metrics}/nodes"), get(all_node_metrics))
        .route(&format!("{metrics}/nodes/{{name}}"), get(one_node_metrics))
        .route("/simulator/requests", get(request_tally))
        .route("/simulator/chaos", get(chaos_tally))
        .fallback(|| async { Status::unknown_path() })
        .method_not_allowed_fallback(|| async { Status::method_not_allowed() });
    // Inside the request counts, so that requests answered with a fault are counted.
    let routes = if chaos {
        routes.layer(axum::middleware::from_fn_with_state(
            simulation.clone(),
            chaos::inject,
        ))
    } else {
        routes
    };
    routes
        .layer(axum::middleware::from_fn_with_state(
            simulation.requests(),
            count_requests,
        ))
        .with_state(simulation)
}

async fn request_tally(State(simulation): Shared) -> Response {
    json_value(&simulation.requests().tally())
}

async fn chaos_tally(State(simulation): Shared) -> Response {
    json_value(&simulation.chaos().tally())
}

async fn core_versions(headers: HeaderMap) -> Response {
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .unwrap_or("127.0.0.1");
    json_value(&discovery::core_versions(host))
}

async fn groups(State(simulation): Shared) -> Response {
    json_value(&discovery::group_list(simulation.versions()))
}

async fn metrics_group(State(simulation): Shared) -> Response {
    json_value(&discovery::metrics_group(simulation.versions()))
}

async fn metrics_resources(State(simulation): Shared, Path(version): Path<String>) -> Response {
    match simulation.versions().find(&version) {
        Some(version) => json_value(&discovery::metrics_resources(version)),
        None => Status::unknown_path().into_response(),
    }
}

async fn all_pods(State(simulation): Shared, Query(query): QueryMap) -> Response {
    pods(simulation, None, query).await
}

async fn namespace_pods(
    State(simulation): Shared,
    Path(namespace): Path<String>,
    Query(query): QueryMap,
) -> Response {
    pods(simulation, Some(namespace), query).await
}

/// A page of pods, or a watch when asked with `watch=true`.
async fn pods(
    simulation: Arc<Simulation>,
    namespace: Option<String>,
    query: HashMap<String, String>,
) -> Response {
    let params = match ListParams::parse(&query) {
        Ok(params) => params,
        Err(status) => return status.into_response(),
    };
    if params.watch {
        return match WatchParams::parse(&query) {
            Ok(watch_params) => watch::serve(simulation, namespace, params.selector, watch_params),
            Err(status) => status.into_response(),
        };
    }
    render_off_worker(move || {
        let cluster = simulation.read();
        let after = params
            .continue_after
            .as_ref()
            .map(|(namespace, name)| (namespace.as_str(), name.as_str()));
        let page = cluster.page(namespace.as_deref(), after, params.limit);
        let metadata = ListMeta {
            resource_version: cluster.resource_version().to_string(),
            continue_token: page
                .next_after
                .map(|(namespace, name)| encode_continue(&namespace, &name)),
        };
        // A page may come out short of `limit`: Kubernetes allows that.
        let items = page
            .pods
            .into_iter()
            .filter(|pod| PodLabels(pod).selected_by(&params.selector))
            .map(|pod| PodJson::item(pod));
        serde_json::to_vec(&List::new("PodList", metadata, Items::new(items)))
            .expect("serializing to memory cannot fail")
    })
    .await
}

async fn one_pod(
    State(simulation): Shared,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    let cluster = simulation.read();
    match cluster.pod(&namespace, &name).filter(|pod| pod.listed) {
        Some(pod) => json_value(&PodJson::object(pod)),
        None => Status::not_found("", "pods", &name).into_response(),
    }
}

/// Every node (nodes are few: no paging), or a watch when asked with `watch=true`.
async fn all_nodes(State(simulation): Shared, Query(query): QueryMap) -> Response {
    if flag(&query, "watch") {
        return node_watch::serve(simulation, &query);
    }
    let cluster = simulation.read();
    let heartbeat = cluster.observed_at();
    let metadata = ListMeta {
        resource_version: cluster.resource_version().to_string(),
        continue_token: None,
    };
    let items = cluster.nodes().iter().map(|node| NodeJson {
        node,
        typed: false,
        heartbeat,
    });
    json_value(&List::new("NodeList", metadata, Items::new(items)))
}

async fn one_node(State(simulation): Shared, Path(name): Path<String>) -> Response {
    let cluster = simulation.read();
    let heartbeat = cluster.observed_at();
    match cluster
        .nodes()
        .iter()
        .find(|node| *node.identity.name == name)
    {
        Some(node) => json_value(&NodeJson {
            node,
            typed: true,
            heartbeat,
        }),
        None => Status::not_found("", "nodes", &name).into_response(),
    }
}

/// The encoding the client's `Accept` header prefers.
fn encoding(headers: &HeaderMap) -> Encoding {
    Encoding::from_accept(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()))
}

async fn all_pod_metrics(
    State(simulation): Shared,
    Path(version): Path<String>,
    headers: HeaderMap,
    Query(query): QueryMap,
) -> Response {
    pod_metrics_lists(simulation, &version, None, &headers, &query).await
}

async fn namespace_pod_metrics(
    State(simulation): Shared,
    Path((version, namespace)): Path<(String, String)>,
    headers: HeaderMap,
    Query(query): QueryMap,
) -> Response {
    pod_metrics_lists(simulation, &version, Some(namespace), &headers, &query).await
}

/// The PodMetricsList of one namespace or all, in the encoding `Accept` prefers,
/// rendered on the blocking pool; all namespaces unfiltered comes from the tick's cache.
async fn pod_metrics_lists(
    simulation: Arc<Simulation>,
    version: &str,
    namespace: Option<String>,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
) -> Response {
    let Some(version) = simulation.versions().find(version) else {
        return Status::unknown_path().into_response();
    };
    let selector = match label_selector(query) {
        Ok(selector) => selector,
        Err(status) => return status.into_response(),
    };
    let encoding = encoding(headers);
    let render = move || match (&namespace, selector.is_empty()) {
        (None, true) => simulation.all_pod_metrics(version, encoding),
        (namespace, _) => {
            let cluster = simulation.read();
            pod_metrics_list(&cluster, version, namespace.as_deref(), &selector, encoding).into()
        }
    };
    match tokio::task::spawn_blocking(render).await {
        Ok(body) => encoded_response(body, encoding),
        Err(error) => {
            tracing::error!(%error, "rendering a response failed");
            Status::unknown_path().into_response()
        }
    }
}

/// A 200 response with `body` in `encoding`.
fn encoded_response(body: impl Into<axum::body::Body>, encoding: Encoding) -> Response {
    let mut response = json_response(body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(encoding.content_type()),
    );
    response
}

async fn one_pod_metrics(
    State(simulation): Shared,
    Path((version, namespace, name)): Path<(String, String, String)>,
) -> Response {
    let Some(version) = simulation.versions().find(&version) else {
        return Status::unknown_path().into_response();
    };
    match pod_metrics(&simulation.read(), version, &namespace, &name) {
        Some(body) => json_response(body),
        None => Status::not_found("metrics.k8s.io", "podmetrics", &name).into_response(),
    }
}

async fn all_node_metrics(
    State(simulation): Shared,
    Path(version): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(version) = simulation.versions().find(&version) else {
        return Status::unknown_path().into_response();
    };
    let encoding = encoding(&headers);
    encoded_response(
        node_metrics_list(&simulation.read(), version, encoding),
        encoding,
    )
}

async fn one_node_metrics(
    State(simulation): Shared,
    Path((version, name)): Path<(String, String)>,
) -> Response {
    let Some(version) = simulation.versions().find(&version) else {
        return Status::unknown_path().into_response();
    };
    match node_metrics(&simulation.read(), version, &name) {
        Some(body) => json_response(body),
        None => Status::not_found("metrics.k8s.io", "nodemetrics", &name).into_response(),
    }
}

/// Renders a possibly large body on the blocking pool, keeping the async workers free.
async fn render_off_worker(render: impl FnOnce() -> Vec<u8> + Send + 'static) -> Response {
    match tokio::task::spawn_blocking(render).await {
        Ok(body) => json_response(body),
        Err(error) => {
            tracing::error!(%error, "rendering a response failed");
            Status::unknown_path().into_response()
        }
    }
}

/// The list parameters honoured: `limit`, `continue`, `labelSelector` (on pod labels),
/// and `watch` to switch to a watch. Field selectors are accepted and ignored.
#[derive(Debug, Default)]
struct ListParams {
    watch: bool,
    limit: Option<usize>,
    continue_after: Option<(String, String)>,
    selector: LabelSelector,
}

/// The `labelSelector` query parameter; a malformed one is a 400, as from Kubernetes.
pub(crate) fn label_selector(query: &HashMap<String, String>) -> Result<LabelSelector, Status> {
    match query.get("labelSelector") {
        None => Ok(LabelSelector::default()),
        Some(text) => LabelSelector::parse(text)
            .map_err(|error| Status::bad_request(format!("unable to parse requirement: {error}"))),
    }
}

impl ListParams {
    fn parse(query: &HashMap<String, String>) -> Result<Self, Status> {
        let limit = match query.get("limit").map(String::as_str) {
            None | Some("") => None,
            Some(limit) => Some(
                limit
                    .parse()
                    .map_err(|_| Status::bad_request(format!("invalid limit {limit:?}")))?,
            ),
        };
        let continue_after = match query.get("continue").map(String::as_str) {
            None | Some("") => None,
            Some(token) => Some(decode_continue(token).ok_or_else(|| {
                Status::bad_request("continue key is not valid: malformed token".to_owned())
            })?),
        };
        Ok(ListParams {
            watch: flag(query, "watch"),
            limit,
            continue_after,
            selector: label_selector(query)?,
        })
    }
}

/// A boolean query parameter: "true" or "1".
pub(crate) fn flag(query: &HashMap<String, String>, name: &str) -> bool {
    matches!(query.get(name).map(String::as_str), Some("true" | "1"))
}

/// The continue token: the key of the last pod returned, hex-encoded (opaque to clients).
fn encode_continue(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
        .bytes()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn decode_continue(token: &str) -> Option<(String, String)> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..token.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(token.get(at..at + 2)?, 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    let key = String::from_utf8(bytes).ok()?;
    let (namespace, name) = key.split_once('/')?;
    Some((namespace.to_owned(), name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip() {
        let token = encode_continue("shop-staging", "web-0");
        assert_eq!(
            decode_continue(&token),
            Some(("shop-staging".to_owned(), "web-0".to_owned()))
        );
        assert_eq!(decode_continue("zz"), None);
        assert_eq!(decode_continue("abc"), None);
    }
}
