# shellcheck shell=bash
# tests/lib/common.sh — helpers for integration test scripts (source it; do not run it).
#
#   source "$(dirname "$0")/../lib/common.sh" "$@"   # sets BUILD from $1 (default: build)
#
# Results
#   pass NAME                 prints "PASS NAME", counts it
#   fail NAME REASON          prints "FAIL NAME: REASON", counts it, returns 1 (test goes on
#                             unless set -e is active); the script then exits 1 at the end
#   die REASON                fail "$T_NAME" REASON and exit 1 at once
#   check NAME CMD...         run CMD (output to the log); pass NAME if it exits 0, else fail
#   expect_eq NAME GOT WANT   pass if the strings are equal, else fail with both shown
#   info MSG...               prints "# MSG..." (comment line in the log)
#   finish                    exit 1 if anything failed, else 0 (also done by the exit hook)
# Environment and setup
#   need_root                 exit 1 with a clear line unless running as root
#   need_cmd CMD...           exit 1 naming a missing program
#   need_build                exit 1 unless $BUILD/ustack and $BUILD/libustack.so exist
#   run_timeout SECS CMD...   timeout -k 5 SECS CMD... (exit 124 on timeout)
#   on_exit CMD...            run CMD at exit (EXIT/INT/TERM), last registered first;
#                             use this instead of `trap`, which would replace the hook
# Variables
#   REPO   absolute path of the repository
#   BUILD  absolute path of the build directory ($1 of the test, default "build")
#   T_NAME the test's name (script name without .sh)
#   T_PASSED, T_FAILED counters
#   T_TMP  a private temp dir, removed at exit if the test passed (kept and named if not)

[[ -n ${_USTACK_COMMON_SH:-} ]] && return 0
_USTACK_COMMON_SH=1

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
T_NAME=$(basename "${0%.sh}")
T_PASSED=0
T_FAILED=0

# BUILD: first argument of the test, else $BUILD, else "build"; made absolute (relative to
# the current directory if it exists there, else to the repository).
_common_resolve_build() {
    local b=${1:-${BUILD:-build}}
    if [[ $b != /* ]]; then
        if [[ -d $b ]]; then b=$(cd "$b" && pwd); else b=$REPO/$b; fi
    fi
    printf '%s\n' "$b"
}
BUILD=$(_common_resolve_build "${1:-}")
export BUILD REPO

pass() {
    T_PASSED=$((T_PASSED + 1))
    echo "PASS $1"
}

fail() {
    T_FAILED=$((T_FAILED + 1))
    echo "FAIL $1: ${2:-failed}"
    return 1
}

die() {
    fail "$T_NAME" "$*" || true
    exit 1
}

info() { echo "# $*"; }

check() {
    local name=$1
    shift
    if "$@"; then
        pass "$name"
    else
        fail "$name" "exit status $? from: $*"
    fi
}

expect_eq() {
    if [[ $2 == "$3" ]]; then
        pass "$1"
    else
        fail "$1" "got '$2', want '$3'"
    fi
}

# program_checks NAME STATUS OUT ERR: a checking program printed one line per check into OUT
# ("ok NAME" or "FAIL NAME: why") and "done" at its end; report each check, then NAME as failed
# unless it completed (STATUS is its exit status), and show its stderr.
program_checks() {
    local completed=$1 status=$2 out=$3 err=$4 word name rest
    while read -r word name rest; do
        case $word in
        ok) pass "$name" ;;
        FAIL) fail "${name%:}" "$rest" || true ;;
        esac
    done <"$out"
    grep -q '^done$' "$out" || fail "$completed" "exit $status: $(head -c 600 "$err")" || true
    [[ -s $err ]] && { info "stderr:"; sed 's/^/#   /' "$err" | head -n 20; }
    return 0
}

finish() {
    if ((T_FAILED > 0)); then exit 1; fi
    exit 0
}

need_root() {
    [[ $EUID -eq 0 ]] && return 0
    echo "FAIL $T_NAME: must run as root (network namespaces)"
    exit 1
}

need_cmd() {
    local c
    for c in "$@"; do
        command -v "$c" >/dev/null 2>&1 && continue
        echo "FAIL $T_NAME: program '$c' is missing (run tests/deps.sh)"
        exit 1
    done
}

need_build() {
    local f
    for f in "$BUILD/ustack" "$BUILD/libustack.so"; do
        [[ -e $f ]] && continue
        echo "FAIL $T_NAME: $f does not exist (build first: make BUILD=${BUILD#"$REPO"/})"
        exit 1
    done
}

run_timeout() {
    local secs=$1
    shift
    timeout -k 5 "$secs" "$@"
}

# --- exit hook: one trap for EXIT/INT/TERM running the registered cleanups -----------------
_COMMON_EXIT_HOOKS=()

on_exit() {
    _COMMON_EXIT_HOOKS+=("$*")
}

_common_exit() {
    local status=$1 i
    trap - EXIT INT TERM
    set +e
    for ((i = ${#_COMMON_EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
        eval "${_COMMON_EXIT_HOOKS[i]}"
    done
    if ((status == 0 && T_FAILED > 0)); then status=1; fi
    if [[ -n ${T_TMP:-} && -d $T_TMP ]]; then
        if rmdir "$T_TMP" 2>/dev/null; then
            :  # was empty
        elif ((status == 0)) && [[ ${KEEP_TMP:-0} != 1 ]]; then
            rm -rf "$T_TMP"
        else
            echo "# files kept in $T_TMP"
        fi
    fi
    exit "$status"
}

trap '_common_exit $?' EXIT
trap 'echo "# interrupted (SIGINT)"; _common_exit 130' INT
trap 'echo "# terminated (SIGTERM, timeout?)"; _common_exit 143' TERM

T_TMP=$(mktemp -d "/tmp/ustack-$T_NAME.XXXXXX")
export T_TMP
