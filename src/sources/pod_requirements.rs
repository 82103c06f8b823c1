//! Each container's CPU and memory requests and limits, kept from the pod watch when
//! `--resources` asks for them, in a structure of its own beside the pod index: without
//! the flag it is never created and the index stays (namespace, name) → (node, IP).
//!
//! The watch decodes [`ResourceSpec`], which names the containers' `resources` and
//! nothing else of the spec; quantities are parsed to cores and bytes as they arrive, and
//! only pods with at least one request or limit set take any room. Init containers are
//! kept only when they run beside the others (native sidecars, `restartPolicy: Always`),
//! since only those have usage to compare with.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::Deserialize;

use super::resource_list::{parse_or_skip, CpuMemory};
use super::watch::null_as_default;
use crate::scope::Scope;
use crate::string_pool::StringPool;

/// One container's requests and limits in base units (cores, bytes); `None` where the
/// spec sets none (or sets one that does not parse).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ContainerRequirements {
    pub cpu_request: Option<f64>,
    pub cpu_limit: Option<f64>,
    pub memory_request: Option<f64>,
    pub memory_limit: Option<f64>,
}

impl ContainerRequirements {
    pub fn is_empty(&self) -> bool {
        *self == ContainerRequirements::default()
    }
}

/// A pod's containers that set a request or limit, by container name.
pub type PodRequirements = Box<[(Box<str>, ContainerRequirements)]>;

/// namespace → pod name → its containers' requirements.
type RequirementsByPod = HashMap<Arc<str>, HashMap<Box<str>, PodRequirements>>;

/// A shared, cheaply cloned view of the requirements the pod watch has seen.
#[derive(Clone, Default)]
pub struct PodResources {
    pods: Arc<RwLock<RequirementsByPod>>,
}

impl PodResources {
    /// The requirements of one container, if its spec sets any.
    pub fn get(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Option<ContainerRequirements> {
        self.with(|lookup| lookup.get(namespace, pod, container))
    }

    /// Runs `f` with read access to every pod's requirements, for a whole read at once.
    pub fn with<R>(&self, f: impl FnOnce(&Lookup<'_>) -> R) -> R {
        let pods = self.pods.read().unwrap_or_else(|e| e.into_inner());
        f(&Lookup(&pods))
    }

    /// Pods with at least one request or limit set.
    pub fn len(&self) -> usize {
        self.with(|lookup| lookup.0.values().map(HashMap::len).sum())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Read access to the requirements, held under the lock.
pub struct Lookup<'a>(&'a RequirementsByPod);

impl Lookup<'_> {
    pub fn get(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Option<ContainerRequirements> {
        let containers = self.0.get(namespace)?.get(pod)?;
        containers
            .iter()
            .find(|(name, _)| &**name == container)
            .map(|(_, requirements)| *requirements)
    }
}

/// Follows one pod watch's events into [`PodResources`]: a relist is collected apart
/// and swapped in whole, as the pod index does. A recorder without resources does
/// nothing.
pub(crate) struct Recorder {
    shared: Option<PodResources>,
    relisted: RequirementsByPod,
    namespaces: StringPool,
}

impl Recorder {
    pub(crate) fn new(shared: Option<PodResources>) -> Self {
        Recorder {
            shared,
            relisted: RequirementsByPod::new(),
            namespaces: StringPool::default(),
        }
    }

    /// A relist starts.
    pub(crate) fn init(&mut self) {
        self.relisted.clear();
    }

    /// A pod of the relist, with its containers' requirements if the watch decodes them.
    pub(crate) fn listed(
        &mut self,
        key: (&str, &str),
        containers: Option<PodRequirements>,
        scope: &Scope,
    ) {
        if self.shared.is_none() {
            return;
        }
        let mut relisted = std::mem::take(&mut self.relisted);
        self.put(&mut relisted, key, containers, scope);
        self.relisted = relisted;
    }

    /// The relist is complete: it replaces what was known of `namespace`, or of every
    /// namespace with `None`.
    pub(crate) fn relisted(&mut self, namespace: Option<&str>) {
        let fresh = std::mem::take(&mut self.relisted);
        let Some(shared) = &self.shared else { return };
        let mut pods = shared.pods.write().unwrap_or_else(|e| e.into_inner());
        match namespace {
            None => *pods = fresh,
            Some(namespace) => {
                pods.remove(namespace);
                pods.extend(fresh);
            }
        }
    }

    /// A pod was added or changed (requests and limits can change in place: resize).
    pub(crate) fn applied(
        &mut self,
        key: (&str, &str),
        containers: Option<PodRequirements>,
        scope: &Scope,
    ) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        let mut pods = shared.pods.write().unwrap_or_else(|e| e.into_inner());
        self.put(&mut pods, key, containers, scope);
    }

    pub(crate) fn deleted(&mut self, (namespace, name): (&str, &str)) {
        let Some(shared) = &self.shared else { return };
        let mut pods = shared.pods.write().unwrap_or_else(|e| e.into_inner());
        remove(&mut pods, namespace, name);
    }

    fn put(
        &mut self,
        pods: &mut RequirementsByPod,
        (namespace, name): (&str, &str),
        containers: Option<PodRequirements>,
        scope: &Scope,
    ) {
        if !scope.includes_pod(namespace, name) {
            return;
        }
        match containers {
            Some(containers) if !containers.is_empty() => {
                let namespace = self.intern(namespace);
                pods.entry(namespace)
                    .or_default()
                    .insert(name.into(), containers);
            }
            _ => remove(pods, namespace, name),
        }
    }

    fn intern(&mut self, namespace: &str) -> Arc<str> {
        self.namespaces.get(namespace)
    }
}

fn remove(pods: &mut RequirementsByPod, namespace: &str, name: &str) {
    if let Some(names) = pods.get_mut(namespace) {
        names.remove(name);
        if names.is_empty() {
            pods.remove(namespace);
        }
    }
}

/// A pod spec decoded for `--resources`: the node name and each container's resources.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceSpec {
    node_name: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    containers: Vec<ContainerSpec>,
    #[serde(default, deserialize_with = "null_as_default")]
    init_containers: Vec<ContainerSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContainerSpec {
    #[serde(default, deserialize_with = "null_as_default")]
    name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    resources: ResourceRequirements,
    restart_policy: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct ResourceRequirements {
    #[serde(default, deserialize_with = "null_as_default")]
    requests: CpuMemory,
    #[serde(default, deserialize_with = "null_as_default")]
    limits: CpuMemory,
}

impl ResourceSpec {
    pub fn node_name(&self) -> Option<&str> {
        self.node_name.as_deref()
    }

    /// The containers that set a request or limit, and the sidecars among the init
    /// containers that do.
    pub fn requirements(&self) -> PodRequirements {
        let sidecars = self
            .init_containers
            .iter()
            .filter(|c| c.restart_policy.as_deref() == Some("Always"));
        let kept: Vec<(Box<str>, ContainerRequirements)> = self
            .containers
            .iter()
            .chain(sidecars)
            .filter_map(|container| {
                let requirements = container.requirements();
                (!requirements.is_empty()).then(|| (container.name.as_str().into(), requirements))
            })
            .collect();
        kept.into_boxed_slice()
    }
}

impl ContainerSpec {
    fn requirements(&self) -> ContainerRequirements {
        let (requests, limits) = (&self.resources.requests, &self.resources.limits);
        let parse = |what, text: &Option<String>| parse_or_skip(&self.name, what, text);
        ContainerRequirements {
            cpu_request: parse("cpu request", &requests.cpu),
            cpu_limit: parse("cpu limit", &limits.cpu),
            memory_request: parse("memory request", &requests.memory),
            memory_limit: parse("memory limit", &limits.memory),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> ResourceSpec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn keeps_requests_and_limits_in_base_units() {
        let spec = spec(serde_json::json!({
            "nodeName": "node-1",
            "containers": [
                {"name": "app", "image": "x", "resources": {
                    "requests": {"cpu": "250m", "memory": "64Mi", "ephemeral-storage": "1Gi"},
                    "limits": {"memory": "128Mi"}}},
                {"name": "idle", "image": "y"},
                {"name": "bad", "resources": {"requests": {"cpu": "1 m", "memory": "1k"}}}
            ],
            "initContainers": [
                {"name": "migrate", "resources": {"requests": {"cpu": "1"}}},
                {"name": "proxy", "restartPolicy": "Always", "resources": {"limits": {"cpu": "500u"}}}
            ]
        }));
        assert_eq!(spec.node_name(), Some("node-1"));
        let kept = spec.requirements();
        let names: Vec<&str> = kept.iter().map(|(name, _)| &**name).collect();
        assert_eq!(
            names,
            ["app", "bad", "proxy"],
            "no empty ones, sidecars kept"
        );
        assert_eq!(
            kept[0].1,
            ContainerRequirements {
                cpu_request: Some(0.25),
                cpu_limit: None,
                memory_request: Some(67_108_864.0),
                memory_limit: Some(134_217_728.0),
            }
        );
        assert_eq!(
            kept[1].1,
            ContainerRequirements {
                memory_request: Some(1000.0),
                ..ContainerRequirements::default()
            }
        );
        assert_eq!(kept[2].1.cpu_limit, Some(0.0005));
    }

    #[test]
    fn recorder_relists_applies_and_deletes_within_scope() {
        let shared = PodResources::default();
        let scope = Scope::new(vec![], vec!["kube-system".into()], 0, 1).unwrap();
        let mut recorder = Recorder::new(Some(shared.clone()));
        let with_request = spec(serde_json::json!({"containers": [
            {"name": "app", "resources": {"requests": {"cpu": "1"}}}]}));
        let without = spec(serde_json::json!({"containers": [{"name": "app"}]}));

        recorder.init();
        recorder.listed(("a", "p1"), Some(with_request.requirements()), &scope);
        recorder.listed(("a", "p2"), Some(without.requirements()), &scope);
        recorder.listed(
            ("kube-system", "p3"),
            Some(with_request.requirements()),
            &scope,
        );
        assert!(
            shared.is_empty(),
            "nothing is visible before the relist is done"
        );
        recorder.relisted(None);
        assert_eq!(shared.len(), 1);
        assert_eq!(shared.get("a", "p1", "app").unwrap().cpu_request, Some(1.0));
        assert_eq!(shared.get("a", "p1", "other"), None);

        recorder.applied(("a", "p1"), Some(without.requirements()), &scope);
        assert_eq!(
            shared.get("a", "p1", "app"),
            None,
            "a resize that drops requests"
        );
        recorder.applied(("b", "p4"), Some(with_request.requirements()), &scope);
        recorder.deleted(("b", "p4"));
        assert!(shared.is_empty());
    }

    #[test]
    fn a_recorder_without_resources_keeps_nothing() {
        let mut recorder = Recorder::new(None);
        let with_request = spec(serde_json::json!({"containers": [
            {"name": "app", "resources": {"requests": {"cpu": "1"}}}]}));
        recorder.listed(
            ("a", "p"),
            Some(with_request.requirements()),
            &Scope::default(),
        );
        assert!(recorder.relisted.is_empty());
    }
}
