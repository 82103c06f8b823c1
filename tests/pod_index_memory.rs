//! The pod index's memory per pod, measured by counting the heap bytes live before the
//! watch starts and after its first list: the index must keep namespace, name, node and
//! IP, not whole Pod objects.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use metrics_server_prom::connect::Connection;
use metrics_server_prom::scope::Scope;
use metrics_server_prom::sources::pod_index::PodIndex;
use simulator::{self, SimulateArgs};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A budget, not a measurement: BENCHMARKS.md records what it measured.
const BUDGET_BYTES_PER_POD: isize = 400;

#[tokio::test(flavor = "multi_thread")]
async fn the_pod_index_keeps_a_few_hundred_bytes_a_pod() {
    let pods = 20_000;
    let cluster = simulator::start(&SimulateArgs {
        pods,
        nodes: 700,
        tick: Duration::from_secs(3600),
        churn: 0.0,
        ..SimulateArgs::default()
    })
    .await
    .unwrap();
    let connection = Connection::unauthenticated(cluster.url(), "simulated").unwrap();
    let client = connection.watch_client().unwrap();

    let before = LIVE.load(Ordering::SeqCst);
    let index = PodIndex::spawn(client, Arc::new(Scope::default()));
    index.synced().await;
    assert_eq!(index.len(), pods);
    let after = LIVE.load(Ordering::SeqCst);

    let per_pod = (after - before) / pods as isize;
    println!("pod index: {per_pod} bytes per pod ({pods} pods)");
    assert!(
        per_pod <= BUDGET_BYTES_PER_POD,
        "{per_pod} bytes per pod, over the budget of {BUDGET_BYTES_PER_POD}"
    );
    index.stop();
    cluster.shutdown().await;
}
