//! One read of the metrics API joined with the pod index: every container's and node's
//! usage in base units (cores, bytes), with the pod's node and IP.
//!
//! Building a snapshot never fails: a quantity that does not parse drops that one
//! series and is tallied in [`Problems`], and a pod the index does not know keeps its
//! series with empty `node` and `ip`.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::quantity::{self, QuantityError};
use crate::scope::Scope;
use crate::sources::metrics_api::{
    ListBody, NodeMetricsList, PodItem, PodMetrics, PodMetricsList, RawUsage, ReadError,
    SampleTime, Text,
};
use crate::sources::pod_index::{self, Pods};
use crate::sources::pod_labels::PodLabels;
use crate::spare_buffers::SpareBuffers;
use crate::string_pool::{HashMap, HashSet, HashSetExt, StringPool};

/// One container's usage. Its pod's labels (names, node, IP and their label text) are
/// shared with the pod's other containers and with the pod index.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerUsage {
    pub labels: PodLabels,
    pub container: Arc<str>,
    /// CPU in cores; `None` when absent or invalid.
    pub cpu: Option<f64>,
    /// Memory working set in bytes; `None` when absent or invalid.
    pub memory: Option<f64>,
    /// When the pod was sampled; shared by the pods sampled together.
    pub sampled: Arc<Sampled>,
}

impl ContainerUsage {
    pub fn namespace(&self) -> &str {
        self.labels.namespace()
    }

    pub fn pod(&self) -> &str {
        self.labels.name()
    }

    pub fn node(&self) -> &str {
        self.labels.node()
    }

    pub fn ip(&self) -> &str {
        self.labels.ip()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeUsage {
    pub node: Arc<str>,
    pub cpu: Option<f64>,
    pub memory: Option<f64>,
    pub sampled: Arc<Sampled>,
}

/// When metrics-server sampled a pod or node, as its JSON writes it: the end of the
/// window (RFC 3339) and the window's length (a Go duration, `15.01s`); empty where it
/// left them out. The usage is the average over the window.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sampled {
    pub timestamp: Box<str>,
    pub window: Box<str>,
}

/// One [`Sampled`] per distinct timestamp and window of a read, formatted once.
#[derive(Default)]
struct SampleTimes {
    /// The last one asked for by number: pods sampled together follow each other.
    last: Option<(SampleTime, Arc<Sampled>)>,
    by_number: HashMap<SampleTime, Arc<Sampled>>,
    by_text: HashMap<Box<str>, Vec<Arc<Sampled>>>,
    none: Arc<Sampled>,
}

impl SampleTimes {
    fn get(
        &mut self,
        timestamp: Option<&Text<'_>>,
        window: Option<&Text<'_>>,
        number: Option<SampleTime>,
    ) -> Arc<Sampled> {
        if let Some(number) = number {
            if let Some((last, sampled)) = &self.last {
                if *last == number {
                    return sampled.clone();
                }
            }
            let sampled = self
                .by_number
                .entry(number)
                .or_insert_with(|| {
                    let (timestamp, window) = number.texts();
                    Arc::new(Sampled {
                        timestamp: timestamp.unwrap_or_default().into(),
                        window: window.into(),
                    })
                })
                .clone();
            self.last = Some((number, sampled.clone()));
            return sampled;
        }
        let timestamp = timestamp.map_or("", |t| &**t);
        let window = window.map_or("", |t| &**t);
        if timestamp.is_empty() && window.is_empty() {
            return self.none.clone();
        }
        if let Some(known) = self
            .by_text
            .get(timestamp)
            .and_then(|same| same.iter().find(|s| &*s.window == window))
        {
            return known.clone();
        }
        let sampled = Arc::new(Sampled {
            timestamp: timestamp.into(),
            window: window.into(),
        });
        self.by_text
            .entry(timestamp.into())
            .or_default()
            .push(sampled.clone());
        sampled
    }
}

/// What a scrape exports. A list is `None` when its read failed, so that no stale
/// series are served for it.
#[derive(Debug, Default, PartialEq)]
pub struct ClusterUsage {
    pub containers: Option<Vec<ContainerUsage>>,
    pub nodes: Option<Vec<NodeUsage>>,
}

/// The kind of object a bad quantity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Pod,
    Node,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Pod => "pod",
            Owner::Node => "node",
        }
    }
}

/// Which usage field a bad quantity was in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Cpu,
    Memory,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Cpu => "cpu",
            Field::Memory => "memory",
        }
    }
}

/// One quantity that did not parse, with enough context to find it.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidQuantity {
    pub owner: Owner,
    pub field: Field,
    /// `namespace/pod/container` or the node name.
    pub object: String,
    pub text: String,
    pub error: QuantityError,
}

/// What went wrong while joining, for the self-metrics and the logs.
#[derive(Debug, Default, PartialEq)]
pub struct Problems {
    pub invalid_quantities: Vec<InvalidQuantity>,
    /// Pods in the metrics list that the pod index does not know (yet).
    pub pods_without_metadata: u64,
    /// Pods, containers or nodes listed again; only the first is exported, since
    /// exposition must not repeat a series.
    pub duplicates: u64,
}

impl ClusterUsage {
    /// Joins the lists that were read with the pod index, keeping what `scope` includes.
    pub fn build(
        pods: Option<&[PodMetricsList]>,
        nodes: Option<&NodeMetricsList>,
        index: &Pods,
        scope: &Scope,
    ) -> (ClusterUsage, Problems) {
        let joined = pods.map(|lists| {
            let turn = Turn::take();
            let mut join = PodJoin::new(index, scope, &turn);
            lists
                .iter()
                .flat_map(|list| list.items.iter().flatten())
                .for_each(|pod| join.add(pod));
            join.finish()
        });
        Self::assemble(joined, nodes)
    }

    /// Like [`ClusterUsage::build`] from raw PodMetricsList bodies, decoded pod by pod as
    /// they are joined. A body that does not decode fails the pods, with its error.
    /// Protobuf lists of more than [`PARALLEL_JOIN_PODS`] pods are decoded and joined in
    /// two halves on two threads; one large list is cut in two near its middle without
    /// walking its items first. The containers are written into buffers from `spare`
    /// where it has them, and a buffer the join empties goes back to it.
    pub fn from_bodies(
        pod_bodies: Option<&[ListBody]>,
        nodes: Option<&NodeMetricsList>,
        index: &Pods,
        scope: &Scope,
        spare: &SpareContainers,
    ) -> (ClusterUsage, Problems, Result<(), ReadError>) {
        let mut decoded = Ok(());
        let joined = pod_bodies.and_then(|bodies| {
            let mut turn = Turn::take();
            let cut = join_cut_in_two(bodies, index, scope, spare, &mut turn);
            let joined = cut.unwrap_or_else(|| match protobuf_items(bodies) {
                Some(Ok(items)) if items.len() > PARALLEL_JOIN_PODS => {
                    join_in_halves(&items, index, scope, spare, &mut turn)
                }
                Some(Err(error)) => Err(error),
                _ => join_serially(bodies, index, scope, spare, &turn),
            });
            joined.map_err(|error| decoded = Err(error)).ok()
        });
        let (snapshot, problems) = Self::assemble(joined, nodes);
        (snapshot, problems, decoded)
    }

    fn assemble(
        joined: Option<(Vec<ContainerUsage>, Problems)>,
        nodes: Option<&NodeMetricsList>,
    ) -> (ClusterUsage, Problems) {
        let (containers, mut problems) = match joined {
            Some((containers, problems)) => (Some(containers), problems),
            None => (None, Problems::default()),
        };
        let nodes = nodes.map(|list| {
            let mut seen = HashSet::new();
            let mut times = SampleTimes::default();
            list.items
                .iter()
                .flatten()
                .filter_map(|node| {
                    let name: &str = &node.metadata.as_ref()?.name;
                    if name.is_empty() {
                        return None;
                    }
                    if !seen.insert(name) {
                        problems.duplicates += 1;
                        return None;
                    }
                    let (cpu, memory) = parse_usage(
                        node.usage.as_ref(),
                        Owner::Node,
                        || name.to_owned(),
                        &mut problems,
                    );
                    Some(NodeUsage {
                        node: Arc::from(name),
                        cpu,
                        memory,
                        sampled: times.get(node.timestamp.as_ref(), node.window.as_ref(), None),
                    })
                })
                .collect()
        });
        (ClusterUsage { containers, nodes }, problems)
    }
}

/// How many pods the index knows.
fn indexed_pods(index: &Pods) -> usize {
    index.values().map(|names| names.len()).sum()
}

/// Room for the containers of about `pods` pods.
fn room_for(pods: usize) -> usize {
    pods * 2
}

/// Pods in a protobuf list above which the join runs in two halves on two threads.
pub const PARALLEL_JOIN_PODS: usize = 4096;

/// Bytes of one protobuf list above which it is cut in two halves for two threads
/// without walking its items first (about 2,000 pods).
const PARALLEL_JOIN_BYTES: usize = 256 * 1024;

/// A join's result: the containers and what went wrong.
type Joined = (Vec<ContainerUsage>, Problems);

/// The buffers a read's containers were joined into, kept for the next read's join
/// ([`SpareBuffers`]): by the half of a join that fills them, the first half's being
/// the whole list's, with the second's appended to it.
pub type SpareContainers = SpareBuffers<Half, ContainerUsage>;

/// A half of a join in halves; a serial join is all first half.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Half {
    First,
    Second,
}

/// Every item of `bodies` when all are protobuf; `None` when one is JSON.
fn protobuf_items(bodies: &[ListBody]) -> Option<Result<Vec<PodItem<'_>>, ReadError>> {
    let mut items = Vec::new();
    for body in bodies {
        match body.pod_items()? {
            Ok(more) => items.extend(more),
            Err(error) => return Some(Err(error)),
        }
    }
    Some(Ok(items))
}

fn join_serially(
    bodies: &[ListBody],
    index: &Pods,
    scope: &Scope,
    spare: &SpareContainers,
    turn: &Turn,
) -> Result<Joined, ReadError> {
    let containers = spare.take(&Half::First, room_for(indexed_pods(index)));
    let mut join = PodJoin::for_pods(index, scope, containers, turn, 0);
    for body in bodies {
        body.for_each_pod(|pod| join.add(&pod))?;
    }
    Ok(join.finish())
}

/// Decodes and joins one large protobuf list in two halves on two threads, cut near
/// its middle without a walk over every item first ([`ListBody::pod_list_cut`]).
/// `None` where that does not apply (several lists, JSON, a small list, no cut), and
/// where the first half did not end at the cut (the cut was not an item's start, or
/// that half is broken): then the caller's other ways join it, and tell a broken list
/// from a bad cut.
fn join_cut_in_two(
    bodies: &[ListBody],
    index: &Pods,
    scope: &Scope,
    spare: &SpareContainers,
    turn: &mut Turn,
) -> Option<Result<Joined, ReadError>> {
    let [body] = bodies else { return None };
    if body.bytes.len() <= PARALLEL_JOIN_BYTES {
        return None;
    }
    let (fields, cut) = body.pod_list_cut()?;
    let pods = indexed_pods(index);
    // Places in the second half start at the cut's offset, beyond any count of the
    // first's.
    let (first, second) = join_on_two_threads(
        index,
        scope,
        turn,
        buffers_for_halves(spare, [pods, pods / 2]),
        cut,
        |join| ListBody::for_each_pod_in(&fields[..cut], |pod| join.add(&pod)),
        |join| ListBody::for_each_pod_in(&fields[cut..], |pod| join.add(&pod)),
    );
    let Ok(first) = first else {
        turn.next();
        return None;
    };
    Some(
        second.and_then(|second| match put_together(first, second, spare) {
            Some(joined) => Ok(joined),
            None => {
                turn.next();
                join_serially(bodies, index, scope, spare, turn)
            }
        }),
    )
}

/// Decodes and joins the first half of `items` here and the second on another thread,
/// then puts them together in order (or, where only a serial join gets it right, joins
/// the whole list again, serially).
fn join_in_halves(
    items: &[PodItem<'_>],
    index: &Pods,
    scope: &Scope,
    spare: &SpareContainers,
    turn: &mut Turn,
) -> Result<Joined, ReadError> {
    let (first, second) = items.split_at(items.len() / 2);
    let (first_join, second_join) = join_on_two_threads(
        index,
        scope,
        turn,
        buffers_for_halves(spare, [items.len(), second.len()]),
        first.len(),
        |join| join.add_items(first),
        |join| join.add_items(second),
    );
    if let Some(joined) = put_together(first_join?, second_join?, spare) {
        return Ok(joined);
    }
    turn.next();
    let containers = spare.take(&Half::First, room_for(items.len()));
    let mut join = PodJoin::for_pods(index, scope, containers, turn, 0);
    join.add_items(items)?;
    Ok(join.finish())
}

/// Two halves of one list joined at once: the first here, the second on another
/// thread, each into its buffer of `buffers`, the second's places in the list from
/// `second_place`.
fn join_on_two_threads<'i>(
    index: &'i Pods,
    scope: &'i Scope,
    turn: &Turn,
    buffers: [Vec<ContainerUsage>; 2],
    second_place: usize,
    first: impl FnOnce(&mut PodJoin<'i>) -> Result<(), ReadError>,
    second: impl FnOnce(&mut PodJoin<'i>) -> Result<(), ReadError> + Send,
) -> (
    Result<PodJoin<'i>, ReadError>,
    Result<PodJoin<'i>, ReadError>,
) {
    let [first_containers, second_containers] = buffers;
    std::thread::scope(|threads| {
        let second = threads.spawn(move || {
            let mut join = PodJoin::for_pods(index, scope, second_containers, turn, second_place);
            second(&mut join).map(|()| join)
        });
        let mut join = PodJoin::for_pods(index, scope, first_containers, turn, 0);
        let first = first(&mut join).map(|()| join);
        (first, second.join().expect("a join thread panicked"))
    })
}

/// Buffers for the two halves of a join, with room for the containers of `pods` pods
/// each (the first's for all, since the second's containers are appended to it, so
/// nothing grows twice).
fn buffers_for_halves(spare: &SpareContainers, pods: [usize; 2]) -> [Vec<ContainerUsage>; 2] {
    let [first, second] = pods;
    [
        spare.take(&Half::First, room_for(first)),
        spare.take(&Half::Second, room_for(second)),
    ]
}

/// The joins of two halves of a list put together in order; `None` where a pod was
/// taken from both in a way only a serial join gets right. The second's buffer, emptied
/// into the first's, goes back to `spare`.
fn put_together<'i>(
    mut first: PodJoin<'i>,
    second: PodJoin<'i>,
    spare: &SpareContainers,
) -> Option<Joined> {
    if first.overlaps(&second) {
        return None;
    }
    let used = second.containers.len();
    spare.keep_used(Half::Second, first.append(second), used);
    Some(first.finish())
}

/// The number of the last join. A join marks each pod of the index it takes with its
/// number and the pod's place in the list ([`ByName::swap_join_mark`]), in the slot of
/// the index's table that finding the pod reads anyway: a pod listed twice is found
/// without a set of its own. Joins take turns (this lock), since two marking one index
/// at once would each miss the other's marks.
///
/// [`ByName::swap_join_mark`]: crate::sources::pod_labels::ByName::swap_join_mark
static LAST_JOIN: Mutex<u32> = Mutex::new(0);

/// One join's turn at marking the pod index.
struct Turn {
    last: MutexGuard<'static, u32>,
}

impl Turn {
    fn take() -> Turn {
        let mut turn = Turn {
            last: LAST_JOIN.lock().unwrap_or_else(|e| e.into_inner()),
        };
        turn.next();
        turn
    }

    /// The next join's number (0 marks a pod never joined); a number comes round again
    /// only after 2^32 joins.
    fn next(&mut self) {
        *self.last = self.last.wrapping_add(1).max(1);
    }

    fn number(&self) -> u32 {
        *self.last
    }
}

/// Joins pods one at a time, so that a streamed list never has to be held decoded.
struct PodJoin<'i> {
    index: &'i Pods,
    scope: &'i Scope,
    containers: Vec<ContainerUsage>,
    /// This join's number, in the high half of the marks it puts on pods.
    number: u64,
    /// The place in the list of the next pod added.
    place: u32,
    /// A pod was found marked by this join from a later place: taken by the other half
    /// of a join in halves first, where a serial join would have taken this copy.
    misordered: bool,
    /// Pods the index does not know, by namespace and name.
    seen_unknown: HashSet<(Arc<str>, Arc<str>)>,
    strings: StringPool,
    times: SampleTimes,
    problems: Problems,
}

impl<'i> PodJoin<'i> {
    fn new(index: &'i Pods, scope: &'i Scope, turn: &Turn) -> Self {
        let containers = Vec::with_capacity(room_for(indexed_pods(index)));
        Self::for_pods(index, scope, containers, turn, 0)
    }

    /// A join into `containers` (empty), the first of its pods at `place` in the list.
    fn for_pods(
        index: &'i Pods,
        scope: &'i Scope,
        containers: Vec<ContainerUsage>,
        turn: &Turn,
        place: usize,
    ) -> Self {
        debug_assert!(containers.is_empty());
        PodJoin {
            index,
            scope,
            containers,
            number: u64::from(turn.number()) << 32,
            place: place as u32,
            misordered: false,
            seen_unknown: HashSet::new(),
            strings: StringPool::default(),
            times: SampleTimes::default(),
            problems: Problems::default(),
        }
    }

    fn intern(&mut self, text: &str) -> Arc<str> {
        self.strings.get(text)
    }

    fn add(&mut self, pod: &PodMetrics) {
        let place = self.place;
        self.place = place.wrapping_add(1);
        let Some(meta) = &pod.metadata else { return };
        let (namespace, name): (&str, &str) = (&meta.namespace, &meta.name);
        if name.is_empty() || !self.scope.includes_pod(namespace, name) {
            return;
        }
        let labels = match pod_index::find(self.index, namespace, name) {
            Some(known) => {
                let marked = known.swap_join_mark(self.number | u64::from(place));
                if marked & !u64::from(u32::MAX) == self.number {
                    self.misordered |= marked as u32 > place;
                    self.problems.duplicates += 1;
                    return;
                }
                known.labels.clone()
            }
            None => {
                let (namespace, name) = (self.intern(namespace), Arc::<str>::from(name));
                if !self.seen_unknown.insert((namespace.clone(), name.clone())) {
                    self.problems.duplicates += 1;
                    return;
                }
                self.problems.pods_without_metadata += 1;
                PodLabels::unplaced(&namespace, &name)
            }
        };
        let sampled = self
            .times
            .get(pod.timestamp.as_ref(), pod.window.as_ref(), pod.sample_time);
        let first_container = self.containers.len();
        for container in pod.containers.iter().flatten() {
            let repeated = self.containers[first_container..]
                .iter()
                .any(|c| *c.container == *container.name);
            if repeated {
                self.problems.duplicates += 1;
                continue;
            }
            let object = || format!("{namespace}/{name}/{}", &*container.name);
            let (cpu, memory) = parse_usage(
                container.usage.as_ref(),
                Owner::Pod,
                object,
                &mut self.problems,
            );
            let container_name = self.intern(&container.name);
            let joined = ContainerUsage {
                labels: labels.clone(),
                container: container_name,
                cpu,
                memory,
                sampled: sampled.clone(),
            };
            self.containers.push(joined);
        }
    }

    /// Decodes and adds each of `items`; the first that does not decode fails them.
    fn add_items(&mut self, items: &[PodItem<'_>]) -> Result<(), ReadError> {
        for item in items {
            self.add(&item.decode()?);
        }
        Ok(())
    }

    fn finish(self) -> (Vec<ContainerUsage>, Problems) {
        (self.containers, self.problems)
    }

    /// Whether a pod this join took was also taken by `other`, the join of the later
    /// half of the same list, where a serial join would have taken another copy: a
    /// pod of the index taken from the later half first, or one the index does not
    /// know seen in both halves.
    fn overlaps(&self, other: &Self) -> bool {
        self.misordered
            || other.misordered
            || self
                .seen_unknown
                .iter()
                .any(|pod| other.seen_unknown.contains(pod))
    }

    /// Takes on `later`'s pods, which follow this join's; returns `later`'s buffer,
    /// emptied.
    fn append(&mut self, later: Self) -> Vec<ContainerUsage> {
        let PodJoin {
            mut containers,
            problems,
            ..
        } = later;
        self.containers.append(&mut containers);
        self.problems
            .invalid_quantities
            .extend(problems.invalid_quantities);
        self.problems.pods_without_metadata += problems.pods_without_metadata;
        self.problems.duplicates += problems.duplicates;
        containers
    }
}

/// Parses both quantities; `object` names the owner, built only for an error.
fn parse_usage(
    usage: Option<&RawUsage>,
    owner: Owner,
    object: impl Fn() -> String,
    problems: &mut Problems,
) -> (Option<f64>, Option<f64>) {
    let Some(usage) = usage else {
        return (None, None);
    };
    let mut parse = |text: Option<&str>, field| {
        let text = text?;
        quantity::parse(text)
            .map_err(|error| {
                problems.invalid_quantities.push(InvalidQuantity {
                    owner,
                    field,
                    object: object(),
                    text: text.to_owned(),
                    error,
                })
            })
            .ok()
    };
    let cpu = parse(usage.cpu.as_deref(), Field::Cpu);
    let memory = parse(usage.memory.as_deref(), Field::Memory);
    (cpu, memory)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::sources::pod_labels::ByName;

    fn index(entries: &[(&str, &str, &str, &str)]) -> Pods {
        let mut pods = Pods::default();
        for (namespace, name, node, ip) in entries {
            let labels = PodLabels::new(namespace, name, node, ip);
            pods.entry(Arc::from(*namespace))
                .or_default()
                .insert(ByName::new(labels));
        }
        pods
    }

    fn cpu_of(containers: &[ContainerUsage]) -> Vec<(&str, &str, &str, &str, Option<f64>)> {
        containers
            .iter()
            .map(|c| (c.namespace(), c.pod(), c.node(), c.ip(), c.cpu))
            .collect()
    }

    #[test]
    fn joins_by_namespace_and_name_not_name_alone() {
        let index = index(&[
            ("a", "web-0", "n1", "10.0.0.1"),
            ("b", "web-0", "n2", "10.0.0.2"),
        ]);
        let body = br#"{"items":[
            {"metadata":{"name":"web-0","namespace":"b"},"containers":[{"name":"c","usage":{"cpu":"7m","memory":"1Ki"}}]},
            {"metadata":{"name":"web-0","namespace":"a"},"containers":[{"name":"c","usage":{"cpu":"123456789n","memory":"1Mi"}}]},
            {"metadata":{"name":"gone","namespace":"a"},"containers":[{"name":"c","usage":{"cpu":"1","memory":"0"}}]}]}"#;
        let lists = [PodMetricsList::decode(body).unwrap()];
        let (snapshot, problems) =
            ClusterUsage::build(Some(&lists), None, &index, &Scope::default());
        let containers = snapshot.containers.unwrap();
        assert_eq!(
            cpu_of(&containers),
            [
                ("b", "web-0", "n2", "10.0.0.2", Some(0.007)),
                ("a", "web-0", "n1", "10.0.0.1", Some(0.123456789)),
                ("a", "gone", "", "", Some(1.0)),
            ]
        );
        assert_eq!(containers[1].memory, Some(1048576.0));
        assert_eq!(problems.pods_without_metadata, 1);
        assert!(snapshot.nodes.is_none());
    }

    #[test]
    fn a_bad_quantity_costs_one_series() {
        let pods = br#"{"items":[{"metadata":{"name":"p","namespace":"n"},"containers":[
            {"name":"bad-cpu","usage":{"cpu":"7 m","memory":"1Ki"}},
            {"name":"good","usage":{"cpu":"1m","memory":"2Ki"}}]}]}"#;
        let nodes =
            br#"{"items":[{"metadata":{"name":"n1"},"usage":{"cpu":"2","memory":"12Mx"}}]}"#;
        let lists = [PodMetricsList::decode(pods).unwrap()];
        let nodes = NodeMetricsList::decode(nodes).unwrap();
        let (snapshot, problems) = ClusterUsage::build(
            Some(&lists),
            Some(&nodes),
            &Pods::default(),
            &Scope::default(),
        );
        let containers = snapshot.containers.unwrap();
        assert_eq!(
            (containers[0].cpu, containers[0].memory),
            (None, Some(1024.0))
        );
        assert_eq!(
            (containers[1].cpu, containers[1].memory),
            (Some(0.001), Some(2048.0))
        );
        let nodes = snapshot.nodes.unwrap();
        assert_eq!((nodes[0].cpu, nodes[0].memory), (Some(2.0), None));
        let bad: Vec<_> = problems
            .invalid_quantities
            .iter()
            .map(|q| (q.owner, q.field, q.object.as_str(), q.text.as_str()))
            .collect();
        assert_eq!(
            bad,
            [
                (Owner::Pod, Field::Cpu, "n/p/bad-cpu", "7 m"),
                (Owner::Node, Field::Memory, "n1", "12Mx")
            ]
        );
    }

    #[test]
    fn a_known_pod_listed_twice_exports_its_first_copy_in_every_join() {
        let pods = br#"{"items":[
            {"metadata":{"name":"p","namespace":"n"},"containers":[{"name":"c","usage":{"cpu":"1"}}]},
            {"metadata":{"name":"q","namespace":"n"},"containers":[{"name":"c","usage":{"cpu":"2"}}]},
            {"metadata":{"name":"p","namespace":"n"},"containers":[{"name":"c","usage":{"cpu":"3"}}]}]}"#;
        let lists = [PodMetricsList::decode(pods).unwrap()];
        let index = index(&[("n", "p", "node-1", "10.0.0.1"), ("n", "q", "node-2", "")]);
        // Again and again: the marks of one join are not duplicates to the next.
        for _ in 0..3 {
            let (usage, problems) =
                ClusterUsage::build(Some(&lists), None, &index, &Scope::default());
            let cpu: Vec<_> = usage
                .containers
                .unwrap()
                .iter()
                .map(|c| (c.pod().to_owned(), c.node().to_owned(), c.cpu))
                .collect();
            assert_eq!(
                cpu,
                [
                    ("p".to_owned(), "node-1".to_owned(), Some(1.0)),
                    ("q".to_owned(), "node-2".to_owned(), Some(2.0))
                ]
            );
            assert_eq!(problems.duplicates, 1);
        }
    }

    #[test]
    fn a_later_copy_taken_first_by_the_other_half_calls_for_a_serial_join() {
        let index = index(&[("n", "p", "node-1", "10.0.0.1")]);
        let list = PodMetricsList::decode(
            br#"{"items":[{"metadata":{"name":"p","namespace":"n"},"containers":[]}]}"#,
        )
        .unwrap();
        let pod = &list.items.unwrap()[0];
        let scope = Scope::default();
        let turn = Turn::take();
        // The pod is at place 0 of the first half and place 5 of the second.
        let mut first = PodJoin::for_pods(&index, &scope, Vec::new(), &turn, 0);
        let mut second = PodJoin::for_pods(&index, &scope, Vec::new(), &turn, 5);
        first.add(pod);
        second.add(pod);
        assert!(!first.overlaps(&second), "in list order: a plain duplicate");
        assert_eq!(second.problems.duplicates, 1);

        let mut turn = turn;
        turn.next();
        let mut first = PodJoin::for_pods(&index, &scope, Vec::new(), &turn, 0);
        let mut second = PodJoin::for_pods(&index, &scope, Vec::new(), &turn, 5);
        second.add(pod);
        first.add(pod);
        assert!(first.overlaps(&second), "the later copy was taken");
    }

    #[test]
    fn duplicates_export_once() {
        let pods = br#"{"items":[
            {"metadata":{"name":"p","namespace":"n"},"containers":[
                {"name":"c","usage":{"cpu":"1"}},{"name":"c","usage":{"cpu":"2"}}]},
            {"metadata":{"name":"p","namespace":"n"},"containers":[{"name":"d","usage":{"cpu":"3"}}]},
            {"metadata":{"name":"p","namespace":"other"},"containers":[{"name":"c","usage":{"cpu":"4"}}]}]}"#;
        let nodes = br#"{"items":[{"metadata":{"name":"n1"},"usage":{"cpu":"1"}},
                                  {"metadata":{"name":"n1"},"usage":{"cpu":"2"}}]}"#;
        let lists = [PodMetricsList::decode(pods).unwrap()];
        let nodes = NodeMetricsList::decode(nodes).unwrap();
        let (snapshot, problems) = ClusterUsage::build(
            Some(&lists),
            Some(&nodes),
            &Pods::default(),
            &Scope::default(),
        );
        let cpu: Vec<_> = snapshot.containers.unwrap().iter().map(|c| c.cpu).collect();
        assert_eq!(cpu, [Some(1.0), Some(4.0)]);
        assert_eq!(snapshot.nodes.unwrap().len(), 1);
        assert_eq!(problems.duplicates, 3);
    }

    #[test]
    fn pods_sampled_together_share_their_sample_time() {
        let body = br#"{"items":[
            {"metadata":{"name":"a","namespace":"n"},"timestamp":"2026-11-21T06:30:46Z","window":"15.01s","containers":[{"name":"c"},{"name":"d"}]},
            {"metadata":{"name":"b","namespace":"n"},"timestamp":"2026-11-21T06:30:46Z","window":"15.01s","containers":[{"name":"c"}]},
            {"metadata":{"name":"c","namespace":"n"},"containers":[{"name":"c"}]}]}"#;
        let lists = [PodMetricsList::decode(body).unwrap()];
        let (usage, _) =
            ClusterUsage::build(Some(&lists), None, &Pods::default(), &Scope::default());
        let containers = usage.containers.unwrap();
        assert_eq!(&*containers[0].sampled.timestamp, "2026-11-21T06:30:46Z");
        assert_eq!(&*containers[0].sampled.window, "15.01s");
        assert!(Arc::ptr_eq(&containers[0].sampled, &containers[2].sampled));
        assert_eq!(*containers[3].sampled, Sampled::default());

        // From protobuf the numbers are formatted as the JSON would have them.
        let mut times = SampleTimes::default();
        let number = SampleTime {
            seconds: Some(1_795_242_646),
            window_nanos: 15_010_000_000,
        };
        let formatted = times.get(None, None, Some(number));
        assert_eq!(*formatted, *containers[0].sampled);
        assert!(Arc::ptr_eq(
            &formatted,
            &times.get(None, None, Some(number))
        ));
    }

    #[test]
    fn scope_filters_pods() {
        let body = br#"{"items":[
            {"metadata":{"name":"a","namespace":"kube-system"},"containers":[{"name":"c","usage":{"cpu":"1"}}]},
            {"metadata":{"name":"b","namespace":"default"},"containers":[{"name":"c","usage":{"cpu":"1"}}]}]}"#;
        let lists = [PodMetricsList::decode(body).unwrap()];
        let scope = Scope::new(vec![], vec!["kube-system".into()], 0, 1).unwrap();
        let (snapshot, problems) =
            ClusterUsage::build(Some(&lists), None, &Pods::default(), &scope);
        let containers = snapshot.containers.unwrap();
        assert_eq!(containers.len(), 1);
        assert_eq!(containers[0].namespace(), "default");
        assert_eq!(problems.pods_without_metadata, 1);
    }

    /// A protobuf PodMetricsList of `names` (namespace, pod), each with containers
    /// `app` and `sidecar`; pod `bad-*` has an invalid CPU quantity.
    fn protobuf_body(pods: &[(String, String)]) -> ListBody {
        use simulator::protobuf::{encode_pod_list, EncodedPod};
        let good = [("app", "250m", "64Mi"), ("sidecar", "1n", "1Ki")];
        let bad = [("app", "7 minutes", "64Mi"), ("sidecar", "1n", "1Ki")];
        let bytes = encode_pod_list(
            "metrics.k8s.io/v1beta1",
            "1",
            pods.iter().map(|(namespace, name)| EncodedPod {
                namespace,
                name,
                timestamp_seconds: 1_700_000_000,
                window_nanos: 15_000_000_000,
                containers: if name.starts_with("bad-") {
                    &bad
                } else {
                    &good
                },
            }),
        );
        ListBody {
            bytes: bytes.into(),
            encoding: crate::sources::metrics_api::ContentType::Protobuf,
            path: String::new(),
        }
    }

    /// Pods enough for two halves; one in ten unknown to the index, one invalid.
    fn many_pods() -> (Vec<(String, String)>, Pods) {
        pods_and_index(2 * PARALLEL_JOIN_PODS + 3)
    }

    fn pods_and_index(count: usize) -> (Vec<(String, String)>, Pods) {
        let pods: Vec<(String, String)> = (0..count)
            .map(|i| match i {
                7 => ("shop".to_owned(), "bad-7".to_owned()),
                _ => (format!("ns-{}", i % 13), format!("pod-{i}")),
            })
            .collect();
        let known: Vec<(&str, &str, &str, &str)> = pods
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 10 != 3)
            .map(|(_, (namespace, name))| (namespace.as_str(), name.as_str(), "node-1", "10.0.0.1"))
            .collect();
        let index = index(&known);
        (pods, index)
    }

    fn serially(body: &ListBody, index: &Pods) -> (Vec<ContainerUsage>, Problems) {
        join_serially(
            std::slice::from_ref(body),
            index,
            &Scope::default(),
            &SpareContainers::default(),
            &Turn::take(),
        )
        .unwrap()
    }

    /// Joins `body` as a scrape does and checks it equals the serial join; its
    /// containers and problems.
    fn joined_as_serially(body: &ListBody, index: &Pods) -> (Vec<ContainerUsage>, Problems) {
        let (usage, problems, decoded) = ClusterUsage::from_bodies(
            Some(std::slice::from_ref(body)),
            None,
            index,
            &Scope::default(),
            &SpareContainers::default(),
        );
        decoded.unwrap();
        let containers = usage.containers.unwrap();
        let (serial, serial_problems) = serially(body, index);
        assert_eq!(containers, serial);
        assert_eq!(problems, serial_problems);
        (containers, problems)
    }

    #[test]
    fn a_large_protobuf_list_joined_in_halves_equals_the_serial_join() {
        let (pods, index) = many_pods();
        let (containers, problems) = joined_as_serially(&protobuf_body(&pods), &index);
        assert_eq!(containers.len(), 2 * pods.len());
        assert_eq!(problems.invalid_quantities.len(), 1);
        assert_eq!(
            problems.pods_without_metadata,
            (pods.len() as u64).div_ceil(10)
        );
    }

    #[test]
    fn a_large_list_is_cut_at_an_item_and_a_wrong_cut_falls_back() {
        // An ordinary list is cut at an item's start: its first half decodes whole.
        let (pods, index) = many_pods();
        let body = protobuf_body(&pods);
        assert!(body.bytes.len() > PARALLEL_JOIN_BYTES);
        let (fields, cut) = body.pod_list_cut().unwrap();
        assert!(ListBody::for_each_pod_in(&fields[..cut], |_| {}).is_ok());

        // Names that read as runs of items (an item's tag and length, then a PodMetrics
        // of a pod named `x`): the cut falls inside a name, the first half does not end
        // at it, and the join is the serial one all the same.
        let fake = "\u{12}\u{5}\n\u{3}\n\u{1}x".repeat(40);
        let odd: Vec<(String, String)> = (0..2 * PARALLEL_JOIN_PODS)
            .map(|i| (format!("ns-{}", i % 13), format!("p{i}{fake}")))
            .collect();
        let body = protobuf_body(&odd);
        let (fields, cut) = body.pod_list_cut().unwrap();
        assert!(
            ListBody::for_each_pod_in(&fields[..cut], |_| {}).is_err(),
            "the cut is inside a name"
        );
        let (containers, _) = joined_as_serially(&body, &index);
        assert_eq!(containers.len(), 2 * odd.len());
    }

    #[test]
    fn a_join_in_halves_writes_into_the_kept_buffers_and_keeps_the_second() {
        // Enough pods that each half's buffer is large enough to keep.
        let (pods, index) = pods_and_index(8 * PARALLEL_JOIN_PODS);
        let body = protobuf_body(&pods);
        let (serial, _) = serially(&body, &index);
        let spare = SpareContainers::default();
        let join = || {
            let (usage, _, decoded) = ClusterUsage::from_bodies(
                Some(std::slice::from_ref(&body)),
                None,
                &index,
                &Scope::default(),
                &spare,
            );
            decoded.unwrap();
            usage.containers.unwrap()
        };
        let containers = join();
        assert_eq!(containers, serial);
        assert_eq!(
            spare.len(),
            1,
            "the second half's buffer, emptied into the first's"
        );
        let address = containers.as_ptr();
        spare.keep(Half::First, containers);
        let again = join();
        assert_eq!(again, serial);
        assert_eq!(again.as_ptr(), address, "written into the kept buffer");
    }

    #[test]
    fn a_pod_listed_in_both_halves_is_exported_once_as_serially() {
        let (mut pods, index) = many_pods();
        // A known pod of the first half and an unknown one, listed again in the second.
        let (known, unknown) = (pods[1].clone(), pods[3].clone());
        pods.push(known);
        pods.push(unknown);
        let (_, problems) = joined_as_serially(&protobuf_body(&pods), &index);
        assert_eq!(problems.duplicates, 2);
    }

    #[test]
    fn a_bad_item_in_either_half_or_bad_framing_fails_the_pods() {
        let (pods, index) = many_pods();
        let body = protobuf_body(&pods);
        let fails = |bytes: Vec<u8>| {
            let body = ListBody {
                bytes: bytes.into(),
                encoding: body.encoding,
                path: String::new(),
            };
            let (usage, _, decoded) = ClusterUsage::from_bodies(
                Some(std::slice::from_ref(&body)),
                None,
                &index,
                &Scope::default(),
                &SpareContainers::default(),
            );
            decoded.is_err() && usage.containers.is_none()
        };
        // The last item's declared length runs past the body: the list's framing.
        let mut truncated = body.bytes.to_vec();
        truncated.pop();
        assert!(fails(truncated));
        // One pod's name field given wire type 7, which does not exist, in each half.
        for name in ["pod-5", "pod-6000"] {
            let mut needle = vec![0x0a, name.len() as u8];
            needle.extend_from_slice(name.as_bytes());
            let mut bytes = body.bytes.to_vec();
            let at = bytes
                .windows(needle.len())
                .position(|window| window == needle)
                .unwrap();
            bytes[at] = 0x0f;
            assert!(fails(bytes), "{name}");
        }
    }
}
