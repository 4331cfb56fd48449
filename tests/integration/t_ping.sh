#!/usr/bin/env bash
# t_ping: ustack answers ARP and ICMP echo for its address while a program runs over it.
# The peer's kernel ping gets 3 of 3 replies; a 4000-byte ping (reassembly in ustack,
# fragmentation of the reply) and a 65507-byte one (the largest IPv4 datagram) come back with
# the right size and content (ping checks its payload pattern); nothing answers for an
# address ustack does not own, and nothing answers once the ustack process is gone (the kernel
# has no address on us0, so every reply came from ustack).
# timeout: 90
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ip ping
need_build
py=/usr/bin/python3

# ping_check NAME SIZE COUNT: the peer pings us with SIZE-byte payloads; every reply must come
# back with SIZE+8 bytes, no loss, no duplicates, no corrupted payload.
ping_check() {
    local name=$1 size=$2 count=$3 out status=0 replies
    out=$(run_timeout 30 ip netns exec "$NS_PEER" ping -n -c "$count" -i 0.2 -W 2 \
        -s "$size" "$US_IP" 2>&1) || status=$?
    replies=$(grep -c "^$((size + 8)) bytes from $US_IP: icmp_seq=" <<<"$out" || true)
    if ((status != 0)) || ((replies != count)) ||
        grep -qiE 'wrong data|DUP!|truncated|corrupted' <<<"$out"; then
        fail "$name" "ping -s $size -c $count: exit $status, $replies of $count replies of \
$((size + 8)) bytes:
$out" || true
        return 1
    fi
    pass "$name"
}

net_setup
us_mac=$(in_us cat "/sys/class/net/$US_IF/address")

# A program holding a UDP socket keeps a ustack instance running (the stack starts with the
# process's first AF_INET socket).
ustack_bg holder "$py" -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9100))
print("ready", flush=True)
time.sleep(60)'
wait_bg_log holder '^ready' 20 || die "ustack process did not start: $(cat "$(bg_log holder)")"

ping_check ping_3_of_3 56 3 || true
neigh=$(in_peer ip neigh show "$US_IP" dev "$PEER_IF")
if [[ $neigh == *"lladdr $us_mac"* ]]; then
    pass arp_resolved
else
    fail arp_resolved "peer's neighbour entry for $US_IP: '$neigh', want lladdr $us_mac" || true
fi
ping_check ping_4000_fragmented 4000 2 || true
ping_check ping_65507_largest 65507 1 || true

# Larger than any IPv4 datagram: ping itself refuses; nothing to test. Another address on the
# link (same subnet) must get no answer from ustack.
if run_timeout 10 ip netns exec "$NS_PEER" ping -n -c 1 -W 1 192.0.2.9 >/dev/null 2>&1; then
    fail no_reply_other_address "something answered for 192.0.2.9" || true
else
    pass no_reply_other_address
fi

# The holder must still be running: ping did not disturb it.
if kill -0 "$(bg_pid holder)" 2>/dev/null; then
    pass holder_alive
else
    fail holder_alive "ustack process ended early: $(cat "$(bg_log holder)")" || true
fi
stop_bg holder
in_peer ip neigh flush dev "$PEER_IF"
if run_timeout 10 ip netns exec "$NS_PEER" ping -n -c 1 -W 1 "$US_IP" >/dev/null 2>&1; then
    fail no_reply_after_exit "$US_IP still answers with no ustack process" || true
else
    pass no_reply_after_exit
fi
finish
