#!/usr/bin/env bash
# bench-copyloop.sh: throughput of the bare C TUN-to-TUN copy loop
# (Scripts/tun-copy.c), the baseline tunwall's own numbers are compared with.
#
#   sudo Scripts/bench-copyloop.sh [SECONDS]        (or BENCH_SECONDS=N; default 10)
#   sudo Scripts/bench-copyloop.sh ftp FILE         FTP downloads of FILE instead
#                                                   (vnet mode only; pyftpdlib
#                                                   serves, curl fetches, passive
#                                                   then active)
#   sudo Scripts/bench-copyloop.sh metrics CONN-RATE SECONDS
#                                                   issue 17's four rows
#                                                   (Scripts/bench-metrics.sh;
#                                                   vnet mode only)
#
# Topology, per mode (plain, then --vnet with TSO offloads):
#
#   ns bench-PID-a                  root ns                  ns bench-PID-b
#   iperf3 -c 10.77.0.2  ── tcaPID ══ tun-copy ══ tcbPID ──  iperf3 -s
#   10.77.0.1 peer .2                                        10.77.0.2 peer .1
#
# tun-copy only copies packets between its two fds; no traffic starts or ends
# in the root namespace. Both namespaces are deleted on any exit.
# (Not $SECONDS: bash keeps its own count of seconds in that variable.)
set -euo pipefail

WORKLOAD=iperf
FTP_FILE=""
if [[ ${1:-} == ftp ]]; then
    WORKLOAD=ftp
    FTP_FILE=$(realpath "${2:?bench-copyloop: ftp needs a FILE}")
    shift 2
elif [[ ${1:-} == metrics ]]; then
    WORKLOAD=metrics
    CONN_RATE=$(realpath "${2:?bench-copyloop: metrics needs the built conn-rate}")
    shift 2
fi
DURATION=${1:-${BENCH_SECONDS:-10}}
HERE=$(cd "$(dirname "$0")" && pwd)
NS_A="bench-$$-a"
NS_B="bench-$$-b"
DEV_A="tca$$"
DEV_B="tcb$$"
WORK=$(mktemp -d /tmp/bench-copyloop.XXXXXX)
COPY_PID=""
SERVER_PID=""

cleanup() {
    [[ -n "$SERVER_PID" ]] && kill "$SERVER_PID" 2>/dev/null || true
    [[ -n "$COPY_PID" ]] && kill -INT "$COPY_PID" 2>/dev/null || true
    [[ -n "$COPY_PID" ]] && wait "$COPY_PID" 2>/dev/null || true
    ip netns delete "$NS_A" 2>/dev/null || true
    ip netns delete "$NS_B" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $(id -u) -eq 0 ]] || { echo "bench-copyloop: needs root (TUN devices, namespaces)" >&2; exit 1; }
for tool in ip cc python3; do
    command -v "$tool" >/dev/null || { echo "bench-copyloop: $tool is missing" >&2; exit 1; }
done
if ! command -v iperf3 >/dev/null; then
    echo "bench-copyloop: installing iperf3" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq iperf3 >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq iperf3 >/dev/null; }
fi

cc -O2 -Wall -Wextra -Werror -o "$WORK/tun-copy" "$HERE/tun-copy.c"

# iperf_run LABEL: one iperf3 stream from A to B through the copy loop.
iperf_run() {
    ip netns exec "$NS_B" iperf3 -s -1 >/dev/null 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 50); do
        ip netns exec "$NS_B" ss -ltnH 'sport = :5201' | grep -q . && break
        sleep 0.1
    done

    ip netns exec "$NS_A" iperf3 -c 10.77.0.2 -t "$DURATION" -J >"$WORK/iperf.json"
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# ftp_downloads: FTP_FILE served by pyftpdlib in B (sendfile), fetched by curl
# in A, passive then active; prints "copy-loop ftp MODE: N MB/s" lines.
ftp_downloads() {
    ip netns exec "$NS_B" /usr/bin/python3 -m pyftpdlib -p 21 -i 10.77.0.2 -d "$(dirname "$FTP_FILE")" >/dev/null 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 50); do
        ip netns exec "$NS_B" ss -ltnH 'sport = :21' | grep -q . && break
        sleep 0.1
    done
    local mode
    for mode in passive active; do
        local flags=()
        [[ $mode == active ]] && flags=(-P -)
        # The median of three downloads.
        for _ in 1 2 3; do
            ip netns exec "$NS_A" curl -sS --max-time 300 "${flags[@]}" -o /dev/null -w '%{speed_download}\n' \
                "ftp://10.77.0.2/$(basename "$FTP_FILE")"
        done | python3 -c 'import sys, statistics; print("copy-loop ftp %s: %.1f MB/s" % (sys.argv[1], statistics.median(float(l) for l in sys.stdin) / 1e6))' "$mode"
    done
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
}

# run_mode LABEL [--vnet]: one measurement; prints the line and tun-copy's counts.
run_mode() {
    local label=$1
    shift
    ip netns add "$NS_A"
    ip netns add "$NS_B"

    "$WORK/tun-copy" "$DEV_A" "$DEV_B" "$@" >"$WORK/copy.out" 2>"$WORK/copy.err" &
    COPY_PID=$!
    for _ in $(seq 50); do
        grep -q '^ready$' "$WORK/copy.out" 2>/dev/null && break
        kill -0 "$COPY_PID" 2>/dev/null || { cat "$WORK/copy.err" >&2; exit 1; }
        sleep 0.1
    done
    grep -q '^ready$' "$WORK/copy.out" || { echo "bench-copyloop: tun-copy never became ready" >&2; exit 1; }

    ip link set "$DEV_A" netns "$NS_A"
    ip link set "$DEV_B" netns "$NS_B"
    ip -n "$NS_A" addr add 10.77.0.1 peer 10.77.0.2 dev "$DEV_A"
    ip -n "$NS_B" addr add 10.77.0.2 peer 10.77.0.1 dev "$DEV_B"
    ip -n "$NS_A" link set "$DEV_A" mtu 1500 up
    ip -n "$NS_B" link set "$DEV_B" mtu 1500 up
    ip -n "$NS_A" link set lo up
    ip -n "$NS_B" link set lo up

    if [[ $WORKLOAD == ftp ]]; then
        ftp_downloads
    elif [[ $WORKLOAD == metrics ]]; then
        "$HERE/bench-metrics.sh" "ip netns exec $NS_A" "ip netns exec $NS_B" 10.77.0.2 "$DURATION" "$CONN_RATE"
    else
        iperf_run "$label"
    fi

    kill -INT "$COPY_PID"
    wait "$COPY_PID" || true
    COPY_PID=""

    if [[ $WORKLOAD == iperf ]]; then
        local rate
        rate=$(python3 -c 'import json,sys; print("%.2f" % (json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9))' "$WORK/iperf.json")
        echo "copy-loop (vnet=$label): $rate Gbit/s"
        sed 's/^/    /' "$WORK/copy.out" | grep -v 'ready$'
    fi

    ip netns delete "$NS_A"
    ip netns delete "$NS_B"
}

if [[ $WORKLOAD == ftp || $WORKLOAD == metrics ]]; then
    run_mode yes --vnet
else
    run_mode no
    run_mode yes --vnet
fi
