#!/usr/bin/env bash
# t_dns_tcp: name resolution where the stack's TCP is needed too.
#  - curl, wget and python fetch http://web.test:8080/ over ustack: the name comes from dnsmasq
#    (getaddrinfo hook, curl calls it from its resolver thread), the page over ustack TCP.
#  - many.test has 45 A records (747 bytes, over UDP's 512 without EDNS): dnsmasq answers the UDP
#    query truncated and c-ares must ask again over TCP through the stack; all 45 must arrive.
# TCP is checked first with a numeric URL, so a broken TCP fails loudly as such (never skipped).
# curl and wget cannot start under a preloaded ASan runtime (Debian 12, google/sanitizers#1270):
# with a sanitizer build where they hang, tests/tools/uscurl.py (getaddrinfo on a thread, as
# curl does) fetches in their place, and the log says so.
# timeout: 150
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
source "$(dirname "$0")/../tools/tcp_lib.sh"
need_root
need_cmd ip dnsmasq curl wget
need_build
RESOLVE=$BUILD/tests/tools/resolve
PYTHON=/usr/bin/python3
[[ -x $RESOLVE ]] || die "$RESOLVE missing (make BUILD=${BUILD#"$REPO"/})"
[[ -x $PYTHON ]] || die "$PYTHON missing (Debian's python3)"
MANY=45

over_ustack() {
    run_timeout 40 ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" \
        --ip "$US_IP/$NET_PREFIX" --dns "$PEER_IP" -- "$@"
}
dns_log() { cat "$(bg_log dnsmasq)"; }

net_setup
many_records=() many_want=()
for ((i = 0; i < MANY; i++)); do
    many_records+=(--host-record="many.test,192.0.2.$((100 + i))")
    many_want+=("many.test: 192.0.2.$((100 + i)) port 80 STREAM proto 6")
done
start_peer_bg dnsmasq dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
    --listen-address="$PEER_IP" --bind-interfaces --address=/web.test/"$PEER_IP" \
    --local=/test/ "${many_records[@]}" --pid-file="$T_TMP/dnsmasq.pid" --user=root \
    --group=root --log-queries --log-facility=-
wait_port_peer 53 udp 10 || die "dnsmasq did not start: $(dns_log)"
wait_port_peer 53 tcp 10 || die "dnsmasq does not listen on TCP: $(dns_log)"

mkdir -p "$T_TMP/www"
page="ustack dns $RANDOM$RANDOM"
echo "$page" >"$T_TMP/www/hello.txt"
start_peer_bg web "$PYTHON" -m http.server --bind "$PEER_IP" --directory "$T_TMP/www" 8080
wait_port_peer 8080 tcp 10 || die "http.server did not start: $(cat "$(bg_log web)")"

PY_FETCH='import sys, urllib.request
sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode())'

# The fetchers as they run over ustack: curl, or its stand-in (tcp_http_client); wget, or the
# same stand-in with wget's limits when wget cannot start under the sanitizer runtimes.
tcp_http_client
curl_cmd=("${HTTP_CLIENT[@]}" -sS --max-time 20)
wget_cmd=(wget -q -T 20 -t 1 -O -)
runtimes=$(tcp_sanitizer_runtimes)
if [[ -n $runtimes ]] && ! tcp_starts_preloaded wget; then
    wget_cmd=("$PY" "$TOOLS/uscurl.py" -sS --connect-timeout 20 --max-time 20)
    info "wget replaced by tests/tools/uscurl.py: ${BUILD##*/} is a sanitizer build" \
        "(preloads ${runtimes//:/ }) and $TCP_PRELOAD_WHY (google/sanitizers#1270)"
fi

check_fetch() {
    local name=$1 status=0 out
    shift
    out=$(over_ustack "$@" 2>&1) || status=$?
    if ((status == 0)) && [[ $out == "$page" ]]; then
        pass "$name"
    else
        fail "$name" "exit $status: $out" || true
    fi
}

# 1. TCP over ustack at all (numeric URL: no name resolution involved).
status=0
out=$(over_ustack "$PYTHON" -c "$PY_FETCH" "http://$PEER_IP:8080/hello.txt" 2>&1) || status=$?
if ((status == 0)) && [[ $out == "$page" ]]; then
    pass tcp_available
else
    fail tcp_available "TCP over ustack is broken: python fetching http://$PEER_IP:8080/ exit $status:
$out" || true
fi

# 2. By name: python's urllib, curl (threaded resolver), wget.
check_fetch python_by_name "$PYTHON" -c "$PY_FETCH" http://web.test:8080/hello.txt
check_fetch curl_by_name "${curl_cmd[@]}" http://web.test:8080/hello.txt
check_fetch wget_by_name "${wget_cmd[@]}" http://web.test:8080/hello.txt
fetches=3
n=$(dns_log | grep -c 'query\[A\] web\.test from 192\.0\.2\.2' || true)
expect_eq dnsmasq_saw_ustack_queries "$n" "$fetches" || true

# 3. A truncated UDP answer: c-ares asks again over TCP and gets every record.
status=0
out=$(over_ustack "$RESOLVE" -t stream -s 80 many.test 2>&1) || status=$?
got=$(sort -V <<<"$out")
want=$(printf '%s\n' "${many_want[@]}")
if ((status == 0)) && [[ $got == "$want" ]]; then
    pass "truncated_answer_all_$MANY"
else
    fail "truncated_answer_all_$MANY" "exit $status, $(wc -l <<<"$out") lines:
$out" || true
fi
# once over UDP (answered truncated), once over TCP
n=$(dns_log | grep -c 'query\[A\] many\.test from 192\.0\.2\.2' || true)
expect_eq truncated_answer_retried_over_tcp "$n" 2 || true
finish
