#!/usr/bin/env bash
# t_two_stacks: two ustack processes share one interface, each with its own address
# (192.0.2.2 and 192.0.2.3, as design.md prescribes until shared interfaces are designed). Both
# packet sockets see every frame; each stack must answer only for its own address — no RSTs
# for the other's connections, no ARP replies for the other's address — so two 20 MiB
# downloads from nginx run at the same time and both arrive intact, and the peer's ARP cache
# holds one MAC for both addresses (the shared interface's).
# timeout: 120
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
source "$(dirname "$0")/../tools/tcp_lib.sh"
need_root
need_cmd ip nginx sha256sum
tcp_need_build
tcp_http_client
net_setup
tcp_net_ready
mkdir -p "$T_TMP/www"
file=$(tcp_gen www/20m.bin 20m 301)
want=$(tcp_sha "$file")
tcp_nginx_start "$T_TMP/www"

for ip in 192.0.2.2 192.0.2.3; do
    tcp_us_bg "get-$ip" --ip "$ip/24" -- "${HTTP_CLIENT[@]}" -sS --max-time 60 \
        -o "$T_TMP/out-$ip" "http://$PEER_IP/20m.bin"
done
for ip in 192.0.2.2 192.0.2.3; do
    status=0
    wait_bg "get-$ip" 90 || status=$?
    if ((status != 0)); then
        fail "download_$ip" "$HTTP_CLIENT_NAME exit $status: $(head -c 400 "$(bg_log "get-$ip")")"
        continue
    fi
    expect_eq "download_$ip" "$(tcp_sha "$T_TMP/out-$ip")" "$want"
done
# the peer resolved both addresses (each answered by its own stack) to the one shared MAC
neigh=$(in_peer ip neigh show dev "$PEER_IF")
info "$neigh"
for ip in 192.0.2.2 192.0.2.3; do
    check "peer_resolved_$ip" grep -qE "^$ip lladdr" <<<"$neigh"
done
macs=$(awk '/^192\.0\.2\.[23] lladdr/{print $3}' <<<"$neigh" | sort -u)
expect_eq one_mac_for_both "$(grep -c . <<<"$macs")" 1
finish
