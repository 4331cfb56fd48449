#!/usr/bin/env bash
# t_tcp_reconnect: connect() again on a socket whose connection attempt failed (RST), blocking
# and non-blocking, with the exact errno sequence the kernel gives (EINPROGRESS, ECONNREFUSED,
# ECONNABORTED, a new attempt that succeeds) — the same program over the kernel and over ustack
# must print the same lines. Over ustack the socket's readiness file is renewed under the same
# fd number for the new attempt.
# timeout: 60
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ip socat
need_build
py=/usr/bin/python3
net_setup

start_peer_bg echo socat TCP-LISTEN:7200,bind="$PEER_IP",reuseaddr,fork EXEC:cat
wait_port_peer 7200 tcp || die "peer echo server did not start"

kernel_addr_on
run_timeout 20 ip netns exec "$NS_US" "$py" "$REPO/tests/tools/tcp_reconnect.py" "$PEER_IP" 7200 7209 \
    >"$T_TMP/kernel.out" 2>&1 || true
kernel_addr_off
run_timeout 20 ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" --ip "$US_IP/$NET_PREFIX" -- \
    "$py" "$REPO/tests/tools/tcp_reconnect.py" "$PEER_IP" 7200 7209 >"$T_TMP/ustack.out" 2>&1 || true

check kernel_run_complete grep -q '^completed:' "$T_TMP/kernel.out"
check kernel_retry_connected grep -q '^echo: ping$' "$T_TMP/kernel.out"
if diff -u "$T_TMP/kernel.out" "$T_TMP/ustack.out" >"$T_TMP/diff"; then
    pass same_as_kernel
else
    fail same_as_kernel "$(cat "$T_TMP/diff")"
fi
finish
