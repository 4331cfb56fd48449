#!/usr/bin/env bash
# t_udp_readiness: a Python program that uses select, poll and epoll (level- and edge-triggered,
# EPOLLONESHOT, one socket in two epoll sets, an epoll inside an epoll) on ustack UDP sockets
# and a pipe together gets the same results over ustack as over the kernel: idle timeouts,
# datagram arrival, draining, writability, an ICMP port-unreachable error on a connected
# socket, shutdown. tests/tools/udp_readiness.py prints one normalized line per step; the two
# runs must print identical lines.
# timeout: 120
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ip diff
need_build
py=/usr/bin/python3 # Debian's interpreter (the first python3 on PATH may be another one)
tool=$REPO/tests/tools/udp_readiness.py
[[ -x $py ]] || die "$py is missing"
echo_port=9000
closed_port=9999

us_run() {
    local secs=$1
    shift
    run_timeout "$secs" ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" \
        --ip "$US_IP/$NET_PREFIX" -- "$@"
}

net_setup
in_peer sysctl -qw net.ipv4.icmp_ratelimit=0
start_peer_bg echo "$py" "$tool" echo "$PEER_IP" "$echo_port"
wait_port_peer "$echo_port" udp 10 || die "echo server did not start: $(cat "$(bg_log echo)")"

kernel_addr_on
status=0
run_timeout 60 ip netns exec "$NS_US" "$py" "$tool" client "$PEER_IP" "$echo_port" \
    "$closed_port" >"$T_TMP/kernel.out" 2>"$T_TMP/kernel.err" || status=$?
((status == 0)) || die "over the kernel: exit $status: $(head -c 1000 "$T_TMP/kernel.err")"
if grep -qE 'TIMEOUT|exception|wrong data' "$T_TMP/kernel.out"; then
    die "kernel reference run went wrong: $(grep -E 'TIMEOUT|exception|wrong' "$T_TMP/kernel.out")"
fi
pass kernel_reference
kernel_addr_off

status=0
us_run 60 "$py" "$tool" client "$PEER_IP" "$echo_port" "$closed_port" \
    >"$T_TMP/ustack.out" 2>"$T_TMP/ustack.err" || status=$?
if ((status != 0)); then
    fail ustack_exit "exit $status; stderr: $(head -c 1000 "$T_TMP/ustack.err")" || true
else
    pass ustack_exit
fi
if diff -u --label kernel --label ustack "$T_TMP/kernel.out" "$T_TMP/ustack.out" \
    >"$T_TMP/diff"; then
    pass same_as_kernel
else
    fail same_as_kernel "$(grep -c '^+[0-9]' "$T_TMP/diff" || true) steps differ from the kernel's:" ||
        true
    cat "$T_TMP/diff"
fi
if [[ -s $T_TMP/ustack.err ]]; then
    info "ustack run stderr:"
    sed 's/^/#   /' "$T_TMP/ustack.err" | head -n 40
fi
finish
