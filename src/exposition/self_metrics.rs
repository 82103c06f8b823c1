//! The exporter's own metrics: whether the metrics API answered, how long reads take,
//! what failed and why, and what the join could not resolve.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use super::process_metrics::ProcessCollector;
use crate::reading::usage::{Field, Owner, Problems};
use crate::sources::metrics_api::{MetricsList, ReadError};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResourceLabels {
    resource: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReadErrorLabels {
    resource: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QuantityLabels {
    resource: &'static str,
    usage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
    revision: &'static str,
    branch: &'static str,
    rustversion: &'static str,
}

/// What the binary was built from: the git commit and branch, "unknown" where it was
/// built outside git (build.rs; the container image's build context has no .git).
const BUILD: BuildLabels = BuildLabels {
    version: env!("CARGO_PKG_VERSION"),
    revision: match option_env!("BUILD_REVISION") {
        Some(revision) => revision,
        None => "unknown",
    },
    branch: match option_env!("BUILD_BRANCH") {
        Some(branch) => branch,
        None => "unknown",
    },
    rustversion: match option_env!("BUILD_RUST_VERSION") {
        Some(version) => version,
        None => "unknown",
    },
};

fn read_duration_histogram() -> Histogram {
    Histogram::new([
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

pub struct SelfMetrics {
    registry: Registry,
    up: Gauge,
    read_duration: Family<ResourceLabels, Histogram, fn() -> Histogram>,
    read_errors: Family<ReadErrorLabels, Counter>,
    invalid_quantities: Family<QuantityLabels, Counter>,
    pods_without_metadata: Gauge,
    duplicates: Counter,
    pod_index_pods: Gauge,
}

impl Default for SelfMetrics {
    fn default() -> Self {
        Self::new()
    }
}

impl SelfMetrics {
    pub fn new() -> Self {
        let metrics = SelfMetrics {
            registry: Registry::default(),
            up: Gauge::default(),
            read_duration: Family::new_with_constructor(read_duration_histogram),
            read_errors: Family::default(),
            invalid_quantities: Family::default(),
            pods_without_metadata: Gauge::default(),
            duplicates: Counter::default(),
            pod_index_pods: Gauge::default(),
        };
        let build_info = Family::<BuildLabels, Gauge>::default();
        build_info.get_or_create(&BUILD).set(1);
        // Known label sets start at zero so that rate() and alerts see them at once.
        for owner in [Owner::Pod, Owner::Node] {
            for field in [Field::Cpu, Field::Memory] {
                let _ = metrics
                    .invalid_quantities
                    .get_or_create(&quantity_labels(owner, field));
            }
        }
        let mut registry = metrics.registry;
        registry.register_collector(Box::new(ProcessCollector));
        registry.register(
            "kube_metrics_server_up",
            "1 when the last read of the metrics API (metrics.k8s.io pods and nodes) succeeded, else 0",
            metrics.up.clone(),
        );
        registry.register(
            "kube_metrics_server_read_duration_seconds",
            "Time taken by reads of the metrics API in seconds, by resource",
            metrics.read_duration.clone(),
        );
        registry.register(
            "kube_metrics_server_read_errors",
            "Failed reads of the metrics API, by resource and reason",
            metrics.read_errors.clone(),
        );
        registry.register(
            "kube_metrics_server_quantity_parse_errors",
            "Usage quantities that were not valid Kubernetes quantities; each skipped one series",
            metrics.invalid_quantities.clone(),
        );
        registry.register(
            "kube_metrics_server_pods_without_metadata",
            "Pods in the last metrics read that the pod watch did not know; exported with empty node and ip",
            metrics.pods_without_metadata.clone(),
        );
        registry.register(
            "kube_metrics_server_duplicates",
            "Pods, containers or nodes the metrics API listed more than once; only the first is exported",
            metrics.duplicates.clone(),
        );
        registry.register(
            "kube_metrics_server_pod_index_pods",
            "Pods known to the pod watch that supplies node and ip labels",
            metrics.pod_index_pods.clone(),
        );
        registry.register(
            "kube_metrics_server_build_info",
            "Build information of metrics-server-prom; always 1",
            build_info,
        );
        SelfMetrics {
            registry,
            ..metrics
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn set_up(&self, up: bool) {
        self.up.set(i64::from(up));
    }

    pub fn observe_read(&self, resource: MetricsList, seconds: f64) {
        self.read_duration
            .get_or_create(&ResourceLabels {
                resource: resource.as_str(),
            })
            .observe(seconds);
    }

    pub fn count_read_error(&self, resource: MetricsList, error: &ReadError) {
        self.read_errors
            .get_or_create(&ReadErrorLabels {
                resource: resource.as_str(),
                reason: error.reason(),
            })
            .inc();
    }

    pub fn record_problems(&self, problems: &Problems) {
        for invalid in &problems.invalid_quantities {
            self.invalid_quantities
                .get_or_create(&quantity_labels(invalid.owner, invalid.field))
                .inc();
        }
        self.pods_without_metadata
            .set(problems.pods_without_metadata as i64);
        self.duplicates.inc_by(problems.duplicates);
    }

    pub fn set_pod_index_pods(&self, pods: usize) {
        self.pod_index_pods.set(pods as i64);
    }
}

fn quantity_labels(owner: Owner, field: Field) -> QuantityLabels {
    QuantityLabels {
        resource: owner.as_str(),
        usage: field.as_str(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(args: &[&str]) -> Option<String> {
        let output = std::process::Command::new("git")
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .ok()
            .filter(|output| output.status.success())?;
        Some(String::from_utf8(output.stdout).ok()?.trim().to_owned())
    }

    fn exposition() -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, SelfMetrics::new().registry())
            .unwrap();
        text
    }

    #[test]
    fn build_info_names_the_commit_and_the_compiler() {
        let text = exposition();
        let line = text
            .lines()
            .find(|line| line.starts_with("kube_metrics_server_build_info{"))
            .expect("build info");
        let revision = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
        assert!(line.contains(&format!("revision=\"{revision}\"")), "{line}");
        assert!(line.contains(concat!("version=\"", env!("CARGO_PKG_VERSION"), "\"")));
        let rust = line.split("rustversion=\"").nth(1).unwrap_or_default();
        assert!(rust.starts_with(|c: char| c.is_ascii_digit()), "{line}");
        assert!(line.contains("branch=\""), "{line}");
    }

    #[test]
    fn process_metrics_are_served_with_standard_names() {
        let text = exposition();
        for family in [
            "# TYPE process_cpu_seconds counter",
            "# TYPE process_resident_memory_bytes gauge",
            "# TYPE process_virtual_memory_bytes gauge",
            "# TYPE process_open_fds gauge",
            "# TYPE process_max_fds gauge",
            "# TYPE process_start_time_seconds gauge",
        ] {
            assert!(text.contains(family), "{family} missing:\n{text}");
        }
        assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
    }
}
