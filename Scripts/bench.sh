#!/usr/bin/env bash
# bench.sh: what tunwall costs, measured (not asserted by any test).
#
#   sudo Scripts/bench.sh [SECONDS]          (default 10 s per throughput run)
#
#  1. The engine's fast path in process: ns per packet and heap allocations
#     per packet for packets of one established TCP connection
#     (`tunwall bench engine`, with Scripts/malloc-count.c preloaded to count
#     malloc calls). Targets: 0 allocations, under 200 ns. Then the same for
#     a masqueraded connection (`tunwall bench nat`) and for a 1,000-rule
#     chain every packet walks to its end (`tunwall bench rules`), and the
#     cost per datagram of reassembly and refragmentation (`tunwall bench
#     fragments`: 4,096 bytes of UDP in three IPv4 fragments), the
#     impairment stage (`tunwall bench impair`): configured but zero (target:
#     the fast path's cost), and with 10,000 packets in the delay queue
#     (target: 0 allocations per packet).
#     Then what a
#     new connection costs (`tunwall bench connections`: TCP SYNs through a
#     stateful forward chain and masquerade, each a new connection; target
#     under 1 us and 0 allocations once the table has grown), and the flow
#     table's memory and speed at 1,000,000 connections (`tunwall bench
#     table`: bytes per connection by the table's accounting and by resident
#     memory; target <= 256 B). And the fast path as one of two workers
#     (`tunwall bench steering`: the directory lookup, then every packet
#     handed off through the ring; target: 0 allocations per packet).
#  2. TCP throughput, one iperf3 stream, client to server:
#     a. through tunwall (Topologies/basic.json, `tunwall lab up`), and through
#        tunwall masquerading it (Topologies/masquerade.json), and
#     b. through Scripts/tun-copy.c, a bare C loop that copies packets between
#        two TUN devices with the same offloads (IFF_VNET_HDR, TSO),
#     and their ratio (target >= 0.8).
#  3. An FTP download of a 200 MB file (pyftpdlib serving, curl fetching,
#     median of three), passive and active, through tunwall with the FTP
#     helper and masquerade (Topologies/ftp-masquerade.json), and through the
#     C copy loop; ratios reported.
#  4. Issue 17's table (Scripts/bench-table.sh): one TCP stream, four TCP
#     streams, 64-byte UDP received and new TCP connections a second, through
#     the Linux kernel as the router, the C copy loop, and tunwall with one
#     and with two workers, alternated, medians of three runs, ratios to the
#     kernel; then bytes per connection at 1 M connections and ns per new
#     connection in process (from part 1's benches, printed again beside it).
#     `BENCH_TABLE_ONLY=1` runs this part alone.
# Every packet stays in namespaces this script creates; all are removed on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-${BENCH_SECONDS:-10}}
LAB="bench$$"
WORK=$(mktemp -d /tmp/tunwall-bench.XXXXXX)

cleanup() {
    [[ -x .build/release/tunwall ]] && .build/release/tunwall lab down "$LAB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $(id -u) -eq 0 ]] || { echo "bench.sh: needs root (TUN devices, namespaces)" >&2; exit 1; }
for package in iperf3 iproute2 python3 curl python3-pyftpdlib; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        echo "bench.sh: installing $package" >&2
        (apt-get install -y -qq "$package" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$package" >/dev/null; })
    fi
done

swift build -c release >/dev/null
cc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$WORK/malloc-count.so" Scripts/malloc-count.c

# table_part: part 4, also run alone with BENCH_TABLE_ONLY=1.
table_part() {
    echo "== 4. issue 17's table (medians of ${BENCH_RUNS:-3} runs, ${BENCH_TABLE_SECONDS:-5} s each)"
    Scripts/bench-table.sh "${BENCH_TABLE_SECONDS:-5}" "${BENCH_RUNS:-3}"
    echo
    LD_PRELOAD="$WORK/malloc-count.so" .build/release/tunwall bench table --connections 1000000 \
        | grep -E 'table memory|resident growth' | sed 's/^/  bytes per connection at 1 M: /'
    LD_PRELOAD="$WORK/malloc-count.so" .build/release/tunwall bench connections | grep -E 'ns per connection' | sed 's/^/  new connection in process: /'
}
if [[ ${BENCH_TABLE_ONLY:-0} == 1 ]]; then
    table_part
    exit 0
fi

echo "== 1. engine fast path (in process, release build)"
first=1
for kind in engine nat tap rules fragments impair connections table steering; do
    [[ $first == 1 ]] || echo
    first=0
    LD_PRELOAD="$WORK/malloc-count.so" .build/release/tunwall bench "$kind"
done

echo
# iperf_through TOPOLOGY: Gbit/s of one iperf3 stream client -> server in that lab.
iperf_through() {
    .build/release/tunwall lab up "$1" --name "$LAB" --daemon >/dev/null
    .build/release/tunwall lab exec --lab "$LAB" server -- iperf3 -s -1 >/dev/null 2>&1 &
    sleep 1
    .build/release/tunwall lab exec --lab "$LAB" client -- iperf3 -c 203.0.113.10 -t "$DURATION" -J >"$WORK/iperf.json"
    .build/release/tunwall stats --lab "$LAB" | sed -n '1,4p' >&2
    .build/release/tunwall lab down "$LAB" >/dev/null
    python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["end"]["sum_received"]["bits_per_second"] / 1e9)' "$WORK/iperf.json"
}

echo "== 2a. iperf3 through tunwall (${DURATION} s, one stream)"
tunwall_gbps=$(iperf_through Topologies/basic.json)
printf 'tunwall: %.2f Gbit/s\n' "$tunwall_gbps"
echo
echo "== 2a'. iperf3 through tunwall masquerading (Topologies/masquerade.json)"
nat_gbps=$(iperf_through Topologies/masquerade.json)
printf 'tunwall with masquerade: %.2f Gbit/s\n' "$nat_gbps"

echo
echo "== 2b. iperf3 through the bare C copy loop (same offloads)"
Scripts/bench-copyloop.sh "$DURATION" | tee "$WORK/copy.txt"
copy_gbps=$(grep 'vnet=yes' "$WORK/copy.txt" | sed -E 's/.*: ([0-9.]+) Gbit.*/\1/')

echo
python3 - "$tunwall_gbps" "$nat_gbps" "$copy_gbps" <<'PY'
import sys
tunwall, nat, copy = (float(x) for x in sys.argv[1:4])
print(f"ratio tunwall / copy loop (vnet):              {tunwall:.2f} / {copy:.2f} = {tunwall / copy:.2f}  (target >= 0.8)")
print(f"ratio tunwall masquerading / copy loop (vnet): {nat:.2f} / {copy:.2f} = {nat / copy:.2f}  (target >= 0.8)")
PY

echo
echo "== 3. FTP download of a 200 MB file (median of 3): tunwall (FTP helper + masquerade) vs the C copy loop"
truncate -s 200M "$WORK/big.bin"
.build/release/tunwall lab up Topologies/ftp-masquerade.json --name "$LAB" --daemon >/dev/null
.build/release/tunwall lab exec --lab "$LAB" server -- /usr/bin/python3 -m pyftpdlib -p 21 -i 203.0.113.10 -d "$WORK" >/dev/null 2>&1 &
sleep 1
for mode in passive active; do
    flags=()
    [[ $mode == active ]] && flags=(-P -)
    for _ in 1 2 3; do
        .build/release/tunwall lab exec --lab "$LAB" client -- curl -sS --max-time 300 "${flags[@]}" -o /dev/null \
            -w '%{speed_download}\n' ftp://203.0.113.10/big.bin
    done | python3 -c 'import sys, statistics; print("tunwall ftp %s: %.1f MB/s" % (sys.argv[1], statistics.median(float(l) for l in sys.stdin) / 1e6))' "$mode"
done | tee "$WORK/ftp-tunwall.txt"
.build/release/tunwall stats --lab "$LAB" | sed -n '/ftp helper/,/^$/p' >&2
.build/release/tunwall lab down "$LAB" >/dev/null
Scripts/bench-copyloop.sh ftp "$WORK/big.bin" | tee "$WORK/ftp-copy.txt"
python3 - "$WORK/ftp-tunwall.txt" "$WORK/ftp-copy.txt" <<'PY'
import re, sys
def rates(path):
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"ftp (\w+): ([0-9.]+) MB/s", open(path).read())}
tunwall, copy = rates(sys.argv[1]), rates(sys.argv[2])
for mode in ("passive", "active"):
    print(f"ratio tunwall / copy loop, ftp {mode}: {tunwall[mode]:.1f} / {copy[mode]:.1f} MB/s = {tunwall[mode] / copy[mode]:.2f}")
PY

echo
table_part
