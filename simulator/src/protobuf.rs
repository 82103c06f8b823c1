//! PodMetricsList and NodeMetricsList in Kubernetes protobuf, as an API server writes
//! them for `Accept: application/vnd.kubernetes.protobuf` (what `kubectl top` asks
//! for): the `k8s\0` magic, the `runtime.Unknown` envelope, then the list. Field
//! numbers from k8s.io/metrics' and apimachinery's generated.proto.

/// The four bytes that start every Kubernetes protobuf body.
pub const MAGIC: [u8; 4] = *b"k8s\0";
pub const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

const WT_VARINT: u8 = 0;
const WT_LEN: u8 = 2;
/// 0001-01-01T00:00:00Z, Go's zero time, which metav1.Time writes as an empty message.
const GO_ZERO_TIME_UNIX: i64 = -62_135_596_800;

// What kube-apiserver's gogo-generated marshallers write: proto2 non-pointer fields
// always, even when empty or zero, in field-number order; maps in sorted key order.

/// One pod of a list to encode.
pub struct EncodedPod<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub timestamp_seconds: i64,
    pub window_nanos: i64,
    /// (name, cpu quantity, memory quantity); an empty quantity omits that key.
    pub containers: &'a [(&'a str, &'a str, &'a str)],
}

/// One node of a list to encode.
pub struct EncodedNode<'a> {
    pub name: &'a str,
    pub timestamp_seconds: i64,
    pub window_nanos: i64,
    /// Quantity texts; an empty one omits that key.
    pub cpu: &'a str,
    pub memory: &'a str,
}

/// A complete `application/vnd.kubernetes.protobuf` PodMetricsList body.
pub fn encode_pod_list<'a>(
    api_version: &str,
    resource_version: &str,
    pods: impl IntoIterator<Item = EncodedPod<'a>>,
) -> Vec<u8> {
    encode_list(api_version, "PodMetricsList", resource_version, |raw| {
        for pod in pods {
            put_message(raw, 2, |out| {
                put_object_meta(out, pod.name, pod.namespace, pod.timestamp_seconds);
                put_time(out, 2, pod.timestamp_seconds);
                put_message(out, 3, |d| put_int(d, 1, pod.window_nanos));
                for &(name, cpu, memory) in pod.containers {
                    put_message(out, 4, |c| {
                        put_string(c, 1, name);
                        put_usage(c, 2, cpu, memory);
                    });
                }
            });
        }
    })
}

/// A complete `application/vnd.kubernetes.protobuf` NodeMetricsList body.
pub fn encode_node_list<'a>(
    api_version: &str,
    resource_version: &str,
    nodes: impl IntoIterator<Item = EncodedNode<'a>>,
) -> Vec<u8> {
    encode_list(api_version, "NodeMetricsList", resource_version, |raw| {
        for node in nodes {
            put_message(raw, 2, |out| {
                put_object_meta(out, node.name, "", node.timestamp_seconds);
                put_time(out, 2, node.timestamp_seconds);
                put_message(out, 3, |d| put_int(d, 1, node.window_nanos));
                put_usage(out, 4, node.cpu, node.memory);
            });
        }
    })
}

fn encode_list(
    api_version: &str,
    kind: &str,
    resource_version: &str,
    items: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(&MAGIC);
    put_message(&mut out, 1, |type_meta| {
        put_string(type_meta, 1, api_version);
        put_string(type_meta, 2, kind);
    });
    put_message(&mut out, 2, |raw| {
        put_message(raw, 1, |list_meta| {
            put_string(list_meta, 1, ""); // selfLink
            put_string(list_meta, 2, resource_version);
            put_string(list_meta, 3, ""); // continue
        });
        items(raw);
    });
    put_string(&mut out, 3, ""); // contentEncoding
    put_string(&mut out, 4, ""); // contentType
    out
}

/// metrics-server sets name, namespace and creationTimestamp; the other
/// non-pointer fields (generateName, selfLink, uid, resourceVersion,
/// generation) are still written, empty.
fn put_object_meta(out: &mut Vec<u8>, name: &str, namespace: &str, created: i64) {
    put_message(out, 1, |m| {
        put_string(m, 1, name);
        put_string(m, 2, "");
        put_string(m, 3, namespace);
        put_string(m, 4, "");
        put_string(m, 5, "");
        put_string(m, 6, "");
        put_int(m, 7, 0);
        put_time(m, 8, created);
    });
}

/// metav1.Time writes seconds and a zero nanos, or nothing for Go's zero time.
fn put_time(out: &mut Vec<u8>, field: u32, seconds: i64) {
    put_message(out, field, |t| {
        if seconds != GO_ZERO_TIME_UNIX {
            put_int(t, 1, seconds);
            put_int(t, 2, 0);
        }
    });
}

fn put_usage(out: &mut Vec<u8>, field: u32, cpu: &str, memory: &str) {
    for (key, quantity) in [("cpu", cpu), ("memory", memory)] {
        if !quantity.is_empty() {
            put_message(out, field, |entry| {
                put_string(entry, 1, key);
                put_message(entry, 2, |q| put_string(q, 1, quantity));
            });
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, field: u32, wire_type: u8) {
    put_varint(out, u64::from(field) << 3 | u64::from(wire_type));
}

/// Negative values are 10-byte two's complement varints, as Go writes int64.
fn put_int(out: &mut Vec<u8>, field: u32, v: i64) {
    put_key(out, field, WT_VARINT);
    put_varint(out, v as u64);
}

fn put_string(out: &mut Vec<u8>, field: u32, s: &str) {
    put_key(out, field, WT_LEN);
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Writes the child in place, then inserts its length in front of it: one
/// shift of the child's bytes per nesting level instead of a copy per level.
fn put_message(out: &mut Vec<u8>, field: u32, body: impl FnOnce(&mut Vec<u8>)) {
    put_key(out, field, WT_LEN);
    let start = out.len();
    body(out);
    let mut len = Vec::with_capacity(10);
    put_varint(&mut len, (out.len() - start) as u64);
    out.splice(start..start, len);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_writes_apiserver_bytes() {
        let body = encode_pod_list(
            "metrics.k8s.io/v1beta1",
            "5",
            [EncodedPod {
                namespace: "ns",
                name: "p",
                timestamp_seconds: 1000,
                window_nanos: 15_000_000_000,
                containers: &[("c", "10m", "5Mi")],
            }],
        );
        let mut want = b"k8s\0".to_vec();
        want.extend_from_slice(&[0x0a, 40, 0x0a, 22]);
        want.extend_from_slice(b"metrics.k8s.io/v1beta1");
        want.extend_from_slice(&[0x12, 14]);
        want.extend_from_slice(b"PodMetricsList");
        let time = [0x08, 0xe8, 0x07, 0x10, 0x00];
        let mut pod = vec![0x0a, 24, 0x0a, 1, b'p', 0x12, 0, 0x1a, 2, b'n', b's'];
        pod.extend_from_slice(&[0x22, 0, 0x2a, 0, 0x32, 0, 0x38, 0, 0x42, 5]);
        pod.extend_from_slice(&time);
        pod.extend_from_slice(&[0x12, 5]);
        pod.extend_from_slice(&time);
        pod.extend_from_slice(&[0x1a, 6, 0x08, 0x80, 0xac, 0xc7, 0xf0, 0x37]);
        pod.extend_from_slice(&[0x22, 34, 0x0a, 1, b'c']);
        pod.extend_from_slice(&[0x12, 12, 0x0a, 3, b'c', b'p', b'u', 0x12, 5, 0x0a, 3]);
        pod.extend_from_slice(b"10m");
        pod.extend_from_slice(&[0x12, 15, 0x0a, 6]);
        pod.extend_from_slice(b"memory");
        pod.extend_from_slice(&[0x12, 5, 0x0a, 3]);
        pod.extend_from_slice(b"5Mi");
        let mut raw = vec![
            0x0a,
            7,
            0x0a,
            0,
            0x12,
            1,
            b'5',
            0x1a,
            0,
            0x12,
            pod.len() as u8,
        ];
        raw.extend_from_slice(&pod);
        want.extend_from_slice(&[0x12, raw.len() as u8]);
        want.extend_from_slice(&raw);
        want.extend_from_slice(&[0x1a, 0, 0x22, 0]);
        assert_eq!(body, want);
    }
}
