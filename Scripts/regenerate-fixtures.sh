#!/usr/bin/env bash
# regenerate-fixtures.sh — remake every test fixture that stands for
# tunwall's own output, from a real run of the code that writes it, so no
# test reads a hand-written imitation (issue 18, item 1).
#
# Usage (as root):  Scripts/regenerate-fixtures.sh
#
#   Tests/DiagramTests/Fixtures/ftp-demo.jsonl
#       the trace (--trace-json) of `tunwall demo`: a passive and an active
#       FTP download through masquerade, the built-in FTP peers, real Linux
#       TCP stacks in the lab's namespaces.
#   Tests/DiagramTests/Fixtures/outsider.jsonl
#       the trace of Topologies/ftp-masquerade.json while its outsider is
#       refused: a connection to the client dropped by the forward chain's
#       policy, one to the firewall's own address answered with a reset, and
#       the client's ping of the firewall answered by it.
#   Tests/DiagramTests/Fixtures/README.md
#       what made them: the command, the tunwall commit, the trace schema
#       version (docs/trace-schema.md) the code wrote. Every line of a trace
#       carries that version too ("v"); TraceFixtureTests fails once the code's
#       version moves past the fixtures', which is the cue to run this again.
#
# Ports, sequence numbers, times and link-local addresses change on every
# run; the tests read what they check out of the fixture rather than pinning
# such numbers. Every packet is sent inside the namespaces of the labs made
# here (tw-fixNNN-*); the labs are taken down by an EXIT trap whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
fixtures=$repo/Tests/DiagramTests/Fixtures

if [[ $(id -u) -ne 0 ]]; then
    echo "regenerate-fixtures: must run as root (network namespaces, TUN devices)" >&2
    exit 1
fi
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v ping >/dev/null || need+=(iputils-ping)
if ((${#need[@]})); then
    echo "regenerate-fixtures: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

swift build --product tunwall
tunwall=$repo/.build/debug/tunwall
work=$(mktemp -d /tmp/tunwall-fixtures.XXXXXX)
lab=fix$(($$ % 100000))
cleanup() {
    "$tunwall" lab down "$lab" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# 1. The demo, exactly as a user runs it (it takes its own lab down).
"$tunwall" demo --out "$work/demo" >"$work/demo.txt" 2>&1 || {
    cat "$work/demo.txt" >&2
    echo "regenerate-fixtures: tunwall demo failed" >&2
    exit 1
}
cp "$work/demo/trace.jsonl" "$fixtures/ftp-demo.jsonl"

# 2. The outsider refused, in the three-host FTP topology.
"$tunwall" lab up Topologies/ftp-masquerade.json --name "$lab" --daemon --trace-json "$work/outsider.jsonl" \
    >"$work/lab-up.txt" 2>&1 || { cat "$work/lab-up.txt" >&2; exit 1; }
in_lab() { "$tunwall" lab exec --lab "$lab" "$@"; }
# A connection from outside to the client: no rule lets a new one in from
# out0, so the forward chain's policy drops the SYN (bash's /dev/tcp, so no
# tool beyond bash is needed; the timeout ends the retransmissions).
in_lab outsider -- timeout 2 bash -c 'exec 3<>/dev/tcp/10.0.1.2/50000' 2>/dev/null && exit 1
# A connection to the firewall's own address: nothing listens, it resets.
in_lab outsider -- timeout 2 bash -c 'exec 3<>/dev/tcp/198.51.100.1/50000' 2>/dev/null && exit 1
# The client pings the firewall, which answers itself.
in_lab client -- ping -c 1 -W 2 10.0.1.1 >/dev/null
"$tunwall" lab down "$lab" >/dev/null
cp "$work/outsider.jsonl" "$fixtures/outsider.jsonl"

version=$(head -c 200 "$fixtures/ftp-demo.jsonl" | sed -n 's/^{"v":\([0-9]*\),.*/\1/p')
cat >"$fixtures/README.md" <<EOF
# Diagram fixtures

Made by \`sudo Scripts/regenerate-fixtures.sh\` from real runs of tunwall (never
edited by hand); run it again whenever the trace schema's version moves
(TraceFixtureTests fails then) or the engine's trace output changes.

- trace schema version: $version (docs/trace-schema.md; also \`"v"\` on every line)
- tunwall commit: $(git rev-parse --short HEAD)$(git diff --quiet -- Sources || echo " (with uncommitted changes in Sources)")
- made: $(date -u +%Y-%m-%dT%H:%M:%SZ)

| file | what ran |
|---|---|
| ftp-demo.jsonl | \`tunwall demo\`: passive then active download of 1 MB through masquerade with the FTP helper ($(($(wc -l <"$fixtures/ftp-demo.jsonl") - 1)) packets) |
| outsider.jsonl | \`tunwall lab up Topologies/ftp-masquerade.json --trace-json\`; the outsider connects to 10.0.1.2:50000 (dropped by policy) and to 198.51.100.1:50000 (reset), the client pings 10.0.1.1 ($(($(wc -l <"$fixtures/outsider.jsonl") - 1)) packets) |
EOF
echo "regenerate-fixtures: wrote $fixtures/ftp-demo.jsonl, outsider.jsonl and README.md (schema version $version)"
