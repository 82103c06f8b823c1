//! Discovery documents: the version, the core API's versions and resources, and the
//! `metrics.k8s.io` group with the versions this simulator serves. Small and rare, so
//! built as `serde_json::Value`.

use serde_json::{json, Value};

use super::MetricsApiVersion;

pub(crate) const GIT_VERSION: &str = "v1.37.0-sim";

/// `GET /version`: a version.Info.
pub(crate) fn version_info() -> Value {
    json!({
        "major": "1",
        "minor": "37",
        "emulationMajor": "1",
        "emulationMinor": "37",
        "minCompatibilityMajor": "1",
        "minCompatibilityMinor": "36",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-04-01T00:00:00Z",
        "goVersion": "go1.25.4",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `GET /api`: an APIVersions, telling clients to keep using `server_address`.
pub(crate) fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ]
    })
}

/// `GET /api/v1`: the core resources served here.
pub(crate) fn core_resources() -> Value {
    json!({
        "kind": "APIResourceList",
        "groupVersion": "v1",
        "resources": [
            {
                "name": "nodes",
                "singularName": "node",
                "namespaced": false,
                "kind": "Node",
                "verbs": ["get", "list", "watch"],
                "shortNames": ["no"]
            },
            {
                "name": "pods",
                "singularName": "pod",
                "namespaced": true,
                "kind": "Pod",
                "verbs": ["get", "list", "watch"],
                "shortNames": ["po"],
                "categories": ["all"]
            }
        ]
    })
}

/// `GET /apis`: an APIGroupList holding `metrics.k8s.io`.
pub(crate) fn group_list(versions: MetricsApiVersion) -> Value {
    json!({
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [metrics_group_body(versions)]
    })
}

/// `GET /apis/metrics.k8s.io`: an APIGroup.
pub(crate) fn metrics_group(versions: MetricsApiVersion) -> Value {
    let mut group = metrics_group_body(versions);
    group["kind"] = json!("APIGroup");
    group["apiVersion"] = json!("v1");
    group
}

fn metrics_group_body(versions: MetricsApiVersion) -> Value {
    let version = |version: &str| json!({"groupVersion": format!("metrics.k8s.io/{version}"), "version": version});
    json!({
        "name": "metrics.k8s.io",
        "versions": versions.served().iter().map(|v| version(v)).collect::<Vec<_>>(),
        "preferredVersion": version(versions.preferred())
    })
}

/// `GET /apis/metrics.k8s.io/{version}`: the metrics resources, as metrics-server lists
/// them.
pub(crate) fn metrics_resources(version: &str) -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": format!("metrics.k8s.io/{version}"),
        "resources": [
            {
                "name": "nodes",
                "singularName": "",
                "namespaced": false,
                "kind": "NodeMetrics",
                "verbs": ["get", "list"]
            },
            {
                "name": "pods",
                "singularName": "",
                "namespaced": true,
                "kind": "PodMetrics",
                "verbs": ["get", "list"]
            }
        ]
    })
}
