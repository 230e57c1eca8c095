#!/usr/bin/env bash
# Distributed training over emulated hosts: Linux network namespaces joined through a bridge by veth
# pairs, every link limited to RATE (default 1gbit) in both directions with `tc tbf` (this kernel has no
# netem, so no added latency). One coordinator host and up to MAX_WORKERS worker hosts, each worker with
# one thread; prints samples/s and step time for 1..MAX_WORKERS workers and both weight-sync modes.
#
#   sudo scripts/dist_netns.sh BIN_DIR DATA_DIR
#
# Environment: RATE (tc rate, default 1gbit; "none" for unlimited veth), MAX_WORKERS (default 3),
# LIMIT (training images, default 12100 = 97 steps). Needs root, iproute2 and tc. The namespaces are
# named gbns-* and removed on exit; traffic stays inside them.
set -euo pipefail
BIN=$(cd "${1:?usage: dist_netns.sh BIN_DIR DATA_DIR}" && pwd)
DATA=$(cd "${2:?usage: dist_netns.sh BIN_DIR DATA_DIR}" && pwd)
RATE=${RATE:-1gbit}
MAX_WORKERS=${MAX_WORKERS:-3}
LIMIT=${LIMIT:-12100}
SUBNET=10.77.0
tmp=$(mktemp -d)

cleanup() {
    for ns in $(ip netns list | awk '/^gbns-/ {print $1}'); do ip netns del "$ns" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
cleanup
tmp=$(mktemp -d)

limit() {  # limit NAMESPACE DEVICE
    if [ "$RATE" != none ]; then
        ip netns exec "$1" tc qdisc add dev "$2" root tbf rate "$RATE" burst 128kb latency 5ms
    fi
}

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
    limit "$ns" eth0
    limit gbns-switch gbp$i
done

echo "links: $RATE each way (tc tbf), no added latency; $(nproc) cores shared by all hosts; $LIMIT training images"
echo
echo "| workers | weight sync | samples/s | ms per step | bytes sent per step per worker |"
echo "| ---: | --- | ---: | ---: | ---: |"
endpoint=tcp://$SUBNET.1:5555
for sync in gradient weights; do
    for n in $(seq 1 "$MAX_WORKERS"); do
        pids=()
        for i in $(seq 1 "$n"); do
            ip netns exec gbns-h$i "$BIN/glassbox-worker" --connect "$endpoint" --data "$DATA" --threads 1 \
                --coordinator-timeout 60 > "$tmp/worker$i.log" 2>&1 &
            pids+=($!)
        done
        rm -rf "$tmp/run"
        if ip netns exec gbns-h0 "$BIN/glassbox-coordinator" train --data "$DATA" --limit-train "$LIMIT" --epochs 1 \
                --workers "$n" --bind "$endpoint" --weight-sync "$sync" --out "$tmp/run" > "$tmp/coordinator.log" 2>&1; then
            sps=$(tail -1 "$tmp/run/metrics.csv" | cut -d, -f7)
            sent=$(grep -o 'together: [0-9]*' "$tmp/coordinator.log" | awk -v n="$n" '{print int($2 / n)}')
            echo "| $n | $sync | $sps | $(awk -v s="$sps" 'BEGIN {printf "%.1f", 100000 / s}') | $sent |"
        else
            echo "| $n | $sync | failed: $(tail -1 "$tmp/coordinator.log") | | |"
        fi
        wait "${pids[@]}" 2>/dev/null || true
    done
done
