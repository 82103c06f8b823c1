//! The live cluster state: pods sorted by (namespace, name), nodes, the global
//! resourceVersion counter, the tick, and the change log. It answers list pages and
//! watch backlogs, and moves one tick forward: new usage, and some pods replaced.

use std::sync::Arc;
use std::time::Duration;

use super::event_log::{ChangeKind, EventLog, Expired, PodChange};
use super::generate::Generator;
use super::model::{NodeRecord, NodeUsage, PodRecord};
use super::usage::{container_usage, node_total, UsageText};

/// Pods deleted and created over time.
#[derive(Debug)]
pub(crate) struct Churn {
    pub generator: Generator,
    /// Fraction of pods replaced per tick.
    pub fraction: f64,
    /// Replacements carried over to the next tick when the fraction asks for part of a pod.
    pub owed: f64,
}

/// What a cluster starts from.
#[derive(Debug)]
pub(crate) struct ClusterStart {
    pub seed: u64,
    pub pods: Vec<Arc<PodRecord>>,
    pub nodes: Vec<NodeRecord>,
    pub resource_version: u64,
    /// Unix seconds of the first observation.
    pub now: i64,
    pub window: Duration,
    pub churn: Option<Churn>,
}

/// One page of a pod list.
#[derive(Debug)]
pub(crate) struct Page<'a> {
    pub pods: Vec<&'a Arc<PodRecord>>,
    /// The key of the last pod returned, when more pods follow.
    pub next_after: Option<(String, String)>,
}

#[derive(Debug)]
pub(crate) struct Cluster {
    seed: u64,
    pods: Vec<Arc<PodRecord>>,
    nodes: Vec<NodeRecord>,
    resource_version: u64,
    tick: u64,
    observed_at: i64,
    window: Duration,
    log: EventLog,
    churn: Option<Churn>,
}

impl Cluster {
    pub(crate) fn new(start: ClusterStart) -> Self {
        let log_capacity = log_capacity(start.pods.len(), start.churn.as_ref());
        let mut cluster = Cluster {
            seed: start.seed,
            pods: start.pods,
            nodes: start.nodes,
            resource_version: start.resource_version,
            tick: 0,
            observed_at: start.now,
            window: start.window,
            log: EventLog::new(log_capacity, start.resource_version),
            churn: start.churn,
        };
        cluster.sort_pods();
        cluster.recompute_node_usage();
        cluster
    }

    /// How many changes the log keeps; watches lagging further behind must relist.
    pub(crate) fn change_log_capacity(&self) -> usize {
        self.log.capacity()
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }

    /// The number of ticks so far; usage is a function of it.
    pub(crate) fn tick(&self) -> u64 {
        self.tick
    }

    pub(crate) fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Unix seconds of the latest usage observation.
    pub(crate) fn observed_at(&self) -> i64 {
        self.observed_at
    }

    /// The span usage is averaged over.
    pub(crate) fn window(&self) -> Duration {
        self.window
    }

    pub(crate) fn nodes(&self) -> &[NodeRecord] {
        &self.nodes
    }

    /// Every pod, listed or not, in `namespace` or in all of them, in key order.
    pub(crate) fn pods(&self, namespace: Option<&str>) -> &[Arc<PodRecord>] {
        match namespace {
            None => &self.pods,
            Some(namespace) => {
                let start = self.pods.partition_point(|pod| pod.namespace() < namespace);
                let end = self
                    .pods
                    .partition_point(|pod| pod.namespace() <= namespace);
                &self.pods[start..end]
            }
        }
    }

    /// The pod called `name` in `namespace`, listed or not.
    pub(crate) fn pod(&self, namespace: &str, name: &str) -> Option<&Arc<PodRecord>> {
        self.pods
            .binary_search_by(|pod| pod.key().cmp(&(namespace, name)))
            .ok()
            .map(|index| &self.pods[index])
    }

    /// Up to `limit` listed pods after the key `after`.
    pub(crate) fn page(
        &self,
        namespace: Option<&str>,
        after: Option<(&str, &str)>,
        limit: Option<usize>,
    ) -> Page<'_> {
        let pods = self.pods(namespace);
        let start = match after {
            Some(key) => pods.partition_point(|pod| pod.key() <= key),
            None => 0,
        };
        let limit = limit.filter(|limit| *limit > 0).unwrap_or(usize::MAX);
        let mut listed = pods[start..].iter().filter(|pod| pod.listed);
        let page: Vec<_> = listed.by_ref().take(limit).collect();
        let next_after = match (page.last(), listed.next()) {
            (Some(last), Some(_)) => Some((last.namespace().to_owned(), last.name.to_string())),
            _ => None,
        };
        Page {
            pods: page,
            next_after,
        }
    }

    /// The changes after `resource_version`, if the log still reaches back that far.
    pub(crate) fn changes_since(
        &self,
        resource_version: u64,
    ) -> Result<Vec<Arc<PodChange>>, Expired> {
        self.log.since(resource_version)
    }

    /// Moves one tick forward to `now` (Unix seconds): replaces some pods and recomputes
    /// node usage. Returns the changes, in resourceVersion order.
    pub(crate) fn advance(&mut self, now: i64) -> Vec<Arc<PodChange>> {
        self.tick += 1;
        self.observed_at = now;
        let changes = self.churn_pods(now);
        for change in &changes {
            self.log.push(change.clone());
        }
        self.recompute_node_usage();
        changes
    }

    fn churn_pods(&mut self, now: i64) -> Vec<Arc<PodChange>> {
        let Some(churn) = &mut self.churn else {
            return Vec::new();
        };
        churn.owed += self.pods.len() as f64 * churn.fraction.clamp(0.0, 1.0);
        let count = (churn.owed.floor() as usize).min(self.pods.len());
        churn.owed -= count as f64;
        if count == 0 {
            return Vec::new();
        }
        let mut victim = vec![false; self.pods.len()];
        let mut chosen = 0;
        while chosen < count {
            let index = churn.generator.pick_index(self.pods.len());
            if !victim[index] {
                victim[index] = true;
                chosen += 1;
            }
        }

        let mut changes = Vec::with_capacity(2 * count);
        let mut kept = Vec::with_capacity(self.pods.len());
        for (pod, is_victim) in self.pods.drain(..).zip(victim) {
            if !is_victim {
                kept.push(pod);
                continue;
            }
            self.resource_version += 1;
            let replacement = churn
                .generator
                .replacement(&pod, now, self.resource_version + 1);
            changes.push(Arc::new(PodChange {
                kind: ChangeKind::Deleted,
                resource_version: self.resource_version,
                pod,
            }));
            self.resource_version += 1;
            changes.push(Arc::new(PodChange {
                kind: ChangeKind::Added,
                resource_version: self.resource_version,
                pod: Arc::new(replacement),
            }));
        }
        kept.extend(
            changes
                .iter()
                .filter(|change| change.kind == ChangeKind::Added)
                .map(|change| change.pod.clone()),
        );
        self.pods = kept;
        self.sort_pods();
        changes
    }

    fn sort_pods(&mut self) {
        // Mostly sorted already, which the stable sort handles in near-linear time.
        self.pods.sort_by(|a, b| a.key().cmp(&b.key()));
    }

    fn recompute_node_usage(&mut self) {
        let mut totals = vec![(0u64, 0u64); self.nodes.len()];
        for pod in &self.pods {
            let Some(index) = pod.node.as_ref().and_then(|node| node.index) else {
                continue;
            };
            let Some(total) = totals.get_mut(index) else {
                continue;
            };
            for container in 0..pod.workload.containers.len() {
                let usage = container_usage(self.seed, self.tick, pod, container);
                if let (UsageText::Computed(cpu), UsageText::Computed(memory)) =
                    (usage.cpu, usage.memory)
                {
                    total.0 += cpu.nanocores();
                    total.1 += memory.bytes();
                }
            }
        }
        for (index, (node, (pods_nanocores, pods_bytes))) in
            self.nodes.iter_mut().zip(totals).enumerate()
        {
            if let NodeUsage::Simulated { cpu, memory } = &mut node.usage {
                (*cpu, *memory) = node_total(
                    index,
                    node.cpu_cores,
                    node.memory_gibibytes,
                    pods_nanocores,
                    pods_bytes,
                );
            }
        }
    }
}

/// Room for the changes of several ticks, so that a watch reconnecting within a few
/// ticks resumes instead of relisting.
fn log_capacity(pods: usize, churn: Option<&Churn>) -> usize {
    let per_tick = churn.map_or(0.0, |churn| {
        2.0 * pods as f64 * churn.fraction.clamp(0.0, 1.0)
    });
    (per_tick * 10.0).ceil().max(1024.0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::Generator;

    fn cluster(pods: usize, churn: f64) -> Cluster {
        let mut generator = Generator::new(1, 3, 3);
        let mut resource_version = 0;
        let now = 1_800_000_000;
        let nodes = generator.nodes(now);
        let pods = generator.initial_pods(pods, now, &mut resource_version);
        Cluster::new(ClusterStart {
            seed: 1,
            pods,
            nodes,
            resource_version,
            now,
            window: Duration::from_secs(15),
            churn: Some(Churn {
                generator,
                fraction: churn,
                owed: 0.0,
            }),
        })
    }

    #[test]
    fn pages_cover_every_listed_pod_once() {
        let cluster = cluster(40, 0.0);
        let mut seen = Vec::new();
        let mut after: Option<(String, String)> = None;
        loop {
            let key = after
                .as_ref()
                .map(|(ns, name)| (ns.as_str(), name.as_str()));
            let page = cluster.page(None, key, Some(7));
            assert!(page.pods.len() <= 7);
            seen.extend(page.pods.iter().map(|pod| pod.key()));
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let all: Vec<_> = cluster.pods(None).iter().map(|pod| pod.key()).collect();
        assert_eq!(seen, all);
    }

    #[test]
    fn namespace_ranges_and_lookup() {
        let cluster = cluster(200, 0.0);
        let shop = cluster.pods(Some("shop"));
        assert!(shop.iter().all(|pod| pod.namespace() == "shop"));
        assert!(cluster.pod("shop", "web-0").is_some());
        assert!(cluster.pod("shop-staging", "web-0").is_some());
        assert!(cluster.pod("shop", "nope").is_none());
    }

    #[test]
    fn churn_replaces_pods_and_logs_changes() {
        let mut cluster = cluster(100, 0.05);
        let start = cluster.resource_version();
        let changes = cluster.advance(1_800_000_015);
        assert_eq!(changes.len(), 10);
        assert_eq!(cluster.pods(None).len(), 100);
        assert_eq!(cluster.resource_version(), start + 10);
        assert_eq!(cluster.changes_since(start).unwrap().len(), 10);
        assert_eq!(cluster.changes_since(start + 4).unwrap().len(), 6);
        assert!(cluster.changes_since(start - 1).is_err());
        for pair in changes.chunks(2) {
            assert_eq!(pair[0].kind, ChangeKind::Deleted);
            assert_eq!(pair[1].kind, ChangeKind::Added);
            assert!(cluster
                .pod(pair[1].pod.namespace(), &pair[1].pod.name)
                .is_some());
        }
    }

    #[test]
    fn fractional_churn_accumulates() {
        let mut cluster = cluster(40, 0.01);
        let replaced: usize = (0..10)
            .map(|tick| cluster.advance(1_800_000_000 + tick).len() / 2)
            .sum();
        assert_eq!(replaced, 4);
    }
}
