#!/usr/bin/env bash
# tests/run-unit.sh BUILD — run every BUILD/tests/unit/test_* Criterion binary.
# Prints each binary's Criterion summary (and its full output when it fails); the last line
# is "unit: N binaries, N failed". Exit 1 if any binary failed.
set -uo pipefail

UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
UNIT_JOBS=${UNIT_JOBS:-2}
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
[[ $build == /* ]] || build=$repo/$build
dir=$build/tests/unit

binaries=0 failed=0
failed_names=()
out=$(mktemp /tmp/ustack-unit.XXXXXX)
trap 'rm -f "$out"' EXIT

for bin in "$dir"/test_*; do
    [[ -f $bin && -x $bin ]] || continue
    case $bin in *.o | *.d) continue ;; esac
    name=$(basename "$bin")
    binaries=$((binaries + 1))
    (cd "$repo" && timeout -k 10 "$UNIT_TIMEOUT" "$bin" --jobs "$UNIT_JOBS" --short-filename) \
        </dev/null >"$out" 2>&1
    status=$?
    summary=$(grep -a 'Synthesis:' "$out" | tail -n 1 | sed 's/^\[====\] //')
    # Criterion counts a test whose worker leaked (LeakSanitizer) as passing: a sanitizer
    # report anywhere in the output fails the binary.
    if ((status == 0)) && grep -a -q -E 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$out"; then
        status=1
        summary="$summary (sanitizer report)"
    fi
    if ((status == 0)); then
        echo "ok   $name: ${summary:-no summary}"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        why="exit $status"
        ((status == 124 || status == 137)) && why="timed out after ${UNIT_TIMEOUT}s"
        echo "FAIL $name ($why): ${summary:-no summary}"
        # Criterion's own lines for the failing tests, then the tail for crashes/sanitizers.
        grep -a -E '\[(FAIL|----)\]|ERROR|runtime error|Sanitizer' "$out" | head -n 40 |
            sed 's/^/    | /'
        echo "    | ... last lines:"
        tail -n 15 "$out" | sed 's/^/    | /'
    fi
done

if ((binaries == 0)); then
    echo "unit: no test binaries in $dir"
fi
((failed > 0)) && echo "unit failed: ${failed_names[*]}"
echo "unit: $binaries binaries, $failed failed"
((failed == 0))
