# shellcheck shell=bash
# tests/tools/tcp_lib.sh — helpers shared by tests/integration/t_tcp_*.sh (source it after
# tests/lib/net.sh; net_setup or net_adopt must have run before the functions that use the
# namespaces).
#
#   tcp_gen NAME SIZE SEED         $T_TMP/NAME: SIZE bytes (k/m suffix) of reproducible data
#                                  (tests/tools/gen_data); prints the path
#   tcp_sha FILE                   the sha256 of FILE (hex only)
#   tcp_nginx_start ROOT [PORT]    nginx in the peer namespace, config and logs in
#                                  $T_TMP/nginx, serving ROOT on $PEER_IP:PORT (default 80),
#                                  sendfile and keep-alive on; access log $T_TMP/nginx/access.log
#                                  with lines "<$connection> <$connection_requests> <uri>
#                                  <status> <bytes>"; waits until it listens
#   tcp_sink_start [PORT]          tests/tools/http_sink.py (POST → "sha256 bytes") in the peer
#                                  namespace on $PEER_IP:PORT (default 8080), log $T_TMP/sink.req
#   tcp_timeout SECS CMD...        CMD bounded by SECS (TERM, KILL 5 s later); unlike
#                                  run_timeout it stays in the test's process group, so a
#                                  runner's timeout signal reaches CMD at once and the test's
#                                  exit hook (namespace removal) is not held up by it
#   tcp_us_run SECS OPT... -- CMD  ustack_run_with bounded by SECS (tcp_timeout)
#   tcp_wait_us_tcp PORT SECS      until a TCP connect from the peer to $US_IP:PORT succeeds
#                                  (for servers running over ustack, invisible to ss); the
#                                  probe connection is closed at once, so use it only with
#                                  servers that survive an empty connection
#   tcp_us_bg NAME OPT... -- CMD   ustack_bg_with
#   tcp_ms                         milliseconds since the epoch
#   tcp_need_build                 need_build, and the test tools built
#   tcp_net_ready                  call after net_setup/net_adopt (see TCP_OVER_KERNEL)
#   tcp_http_client                sets HTTP_CLIENT (array) and HTTP_CLIENT_NAME (for messages:
#                                  "curl" or "uscurl.py"): the command to run as "curl" over
#                                  ustack — curl, or "$PY $TOOLS/uscurl.py" (the same options,
#                                  -w variables, exit codes and error lines, for what the
#                                  tests use) when tcp_sanitizer_runtimes is not empty and curl
#                                  cannot start under them (tcp_starts_preloaded); prints a "#"
#                                  line naming the reason then. Call once per test; use
#                                  "${HTTP_CLIENT[@]}" for every curl over ustack and for the
#                                  kernel reference runs compared with them, never for curl in
#                                  the peer namespace
#   tcp_sanitizer_runtimes         the sanitizer runtimes $BUILD/libustack.so needs (and
#                                  `ustack run` preloads before it), ":"-separated; empty for a
#                                  release build
#   tcp_starts_preloaded PROG      true if `PROG --version` ends with status 0 within 3 s under
#                                  `ustack run` of $BUILD (a throwaway `unshare -n` namespace;
#                                  the stack never starts); else false with TCP_PRELOAD_WHY set
# TCP_OVER_KERNEL=1 (for checking a test itself, not for CI): tcp_net_ready gives us0 the
# kernel address and tcp_us_run/tcp_us_bg run the command without ustack (options dropped), so
# the test's own logic can be seen to pass against the kernel; checks that read ustack's trace
# logs fail then, as they should.
# Variables: PY (Debian's /usr/bin/python3), TOOLS (source dir), TOOLS_BIN (built tools),
# HTTP_CLIENT, HTTP_CLIENT_NAME (after tcp_http_client).
# Why uscurl.py: on Debian 12 curl (and wget) deadlock at start-up whenever libasan is preloaded,
# with or without ustack (libp11-kit's constructor runs before the ASan runtime is initialised;
# google/sanitizers#1270), so a sanitizer build's tests use this stand-in to keep their TCP paths.

[[ -n ${_USTACK_TCP_LIB_SH:-} ]] && return 0
_USTACK_TCP_LIB_SH=1

PY=/usr/bin/python3
TOOLS=$REPO/tests/tools
TOOLS_BIN=$BUILD/tests/tools

tcp_gen() {
    local path=$T_TMP/$1
    "$TOOLS_BIN/gen_data" "$3" "$2" "$path" || die "gen_data $3 $2 failed"
    printf '%s\n' "$path"
}

tcp_sha() {
    local sum
    sum=$(sha256sum <"$1") || return 1
    printf '%s\n' "${sum%% *}"
}

tcp_ms() { date +%s%3N; }

tcp_nginx_start() {
    local root=$1 port=${2:-80} dir=$T_TMP/nginx
    mkdir -p "$dir"
    cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
error_log $dir/error.log info;
pid $dir/nginx.pid;
events { worker_connections 256; }
http {
    log_format conn '\$connection \$connection_requests \$uri \$status \$body_bytes_sent';
    access_log $dir/access.log conn;
    client_body_temp_path $dir/body;
    proxy_temp_path $dir/proxy;
    fastcgi_temp_path $dir/fastcgi;
    uwsgi_temp_path $dir/uwsgi;
    scgi_temp_path $dir/scgi;
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 1000;
    server {
        listen $PEER_IP:$port;
        root $root;
    }
}
EOF
    in_peer nginx -t -q -c "$dir/nginx.conf" -p "$dir" >"$dir/check.log" 2>&1 ||
        die "nginx config rejected: $(cat "$dir/check.log")"
    start_peer_bg nginx nginx -c "$dir/nginx.conf" -p "$dir"
    wait_port_peer "$port" tcp 10 ||
        die "nginx did not start: $(cat "$(bg_log nginx)" "$dir/error.log" 2>/dev/null | tail -n 5)"
}

tcp_sink_start() {
    local port=${1:-8080}
    start_peer_bg sink "$PY" "$TOOLS/http_sink.py" "$PEER_IP" "$port" "$T_TMP/sink.req"
    wait_port_peer "$port" tcp 10 || die "http_sink did not start: $(cat "$(bg_log sink)")"
}

tcp_need_build() {
    [[ -x $TOOLS_BIN/gen_data ]] || die "$TOOLS_BIN/gen_data is missing (make BUILD=${BUILD#"$REPO"/})"
    [[ ${TCP_OVER_KERNEL:-0} == 1 ]] || need_build
}

tcp_net_ready() {
    if [[ ${TCP_OVER_KERNEL:-0} == 1 ]]; then
        info "TCP_OVER_KERNEL=1: running the 'ustack' side over the kernel stack"
        kernel_addr_on
    elif [[ -n $(in_us ip -4 -o addr show dev "$US_IF") ]]; then
        die "$US_IF has a kernel IPv4 address: the test would not go through ustack"
    fi
}

# Sets _TCP_ARGV: the command line for "OPT... -- CMD..." (over ustack, or the kernel).
_tcp_argv() {
    if [[ ${TCP_OVER_KERNEL:-0} == 1 ]]; then
        while (($#)) && [[ $1 != -- ]]; do shift; done
        shift
        _TCP_ARGV=(ip netns exec "$NS_US" "$@")
    else
        _net_ustack_argv "$@" || return 2
        _TCP_ARGV=("${_NET_ARGV[@]}")
    fi
}

tcp_timeout() {
    local secs=$1
    shift
    timeout --foreground -k 5 "$secs" "$@"
}

tcp_us_run() {
    local secs=$1
    shift
    _tcp_argv "$@" || return 2
    tcp_timeout "$secs" "${_TCP_ARGV[@]}"
}

tcp_us_bg() {
    local name=$1
    shift
    _tcp_argv "$@" || return 2
    _net_start_bg "$name" "${_TCP_ARGV[@]}"
}

tcp_wait_us_tcp() {
    local port=$1 secs=$2 deadline
    deadline=$(($(tcp_ms) + secs * 1000))
    while (($(tcp_ms) < deadline)); do
        if in_peer timeout 1 bash -c "exec 3<>/dev/tcp/$US_IP/$port" 2>/dev/null; then
            return 0
        fi
        sleep 0.2
    done
    return 1
}

tcp_sanitizer_runtimes() {
    ldd "$BUILD/libustack.so" 2>/dev/null | awk '/libasan|libubsan/ { print $3 }' | paste -sd:
}

tcp_starts_preloaded() {
    local prog=$1 status=0
    timeout --foreground -k 1 3 unshare -n "$BUILD/ustack" run --if lo --ip 127.0.0.2/8 -- \
        "$prog" --version >/dev/null 2>&1 || status=$?
    case $status in
    0) return 0 ;;
    124 | 137) TCP_PRELOAD_WHY="'$prog --version' under \`ustack run\` did not end within 3 s" ;;
    *) TCP_PRELOAD_WHY="'$prog --version' under \`ustack run\` exited $status" ;;
    esac
    return 1
}

# shellcheck disable=SC2034  # HTTP_CLIENT and HTTP_CLIENT_NAME are read by the tests
tcp_http_client() {
    local runtimes
    HTTP_CLIENT=(curl)
    HTTP_CLIENT_NAME=curl
    [[ ${TCP_OVER_KERNEL:-0} == 1 ]] && return 0
    runtimes=$(tcp_sanitizer_runtimes)
    [[ -n $runtimes ]] || return 0
    tcp_starts_preloaded curl && return 0
    HTTP_CLIENT=("$PY" "$TOOLS/uscurl.py")
    HTTP_CLIENT_NAME=uscurl.py
    info "curl replaced by tests/tools/uscurl.py: ${BUILD##*/} is a sanitizer build" \
        "(preloads ${runtimes//:/ }) and $TCP_PRELOAD_WHY (known start-up deadlock of" \
        "libp11-kit users under a preloaded ASan runtime, google/sanitizers#1270)"
}

# ---- reading trace logs (tcp_trace_*): one command each, no pipes — `grep -q` closing a pipe
# early is a failure under pipefail ----

# tcp_trace_of DIR REMOTE_PORT: the one trace log in DIR for a connection to the peer's port.
tcp_trace_of() {
    local f
    for f in "$1"/*-tcp-*-"$PEER_IP:$2".log; do
        [[ -f $f ]] && { printf '%s\n' "$f"; return 0; }
    done
    return 1
}

# tcp_trace_has_retransmits LOG; tcp_trace_has_sack_out LOG (our ACKs carry SACK blocks);
# tcp_trace_has_sack_in LOG (the peer's ACKs do)
tcp_trace_has_retransmits() { grep -qE '^ *[0-9.]+ retransmit ' "$1"; }
tcp_trace_has_sack_out() { grep -qE '^ *[0-9.]+ out +[SFRP.-]+ seq=.* opts=([^ ]*,)?sack:[0-9]' "$1"; }
tcp_trace_has_sack_in() { grep -qE '^ *[0-9.]+ in +[SFRP.-]+ seq=.* opts=([^ ]*,)?sack:[0-9]' "$1"; }
# tcp_trace_has_dup_data_in LOG: a data segment arrived twice and the second copy was answered
# at once with an ACK (RFC 9293 §3.10.7.4: an unacceptable segment is acknowledged)
tcp_trace_has_dup_data_in() {
    awk '$2 == "in" && $4 ~ /^seq=/ && $7 ~ /^len=/ && $7 != "len=0" {
            if (seen[$4 " " $7]++) {dup = NR; next}}
        dup && $2 == "in" && $4 ~ /^seq=/ {dup = 0}
        dup && $2 == "out" && $3 ~ /\./ {f = 1; exit}
        END {exit !f}' "$1"
}

# tcp_updown_start SIZE DOWN_SEED UP_SEED SINK_PORT: the two-way transfer fixture — a download
# file served by nginx and an upload file for the POST digest sink on SINK_PORT. Sets down, up,
# down_sha and up_want (the sink's "sha256 size" reply).
tcp_updown_start() {
    mkdir -p "$T_TMP/www"
    down=$(tcp_gen www/down.bin "$1" "$2")
    up=$(tcp_gen up.bin "$1" "$3")
    down_sha=$(tcp_sha "$down")
    up_want="$(tcp_sha "$up") $(stat -c %s "$up")"
    tcp_nginx_start "$T_TMP/www"
    tcp_sink_start "$4"
}
