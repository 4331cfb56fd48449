#!/usr/bin/env bash
# ustack-net.sh — the test network behind `ustack net up|down|exec|status|list`.
#
# A network NAME is two network namespaces joined by a veth pair:
#
#   NAME-peer: peer0 192.0.2.1/24   kernel stack; real servers (nginx, dnsmasq …) run here
#   NAME-us:   us0   no IPv4 address, IPv6 off, so the kernel sends nothing on it by itself;
#                    ustack opens its packet socket on us0 and owns 192.0.2.2 (.3, .4 … for more)
#
# With --relay a third namespace NAME-relay sits in between (peer0 <-> ra0 | rb0 <-> us0, the
# names tests/lib/relay.sh uses); nothing forwards between ra0 and rb0 until the impairment
# relay runs there. Offloads are switched off on peer0, ra0 and rb0 (as relay.sh does) so the
# relay sees MTU-sized frames with real checksums; us0 keeps its offloads.
#
# The veth ends are created directly inside their namespaces, so the root namespace never sees
# them and the names inside are fixed (peer0, us0, ra0, rb0) for users and tests.
set -euo pipefail

readonly PEER_IP=192.0.2.1
readonly US_IP=192.0.2.2
readonly PREFIX_LEN=24
readonly DEFAULT_NAME=ustack

prog=$(basename "$0")

usage() {
    cat <<EOF
usage: $prog up [NAME] [--relay]      create network NAME (default: $DEFAULT_NAME)
       $prog down [NAME]              remove it (stops processes inside; idempotent)
       $prog exec [NAME] [peer|us|relay] -- CMD [ARG...]
                                      run CMD in a namespace of NAME (default: us)
       $prog status [NAME]            show namespaces, interfaces, processes
       $prog list                     list networks that exist
EOF
}

die() { echo "$prog: $*" >&2; exit 1; }

check_name() {
    [[ $1 =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$ ]] ||
        die "bad network name '$1' (letters, digits, '_', '.', '-'; at most 40 characters)"
}

check_root() {
    [[ $EUID -eq 0 ]] || die "needs root (network namespaces); try: sudo $prog $*"
}

ns_exists() { [[ -e /run/netns/$1 ]]; }

# Disable IPv6 before any interface exists, so new interfaces inherit it: no link-local
# address, no DAD, router or multicast-listener solicitations on the link.
ns_quiet_ipv6() {
    ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 >/dev/null
}

ns_create() {
    ip netns add "$1"
    ip -n "$1" link set lo up
    ns_quiet_ipv6 "$1"
}

# Stop every process that lives in namespace $1: TERM, up to ~3 s grace, then KILL.
ns_stop_processes() {
    local ns=$1 pids tries
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n $pids ]] || return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null || true
    for ((tries = 0; tries < 30; tries++)); do
        pids=$(ip netns pids "$ns" 2>/dev/null || true)
        [[ -n $pids ]] || return 0
        sleep 0.1
    done
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
}

# Best effort: TSO/GSO/GRO and checksum offload off, so frames are MTU-sized with real sums.
offloads_off() {
    ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off >/dev/null 2>&1 || true
}

ns_remove() {
    ns_exists "$1" || return 1
    ns_stop_processes "$1"
    ip netns del "$1"
}

net_down() {
    local name=$1 removed=0 ns
    for ns in "$name-us" "$name-relay" "$name-peer"; do
        if ns_remove "$ns"; then removed=1; fi
    done
    if ((removed)); then
        [[ ${QUIET:-0} == 1 ]] || echo "network '$name' removed"
    else
        [[ ${QUIET:-0} == 1 ]] || echo "network '$name': nothing to remove"
    fi
}

net_up() {
    local name=$1 relay=$2
    local peer=$name-peer us=$name-us rel=$name-relay ns
    for ns in "$peer" "$us" "$rel"; do
        ! ns_exists "$ns" || die "namespace $ns already exists (remove it: $prog down $name)"
    done
    # Undo a half-made network if any step fails.
    trap 'QUIET=1 net_down "$name" >/dev/null 2>&1 || true; die "could not create network $name"' ERR

    ns_create "$peer"
    ns_create "$us"
    ip netns exec "$us" sysctl -qw net.ipv4.ip_forward=0 >/dev/null
    if ((relay)); then
        ns_create "$rel"
        ip netns exec "$rel" sysctl -qw net.ipv4.ip_forward=0 >/dev/null
        ip -n "$peer" link add peer0 type veth peer name ra0 netns "$rel"
        ip -n "$rel" link add rb0 type veth peer name us0 netns "$us"
        offloads_off "$peer" peer0
        offloads_off "$rel" ra0
        offloads_off "$rel" rb0
        ip -n "$rel" link set ra0 up
        ip -n "$rel" link set rb0 up
    else
        ip -n "$peer" link add peer0 type veth peer name us0 netns "$us"
    fi
    ip -n "$peer" addr add "$PEER_IP/$PREFIX_LEN" dev peer0
    ip -n "$peer" link set peer0 up
    ip -n "$us" link set us0 up
    trap - ERR

    [[ ${QUIET:-0} == 1 ]] && return 0
    local exec_name=" $name"
    [[ $name == "$DEFAULT_NAME" ]] && exec_name=""
    echo "network '$name' is up"
    echo "  namespace $peer: peer0 $PEER_IP/$PREFIX_LEN (kernel stack: run servers here)"
    echo "  namespace $us: interface us0, no kernel IPv4 address, IPv6 off (ustack's side)"
    if ((relay)); then
        echo "  namespace $rel: ra0 (to peer) | rb0 (to us): nothing passes until the relay runs:"
        echo "    ustack net exec$exec_name relay -- ustack-relay --a ra0 --b rb0 --both delay=20ms"
    fi
    echo "run a program over ustack:"
    echo "  ustack net exec$exec_name -- ustack run --ip $US_IP/$PREFIX_LEN -- curl http://$PEER_IP/"
    echo "run a server on the peer:"
    echo "  ustack net exec$exec_name peer -- python3 -m http.server --bind $PEER_IP 80"
    echo "remove: ustack net down$exec_name"
}

ns_status() {
    local ns=$1 pids pid
    if ! ns_exists "$ns"; then
        echo "  $ns: absent"
        return 1
    fi
    echo "  $ns:"
    ip -n "$ns" -br addr show | grep -v '^lo ' | sed 's/^/    /'
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    for pid in $pids; do
        echo "    pid $pid: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-100)"
    done
}

net_status() {
    local name=$1 ok=0
    echo "network '$name':"
    ns_status "$name-peer" || ok=1
    ns_status "$name-us" || ok=1
    if ns_exists "$name-relay"; then ns_status "$name-relay" || true; fi
    return $ok
}

net_list() {
    local ns name
    while read -r ns _; do
        [[ $ns == *-peer ]] || continue
        name=${ns%-peer}
        ns_exists "$name-us" || continue
        if ns_exists "$name-relay"; then echo "$name (with relay)"; else echo "$name"; fi
    done < <(ip netns list 2>/dev/null)
}

net_exec() {
    local positional=() name=$DEFAULT_NAME side=us
    while (($#)) && [[ $1 != -- ]]; do
        positional+=("$1")
        shift
    done
    (($#)) || die "exec: missing '--' before the command"
    shift
    (($#)) || die "exec: no command given"
    case ${#positional[@]} in
    0) ;;
    1) if [[ ${positional[0]} =~ ^(peer|us|relay)$ ]]; then
           side=${positional[0]}
       else
           name=${positional[0]}
       fi ;;
    2) name=${positional[0]} side=${positional[1]} ;;
    *) die "exec: too many arguments before '--'" ;;
    esac
    [[ $side =~ ^(peer|us|relay)$ ]] || die "exec: side must be peer, us or relay, not '$side'"
    check_name "$name"
    ns_exists "$name-$side" || die "namespace $name-$side does not exist (create it: $prog up $name)"
    exec ip netns exec "$name-$side" "$@"
}

main() {
    (($#)) || { usage >&2; exit 2; }
    local cmd=$1
    shift
    case $cmd in
    up)
        local name=$DEFAULT_NAME relay=0 arg
        for arg in "$@"; do
            case $arg in
            --relay) relay=1 ;;
            -*) die "up: unknown option '$arg'" ;;
            *) name=$arg ;;
            esac
        done
        check_name "$name"
        check_root up "$@"
        net_up "$name" "$relay"
        ;;
    down)
        (($# <= 1)) || die "down: too many arguments"
        local name=${1:-$DEFAULT_NAME}
        check_name "$name"
        check_root down "$@"
        net_down "$name"
        ;;
    exec)
        check_root exec "$@"
        net_exec "$@"
        ;;
    status)
        (($# <= 1)) || die "status: too many arguments"
        local name=${1:-$DEFAULT_NAME}
        check_name "$name"
        net_status "$name"
        ;;
    list) net_list ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
    esac
}

main "$@"
