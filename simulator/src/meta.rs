//! Object metadata pieces shared by the core and metrics objects: pod labels and owners
//! as controllers set them, and values that Kubernetes writes as strings (timestamps,
//! resourceVersions, UIDs), serialized without building intermediate strings.

use std::fmt;

use k8s_openapi::jiff::Timestamp;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

use super::identifiers::Uid;
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
    fn timestamps_are_rfc3339_seconds() {
        assert_eq!(Time(1_800_000_000).to_string(), "2027-01-15T08:00:00Z");
        assert_eq!(
            serde_json::to_string(&Time(0)).unwrap(),
            "\"1970-01-01T00:00:00Z\""
        );
    }
}
