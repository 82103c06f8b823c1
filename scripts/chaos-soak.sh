#!/usr/bin/env bash
# Chaos soak: the release exporter against a simulated cluster that misbehaves on a
# schedule (`simulate --chaos`: connections refused, bodies cut mid-way, 429 with
# Retry-After, 410 Gone on watches, slow bodies), with 200 pods of which 5% are replaced
# every tick. Two Prometheus-like scrapers ask every 15 s (OpenMetrics preferred, gzip),
# and every few minutes a burst of 100 concurrent scrapes arrives.
#
#   scripts/chaos-soak.sh [MINUTES] [SCHEDULE]      (defaults: 30 minutes, the schedule below)
#
# Prints one row a minute: answers by status, how many said kube_metrics_server_up 1,
# the exporter's RSS, open file descriptors and threads, and what the API server saw
# (metrics lists, pod lists i.e. relists, pod watches started), with the faults of the
# minute. Exits non-zero if any scrape was answered other than 200. Everything it
# starts, it stops (by PID). Set KEEP=DIR to keep the raw logs in DIR.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

minutes=${1:-30}
schedule=${2:-calm=60s,refuse=20s,calm=60s,reset=30s,calm=60s,throttle=30s,calm=60s,gone=30s,calm=60s,slow=60s}
interval=15
burst_every=${BURST_EVERY:-180}
burst_size=100
accept='application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1'

cargo build --release --locked --quiet
binary="${CARGO_TARGET_DIR:-target}/release/metrics-server-prom"

work=${KEEP:-$(mktemp -d)}
mkdir -p "$work"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

start_simulator --nodes 5 --pods 200 --tick 1s --churn 0.05 --chaos "$schedule"
api=$(grep -o 'http://[0-9.:]*' "$work/simulator.log" | head -n1)

start_exporter

start=$(date +%s)
end=$((start + minutes * 60))

# One scrape as Prometheus makes it; appends "epoch code up kind" to scrapes.log.
scrape() {
    local kind=$1 body code up
    body=$(mktemp -p "$work")
    code=$(curl -s --compressed --max-time 10 -o "$body" -w '%{http_code}' \
        -H "Accept: $accept" -H 'Accept-Encoding: gzip' "http://$address/metrics" || true)
    up=$(awk '$1 == "kube_metrics_server_up" {print $2 + 0}' "$body")
    rm -f "$body"
    echo "$(date +%s) ${code:-000} ${up:--} $kind" >>"$work/scrapes.log"
}
export -f scrape
export work address accept
touch "$work/scrapes.log"

# Two scrapers, half an interval apart, as an HA pair of Prometheus servers.
for offset in 0 $((interval / 2)); do
    (
        sleep "$offset"
        while [ "$(date +%s)" -lt "$end" ]; do
            scrape prometheus &
            sleep "$interval"
        done
        wait
    ) &
    pids+=($!)
done

# Bursts of concurrent scrapes.
(
    while sleep "$burst_every" && [ "$(date +%s)" -lt "$end" ]; do
        seq "$burst_size" | xargs -P "$burst_size" -I{} bash -c 'scrape burst'
    done
) &
pids+=($!)

# Every 5 s: the exporter's RSS, fds and threads; the API server's request counts and
# the fault in force (the API server cannot be asked while it refuses: "-").
(
    while [ "$(date +%s)" -lt "$end" ]; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$exporter/status")
        fds=$(find "/proc/$exporter/fd" -mindepth 1 -maxdepth 1 | wc -l)
        tasks=$(find "/proc/$exporter/task" -mindepth 1 -maxdepth 1 | wc -l)
        requests=$(curl -s --max-time 2 "$api/simulator/requests" \
            | jq -r '"\(.pod_metrics_lists + .node_metrics_lists) \(.pod_lists) \(.pod_watches)"' 2>/dev/null \
            || true)
        fault=$(curl -s --max-time 2 "$api/simulator/chaos" | jq -r .fault 2>/dev/null || true)
        echo "$(date +%s) $rss $fds $tasks ${requests:-- - -} ${fault:-refuse?}" >>"$work/samples.log"
        sleep 5
    done
) &
pids+=($!)

echo "exporter $address (pid $exporter), API $api, $minutes min, schedule $schedule"
echo "bursts of $burst_size concurrent scrapes every ${burst_every}s; 2 scrapers every ${interval}s"
printf '%4s %6s %6s %6s %5s %8s %5s %6s %7s %6s %6s  %s\n' \
    min 200 other up1 up0 rss_kib fds tasks metrics relist watch faults

# One row for the minute [from, to): answers, up, the last sample, request deltas.
row() {
    local minute=$1 from=$2 to=$3
    awk -v from="$from" -v to="$to" -v minute="$minute" '
        FNR == 1 { file++ }
        file == 1 && $1 >= from && $1 < to {
            if ($2 == "200") ok++; else other++
            if ($3 == "1") up1++; else if ($3 == "0") up0++
        }
        file == 2 && $1 < to {
            if ($1 < from && $5 != "-") { m0 = $5; l0 = $6; w0 = $7 }
            if ($1 >= from) {
                rss = $2; fds = $3; tasks = $4
                if ($5 != "-") { m1 = $5; l1 = $6; w1 = $7; has1 = 1 }
                if (!(($8) in seen)) { seen[$8] = 1; faults = faults (faults ? "," : "") $8 }
            }
        }
        END {
            if (!has1) { m1 = m0; l1 = l0; w1 = w0 }
            printf "%4d %6d %6d %6d %5d %8d %5d %6d %7d %6d %6d  %s\n", minute, ok, other,
                up1, up0, rss, fds, tasks, m1 - m0, l1 - l0, w1 - w0, faults
        }' "$work/scrapes.log" "$work/samples.log"
}

for minute in $(seq 1 "$minutes"); do
    until [ "$(date +%s)" -ge $((start + minute * 60 + 2)) ]; do sleep 1; done
    row "$minute" $((start + (minute - 1) * 60)) $((start + minute * 60))
done
wait "${pids[@]:2}" 2>/dev/null || true

total=$(wc -l <"$work/scrapes.log")
ok=$(awk '$2 == "200"' "$work/scrapes.log" | wc -l)
bursts=$(awk '$4 == "burst"' "$work/scrapes.log" | wc -l)
echo "scrapes: $total ($bursts in bursts), answered 200: $ok"
echo "answers by status: $(awk '{print $2}' "$work/scrapes.log" | sort | uniq -c | tr -s ' ' | tr '\n' ';')"
echo "simulator: $(curl -s "$api/simulator/requests")"
echo "chaos: $(curl -s "$api/simulator/chaos")"
echo "exporter warnings and errors: $(grep -c '"level":"\(WARN\|ERROR\)"' "$work/exporter.log" || true)"
[ "$total" -eq "$ok" ]
