//! Which pods and nodes one exporter exports: namespace filters for large clusters, a
//! label selector sent to the API server, and a shard of the series when several
//! replicas split the work.
//!
//! Shards split by a stable hash (FNV-1a, 64 bit) of `namespace/pod`, so every
//! container of a pod lands in the same shard and the split never changes between
//! versions or machines. Node series belong to shard 0.

use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// Only these namespaces, read through namespaced endpoints; `None` is all.
    allow: Option<Vec<String>>,
    exclude: HashSet<String>,
    /// Read node metrics even with an allow list.
    node_metrics: bool,
    shard: u64,
    total_shards: u64,
    /// Only pods with these labels (Kubernetes' selector syntax, already checked).
    label_selector: Option<String>,
}

impl Default for Scope {
    fn default() -> Self {
        Scope {
            allow: None,
            exclude: HashSet::new(),
            node_metrics: false,
            shard: 0,
            total_shards: 1,
            label_selector: None,
        }
    }
}

impl Scope {
    pub fn new(
        allow: Vec<String>,
        exclude: Vec<String>,
        shard: u64,
        total_shards: u64,
    ) -> Result<Self, String> {
        Self::with_node_metrics(allow, exclude, false, shard, total_shards)
    }

    /// Like [`Scope::new`]; `node_metrics` reads node metrics even with an allow list.
    pub fn with_node_metrics(
        allow: Vec<String>,
        exclude: Vec<String>,
        node_metrics: bool,
        shard: u64,
        total_shards: u64,
    ) -> Result<Self, String> {
        if total_shards == 0 || shard >= total_shards {
            return Err(format!(
                "--shard {shard} must be below --total-shards {total_shards}"
            ));
        }
        let allow = clean(allow);
        let exclude = clean(exclude);
        if !allow.is_empty() && !exclude.is_empty() {
            return Err("--namespaces and --exclude-namespaces cannot be combined".to_owned());
        }
        Ok(Scope {
            allow: (!allow.is_empty()).then_some(allow),
            exclude: exclude.into_iter().collect(),
            node_metrics,
            shard,
            total_shards,
            label_selector: None,
        })
    }

    /// Only pods `selector` selects; an empty selector selects every pod. The API
    /// server applies it to the pod watch and the metrics list alike.
    pub fn with_label_selector(mut self, selector: Option<String>) -> Self {
        self.label_selector = selector.filter(|selector| !selector.trim().is_empty());
        self
    }

    /// The `labelSelector` of pod lists and watches, if any.
    pub fn label_selector(&self) -> Option<&str> {
        self.label_selector.as_deref()
    }

    /// The namespaces to read one by one, or `None` to read cluster-wide.
    pub fn allowed_namespaces(&self) -> Option<&[String]> {
        self.allow.as_deref()
    }

    /// Namespaces to drop from cluster-wide reads.
    pub fn excluded_namespaces(&self) -> impl Iterator<Item = &str> {
        self.exclude.iter().map(String::as_str)
    }

    pub fn includes_namespace(&self, namespace: &str) -> bool {
        match &self.allow {
            Some(allow) => allow.iter().any(|a| a == namespace),
            None => !self.exclude.contains(namespace),
        }
    }

    /// Whether this exporter exports the series of pod `namespace/name`.
    pub fn includes_pod(&self, namespace: &str, name: &str) -> bool {
        self.includes_namespace(namespace) && self.shard_of(namespace, name) == self.shard
    }

    /// Node series are cluster-scoped: exported by shard 0, and with a namespace allow
    /// list only when asked for (a namespaced Role cannot read them).
    pub fn includes_nodes(&self) -> bool {
        self.shard == 0 && (self.allow.is_none() || self.node_metrics)
    }

    pub fn shard_of(&self, namespace: &str, name: &str) -> u64 {
        if self.total_shards == 1 {
            return 0;
        }
        fnv1a(&[namespace.as_bytes(), b"/", name.as_bytes()]) % self.total_shards
    }
}

fn clean(names: Vec<String>) -> Vec<String> {
    let mut names: Vec<String> = names
        .into_iter()
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .collect();
    names.sort();
    names.dedup();
    names
}

fn fnv1a(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = OFFSET;
    for byte in parts.iter().flat_map(|part| part.iter()) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_empty_label_selector_selects_every_pod() {
        let scope = Scope::default().with_label_selector(Some("app=web".into()));
        assert_eq!(scope.label_selector(), Some("app=web"));
        let unset = Scope::default().with_label_selector(Some(" ".into()));
        assert_eq!(unset.label_selector(), None);
    }

    #[test]
    fn allow_list() {
        let scope = Scope::new(names(&["team-a", " team-b", ""]), vec![], 0, 1).unwrap();
        assert_eq!(scope.allowed_namespaces().unwrap(), ["team-a", "team-b"]);
        assert!(scope.includes_pod("team-b", "x"));
        assert!(!scope.includes_pod("kube-system", "x"));
        assert!(!scope.includes_nodes());
        let with_nodes = Scope::with_node_metrics(names(&["team-a"]), vec![], true, 0, 1).unwrap();
        assert!(with_nodes.includes_nodes());
    }

    #[test]
    fn exclude_list() {
        let scope = Scope::new(vec![], names(&["kube-system"]), 0, 1).unwrap();
        assert!(scope.allowed_namespaces().is_none());
        assert!(!scope.includes_pod("kube-system", "x"));
        assert!(scope.includes_pod("default", "x"));
        assert!(scope.includes_nodes());
    }

    #[test]
    fn invalid_combinations_are_refused() {
        assert!(Scope::new(vec![], vec![], 2, 2).is_err());
        assert!(Scope::new(vec![], vec![], 0, 0).is_err());
        assert!(Scope::new(names(&["a"]), names(&["b"]), 0, 1).is_err());
    }

    #[test]
    fn every_pod_lands_in_exactly_one_shard() {
        let shards: Vec<Scope> = (0..3)
            .map(|shard| Scope::new(vec![], vec![], shard, 3).unwrap())
            .collect();
        let mut per_shard = [0; 3];
        for i in 0..3000 {
            let name = format!("pod-{i}");
            let owners: Vec<usize> = (0..3)
                .filter(|&s| shards[s].includes_pod("ns", &name))
                .collect();
            assert_eq!(owners.len(), 1, "{name}");
            per_shard[owners[0]] += 1;
        }
        assert!(per_shard.iter().all(|&n| n > 800), "{per_shard:?}");
        assert_eq!(shards.iter().filter(|s| s.includes_nodes()).count(), 1);
    }

    #[test]
    fn the_hash_is_stable() {
        // Changing these values would move series between shards on upgrade.
        assert_eq!(fnv1a(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(
            fnv1a(&[b"default", b"/", b"web-0"]),
            fnv1a(&[b"default/web-0"])
        );
        assert_eq!(fnv1a(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
    }
}
