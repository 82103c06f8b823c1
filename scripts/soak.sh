#!/usr/bin/env bash
# Soak: the release exporter on a churning simulated cluster, scraped continuously on
# loopback by parallel curl loops; prints the exporter's resident memory over time.
#
#   scripts/soak.sh [MINUTES] [SCRAPERS]       (defaults: 3 minutes, 16 scrapers)
#
# Output: one line every 10 s with the elapsed time, VmRSS of the exporter and the
# scrapes answered so far; then a summary. Everything it starts, it stops (by PID).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

minutes=${1:-3}
scrapers=${2:-16}
interval=10

cargo build --release --locked --quiet
binary="${CARGO_TARGET_DIR:-target}/release/metrics-server-prom"

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# 200 pods on 5 nodes; every second usage changes and 5% of the pods are replaced.
start_simulator --nodes 5 --pods 200 --tick 1s --churn 0.05

start_exporter

rss() { awk '/^VmRSS:/ {print $2}' "/proc/$exporter/status"; }

end=$((SECONDS + minutes * 60))
for i in $(seq "$scrapers"); do
    (
        while [ "$SECONDS" -lt "$end" ]; do
            code=$(curl -s -o /dev/null -w '%{http_code}' "http://$address/metrics")
            echo "$code" >>"$work/codes.$i"
        done
    ) &
    pids+=($!)
done

echo "exporter $address (pid $exporter), $scrapers scrapers for $minutes min"
printf '%8s %12s %10s\n' elapsed_s rss_kib scrapes
start=$SECONDS
first=$(rss)
printf '%8d %12d %10d\n' 0 "$first" 0
while [ "$SECONDS" -lt "$end" ]; do
    sleep "$interval"
    answered=$(cat "$work"/codes.* 2>/dev/null | wc -l)
    printf '%8d %12d %10d\n' $((SECONDS - start)) "$(rss)" "$answered"
done
wait_for=("${pids[@]:2}")
wait "${wait_for[@]}" 2>/dev/null || true

total=$(cat "$work"/codes.* | wc -l)
ok=$(grep -c '^200$' "$work"/codes.* | awk -F: '{s += $2} END {print s}')
echo "scrapes: $total, answered 200: $ok; RSS at start ${first} KiB, at end $(rss) KiB"
[ "$total" -eq "$ok" ]
