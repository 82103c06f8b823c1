//! Whatever metrics-server sends, the exposition stays valid: arbitrary names (quotes,
//! backslashes, newlines, any Unicode), invalid, negative, huge and exponent quantities,
//! missing fields, nulls, pods with no containers, and duplicates. A property test feeds
//! generated documents through decode, join and render and parses every output back;
//! a sample also goes through promtool.

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use metrics_server_prom::exposition::render::{render_text, Format};
use metrics_server_prom::exposition::self_metrics::SelfMetrics;
use metrics_server_prom::reading::usage::ClusterUsage;
use metrics_server_prom::scope::Scope;
use metrics_server_prom::sources::metrics_api::{NodeMetricsList, PodMetricsList};
use metrics_server_prom::sources::pod_index::Pods;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use support::parse_exposition;

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        // A small pool, so that duplicates happen.
        prop::sample::select(vec![
            "web-0",
            "app",
            "default",
            "a\"b",
            "back\\slash",
            "new\nline",
            "ünïcødé-✓",
            ""
        ])
        .prop_map(str::to_owned),
        any::<String>(),
    ]
}

fn quantity() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "123456789n",
            "1500u",
            "250m",
            "1",
            "0",
            "125448Ki",
            "1Gi",
            "1k",
            "-5m",
            "1e400",
            "99999999999999999999Ei",
            "1.5e-3",
            "12 m",
            "m",
            "",
            "NaN",
            "0x10",
            "1ki",
            ".5",
        ])
        .prop_map(Value::from),
        any::<String>().prop_map(Value::from),
        Just(Value::Null),
        any::<i64>().prop_map(Value::from),
    ]
}

/// An object with each field present, null, or missing.
fn maybe(fields: Vec<(&'static str, Value)>, present: Vec<u8>) -> Value {
    let mut object = serde_json::Map::new();
    for ((key, value), roll) in fields.into_iter().zip(present) {
        match roll % 4 {
            0 => {}
            1 => {
                object.insert(key.to_owned(), Value::Null);
            }
            _ => {
                object.insert(key.to_owned(), value);
            }
        }
    }
    Value::Object(object)
}

fn container() -> impl Strategy<Value = Value> {
    (
        name(),
        quantity(),
        quantity(),
        prop::collection::vec(any::<u8>(), 3),
    )
        .prop_map(|(name, cpu, memory, present)| {
            let usage = maybe(
                vec![("cpu", cpu), ("memory", memory)],
                present[1..].to_vec(),
            );
            maybe(
                vec![("name", json!(name)), ("usage", usage)],
                vec![present[0] | 2, 2],
            )
        })
}

fn pod() -> impl Strategy<Value = Value> {
    (
        name(),
        name(),
        prop::collection::vec(container(), 0..4),
        prop::collection::vec(any::<u8>(), 4),
    )
        .prop_map(|(namespace, name, containers, present)| {
            let metadata = maybe(
                vec![("name", json!(name)), ("namespace", json!(namespace))],
                vec![present[0] | 2, present[1]],
            );
            maybe(
                vec![
                    ("metadata", metadata),
                    ("timestamp", json!("2026-11-21T05:00:00Z")),
                    ("containers", json!(containers)),
                    ("window", json!("15s")),
                ],
                vec![present[2] | 2, present[3], 2, present[0]],
            )
        })
}

fn node() -> impl Strategy<Value = Value> {
    (name(), quantity(), quantity()).prop_map(|(name, cpu, memory)| {
        json!({"metadata": {"name": name}, "timestamp": null, "usage": {"cpu": cpu, "memory": memory}})
    })
}

fn documents() -> impl Strategy<Value = (Value, Value)> {
    (
        prop::collection::vec(pod(), 0..12),
        prop::collection::vec(node(), 0..4),
    )
        .prop_map(|(pods, nodes)| {
            (
                json!({"kind": "PodMetricsList", "items": pods}),
                json!({"items": nodes}),
            )
        })
}

/// Decode, join and render one pair of documents in `format`.
fn exposition(pods: &Value, nodes: &Value, format: Format) -> String {
    let pod_body = serde_json::to_vec(pods).unwrap();
    let node_body = serde_json::to_vec(nodes).unwrap();
    let pod_lists = [PodMetricsList::decode(&pod_body).expect("well-formed JSON decodes")];
    let node_list = NodeMetricsList::decode(&node_body).expect("well-formed JSON decodes");
    let (snapshot, _) = ClusterUsage::build(
        Some(&pod_lists),
        Some(&node_list),
        &Pods::default(),
        &Scope::default(),
    );
    render_text(format, Arc::new(snapshot), SelfMetrics::new().registry())
}

fn assert_valid(text: &str) {
    let samples = parse_exposition(text);
    let mut seen = HashSet::new();
    for sample in &samples {
        assert!(!sample.value.is_nan(), "{sample:?}");
        let key = (sample.name.clone(), format!("{:?}", sample.labels));
        assert!(seen.insert(key), "repeated series {sample:?}");
    }
}

proptest! {
    #![proptest_config(Config::with_cases(300))]

    #[test]
    fn any_metrics_document_renders_valid_exposition((pods, nodes) in documents()) {
        for format in [Format::Text, Format::OpenMetrics] {
            assert_valid(&exposition(&pods, &nodes, format));
        }
    }
}

#[test]
fn a_sample_of_generated_documents_passes_promtool() {
    let mut runner = TestRunner::deterministic();
    for _ in 0..20 {
        let (pods, nodes) = documents().new_tree(&mut runner).unwrap().current();
        let text = exposition(&pods, &nodes, Format::Text);
        if let Err(said) = support::promtool_check_metrics(&text) {
            panic!("promtool rejected:\n{text}\n{said}");
        }
    }
}
