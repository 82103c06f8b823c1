//! The `process_*` metrics every Prometheus exporter serves, with the standard names,
//! types and units, read from `/proc` at each scrape: CPU seconds, resident and virtual
//! memory, open and maximum file descriptors, and the start time. Linux only: elsewhere
//! the collector writes nothing.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// What `/proc` says of this process; a field it could not read is `None`.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ProcessStats {
    pub cpu_seconds: Option<f64>,
    pub resident_bytes: Option<f64>,
    pub virtual_bytes: Option<f64>,
    pub open_fds: Option<f64>,
    pub max_fds: Option<f64>,
    pub start_time_seconds: Option<f64>,
}

impl ProcessStats {
    /// This process now.
    pub fn read() -> ProcessStats {
        #[cfg(target_os = "linux")]
        return linux::read();
        #[cfg(not(target_os = "linux"))]
        ProcessStats::default()
    }
}

#[derive(Debug)]
pub struct ProcessCollector;

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = ProcessStats::read();
        if let Some(seconds) = stats.cpu_seconds {
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "Total user and system CPU time spent in seconds.",
                None,
                MetricType::Counter,
            )?;
            ConstCounter::new(seconds).encode(metric)?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size in bytes.",
                stats.resident_bytes,
            ),
            (
                "process_virtual_memory_bytes",
                "Virtual memory size in bytes.",
                stats.virtual_bytes,
            ),
            (
                "process_open_fds",
                "Number of open file descriptors.",
                stats.open_fds,
            ),
            (
                "process_max_fds",
                "Maximum number of open file descriptors.",
                stats.max_fds,
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                stats.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(value) = value {
                let metric = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
                ConstGauge::new(value).encode(metric)?;
            }
        }
        Ok(())
    }
}

#[cfg(target_os = "linux")]
mod linux {
    use super::ProcessStats;

    pub fn read() -> ProcessStats {
        let ticks = sysconf(libc::_SC_CLK_TCK);
        let page = sysconf(libc::_SC_PAGESIZE);
        let stat = std::fs::read_to_string("/proc/self/stat").ok();
        // Fields after the command name, which is in parentheses and may hold spaces:
        // the state is field 3, so field n is at index n - 3.
        let fields: Vec<&str> = stat
            .as_deref()
            .and_then(|stat| stat.rsplit_once(')'))
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
        ProcessStats {
            cpu_seconds: field(14)
                .zip(field(15))
                .zip(ticks)
                .map(|((user, system), ticks)| (user + system) / ticks),
            resident_bytes: field(24).zip(page).map(|(pages, page)| pages * page),
            virtual_bytes: field(23),
            open_fds: std::fs::read_dir("/proc/self/fd")
                .ok()
                .map(|entries| entries.count() as f64),
            max_fds: max_open_files(),
            start_time_seconds: field(22)
                .zip(ticks)
                .zip(boot_time())
                .map(|((started, ticks), boot)| boot + started / ticks),
        }
    }

    fn sysconf(name: libc::c_int) -> Option<f64> {
        // SAFETY: sysconf reads a system constant and has no other effect.
        let value = unsafe { libc::sysconf(name) };
        (value > 0).then_some(value as f64)
    }

    /// The soft limit on open files, from /proc/self/limits.
    fn max_open_files() -> Option<f64> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
        line["Max open files".len()..]
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// When the machine booted, in seconds since the epoch (`btime` of /proc/stat).
    fn boot_time() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        stat.lines()
            .find_map(|line| line.strip_prefix("btime "))?
            .trim()
            .parse()
            .ok()
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_described() {
        let files: Vec<std::fs::File> = (0..5)
            .map(|_| std::fs::File::open("/proc/self/stat").unwrap())
            .collect();
        let stats = ProcessStats::read();
        assert!(stats.cpu_seconds.unwrap() >= 0.0);
        assert!(stats.resident_bytes.unwrap() > 1e6, "{stats:?}");
        assert!(stats.virtual_bytes.unwrap() >= stats.resident_bytes.unwrap());
        assert!(stats.open_fds.unwrap() >= files.len() as f64, "{stats:?}");
        assert!(
            stats.max_fds.unwrap() >= stats.open_fds.unwrap(),
            "{stats:?}"
        );
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = stats.start_time_seconds.unwrap();
        assert!(
            started <= now + 1.0 && started > now - 3600.0,
            "{started} vs {now}"
        );
    }
}
