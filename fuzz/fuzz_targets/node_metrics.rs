//! A NodeMetricsList, in JSON or Kubernetes protobuf, decodes or is an error; what
//! decodes renders to an exposition that parses back (text and OpenMetrics), in which
//! every node's usage is one series with its name and its exact value.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use metrics_server_prom::exposition::render::{render_text, Format};
use metrics_server_prom::exposition::self_metrics::SelfMetrics;
use metrics_server_prom::reading::usage::{ClusterUsage, NodeUsage};
use metrics_server_prom::scope::Scope;
use metrics_server_prom::sources::metrics_api::{ContentType, ListBody};
use metrics_server_prom::sources::pod_index::Pods;
use metrics_server_prom_fuzz::parse_exposition;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let encoding = if selector % 2 == 0 {
        ContentType::Json
    } else {
        ContentType::Protobuf
    };
    let body = ListBody {
        bytes: body.to_vec().into(),
        encoding,
        path: String::new(),
    };
    let Ok(nodes) = body.nodes() else {
        return;
    };
    let (usage, _) = ClusterUsage::build(None, Some(&nodes), &Pods::default(), &Scope::default());
    let listed = usage.nodes.clone().unwrap_or_default();
    let usage = Arc::new(usage);
    let registry = SelfMetrics::new();
    for (format, openmetrics) in [(Format::Text, false), (Format::OpenMetrics, true)] {
        let text = render_text(format, usage.clone(), registry.registry());
        let samples =
            parse_exposition(&text, openmetrics).unwrap_or_else(|error| panic!("{error}\n{text}"));
        for (family, value_of) in [
            (
                "kube_metrics_server_node_cpu",
                (|n| n.cpu) as fn(&NodeUsage) -> Option<f64>,
            ),
            ("kube_metrics_server_node_mem", |n| n.memory),
        ] {
            let mut rendered = BTreeMap::new();
            for sample in samples.iter().filter(|s| s.name == family) {
                assert_eq!(sample.labels.len(), 1, "{sample:?}");
                let node = sample.labels.get("node").expect("node label").clone();
                assert!(
                    rendered.insert(node, sample.value).is_none(),
                    "repeated series {sample:?}"
                );
            }
            let wanted: BTreeMap<String, f64> = listed
                .iter()
                .filter_map(|n| Some((n.node.to_string(), value_of(n)?)))
                .collect();
            assert_eq!(
                rendered.len(),
                wanted.len(),
                "{family}: series lost or added\n{text}"
            );
            for (node, value) in &wanted {
                assert!(
                    rendered.get(node) == Some(value),
                    "{family} {node:?}: {:?} vs {value}",
                    rendered.get(node)
                );
            }
        }
    }
});
