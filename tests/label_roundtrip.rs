//! Any label value, however odd, renders to exposition that parses back to the same
//! value, in both formats.

mod support;

use std::sync::Arc;

use metrics_server_prom::exposition::render::{render_text, Format};
use metrics_server_prom::reading::usage::{ClusterUsage, ContainerUsage};
use metrics_server_prom::sources::pod_labels::PodLabels;
use prometheus_client::registry::Registry;
use proptest::prelude::*;
use support::parse_exposition;

proptest! {
    #[test]
    fn label_values_round_trip(
        namespace in any::<String>(),
        pod in "[\\PC\"\\\\\n]*",
        container in any::<String>(),
        cpu in -1e12f64..1e12,
        openmetrics: bool,
    ) {
        let usage = ContainerUsage {
            labels: PodLabels::new(&namespace, &pod, "node \"1\"\\", ""),
            container: container.as_str().into(),
            cpu: Some(cpu),
            memory: None,
            sampled: Default::default(),
        };
        let snapshot = Arc::new(ClusterUsage { containers: Some(vec![usage]), nodes: None });
        let format = if openmetrics { Format::OpenMetrics } else { Format::Text };
        let samples = parse_exposition(&render_text(format, snapshot, &Registry::default()));
        prop_assert_eq!(samples.len(), 1);
        let labels = &samples[0].labels;
        prop_assert_eq!(&labels["namespace"], &namespace);
        prop_assert_eq!(&labels["pod"], &pod);
        prop_assert_eq!(&labels["container"], &container);
        prop_assert_eq!(&labels["node"], "node \"1\"\\");
        prop_assert_eq!(labels["ip"].as_str(), "");
        prop_assert_eq!(samples[0].value, cpu);
    }
}
