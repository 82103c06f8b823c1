//! One kube-runtime watch loop for every index the exporter keeps (pods, their
//! requirements, nodes): list, then follow changes, relisting after a gap, with kube's
//! backoff on errors. What an index keeps is its [`Keeper`]'s business; when the first
//! list is complete is [`Synced`]'s.
//!
//! A relist is collected apart and swapped in whole when it is done, so a scrape never
//! sees half a list.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use tokio::sync::watch;

use crate::telemetry::Throttle;

/// Objects per page of a (re)list.
const PAGE_SIZE: u32 = 500;

/// How often a failing watch may log that it is retrying.
const WARNING_INTERVAL: Duration = Duration::from_secs(30);

/// What one watch does with the objects it sees.
pub trait Keeper: Send + 'static {
    type Object: kube::Resource<DynamicType = ()>
        + serde::de::DeserializeOwned
        + Clone
        + std::fmt::Debug
        + Send
        + 'static;

    /// A (re)list begins: collect apart from what is kept.
    fn relist_started(&mut self);
    /// One object of the (re)list.
    fn listed(&mut self, object: Self::Object);
    /// The (re)list is complete: it replaces what was kept.
    fn relist_done(&mut self);
    /// An object was added or changed.
    fn applied(&mut self, object: Self::Object);
    /// An object was deleted.
    fn deleted(&mut self, object: Self::Object);
}

/// The watcher settings every index uses.
pub fn config() -> watcher::Config {
    watcher::Config::default().page_size(PAGE_SIZE)
}

/// Starts `keeper` on a watch of `api` in the background; `synced` counts its first list.
/// `what` names the watch in its log lines ("pod", "node").
pub fn spawn<K: Keeper>(
    api: Api<K::Object>,
    config: watcher::Config,
    keeper: K,
    synced: Synced,
    what: &'static str,
) -> tokio::task::AbortHandle {
    tokio::spawn(run(api, config, keeper, synced, what)).abort_handle()
}

async fn run<K: Keeper>(
    api: Api<K::Object>,
    config: watcher::Config,
    mut keeper: K,
    synced: Synced,
    what: &'static str,
) {
    let throttle = Throttle::new(WARNING_INTERVAL);
    let mut counted_sync = false;
    let mut events = watcher::watcher(api, config).default_backoff().boxed();
    while let Some(event) = events.next().await {
        match event {
            Ok(Event::Init) => keeper.relist_started(),
            Ok(Event::InitApply(object)) => keeper.listed(object),
            Ok(Event::InitDone) => {
                keeper.relist_done();
                if !counted_sync {
                    counted_sync = true;
                    synced.count_one();
                }
            }
            Ok(Event::Apply(object)) => keeper.applied(object),
            Ok(Event::Delete(object)) => keeper.deleted(object),
            Err(error) => {
                if let Some(suppressed) = throttle.admit() {
                    tracing::warn!(%error, suppressed, "{what} watch failed; retrying with backoff");
                }
            }
        }
    }
}

/// For the fields a watch decodes: `null` reads as the default, as a missing field
/// does, and as Go's JSON decoding (and k8s-openapi's) leaves an optional field unset.
/// Without it a `null` would fail the object, and with it the watch, on every retry.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de> + Default,
{
    let value: Option<T> = serde::Deserialize::deserialize(deserializer)?;
    Ok(value.unwrap_or_default())
}

/// How many of an index's watches have completed their first list, shared by the
/// watches (which count) and the readers (which wait).
#[derive(Clone)]
pub struct Synced {
    counter: Arc<watch::Sender<usize>>,
    watches: usize,
}

impl Synced {
    /// For an index fed by `watches` watches.
    pub fn new(watches: usize) -> Self {
        Synced {
            counter: Arc::new(watch::channel(0).0),
            watches,
        }
    }

    fn count_one(&self) {
        self.counter.send_modify(|n| *n += 1);
    }

    /// Whether every watch has completed its first list.
    pub fn is_synced(&self) -> bool {
        *self.counter.borrow() >= self.watches
    }

    /// Resolves once every watch has completed its first list.
    pub async fn wait(&self) {
        let watches = self.watches;
        let mut counter = self.counter.subscribe();
        // The sender lives as long as `self`, so this only ends when synced.
        let _ = counter.wait_for(|n| *n >= watches).await;
    }
}

/// Implements the kube resource traits for an object type that a watch decodes with
/// only the fields it keeps: the API kind, its URL segment, and where its metadata is.
macro_rules! core_v1_object {
    ($object:ident $(<$param:ident>)?, $kind:literal, $plural:literal, $scope:ident) => {
        impl$(<$param>)? k8s_openapi::Resource for $object$(<$param>)? {
            const API_VERSION: &'static str = "v1";
            const GROUP: &'static str = "";
            const KIND: &'static str = $kind;
            const VERSION: &'static str = "v1";
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = k8s_openapi::$scope;
        }

        impl$(<$param>)? k8s_openapi::Metadata for $object$(<$param>)? {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }
    };
}
pub(crate) use core_v1_object;
