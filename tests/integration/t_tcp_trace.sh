#!/usr/bin/env bash
# t_tcp_trace: a connection's trace log, read back. tests/tools/http_get_linger.py fetches a
# file from nginx (keep-alive, so the client closes first), closes, and stays alive 3 s under
# `ustack run --trace DIR --time-wait 2000`. Checks:
#   - exactly one TCP log, named <pid>-tcp-192.0.2.2:<local port>-192.0.2.1:80.log with the
#     client's own pid and port
#   - its state lines go SYN_SENT → ESTABLISHED → FIN_WAIT_1 → FIN_WAIT_2 → TIME_WAIT → CLOSED,
#     the last step 2 s (±0.5) after entering TIME_WAIT, with a timer line for it
#   - segment lines carry direction, flags, seq, ack, win, len (SYN with its options, the
#     peer's SYN-ACK, our FIN before the peer's), application calls are logged, RTT samples
#     and SRTT are plausible for a veth (< 100 ms)
# timeout: 60
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
source "$(dirname "$0")/../tools/tcp_lib.sh"
need_root
need_cmd ip nginx
tcp_need_build

net_setup
tcp_net_ready
mkdir -p "$T_TMP/www" "$T_TMP/trace"
file=$(tcp_gen www/f.bin 300k 701)
tcp_nginx_start "$T_TMP/www"

status=0
out=$(tcp_us_run 30 --trace "$T_TMP/trace" --time-wait 2000 -- \
    "$PY" "$TOOLS/http_get_linger.py" "$PEER_IP" 80 /f.bin 3 2>"$T_TMP/client.err") || status=$?
((status == 0)) || die "client exit $status: $out $(head -c 500 "$T_TMP/client.err")"
read -r pid local _ <<<"$out"
pid=${pid#pid=} local=${local#local=}
expect_eq fetch_ok "$(sed 's/^.*status=\([0-9]*\) bytes=\([0-9]*\) sha256=\(.*\)$/\1 \2 \3/' <<<"$out")" \
    "200 $(stat -c %s "$file") $(tcp_sha "$file")"

name="$pid-tcp-$local-$PEER_IP:80.log"
expect_eq one_tcp_log "$(cd "$T_TMP/trace" && ls -- *-tcp-* 2>/dev/null | tr '\n' ' ')" "$name "
log=$T_TMP/trace/$name
[[ -f $log ]] || die "no trace log $name in $T_TMP/trace: $(ls "$T_TMP/trace")"
info "trace: $(wc -l <"$log") lines"

# State path: the first line's old state (unless CLOSED), then every new state.
path=$(sed -n 's/^ *[0-9.]\+ state \([A-Z_0-9]\+\) => \([A-Z_0-9]\+\).*/\1 \2/p' "$log" |
    awk 'NR == 1 && $1 != "CLOSED" {printf "%s ", $1} {printf "%s ", $2}')
expect_eq state_path "$path" "SYN_SENT ESTABLISHED FIN_WAIT_1 FIN_WAIT_2 TIME_WAIT CLOSED "

# TIME_WAIT lasted the configured 2 s, and a timer line says so.
t_in=$(awk '/ state [A-Z_0-9]+ => TIME_WAIT/ {print $1; exit}' "$log")
t_out=$(awk '/ state TIME_WAIT => CLOSED/ {print $1; exit}' "$log")
if [[ -n $t_in && -n $t_out ]] &&
    awk -v a="$t_in" -v b="$t_out" 'BEGIN {d = b - a; exit !(d >= 1.9 && d <= 2.5)}'; then
    pass time_wait_2s
else
    fail time_wait_2s "entered TIME_WAIT at '${t_in:-?}', left at '${t_out:-?}' (want +2 s)"
fi
if grep -iE 'timer' "$log" | grep -iE 'time_?wait|2msl' | grep -iE 'fire|expire' >/dev/null; then
    pass time_wait_timer_fired
else
    fail time_wait_timer_fired "no timer line for the TIME_WAIT expiry; timer lines: $(grep -i timer "$log" | tail -n 5)"
fi

# Segment lines: "<t> in|out FLAGS seq=N ack=N win=N len=N [opts=...]".
seg='^ *[0-9.]+ (in|out) +[SFRP.-]+ seq=[0-9]+ ack=[0-9]+ win=[0-9]+ len=[0-9]+'
nseg=$(grep -cE "$seg" "$log" || true)
if ((nseg >= 10)); then pass segment_lines; else fail segment_lines "only $nseg segment lines"; fi
first_out=$(grep -E "$seg" "$log" | awk '$2 == "out"' | head -n 1)
if grep -qE ' out +S seq=[0-9]+ ack=0 win=[0-9]+ len=0 opts=.*mss:' <<<"$first_out"; then
    pass syn_line
else
    fail syn_line "first segment out: '$first_out'"
fi
if grep -qE '^ *[0-9.]+ in +S\. seq=[0-9]+ ack=[0-9]+ win=[0-9]+ len=0 opts=.*mss:' "$log"; then
    pass synack_line
else
    fail synack_line "no SYN-ACK in: $(grep -E ' in ' "$log" | head -n 2)"
fi
first_fin=$(grep -E "$seg" "$log" | awk '$3 ~ /F/ {print $2; exit}')
expect_eq client_fin_first "$first_fin" out
if grep -E "$seg" "$log" | awk '$2 == "in" && $3 ~ /F/ {found = 1} END {exit !found}' >/dev/null; then
    pass peer_fin_seen
else
    fail peer_fin_seen "no FIN from the peer in the trace"
fi
# The data came in: the in-segments' lengths add up to at least the file and headers.
in_bytes=$(grep -E "$seg" "$log" | awk '$2 == "in" {sub("len=", "", $7); s += $7} END {print s + 0}')
if ((in_bytes >= $(stat -c %s "$file"))); then
    pass data_segments
else
    fail data_segments "in-segments carry $in_bytes bytes, the file is $(stat -c %s "$file")"
fi
# RTT samples on a veth are far below 100 ms (the first one times the SYN).
samples=$(sed -n 's/.* rtt sample=\([0-9]*\)us srtt=\([0-9]*\)us.*/\1 \2/p' "$log")
if [[ -n $samples ]] && awk '$1 > 100000 || $2 > 100000 {bad = 1} END {exit bad}' <<<"$samples"; then
    pass rtt_samples_sane
else
    fail rtt_samples_sane "rtt lines: $(grep ' rtt ' "$log" | head -n 3 | tr '\n' ';')"
fi
for call in connect close; do
    if grep -qE "^ *[0-9.]+ app $call" "$log"; then pass "app_$call"; else fail "app_$call" "no 'app $call' line"; fi
done
finish
