#!/usr/bin/env bash
# t_cli_run: what `ustack run` hands to the command — USTACK_* from the options (overriding the
# environment), LD_PRELOAD with the absolute path of libustack.so in front of an existing one —
# and that the stack starts lazily: a process that never opens an AF_INET socket (a shell that
# only runs other programs) never starts one; the first socket() starts it once (one banner at
# --log info); a stack that cannot start ends the process with one line and exit 1.
# Runs in a private network namespace (unshare -n) with one veth end up and its peer down:
# nothing can leave it. `ustack net list` is checked to reach ustack-net.sh.
# timeout: 60
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_cmd unshare ip
need_build
py=/usr/bin/python3
[[ -x $py ]] || die "$py is missing"

in_private_net() {
    unshare -n bash -c 'ip link add d0 type veth peer name d1 && ip link set d0 up && exec "$@"' \
        in_private_net "$@"
}
lib=$(realpath "$BUILD/libustack.so")

# --- environment handed to the command ------------------------------------------------------
# (printed by Python, not env(1): in a sanitizer build, coreutils programs hang in
# textdomain() when libgpg-error — pulled in by libpcap — is preloaded after libasan)
print_env='import os
for k, v in os.environ.items(): print(k + "=" + v)'
status=0
# (a sanitizer-built ustack would refuse a foreign LD_PRELOAD before its own runtime)
in_private_net env USTACK_IP=10.9.9.9/8 USTACK_LOG=debug LD_PRELOAD=libm.so.6 \
    ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=0 \
    "$BUILD/ustack" run --ip 192.0.2.2/24 --if d0 --gw 192.0.2.1 --mtu 1400 --dns 192.0.2.53 \
    --trace "$T_TMP/trace" --pcap "$T_TMP/x.pcap" --log warn --time-wait 1000 -- "$py" -c "$print_env" \
    >"$T_TMP/env.out" 2>"$T_TMP/env.err" || status=$?
if ((status != 0)); then
    fail env_run "exit $status: $(head -c 300 "$T_TMP/env.err")" || true
else
    getvar() { sed -n "s/^$1=//p" "$T_TMP/env.out"; }
    expect_eq option_ip "$(getvar USTACK_IP)" 192.0.2.2/24
    expect_eq option_if "$(getvar USTACK_IF)" d0
    expect_eq option_gw "$(getvar USTACK_GW)" 192.0.2.1
    expect_eq option_mtu "$(getvar USTACK_MTU)" 1400
    expect_eq option_dns "$(getvar USTACK_DNS)" 192.0.2.53
    expect_eq option_trace "$(getvar USTACK_TRACE)" "$T_TMP/trace"
    expect_eq option_pcap "$(getvar USTACK_PCAP)" "$T_TMP/x.pcap"
    expect_eq option_log_overrides_env "$(getvar USTACK_LOG)" warn
    expect_eq option_time_wait "$(getvar USTACK_TIME_WAIT)" 1000
    preload=$(getvar LD_PRELOAD)
    # a sanitizer build puts its runtimes first; then ours; then what was there
    if [[ $preload == *"$lib:libm.so.6" && $preload == /* ]]; then
        pass preload_prepended
    else
        fail preload_prepended "LD_PRELOAD='$preload', want …'$lib:libm.so.6'" || true
    fi
    [[ -s $T_TMP/env.err ]] && info "stderr: $(head -c 300 "$T_TMP/env.err")"
fi

# --- lazy start -----------------------------------------------------------------------------
banner='^ustack: interface d0, address 192\.0\.2\.2/24'
run_info() {
    in_private_net "$BUILD/ustack" run --ip 192.0.2.2/24 --if d0 --log info -- "$@"
}

status=0
run_info /bin/sh -c 'echo child; /bin/true' >"$T_TMP/lazy1.out" 2>"$T_TMP/lazy1.err" || status=$?
if ((status == 0)) && ! grep -q '^ustack: ' "$T_TMP/lazy1.err"; then
    pass no_stack_without_sockets
else
    fail no_stack_without_sockets "exit $status, stderr: $(head -c 300 "$T_TMP/lazy1.err")" || true
fi

# (/bin/sh is dash: in a sanitizer build, bash and coreutils hang in textdomain() when
# libgpg-error, pulled in by libpcap, is preloaded after libasan.)
# A shell that runs two socket-using children: each child starts its own stack (2 banners),
# the shell none. Each child opens two sockets: still one start per process.
sock_prog='import socket
a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
b = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
print("sockets", a.fileno() >= 0 and b.fileno() >= 0)'
status=0
run_info /bin/sh -c "$py -c '$sock_prog' && $py -c '$sock_prog'" \
    >"$T_TMP/lazy2.out" 2>"$T_TMP/lazy2.err" || status=$?
n=$(grep -cE "$banner" "$T_TMP/lazy2.err" || true)
if ((status == 0)) && ((n == 2)) && [[ $(grep -c 'sockets True' "$T_TMP/lazy2.out") == 2 ]]; then
    pass one_stack_per_socket_process
else
    fail one_stack_per_socket_process "exit $status, $n banners; out: $(head -c 200 "$T_TMP/lazy2.out"); err: $(head -c 300 "$T_TMP/lazy2.err")" || true
fi

# A non-AF_INET socket (AF_UNIX) does not start the stack either.
status=0
run_info "$py" -c 'import socket; socket.socketpair(); socket.socket(socket.AF_UNIX)' \
    >"$T_TMP/unix.out" 2>"$T_TMP/unix.err" || status=$?
if ((status == 0)) && ! grep -q '^ustack: ' "$T_TMP/unix.err"; then
    pass unix_sockets_pass_through
else
    fail unix_sockets_pass_through "exit $status, stderr: $(head -c 300 "$T_TMP/unix.err")" || true
fi

# The stack cannot start on lo (not Ethernet): fatal at the first AF_INET socket only.
status=0
in_private_net "$BUILD/ustack" run --ip 192.0.2.2/24 --if lo -- "$py" -c \
    'import sys; print("before"); sys.stdout.flush()
import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM); print("after")' \
    >"$T_TMP/fail.out" 2>"$T_TMP/fail.err" || status=$?
lines=$(wc -l <"$T_TMP/fail.err")
if ((status == 1)) && ((lines == 1)) && grep -q '^ustack: .*lo' "$T_TMP/fail.err" &&
    grep -q before "$T_TMP/fail.out" && ! grep -q after "$T_TMP/fail.out"; then
    pass start_failure_is_fatal_at_first_socket
else
    fail start_failure_is_fatal_at_first_socket "exit $status; out: $(cat "$T_TMP/fail.out"); err: $(head -c 300 "$T_TMP/fail.err")" || true
fi

# --- ustack net -----------------------------------------------------------------------------
status=0
"$BUILD/ustack" net list >"$T_TMP/net.out" 2>&1 || status=$?
expect_eq net_list_runs "$status" 0
finish
