//! The bounded log of recent pod changes that watches resume from. A resourceVersion
//! older than the log's start cannot be resumed: Kubernetes answers 410 Gone ("Expired")
//! and the client lists again.

use std::collections::VecDeque;
use std::sync::Arc;

use super::model::PodRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    Added,
    Deleted,
}

impl ChangeKind {
    /// The watch event type.
    pub(crate) fn event_type(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// One change to the pod set, at its own resourceVersion.
#[derive(Debug)]
pub(crate) struct PodChange {
    pub kind: ChangeKind,
    pub resource_version: u64,
    pub pod: Arc<PodRecord>,
}

/// A resourceVersion that the log no longer reaches back to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expired {
    pub requested: u64,
    pub oldest: u64,
}

#[derive(Debug)]
pub(crate) struct EventLog {
    changes: VecDeque<Arc<PodChange>>,
    capacity: usize,
    /// The oldest resourceVersion a watch can start from.
    oldest_resumable: u64,
}

impl EventLog {
    /// An empty log; watches can start from `current` on.
    pub(crate) fn new(capacity: usize, current: u64) -> Self {
        EventLog {
            changes: VecDeque::with_capacity(capacity.min(1 << 16)),
            capacity: capacity.max(1),
            oldest_resumable: current,
        }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn push(&mut self, change: Arc<PodChange>) {
        if self.changes.len() == self.capacity {
            if let Some(forgotten) = self.changes.pop_front() {
                self.oldest_resumable = forgotten.resource_version;
            }
        }
        self.changes.push_back(change);
    }

    /// Every change after `resource_version`, oldest first.
    pub(crate) fn since(&self, resource_version: u64) -> Result<Vec<Arc<PodChange>>, Expired> {
        if resource_version < self.oldest_resumable {
            return Err(Expired {
                requested: resource_version,
                oldest: self.oldest_resumable,
            });
        }
        let start = self
            .changes
            .partition_point(|change| change.resource_version <= resource_version);
        Ok(self.changes.range(start..).cloned().collect())
    }
}
