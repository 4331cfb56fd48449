#!/usr/bin/env bash
# t_tcp_post: curl over ustack uploads 50 MiB of reproducible random data with
# `--data-binary @file` (Content-Length, Expect: 100-continue) to tests/tools/http_sink.py on
# the peer (kernel); the sink's reply — the sha256 and byte count of the body it read — must
# match the file. A second, small POST checks the path without 100-continue.
# With a sanitizer build whose runtimes curl cannot start under, tests/tools/uscurl.py stands in
# for curl (tcp_http_client; the log says so).
# timeout: 180
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
source "$(dirname "$0")/../tools/tcp_lib.sh"
need_root
need_cmd ip curl sha256sum
tcp_need_build
port=8080
tcp_http_client

net_setup
tcp_net_ready
big=$(tcp_gen post50m.bin 50m 201)
small=$(tcp_gen post4k.bin 4k 202)
tcp_sink_start "$port"

# post NAME FILE SECS
post() {
    local name=$1 file=$2 secs=$3 status=0 t0 t1 reply want
    t0=$(tcp_ms)
    reply=$(tcp_us_run "$((secs + 10))" -- "${HTTP_CLIENT[@]}" -sS --max-time "$secs" \
        -H 'Content-Type: application/octet-stream' --data-binary "@$file" \
        "http://$PEER_IP:$port/upload/$name" 2>"$T_TMP/$name.err") || status=$?
    t1=$(tcp_ms)
    if ((status != 0)); then
        fail "$name" "$HTTP_CLIENT_NAME exit $status after $((t1 - t0)) ms: $(head -c 500 "$T_TMP/$name.err")"
        return 0
    fi
    want="$(tcp_sha "$file") $(stat -c %s "$file")"
    expect_eq "${name}_digest" "$reply" "$want"
    info "$name: $(stat -c %s "$file") bytes in $((t1 - t0)) ms"
}

post post_50m "$big" 90
post post_4k "$small" 20
if grep -q short "$T_TMP/sink.req" 2>/dev/null; then
    fail sink_saw_no_short_body "$(grep short "$T_TMP/sink.req")"
else
    pass sink_saw_no_short_body
fi
finish
