#!/usr/bin/env bash
# Fuzzes swift-lenet's parsers with libFuzzer and AddressSanitizer (FuzzTesting/): builds the
# targets, replays every saved crash in FuzzTesting/Regressions/<target>/ (each must now pass),
# then fuzzes each target for SECONDS (default 60) from its committed corpus in a scratch copy.
# Usage: scripts/fuzz.sh [SECONDS]     Exits non-zero on a build failure or any crash.
set -euo pipefail
cd "$(dirname "$0")/../FuzzTesting"
seconds=${1:-60}
flags=(-c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address)
swift build "${flags[@]}"
bin=$(swift build "${flags[@]}" --show-bin-path)
for target in FuzzIDX FuzzCheckpoint FuzzImage; do
    max=4096
    [ "$target" = FuzzCheckpoint ] && max=300000
    if compgen -G "Regressions/$target/*" > /dev/null; then
        echo "== $target: replaying $(ls "Regressions/$target" | wc -l) saved inputs"
        "$bin/$target" -rss_limit_mb=4096 Regressions/"$target"/*
    fi
    work=$(mktemp -d)
    cp Corpus/"$target"/* "$work"/
    echo "== $target: fuzzing for $seconds s"
    "$bin/$target" "$work" -max_total_time="$seconds" -max_len="$max" -rss_limit_mb=4096 -timeout=10 \
        -artifact_prefix="$work/" -print_final_stats=1 2>&1 | grep -E "INITED|DONE|ERROR|SUMMARY|crash-|stat::number_of_executed_units"
    rm -rf "$work"
done
