#!/usr/bin/env bash
# Lists the converting inits to 8-, 16- and 32-bit integers on the packet path
# (`UInt16(x)`, `Int32(x)`, …, which trap when x does not fit) that are not
# written in a form that cannot trap (`truncatingIfNeeded:`, `clamping:`,
# `exactly:`, `bitPattern:`, `bigEndian:`, `littleEndian:`, `ascii:`) and are
# not in the allow-list of docs/packet-path-audit.md. A new one needs a proof
# in that document (and its line in the allow-list) or a non-trapping form.
# Exits 1 if there is any; entries of the allow-list no longer in the source
# are only reported.
#
# Matching is textual (an expression is its text, per file), so moving or
# reformatting code never makes noise; changing what is converted does.
set -euo pipefail
cd "$(dirname "$0")/.."
doc=docs/packet-path-audit.md
shopt -s nullglob
files=(Sources/Wire/*.swift Sources/Conntrack/*.swift Sources/FTP/*.swift Sources/TFTP/*.swift Sources/Engine/*.swift
       Sources/Rules/Evaluator.swift Sources/Rules/Ruleset.swift Sources/Rules/LogLine.swift
       Sources/TunIO/FirewallRunner.swift Sources/TunIO/TunDevice.swift)
found=$(grep -oHE '\bU?Int(8|16|32)\(([^()]|\([^()]*\))*\)' "${files[@]}" \
    | grep -vE '\((truncatingIfNeeded|clamping|exactly|bitPattern|bigEndian|littleEndian|ascii):' \
    | grep -vE ':U?Int(8|16|32)\(\)$' | LC_ALL=C sort -u || true)
allowed=$(awk '/^<!-- narrowing-allowlist -->/ { on = 1; next } /^<!-- end narrowing-allowlist -->/ { on = 0 } on && !/^```/' "$doc" \
    | LC_ALL=C sort -u)
new=$(LC_ALL=C comm -23 <(printf '%s\n' "$found") <(printf '%s\n' "$allowed") | sed '/^$/d')
gone=$(LC_ALL=C comm -13 <(printf '%s\n' "$found") <(printf '%s\n' "$allowed") | sed '/^$/d')
if [ -n "$gone" ]; then
    echo "check-narrowing: allow-list entries no longer in the source (remove them from $doc):"
    printf '  %s\n' $gone
fi
if [ -n "$new" ]; then
    echo "check-narrowing: converting inits on the packet path with no proof in $doc:"
    printf '%s\n' "$new" | sed 's/^/  /'
    echo "Prove each cannot trap (add it to the audit and its allow-list) or use truncatingIfNeeded:/clamping:/exactly:."
    exit 1
fi
echo "check-narrowing: $(printf '%s\n' "$found" | sed '/^$/d' | wc -l) converting inits, all in the audit's allow-list"
