//! Turning a usage and the self-metrics into the bytes Prometheus reads, through
//! prometheus-client: OpenMetrics or the classic text format 0.0.4, as
//! [`super::negotiate`] decided.
//!
//! prometheus-client writes OpenMetrics only; the classic format differs from it in
//! three lines we rewrite: no `# EOF`, no `# UNIT`, and counters declared under their
//! `_total` sample name. Only the small self-metrics part needs that rewrite: the usage
//! families are gauges, written the same way in both formats straight into the output.
//!
//! A gzip-encoded exposition is compressed as it is written, so the uncompressed text
//! of a large cluster is never held in memory.

use std::io::Write as _;
use std::sync::Arc;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use flate2::write::GzEncoder;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

pub use super::negotiate::{Format, Wanted};
use crate::exposition::families::{
    Family, Series, CONTAINER_FAMILIES, CONTAINER_RESOURCE_FAMILIES, NODE_FAMILIES,
    NODE_RESOURCE_FAMILIES,
};
use crate::reading::requirements::Requirements;
use crate::reading::usage::ClusterUsage;

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

/// Renders the usage families of `usage`, then the self-metrics in `registry`, as
/// `wanted` asks.
pub fn render(wanted: Wanted, usage: Arc<ClusterUsage>, registry: &Registry) -> Exposition {
    render_with_resources(wanted, usage, None, registry)
}

/// [`render`], with the requests, limits and capacities of `resources` after the usage
/// families (`--resources`).
pub fn render_with_resources(
    wanted: Wanted,
    usage: Arc<ClusterUsage>,
    resources: Option<Arc<Requirements>>,
    registry: &Registry,
) -> Exposition {
    let body = if wanted.gzip {
        let mut out = GzipWriter::new();
        write_exposition(&mut out, wanted.format, usage, resources, registry);
        out.finish()
    } else {
        let mut out = String::new();
        write_exposition(&mut out, wanted.format, usage, resources, registry);
        Bytes::from(out)
    };
    Exposition {
        format: wanted.format,
        gzip: wanted.gzip,
        body,
    }
}

/// Renders uncompressed text, for callers that want a string.
pub fn render_text(format: Format, usage: Arc<ClusterUsage>, registry: &Registry) -> String {
    let mut out = String::new();
    write_exposition(&mut out, format, usage, None, registry);
    out
}

fn write_exposition(
    out: &mut impl std::fmt::Write,
    format: Format,
    usage: Arc<ClusterUsage>,
    resources: Option<Arc<Requirements>>,
    registry: &Registry,
) {
    let mut families = Registry::default();
    families.register_collector(Box::new(UsageCollector(usage)));
    if let Some(resources) = resources {
        families.register_collector(Box::new(ResourceCollector(resources)));
    }
    let mut own = String::new();
    // Our writers do not fail and our collectors do not either.
    encode_registry(out, &families).expect("encoding usage families");
    encode_registry(&mut own, registry).expect("encoding self-metrics");
    match format {
        Format::OpenMetrics => {
            out.write_str(&own).expect("writing self-metrics");
            encode_eof(out).expect("encoding EOF");
        }
        Format::Text => out
            .write_str(&openmetrics_to_text(&own))
            .expect("writing self-metrics"),
    }
}

/// Compresses text as prometheus-client writes it, in fast gzip: rendering, not
/// compression, should be the cost of a scrape.
struct GzipWriter {
    encoder: std::io::BufWriter<GzEncoder<Vec<u8>>>,
}

impl GzipWriter {
    fn new() -> Self {
        let encoder = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        GzipWriter {
            encoder: std::io::BufWriter::with_capacity(64 * 1024, encoder),
        }
    }

    fn finish(self) -> Bytes {
        let encoder = self
            .encoder
            .into_inner()
            .unwrap_or_else(|_| unreachable!("writing to memory cannot fail"));
        Bytes::from(encoder.finish().expect("compressing to memory"))
    }
}

impl std::fmt::Write for GzipWriter {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        self.encoder
            .write_all(text.as_bytes())
            .map_err(|_| std::fmt::Error)
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
            ConstGauge::new(value).encode(metric.encode_family(&labels)?)?;
        }
    }
    Ok(())
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

    fn container(
        namespace: &str,
        pod: &str,
        cpu: Option<f64>,
        memory: Option<f64>,
    ) -> ContainerUsage {
        ContainerUsage {
            namespace: namespace.into(),
            pod: pod.into(),
            container: "app".into(),
            node: "node-1".into(),
            ip: "10.0.0.1".into(),
            cpu,
            memory,
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
        assert_eq!(
            text,
            render_text(Format::OpenMetrics, sample(), registry.registry())
        );
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
