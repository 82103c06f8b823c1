//! Object metadata pieces shared by the core and metrics objects: pod labels and owners
//! as controllers set them, and values that Kubernetes writes as strings (timestamps,
//! resourceVersions, UIDs), serialized without building intermediate strings.

use std::borrow::Cow;
use std::fmt;

use k8s_openapi::jiff::Timestamp;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::identifiers::Uid;
use super::label_selector::LabelSelector;
use super::model::{PodRecord, WorkloadKind};

/// Serializes any `Display` value as a JSON string.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AsString<T>(pub T);

impl<T: fmt::Display> Serialize for AsString<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// A Kubernetes timestamp ("2026-01-02T03:04:05Z") from Unix seconds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Time(pub i64);

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match Timestamp::from_second(self.0) {
            Ok(timestamp) => timestamp.fmt(f),
            Err(_) => Timestamp::UNIX_EPOCH.fmt(f),
        }
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// The labels a pod's controller gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PodLabels<'a>(pub &'a PodRecord);

impl PodLabels<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.workload.kind == WorkloadKind::Standalone
    }

    /// The value of one label, as serialized below (a test holds the two together).
    pub(crate) fn value(&self, key: &str) -> Option<Cow<'_, str>> {
        let pod = self.0;
        let workload = &*pod.workload;
        let value: Cow<'_, str> = match (workload.kind, key) {
            (WorkloadKind::Standalone, _) => return None,
            (_, "app") => Cow::Borrowed(&*workload.name),
            (WorkloadKind::Deployment, "pod-template-hash") => {
                Cow::Borrowed(&*workload.template_hash)
            }
            (WorkloadKind::StatefulSet, "apps.kubernetes.io/pod-index") => {
                Cow::Borrowed(pod.name.rsplit('-').next().unwrap_or("0"))
            }
            (WorkloadKind::StatefulSet, "controller-revision-hash") => {
                Cow::Owned(format!("{}-{}", workload.name, workload.template_hash))
            }
            (WorkloadKind::StatefulSet, "statefulset.kubernetes.io/pod-name") => {
                Cow::Borrowed(&*pod.name)
            }
            (WorkloadKind::DaemonSet, "controller-revision-hash") => {
                Cow::Borrowed(&*workload.template_hash)
            }
            (WorkloadKind::DaemonSet, "pod-template-generation") => Cow::Borrowed("1"),
            _ => return None,
        };
        Some(value)
    }

    /// Whether `selector` selects this pod.
    pub(crate) fn selected_by(&self, selector: &LabelSelector) -> bool {
        if selector.is_empty() {
            return true;
        }
        let keys = [
            "app",
            "pod-template-hash",
            "apps.kubernetes.io/pod-index",
            "controller-revision-hash",
            "statefulset.kubernetes.io/pod-name",
            "pod-template-generation",
        ];
        let values: Vec<(&str, Cow<'_, str>)> = keys
            .iter()
            .filter_map(|key| Some((*key, self.value(key)?)))
            .collect();
        selector.matches(|key| {
            values
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, value)| value.as_ref())
        })
    }
}

impl Serialize for PodLabels<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let pod = self.0;
        let workload = &*pod.workload;
        let mut map = serializer.serialize_map(None)?;
        match workload.kind {
            WorkloadKind::Deployment => {
                map.serialize_entry("app", &*workload.name)?;
                map.serialize_entry("pod-template-hash", &*workload.template_hash)?;
            }
            WorkloadKind::StatefulSet => {
                let ordinal = pod.name.rsplit('-').next().unwrap_or("0");
                map.serialize_entry("app", &*workload.name)?;
                map.serialize_entry("apps.kubernetes.io/pod-index", ordinal)?;
                map.serialize_entry(
                    "controller-revision-hash",
                    &AsString(format_args!("{}-{}", workload.name, workload.template_hash)),
                )?;
                map.serialize_entry("statefulset.kubernetes.io/pod-name", &*pod.name)?;
            }
            WorkloadKind::DaemonSet => {
                map.serialize_entry("app", &*workload.name)?;
                map.serialize_entry("controller-revision-hash", &*workload.template_hash)?;
                map.serialize_entry("pod-template-generation", "1")?;
            }
            WorkloadKind::Standalone => {}
        }
        map.end()
    }
}

/// The controller that owns a pod, if any.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OwnerReference<'a> {
    api_version: &'static str,
    kind: &'static str,
    name: AsString<OwnerName<'a>>,
    uid: AsString<Uid>,
    controller: bool,
    block_owner_deletion: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct OwnerName<'a> {
    name: &'a str,
    replica_set_hash: Option<&'a str>,
}

impl fmt::Display for OwnerName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.replica_set_hash {
            Some(hash) => write!(f, "{}-{hash}", self.name),
            None => f.write_str(self.name),
        }
    }
}

impl<'a> OwnerReference<'a> {
    pub(crate) fn of(pod: &'a PodRecord) -> Option<[OwnerReference<'a>; 1]> {
        let workload = &*pod.workload;
        let (kind, replica_set_hash) = match workload.kind {
            WorkloadKind::Deployment => ("ReplicaSet", Some(&*workload.template_hash)),
            WorkloadKind::StatefulSet => ("StatefulSet", None),
            WorkloadKind::DaemonSet => ("DaemonSet", None),
            WorkloadKind::Standalone => return None,
        };
        Some([OwnerReference {
            api_version: "apps/v1",
            kind,
            name: AsString(OwnerName {
                name: &workload.name,
                replica_set_hash,
            }),
            uid: AsString(Uid(workload.uid_seed)),
            controller: true,
            block_owner_deletion: true,
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_the_serialized_labels() {
        let mut generator = crate::generate::Generator::new(3, 4, 3);
        let mut resource_version = 0;
        let pods = generator.initial_pods(300, 1_800_000_000, &mut resource_version);
        let mut kinds = std::collections::HashSet::new();
        for pod in &pods {
            let labels = PodLabels(pod);
            let serialized = serde_json::to_value(labels).unwrap();
            let map = serialized.as_object().unwrap();
            for (key, value) in map {
                assert_eq!(labels.value(key).as_deref(), value.as_str(), "{key}");
                let selector = LabelSelector::parse(&format!("{key}={}", value.as_str().unwrap()));
                assert!(labels.selected_by(&selector.unwrap()), "{key}");
            }
            assert_eq!(labels.value("not-a-label"), None);
            kinds.insert(format!("{:?}", pod.workload.kind));
        }
        assert!(kinds.len() >= 3, "several workload kinds: {kinds:?}");
    }

    #[test]
    fn timestamps_are_rfc3339_seconds() {
        assert_eq!(Time(1_800_000_000).to_string(), "2027-01-15T08:00:00Z");
        assert_eq!(
            serde_json::to_string(&Time(0)).unwrap(),
            "\"1970-01-01T00:00:00Z\""
        );
    }
}
