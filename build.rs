//! Build information for `kube_metrics_server_build_info`: the git commit and branch the
//! binary is built from ("unknown" outside a git checkout, as in the container image's
//! build context) and the compiler's version.

use std::process::Command;

fn main() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty())
    };
    let revision = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    let branch = git(&["rev-parse", "--abbrev-ref", "HEAD"])
        .filter(|branch| branch != "HEAD")
        .unwrap_or_else(|| "unknown".to_owned());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let rust_version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .and_then(|text| text.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=BUILD_REVISION={revision}");
    println!("cargo:rustc-env=BUILD_BRANCH={branch}");
    println!("cargo:rustc-env=BUILD_RUST_VERSION={rust_version}");
    // A new commit moves HEAD or the branch it names. In a worktree HEAD is in its own
    // git dir and the branches in the common one; a path that does not exist would
    // make cargo rerun this (and rebuild the crate) on every build.
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        let common = git(&["rev-parse", "--git-common-dir"]).unwrap_or(dir);
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            let loose = std::path::Path::new(&common).join(&reference);
            if loose.exists() {
                println!("cargo:rerun-if-changed={}", loose.display());
            } else {
                println!("cargo:rerun-if-changed={common}/packed-refs");
            }
        }
    }
    println!("cargo:rerun-if-changed=build.rs");
}
