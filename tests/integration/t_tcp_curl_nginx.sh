#!/usr/bin/env bash
# t_tcp_curl_nginx: curl over ustack downloads from nginx (kernel, peer namespace; sendfile and
# keep-alive on): a 1 MiB and a 100 MiB file of reproducible random data arrive with the right
# size and sha256, and three URLs in one curl command share one keep-alive connection (curl's
# num_connects sums to 1 and nginx's access log shows one $connection serving requests 1, 2, 3).
# With a sanitizer build whose runtimes curl cannot start under, tests/tools/uscurl.py stands in
# for curl (tcp_http_client; the log says so).
# timeout: 240
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
source "$(dirname "$0")/../tools/tcp_lib.sh"
need_root
need_cmd ip nginx curl sha256sum
tcp_need_build
tcp_http_client

net_setup
tcp_net_ready
mkdir -p "$T_TMP/www"
small=$(tcp_gen www/1m.bin 1m 101)
big=$(tcp_gen www/100m.bin 100m 102)
tcp_gen www/a.bin 10k 103 >/dev/null
tcp_gen www/b.bin 200k 104 >/dev/null
tcp_gen www/c.bin 3k 105 >/dev/null
tcp_nginx_start "$T_TMP/www"
url=http://$PEER_IP

# fetch NAME FILE SECS: curl (HTTP_CLIENT) over ustack fetches FILE's URL; size and sha256 must match.
fetch() {
    local name=$1 file=$2 secs=$3 out=$T_TMP/$1.out status=0 t0 t1
    t0=$(tcp_ms)
    tcp_us_run "$((secs + 10))" -- "${HTTP_CLIENT[@]}" -sS --max-time "$secs" -o "$out" \
        "$url/${file##*/}" 2>"$T_TMP/$name.err" || status=$?
    t1=$(tcp_ms)
    if ((status != 0)); then
        fail "$name" "$HTTP_CLIENT_NAME exit $status after $((t1 - t0)) ms: $(head -c 500 "$T_TMP/$name.err")"
        return 0
    fi
    expect_eq "${name}_size" "$(stat -c %s "$out" 2>/dev/null)" "$(stat -c %s "$file")"
    expect_eq "${name}_sha256" "$(tcp_sha "$out")" "$(tcp_sha "$file")"
    info "$name: $(stat -c %s "$file") bytes in $((t1 - t0)) ms"
    rm -f "$out"
}

fetch get_1m "$small" 30
fetch get_100m "$big" 120

# Three URLs, one curl: one connection, reused (HTTP/1.1 keep-alive).
status=0
lines=$(tcp_us_run 40 -- "${HTTP_CLIENT[@]}" -sS --max-time 30 -w '%{num_connects} %{http_code}\n' \
    -o "$T_TMP/k1" -o "$T_TMP/k2" -o "$T_TMP/k3" \
    "$url/a.bin" "$url/b.bin" "$url/c.bin" 2>"$T_TMP/keepalive.err") || status=$?
if ((status != 0)); then
    fail keepalive_curl "$HTTP_CLIENT_NAME exit $status: $(head -c 500 "$T_TMP/keepalive.err")"
else
    pass keepalive_curl
    expect_eq keepalive_codes "$(awk '{printf "%s ", $2}' <<<"$lines")" "200 200 200 "
    expect_eq keepalive_num_connects "$(awk '{s += $1} END {print s + 0}' <<<"$lines")" 1
    for i in 1 2 3; do
        f=$(sed -n "${i}p" <<<"a.bin
b.bin
c.bin")
        expect_eq "keepalive_sha256_$f" "$(tcp_sha "$T_TMP/k$i")" "$(tcp_sha "$T_TMP/www/$f")"
    done
    # nginx: the last three requests came over one connection, as its requests 1, 2 and 3.
    log=$(tail -n 3 "$T_TMP/nginx/access.log")
    expect_eq keepalive_one_connection "$(awk '{print $1}' <<<"$log" | sort -u | wc -l)" 1
    expect_eq keepalive_requests_123 "$(awk '{printf "%s ", $2}' <<<"$log")" "1 2 3 "
fi
finish
