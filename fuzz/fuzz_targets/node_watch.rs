//! Node watch events (`--resources`), decoded as kube-runtime decodes them and kept by
//! the exporter's own keeper: every line k8s-openapi's `Node` accepts, ours accepts too,
//! and after every event and relist the index holds exactly the nodes the events say,
//! with capacity and allocatable parsed exactly (or left out when not a quantity).
//!
//! Input: lines; one starting with `R` is a relist (a JSON array of nodes after the
//! `R`), any other a watch event.
#![no_main]

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Node;
use kube::core::WatchEvent;
use libfuzzer_sys::fuzz_target;
use metrics_server_prom::fuzzing::NodeWatch;
use metrics_server_prom::quantity;
use metrics_server_prom::sources::node_capacity::NodeCapacity;
use metrics_server_prom_fuzz::{watch_lines, WatchLine};

fn entry(node: &Node) -> (String, NodeCapacity) {
    let status = node.status.as_ref();
    let value = |allocatable: bool, resource: &str| {
        let list = status.and_then(|s| {
            if allocatable {
                s.allocatable.as_ref()
            } else {
                s.capacity.as_ref()
            }
        });
        quantity::parse(&list?.get(resource)?.0).ok()
    };
    (
        node.metadata.name.clone().unwrap_or_default(),
        NodeCapacity {
            cpu_capacity: value(false, "cpu"),
            cpu_allocatable: value(true, "cpu"),
            memory_capacity: value(false, "memory"),
            memory_allocatable: value(true, "memory"),
        },
    )
}

fuzz_target!(|data: &[u8]| {
    let mut watch = NodeWatch::default();
    let mut model = BTreeMap::new();
    watch_lines(data, "node", NodeWatch::decode, |line| {
        match line {
            WatchLine::Relist { theirs, ours } => {
                watch.relist(ours);
                model = theirs.iter().map(entry).collect();
            }
            WatchLine::Event { theirs, ours } => {
                watch.event(ours);
                match theirs {
                    WatchEvent::Added(node) | WatchEvent::Modified(node) => {
                        let (name, capacity) = entry(&node);
                        model.insert(name, capacity);
                    }
                    WatchEvent::Deleted(node) => {
                        model.remove(&entry(&node).0);
                    }
                    WatchEvent::Bookmark(_) | WatchEvent::Error(_) => {}
                }
            }
        }
        let kept = watch.nodes();
        assert_eq!(kept.len(), model.len());
        for (name, capacity) in &model {
            let got = kept.get(name).expect("node kept");
            // Bitwise: -0.0 and 0.0 are different readings.
            let bits = |c: &NodeCapacity| {
                [
                    c.cpu_capacity,
                    c.cpu_allocatable,
                    c.memory_capacity,
                    c.memory_allocatable,
                ]
                .map(|v| v.map(f64::to_bits))
            };
            assert_eq!(bits(got), bits(capacity), "{name:?}");
        }
    });
});
