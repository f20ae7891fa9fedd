#!/usr/bin/env bash
# fuzz.sh: coverage-guided fuzzing with libFuzzer (README, "Fuzzing").
#
#   Scripts/fuzz.sh TARGET SECONDS [LIBFUZZER-ARGS...]   one target
#   Scripts/fuzz.sh all SECONDS [LIBFUZZER-ARGS...]      each target in turn
#
# TARGET is FuzzWire (every Wire parser, pcap included), FuzzEngine (packet
# sequences through one engine with NAT, the FTP helper, rejects and logging)
# or FuzzRules (nft text through parser, compiler, evaluator, listing); their
# sources are Sources/<TARGET>/, their seeds Tests/Fuzz/Corpus/<TARGET>/, their
# dictionaries Tests/Fuzz/<TARGET>.dict.
#
# Builds the targets with ASan and libFuzzer in their own scratch path
# (.build-fuzz), optimised but with the bounds checks of unsafe buffer
# pointers kept (-assert-config Debug), then runs libFuzzer on a working copy
# of the committed corpus; new inputs go to a temporary folder, which is
# printed. Exits non-zero if the target crashed, printing the crash input and
# how to reproduce it. FUZZ_KEEP=1 keeps the temporary folder even on success.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(FuzzWire FuzzEngine FuzzRules)
usage() { echo "usage: Scripts/fuzz.sh {$(IFS='|'; echo "${targets[*]}")|all} SECONDS [libFuzzer args...]" >&2; exit 2; }
[[ $# -ge 2 ]] || usage
target=$1
seconds=$2
shift 2
[[ $seconds =~ ^[0-9]+$ ]] || usage
if [[ $target == all ]]; then
    selected=("${targets[@]}")
else
    [[ " ${targets[*]} " == *" $target "* ]] || usage
    selected=("$target")
fi

# The toolchain ships libFuzzer and ASan in its clang resource directory
# (swift.org toolchains do; Debian's libclang-rt-*-dev would not be found by
# swiftc, which links only from its own). Say so plainly if it is missing.
swiftc=$(readlink -f "$(command -v swiftc)")
toolchain=$(dirname "$(dirname "$swiftc")")
if ! compgen -G "$toolchain/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null \
    && ! compgen -G "$toolchain/lib/swift/clang/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
    echo "fuzz.sh: this Swift toolchain ($toolchain) has no libFuzzer runtime (libclang_rt.fuzzer); use a swift.org toolchain" >&2
    exit 1
fi

# Link with the toolchain's lld: Debian's gold fails on these executables
# (an internal error in its DWARF reader while reporting the duplicate `main`
# that libFuzzer and SwiftPM's `<Target>_main` both provide; lld takes ours).
scratch=.build-fuzz
mkdir -p "$scratch"
printf '{"schemaVersion": "1.0", "linker": {"path": "%s"}}\n' "$toolchain/bin/ld.lld" >"$scratch/lld-toolset.json"
build_flags=(--scratch-path "$scratch" -c release --toolset "$scratch/lld-toolset.json"
             -Xswiftc -sanitize=fuzzer,address -Xswiftc -assert-config -Xswiftc Debug -Xswiftc -DFUZZING)
for t in "${selected[@]}"; do
    swift build "${build_flags[@]}" --product "$t" 2>&1 | grep -v '^\[' || true
    [[ -x $scratch/release/$t ]] || { echo "fuzz.sh: building $t failed" >&2; exit 1; }
done

# Room for three 64 KB GSO super-packets in one engine input; a pcap file
# with a full-size record; a long ruleset.
max_len() {
    case $1 in
        FuzzEngine) echo 200000 ;;
        FuzzWire) echo 70000 ;;
        *) echo 16384 ;;
    esac
}

# Swift's own backtracer fights ASan for the crash signal; ASan's report is the one we want.
export SWIFT_BACKTRACE=enable=no
status=0
for t in "${selected[@]}"; do
    work=$(mktemp -d "/tmp/tunwall-fuzz-$t.XXXXXX")
    mkdir -p "$work/corpus" "$work/new"
    cp -R "Tests/Fuzz/Corpus/$t/." "$work/corpus/"
    echo "== $t for ${seconds}s (corpus $(ls "$work/corpus" | wc -l) files, working folder $work)"
    set +e
    "$scratch/release/$t" -max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=20 -rss_limit_mb=4096 \
        -dict="Tests/Fuzz/$t.dict" -artifact_prefix="$work/" -print_final_stats=1 \
        "$@" "$work/new" "$work/corpus" 2>&1 | tee "$work/fuzz.log" | grep -v -E '^#[0-9]+\s+(NEW|REDUCE|pulse)'
    rc=${PIPESTATUS[0]}
    set -e
    grep -E '^#[0-9]+\s+DONE' "$work/fuzz.log" | tail -1 | sed "s/^/$t: /" || true
    crashes=$(ls "$work" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' || true)
    if [[ $rc -ne 0 || -n $crashes ]]; then
        status=1
        echo "fuzz.sh: $t FAILED (exit $rc); log $work/fuzz.log" >&2
        for crash in $crashes; do
            echo "  input: $work/$crash" >&2
            echo "  reproduce (ASan):  SWIFT_BACKTRACE=enable=no $scratch/release/$t $work/$crash" >&2
            echo "  reproduce (debug): swift build --product $t && .build/debug/$t $work/$crash" >&2
        done
    else
        echo "$t: no crash; $(ls "$work/new" | wc -l) new inputs in $work/new"
        [[ ${FUZZ_KEEP:-0} == 1 ]] || rm -rf "$work"
    fi
done
exit $status
