//! A PodMetricsList, in JSON or Kubernetes protobuf, decodes or is an error; what
//! decodes renders to an exposition that parses back (text and OpenMetrics), in which
//! every container's usage is one series with its labels and its exact value.
#![no_main]

use std::collections::BTreeMap;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use metrics_server_prom::exposition::render::{render_text, Format};
use metrics_server_prom::exposition::self_metrics::SelfMetrics;
use metrics_server_prom::reading::usage::{ClusterUsage, ContainerUsage, SpareContainers};
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
    let (index, scope) = (Pods::default(), Scope::default());

    // The streaming decoder the exporter uses, and the whole-list one `snapshot` uses.
    let (streamed, _, streamed_result) = ClusterUsage::from_bodies(
        Some(std::slice::from_ref(&body)),
        None,
        &index,
        &scope,
        &SpareContainers::default(),
    );
    let Ok(whole) = body.pods() else {
        return;
    };
    let (usage, _) = ClusterUsage::build(Some(&[whole]), None, &index, &scope);
    assert!(
        streamed_result.is_ok(),
        "the whole list decodes but streaming fails: {streamed_result:?}"
    );
    assert_eq!(streamed, usage, "the two decoders disagree");

    let containers = usage.containers.clone().unwrap_or_default();
    let usage = Arc::new(usage);
    let registry = SelfMetrics::new();
    for (format, openmetrics) in [(Format::Text, false), (Format::OpenMetrics, true)] {
        let text = render_text(format, usage.clone(), registry.registry());
        let samples =
            parse_exposition(&text, openmetrics).unwrap_or_else(|error| panic!("{error}\n{text}"));
        for (family, value_of) in [
            (
                "kube_metrics_server_pod_cpu",
                (|c| c.cpu) as fn(&ContainerUsage) -> Option<f64>,
            ),
            ("kube_metrics_server_pod_mem", |c| c.memory),
        ] {
            let mut rendered: BTreeMap<Vec<(String, String)>, f64> = BTreeMap::new();
            for sample in samples.iter().filter(|s| s.name == family) {
                let labels = sample.labels.clone().into_iter().collect();
                assert!(
                    rendered.insert(labels, sample.value).is_none(),
                    "repeated series {sample:?}"
                );
            }
            let mut wanted = BTreeMap::new();
            for container in &containers {
                let Some(value) = value_of(container) else {
                    continue;
                };
                let labels = [
                    ("container", &*container.container),
                    ("ip", container.ip()),
                    ("namespace", container.namespace()),
                    ("node", container.node()),
                    ("pod", container.pod()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_string()))
                .collect::<Vec<_>>();
                wanted.insert(labels, value);
            }
            assert_eq!(
                rendered.len(),
                wanted.len(),
                "{family}: series lost or added\n{text}"
            );
            for (labels, value) in &wanted {
                let got = rendered
                    .get(labels)
                    .unwrap_or_else(|| panic!("{family} {labels:?} missing\n{text}"));
                assert!(
                    got == value,
                    "{family} {labels:?}: rendered {got}, read {value}"
                );
            }
        }
    }
});
