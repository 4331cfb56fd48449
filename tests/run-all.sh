#!/usr/bin/env bash
# tests/run-all.sh — what `make test` runs (after tests/deps.sh):
#   1. release build (build/) and ASan+UBSan build (build-asan/)
#   2. unit tests with both builds (leak detection on)
#   3. integration tests with both builds (ASan run: leak detection off for the preloaded
#      real programs; `ustack run` preloads libasan itself for a sanitizer build)
# The very last line is "N passed, N failed" over both integration runs, a unit binary that
# failed and a build that failed each counting as one failure more. Exit 1 on any failure.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
JOBS=${JOBS:-2}
# Build directories (overridable, e.g. to test this script beside another build).
RELEASE_BUILD=${RELEASE_BUILD:-build}
ASAN_BUILD=${ASAN_BUILD:-build-asan}
SANITIZERS=address,undefined

total_passed=0 total_failed=0 total_skipped=0
summary=()
results=$(mktemp -d /tmp/ustack-run-all.XXXXXX)
trap 'rm -rf "$results"' EXIT

now() { date +%s; }
elapsed() { echo "$(($(now) - $1))s"; }
banner() { printf '\n==== %s ====\n' "$*"; }

# Adds the counts from a runner's final line ("N passed, N failed[, N skipped]") to the
# totals. A runner that printed no such line (crashed) counts as one failure.
add_integration_counts() {
    local label=$1 file=$2 line p f s
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$file" | tail -n 1)
    if [[ -z $line ]]; then
        total_failed=$((total_failed + 1))
        summary+=("$label: runner gave no result line (counted as 1 failed)")
        return
    fi
    read -r p _ f _ s _ <<<"${line//,/}"
    total_passed=$((total_passed + p))
    total_failed=$((total_failed + f))
    total_skipped=$((total_skipped + ${s:-0}))
    summary+=("$label: $line")
}

add_unit_counts() {
    local label=$1 file=$2 line n f
    line=$(grep -E '^unit: [0-9]+ binaries, [0-9]+ failed$' "$file" | tail -n 1)
    if [[ -z $line ]]; then
        total_failed=$((total_failed + 1))
        summary+=("$label: runner gave no result line (counted as 1 failed)")
        return
    fi
    read -r _ n _ f _ <<<"${line//,/}"
    total_failed=$((total_failed + f))
    summary+=("$label: $n binaries, $f failed")
}

start_all=$(now)
declare -A build_ok=()

for variant in release asan; do
    t=$(now)
    if [[ $variant == release ]]; then
        banner "build release ($RELEASE_BUILD/)"
        make_args=(all "BUILD=$RELEASE_BUILD")
    else
        banner "build $SANITIZERS ($ASAN_BUILD/)"
        make_args=(all "SANITIZE=$SANITIZERS" "BUILD=$ASAN_BUILD")
    fi
    if make --no-print-directory -j"$JOBS" "${make_args[@]}"; then
        build_ok[$variant]=1
        summary+=("build $variant: ok ($(elapsed "$t"))")
    else
        build_ok[$variant]=0
        total_failed=$((total_failed + 1))
        summary+=("build $variant: FAILED (counted as 1 failed; its tests not run)")
    fi
done

for variant in release asan; do
    ((build_ok[$variant])) || continue
    build=$RELEASE_BUILD
    [[ $variant == asan ]] && build=$ASAN_BUILD
    banner "unit tests, $variant"
    t=$(now)
    ASAN_OPTIONS=${ASAN_OPTIONS_UNIT:-detect_leaks=1:abort_on_error=0} \
    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        bash tests/run-unit.sh "$build" | tee "$results/unit-$variant"
    add_unit_counts "unit $variant ($(elapsed "$t"))" "$results/unit-$variant"
done

for variant in release asan; do
    ((build_ok[$variant])) || continue
    build=$RELEASE_BUILD
    [[ $variant == asan ]] && build=$ASAN_BUILD
    banner "integration tests, $variant"
    t=$(now)
    if [[ $variant == asan ]]; then
        ASAN_OPTIONS=detect_leaks=0:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
            bash tests/integration/run.sh "$build" | tee "$results/int-$variant"
    else
        bash tests/integration/run.sh "$build" | tee "$results/int-$variant"
    fi
    add_integration_counts "integration $variant ($(elapsed "$t"))" "$results/int-$variant"
done

banner "summary ($(elapsed "$start_all"))"
printf '%s\n' "${summary[@]}"
echo "logs: $RELEASE_BUILD/integration-logs/, $ASAN_BUILD/integration-logs/"
final="$total_passed passed, $total_failed failed"
((total_skipped > 0)) && final+=", $total_skipped skipped"
echo "$final"
((total_failed == 0))
