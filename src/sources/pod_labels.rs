//! Each pod's label set as the exposition formats write it, written once when the pod
//! index learns the pod rather than on every scrape.
//!
//! A pod's series all carry the same `node`, `pod`, `ip` and `namespace`; only
//! `container` differs. [`PodLabels`] keeps that text escaped and in order, in two
//! pieces around the container's name, so a scrape writes a series as a few copies and
//! a number instead of escaping five scattered strings per line.

use std::sync::Arc;

/// The pod series' label names, in metrics-server-prom's order.
pub const CONTAINER_LABELS: [&str; 5] = ["node", "pod", "ip", "container", "namespace"];

/// Appends `value` with backslash, double quote and line feed escaped, as both text
/// formats want label values.
pub fn push_escaped(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    if !bytes.iter().any(|&b| matches!(b, b'\\' | b'"' | b'\n')) {
        return out.extend_from_slice(bytes);
    }
    for &byte in bytes {
        match byte {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            other => out.push(other),
        }
    }
}

/// Asks the processor to bring the cache line at `address` in, without waiting for it:
/// a hint, with no effect on what the program computes.
#[inline]
pub fn prefetch(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE, which the instruction needs, is part of every x86_64 processor; a
    // prefetch reads nothing the program sees and never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// One pod's names and placement, with the label text of its series.
#[derive(Debug, PartialEq, Eq)]
pub struct PodLabels {
    namespace: Arc<str>,
    name: Arc<str>,
    node: Arc<str>,
    ip: Arc<str>,
    /// `node="…",pod="…",ip="…",container="` then `",namespace="…"`: the labels of
    /// [`CONTAINER_LABELS`] before and after the container's value, split at `split`.
    text: Box<[u8]>,
    split: u32,
}

impl PodLabels {
    pub fn new(namespace: Arc<str>, name: Arc<str>, node: Arc<str>, ip: Arc<str>) -> Self {
        let mut text =
            Vec::with_capacity(64 + namespace.len() + name.len() + node.len() + ip.len());
        let mut split = 0;
        for (index, label) in CONTAINER_LABELS.iter().enumerate() {
            if index > 0 {
                text.extend_from_slice(b"\",");
            }
            text.extend_from_slice(label.as_bytes());
            text.extend_from_slice(b"=\"");
            match *label {
                "node" => push_escaped(&mut text, &node),
                "pod" => push_escaped(&mut text, &name),
                "ip" => push_escaped(&mut text, &ip),
                "namespace" => push_escaped(&mut text, &namespace),
                "container" => split = text.len(),
                other => unreachable!("no pod label {other}"),
            }
        }
        PodLabels {
            namespace,
            name,
            node,
            ip,
            text: text.into_boxed_slice(),
            split: split as u32,
        }
    }

    /// A pod the index does not know: no node, no IP.
    pub fn unplaced(namespace: Arc<str>, name: Arc<str>) -> Self {
        let empty: Arc<str> = Arc::from("");
        Self::new(namespace, name, empty.clone(), empty)
    }

    pub fn namespace(&self) -> &Arc<str> {
        &self.namespace
    }

    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub fn node(&self) -> &Arc<str> {
        &self.node
    }

    pub fn ip(&self) -> &Arc<str> {
        &self.ip
    }

    /// Asks the processor to fetch the label text (see [`prefetch`]).
    pub fn prefetch_text(&self) {
        prefetch(self.text.as_ptr());
    }

    /// The label text before the container's (escaped) name, and after it up to the
    /// namespace's closing quote; neither has the braces.
    pub fn around_container(&self) -> (&[u8], &[u8]) {
        self.text.split_at(self.split as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(labels: &PodLabels, container: &str) -> String {
        let (before, after) = labels.around_container();
        let mut out = before.to_vec();
        push_escaped(&mut out, container);
        out.extend_from_slice(after);
        out.push(b'"');
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn labels_in_order_around_the_container() {
        let labels = PodLabels::new("ns".into(), "web-0".into(), "n1".into(), "10.0.0.1".into());
        assert_eq!(
            text(&labels, "app"),
            r#"node="n1",pod="web-0",ip="10.0.0.1",container="app",namespace="ns""#
        );
        assert_eq!(&**labels.node(), "n1");
        assert_eq!(
            text(&PodLabels::unplaced("ns".into(), "p".into()), "c"),
            r#"node="",pod="p",ip="",container="c",namespace="ns""#
        );
    }

    #[test]
    fn values_are_escaped_names_kept_as_they_are() {
        let labels = PodLabels::new("a\"b".into(), "x\\y".into(), "n\n".into(), "".into());
        assert_eq!(
            text(&labels, "c\""),
            r#"node="n\n",pod="x\\y",ip="",container="c\"",namespace="a\"b""#
        );
        assert_eq!(&**labels.namespace(), "a\"b");
        assert_eq!(&**labels.name(), "x\\y");
    }
}
