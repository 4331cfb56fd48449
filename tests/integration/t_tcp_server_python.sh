#!/usr/bin/env bash
# t_tcp_server_python: ustack as the server. `/usr/bin/python3 -m http.server --bind 192.0.2.2`
# runs over ustack (listen, accept, sendfile/send of a file); the peer's kernel curl downloads a
# 100 MiB file of reproducible random data and a directory listing; the file arrives intact
# (size, sha256), twice in a row (the listener keeps accepting).
# timeout: 200
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
source "$(dirname "$0")/../tools/tcp_lib.sh"
need_root
need_cmd ip curl sha256sum
tcp_need_build
port=8000

net_setup
tcp_net_ready
mkdir -p "$T_TMP/srv"
big=$(tcp_gen srv/100m.bin 100m 401)
want=$(tcp_sha "$big")
tcp_us_bg httpd -- "$PY" -m http.server --bind "$US_IP" "$port" --directory "$T_TMP/srv"
tcp_wait_us_tcp "$port" 20 || die "http.server over ustack does not accept: $(tail -n 20 "$(bg_log httpd)")"
pass server_accepts

status=0
listing=$(in_peer curl -sS --max-time 20 "http://$US_IP:$port/" 2>"$T_TMP/list.err") || status=$?
if ((status == 0)) && grep -q '100m.bin' <<<"$listing"; then
    pass directory_listing
else
    fail directory_listing "curl exit $status: $(head -c 300 "$T_TMP/list.err") ${listing:0:300}"
fi

for i in 1 2; do
    status=0
    t0=$(tcp_ms)
    in_peer curl -sS --max-time 120 -o "$T_TMP/got.bin" "http://$US_IP:$port/100m.bin" \
        2>"$T_TMP/get$i.err" || status=$?
    t1=$(tcp_ms)
    if ((status != 0)); then
        fail "get_100m_$i" "curl exit $status after $((t1 - t0)) ms: $(head -c 500 "$T_TMP/get$i.err")"
        continue
    fi
    expect_eq "get_100m_${i}_size" "$(stat -c %s "$T_TMP/got.bin")" 104857600
    expect_eq "get_100m_${i}_sha256" "$(tcp_sha "$T_TMP/got.bin")" "$want"
    info "download $i: 100 MiB in $((t1 - t0)) ms"
    rm -f "$T_TMP/got.bin"
done
if kill -0 "$(bg_pid httpd)" 2>/dev/null; then
    pass server_still_running
else
    fail server_still_running "http.server exited: $(tail -n 20 "$(bg_log httpd)")"
fi
finish
