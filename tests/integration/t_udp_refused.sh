#!/usr/bin/env bash
# t_udp_refused: a datagram to a closed port yields ECONNREFUSED on the next call of a connected
# socket, exactly as the same program over the kernel. tests/tools/udp_refused runs a fixed
# sequence (send, poll, recv, SO_ERROR, send with the error pending, a blocking recv woken by
# the error, an unconnected socket that must see nothing) and prints one line per step; the
# run over ustack must print the same lines as the run over the kernel stack.
# timeout: 90
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ip diff
need_build
tool=$BUILD/tests/tools/udp_refused
[[ -x $tool ]] || die "$tool is missing (make BUILD=${BUILD#"$REPO"/})"
closed_port=9999

# `ustack run` in the us namespace, bounded in time.
us_run() {
    local secs=$1
    shift
    run_timeout "$secs" ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" \
        --ip "$US_IP/$NET_PREFIX" -- "$@"
}

net_setup
# Every refused datagram must produce its ICMP error: no rate limit on the peer (its own netns).
in_peer sysctl -qw net.ipv4.icmp_ratelimit=0

kernel_addr_on
status=0
run_timeout 30 ip netns exec "$NS_US" "$tool" "$PEER_IP" "$closed_port" \
    >"$T_TMP/kernel.out" 2>"$T_TMP/kernel.err" || status=$?
((status == 0)) || die "over the kernel: exit $status: $(head -c 500 "$T_TMP/kernel.err")"
grep -q '^recv with error: -1 ECONNREFUSED$' "$T_TMP/kernel.out" ||
    die "kernel run did not see ECONNREFUSED (ICMP missing?): $(cat "$T_TMP/kernel.out")"
pass kernel_reference
kernel_addr_off

status=0
us_run 30 "$tool" "$PEER_IP" "$closed_port" >"$T_TMP/ustack.out" 2>"$T_TMP/ustack.err" ||
    status=$?
if ((status != 0)); then
    fail ustack_exit "exit $status; stderr: $(head -c 1000 "$T_TMP/ustack.err")" || true
else
    pass ustack_exit
fi
if diff -u --label kernel --label ustack "$T_TMP/kernel.out" "$T_TMP/ustack.out" \
    >"$T_TMP/diff"; then
    pass same_as_kernel
else
    fail same_as_kernel "output differs from the kernel's:" || true
    cat "$T_TMP/diff"
fi
if [[ -s $T_TMP/ustack.err ]]; then
    info "ustack run stderr:"
    sed 's/^/#   /' "$T_TMP/ustack.err" | head -n 40
fi
finish
