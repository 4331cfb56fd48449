#!/usr/bin/env bash
# t_udp_socat: UDP echo round trips with socat, ustack on either side.
#  (a) ustack as client: the peer's kernel socat echoes (UDP4-RECVFROM,fork + cat); socat over
#      ustack sends a line, then 3000- and 8000-byte datagrams (fragmented both ways), and gets
#      each back intact.
#  (b) ustack as server: socat over ustack (UDP4-LISTEN + cat, a connected UDP socket after the
#      first datagram) echoes what the peer's kernel socat client sends, the same sizes.
# The peer's IP counters show that it reassembled ustack's fragments and fragmented its own
# replies, so both directions of fragmentation were exercised.
# timeout: 120
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ip socat cmp ping
need_build

client_port=40001 # the peer client's fixed source port: UDP4-LISTEN serves one peer address

# peer_ip_counter NAME: a counter of the peer namespace's "Ip:" line in /proc/net/snmp.
peer_ip_counter() {
    in_peer awk -v name="$1" '$1 == "Ip:" { if (!n) { for (i = 2; i <= NF; i++) col[$i] = i; n = 1 }
        else print $col[name] }' /proc/net/snmp
}

# us_client FILE OUT: socat over ustack sends FILE as one datagram to the peer's echo server.
us_client() {
    run_timeout 20 ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" \
        --ip "$US_IP/$NET_PREFIX" -- socat -t 1 - "UDP4:$PEER_IP:9000" <"$1" >"$2" \
        2>"$2.err"
}

# peer_client FILE OUT: the peer's kernel socat sends FILE to the ustack echo server.
peer_client() {
    run_timeout 20 ip netns exec "$NS_PEER" socat -t 1 - \
        "UDP4:$US_IP:9001,sourceport=$client_port,reuseaddr" <"$1" >"$2" 2>"$2.err"
}

# round_trip NAME CLIENT FILE: CLIENT must return FILE's bytes unchanged.
round_trip() {
    local name=$1 client=$2 file=$3 out status=0
    out=$T_TMP/$name.out
    "$client" "$file" "$out" || status=$?
    if ((status == 0)) && cmp -s "$file" "$out"; then
        pass "$name"
        return 0
    fi
    fail "$name" "exit $status, sent $(stat -c %s "$file") bytes, got $(stat -c %s "$out") \
back; stderr: $(head -c 600 "$out.err")" || true
    return 1
}

net_setup
echo "hello over ustack $$" >"$T_TMP/line"
head -c 3000 /dev/urandom >"$T_TMP/3000"
head -c 8000 /dev/urandom >"$T_TMP/8000"

# (a) ustack as client.
start_peer_bg echo_server socat UDP4-RECVFROM:9000,bind="$PEER_IP",fork EXEC:cat
wait_port_peer 9000 udp 10 || die "peer socat did not start: $(cat "$(bg_log echo_server)")"
round_trip client_line us_client "$T_TMP/line" || true
reasm0=$(peer_ip_counter ReasmOKs)
frag0=$(peer_ip_counter FragCreates)
round_trip client_3000_fragmented us_client "$T_TMP/3000" || true
round_trip client_8000_fragmented us_client "$T_TMP/8000" || true
reasm=$(($(peer_ip_counter ReasmOKs) - reasm0))
frags=$(($(peer_ip_counter FragCreates) - frag0))
if ((reasm >= 2 && frags >= 2 * 3)); then
    pass client_fragments_both_ways
else
    fail client_fragments_both_ways "peer reassembled $reasm datagrams (want >= 2) and \
created $frags fragments (want >= 6)" || true
fi
stop_bg echo_server

# (b) ustack as server. -T bounds its life should the test die without killing it.
ustack_bg us_server socat -T 30 UDP4-LISTEN:9001 EXEC:cat
# First the stack must answer at all (ARP, ICMP echo) …
up=0
for ((i = 0; i < 40; i++)); do
    if in_peer ping -n -c 1 -W 1 "$US_IP" >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$(bg_pid us_server)" 2>/dev/null || break
    sleep 0.25
done
((up)) || die "ustack server not reachable: $(cat "$(bg_log us_server)")"
# … then the port must be bound: a datagram sent before that is refused (ICMP port
# unreachable) and the client fails at once; retry only for that start-up race.
attempts=0
while :; do
    attempts=$((attempts + 1))
    if peer_client "$T_TMP/line" "$T_TMP/start.out" && cmp -s "$T_TMP/line" "$T_TMP/start.out"
    then
        break
    fi
    if ((attempts >= 10)) || ! kill -0 "$(bg_pid us_server)" 2>/dev/null; then
        fail server_line "no echo after $attempts attempts; client: $(cat "$T_TMP/start.out.err") \
server: $(cat "$(bg_log us_server)")" || true
        finish
    fi
    sleep 0.3
done
pass server_line
info "server answered at attempt $attempts"
reasm0=$(peer_ip_counter ReasmOKs)
frag0=$(peer_ip_counter FragCreates)
round_trip server_line_again peer_client "$T_TMP/line" || true
round_trip server_3000_fragmented peer_client "$T_TMP/3000" || true
round_trip server_8000_fragmented peer_client "$T_TMP/8000" || true
reasm=$(($(peer_ip_counter ReasmOKs) - reasm0))
frags=$(($(peer_ip_counter FragCreates) - frag0))
if ((reasm >= 2 && frags >= 2 * 3)); then
    pass server_fragments_both_ways
else
    fail server_fragments_both_ways "peer reassembled $reasm datagrams (want >= 2) and \
created $frags fragments (want >= 6)" || true
fi
if kill -0 "$(bg_pid us_server)" 2>/dev/null; then
    pass server_alive
else
    fail server_alive "ustack socat ended early: $(cat "$(bg_log us_server)")" || true
fi
stop_bg us_server
if grep -qE 'AddressSanitizer|runtime error:|LeakSanitizer' "$(bg_log us_server)" \
    "$T_TMP"/*.err 2>/dev/null; then
    fail sanitizer_clean "$(grep -hE 'AddressSanitizer|runtime error:' "$(bg_log us_server)" \
        "$T_TMP"/*.err | head -n 5)" || true
else
    pass sanitizer_clean
fi
finish
