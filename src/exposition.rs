//! Turning a snapshot and the self-metrics into the bytes Prometheus reads, through
//! prometheus-client: OpenMetrics when the scraper asks for it (Prometheus does), the
//! classic text format 0.0.4 otherwise (curl, older scrapers).
//!
//! prometheus-client writes OpenMetrics only; the classic format differs from it in
//! three lines we rewrite: no `# EOF`, no `# UNIT`, and counters declared under their
//! `_total` sample name.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::families::{Family, Series, CONTAINER_FAMILIES, NODE_FAMILIES};
use crate::snapshot::Snapshot;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    Text,
}

impl Format {
    /// Picks the format from an Accept header: OpenMetrics when it is accepted at
    /// least as strongly as text/plain, else text.
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut openmetrics = 0.0f32;
        let mut text = 0.0f32;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" => openmetrics = openmetrics.max(quality),
                "text/plain" | "text/*" | "*/*" => text = text.max(quality),
                _ => {}
            }
        }
        if openmetrics > 0.0 && openmetrics >= text {
            Format::OpenMetrics
        } else {
            Format::Text
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
        }
    }
}

/// Renders the usage families of `snapshot`, then the self-metrics in `registry`.
pub fn render(format: Format, snapshot: Arc<Snapshot>, registry: &Registry) -> String {
    let mut usage = Registry::default();
    usage.register_collector(Box::new(UsageCollector(snapshot)));
    let mut out = String::new();
    // Writing to a String cannot fail, and our collectors do not fail otherwise.
    encode_registry(&mut out, &usage).expect("encoding usage families");
    encode_registry(&mut out, registry).expect("encoding self-metrics");
    match format {
        Format::OpenMetrics => {
            encode_eof(&mut out).expect("encoding EOF");
            out
        }
        Format::Text => openmetrics_to_text(&out),
    }
}

#[derive(Debug)]
struct UsageCollector(Arc<Snapshot>);

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
    use crate::self_metrics::SelfMetrics;
    use crate::snapshot::{ContainerUsage, NodeUsage};

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

    fn sample() -> Arc<Snapshot> {
        Arc::new(Snapshot {
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
    fn negotiation() {
        let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
        assert_eq!(
            Format::negotiate(Some("text/plain;q=1,application/openmetrics-text;q=0.5")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("Application/OpenMetrics-Text; version=1.0.0")),
            Format::OpenMetrics
        );
    }

    #[test]
    fn text_format_renders_values_in_base_units() {
        let out = render(Format::Text, sample(), SelfMetrics::new().registry());
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
        let out = render(Format::OpenMetrics, sample(), SelfMetrics::new().registry());
        assert!(out.ends_with("# EOF\n"), "{out}");
        assert!(
            out.contains("# TYPE kube_metrics_server_quantity_parse_errors counter\n"),
            "{out}"
        );
        assert!(out.contains("kube_metrics_server_quantity_parse_errors_total{resource=\"pod\",usage=\"cpu\"} 0\n"), "{out}");
    }

    #[test]
    fn failed_reads_export_no_usage_series() {
        let out = render(
            Format::Text,
            Arc::new(Snapshot::default()),
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
        let snapshot = Arc::new(Snapshot {
            containers: Some(vec![odd]),
            nodes: None,
        });
        let out = render(Format::Text, snapshot, &Registry::default());
        assert!(
            out.contains(r#"pod="say \"hi\"\\now\nplease",ip="10.0.0.1",container="größe-✓""#),
            "{out}"
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
