#!/usr/bin/env bash
# demo/demo.sh BUILD — ustack on a private test network, step by step:
#   1. ping:  the peer's kernel pings 192.0.2.2 while a ustack process runs (ARP + ICMP)
#   2. dig:   dig through ustack asks dnsmasq on the peer for web.test (UDP)
#   3. curl:  curl through ustack fetches 1 MiB from nginx on the peer (TCP), checks sha256,
#             and the same fetch over the kernel stack for comparison
# Traces, pcaps and server logs stay in /tmp/ustack-demo-<time>/ for you to look at.
set -uo pipefail

# Every step counts towards the exit status (DEMO_REQUIRE_TCP=0 lets only ping and dig count).
DEMO_REQUIRE_TCP=${DEMO_REQUIRE_TCP:-1}

FILE_BYTES=$((1024 * 1024))

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/lib/net.sh
source "$here/../tests/lib/net.sh" "${1:-build}"
need_root
need_build
need_cmd nginx dnsmasq dig curl tshark sha256sum ping

# Everything the user may want to look at goes here and is kept (common.sh's T_TMP).
rmdir "$T_TMP"
T_TMP=/tmp/ustack-demo-$(date +%Y%m%d-%H%M%S)-$$
KEEP_TMP=1
mkdir -p "$T_TMP/trace" "$T_TMP/nginx" "$T_TMP/www"
DIR=$T_TMP
# shellcheck disable=SC2016  # expanded at exit
on_exit 'rm -rf "$DIR/www" "$DIR/1M.bin.ustack" "$DIR/1M.bin.kernel"'

say() { printf '%s\n' "$*"; }
step() { printf '\n== %s\n' "$*"; }
indent() { sed 's/^/   /'; }

results=()
ping_ok=0 dig_ok=0 curl_ok=0

step "network"
net_setup >/dev/null
say "namespace $NS_PEER: $PEER_IF $PEER_IP/$NET_PREFIX, kernel stack, runs nginx and dnsmasq"
say "namespace $NS_US: $US_IF without a kernel address; ustack owns $US_IP"
say "(both removed when the demo ends)"

step "servers on the peer"
printf '<html><body>hello from the peer</body></html>\n' >"$DIR/www/index.html"
head -c "$FILE_BYTES" /dev/urandom >"$DIR/www/1M.bin"
want_sum=$(sha256sum <"$DIR/www/1M.bin" | cut -d' ' -f1)
cat >"$DIR/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log info;
events { worker_connections 64; }
http {
    types { text/html html; application/octet-stream bin; }
    default_type application/octet-stream;
    access_log $DIR/nginx/access.log;
    client_body_temp_path $DIR/nginx/client_body;
    proxy_temp_path $DIR/nginx/proxy;
    fastcgi_temp_path $DIR/nginx/fastcgi;
    uwsgi_temp_path $DIR/nginx/uwsgi;
    scgi_temp_path $DIR/nginx/scgi;
    sendfile on;
    keepalive_timeout 5;
    server {
        listen $PEER_IP:80;
        server_name web.test;
        root $DIR/www;
    }
}
EOF
start_peer_bg nginx nginx -e "$DIR/nginx/error.log" -p "$DIR/nginx" -c "$DIR/nginx/nginx.conf"
start_peer_bg dnsmasq dnsmasq --conf-file=/dev/null --no-daemon --no-resolv --no-hosts \
    --address=/web.test/"$PEER_IP" --listen-address="$PEER_IP" --bind-interfaces --port 53 \
    --pid-file="$DIR/dnsmasq.pid" --log-queries --log-facility=-
if wait_port_peer 80 tcp 10 >/dev/null && wait_port_peer 53 udp 10 >/dev/null; then
    say "nginx on $PEER_IP:80 serving index.html and 1M.bin ($FILE_BYTES random bytes)"
    say "dnsmasq on $PEER_IP:53 answering web.test -> $PEER_IP"
else
    say "servers did not start; logs: $DIR/nginx.log $DIR/dnsmasq.log"
    exit 1
fi

# --- 1. ping -----------------------------------------------------------------------------
# The stack starts with the program's first AF_INET socket (a shell that only forks and execs
# never starts one), so the program kept running here holds a UDP socket.
step "1. ping $US_IP from the peer while a UDP listener runs over ustack"
ustack_bg_with pinged --pcap "$DIR/ping.pcap" -- timeout 8 socat -u UDP4-RECV:9999 -
ready=0
for ((i = 0; i < 10; i++)); do
    if in_peer ping -c 1 -W 0.5 "$US_IP" >/dev/null 2>&1; then ready=1; break; fi
done
out=$(in_peer ping -c 3 -i 0.2 -W 1 "$US_IP" 2>&1)
received=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")
rtt=$(sed -n 's|^rtt .* = [0-9.]*/\([0-9.]*\)/.*|\1|p' <<<"$out")
stop_bg pinged
if ((ready)) && [[ ${received:-0} == 3 ]]; then
    ping_ok=1
    results+=("ping : ok   3/3 replies from ustack, average rtt ${rtt} ms")
else
    results+=("ping : FAILED ${received:-0}/3 replies (log: $DIR/pinged.log)")
fi
say "${results[-1]}"
echo "$out" | tail -n 2 | indent

# --- 2. dig ------------------------------------------------------------------------------
step "2. ustack run -- dig @$PEER_IP web.test"
t0=$(date +%s.%N)
answer=$(run_timeout 20 ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" \
    --ip "$US_IP/$NET_PREFIX" --trace "$DIR/trace" --pcap "$DIR/dig.pcap" -- \
    dig @"$PEER_IP" web.test +short +time=2 +tries=2 2>"$DIR/dig.stderr")
status=$?
secs=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
if ((status == 0)) && [[ $answer == "$PEER_IP" ]]; then
    dig_ok=1
    results+=("dig  : ok   web.test -> $answer in ${secs}s")
else
    results+=("dig  : FAILED exit $status, answer '${answer//$'\n'/ }' (stderr: $DIR/dig.stderr)")
fi
say "${results[-1]}"
head -n 5 "$DIR/dig.stderr" | indent

# --- 3. curl -----------------------------------------------------------------------------
curl_fmt='%{http_code} %{size_download} %{time_total} %{speed_download}'
step "3. ustack run --trace --pcap -- curl http://$PEER_IP/1M.bin"
say "ustack run --if $US_IF --ip $US_IP/$NET_PREFIX --trace $DIR/trace --pcap $DIR/curl.pcap -- \\"
say "    curl -sS -o $DIR/1M.bin.ustack http://$PEER_IP/1M.bin"
out=$(run_timeout 90 ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" \
    --ip "$US_IP/$NET_PREFIX" --trace "$DIR/trace" --pcap "$DIR/curl.pcap" -- \
    curl -sS --max-time 60 -o "$DIR/1M.bin.ustack" -w "$curl_fmt" \
    "http://$PEER_IP/1M.bin" 2>"$DIR/curl.stderr")
status=$?
read -r code bytes secs speed <<<"$out"
secs=$(awk -v s="${secs:-0}" 'BEGIN { printf "%.3f", s }')
got_sum=
[[ -f $DIR/1M.bin.ustack ]] && got_sum=$(sha256sum <"$DIR/1M.bin.ustack" | cut -d' ' -f1)
match=no
[[ $got_sum == "$want_sum" ]] && match=yes
mbps() { awk -v s="${1:-0}" 'BEGIN { printf "%.1f", s / 1e6 }'; }
if ((status == 0)) && [[ $code == 200 && $match == yes ]]; then
    curl_ok=1
    results+=("curl : ok   HTTP $code, $bytes bytes in ${secs}s ($(mbps "$speed") MB/s), sha256 match: yes")
else
    why=$(head -n 1 "$DIR/curl.stderr")
    results+=("curl : FAILED exit $status, HTTP ${code:-none}, ${bytes:-0} bytes, sha256 match: $match ${why:+($why)}")
fi
((DEMO_REQUIRE_TCP || curl_ok)) || results[-1]+="  [not required yet: DEMO_REQUIRE_TCP=0]"
say "${results[-1]}"

say "the same fetch over the kernel stack (kernel address on $US_IF for a moment):"
# shellcheck disable=SC2119
kernel_addr_on
kout=$(run_timeout 60 ip netns exec "$NS_US" curl -sS --max-time 30 -o "$DIR/1M.bin.kernel" \
    -w "$curl_fmt" "http://$PEER_IP/1M.bin" 2>&1)
kernel_addr_off
read -r kcode kbytes ksecs kspeed <<<"$kout"
ksecs=$(awk -v s="${ksecs:-0}" 'BEGIN { printf "%.3f", s }')
results+=("kernel curl (reference): HTTP $kcode, $kbytes bytes in ${ksecs}s ($(mbps "$kspeed") MB/s)")
if ((curl_ok)); then
    results[-1]+=", ustack at $(awk -v u="$speed" -v k="$kspeed" \
        'BEGIN { printf "%.2f", (k > 0) ? u / k : 0 }')x the kernel's speed (ustack tracing every"
    results[-1]+=" segment and capturing a pcap; stack start-up included)"
fi
say "${results[-1]}"

# --- what is on the wire -----------------------------------------------------------------
step "on the wire (tshark -r FILE | head -5)"
for pcap in dig curl; do
    f=$DIR/$pcap.pcap
    if [[ -s $f ]]; then
        say "$f ($(tshark -r "$f" 2>/dev/null | wc -l) frames):"
        tshark -r "$f" 2>/dev/null | head -n 5 | indent
    else
        say "$f: not written"
    fi
done

step "summary"
printf '%s\n' "${results[@]}"
say "files (kept): $DIR/"
say "  trace/ per-connection traces, ping.pcap dig.pcap curl.pcap, nginx/ dnsmasq.log logs"
say "  e.g. tshark -r $DIR/curl.pcap | less;  ls $DIR/trace"

status=0
((ping_ok && dig_ok)) || status=1
((DEMO_REQUIRE_TCP && !curl_ok)) && status=1
if ((status == 0)); then say "demo: ok"; else say "demo: FAILED"; fi
exit "$status"
