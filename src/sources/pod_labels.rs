//! Each pod's label set as the exposition formats write it, written once when the pod
//! index learns the pod rather than on every scrape.
//!
//! A pod's series all carry the same `node`, `pod`, `ip` and `namespace`; only
//! `container` differs. [`PodLabels`] keeps that text escaped and in order, in two
//! pieces around the container's name, so a scrape writes a series as a few copies and
//! a number instead of escaping five scattered strings per line.

use std::sync::atomic::{AtomicU64, Ordering};
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

/// One pod's name, namespace, node and IP, with the label text of its series, in one
/// allocation shared by the pod index and every reading that has the pod.
///
/// One allocation, because a scrape reaches it from a hash table of 150,000 pods and
/// then from the series it writes, each time at a place in memory it has not been
/// for a while: the index compares the name and takes a reference, and the writer
/// copies the label text, all from the same few cache lines.
///
/// The bytes: the ends of the six parts (`u32` each), then the name (first, so that the
/// index compares it on the line it fetches anyway), namespace, node, IP, and the
/// label text: `node="…",pod="…",ip="…",container="` then `",namespace="…"`, the labels
/// of [`CONTAINER_LABELS`] before and after the container's value.
#[derive(Clone)]
pub struct PodLabels(Arc<[u8]>);

/// The parts of a [`PodLabels`], in order after the header.
const NAME: usize = 0;
const NAMESPACE: usize = 1;
const NODE: usize = 2;
const IP: usize = 3;
/// The label text up to the container's value, then the rest of it.
const BEFORE_CONTAINER: usize = 4;
const AFTER_CONTAINER: usize = 5;
const HEADER: usize = 6 * 4;

impl PodLabels {
    pub fn new(namespace: &str, name: &str, node: &str, ip: &str) -> Self {
        let mut bytes = Vec::with_capacity(
            HEADER + 64 + 2 * (namespace.len() + name.len() + node.len()) + 2 * ip.len(),
        );
        bytes.resize(HEADER, 0);
        let mut ends = [0u32; 6];
        for (part, text) in [(NAME, name), (NAMESPACE, namespace), (NODE, node), (IP, ip)] {
            bytes.extend_from_slice(text.as_bytes());
            ends[part] = bytes.len() as u32;
        }
        for (index, label) in CONTAINER_LABELS.iter().enumerate() {
            if index > 0 {
                bytes.extend_from_slice(b"\",");
            }
            bytes.extend_from_slice(label.as_bytes());
            bytes.extend_from_slice(b"=\"");
            match *label {
                "node" => push_escaped(&mut bytes, node),
                "pod" => push_escaped(&mut bytes, name),
                "ip" => push_escaped(&mut bytes, ip),
                "namespace" => push_escaped(&mut bytes, namespace),
                "container" => ends[BEFORE_CONTAINER] = bytes.len() as u32,
                other => unreachable!("no pod label {other}"),
            }
        }
        ends[AFTER_CONTAINER] = bytes.len() as u32;
        for (part, end) in ends.iter().enumerate() {
            bytes[part * 4..part * 4 + 4].copy_from_slice(&end.to_le_bytes());
        }
        PodLabels(Arc::from(bytes))
    }

    /// A pod the index does not know: no node, no IP.
    pub fn unplaced(namespace: &str, name: &str) -> Self {
        Self::new(namespace, name, "", "")
    }

    fn end(&self, part: usize) -> usize {
        let bytes: [u8; 4] = self.0[part * 4..part * 4 + 4].try_into().expect("4 bytes");
        u32::from_le_bytes(bytes) as usize
    }

    fn part(&self, part: usize) -> &[u8] {
        let start = match part {
            NAME => HEADER,
            _ => self.end(part - 1),
        };
        &self.0[start..self.end(part)]
    }

    fn text(&self, part: usize) -> &str {
        std::str::from_utf8(self.part(part)).expect("parts are written from strings")
    }

    /// The pod's name as bytes, which is what the index compares.
    pub fn name_bytes(&self) -> &[u8] {
        self.part(NAME)
    }

    pub fn name(&self) -> &str {
        self.text(NAME)
    }

    pub fn namespace(&self) -> &str {
        self.text(NAMESPACE)
    }

    pub fn node(&self) -> &str {
        self.text(NODE)
    }

    pub fn ip(&self) -> &str {
        self.text(IP)
    }

    /// Asks the processor to fetch the labels (see [`prefetch`]): every cache line
    /// of them, since a writer copies the label text at their end.
    pub fn prefetch(&self) {
        let start = self.0.as_ptr();
        let (first, end) = (start as usize, start as usize + self.0.len());
        // From the line the first byte is on, to the one the last is on.
        let mut line = first & !63;
        while line < end {
            prefetch(start.wrapping_add(line.wrapping_sub(first)));
            line += 64;
        }
    }

    /// The label text before the container's (escaped) name, and after it up to the
    /// namespace's closing quote; neither has the braces.
    pub fn around_container(&self) -> (&[u8], &[u8]) {
        (self.part(BEFORE_CONTAINER), self.part(AFTER_CONTAINER))
    }
}

impl std::fmt::Debug for PodLabels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodLabels")
            .field("namespace", &self.namespace())
            .field("name", &self.name())
            .field("node", &self.node())
            .field("ip", &self.ip())
            .finish()
    }
}

/// Two labels are equal when all they say is.
impl PartialEq for PodLabels {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl Eq for PodLabels {}

/// A namespace's pods, found by name: [`PodLabels`] hashes and compares as its name's
/// bytes (one namespace has one pod of a name). Beside the labels, in the same slot of
/// the index's table, the mark of the last join that took the pod, so that a join
/// finds a pod listed twice without a set of its own (see `reading::usage`).
#[derive(Debug)]
pub struct ByName {
    pub labels: PodLabels,
    joined: AtomicU64,
}

impl ByName {
    pub fn new(labels: PodLabels) -> Self {
        ByName {
            labels,
            joined: AtomicU64::new(0),
        }
    }

    /// Puts `mark` on the pod, returning the one it had (0 when never joined).
    pub fn swap_join_mark(&self, mark: u64) -> u64 {
        self.joined.swap(mark, Ordering::Relaxed)
    }
}

impl std::hash::Hash for ByName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.labels.name_bytes().hash(state)
    }
}

impl PartialEq for ByName {
    fn eq(&self, other: &Self) -> bool {
        self.labels.name_bytes() == other.labels.name_bytes()
    }
}

impl Eq for ByName {}

impl std::borrow::Borrow<[u8]> for ByName {
    fn borrow(&self) -> &[u8] {
        self.labels.name_bytes()
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
        let labels = PodLabels::new("ns", "web-0", "n1", "10.0.0.1");
        assert_eq!(
            text(&labels, "app"),
            r#"node="n1",pod="web-0",ip="10.0.0.1",container="app",namespace="ns""#
        );
        assert_eq!(
            (
                labels.name(),
                labels.namespace(),
                labels.node(),
                labels.ip()
            ),
            ("web-0", "ns", "n1", "10.0.0.1")
        );
        assert_eq!(
            text(&PodLabels::unplaced("ns", "p"), "c"),
            r#"node="",pod="p",ip="",container="c",namespace="ns""#
        );
    }

    #[test]
    fn values_are_escaped_names_kept_as_they_are() {
        let labels = PodLabels::new("a\"b", "x\\y", "n\n", "");
        assert_eq!(
            text(&labels, "c\""),
            r#"node="n\n",pod="x\\y",ip="",container="c\"",namespace="a\"b""#
        );
        assert_eq!(labels.namespace(), "a\"b");
        assert_eq!(labels.name(), "x\\y");
        assert_eq!(labels.name_bytes(), b"x\\y");
    }
}
