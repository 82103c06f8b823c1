//! Microbenchmarks of the three steps whose cost grows with the cluster: parsing
//! quantities, decoding a PodMetricsList, and rendering the exposition.
//!
//! `cargo bench --bench codec`

use std::fmt::Write as _;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use metrics_server_prom::exposition::render::{self, Format, Wanted};
use metrics_server_prom::exposition::self_metrics::SelfMetrics;
use metrics_server_prom::reading::usage::ClusterUsage;
use metrics_server_prom::scope::Scope;
use metrics_server_prom::sources::metrics_api::PodMetricsList;
use metrics_server_prom::sources::pod_index::Pods;

const QUANTITIES: [&str; 10] = [
    "123456789n",
    "1500u",
    "250m",
    "1",
    "0",
    "125448Ki",
    "1Mi",
    "1Gi",
    "123456789",
    "1k",
];

/// A metrics-server document with `pods` pods of two containers each.
fn pod_metrics_json(pods: usize) -> String {
    let mut json = String::from(
        r#"{"kind":"PodMetricsList","apiVersion":"metrics.k8s.io/v1beta1","metadata":{},"items":["#,
    );
    for i in 0..pods {
        if i > 0 {
            json.push(',');
        }
        write!(
            json,
            r#"{{"metadata":{{"name":"web-{i}-5d8f7c9b4-x2k4p","namespace":"team-{ns}","creationTimestamp":"2026-11-21T05:00:00Z"}},"timestamp":"2026-11-21T05:00:00Z","window":"15.01s","containers":[{{"name":"app","usage":{{"cpu":"{i}12345n","memory":"{i}48Ki"}}}},{{"name":"istio-proxy","usage":{{"cpu":"{m}m","memory":"{i}Mi"}}}}]}}"#,
            ns = i % 50,
            m = i % 997,
        )
        .unwrap();
    }
    json.push_str("]}");
    json
}

fn quantities(c: &mut Criterion) {
    let mut group = c.benchmark_group("quantity");
    group.throughput(Throughput::Elements(QUANTITIES.len() as u64));
    group.bench_function("parse metrics-server forms", |b| {
        b.iter(|| {
            for text in QUANTITIES {
                black_box(metrics_server_prom::quantity::parse(black_box(text)).unwrap());
            }
        })
    });
    group.finish();
}

fn decode_and_join(c: &mut Criterion) {
    let pods = 10_000;
    let json = pod_metrics_json(pods);
    let mut group = c.benchmark_group("pod metrics");
    group.throughput(Throughput::Elements(pods as u64 * 2));
    group.bench_function("decode 10k pods", |b| {
        b.iter(|| black_box(PodMetricsList::decode(json.as_bytes()).unwrap()))
    });
    group.bench_function("decode and join 10k pods", |b| {
        b.iter(|| {
            let lists = [PodMetricsList::decode(json.as_bytes()).unwrap()];
            black_box(ClusterUsage::build(
                Some(&lists),
                None,
                &Pods::default(),
                &Scope::default(),
            ))
        })
    });
    group.finish();
}

fn render(c: &mut Criterion) {
    let pods = 10_000;
    let json = pod_metrics_json(pods);
    let lists = [PodMetricsList::decode(json.as_bytes()).unwrap()];
    let snapshot =
        Arc::new(ClusterUsage::build(Some(&lists), None, &Pods::default(), &Scope::default()).0);
    let metrics = SelfMetrics::new();
    let mut group = c.benchmark_group("render");
    // Two families (cpu, memory) of one series per container.
    group.throughput(Throughput::Elements(pods as u64 * 4));
    for (name, format, gzip) in [
        ("openmetrics gzip", Format::OpenMetrics, true),
        ("openmetrics", Format::OpenMetrics, false),
        ("text", Format::Text, false),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let wanted = Wanted { format, gzip };
                black_box(render::render(wanted, snapshot.clone(), metrics.registry()))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, quantities, decode_and_join, render);
criterion_main!(benches);
