//! The metrics lists in protobuf and in JSON give the same series: two exporters read
//! one frozen simulated cluster, one asking for each encoding, for metrics.k8s.io v1 and
//! v1beta1, and every usage series matches to the last digit.

mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;

use support::{parse_exposition, series, wait_until_ok, Process};

const USAGE_FAMILIES: [&str; 4] = [
    "kube_metrics_server_pod_cpu",
    "kube_metrics_server_pod_mem",
    "kube_metrics_server_node_cpu",
    "kube_metrics_server_node_mem",
];

use support::request_tally as tally;

/// Every usage series of one scrape, by family then labels.
async fn usage(address: SocketAddr) -> BTreeMap<&'static str, BTreeMap<String, f64>> {
    let text = support::get_text(&format!("http://{address}/metrics")).await;
    let samples = parse_exposition(&text);
    let up = support::value(&samples, "kube_metrics_server_up", &[]);
    assert_eq!(up, Some(1.0), "{text}");
    USAGE_FAMILIES
        .into_iter()
        .map(|family| (family, series(&samples, family)))
        .collect()
}

async fn start_exporter(kubeconfig: &std::path::Path, content_type: &str) -> (Process, SocketAddr) {
    let (exporter, address) = Process::exporter(
        &[
            "--kubeconfig",
            kubeconfig.to_str().unwrap(),
            "--metrics.max-age",
            "0s",
            "--metrics.content-type",
            content_type,
        ],
        &[],
    );
    wait_until_ok(&format!("http://{address}/readyz")).await;
    (exporter, address)
}

#[tokio::test]
async fn protobuf_and_json_serve_identical_series() {
    for version in ["v1beta1", "v1"] {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let (_simulator, api) = Process::simulator(
            &kubeconfig,
            &[
                "--tick",
                "0s",
                "--pods",
                "300",
                "--nodes",
                "4",
                "--metrics-api-version",
                version,
            ],
        );
        let (_json_exporter, json) = start_exporter(&kubeconfig, "json").await;
        let (_protobuf_exporter, protobuf) = start_exporter(&kubeconfig, "protobuf").await;

        let before = tally(&api).await;
        let from_json = usage(json).await;
        let after_json = tally(&api).await;
        assert_eq!(
            after_json.protobuf_metrics_lists, before.protobuf_metrics_lists,
            "{version}: the JSON exporter read JSON"
        );
        let from_protobuf = usage(protobuf).await;
        let after_protobuf = tally(&api).await;
        assert_eq!(
            after_protobuf.protobuf_metrics_lists,
            after_json.protobuf_metrics_lists + 2,
            "{version}: the protobuf exporter read both lists in protobuf"
        );

        for family in USAGE_FAMILIES {
            assert!(
                !from_json[family].is_empty(),
                "{version}: no {family} series"
            );
        }
        assert!(from_json["kube_metrics_server_pod_cpu"].len() >= 300);
        assert_eq!(from_protobuf, from_json, "{version}");
    }
}
