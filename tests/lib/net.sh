# shellcheck shell=bash
# tests/lib/net.sh — the per-test network for integration tests (source it; do not run it).
#
#   source "$(dirname "$0")/../lib/common.sh" "$@"
#   source "$(dirname "$0")/../lib/net.sh"
#   net_setup                      # network with a unique name, removed at exit
#   start_peer_bg web python3 -m http.server --bind "$PEER_IP" 8080
#   wait_port_peer 8080 tcp || die "server did not start"
#   out=$(ustack_run curl -sS "http://$PEER_IP:8080/") ...
#
# Functions
#   net_setup                      create the network (see variables), register cleanup at exit
#   net_adopt NS_PEER NS_US        use namespaces someone else made (e.g. relay_net_up from
#                                  tests/lib/relay.sh; interfaces peer0/us0 there too): all
#                                  helpers below work; teardown stops only our background jobs
#   net_teardown                   stop background processes, remove the namespaces (idempotent;
#                                  runs at exit by itself)
#   in_peer CMD...                 run CMD in the peer namespace (kernel stack, 192.0.2.1)
#   in_us CMD...                   run CMD in the ustack namespace, without ustack
#   ustack_run CMD...              run CMD over ustack: in the us namespace,
#                                  $BUILD/ustack run --if us0 --ip 192.0.2.2/24 -- CMD...
#   ustack_run_with OPT... -- CMD...
#                                  the same with extra `ustack run` options (--trace DIR,
#                                  --pcap FILE, --gw A, --ip A/N to use another address …);
#                                  --if/--ip given here replace the defaults
#   start_peer_bg NAME CMD...      start CMD in the background in the peer namespace
#   start_us_bg NAME CMD...        … in the us namespace, without ustack
#   ustack_bg NAME CMD...          … over ustack (ustack_run in the background)
#   ustack_bg_with NAME OPT... -- CMD...
#                                  … ustack_run_with in the background
#                                  Background output goes to $T_TMP/NAME.log; each runs in its
#                                  own process group, killed (TERM, then KILL) at exit.
#   bg_pid NAME                    print the pid of background job NAME
#   bg_log NAME                    print the path of its log file
#   wait_bg NAME [SECS]            wait (default 30 s) for it to end; returns its exit status,
#                                  124 if it was still running (it is then killed)
#   stop_bg NAME                   kill its process group now (TERM, then KILL after 2 s)
#   wait_bg_log NAME REGEX SECS    wait until job NAME's log matches REGEX; returns 1 on timeout
#                                  or when the job has ended
#   wait_port_peer PORT [tcp|udp] [SECS]
#                                  wait (default 10 s) until something listens on PORT in the
#                                  peer namespace; returns 1 on timeout
#   wait_port_us PORT [tcp|udp] [SECS]   the same in the us namespace (kernel sockets only)
#   kernel_addr_on [A/N]           give us0 a kernel address (default 192.0.2.2/24) so the
#                                  same program can run over the kernel stack for comparison
#   kernel_addr_off                remove every kernel address from us0 and flush the neighbour
#                                  caches on both sides
# Variables (exported)
#   NET_NAME  the network's name; namespaces are $NET_NAME-peer, $NET_NAME-us
#   NS_PEER   peer namespace      NS_US  ustack namespace
#   PEER_IP=192.0.2.1  US_IP=192.0.2.2  NET_PREFIX=24
#   PEER_IF=peer0 (in NS_PEER)  US_IF=us0 (in NS_US)
#   USTACK    $BUILD/ustack       NET_SH  path of shim/ustack-net.sh

[[ -n ${_USTACK_NET_SH:-} ]] && return 0
_USTACK_NET_SH=1

# shellcheck source=tests/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

NET_SH=$REPO/shim/ustack-net.sh
USTACK=$BUILD/ustack
PEER_IP=192.0.2.1
US_IP=192.0.2.2
NET_PREFIX=24
PEER_IF=peer0
US_IF=us0
export NET_SH USTACK PEER_IP US_IP NET_PREFIX PEER_IF US_IF

declare -A _NET_BG_PID=()
_NET_UP=0

net_setup() {
    need_root
    # Unique per run: pid + random, short enough for any name derived from it.
    NET_NAME=ust$$r$RANDOM
    NS_PEER=$NET_NAME-peer
    NS_US=$NET_NAME-us
    export NET_NAME NS_PEER NS_US
    on_exit net_teardown
    _NET_UP=1
    if ! QUIET=1 bash "$NET_SH" up "$NET_NAME"; then
        die "could not create test network $NET_NAME"
    fi
    info "network $NET_NAME: $NS_PEER ($PEER_IF $PEER_IP/$NET_PREFIX), $NS_US ($US_IF)"
}

net_adopt() {
    NS_PEER=${1:?net_adopt: NS_PEER required}
    NS_US=${2:?net_adopt: NS_US required}
    NET_NAME=${NS_PEER%-peer}
    export NET_NAME NS_PEER NS_US
    on_exit net_teardown
}

net_teardown() {
    local name
    for name in "${!_NET_BG_PID[@]}"; do
        stop_bg "$name"
    done
    if ((_NET_UP)); then
        QUIET=1 bash "$NET_SH" down "$NET_NAME" || true
        _NET_UP=0
    fi
}

in_peer() { ip netns exec "$NS_PEER" "$@"; }
in_us() { ip netns exec "$NS_US" "$@"; }

ustack_run() {
    ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" --ip "$US_IP/$NET_PREFIX" -- "$@"
}

# Sets _NET_ARGV to the full `ustack run` command line for "OPT... -- CMD...".
_net_ustack_argv() {
    local opts=() have_if=0 have_ip=0
    while (($#)) && [[ $1 != -- ]]; do
        case $1 in
        --if | --if=*) have_if=1 ;;
        --ip | --ip=*) have_ip=1 ;;
        esac
        opts+=("$1")
        shift
    done
    (($#)) || { echo "ustack_run_with: missing '--' before the command" >&2; return 2; }
    shift
    ((have_if)) || opts=(--if "$US_IF" "${opts[@]}")
    ((have_ip)) || opts=(--ip "$US_IP/$NET_PREFIX" "${opts[@]}")
    _NET_ARGV=(ip netns exec "$NS_US" "$USTACK" run "${opts[@]}" -- "$@")
}

ustack_run_with() {
    _net_ustack_argv "$@" || return 2
    "${_NET_ARGV[@]}"
}

# Start "$@" in the background as its own process group (setsid does not fork here: a
# background job of a non-interactive shell is not a group leader, so $! is the command).
_net_start_bg() {
    local name=$1
    shift
    [[ -z ${_NET_BG_PID[$name]:-} ]] || { echo "background job '$name' already exists" >&2; return 2; }
    setsid "$@" >"$T_TMP/$name.log" 2>&1 </dev/null &
    local pid=$! tries stat pgrp
    _NET_BG_PID[$name]=$pid
    # Wait (at most 1 s) until it leads its own process group, so stop_bg reaches it all.
    for ((tries = 0; tries < 100; tries++)); do
        stat=$(cat "/proc/$pid/stat" 2>/dev/null) || break
        stat=${stat##*) }
        read -r _ _ pgrp _ <<<"$stat"
        [[ $pgrp == "$pid" ]] && break
        sleep 0.01
    done
}

start_peer_bg() { local n=$1; shift; _net_start_bg "$n" ip netns exec "$NS_PEER" "$@"; }
start_us_bg() { local n=$1; shift; _net_start_bg "$n" ip netns exec "$NS_US" "$@"; }
ustack_bg() {
    local n=$1
    shift
    _net_start_bg "$n" ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" \
        --ip "$US_IP/$NET_PREFIX" -- "$@"
}
ustack_bg_with() {
    local n=$1
    shift
    _net_ustack_argv "$@" || return 2
    _net_start_bg "$n" "${_NET_ARGV[@]}"
}

bg_pid() { echo "${_NET_BG_PID[$1]:-}"; }
bg_log() { echo "$T_TMP/$1.log"; }

stop_bg() {
    local name=$1 pid tries
    pid=${_NET_BG_PID[$name]:-}
    [[ -n $pid ]] || return 0
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((tries = 0; tries < 20; tries++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "_NET_BG_PID[$name]"
}

wait_bg() {
    local name=$1 secs=${2:-30} pid status tries
    pid=${_NET_BG_PID[$name]:-}
    [[ -n $pid ]] || { echo "wait_bg: no background job '$name'" >&2; return 2; }
    for ((tries = 0; tries < secs * 10; tries++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        stop_bg "$name"
        return 124
    fi
    status=0
    wait "$pid" || status=$?
    unset "_NET_BG_PID[$name]"
    return "$status"
}

_net_wait_port() {
    local ns=$1 port=$2 proto=${3:-tcp} secs=${4:-10} flag tries
    case $proto in
    tcp) flag=-Hltn ;;
    udp) flag=-Hlun ;;
    *) echo "wait_port: protocol must be tcp or udp" >&2; return 2 ;;
    esac
    for ((tries = 0; tries < secs * 10; tries++)); do
        if ip netns exec "$ns" ss "$flag" "sport = :$port" 2>/dev/null | grep -q .; then
            return 0
        fi
        sleep 0.1
    done
    echo "# nothing listens on $proto port $port in $ns after ${secs}s"
    return 1
}

wait_port_peer() { _net_wait_port "$NS_PEER" "$@"; }
wait_port_us() { _net_wait_port "$NS_US" "$@"; }

kernel_addr_on() {
    ip -n "$NS_US" addr add "${1:-$US_IP/$NET_PREFIX}" dev "$US_IF"
}

kernel_addr_off() {
    ip -n "$NS_US" addr flush dev "$US_IF"
    ip -n "$NS_US" neigh flush dev "$US_IF" 2>/dev/null || true
    ip -n "$NS_PEER" neigh flush dev "$PEER_IF" 2>/dev/null || true
}

# wait_bg_log NAME REGEX SECS: until background job NAME's log matches (1 on timeout or exit).
wait_bg_log() {
    local log tries
    log=$(bg_log "$1")
    for ((tries = 0; tries < $3 * 10; tries++)); do
        grep -qE "$2" "$log" 2>/dev/null && return 0
        kill -0 "$(bg_pid "$1")" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}
