#!/usr/bin/env bash
# Distributed training over emulated hosts: Linux network namespaces joined through a bridge by veth
# pairs, every link limited to RATE in both directions with `tc tbf`, and a one-way delay of DELAY_MS each
# direction added in user space by scripts/latency_proxy.py (this kernel has no netem): one proxy per
# worker host, inside its namespace, listening on its loopback and forwarding to the coordinator host, so
# each worker's `--connect` goes through its own delayed link. One coordinator host and up to MAX_WORKERS
# worker hosts, each worker with one thread, all on this machine's cores.
#
#   sudo scripts/dist_netns.sh BIN_DIR DATA_DIR
#   sudo RATE="none 1gbit" DELAY_MS="none 0.25 10" REPEATS=2 scripts/dist_netns.sh BIN_DIR DATA_DIR
#
# First it measures, from worker host 1 to the coordinator host, the RTT (median of 500 1-byte ping-pongs)
# and the echo throughput (PROBE_MB each way at once), directly and through the proxy. Then it trains one
# epoch for 1..MAX_WORKERS workers and both weight-sync modes and prints ms per step (the batch of 100
# divided by the training part's samples/s; maps are skipped) in a table, one column per link setting.
#
# Environment: RATE (tc rate, default 1gbit; "none" for unlimited veth) and DELAY_MS (one-way delay each
# direction in ms, default 0.25, so 0.5 ms RTT; "none" for no proxy) may each be a space-separated list:
# every combination is a link setting, and each table row runs all settings in turn (interleaved, so load
# from other jobs hits them alike), REPEATS times (default 1); a cell is the fastest repeat, and every run
# is listed after the table. SYNC (weight-sync modes, default "gradient weights"), MAX_WORKERS (default 3),
# LIMIT (training images, default 12100 = 97 steps), PROBE_MB (default 100), PROBE_ONLY=1 (measure the
# links, train nothing). Needs root, iproute2, tc and python3. The namespaces (gbns-*), proxies and
# workers are removed on exit, also on Ctrl-C; traffic stays inside the namespaces.
set -euo pipefail
usage="usage: sudo [RATE=1gbit] [DELAY_MS=0.25] [MAX_WORKERS=3] [LIMIT=12100] dist_netns.sh BIN_DIR DATA_DIR"
BIN=$(cd "${1:?$usage}" && pwd)
DATA=$(cd "${2:?$usage}" && pwd)
PROXY=$(cd "$(dirname "$0")" && pwd)/latency_proxy.py
read -r -a RATES <<< "${RATE:-1gbit}"
read -r -a DELAYS <<< "${DELAY_MS:-0.25}"
MAX_WORKERS=${MAX_WORKERS:-3}
LIMIT=${LIMIT:-12100}
REPEATS=${REPEATS:-1}
read -r -a SYNCS <<< "${SYNC:-gradient weights}"
PROBE_MB=${PROBE_MB:-100}
PROBE_ONLY=${PROBE_ONLY:-0}

fail() { echo "dist_netns.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root to create network namespaces; run it with sudo"
for tool in ip tc python3; do
    command -v "$tool" > /dev/null || fail "needs \`$tool\` (Debian: apt-get install iproute2 python3)"
done
ip netns list > /dev/null 2>&1 || fail "\`ip netns\` does not work here (kernel without network namespaces?)"
[ -x "$BIN/glassbox-coordinator" ] && [ -x "$BIN/glassbox-worker" ] \
    || fail "no glassbox-coordinator and glassbox-worker in $BIN (build with swift build -c release)"
[ "$MAX_WORKERS" -ge 1 ] 2> /dev/null || fail "MAX_WORKERS must be 1 or more"
[ "$REPEATS" -ge 1 ] 2> /dev/null || fail "REPEATS must be 1 or more"
for sync in "${SYNCS[@]}"; do
    [ "$sync" = gradient ] || [ "$sync" = weights ] || fail "SYNC must be gradient and/or weights, got $sync"
done
for d in "${DELAYS[@]}"; do
    [ "$d" = none ] || awk -v d="$d" 'BEGIN { exit !(d + 0 == d && d >= 0) }' \
        || fail "DELAY_MS must be numbers of ms or none, got $d"
done

SUBNET=10.77.0
coordinator=$SUBNET.1
tmp=$(mktemp -d)
helpers=()  # proxies and the echo server, stopped on exit
pids=()     # the workers and coordinator of the current run

cleanup() {
    for pid in "${helpers[@]}" "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
    for ns in $(ip netns list | awk '/^gbns-/ {print $1}'); do ip netns del "$ns" 2> /dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
cleanup
tmp=$(mktemp -d)

ip netns add gbns-switch
ip -n gbns-switch link add br0 type bridge
ip -n gbns-switch link set br0 up
for i in $(seq 0 "$MAX_WORKERS"); do
    ns=gbns-h$i
    ip netns add "$ns"
    ip link add gbv$i netns "$ns" type veth peer name gbp$i netns gbns-switch
    ip -n "$ns" link set gbv$i name eth0
    ip -n "$ns" addr add $SUBNET.$((i + 1))/24 dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n gbns-switch link set gbp$i master br0
    ip -n gbns-switch link set gbp$i up
done

# set_rate RATE: every link, both ends, limited to RATE (unlimited for none).
set_rate() {
    local i ns dev ns_dev
    for i in $(seq 0 "$MAX_WORKERS"); do
        for ns_dev in "gbns-h$i eth0" "gbns-switch gbp$i"; do
            read -r ns dev <<< "$ns_dev"
            ip netns exec "$ns" tc qdisc del dev "$dev" root 2> /dev/null || true
            [ "$1" = none ] || ip netns exec "$ns" tc qdisc add dev "$dev" root tbf rate "$1" burst 128kb latency 5ms
        done
    done
}

# wait_listening NS HOST PORT: waits until something in NS accepts connections on HOST:PORT.
wait_listening() {
    for _ in $(seq 100); do
        ip netns exec "$1" python3 -c "import socket; socket.create_connection(('$2', $3), 1).close()" \
            2> /dev/null && return 0
        sleep 0.05
    done
    fail "nothing accepts connections on $2:$3 in $1"
}

# start_proxy NS LISTEN_PORT UPSTREAM_PORT DELAY: a delaying proxy inside NS to the coordinator host.
start_proxy() {
    ip netns exec "$1" python3 "$PROXY" proxy --listen 127.0.0.1:"$2" --upstream "$coordinator:$3" \
        --delay-ms "$4" 2> "$tmp/proxy-$1-$2.log" &
    helpers+=($!)
    wait_listening "$1" 127.0.0.1 "$2"
}

# Delay k listens on port 6000+k (workers) and 7000+k (probe) in every worker host.
ip netns exec gbns-h0 python3 "$PROXY" echo --listen "$coordinator:7777" &
helpers+=($!)
wait_listening gbns-h0 "$coordinator" 7777
for k in "${!DELAYS[@]}"; do
    [ "${DELAYS[$k]}" = none ] && continue
    start_proxy gbns-h1 $((7000 + k)) 7777 "${DELAYS[$k]}"
    for i in $(seq 1 "$MAX_WORKERS"); do start_proxy gbns-h$i $((6000 + k)) 5555 "${DELAYS[$k]}"; done
done

setting_name() { echo "$rate, $([ "$delay" = none ] && echo "no delay" || echo "$delay ms each way")"; }

echo "$(nproc) cores shared by all hosts; $LIMIT training images; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "probes from worker host 1 to the coordinator host (rtt: median of 500 1-byte ping-pongs; echo_MBps: $PROBE_MB MB echoed, each way at once):"
for rate in "${RATES[@]}"; do
    set_rate "$rate"
    for k in "${!DELAYS[@]}"; do
        delay=${DELAYS[$k]}
        if [ "$delay" = none ]; then target=$coordinator:7777; else target=127.0.0.1:$((7000 + k)); fi
        echo "  $(setting_name): $(ip netns exec gbns-h1 python3 "$PROXY" probe --target "$target" --megabytes "$PROBE_MB")"
    done
done
[ "$PROBE_ONLY" = 1 ] && exit 0

declare -A best
rows=()
header="| workers | weight sync |"
rule="| ---: | --- |"
for rate in "${RATES[@]}"; do
    for delay in "${DELAYS[@]}"; do header+=" $(setting_name), ms/step |"; rule+=" ---: |"; done
done
runs="$tmp/runs.txt"
for sync in "${SYNCS[@]}"; do
    for n in $(seq 1 "$MAX_WORKERS"); do
        loads=""
        for r in $(seq "$REPEATS"); do
            for rate in "${RATES[@]}"; do
                set_rate "$rate"
                for k in "${!DELAYS[@]}"; do
                    delay=${DELAYS[$k]}
                    if [ "$delay" = none ]; then worker_endpoint=tcp://$coordinator:5555
                    else worker_endpoint=tcp://127.0.0.1:$((6000 + k)); fi
                    pids=()
                    for i in $(seq 1 "$n"); do
                        ip netns exec gbns-h$i "$BIN/glassbox-worker" --connect "$worker_endpoint" --data "$DATA" \
                            --threads 1 --coordinator-timeout 60 > "$tmp/worker$i.log" 2>&1 &
                        pids+=($!)
                    done
                    rm -rf "$tmp/run"
                    key="$n $sync $rate $delay"
                    # in the background, so that a signal to this script stops the run at once
                    ip netns exec gbns-h0 "$BIN/glassbox-coordinator" train --data "$DATA" --limit-train "$LIMIT" \
                        --epochs 1 --workers "$n" --bind "tcp://$coordinator:5555" --weight-sync "$sync" --no-maps \
                        --out "$tmp/run" > "$tmp/coordinator.log" 2>&1 &
                    pids+=($!)
                    if wait "${pids[-1]}"; then
                        ms=$(tail -1 "$tmp/run/metrics.csv" | cut -d, -f7 | awk '{printf "%.1f", 100000 / $1}')
                        sent=$(grep -o 'together: [0-9]*' "$tmp/coordinator.log" | awk -v n="$n" '{print int($2 / n)}')
                        load=$(cut -d' ' -f1 /proc/loadavg)
                        echo "workers $n, $sync, $(setting_name): $ms ms/step, $sent bytes sent per step per worker, load $load" >> "$runs"
                        loads+=" $load"
                        if [ -z "${best[$key]:-}" ] || awk -v a="$ms" -v b="${best[$key]}" 'BEGIN { exit !(a < b) }'; then
                            best[$key]=$ms
                        fi
                    else
                        echo "workers $n, $sync, $(setting_name): failed: $(tail -1 "$tmp/coordinator.log")" >> "$runs"
                    fi
                    wait "${pids[@]}" 2> /dev/null || true
                done
            done
        done
        row="| $n | $sync |"
        for rate in "${RATES[@]}"; do
            for delay in "${DELAYS[@]}"; do row+=" ${best["$n $sync $rate $delay"]:-failed} |"; done
        done
        rows+=("$row$(echo "$loads" | awk '{ min = max = $1; for (i = 2; i <= NF; i++) { if ($i < min) min = $i; if ($i > max) max = $i } printf " %s-%s |", min, max }')")
        echo "${rows[-1]}" >&2  # progress
    done
done
echo
echo "$header load (1 min) |"
echo "$rule ---: |"
printf '%s\n' "${rows[@]}"
echo
echo "every run (ms/step = 100,000 / training samples/s):"
cat "$runs"
