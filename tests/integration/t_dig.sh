#!/usr/bin/env bash
# t_dig: dig over ustack asks dnsmasq (kernel, peer namespace) and gets the answer: two A
# queries in one dig process (one UDP socket each), then the same over TCP (+tcp) once the
# stack has TCP.
# timeout: 90
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ip dig dnsmasq
need_build

# dig_check NAME DIG-OPTION...: dig over ustack must answer web.test and www.web.test with
# 192.0.2.1 (NOERROR, one A record each).
dig_check() {
    local name=$1 out status=0 answers
    shift
    out=$(run_timeout 30 ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" \
        --ip "$US_IP/$NET_PREFIX" -- dig +time=2 +tries=2 "$@" "@$PEER_IP" \
        web.test A www.web.test A 2>&1) || status=$?
    answers=$(grep -cE '^(www\.)?web\.test\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+A[[:space:]]+192\.0\.2\.1$' \
        <<<"$out" || true)
    # A query answered only by dig's retry (2 s later) means a datagram was lost (e.g. while
    # ARP was resolving): on a veth nothing is lost, so each query must take under a second.
    slow=$(awk '/^;; Query time: [0-9]+ msec/ && $4 >= 1000' <<<"$out")
    if ((status == 0)) && ((answers == 2)) && [[ -z $slow ]] &&
        [[ $(grep -c 'status: NOERROR' <<<"$out") == 2 ]] &&
        ! grep -qE 'AddressSanitizer|runtime error:' <<<"$out"; then
        pass "$name"
    else
        fail "$name" "dig $* exit $status, $answers of 2 answers${slow:+, slow: $slow}:
$out" || true
    fi
}

net_setup
start_peer_bg dnsmasq dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
    --listen-address="$PEER_IP" --bind-interfaces --address=/web.test/"$PEER_IP" \
    --pid-file="$T_TMP/dnsmasq.pid" --user=root --group=root --log-queries --log-facility=-
wait_port_peer 53 udp 10 || die "dnsmasq did not start: $(cat "$(bg_log dnsmasq)")"
wait_port_peer 53 tcp 10 || die "dnsmasq does not listen on TCP: $(cat "$(bg_log dnsmasq)")"

# The reference over the kernel, so a failure below is ustack's and not the setup's.
kernel_addr_on
ref=$(run_timeout 20 ip netns exec "$NS_US" dig +time=2 +tries=2 +short "@$PEER_IP" web.test A 2>&1) ||
    die "dig over the kernel failed: $ref"
[[ $ref == "$PEER_IP" ]] || die "dig over the kernel answered '$ref'"
pass kernel_reference
kernel_addr_off

dig_check dig_udp
# TCP DNS needs the TCP module (the TCP issue); until stack/tcp_in.c exists it is not built.
if [[ -e $REPO/stack/tcp_in.c ]]; then
    dig_check dig_tcp +tcp
else
    info "dig +tcp not run: the stack has no TCP input yet (stack/tcp_in.c absent)"
fi
queries=$(($(grep -c 'query\[A\] .*web\.test from 192\.0\.2\.2' "$(bg_log dnsmasq)" || true) - 1))
want=2
[[ -e $REPO/stack/tcp_in.c ]] && want=4
expect_eq dnsmasq_saw_queries "$queries" "$want" || true
finish
