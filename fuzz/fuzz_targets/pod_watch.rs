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

/// The line re-serialized from a JSON value (after the `R` of a relist), or `None`
/// when it is not JSON.
fn canonical(line: &[u8]) -> Option<Vec<u8>> {
    let (prefix, json) = match line.strip_prefix(b"R") {
        Some(json) => (&b"R"[..], json),
        None => (&b""[..], line),
    };
    let value: serde_json::Value = serde_json::from_slice(json).ok()?;
    let mut canonical = prefix.to_vec();
    serde_json::to_writer(&mut canonical, &value).ok()?;
    Some(canonical)
}

fuzz_target!(|data: &[u8]| {
    let mut watch = PodWatch::default();
    let mut model = Model::new();
    for line in data.split(|b| *b == b'\n') {
        // As an API server sends it: one JSON document, no key twice (serde's derive
        // refuses a repeated key, k8s-openapi takes the last; neither is wrong).
        let Some(line) = canonical(line) else {
            continue;
        };
        let line = line.as_slice();
        if let Some(list) = line.strip_prefix(b"R") {
            let theirs: Result<Vec<Pod>, _> = serde_json::from_slice(list);
            let ours: Result<Vec<_>, _> = serde_json::from_slice(list);
            match (theirs, ours) {
                (Ok(theirs), Ok(ours)) => {
                    watch.relist(ours);
                    model = theirs.iter().map(key_and_place).collect();
                }
                (Ok(_), Err(error)) => panic!("a pod list k8s-openapi reads fails ours: {error}"),
                (Err(_), Ok(_)) => return,
                (Err(_), Err(_)) => continue,
            }
        } else {
            let theirs: Result<WatchEvent<Pod>, _> = serde_json::from_slice(line);
            match (theirs, PodWatch::decode(line)) {
                (Ok(theirs), Ok(ours)) => {
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
                (Ok(_), Err(error)) => panic!("an event k8s-openapi reads fails ours: {error}"),
                (Err(_), Ok(_)) => return,
                (Err(_), Err(_)) => continue,
            }
        }
        assert_eq!(watch.placements(), model);
    }
});
