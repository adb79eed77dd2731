#!/usr/bin/env bash
# Fuzzes swift-lenet's parsers with libFuzzer and AddressSanitizer (FuzzTesting/): builds the
# targets, replays every saved crash in FuzzTesting/Regressions/<target>/ (each must now pass),
# then fuzzes each target for SECONDS (default 60) from its committed corpus in a scratch copy.
# Usage: scripts/fuzz.sh [SECONDS [TARGET...]]     (default: every target, one after another)
# With FUZZ_UPDATE_CORPUS=1, what a run found is merged into Corpus/<target> (minimised), and
# a crashing input is copied to Regressions/<target>/ to be committed with its fix.
# Exits non-zero on a build failure or any crash.
set -euo pipefail
cd "$(dirname "$0")/../FuzzTesting"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(FuzzIDX FuzzCheckpoint FuzzImage FuzzRequest)
flags=(-c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address)
swift build "${flags[@]}" 2>&1 | grep -vE "^\[[0-9]+/[0-9]+\] (Compiling|Write|Emitting)" || true
bin=$(swift build "${flags[@]}" --show-bin-path)
for target in "${targets[@]}"; do
    max=4096
    [ "$target" = FuzzCheckpoint ] && max=600000  # a resume.safetensors of SGD takes 496 KB
    work=$(mktemp -d)
    # A copy, so rebuilding the package while a long run goes on cannot pull the binary away.
    cp "$bin/$target" "$work/$target"
    if compgen -G "Regressions/$target/*" > /dev/null; then
        echo "== $target: replaying $(ls "Regressions/$target" | wc -l) saved inputs"
        "$work/$target" -rss_limit_mb=4096 Regressions/"$target"/*
    fi
    mkdir "$work/corpus"
    cp Corpus/"$target"/* "$work/corpus"/
    echo "== $target: fuzzing for $seconds s"
    status=0
    "$work/$target" "$work/corpus" -max_total_time="$seconds" -max_len="$max" -rss_limit_mb=4096 -timeout=10 \
        -dict="Dictionaries/$target.dict" -artifact_prefix="$work/" -print_final_stats=1 > "$work/log" 2>&1 || status=$?
    grep -E "INITED|DONE|ERROR|SUMMARY|crash-|timeout-|oom-|stat::number_of_executed_units|stat::peak_rss" "$work/log" || true
    if [ "${FUZZ_UPDATE_CORPUS:-0}" = 1 ]; then
        for artifact in "$work"/crash-* "$work"/timeout-* "$work"/oom-*; do
            [ -e "$artifact" ] && mkdir -p "Regressions/$target" && cp "$artifact" "Regressions/$target/"
        done
        mkdir "$work/merged"
        "$work/$target" -merge=1 -max_len="$max" -rss_limit_mb=4096 "$work/merged" Corpus/"$target" "$work/corpus" > /dev/null 2>&1
        rm -f Corpus/"$target"/*
        cp "$work/merged"/* Corpus/"$target"/
        echo "== $target: corpus now $(ls Corpus/"$target" | wc -l) files"
    fi
    if [ "$status" != 0 ]; then
        tail -n 40 "$work/log"
        echo "== $target: FAILED (exit $status); the input is in $work" >&2
        exit "$status"
    fi
    rm -rf "$work"
done
