#!/usr/bin/env bash
# record-nft-errors.sh — write down what the real nft says about every file in
# Tests/RulesTests/Invalid/, so tunwall's error text can be compared with
# nft's by name (NFTAgreementTests), and a change in either shows.
#
# Usage (as root):  Scripts/record-nft-errors.sh
#
# For each Invalid/NAME.nft it writes Invalid/NAME.nft-says: nft's output,
# byte for byte (stdout and stderr; empty when nft accepts the file), from
# `nft -f NAME.nft` run in the Invalid directory (so errors name the file as
# NAME.nft). The load is real, after `nft flush ruleset`, because `nft -c`
# stops before the kernel's commit checks (it accepts jump-loop.nft, which
# the kernel refuses with "Too many links"). Every load happens in a network
# namespace made here and deleted by an EXIT trap; the root namespace's
# ruleset is never touched. Invalid/nft-version.txt names the nft that spoke.
set -euo pipefail
cd "$(dirname "$0")/../Tests/RulesTests/Invalid"

if [[ $(id -u) -ne 0 ]]; then
    echo "record-nft-errors: must run as root (a network namespace for nft)" >&2
    exit 1
fi
need=()
command -v nft >/dev/null || need+=(nftables)
command -v ip >/dev/null || need+=(iproute2)
if ((${#need[@]})); then
    echo "record-nft-errors: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

namespace=twrec-$$
ip netns add "$namespace"
trap 'ip netns del "$namespace" 2>/dev/null || true' EXIT

count=0
for file in *.nft; do
    ip netns exec "$namespace" nft flush ruleset
    ip netns exec "$namespace" nft -f "$file" >"$file-says" 2>&1 || true
    count=$((count + 1))
done
nft --version >nft-version.txt
echo "record-nft-errors: recorded what $(cat nft-version.txt) says about $count files"
