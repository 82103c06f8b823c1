#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for MINUTES each, one after another, on its committed
# corpus (fuzz/corpus/TARGET, grown in a scratch copy so the committed one stays small);
# a target that fails leaves its input in fuzz/artifacts/TARGET/, the others still run,
# and the script exits non-zero naming the targets that failed.
#
#   scripts/fuzz.sh [MINUTES] [TARGET...]      (defaults: 10 minutes, every target)
#
# cargo-fuzz builds with nightly-only flags (-Zsanitizer=address, sancov passes). Only a
# stable toolchain exists here, so RUSTC_BOOTSTRAP=1 lets this stable rustc accept them;
# it changes nothing else about the build. Installs cargo-fuzz when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_FUZZ_VERSION=0.13.1
export RUSTC_BOOTSTRAP=1

minutes=${1:-10}
shift || true
if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi
cd fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi
cargo fuzz build -O

failed=()
for target in "${targets[@]}"; do
    scratch=$(mktemp -d)
    cp -r "corpus/$target/." "$scratch/" 2>/dev/null || true
    echo "== $target for $minutes min"
    extra=()
    [ -f "dictionaries/$target.dict" ] && extra+=("-dict=dictionaries/$target.dict")
    mkdir -p "corpus/$target"
    status=0
    cargo fuzz run -O "$target" "$scratch" "corpus/$target" -- \
        -max_total_time=$((minutes * 60)) -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
        "${extra[@]}" >"$scratch.log" 2>&1 || status=$?
    grep -E '^(#[0-9]+[[:space:]]+DONE|stat::|==[0-9]+==|SUMMARY|thread .* panicked|Done)' "$scratch.log" || true
    [ "$status" -eq 0 ] || tail -n 40 "$scratch.log"
    rm -rf "$scratch" "$scratch.log"
    if [ "$status" -ne 0 ]; then
        echo "$target failed (status $status); see fuzz/artifacts/$target/"
        failed+=("$target")
    fi
done
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]}"
    exit 1
fi
