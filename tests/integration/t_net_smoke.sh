#!/usr/bin/env bash
# t_net_smoke: the test network itself, kernel stack only (no ustack needed).
# Checks the topology shim/ustack-net.sh builds, that the us side is silent without an
# address, that kernel_addr_on/off work, and that tests/lib/net.sh leaves nothing behind —
# also when a test fails or is killed.
# timeout: 60
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ip ping ss python3

net_setup

# Topology and names.
check ns_peer_exists test -e "/run/netns/$NS_PEER"
check ns_us_exists test -e "/run/netns/$NS_US"
check peer_if_named_peer0 in_peer ip link show dev "$PEER_IF"
check us_if_named_us0 in_us ip link show dev "$US_IF"
expect_eq peer_address "$(in_peer ip -4 -o addr show dev "$PEER_IF" | awk '{print $4}')" \
    "$PEER_IP/$NET_PREFIX"
expect_eq us_no_ipv4 "$(in_us ip -4 -o addr show dev "$US_IF")" ""
expect_eq us_ipv6_off "$(in_us sysctl -n "net.ipv6.conf.$US_IF.disable_ipv6")" 1
expect_eq us_if_up "$(in_us cat "/sys/class/net/$US_IF/operstate")" up
expect_eq root_ns_untouched "$(ip -o link show | grep -cE ' (peer0|us0)[@:]')" 0

# Without an address the kernel must send nothing on us0 (ustack owns the link).
sleep 1
expect_eq us_side_silent "$(in_us cat "/sys/class/net/$US_IF/statistics/tx_packets")" 0
if in_peer ping -c 1 -W 1 "$US_IP" >/dev/null; then
    fail no_reply_without_address "kernel answered ping on $US_IP without an address"
else
    pass no_reply_without_address
fi

# Kernel address on: peer reaches it; off: gone again and neighbours flushed.
kernel_addr_on
check ping_kernel_us in_peer ping -c 2 -i 0.2 -W 2 "$US_IP"
check ping_kernel_peer in_us ping -c 1 -W 2 "$PEER_IP"
kernel_addr_off
expect_eq addr_removed "$(in_us ip -4 -o addr show dev "$US_IF")" ""
expect_eq peer_neigh_flushed "$(in_peer ip neigh show "$US_IP" | grep -c lladdr)" 0
if in_peer ping -c 1 -W 1 "$US_IP" >/dev/null; then
    fail no_reply_after_off "kernel still answers on $US_IP"
else
    pass no_reply_after_off
fi

# Background jobs and wait_port_peer.
start_peer_bg tcpsrv python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$PEER_IP', 8080)); s.listen(); time.sleep(60)"
check wait_port_tcp wait_port_peer 8080 tcp 5
start_peer_bg udpsrv python3 -c "
import socket, time
s = socket.socket(type=socket.SOCK_DGRAM); s.bind(('$PEER_IP', 5353)); time.sleep(60)"
check wait_port_udp wait_port_peer 5353 udp 5
if wait_port_peer 9 tcp 1 >/dev/null; then fail wait_port_times_out "port 9 reported open"
else pass wait_port_times_out; fi
start_us_bg quick sh -c 'echo hello; exit 7'
status=0
wait_bg quick 5 || status=$?
expect_eq wait_bg_status "$status" 7
expect_eq bg_log_content "$(cat "$(bg_log quick)")" hello

# ustack-net.sh exec/status on this network.
expect_eq net_exec_peer "$(bash "$NET_SH" exec "$NET_NAME" peer -- ip -4 -o addr show dev peer0 |
    awk '{print $4}')" "$PEER_IP/$NET_PREFIX"
check net_status bash "$NET_SH" status "$NET_NAME"

# Explicit teardown: namespaces and background processes gone.
srv_pid=$(bg_pid tcpsrv)
net_teardown
if ip netns list | grep -q "^$NET_NAME-"; then
    fail teardown_removes_ns "$(ip netns list | grep "^$NET_NAME-" | tr '\n' ' ')"
else
    pass teardown_removes_ns
fi
if kill -0 "$srv_pid" 2>/dev/null; then fail teardown_kills_bg "pid $srv_pid alive"
else pass teardown_kills_bg; fi

# A test that fails (exit 3) or is killed (TERM) must clean up too.
for how in exit term; do
    out=$(mktemp "$T_TMP/child.XXXXXX")
    # Own process group, killed as a whole the way `timeout` does it.
    setsid bash -c '
        source "$1/tests/lib/net.sh" "$2"
        net_setup >/dev/null
        echo "$NET_NAME"
        start_peer_bg sleeper sleep 300
        bg_pid sleeper
        echo "$T_TMP"
        [[ $3 == exit ]] && exit 3
        sleep 300' child "$REPO" "$BUILD" "$how" >"$out" 2>&1 &
    child=$!
    if [[ $how == term ]]; then
        for ((i = 0; i < 50; i++)); do
            [[ $(wc -l <"$out") -ge 3 ]] && break
            sleep 0.1
        done
        kill -TERM -- "-$child"
    fi
    wait "$child" || true
    child_net=$(sed -n 1p "$out")
    child_sleeper=$(sed -n 2p "$out")
    child_tmp=$(sed -n 3p "$out")
    [[ $child_tmp == /tmp/ustack-* ]] && rm -rf "$child_tmp"
    if [[ $child_net != ust* ]]; then
        fail "cleanup_on_$how" "child did not start: $(cat "$out")"
        continue
    fi
    if ip netns list | grep -q "^$child_net-"; then
        fail "cleanup_on_$how" "namespaces of $child_net left behind"
        bash "$NET_SH" down "$child_net" >/dev/null
    elif [[ -n $child_sleeper ]] && kill -0 "$child_sleeper" 2>/dev/null; then
        fail "cleanup_on_$how" "background pid $child_sleeper left running"
        kill "$child_sleeper"
    else
        pass "cleanup_on_$how"
    fi
done

finish
