//! Pod watch events, decoded as kube-runtime decodes them and kept by the exporter's
//! own keeper: every line k8s-openapi's `Pod` accepts, our lean decoder accepts too
//! (else the watch would fail on it forever), and after every event and relist the
//! index holds exactly the pods, nodes and IPs the events say (a model kept from the
//! k8s-openapi decoding of the same bytes).
//!
//! Input: lines; one starting with `R` is a relist (a JSON array of pods after the
//! `R`), any other a watch event (`{"type": "ADDED", "object": {...}}`).
#![no_main]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::core::WatchEvent;
use libfuzzer_sys::fuzz_target;
use metrics_server_prom::fuzzing::PodWatch;
use metrics_server_prom_fuzz::{watch_lines, WatchLine};

type Model = BTreeMap<(String, String), (String, String)>;

fn key_and_place(pod: &Pod) -> ((String, String), (String, String)) {
    let meta = &pod.metadata;
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    let ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone());
    (
        (
            meta.namespace.clone().unwrap_or_default(),
            meta.name.clone().unwrap_or_default(),
        ),
        (node.unwrap_or_default(), ip.unwrap_or_default()),
    )
}

fuzz_target!(|data: &[u8]| {
    let mut watch = PodWatch::default();
    let mut model = Model::new();
    watch_lines(data, "pod", PodWatch::decode, |line| {
        match line {
            WatchLine::Relist { theirs, ours } => {
                watch.relist(ours);
                model = theirs.iter().map(key_and_place).collect();
            }
            WatchLine::Event { theirs, ours } => {
                watch.event(ours);
                match theirs {
                    WatchEvent::Added(pod) | WatchEvent::Modified(pod) => {
                        let (key, place) = key_and_place(&pod);
                        model.insert(key, place);
                    }
                    WatchEvent::Deleted(pod) => {
                        model.remove(&key_and_place(&pod).0);
                    }
                    WatchEvent::Bookmark(_) | WatchEvent::Error(_) => {}
                }
            }
        }
        assert_eq!(watch.placements(), model);
    });
});
