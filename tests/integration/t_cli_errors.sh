#!/usr/bin/env bash
# t_cli_errors: `ustack` refuses what cannot work with one clear line and the right exit status:
# usage errors (2), no address (1), bad USTACK_* values (1, from the library's constructor),
# a missing interface (1), no CAP_NET_RAW (1), a command that is not found (127) or not
# executable (126), a static or setuid program that LD_PRELOAD cannot reach (1).
# Runs in a private network namespace (unshare -n): it needs no test network and touches none.
# timeout: 60
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
need_root
need_cmd unshare
need_build

# in_private_net CMD... — run CMD in a fresh network namespace whose only interface that is up
# (besides lo, which is down) is d0, one end of a veth pair whose other end stays down: the
# library's default-interface choice finds it, and nothing can leave the namespace.
in_private_net() {
    unshare -n bash -c 'ip link add d0 type veth peer name d1 && ip link set d0 up && exec "$@"' \
        in_private_net "$@"
}

# run_cli NAME WANT_STATUS GREP_PATTERN ARGS... — runs `ustack ARGS...` in a private network
# namespace; checks the exit status, that stderr is one line, and that it matches the pattern.
run_cli() {
    local name=$1 want=$2 pattern=$3 status=0 lines
    shift 3
    in_private_net env -u USTACK_IP -u USTACK_IF -u LD_PRELOAD "$USTACK_BIN" "$@" \
        >"$T_TMP/$name.out" 2>"$T_TMP/$name.err" || status=$?
    if ((status != want)); then
        fail "$name" "exit $status, want $want; stderr: $(head -c 400 "$T_TMP/$name.err")" || true
        return 0
    fi
    lines=$(grep -vc '^Try ' "$T_TMP/$name.err" || true)
    if ((lines != 1)); then
        fail "$name" "want one line on stderr, got $lines: $(head -c 400 "$T_TMP/$name.err")" || true
        return 0
    fi
    if ! grep -qE -- "$pattern" "$T_TMP/$name.err"; then
        fail "$name" "stderr does not match /$pattern/: $(cat "$T_TMP/$name.err")" || true
        return 0
    fi
    pass "$name"
}

USTACK_BIN=$BUILD/ustack
ok_ip=(--ip 192.0.2.2/24)

# --- usage --------------------------------------------------------------------------------
status=0
"$USTACK_BIN" --help >"$T_TMP/help.out" 2>&1 || status=$?
if ((status == 0)) && grep -q 'usage: ustack run' "$T_TMP/help.out" &&
    grep -q -- '--time-wait' "$T_TMP/help.out"; then
    pass help
else
    fail help "exit $status: $(head -c 300 "$T_TMP/help.out")" || true
fi
version=$("$USTACK_BIN" --version)
if [[ $version =~ ^ustack\ [0-9]+\.[0-9]+ ]]; then pass version; else fail version "got '$version'" || true; fi

run_cli unknown_run_option 2 "unknown option '--bogus'" run --bogus -- true
run_cli unknown_top_option 2 "unknown option '--frob'" --frob
run_cli unknown_command 2 "unknown command 'frob'" frob
run_cli option_without_value 2 "'--ip' needs a value" run --ip
run_cli run_without_command 2 "needs a command" run "${ok_ip[@]}"
run_cli no_arguments 2 "missing command" 

# --- configuration ------------------------------------------------------------------------
run_cli no_ip 1 'no address.*--ip' run -- true
run_cli bad_ip 1 "USTACK_IP='300\.1\.2\.3/24'" run --ip 300.1.2.3/24 -- true
run_cli bad_prefix 1 "USTACK_IP='192\.0\.2\.2/33'" run --ip 192.0.2.2/33 -- true
run_cli bad_mtu 1 "USTACK_MTU='lots'" run "${ok_ip[@]}" --mtu lots -- true
run_cli bad_log_level 1 "USTACK_LOG='loud'" run "${ok_ip[@]}" --log loud -- true
run_cli bad_gateway 1 "USTACK_GW='gw'" run "${ok_ip[@]}" --gw gw -- true
run_cli missing_interface 1 "interface 'nosuch0' does not exist.*ip link" \
    run "${ok_ip[@]}" --if nosuch0 -- true

# --- the command --------------------------------------------------------------------------
run_cli command_not_found 127 'no-such-command-here: command not found' \
    run "${ok_ip[@]}" -- no-such-command-here
printf 'not a program\n' >"$T_TMP/not-executable"
chmod 0644 "$T_TMP/not-executable"
run_cli command_not_executable 126 'permission denied' run "${ok_ip[@]}" -- "$T_TMP/not-executable"

# A statically linked program never loads libustack.so.
printf 'int main(void) { return 0; }\n' >"$T_TMP/static.c"
if cc -static -o "$T_TMP/static-prog" "$T_TMP/static.c" 2>"$T_TMP/cc.err"; then
    run_cli static_binary 1 'statically linked: LD_PRELOAD cannot work' \
        run "${ok_ip[@]}" -- "$T_TMP/static-prog"
    printf '#!%s\n' "$T_TMP/static-prog" >"$T_TMP/static-script"
    chmod 0755 "$T_TMP/static-script"
    run_cli script_with_static_interpreter 1 'statically linked' \
        run "${ok_ip[@]}" -- "$T_TMP/static-script"
else
    fail static_binary "cannot build a static test program: $(head -c 300 "$T_TMP/cc.err")" || true
fi

# A program that is setuid to another user runs in secure mode: LD_PRELOAD is dropped.
cp /bin/true "$T_TMP/setuid-true"
chown nobody "$T_TMP/setuid-true"
chmod 4755 "$T_TMP/setuid-true"
run_cli setuid_binary 1 'setuid/setgid: the dynamic loader ignores LD_PRELOAD' \
    run "${ok_ip[@]}" -- "$T_TMP/setuid-true"

# --- no CAP_NET_RAW -----------------------------------------------------------------------
if command -v setpriv >/dev/null; then
    status=0
    in_private_net env -u USTACK_IP setpriv --inh-caps=-net_raw --bounding-set=-net_raw -- \
        "$USTACK_BIN" run "${ok_ip[@]}" -- true >"$T_TMP/nocap.out" 2>"$T_TMP/nocap.err" ||
        status=$?
    if ((status == 1)) && grep -q 'CAP_NET_RAW.*run as root or setcap cap_net_raw' "$T_TMP/nocap.err"; then
        pass no_cap_net_raw
    else
        fail no_cap_net_raw "exit $status: $(head -c 300 "$T_TMP/nocap.err")" || true
    fi
else
    info "setpriv missing: no_cap_net_raw not checked"
fi
finish
