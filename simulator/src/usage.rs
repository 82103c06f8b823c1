//! How simulated usage moves. Each container has a baseline; each pod scales it by its
//! own factor and each tick by a factor near 1, all from hashes, so any pod's usage at
//! the current tick is recomputed on request rather than stored. Spellings rotate over
//! pods, containers and nodes so that every form metrics-server emits appears.

use std::fmt;

use serde::{Serialize, Serializer};

use super::model::{NodeRecord, NodeUsage, PodRecord, UsageSource};
use super::quantities::{CpuSpelling, MemorySpelling, Quantity, CPU_ROTATION, MEMORY_ROTATION};
use super::rng::{hash, unit};

const PAGE_BYTES: u64 = 4096;

/// A usage value as served: computed, or a fixture's text verbatim.
#[derive(Debug, Clone, Copy)]
pub(crate) enum UsageText<'a> {
    Computed(Quantity),
    Verbatim(&'a str),
}

impl fmt::Display for UsageText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageText::Computed(quantity) => quantity.fmt(f),
            UsageText::Verbatim(text) => f.write_str(text),
        }
    }
}

impl Serialize for UsageText<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// CPU and memory of one container or node.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Usage<'a> {
    pub cpu: UsageText<'a>,
    pub memory: UsageText<'a>,
}

/// The usage of container `index` of `pod` at `tick`.
pub(crate) fn container_usage(seed: u64, tick: u64, pod: &PodRecord, index: usize) -> Usage<'_> {
    match &pod.workload.containers[index].usage {
        UsageSource::Simulated {
            cpu_nanocores,
            memory_bytes,
        } => {
            let (cpu, memory) =
                simulated_usage(seed, tick, pod.serial, index, *cpu_nanocores, *memory_bytes);
            Usage {
                cpu: UsageText::Computed(cpu),
                memory: UsageText::Computed(memory),
            }
        }
        UsageSource::Fixed { cpu, memory } => Usage {
            cpu: UsageText::Verbatim(cpu),
            memory: UsageText::Verbatim(memory),
        },
    }
}

/// The usage of a node as last computed.
pub(crate) fn node_usage(node: &NodeRecord) -> Usage<'_> {
    match &node.usage {
        NodeUsage::Simulated { cpu, memory } => Usage {
            cpu: UsageText::Computed(*cpu),
            memory: UsageText::Computed(*memory),
        },
        NodeUsage::Fixed { cpu, memory } => Usage {
            cpu: UsageText::Verbatim(cpu),
            memory: UsageText::Verbatim(memory),
        },
    }
}

/// A simulated container's CPU and memory at `tick`, spelled by its place in the rotation.
pub(crate) fn simulated_usage(
    seed: u64,
    tick: u64,
    serial: u64,
    index: usize,
    cpu_baseline: u64,
    memory_baseline: u64,
) -> (Quantity, Quantity) {
    let index = index as u64;
    let pod_factor = unit(hash(&[seed, serial, index]));
    let tick_factor = unit(hash(&[seed, serial, index, tick]));
    let cpu = cpu_baseline as f64 * (0.5 + pod_factor) * (0.7 + 0.6 * tick_factor);
    let memory = memory_baseline as f64 * (0.7 + 0.6 * pod_factor) * (0.95 + 0.1 * tick_factor);
    let memory_pages = (memory as u64 / PAGE_BYTES).max(16);
    let cpu_spelling = CPU_ROTATION[((serial + 5 * index) % 16) as usize];
    let memory_spelling = MEMORY_ROTATION[((3 * serial + index) % 16) as usize];
    (
        Quantity::cpu((cpu as u64).max(1_000), cpu_spelling),
        Quantity::memory(memory_pages * PAGE_BYTES, memory_spelling),
    )
}

/// A node's usage: what its pods use plus what the system uses, spelled by its index.
pub(crate) fn node_total(
    index: usize,
    cpu_cores: u32,
    memory_gibibytes: u32,
    pods_nanocores: u64,
    pods_bytes: u64,
) -> (Quantity, Quantity) {
    const CPU: [CpuSpelling; 5] = [
        CpuSpelling::Nanocores,
        CpuSpelling::Nanocores,
        CpuSpelling::Millicores,
        CpuSpelling::Microcores,
        CpuSpelling::Cores,
    ];
    const MEMORY: [MemorySpelling; 6] = [
        MemorySpelling::Kibibytes,
        MemorySpelling::Kibibytes,
        MemorySpelling::Mebibytes,
        MemorySpelling::Bytes,
        MemorySpelling::Kilobytes,
        MemorySpelling::Gibibytes,
    ];
    let system_nanocores = 120_000_000 + 15_000_000 * u64::from(cpu_cores);
    let system_bytes = (400 << 20) + (u64::from(memory_gibibytes) << 30) / 40;
    (
        Quantity::cpu(pods_nanocores + system_nanocores, CPU[index % CPU.len()]),
        Quantity::memory(pods_bytes + system_bytes, MEMORY[index % MEMORY.len()]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn stable_within_a_tick_and_moving_across_ticks() {
        let at = |tick| simulated_usage(1, tick, 17, 0, 200_000_000, 256 << 20);
        assert_eq!(at(3), at(3));
        let changed = (0..10).filter(|tick| at(*tick) != at(tick + 1)).count();
        assert!(changed > 0);
    }

    #[test]
    fn a_small_cluster_shows_every_spelling() {
        let mut suffixes = HashSet::new();
        for serial in 1..=16 {
            let (cpu, memory) = simulated_usage(1, 0, serial, 0, 200_000_000, 256 << 20);
            for text in [cpu.to_string(), memory.to_string()] {
                let suffix: String = text.chars().filter(|c| !c.is_ascii_digit()).collect();
                suffixes.insert(suffix);
            }
        }
        for expected in ["n", "u", "m", "", "Ki", "Mi", "Gi", "k"] {
            assert!(
                suffixes.contains(expected),
                "{expected:?} missing from {suffixes:?}"
            );
        }
    }
}
