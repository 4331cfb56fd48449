#!/usr/bin/env bash
# t_tcp_readiness: a Python program using poll, select and epoll (level- and edge-triggered)
# on TCP sockets gets the same readiness over ustack as over the kernel through a connection's
# life: non-blocking connect in progress (SYNs dropped by nftables), refused (RST), completed;
# idle; peer FIN (POLLRDHUP), read to EOF, own SHUT_WR (POLLHUP); peer RST (POLLERR|POLLHUP,
# ECONNRESET once, then EOF and EPIPE); a listening socket before and after a peer connects.
# tests/tools/tcp_readiness.py prints one normalized line per step; the runs must be identical.
# timeout: 120
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
source "$(dirname "$0")/../tools/tcp_lib.sh"
need_root
need_cmd ip diff nft
tcp_need_build
tool=$TOOLS/tcp_readiness.py
ctl_port=9100 closed_port=9 drop_port=81 listen_port=9200

net_setup
in_peer nft add table inet t
in_peer nft add chain inet t in '{ type filter hook input priority 0; }'
in_peer nft add rule inet t in tcp dport "$drop_port" drop
start_peer_bg srv "$PY" "$tool" server "$PEER_IP" "$ctl_port"
wait_port_peer "$ctl_port" tcp 10 || die "readiness server did not start: $(cat "$(bg_log srv)")"

kernel_addr_on
status=0
tcp_timeout 60 ip netns exec "$NS_US" "$PY" "$tool" client "$PEER_IP" "$ctl_port" \
    "$closed_port" "$drop_port" "$listen_port" >"$T_TMP/kernel.out" 2>"$T_TMP/kernel.err" ||
    status=$?
((status == 0)) || die "over the kernel: exit $status: $(tail -c 1000 "$T_TMP/kernel.err")"
pass kernel_reference
kernel_addr_off
tcp_net_ready

status=0
tcp_us_run 60 -- "$PY" "$tool" client "$PEER_IP" "$ctl_port" "$closed_port" "$drop_port" \
    "$listen_port" >"$T_TMP/ustack.out" 2>"$T_TMP/ustack.err" || status=$?
if ((status != 0)); then
    fail ustack_exit "exit $status; stderr: $(tail -c 1000 "$T_TMP/ustack.err")"
else
    pass ustack_exit
fi
if diff -u --label kernel --label ustack "$T_TMP/kernel.out" "$T_TMP/ustack.out" >"$T_TMP/diff"; then
    pass same_as_kernel
else
    fail same_as_kernel "$(grep -c '^+ *[0-9]' "$T_TMP/diff") steps differ from the kernel's:"
    cat "$T_TMP/diff"
fi
finish
