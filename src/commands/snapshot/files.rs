//! `snapshot --every DURATION --dir DIR`: one file per interval, named as the original
//! metering middleware named them, `<name>@%Y%m%d_%H_%M.csv` in UTC (the minute the
//! interval's read started), until SIGTERM or SIGINT.
//!
//! A file appears whole or not at all: it is written under a hidden temporary name in
//! the same directory (`.<file name>.<pid>.tmp`), flushed to disk, and renamed into
//! place, and the directory is flushed too so the rename survives a crash. Two writes in
//! one minute (an interval under a minute) share a name: the later replaces the earlier,
//! as atomically. A read that fails is logged and that interval has no file; the loop
//! goes on.

use std::fs::{self, File};
use std::future::Future;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tokio::time::MissedTickBehavior;

use crate::reading::views::Rows;

use super::read::ClusterReader;

/// Where the files go and what they are called.
#[derive(Debug, Clone)]
pub struct FileSeries {
    pub dir: PathBuf,
    pub name: String,
    pub extension: &'static str,
}

impl FileSeries {
    /// The file name for a read started at `at`: `<name>@YYYYmmdd_HH_MM.<extension>`.
    pub fn file_name(&self, at: Timestamp) -> String {
        format!(
            "{}@{}.{}",
            self.name,
            at.strftime("%Y%m%d_%H_%M"),
            self.extension
        )
    }
}

/// Reads every `every` and writes each read, as `render` prints it, to a file of
/// `series`; returns once `shutdown` resolves, after any write under way has finished.
pub async fn write_every(
    reader: &ClusterReader,
    every: Duration,
    series: &FileSeries,
    render: impl Fn(&Rows) -> String,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let metadata = fs::metadata(&series.dir)
        .map_err(|error| anyhow::anyhow!("--dir {}: {error}", series.dir.display()))?;
    if !metadata.is_dir() {
        anyhow::bail!("--dir {} is not a directory", series.dir.display());
    }
    tokio::pin!(shutdown);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut written = 0u64;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = ticks.tick() => {}
        }
        let started = Timestamp::now();
        let rows = tokio::select! {
            _ = &mut shutdown => break,
            rows = reader.read() => rows,
        };
        let rows = match rows {
            Ok(rows) => rows,
            Err(error) => {
                tracing::error!("{error:#}; no file for this interval");
                continue;
            }
        };
        let contents = render(&rows);
        let dir = series.dir.clone();
        let name = series.file_name(started);
        // Not raced against the signal: a write under way always completes.
        let write =
            tokio::task::spawn_blocking(move || write_atomically(&dir, &name, contents.as_bytes()));
        match write.await {
            Ok(Ok(path)) => {
                written += 1;
                tracing::info!("wrote {}", path.display());
            }
            Ok(Err(error)) => tracing::error!(
                dir = %series.dir.display(),
                %error,
                "writing the snapshot file failed; no file for this interval"
            ),
            Err(error) => tracing::error!(%error, "writing the snapshot file panicked"),
        }
    }
    tracing::info!(files = written, "stopped");
    Ok(())
}

/// Writes `contents` to `dir/file_name` so that the name only ever shows complete
/// contents: a temporary file in `dir`, flushed, renamed into place, and `dir` flushed.
pub fn write_atomically(dir: &Path, file_name: &str, contents: &[u8]) -> io::Result<PathBuf> {
    let destination = dir.join(file_name);
    let temporary = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = File::create(&temporary)?;
        file.write_all(contents)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, &destination)
    })();
    if let Err(error) = written {
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    Ok(destination)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_by_the_minute_in_utc() {
        let series = FileSeries {
            dir: PathBuf::from("/tmp"),
            name: "metrics".into(),
            extension: "csv",
        };
        let at: Timestamp = "2024-02-29T23:59:59.9+00:00".parse().unwrap();
        assert_eq!(series.file_name(at), "metrics@20240229_23_59.csv");
        let at: Timestamp = "2024-03-01T01:05:00+02:00".parse().unwrap();
        assert_eq!(series.file_name(at), "metrics@20240229_23_05.csv");
    }

    #[test]
    fn an_atomic_write_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_atomically(dir.path(), "a@x.csv", b"one\n").unwrap();
        assert_eq!(path, dir.path().join("a@x.csv"));
        write_atomically(dir.path(), "a@x.csv", b"two\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two\n");
        let names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a@x.csv"]);
    }

    #[test]
    fn a_failed_write_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        assert!(write_atomically(&missing, "a.csv", b"x").is_err());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
