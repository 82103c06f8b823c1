//! The rows of a view: one per container, one per node, or one per group of containers
//! (namespace, node, or pod), with the sample's timestamp and window as metrics-server
//! reported them and, with `--resources`, requests, limits and capacity.
//!
//! Values stay in base units (cores, bytes). Group sums are exact: each value is
//! counted in billionths (nanocores, nanobytes) as an integer, so a sum of `100m` and
//! `200m` is 0.3, not the 0.30000000000000004 of a float addition.

use std::collections::BTreeMap;
use std::fmt;

pub use crate::config::GroupBy;
use crate::sources::node_capacity::NodeCapacity;
use crate::sources::pod_requirements::ContainerRequirements;

/// One container's usage.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerRow {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// Empty when the pod list does not know the pod (just created or deleted).
    pub node: String,
    pub ip: String,
    /// `None` when metrics-server left it out or sent a quantity that does not parse.
    pub cpu_cores: Option<f64>,
    pub memory_bytes: Option<f64>,
    /// The PodMetrics' `timestamp` and `window`, verbatim.
    pub timestamp: String,
    pub window: String,
    /// `window` in seconds, when it parses.
    pub window_seconds: Option<f64>,
    /// With `--resources`; `None` when the spec sets no request or limit.
    pub requirements: Option<ContainerRequirements>,
}

/// One node's usage.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRow {
    pub node: String,
    pub cpu_cores: Option<f64>,
    pub memory_bytes: Option<f64>,
    pub timestamp: String,
    pub window: String,
    pub window_seconds: Option<f64>,
    /// With `--resources`; `None` when the node watch does not know the node.
    pub capacity: Option<NodeCapacity>,
}

/// A sum of containers' values. A sum is `None` when no container of the group has
/// the value (no container sets a limit): absent, not 0.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupRow {
    pub namespace: String,
    pub pod: String,
    pub node: String,
    pub pods: u64,
    pub containers: u64,
    pub cpu_cores: Option<Billionths>,
    pub memory_bytes: Option<Billionths>,
    pub cpu_request_cores: Option<Billionths>,
    pub cpu_limit_cores: Option<Billionths>,
    pub memory_request_bytes: Option<Billionths>,
    pub memory_limit_bytes: Option<Billionths>,
}

/// An exact sum of base-unit values, in billionths of the unit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Billionths(pub i128);

const BILLION: i128 = 1_000_000_000;

impl Billionths {
    /// `value` to the nearest billionth; `None` for infinite and NaN values.
    pub fn of(value: f64) -> Option<Billionths> {
        if !value.is_finite() {
            return None;
        }
        // The whole part is exact in an integer; only the fraction is scaled.
        let whole = value.trunc();
        let fraction = ((value - whole) * BILLION as f64).round() as i128;
        Some(Billionths(whole as i128 * BILLION + fraction))
    }
}

/// Adds `value`, if there is one, to `sum`, which then has one.
fn add(sum: &mut Option<Billionths>, value: Option<f64>) {
    if let Some(value) = value.and_then(Billionths::of) {
        sum.get_or_insert_default().0 += value.0;
    }
}

/// The exact decimal, with no exponent and no trailing zeros: `0.130456789`, `3`.
impl fmt::Display for Billionths {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let magnitude = self.0.unsigned_abs();
        let (whole, fraction) = (magnitude / BILLION as u128, magnitude % BILLION as u128);
        if fraction == 0 {
            return write!(f, "{sign}{whole}");
        }
        let digits = format!("{fraction:09}");
        write!(f, "{sign}{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// Two strings that identify a group, or a pod by namespace and name.
type Key<'a> = (&'a str, &'a str);

/// A group being summed, and the last pod counted in it.
struct Summing<'a> {
    sum: GroupRow,
    last_pod: Option<Key<'a>>,
}

/// Sums `rows` (sorted by namespace and pod) by `group_by`, in key order.
pub fn group(rows: &[ContainerRow], group_by: GroupBy) -> Vec<GroupRow> {
    let mut groups: BTreeMap<Key<'_>, Summing<'_>> = BTreeMap::new();
    for row in rows {
        let key = match group_by {
            GroupBy::Namespace => (row.namespace.as_str(), ""),
            GroupBy::Node => (row.node.as_str(), ""),
            GroupBy::Pod => (row.namespace.as_str(), row.pod.as_str()),
        };
        let Summing { sum, last_pod } = groups.entry(key).or_insert_with(|| {
            let mut sum = GroupRow::default();
            match group_by {
                GroupBy::Namespace => sum.namespace = row.namespace.clone(),
                GroupBy::Node => sum.node = row.node.clone(),
                GroupBy::Pod => {
                    sum.namespace = row.namespace.clone();
                    sum.pod = row.pod.clone();
                }
            }
            Summing {
                sum,
                last_pod: None,
            }
        });
        // Rows come pod by pod, so a pod is new when it differs from the last one.
        let pod = (row.namespace.as_str(), row.pod.as_str());
        if *last_pod != Some(pod) {
            sum.pods += 1;
            *last_pod = Some(pod);
        }
        sum.containers += 1;
        add(&mut sum.cpu_cores, row.cpu_cores);
        add(&mut sum.memory_bytes, row.memory_bytes);
        let requirements = row.requirements.unwrap_or_default();
        add(&mut sum.cpu_request_cores, requirements.cpu_request);
        add(&mut sum.cpu_limit_cores, requirements.cpu_limit);
        add(&mut sum.memory_request_bytes, requirements.memory_request);
        add(&mut sum.memory_limit_bytes, requirements.memory_limit);
    }
    groups.into_values().map(|group| group.sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(namespace: &str, pod: &str, node: &str, cpu: f64, memory: f64) -> ContainerRow {
        ContainerRow {
            namespace: namespace.into(),
            pod: pod.into(),
            container: "c".into(),
            node: node.into(),
            ip: String::new(),
            cpu_cores: Some(cpu),
            memory_bytes: Some(memory),
            timestamp: String::new(),
            window: String::new(),
            window_seconds: None,
            requirements: None,
        }
    }

    fn sum(values: &[f64]) -> String {
        let mut sum = None;
        for value in values {
            add(&mut sum, Some(*value));
        }
        sum.map_or("none".to_owned(), |sum: Billionths| sum.to_string())
    }

    #[test]
    fn billionths_are_exact() {
        assert_eq!(sum(&[0.007, 0.123456789]), "0.130456789");
        assert_eq!(sum(&[0.1, 0.2]), "0.3");
        assert_eq!(format!("{}", 0.1 + 0.2), "0.30000000000000004");
        assert_eq!(sum(&[4294967296.0]), "4294967296");
        assert_eq!(sum(&[0.0015]), "0.0015");
        assert_eq!(sum(&[-1.5]), "-1.5");
        assert_eq!(sum(&[0.0]), "0");
        assert_eq!(sum(&[]), "none");
        assert_eq!(sum(&[f64::NAN]), "none");
        let large = 256.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0 + 1.0;
        assert_eq!(sum(&[large]), "281474976710657");
    }

    #[test]
    fn groups_count_pods_and_sum_exactly() {
        let mut unset = row("b", "x", "n2", 0.0, 0.0);
        unset.cpu_cores = None;
        let rows = vec![
            row("a", "web", "n1", 0.007, 1024.0),
            row("a", "web", "n1", 0.123456789, 2048.0),
            row("a", "db", "n2", 1.0, 1.0),
            unset,
        ];
        let by_namespace = group(&rows, GroupBy::Namespace);
        assert_eq!(by_namespace.len(), 2);
        assert_eq!(
            (
                &*by_namespace[0].namespace,
                by_namespace[0].pods,
                by_namespace[0].containers
            ),
            ("a", 2, 3)
        );
        assert_eq!(by_namespace[0].cpu_cores, Some(Billionths(1_130_456_789)));
        assert_eq!(
            by_namespace[0].memory_bytes,
            Some(Billionths(3073 * BILLION))
        );
        assert_eq!(
            by_namespace[0].cpu_request_cores, None,
            "no requests: absent"
        );
        assert_eq!(by_namespace[1].cpu_cores, None, "no valid usage: absent");

        let by_node = group(&rows, GroupBy::Node);
        let nodes: Vec<(&str, u64, Option<Billionths>)> = by_node
            .iter()
            .map(|g| (&*g.node, g.pods, g.cpu_cores))
            .collect();
        assert_eq!(
            nodes,
            [
                ("n1", 1, Some(Billionths(130_456_789))),
                ("n2", 2, Some(Billionths(BILLION)))
            ]
        );

        let by_pod = group(&rows, GroupBy::Pod);
        let pods: Vec<(&str, &str, u64)> = by_pod
            .iter()
            .map(|g| (&*g.namespace, &*g.pod, g.containers))
            .collect();
        assert_eq!(pods, [("a", "db", 1), ("a", "web", 2), ("b", "x", 1)]);
    }
}
