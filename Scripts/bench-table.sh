#!/usr/bin/env bash
# bench-table.sh: issue 17's table, made in one run (bench.sh part 4).
#
#   sudo Scripts/bench-table.sh [SECONDS] [RUNS]     (defaults 5 s, 3 runs)
#
# Client 10.0.1.2 → masquerade → server 203.0.113.10 through four routers,
# alternated run by run so that a busy moment of the machine falls on all of
# them alike:
#
#   kernel        the Linux kernel as the router (`tunwall lab up --kernel`:
#                 veth, nftables conntrack + masquerade + the FTP helper,
#                 Topologies/ftp-masquerade.json)
#   copy loop     Scripts/tun-copy.c with the same offloads (no state at all:
#                 the ceiling of a TUN program; its own namespaces, no NAT)
#   tunwall w=1   the same topology through tunwall, `--workers 1`
#   tunwall w=2   the same with two workers (multi-queue TUN)
#
# Each run measures Scripts/bench-metrics.sh's four rows; the table prints the
# median of the runs and the ratio of each tunwall to the kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-${BENCH_SECONDS:-5}}
RUNS=${2:-${BENCH_RUNS:-3}}
LAB="btab$$"
WORK=$(mktemp -d /tmp/tunwall-bench-table.XXXXXX)
cleanup() {
    .build/release/tunwall lab down "$LAB" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $(id -u) -eq 0 ]] || { echo "bench-table.sh: needs root (TUN devices, namespaces)" >&2; exit 1; }
[[ -x .build/release/tunwall ]] || swift build -c release >/dev/null
cc -O2 -Wall -Wextra -Werror -pthread -o "$WORK/conn-rate" Scripts/conn-rate.c
TOPOLOGY=Topologies/ftp-masquerade.json

# lab_metrics LABEL [lab up arguments...]: one run through a lab.
lab_metrics() {
    local label=$1
    shift
    .build/release/tunwall lab up "$TOPOLOGY" --name "$LAB" --daemon "$@" >/dev/null
    local exec=".build/release/tunwall lab exec --lab $LAB"
    Scripts/bench-metrics.sh "$exec client --" "$exec server --" 203.0.113.10 "$DURATION" "$WORK/conn-rate" \
        | sed "s/^/$label /" | tee -a "$WORK/results"
    if [[ $label == tunwall-w2 ]]; then
        # The hand-off share: packets another worker read and passed to the
        # owner, against all packets received (each counted once, by its owner).
        .build/release/tunwall stats --lab "$LAB" | python3 -c '
import re, sys
text = sys.stdin.read()
received = sum(int(m.group(1)) for m in re.finditer(r"^(?:lan0|wan0|out0)\s+(\d+)", text, re.M))
handed = re.search(r"handed off to their owner: (\d+)", text)
handed = int(handed.group(1)) if handed else 0
print("    tunwall w=2: %d of %d packets handed off (%.2f %%)" % (handed, received, 100.0 * handed / max(1, received)))' >&2 || true
    fi
    .build/release/tunwall lab down "$LAB" >/dev/null
}

for run in $(seq "$RUNS"); do
    echo "-- run $run of $RUNS" >&2
    lab_metrics kernel --kernel
    Scripts/bench-copyloop.sh metrics "$WORK/conn-rate" "$DURATION" | grep -E '^(tcp1|tcp4|udp64|conn) ' \
        | sed 's/^/copyloop /' | tee -a "$WORK/results"
    lab_metrics tunwall-w1 -- --workers 1
    lab_metrics tunwall-w2 -- --workers 2
done

python3 - "$WORK/results" <<'PY'
import statistics, sys
values = {}
for line in open(sys.argv[1]):
    target, metric, value = line.split()
    values.setdefault((target, metric), []).append(float(value))
def median(target, metric):
    v = values.get((target, metric))
    return statistics.median(v) if v else float("nan")
rows = [("tcp1", "one TCP stream", "Gbit/s", "%.1f"), ("tcp4", "four TCP streams", "Gbit/s", "%.1f"),
        ("udp64", "64-byte UDP, received", "k/s", "%.0f"), ("conn", "new TCP connections/s", "k", "%.1f")]
print("| metric | Linux kernel | C copy loop | tunwall w=1 | tunwall w=2 | w=1 / kernel | w=2 / kernel | w=2 / w=1 |")
print("|---|---|---|---|---|---|---|---|")
for metric, label, unit, fmt in rows:
    scale = 1000 if unit in ("k/s", "k") else 1
    k, c, t1, t2 = (median(t, metric) for t in ("kernel", "copyloop", "tunwall-w1", "tunwall-w2"))
    cell = lambda x: (fmt % (x / scale)) + ("" if unit == "Gbit/s" else " k")
    print(f"| {label} | {cell(k)}{' Gbit/s' if unit == 'Gbit/s' else ''} | {cell(c)} | {cell(t1)} | {cell(t2)} "
          f"| {t1 / k:.2f} | {t2 / k:.2f} | {t2 / t1:.2f} |")
print(f"\n(medians of {len(values.get(('kernel', 'tcp1'), []))} runs each)")
PY
