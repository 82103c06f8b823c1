use std::process::ExitCode;

use clap::Parser;
use metrics_server_prom::config::Cli;
use metrics_server_prom::{commands, spare_buffers, telemetry};

fn main() -> ExitCode {
    return_large_buffers_to_the_kernel();
    let cli = Cli::parse();
    telemetry::init(&cli.log);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("starting the async runtime");
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Buffers of a megabyte or more are mapped from the kernel and given back when freed.
/// glibc would otherwise raise its mmap threshold as large blocks are freed and keep
/// whatever a read happened to free, in pieces the next read may not fit; at 150,000
/// pods that took peak RSS from about 110 MB to about 170 MB (BENCHMARKS.md). What is
/// worth keeping between reads is kept on purpose, whole ([`spare_buffers`]).
fn return_large_buffers_to_the_kernel() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it runs before any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, spare_buffers::MAPPED_BYTES as i32);
    }
}
