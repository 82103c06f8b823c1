//! Builds a realistic-looking cluster from a seed: nodes with instance types and zones;
//! Deployments, StatefulSets and DaemonSets over a mix of namespaces (always including a
//! StatefulSet `web` in both `shop` and `shop-staging`, so `web-0` exists twice); pods
//! spread over the nodes with IPs. Also makes the replacement pods for churn.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use super::cluster::{Churn, Cluster, ClusterStart};
use super::identifiers::{name_suffix, template_hash};
use super::model::{
    ContainerSpec, NodeIdentity, NodeRecord, NodeUsage, PodRecord, Requests, Resources,
    UsageSource, Workload, WorkloadKind,
};
use super::quantities::{CpuSpelling, MemorySpelling, Quantity};
use super::rng::Rng;
use super::SimulateArgs;

const NAMESPACES: &[&str] = &[
    "default",
    "kube-system",
    "monitoring",
    "ingress-nginx",
    "shop",
    "shop-staging",
    "payments",
    "data",
    "search",
    "platform",
];

const DEPLOYMENTS: &[&str] = &[
    "checkout",
    "cart",
    "catalog",
    "frontend",
    "api",
    "auth",
    "orders",
    "inventory",
    "recommendations",
    "notifications",
    "worker",
    "scheduler",
    "gateway",
    "billing",
    "ledger",
    "indexer",
    "reports",
    "emailer",
    "web",
];

const STATEFUL_SETS: &[&str] = &[
    "postgres",
    "redis",
    "kafka",
    "zookeeper",
    "elasticsearch",
    "rabbitmq",
    "mongodb",
    "prometheus",
    "loki",
];

const SIDECARS: &[(&str, &str)] = &[
    ("istio-proxy", "docker.io/istio/proxyv2:1.27.1"),
    ("log-shipper", "cr.fluentbit.io/fluent/fluent-bit:4.0.3"),
    (
        "metrics-exporter",
        "quay.io/prometheus/statsd-exporter:v0.28.0",
    ),
    (
        "config-reloader",
        "ghcr.io/jimmidyson/configmap-reload:v0.15.0",
    ),
    (
        "db-proxy",
        "gcr.io/cloud-sql-connectors/cloud-sql-proxy:2.17.1",
    ),
];

/// (instance type, cores, GiB)
const INSTANCE_TYPES: &[(&str, u32, u32)] = &[
    ("m6i.2xlarge", 8, 32),
    ("m6i.4xlarge", 16, 64),
    ("c6i.4xlarge", 16, 32),
    ("r6i.2xlarge", 8, 64),
];

const ZONES: &[&str] = &["eu-west-1a", "eu-west-1b", "eu-west-1c"];

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;

/// The cluster `args` describe, as of `now` (Unix seconds).
pub(crate) fn cluster(args: &SimulateArgs, now: i64) -> Cluster {
    let mut generator = Generator::new(args.seed, args.nodes, args.max_containers);
    let nodes = generator.nodes(now);
    let mut resource_version = nodes.len() as u64;
    let pods = generator.initial_pods(args.pods, now, &mut resource_version);
    let window = if args.tick.is_zero() {
        Duration::from_secs(15)
    } else {
        args.tick
            .clamp(Duration::from_secs(1), Duration::from_secs(60))
    };
    Cluster::new(ClusterStart {
        seed: args.seed,
        pods,
        nodes,
        resource_version,
        now,
        // metrics-server's windows run a little over its resolution.
        window: window + Duration::from_millis(10),
        churn: Some(Churn {
            generator,
            fraction: args.churn,
            owed: 0.0,
        }),
    })
}

/// The source of new nodes, workloads and pods.
#[derive(Debug)]
pub(crate) struct Generator {
    seed: u64,
    rng: Rng,
    next_serial: u64,
    nodes: Vec<Arc<NodeIdentity>>,
    max_containers: usize,
}

/// What a new pod needs besides its workload.
struct Placement {
    name: Box<str>,
    node: Option<Arc<NodeIdentity>>,
}

impl Generator {
    pub(crate) fn new(seed: u64, node_count: usize, max_containers: usize) -> Self {
        let nodes = (0..node_count)
            .map(|index| {
                Arc::new(NodeIdentity {
                    name: format!("sim-node-{index:04}").into(),
                    internal_ip: Some(node_ip(index)),
                    index: Some(index),
                })
            })
            .collect();
        Generator {
            seed,
            rng: Rng::new(seed),
            next_serial: 1,
            nodes,
            max_containers: max_containers.max(1),
        }
    }

    /// A random position in a list of `len` (> 0) items.
    pub(crate) fn pick_index(&mut self, len: usize) -> usize {
        self.rng.below(len as u64) as usize
    }

    /// The nodes, created some weeks before `now` (Unix seconds), with resourceVersions
    /// 1, 2, ...
    pub(crate) fn nodes(&mut self, now: i64) -> Vec<NodeRecord> {
        let identities = self.nodes.clone();
        identities
            .into_iter()
            .enumerate()
            .map(|(index, identity)| {
                let (instance_type, cpu_cores, memory_gibibytes) = *self.rng.pick(INSTANCE_TYPES);
                NodeRecord {
                    identity,
                    resource_version: index as u64 + 1,
                    uid_seed: self.seed ^ ((index as u64) << 32),
                    created: now - 60 * DAY + self.rng.below(30 * DAY as u64) as i64,
                    cpu_cores,
                    memory_gibibytes,
                    instance_type,
                    zone: ZONES[index % ZONES.len()].into(),
                    usage: NodeUsage::Simulated {
                        cpu: Quantity::cpu(0, CpuSpelling::Zero),
                        memory: Quantity::memory(0, MemorySpelling::Bytes),
                    },
                    fixed_resources: None,
                }
            })
            .collect()
    }

    /// `count` pods in a mix of workloads, created before `now`, numbered with
    /// resourceVersions from `*resource_version + 1` on.
    pub(crate) fn initial_pods(
        &mut self,
        count: usize,
        now: i64,
        resource_version: &mut u64,
    ) -> Vec<Arc<PodRecord>> {
        let mut pods = Vec::with_capacity(count);
        let mut names = WorkloadNames::default();
        let mut plan: Vec<(Arc<Workload>, usize)> = Vec::new();
        let mut remaining = count;

        for (namespace, replicas) in [("shop", 2), ("shop-staging", 1)] {
            let replicas = take(replicas, &mut remaining);
            if replicas > 0 {
                let name = names.claim(namespace, "web");
                plan.push((
                    self.workload(namespace, name, WorkloadKind::StatefulSet),
                    replicas,
                ));
            }
        }
        let node_count = self.nodes.len();
        if node_count > 0 && remaining >= 8 * node_count {
            for (namespace, base) in [
                ("kube-system", "kube-proxy"),
                ("monitoring", "node-exporter"),
            ] {
                let replicas = take(node_count, &mut remaining);
                let name = names.claim(namespace, base);
                plan.push((
                    self.workload(namespace, name, WorkloadKind::DaemonSet),
                    replicas,
                ));
            }
        }
        let most_replicas = (count as u64 / 40).clamp(3, 40);
        while remaining > 0 {
            let namespace = *self.rng.pick(NAMESPACES);
            let (kind, bases) = if self.rng.chance(0.15) {
                (WorkloadKind::StatefulSet, STATEFUL_SETS)
            } else {
                (WorkloadKind::Deployment, DEPLOYMENTS)
            };
            let base = *self.rng.pick::<&str>(bases);
            let name = names.claim(namespace, base);
            let wanted = self.rng.between(1, most_replicas) as usize;
            let replicas = take(wanted, &mut remaining);
            plan.push((self.workload(namespace, name, kind), replicas));
        }

        for (workload, replicas) in plan {
            let age = HOUR + self.rng.below(30 * DAY as u64) as i64;
            for ordinal in 0..replicas {
                let created = now - age + self.rng.below(age as u64) as i64;
                let placement = self.placement(&workload, ordinal, None);
                *resource_version += 1;
                pods.push(Arc::new(self.pod(
                    workload.clone(),
                    placement,
                    created,
                    *resource_version,
                )));
            }
        }
        pods
    }

    /// A new pod replacing `victim`: the same workload, a new UID, and for all but
    /// StatefulSet pods a new name.
    pub(crate) fn replacement(
        &mut self,
        victim: &PodRecord,
        now: i64,
        resource_version: u64,
    ) -> PodRecord {
        let ordinal = ordinal_of(&victim.name);
        let same_node = match victim.workload.kind {
            WorkloadKind::DaemonSet => victim.node.clone(),
            _ => None,
        };
        let mut placement = self.placement(&victim.workload, ordinal, same_node);
        if victim.workload.kind == WorkloadKind::StatefulSet {
            placement.name = victim.name.clone();
        }
        self.pod(victim.workload.clone(), placement, now, resource_version)
    }

    fn placement(
        &mut self,
        workload: &Workload,
        ordinal: usize,
        node: Option<Arc<NodeIdentity>>,
    ) -> Placement {
        let serial = self.next_serial;
        let name = match workload.kind {
            WorkloadKind::Deployment => format!(
                "{}-{}-{}",
                workload.name,
                workload.template_hash,
                name_suffix(serial)
            ),
            WorkloadKind::StatefulSet => format!("{}-{ordinal}", workload.name),
            WorkloadKind::DaemonSet | WorkloadKind::Standalone => {
                format!("{}-{}", workload.name, name_suffix(serial))
            }
        };
        let node = node.or_else(|| match workload.kind {
            WorkloadKind::DaemonSet => self.nodes.get(ordinal).cloned(),
            _ if self.nodes.is_empty() => None,
            _ => Some(self.rng.pick(&self.nodes).clone()),
        });
        Placement {
            name: name.into(),
            node,
        }
    }

    fn pod(
        &mut self,
        workload: Arc<Workload>,
        placement: Placement,
        created: i64,
        resource_version: u64,
    ) -> PodRecord {
        let serial = self.next_serial;
        self.next_serial += 1;
        let scheduled = placement.node.is_some();
        PodRecord {
            workload,
            name: placement.name,
            serial,
            resource_version,
            created,
            ip: scheduled.then(|| pod_ip(serial).to_string().into()),
            node: placement.node,
            listed: true,
            has_metrics: scheduled,
        }
    }

    fn workload(&mut self, namespace: &str, name: String, kind: WorkloadKind) -> Arc<Workload> {
        let uid_seed = self.rng.next_u64();
        let count = self.rng.between(1, self.max_containers as u64) as usize;
        let main_name = if self.rng.chance(0.5) {
            "app"
        } else {
            name.as_str()
        };
        let base = name.split('-').next().unwrap_or(&name);
        let main_image = format!(
            "registry.example.com/{base}:1.{}.{}",
            self.rng.below(30),
            self.rng.below(10)
        );
        let has_requests = self.rng.chance(0.9);
        let mut containers = Vec::with_capacity(count);
        containers.push(self.container(main_name, main_image, true, has_requests));
        let first_sidecar = self.rng.below(SIDECARS.len() as u64) as usize;
        for extra in 0..count - 1 {
            let (sidecar, image) = SIDECARS[(first_sidecar + extra) % SIDECARS.len()];
            let sidecar = if extra < SIDECARS.len() {
                sidecar.to_owned()
            } else {
                format!("{sidecar}-{}", extra / SIDECARS.len())
            };
            containers.push(self.container(&sidecar, image.to_owned(), false, has_requests));
        }
        Arc::new(Workload {
            uid_seed,
            namespace: namespace.into(),
            name: name.into(),
            kind,
            template_hash: template_hash(uid_seed).into(),
            containers: containers.into(),
        })
    }

    fn container(
        &mut self,
        name: &str,
        image: String,
        main: bool,
        has_requests: bool,
    ) -> ContainerSpec {
        let (cpu_range, memory_range) = if main {
            ((2e6, 1.2e9), (24.0 * MIB, 2048.0 * MIB))
        } else {
            ((1e6, 8e7), (16.0 * MIB, 160.0 * MIB))
        };
        let cpu_nanocores = self.log_uniform(cpu_range) as u64;
        let memory_bytes = self.log_uniform(memory_range) as u64;
        let requests = has_requests.then(|| Requests {
            cpu_millicores: (cpu_nanocores / 1_000_000 * 3 / 2).div_ceil(50).max(1) as u32 * 50,
            memory_mebibytes: ((memory_bytes >> 20) * 3 / 2).div_ceil(64).max(1) as u32 * 64,
        });
        ContainerSpec {
            name: name.into(),
            image: image.into(),
            resources: requests.map_or(Resources::Unset, Resources::Generated),
            usage: UsageSource::Simulated {
                cpu_nanocores,
                memory_bytes,
            },
        }
    }

    fn log_uniform(&mut self, (low, high): (f64, f64)) -> f64 {
        (low.ln() + self.rng.unit() * (high.ln() - low.ln())).exp()
    }
}

const MIB: f64 = (1 << 20) as f64;

/// Up to `wanted` of the `remaining` pods.
fn take(wanted: usize, remaining: &mut usize) -> usize {
    let granted = wanted.min(*remaining);
    *remaining -= granted;
    granted
}

/// Workload names, unique per namespace: a reused base name gets "-2", "-3", ...
#[derive(Default)]
struct WorkloadNames {
    used: HashMap<(String, String), usize>,
}

impl WorkloadNames {
    fn claim(&mut self, namespace: &str, base: &str) -> String {
        let uses = self
            .used
            .entry((namespace.to_owned(), base.to_owned()))
            .or_default();
        *uses += 1;
        if *uses == 1 {
            base.to_owned()
        } else {
            format!("{base}-{uses}")
        }
    }
}

/// A StatefulSet pod's ordinal, the number after its last dash.
fn ordinal_of(pod_name: &str) -> usize {
    pod_name
        .rsplit('-')
        .next()
        .and_then(|ordinal| ordinal.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn node_ip(index: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 0, (index / 250) as u8, (index % 250 + 2) as u8)
}

/// Pod IPs from 10.128.0.0/9, skipping addresses ending in .0 and .255.
fn pod_ip(serial: u64) -> Ipv4Addr {
    let offset = (serial / 254 * 256 + serial % 254 + 1) % (1 << 23);
    Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 128, 0, 0)) + offset as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn generate(seed: u64, nodes: usize, pods: usize) -> Vec<Arc<PodRecord>> {
        let mut generator = Generator::new(seed, nodes, 3);
        let mut resource_version = 0;
        generator.initial_pods(pods, 1_800_000_000, &mut resource_version)
    }

    #[test]
    fn deterministic_for_a_seed() {
        let names = |seed| -> Vec<String> {
            generate(seed, 3, 40)
                .iter()
                .map(|p| p.name.to_string())
                .collect()
        };
        assert_eq!(names(1), names(1));
        assert_ne!(names(1), names(2));
    }

    #[test]
    fn names_unique_per_namespace_with_web_0_twice() {
        let pods = generate(5, 20, 5000);
        assert_eq!(pods.len(), 5000);
        let keys: HashSet<(&str, &str)> = pods.iter().map(|p| p.key()).collect();
        assert_eq!(keys.len(), 5000);
        assert!(keys.contains(&("shop", "web-0")));
        assert!(keys.contains(&("shop-staging", "web-0")));
        let ips: HashSet<&str> = pods.iter().filter_map(|p| p.ip.as_deref()).collect();
        assert_eq!(ips.len(), 5000);
    }

    #[test]
    fn replacements_keep_statefulset_names_only() {
        let mut generator = Generator::new(1, 3, 3);
        let mut resource_version = 0;
        let pods = generator.initial_pods(40, 1_800_000_000, &mut resource_version);
        for pod in &pods {
            let new = generator.replacement(pod, 1_800_000_100, 999);
            assert_ne!(new.serial, pod.serial);
            let same_name = new.name == pod.name;
            assert_eq!(
                same_name,
                pod.workload.kind == WorkloadKind::StatefulSet,
                "{}",
                pod.name
            );
        }
    }

    #[test]
    fn no_nodes_means_pending_pods() {
        let pods = generate(1, 0, 10);
        assert!(pods
            .iter()
            .all(|p| p.node.is_none() && p.ip.is_none() && !p.has_metrics));
    }
}
