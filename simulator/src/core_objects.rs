//! Pods, nodes, their lists and pod watch events as the core API (`v1`) serves them,
//! serialized with serde straight from the compact model.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::identifiers::Uid;
use super::meta::{AsString, OwnerReference, PodLabels, Time};
use super::model::{ContainerSpec, NodeRecord, PodRecord, Resources};

/// `kind` and `apiVersion`, which single objects and watch events carry and list items
/// do not.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "camelCase")]
struct TypeMeta {
    kind: &'static str,
    api_version: &'static str,
}

/// A pod as JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PodJson<'a> {
    pub pod: &'a PodRecord,
    /// With `kind` and `apiVersion`.
    pub typed: bool,
    /// The resourceVersion to show when it is not the pod's own (a deletion's).
    pub resource_version: Option<u64>,
}

impl<'a> PodJson<'a> {
    pub(crate) fn item(pod: &'a PodRecord) -> Self {
        PodJson {
            pod,
            typed: false,
            resource_version: None,
        }
    }

    pub(crate) fn object(pod: &'a PodRecord) -> Self {
        PodJson {
            pod,
            typed: true,
            resource_version: None,
        }
    }
}

impl Serialize for PodJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pod = self.pod;
        let mut map = serializer.serialize_map(None)?;
        if self.typed {
            map.serialize_entry("kind", "Pod")?;
            map.serialize_entry("apiVersion", "v1")?;
        }
        map.serialize_entry(
            "metadata",
            &PodMetadata {
                name: &pod.name,
                namespace: pod.namespace(),
                uid: AsString(Uid(pod.serial)),
                resource_version: AsString(self.resource_version.unwrap_or(pod.resource_version)),
                creation_timestamp: Time(pod.created),
                labels: PodLabels(pod),
                owner_references: OwnerReference::of(pod),
            },
        )?;
        map.serialize_entry(
            "spec",
            &PodSpec {
                containers: Containers(&pod.workload.containers),
                node_name: pod.node.as_ref().map(|node| &*node.name),
                restart_policy: "Always",
                scheduler_name: "default-scheduler",
                service_account_name: "default",
                termination_grace_period_seconds: 30,
            },
        )?;
        map.serialize_entry("status", &PodStatus(pod))?;
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodMetadata<'a> {
    name: &'a str,
    namespace: &'a str,
    uid: AsString<Uid>,
    resource_version: AsString<u64>,
    creation_timestamp: Time,
    #[serde(skip_serializing_if = "PodLabels::is_empty")]
    labels: PodLabels<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner_references: Option<[OwnerReference<'a>; 1]>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec<'a> {
    containers: Containers<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node_name: Option<&'a str>,
    restart_policy: &'static str,
    scheduler_name: &'static str,
    service_account_name: &'static str,
    termination_grace_period_seconds: u32,
}

struct Containers<'a>(&'a [ContainerSpec]);

impl Serialize for Containers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|container| ContainerJson {
            name: &container.name,
            image: &container.image,
            image_pull_policy: "IfNotPresent",
            resources: ResourcesJson(&container.resources),
        }))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerJson<'a> {
    name: &'a str,
    image: &'a str,
    image_pull_policy: &'static str,
    resources: ResourcesJson<'a>,
}

/// Generated requests with the memory request as the limit too, or fixed requests and
/// limits verbatim.
struct ResourcesJson<'a>(&'a Resources);

impl Serialize for ResourcesJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Resources::Fixed(fixed) = self.0 {
            let limits = present([("cpu", &fixed.cpu_limit), ("memory", &fixed.memory_limit)]);
            if !limits.0.is_empty() {
                map.serialize_entry("limits", &limits)?;
            }
            let requests = present([
                ("cpu", &fixed.cpu_request),
                ("memory", &fixed.memory_request),
            ]);
            if !requests.0.is_empty() {
                map.serialize_entry("requests", &requests)?;
            }
        }
        if let Resources::Generated(requests) = self.0 {
            let memory = AsString(Suffixed(u64::from(requests.memory_mebibytes), "Mi"));
            map.serialize_entry("limits", &MapOf(vec![("memory", memory)]))?;
            map.serialize_entry(
                "requests",
                &MapOf(vec![
                    (
                        "cpu",
                        AsString(Suffixed(u64::from(requests.cpu_millicores), "m")),
                    ),
                    ("memory", memory),
                ]),
            )?;
        }
        map.end()
    }
}

/// The entries whose value is set, in order.
fn present<'a>(entries: [(&'static str, &'a Option<Box<str>>); 2]) -> MapOf<&'a str> {
    MapOf(
        entries
            .into_iter()
            .filter_map(|(name, value)| Some((name, value.as_deref()?)))
            .collect(),
    )
}

/// A number with a unit suffix, e.g. "250m".
#[derive(Debug, Clone, Copy)]
struct Suffixed(u64, &'static str);

impl fmt::Display for Suffixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.0, self.1)
    }
}

/// Key-value pairs serialized as a JSON object, in order.
struct MapOf<V>(Vec<(&'static str, V)>);

impl<V: Serialize> Serialize for MapOf<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(key, value)| (key, value)))
    }
}

struct PodStatus<'a>(&'a PodRecord);

impl Serialize for PodStatus<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pod = self.0;
        let started = Time(pod.created + 2);
        let mut map = serializer.serialize_map(None)?;
        let (Some(node), Some(ip)) = (&pod.node, &pod.ip) else {
            map.serialize_entry("phase", "Pending")?;
            map.serialize_entry(
                "conditions",
                &[Condition {
                    type_: "PodScheduled",
                    status: "False",
                    last_transition_time: Time(pod.created),
                    reason: Some("Unschedulable"),
                    message: Some("0/0 nodes are available."),
                }],
            )?;
            map.serialize_entry("qosClass", qos_class(pod))?;
            return map.end();
        };
        map.serialize_entry("phase", "Running")?;
        map.serialize_entry(
            "conditions",
            &["PodScheduled", "Initialized", "ContainersReady", "Ready"].map(|type_| Condition {
                type_,
                status: "True",
                last_transition_time: started,
                reason: None,
                message: None,
            }),
        )?;
        if let Some(host_ip) = node.internal_ip {
            map.serialize_entry("hostIP", &AsString(host_ip))?;
            map.serialize_entry(
                "hostIPs",
                &[IpEntry {
                    ip: AsString(host_ip),
                }],
            )?;
        }
        map.serialize_entry("podIP", &**ip)?;
        map.serialize_entry("podIPs", &[IpEntry { ip: &**ip }])?;
        map.serialize_entry("startTime", &started)?;
        map.serialize_entry("containerStatuses", &ContainerStatuses(pod))?;
        map.serialize_entry("qosClass", qos_class(pod))?;
        map.end()
    }
}

fn qos_class(pod: &PodRecord) -> &'static str {
    let has_resources = |c: &ContainerSpec| !matches!(c.resources, Resources::Unset);
    if pod.workload.containers.iter().any(has_resources) {
        "Burstable"
    } else {
        "BestEffort"
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Condition {
    #[serde(rename = "type")]
    type_: &'static str,
    status: &'static str,
    last_transition_time: Time,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'static str>,
}

#[derive(Serialize)]
struct IpEntry<T> {
    ip: T,
}

struct ContainerStatuses<'a>(&'a PodRecord);

impl Serialize for ContainerStatuses<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pod = self.0;
        serializer.collect_seq(pod.workload.containers.iter().enumerate().map(
            |(index, container)| ContainerStatusJson {
                name: &container.name,
                image: &container.image,
                image_id: "",
                container_id: AsString(ContainerId(pod.serial, index)),
                ready: true,
                restart_count: 0,
                started: true,
                state: RunningState {
                    running: StartedAt {
                        started_at: Time(pod.created + 2),
                    },
                },
            },
        ))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ContainerStatusJson<'a> {
    name: &'a str,
    image: &'a str,
    #[serde(rename = "imageID")]
    image_id: &'static str,
    #[serde(rename = "containerID")]
    container_id: AsString<ContainerId>,
    ready: bool,
    restart_count: u32,
    started: bool,
    state: RunningState,
}

#[derive(Serialize)]
struct RunningState {
    running: StartedAt,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StartedAt {
    started_at: Time,
}

/// "containerd://<64 hex digits>" from a pod serial and container index.
#[derive(Debug, Clone, Copy)]
struct ContainerId(u64, usize);

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut value = super::rng::hash(&[self.0, self.1 as u64]);
        f.write_str("containerd://")?;
        for _ in 0..4 {
            write!(f, "{value:016x}")?;
            value = super::rng::mix(value);
        }
        Ok(())
    }
}

/// A node as JSON.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeJson<'a> {
    pub node: &'a NodeRecord,
    pub typed: bool,
    /// Unix seconds of the latest heartbeat.
    pub heartbeat: i64,
}

impl Serialize for NodeJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let node = self.node;
        let name = &*node.identity.name;
        let mut map = serializer.serialize_map(None)?;
        if self.typed {
            map.serialize_entry("kind", "Node")?;
            map.serialize_entry("apiVersion", "v1")?;
        }
        map.serialize_entry(
            "metadata",
            &NodeMetadata {
                name,
                uid: AsString(Uid(node.uid_seed)),
                resource_version: AsString(node.resource_version),
                creation_timestamp: Time(node.created),
                labels: NodeLabels(node),
            },
        )?;
        map.serialize_entry(
            "spec",
            &NodeSpec {
                provider_id: AsString(format_args!("sim://{}/{name}", node.zone)),
            },
        )?;
        let capacity_memory_kib = u64::from(node.memory_gibibytes) * (1 << 20) * 97 / 100;
        let capacity = NodeResources {
            cpu: AsString(Suffixed(u64::from(node.cpu_cores), "")),
            memory: AsString(Suffixed(capacity_memory_kib, "Ki")),
            pods: "110",
        };
        let allocatable = NodeResources {
            cpu: AsString(Suffixed(u64::from(node.cpu_cores) * 1000 - 90, "m")),
            memory: AsString(Suffixed(
                capacity_memory_kib - 1_100_000.min(capacity_memory_kib / 4),
                "Ki",
            )),
            pods: "110",
        };
        let mut addresses = Vec::with_capacity(2);
        if let Some(ip) = node.identity.internal_ip {
            addresses.push(Address {
                type_: "InternalIP",
                address: ip.to_string(),
            });
        }
        addresses.push(Address {
            type_: "Hostname",
            address: name.to_owned(),
        });
        let fixed = node.fixed_resources.as_deref();
        map.serialize_entry(
            "status",
            &NodeStatus {
                capacity: match fixed {
                    Some(fixed) => NodeResourcesJson::Fixed(fixed_node_resources(
                        &fixed.cpu_capacity,
                        &fixed.memory_capacity,
                    )),
                    None => NodeResourcesJson::Derived(capacity),
                },
                allocatable: match fixed {
                    Some(fixed) => NodeResourcesJson::Fixed(fixed_node_resources(
                        &fixed.cpu_allocatable,
                        &fixed.memory_allocatable,
                    )),
                    None => NodeResourcesJson::Derived(allocatable),
                },
                conditions: [NodeCondition {
                    type_: "Ready",
                    status: "True",
                    last_heartbeat_time: Time(self.heartbeat),
                    last_transition_time: Time(node.created),
                    reason: "KubeletReady",
                    message: "kubelet is posting ready status",
                }],
                addresses,
                node_info: NodeInfo {
                    architecture: "amd64",
                    boot_id: AsString(Uid(node.uid_seed ^ 1)),
                    container_runtime_version: "containerd://2.1.4",
                    kernel_version: "6.12.0-sim",
                    kube_proxy_version: "",
                    kubelet_version: super::discovery::GIT_VERSION,
                    machine_id: AsString(Uid(node.uid_seed ^ 2)),
                    operating_system: "linux",
                    os_image: "Simulated Linux",
                    system_uuid: AsString(Uid(node.uid_seed ^ 3)),
                },
            },
        )?;
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeMetadata<'a> {
    name: &'a str,
    uid: AsString<Uid>,
    resource_version: AsString<u64>,
    creation_timestamp: Time,
    labels: NodeLabels<'a>,
}

/// The labels a kubelet and cloud provider give a node.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NodeLabels<'a>(pub &'a NodeRecord);

impl Serialize for NodeLabels<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let node = self.0;
        let mut map = serializer.serialize_map(Some(6))?;
        map.serialize_entry("kubernetes.io/arch", "amd64")?;
        map.serialize_entry("kubernetes.io/hostname", &*node.identity.name)?;
        map.serialize_entry("kubernetes.io/os", "linux")?;
        map.serialize_entry("node.kubernetes.io/instance-type", node.instance_type)?;
        map.serialize_entry("topology.kubernetes.io/region", "eu-west-1")?;
        map.serialize_entry("topology.kubernetes.io/zone", &*node.zone)?;
        map.end()
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeSpec<'a> {
    #[serde(rename = "providerID")]
    provider_id: AsString<fmt::Arguments<'a>>,
}

#[derive(Serialize)]
struct NodeResources {
    cpu: AsString<Suffixed>,
    memory: AsString<Suffixed>,
    pods: &'static str,
}

/// Capacity or allocatable: derived from the node's size, or a fixture's verbatim.
#[derive(Serialize)]
#[serde(untagged)]
enum NodeResourcesJson<'a> {
    Derived(NodeResources),
    Fixed(MapOf<&'a str>),
}

/// The quantities a fixture sets, and the pod count every node has.
fn fixed_node_resources<'a>(
    cpu: &'a Option<Box<str>>,
    memory: &'a Option<Box<str>>,
) -> MapOf<&'a str> {
    let mut entries = present([("cpu", cpu), ("memory", memory)]);
    entries.0.push(("pods", "110"));
    entries
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeStatus<'a> {
    capacity: NodeResourcesJson<'a>,
    allocatable: NodeResourcesJson<'a>,
    conditions: [NodeCondition; 1],
    addresses: Vec<Address>,
    node_info: NodeInfo,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeCondition {
    #[serde(rename = "type")]
    type_: &'static str,
    status: &'static str,
    last_heartbeat_time: Time,
    last_transition_time: Time,
    reason: &'static str,
    message: &'static str,
}

#[derive(Serialize)]
struct Address {
    #[serde(rename = "type")]
    type_: &'static str,
    address: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeInfo {
    architecture: &'static str,
    #[serde(rename = "bootID")]
    boot_id: AsString<Uid>,
    container_runtime_version: &'static str,
    kernel_version: &'static str,
    kube_proxy_version: &'static str,
    kubelet_version: &'static str,
    #[serde(rename = "machineID")]
    machine_id: AsString<Uid>,
    operating_system: &'static str,
    os_image: &'static str,
    #[serde(rename = "systemUUID")]
    system_uuid: AsString<Uid>,
}

/// A `PodList` or `NodeList`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct List<Items> {
    #[serde(flatten)]
    type_meta: TypeMeta,
    pub metadata: ListMeta,
    pub items: Items,
}

impl<Items> List<Items> {
    pub(crate) fn new(kind: &'static str, metadata: ListMeta, items: Items) -> Self {
        List {
            type_meta: TypeMeta {
                kind,
                api_version: "v1",
            },
            metadata,
            items,
        }
    }
}

#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ListMeta {
    pub resource_version: String,
    #[serde(rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}

/// Serializes an iterator as a JSON array.
pub(crate) struct Items<I>(pub std::cell::Cell<Option<I>>);

impl<I> Items<I> {
    pub(crate) fn new(items: I) -> Self {
        Items(std::cell::Cell::new(Some(items)))
    }
}

impl<I> Serialize for Items<I>
where
    I: Iterator,
    I::Item: Serialize,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.take() {
            Some(items) => serializer.collect_seq(items),
            None => serializer.collect_seq(std::iter::empty::<I::Item>()),
        }
    }
}

/// One line of a watch stream: `{"type":"ADDED","object":{...}}`.
#[derive(Serialize)]
pub(crate) struct WatchEventJson<Object> {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub object: Object,
}

/// The object of a BOOKMARK event: only a resourceVersion and annotations.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Bookmark {
    #[serde(flatten)]
    type_meta: TypeMeta,
    metadata: BookmarkMeta,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BookmarkMeta {
    resource_version: AsString<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    annotations: Option<MapOf<&'static str>>,
}

impl Bookmark {
    /// A bookmark at `resource_version`; `initial_events_end` marks the end of the
    /// initial events of a streaming list.
    pub(crate) fn new(resource_version: u64, initial_events_end: bool) -> Self {
        Bookmark {
            type_meta: TypeMeta {
                kind: "Pod",
                api_version: "v1",
            },
            metadata: BookmarkMeta {
                resource_version: AsString(resource_version),
                annotations: initial_events_end
                    .then(|| MapOf(vec![("k8s.io/initial-events-end", "true")])),
            },
        }
    }
}
