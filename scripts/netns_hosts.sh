#!/usr/bin/env bash
# Emulated hosts for tests: Linux network namespaces NAME-h0 .. NAME-hN joined through a bridge in
# NAME-sw by veth pairs, host i at SUBNET.(i+1)/24, every link limited to RATE with `tc tbf` (this kernel
# has no netem). Traffic stays inside the namespaces. Needs root and iproute2.
#
#   scripts/netns_hosts.sh up NAME N SUBNET [RATE]     e.g. up gbt1 3 10.78.1 1gbit   (RATE none: unlimited)
#   scripts/netns_hosts.sh link NAME I down|up         cut or restore host I's link (both ends)
#   scripts/netns_hosts.sh down NAME                   remove every namespace NAME-* (and what runs in them)
set -euo pipefail
fail() { echo "netns_hosts.sh: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (network namespaces)"
command -v ip > /dev/null || fail "needs ip (Debian: apt-get install iproute2)"

down() {
    local ns pid
    for ns in $(ip netns list | awk -v p="$1-" 'index($1, p) == 1 {print $1}'); do
        for pid in $(ip netns pids "$ns" 2> /dev/null); do kill -9 "$pid" 2> /dev/null || true; done
        ip netns del "$ns" 2> /dev/null || true
    done
}

case "${1:-}" in
up)
    name=${2:?NAME}; n=${3:?N}; subnet=${4:?SUBNET}; rate=${5:-1gbit}
    [[ "$name" =~ ^[a-z0-9]{1,8}$ ]] || fail "NAME must be 1-8 lower-case letters or digits, got $name"
    [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 50 ] || fail "N must be 1 to 50, got $n"
    [[ "$subnet" =~ ^10\.[0-9]+\.[0-9]+$ ]] || fail "SUBNET must be 10.X.Y (a private /24 inside the namespaces), got $subnet"
    command -v tc > /dev/null || [ "$rate" = none ] || fail "needs tc for a rate limit (apt-get install iproute2)"
    down "$name"
    ip netns add "$name-sw"
    ip -n "$name-sw" link add br0 type bridge
    ip -n "$name-sw" link set br0 up
    for i in $(seq 0 "$n"); do
        ns=$name-h$i
        ip netns add "$ns"
        ip link add "${name}v$i" netns "$ns" type veth peer name "${name}p$i" netns "$name-sw"
        ip -n "$ns" link set "${name}v$i" name eth0
        ip -n "$ns" addr add "$subnet.$((i + 1))/24" dev eth0
        ip -n "$ns" link set lo up
        ip -n "$ns" link set eth0 up
        ip -n "$name-sw" link set "${name}p$i" master br0
        ip -n "$name-sw" link set "${name}p$i" up
        if [ "$rate" != none ]; then
            ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst 128kb latency 5ms
            ip netns exec "$name-sw" tc qdisc add dev "${name}p$i" root tbf rate "$rate" burst 128kb latency 5ms
        fi
    done
    ;;
link)
    name=${2:?NAME}; i=${3:?I}; state=${4:?down or up}
    [ "$state" = down ] || [ "$state" = up ] || fail "the link state must be down or up, got $state"
    ip -n "$name-h$i" link set eth0 "$state"
    ip -n "$name-sw" link set "${name}p$i" "$state"
    ;;
down)
    down "${2:?NAME}"
    ;;
*)
    fail "usage: netns_hosts.sh up NAME N SUBNET [RATE] | link NAME I down|up | down NAME"
    ;;
esac
