# What the soak scripts share; sourced by them, not run. Both expect `binary` (the
# exporter), `work` (a directory for logs and the kubeconfig) and `pids` (an array of
# what to stop on exit) to be set.

# Starts `simulate` on a free loopback port with the arguments given, writing
# $work/kubeconfig and $work/simulator.log; returns once it listens.
start_simulator() {
    "$binary" simulate --listen-address 127.0.0.1:0 --write-kubeconfig "$work/kubeconfig" \
        "$@" >"$work/simulator.log" 2>&1 &
    pids+=($!)
    until grep -q "listening on" "$work/simulator.log" 2>/dev/null; do sleep 0.1; done
}

# Starts the exporter on $work/kubeconfig on a free loopback port, JSON logs in
# $work/exporter.log; sets `exporter` (its PID) and `address` (host:port), and returns
# once it is ready.
start_exporter() {
    "$binary" --kubeconfig "$work/kubeconfig" --web.listen-address 127.0.0.1:0 \
        --log.format json 2>"$work/exporter.log" &
    exporter=$!
    pids+=("$exporter")
    until address=$(grep -so 'listening on http://[^/]*' "$work/exporter.log" | cut -d/ -f3) \
        && [ -n "$address" ]; do sleep 0.1; done
    until curl -fsS "http://$address/readyz" >/dev/null 2>&1; do sleep 0.1; done
}
