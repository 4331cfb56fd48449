#!/usr/bin/env bash
# tests/integration/run.sh BUILD [PATTERN...]
# Runs every tests/integration/t_*.sh (or those whose name contains a PATTERN) with BUILD as
# its first argument, each under `timeout` (300 s, or the test's own "# timeout: N" line),
# output to BUILD/integration-logs/NAME.log. One line per test; the last line is exactly
# "N passed, N failed" (", N skipped" appended when a test exited 77). Exit 1 if any failed.
set -uo pipefail

DEFAULT_TIMEOUT=300
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

build=${1:-build}
shift || true
[[ $build == /* ]] || build=$repo/$build
logdir=$build/integration-logs
mkdir -p "$logdir"

selected() {
    local name=$1 pattern
    (($# > 1)) || return 0
    shift
    for pattern in "$@"; do
        [[ $name == *"$pattern"* ]] && return 0
    done
    return 1
}

test_timeout() {
    local t
    t=$(sed -n 's/^# *timeout: *\([0-9][0-9]*\).*/\1/p' "$1" | head -n 1)
    echo "${t:-$DEFAULT_TIMEOUT}"
}

passed=0 failed=0 skipped=0
failed_names=()
for script in "$here"/t_*.sh; do
    [[ -e $script ]] || continue
    name=$(basename "$script" .sh)
    selected "$name" "$@" || continue
    limit=$(test_timeout "$script")
    log=$logdir/$name.log
    start=$(date +%s.%N)
    # stdin closed; `timeout` signals the test's whole process group, and the test's trap
    # (tests/lib/common.sh) then stops its background jobs and removes its network.
    (cd "$repo" && timeout -k 15 "$limit" bash "$script" "$build") </dev/null >"$log" 2>&1
    status=$?
    secs=$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
    checks=$(grep -c '^PASS ' "$log")
    case $status in
    0)
        passed=$((passed + 1))
        echo "PASS $name (${secs}s, $checks checks)"
        ;;
    77)
        skipped=$((skipped + 1))
        echo "SKIP $name (${secs}s): $(tail -n 1 "$log")"
        ;;
    *)
        failed=$((failed + 1))
        failed_names+=("$name")
        why="exit $status"
        ((status == 124 || status == 137)) && why="timed out after ${limit}s"
        echo "FAIL $name (${secs}s, $why) — see $log"
        tail -n 15 "$log" | sed 's/^/    | /'
        ;;
    esac
done

if ((failed > 0)); then
    echo "failed: ${failed_names[*]}"
fi
summary="$passed passed, $failed failed"
((skipped > 0)) && summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
