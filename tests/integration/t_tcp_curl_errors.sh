#!/usr/bin/env bash
# t_tcp_curl_errors: connection failures reach curl over ustack exactly as over the kernel:
#   refused  — a closed port on the peer answers the SYN with RST: curl exits 7 (ECONNREFUSED)
#   timeout  — the peer silently drops SYNs to port 81 (nftables): with --connect-timeout 2
#              curl exits 28 after about 2 s
# The same curl runs first over the kernel (kernel_addr_on) as the reference; exit codes and
# curl's error message (digits masked) must be equal, and the ustack timeout must take 2–5 s.
# With a sanitizer build whose runtimes curl cannot start under, tests/tools/uscurl.py (same exit
# codes and message lines) stands in for curl in both runs, so the comparison stays like for like.
# timeout: 90
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
source "$(dirname "$0")/../tools/tcp_lib.sh"
need_root
need_cmd ip curl nft
tcp_need_build
tcp_http_client
closed_port=9
drop_port=81

net_setup
in_peer nft add table inet t
in_peer nft add chain inet t in '{ type filter hook input priority 0; }'
in_peer nft add rule inet t in tcp dport "$drop_port" counter drop

cases=(refused timeout)
declare -A url=([refused]=http://$PEER_IP:$closed_port/ [timeout]=http://$PEER_IP:$drop_port/)
declare -A want=([refused]=7 [timeout]=28)
declare -A k_rc=() k_msg=() k_ms=()

# run_curl SIDE CASE: sets RC, MSG (stderr, digits masked) and MS (duration).
run_curl() {
    local side=$1 case=$2 t0 err=$T_TMP/$1-$2.err
    RC=0
    t0=$(tcp_ms)
    if [[ $side == kernel ]]; then
        tcp_timeout 20 ip netns exec "$NS_US" "${HTTP_CLIENT[@]}" -sS --connect-timeout 2 --max-time 10 \
            -o /dev/null "${url[$case]}" 2>"$err" || RC=$?
    else
        tcp_us_run 20 -- "${HTTP_CLIENT[@]}" -sS --connect-timeout 2 --max-time 10 \
            -o /dev/null "${url[$case]}" 2>"$err" || RC=$?
    fi
    MS=$(($(tcp_ms) - t0))
    MSG=$(grep '^curl:' "$err" | sed 's/[0-9]\+/N/g' | head -n 1)
}

kernel_addr_on
for c in "${cases[@]}"; do
    run_curl kernel "$c"
    k_rc[$c]=$RC k_msg[$c]=$MSG k_ms[$c]=$MS
    expect_eq "kernel_${c}_exit" "$RC" "${want[$c]}" ||
        die "kernel reference broken: $(cat "$T_TMP/kernel-$c.err")"
done
kernel_addr_off
tcp_net_ready

for c in "${cases[@]}"; do
    run_curl ustack "$c"
    expect_eq "ustack_${c}_exit" "$RC" "${k_rc[$c]}"
    expect_eq "ustack_${c}_message" "$MSG" "${k_msg[$c]}"
    info "$c: kernel ${k_ms[$c]} ms, ustack $MS ms"
    if [[ $c == timeout ]]; then
        if ((MS >= 1900 && MS <= 5000)); then
            pass ustack_timeout_duration
        else
            fail ustack_timeout_duration "took $MS ms, want about 2000"
        fi
    elif ((MS > 1500)); then
        fail ustack_refused_fast "took $MS ms (a RST must fail the connect at once)"
    else
        pass ustack_refused_fast
    fi
done
dropped=$(in_peer nft list chain inet t in | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
if ((${dropped:-0} >= 2)); then
    pass syns_dropped_by_peer
else
    fail syns_dropped_by_peer "nft counted ${dropped:-?} dropped SYNs"
fi
finish
