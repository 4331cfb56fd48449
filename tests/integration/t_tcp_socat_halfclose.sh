#!/usr/bin/env bash
# t_tcp_socat_halfclose: TCP half-close (shutdown(SHUT_WR)) both ways, with socat.
#   client — `ustack run -- socat -t5 - TCP:192.0.2.1:7000 < file` against a kernel peer
#            `socat TCP-LISTEN:7000 SYSTEM:sha256sum`: the peer answers only after the client's
#            FIN (EOF for sha256sum), so the answer arrives only if the client shut down just
#            its sending side and went on reading; it must be the file's digest.
#   server — the roles reversed: socat listens over ustack (its SYSTEM child is a fork+exec
#            of an ustack process), the kernel socat on the peer connects and half-closes.
# 8 MiB of reproducible random data each way.
# timeout: 120
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
source "$(dirname "$0")/../tools/tcp_lib.sh"
need_root
need_cmd ip socat sha256sum
tcp_need_build

net_setup
tcp_net_ready
data=$(tcp_gen half.bin 8m 501)
want="$(tcp_sha "$data")  -"

# (a) ustack client, kernel server.
start_peer_bg peer_srv socat TCP-LISTEN:7000,bind="$PEER_IP",reuseaddr SYSTEM:sha256sum
wait_port_peer 7000 tcp 10 || die "peer socat did not listen"
status=0
t0=$(tcp_ms)
got=$(tcp_us_run 40 -- socat -t5 - "TCP:$PEER_IP:7000" <"$data" 2>"$T_TMP/client.err") ||
    status=$?
info "client: $(($(tcp_ms) - t0)) ms"
if ((status != 0)); then
    fail client_socat "exit $status: $(head -c 500 "$T_TMP/client.err")"
else
    pass client_socat
fi
expect_eq client_halfclose_digest "$got" "$want"
status=0
wait_bg peer_srv 10 || status=$?
expect_eq peer_server_exit "$status" 0

# (b) ustack server, kernel client.
tcp_us_bg us_srv -- socat -d -d TCP-LISTEN:7001,bind="$US_IP",reuseaddr SYSTEM:sha256sum
wait_bg_log us_srv 'listening on' 20 || die "socat over ustack did not listen: $(tail -n 20 "$(bg_log us_srv)")"
status=0
t0=$(tcp_ms)
got=$(tcp_timeout 40 ip netns exec "$NS_PEER" socat -t5 - "TCP:$US_IP:7001" <"$data" \
    2>"$T_TMP/peer_client.err") || status=$?
info "server: $(($(tcp_ms) - t0)) ms"
if ((status != 0)); then
    fail peer_client_socat "exit $status: $(head -c 500 "$T_TMP/peer_client.err")"
else
    pass peer_client_socat
fi
expect_eq server_halfclose_digest "$got" "$want"
status=0
wait_bg us_srv 10 || status=$?
if ((status == 0)); then
    pass us_server_exit
else
    fail us_server_exit "socat over ustack: exit $status: $(grep -v ' [NI] ' "$(bg_log us_srv)" | tail -n 10)"
fi
finish
