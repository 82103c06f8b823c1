//! Turning a reading and the self-metrics into the bytes Prometheus reads: OpenMetrics
//! or the classic text format 0.0.4, as [`super::negotiate`] decided.
//!
//! The usage families are gauges, which read the same in both formats; they are
//! written straight as bytes from the families table, exactly as prometheus-client
//! would write them, without its per-series machinery (a cluster has hundreds of
//! thousands of series). The self-metrics go through prometheus-client, which writes
//! OpenMetrics only; the classic format differs in three lines we rewrite: no `# EOF`,
//! no `# UNIT`, and counters declared under their `_total` sample name.
//!
//! Text is handed on in chunks as it is written, in two parts that a gzip-encoded
//! exposition compresses on two cores ([`super::gzip`]), and that an uncompressed one
//! sends as they come ([`StreamedExposition`]), so the uncompressed text of a large
//! cluster is never held in memory.

use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::registry::Registry;

use super::gzip::{self, Part, SpareGzip};
pub use super::negotiate::{Format, Wanted};
use crate::exposition::families::{
    Family, Series, CONTAINER_FAMILIES, CONTAINER_RESOURCE_FAMILIES, NODE_FAMILIES,
    NODE_RESOURCE_FAMILIES,
};
use crate::reading::requirements::Requirements;
use crate::reading::usage::ClusterUsage;
use crate::sources::pod_labels::push_escaped;

/// A rendered exposition, ready to send.
#[derive(Debug, Clone)]
pub struct Exposition {
    pub format: Format,
    pub gzip: bool,
    pub body: Bytes,
}

impl IntoResponse for Exposition {
    fn into_response(self) -> Response {
        let mut response = self.body.into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.format.content_type()),
        );
        if self.gzip {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        headers.insert(
            header::VARY,
            HeaderValue::from_static("accept, accept-encoding"),
        );
        response
    }
}

/// An uncompressed exposition, sent in chunks as they are written (a large cluster's
/// text is about 300 bytes a container: held whole, a few concurrent scrapes would
/// hold hundreds of megabytes). A rendering that fails midway ends the body with an
/// error, so the client sees a broken transfer rather than a short exposition.
pub struct StreamedExposition {
    pub format: Format,
    pub chunks: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
}

impl IntoResponse for StreamedExposition {
    fn into_response(self) -> Response {
        let chunks = futures::stream::unfold(self.chunks, |mut chunks| async move {
            chunks.recv().await.map(|chunk| (chunk, chunks))
        });
        let mut response = axum::body::Body::from_stream(chunks).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.format.content_type()),
        );
        headers.insert(
            header::VARY,
            HeaderValue::from_static("accept, accept-encoding"),
        );
        response
    }
}

/// Writes the uncompressed exposition a chunk at a time into `send`, which says
/// whether the receiver still wants more; once it does not, nothing more is sent.
pub fn stream_with_resources(
    format: Format,
    usage: &ClusterUsage,
    resources: Option<&Requirements>,
    registry: &Registry,
    send: &mut dyn FnMut(Vec<u8>) -> bool,
) {
    let mut open = true;
    for part in parts(format, usage, resources, registry) {
        part(&mut |chunk: &mut Vec<u8>| {
            if open {
                open = send(std::mem::take(chunk));
            }
        });
    }
}

/// Renders the usage families of `usage`, then the self-metrics in `registry`, as
/// `wanted` asks.
pub fn render(wanted: Wanted, usage: Arc<ClusterUsage>, registry: &Registry) -> Exposition {
    render_with_resources(wanted, usage, None, registry, &SpareGzip::default())
}

/// [`render`], with the requests, limits and capacities of `resources` after the usage
/// families (`--resources`), gzip-encoded into buffers from `spare` where it has them.
pub fn render_with_resources(
    wanted: Wanted,
    usage: Arc<ClusterUsage>,
    resources: Option<Arc<Requirements>>,
    registry: &Registry,
    spare: &SpareGzip,
) -> Exposition {
    let parts = parts(wanted.format, &usage, resources.as_deref(), registry);
    let body = if wanted.gzip {
        gzip::compressed_in_parts(parts, spare)
    } else {
        Bytes::from(concatenated(parts))
    };
    Exposition {
        format: wanted.format,
        gzip: wanted.gzip,
        body,
    }
}

/// Renders uncompressed text, for callers that want a string.
pub fn render_text(format: Format, usage: Arc<ClusterUsage>, registry: &Registry) -> String {
    let text = concatenated(parts(format, &usage, None, registry));
    String::from_utf8(text).expect("exposition is UTF-8")
}

fn concatenated(parts: Vec<Part<'_>>) -> Vec<u8> {
    let mut out = Vec::new();
    for part in parts {
        part(&mut |chunk: &mut Vec<u8>| out.extend_from_slice(chunk));
    }
    out
}

/// The exposition in two parts of about the same size, which gzip compresses on two
/// cores: the pod CPU family, then everything else. The usage families are written
/// straight as bytes (gauges read the same in both formats); the self-metrics, a few
/// dozen lines, go through prometheus-client.
fn parts<'a>(
    format: Format,
    usage: &'a ClusterUsage,
    resources: Option<&'a Requirements>,
    registry: &'a Registry,
) -> Vec<Part<'a>> {
    let containers = usage.containers.as_deref().unwrap_or_default();
    let [first, others @ ..] = &CONTAINER_FAMILIES;
    let pod_cpu: Part<'a> = Box::new(move |sink| {
        let mut lines = Lines::new(sink);
        write_family(&mut lines, first, containers);
        lines.hand_on();
    });
    let rest: Part<'a> = Box::new(move |sink| {
        let mut lines = Lines::new(sink);
        for family in others {
            write_family(&mut lines, family, containers);
        }
        let nodes = usage.nodes.as_deref().unwrap_or_default();
        for family in &NODE_FAMILIES {
            write_family(&mut lines, family, nodes);
        }
        if let Some(resources) = resources {
            for family in &CONTAINER_RESOURCE_FAMILIES {
                write_family(&mut lines, family, &resources.containers);
            }
            for family in &NODE_RESOURCE_FAMILIES {
                write_family(&mut lines, family, &resources.nodes);
            }
        }
        let mut own = String::new();
        // Writing to a String does not fail, nor do the self-metrics' collectors.
        encode_registry(&mut own, registry).expect("encoding self-metrics");
        match format {
            Format::OpenMetrics => {
                encode_eof(&mut own).expect("encoding EOF");
                lines.push(own.as_bytes());
            }
            Format::Text => lines.push(openmetrics_to_text(&own).as_bytes()),
        }
        lines.hand_on();
    });
    vec![pod_cpu, rest]
}

/// Lines are handed on in chunks of about this many bytes: few enough hand-overs to
/// cost nothing, small enough that a large cluster's text is never held whole.
const CHUNK: usize = 256 * 1024;

/// A buffer of whole lines, handed to its sink a chunk at a time. One buffer serves
/// every chunk, unless the sink takes it (to send on).
struct Lines<'s> {
    buffer: Vec<u8>,
    sink: &'s mut dyn FnMut(&mut Vec<u8>),
}

impl<'s> Lines<'s> {
    fn new(sink: &'s mut dyn FnMut(&mut Vec<u8>)) -> Self {
        Lines {
            buffer: Vec::with_capacity(CHUNK + 4096),
            sink,
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    fn end_line(&mut self) {
        self.buffer.push(b'\n');
        if self.buffer.len() >= CHUNK {
            self.hand_on();
        }
    }

    fn hand_on(&mut self) {
        if !self.buffer.is_empty() {
            (self.sink)(&mut self.buffer);
            self.buffer.clear();
            self.buffer.reserve(CHUNK + 4096);
        }
    }
}

/// How many records ahead a writer asks for the label text it will write
/// ([`Series::prefetch`]).
const PREFETCH_DISTANCE: usize = 8;

/// One gauge family: HELP, TYPE, and a line per record with a value, exactly as
/// prometheus-client writes a gauge (label values escaped, values by `dtoa`).
fn write_family<T: Series>(lines: &mut Lines, family: &Family<T>, records: &[T]) {
    for (prefix, text) in [("# HELP ", family.help), ("# TYPE ", "gauge")] {
        lines.push(prefix.as_bytes());
        lines.push(family.name.as_bytes());
        lines.push(b" ");
        lines.push(text.as_bytes());
        lines.end_line();
    }
    let name_open = format!("{}{{", family.name);
    // What comes before each label value (`name{node="`, then `",pod="`, ...), the
    // same for every record of a type: built once, so that a line is a few copies.
    let mut before: Vec<Vec<u8>> = Vec::new();
    let mut number = dtoa::Buffer::new();
    for (index, record) in records.iter().enumerate() {
        if let Some(ahead) = records.get(index + PREFETCH_DISTANCE) {
            ahead.prefetch();
        }
        let Some(value) = (family.value)(record) else {
            continue;
        };
        if let Some((head, middle, tail)) = record.prerendered() {
            lines.push(name_open.as_bytes());
            lines.push(head);
            push_escaped(&mut lines.buffer, middle);
            lines.push(tail);
            lines.push(b"\"} ");
        } else {
            let labels = record.labels();
            let labels = labels.as_ref();
            if before.len() != labels.len() {
                before = separators(family.name, labels);
            }
            if labels.is_empty() {
                lines.push(family.name.as_bytes());
                lines.push(b"{} ");
            }
            for ((_, label), prefix) in labels.iter().zip(&before) {
                lines.push(prefix);
                push_escaped(&mut lines.buffer, label);
            }
            if !labels.is_empty() {
                lines.push(b"\"} ");
            }
        }
        push_value(&mut lines.buffer, value, &mut number);
        lines.end_line();
    }
}

/// Writes `value` as prometheus-client does (`dtoa`'s shortest form). A whole number of
/// bytes, which is what half the series carry, is written by `itoa` with `.0` after it:
/// `dtoa` writes such a number the same way (every digit, up to 21 of them, then `.0`),
/// and `itoa` gets there faster.
fn push_value(out: &mut Vec<u8>, value: f64, number: &mut dtoa::Buffer) {
    if value.is_sign_positive() && value < 1e15 && value.fract() == 0.0 {
        // A whole number below 1e15 converts to u64 exactly.
        out.extend_from_slice(itoa::Buffer::new().format(value as u64).as_bytes());
        out.extend_from_slice(b".0");
    } else {
        out.extend_from_slice(number.format(value).as_bytes());
    }
}

/// For labels `[(node, _), (pod, _)]` of family `name`: `name{node="`, `",pod="`.
fn separators(name: &str, labels: &[(&str, &str)]) -> Vec<Vec<u8>> {
    labels
        .iter()
        .enumerate()
        .map(|(index, (label, _))| match index {
            0 => format!("{name}{{{label}=\""),
            _ => format!("\",{label}=\""),
        })
        .map(String::into_bytes)
        .collect()
}

/// Rewrites prometheus-client's OpenMetrics text as text format 0.0.4.
fn openmetrics_to_text(openmetrics: &str) -> String {
    let mut text = String::with_capacity(openmetrics.len());
    let mut lines = openmetrics.lines().peekable();
    while let Some(line) = lines.next() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(help) = line.strip_prefix("# HELP ") {
            let name = help.split(' ').next().unwrap_or_default();
            let counter_type = format!("# TYPE {name} counter");
            if lines.peek() == Some(&counter_type.as_str()) {
                lines.next();
                let rest = &help[name.len()..];
                text.push_str(&format!(
                    "# HELP {name}_total{rest}\n# TYPE {name}_total counter\n"
                ));
                continue;
            }
        }
        if let Some(name) = line
            .strip_prefix("# TYPE ")
            .and_then(|t| t.strip_suffix(" unknown"))
        {
            text.push_str(&format!("# TYPE {name} untyped\n"));
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::self_metrics::SelfMetrics;
    use crate::reading::usage::{ContainerUsage, NodeUsage};
    use crate::sources::pod_labels::PodLabels;
    use proptest::prelude::*;

    /// prometheus-client's own rendering of the usage families, as this exporter used
    /// to write them: the oracle the direct writer must match byte for byte.
    mod oracle {
        use super::super::*;
        use prometheus_client::collector::Collector;
        use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric as _};
        use prometheus_client::metrics::gauge::ConstGauge;
        use prometheus_client::metrics::MetricType;

        pub fn text(usage: Arc<ClusterUsage>, resources: Option<Arc<Requirements>>) -> String {
            let mut families = Registry::default();
            families.register_collector(Box::new(UsageCollector(usage)));
            if let Some(resources) = resources {
                families.register_collector(Box::new(ResourceCollector(resources)));
            }
            let mut out = String::new();
            encode_registry(&mut out, &families).unwrap();
            out
        }

        struct Labels<'a>(&'a [(&'static str, &'a str)]);

        impl EncodeLabelSet for Labels<'_> {
            fn encode(
                &self,
                encoder: &mut prometheus_client::encoding::LabelSetEncoder,
            ) -> Result<(), std::fmt::Error> {
                self.0.encode(encoder)
            }
        }

        #[derive(Debug)]
        struct UsageCollector(Arc<ClusterUsage>);

        impl Collector for UsageCollector {
            fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
                let containers = self.0.containers.as_deref().unwrap_or_default();
                for family in &CONTAINER_FAMILIES {
                    encode_family(&mut encoder, family, containers)?;
                }
                let nodes = self.0.nodes.as_deref().unwrap_or_default();
                for family in &NODE_FAMILIES {
                    encode_family(&mut encoder, family, nodes)?;
                }
                Ok(())
            }
        }

        #[derive(Debug)]
        struct ResourceCollector(Arc<Requirements>);

        impl Collector for ResourceCollector {
            fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
                for family in &CONTAINER_RESOURCE_FAMILIES {
                    encode_family(&mut encoder, family, &self.0.containers)?;
                }
                for family in &NODE_RESOURCE_FAMILIES {
                    encode_family(&mut encoder, family, &self.0.nodes)?;
                }
                Ok(())
            }
        }

        fn encode_family<T: Series>(
            encoder: &mut DescriptorEncoder,
            family: &Family<T>,
            records: &[T],
        ) -> Result<(), std::fmt::Error> {
            let mut metric =
                encoder.encode_descriptor(family.name, family.help, None, MetricType::Gauge)?;
            for record in records {
                if let Some(value) = (family.value)(record) {
                    let labels = record.labels();
                    let labels = Labels(labels.as_ref());
                    ConstGauge::new(value).encode(metric.encode_family(&labels)?)?;
                }
            }
            Ok(())
        }
    }

    fn arbitrary_container() -> impl Strategy<Value = ContainerUsage> {
        let text = "[a-z0-9\\\\\"\n é✓-]{0,12}";
        (
            (text, text, text, text, text),
            proptest::option::of(proptest::num::f64::ANY),
            proptest::option::of(0.0..1e15f64),
        )
            .prop_map(|((namespace, pod, container, node, ip), cpu, memory)| {
                ContainerUsage {
                    labels: PodLabels::new(&namespace, &pod, &node, &ip),
                    container: container.as_str().into(),
                    cpu,
                    memory,
                    sampled: Default::default(),
                }
            })
    }

    proptest! {
        #[test]
        fn values_are_written_as_dtoa_writes_them(
            value in prop_oneof![
                proptest::num::f64::ANY,
                (0u64..1 << 53).prop_map(|whole| whole as f64),
                (0u64..2_000_000).prop_map(|whole| whole as f64 * 1024.0),
                Just(1e15), Just(1e15 - 1.0), Just(-0.0), Just(0.0), Just(f64::MAX),
            ],
        ) {
            let mut ours = Vec::new();
            push_value(&mut ours, value, &mut dtoa::Buffer::new());
            prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                dtoa::Buffer::new().format(value).to_owned()
            );
        }

        #[test]
        fn the_direct_writer_matches_prometheus_client(
            containers in proptest::collection::vec(arbitrary_container(), 0..20),
            node_cpu in proptest::option::of(proptest::num::f64::ANY),
        ) {
            let usage = Arc::new(ClusterUsage {
                containers: Some(containers),
                nodes: Some(vec![NodeUsage { node: "n\"1".into(), cpu: node_cpu, memory: Some(1.5), sampled: Default::default() }]),
            });
            let mut ours = render_text(Format::OpenMetrics, usage.clone(), &Registry::default());
            prop_assert!(ours.ends_with("# EOF\n"));
            ours.truncate(ours.len() - "# EOF\n".len());
            prop_assert_eq!(ours, oracle::text(usage, None));
        }
    }

    fn container(
        namespace: &str,
        pod: &str,
        cpu: Option<f64>,
        memory: Option<f64>,
    ) -> ContainerUsage {
        ContainerUsage {
            labels: PodLabels::new(namespace, pod, "node-1", "10.0.0.1"),
            container: "app".into(),
            cpu,
            memory,
            sampled: Default::default(),
        }
    }

    fn sample() -> Arc<ClusterUsage> {
        Arc::new(ClusterUsage {
            containers: Some(vec![
                container("kube-system", "etcd", Some(0.007), Some(128458752.0)),
                container("shop", "web-0", Some(0.123456789), None),
            ]),
            nodes: Some(vec![NodeUsage {
                node: "node-1".into(),
                cpu: Some(1.5),
                memory: Some(1073741824.0),
                sampled: Default::default(),
            }]),
        })
    }

    #[test]
    fn text_format_renders_values_in_base_units() {
        let out = render_text(Format::Text, sample(), SelfMetrics::new().registry());
        assert!(
            out.contains("# TYPE kube_metrics_server_pod_cpu gauge\n"),
            "{out}"
        );
        assert!(out.contains(
            "kube_metrics_server_pod_cpu{node=\"node-1\",pod=\"etcd\",ip=\"10.0.0.1\",container=\"app\",namespace=\"kube-system\"} 0.007\n"
        ), "{out}");
        assert!(
            out.contains(
                "pod=\"web-0\",ip=\"10.0.0.1\",container=\"app\",namespace=\"shop\"} 0.123456789\n"
            ),
            "{out}"
        );
        assert!(out.contains("kube_metrics_server_pod_mem{node=\"node-1\",pod=\"etcd\",ip=\"10.0.0.1\",container=\"app\",namespace=\"kube-system\"} 128458752.0\n"), "{out}");
        assert!(
            !out.contains("pod_mem{node=\"node-1\",pod=\"web-0\""),
            "absent memory is skipped: {out}"
        );
        assert!(
            out.contains("kube_metrics_server_node_cpu{node=\"node-1\"} 1.5\n"),
            "{out}"
        );
        assert!(
            out.contains("kube_metrics_server_node_mem{node=\"node-1\"} 1073741824.0\n"),
            "{out}"
        );
        assert!(
            out.contains("# TYPE kube_metrics_server_quantity_parse_errors_total counter\n"),
            "{out}"
        );
        assert!(
            out.contains("# HELP kube_metrics_server_quantity_parse_errors_total Usage quantities"),
            "{out}"
        );
        assert!(!out.contains("# EOF"), "{out}");
    }

    #[test]
    fn openmetrics_ends_with_eof_and_declares_counters_by_family() {
        let out = render_text(Format::OpenMetrics, sample(), SelfMetrics::new().registry());
        assert!(out.ends_with("# EOF\n"), "{out}");
        assert!(
            out.contains("# TYPE kube_metrics_server_quantity_parse_errors counter\n"),
            "{out}"
        );
        assert!(out.contains("kube_metrics_server_quantity_parse_errors_total{resource=\"pod\",usage=\"cpu\"} 0\n"), "{out}");
    }

    #[test]
    fn failed_reads_export_no_usage_series() {
        let out = render_text(
            Format::Text,
            Arc::new(ClusterUsage::default()),
            SelfMetrics::new().registry(),
        );
        assert!(
            out.contains("# TYPE kube_metrics_server_pod_cpu gauge\n"),
            "{out}"
        );
        assert!(!out.contains("kube_metrics_server_pod_cpu{"), "{out}");
        assert!(!out.contains("kube_metrics_server_node_mem{"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut odd = container("ns", "say \"hi\"\\now\nplease", Some(1.0), None);
        odd.container = "größe-✓".into();
        let usage = Arc::new(ClusterUsage {
            containers: Some(vec![odd]),
            nodes: None,
        });
        let out = render_text(Format::Text, usage, &Registry::default());
        assert!(
            out.contains(r#"pod="say \"hi\"\\now\nplease",ip="10.0.0.1",container="größe-✓""#),
            "{out}"
        );
    }

    #[test]
    fn gzip_is_negotiated_and_decompresses_to_the_text() {
        let registry = SelfMetrics::new();
        let wanted = Wanted {
            format: Format::OpenMetrics,
            gzip: true,
        };
        let gzipped = render(wanted, sample(), registry.registry());
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&gzipped.body[..]),
            &mut text,
        )
        .unwrap();
        // The process metrics (CPU time, memory) move between two renderings.
        let steady = |text: &str| -> String {
            text.lines()
                .filter(|line| !line.contains("process_"))
                .map(|line| format!("{line}\n"))
                .collect()
        };
        assert_eq!(
            steady(&text),
            steady(&render_text(
                Format::OpenMetrics,
                sample(),
                registry.registry()
            ))
        );
        assert!(text.contains("process_resident_memory_bytes"), "{text}");
    }

    #[test]
    fn text_conversion_only_touches_what_differs() {
        let om = "# HELP a_b A thing.\n# TYPE a_b counter\na_b_total 3\n# HELP g G.\n# TYPE g gauge\n# UNIT g seconds\ng 1\n# TYPE u unknown\nu 2\n# EOF\n";
        assert_eq!(
            openmetrics_to_text(om),
            "# HELP a_b_total A thing.\n# TYPE a_b_total counter\na_b_total 3\n# HELP g G.\n# TYPE g gauge\ng 1\n# TYPE u untyped\nu 2\n"
        );
    }
}
