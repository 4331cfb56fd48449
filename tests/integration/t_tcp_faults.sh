#!/usr/bin/env bash
# t_tcp_faults: TCP over ustack through the impairment relay (tests/relay; three namespaces,
# the ustack side has no kernel address). For each fault spec below (both directions, fixed
# seed so a failure replays) one `ustack run --trace DIR -- curl -Z` process moves 20 MiB each
# way at once: it downloads from nginx (peer) and uploads with POST to tests/tools/http_sink.py
# (peer, answers the body's sha256). Checks per cell:
#   - both transfers complete with the right sha256 (download: the file; upload: the sink's
#     digest of what it read)
#   - the relay's counters show the fault happened (drops, delays, reorders, duplicates,
#     corruptions) in both directions
#   - the two connections' trace logs explain the recovery: under loss/corruption the upload
#     (ustack sending) has `retransmit` lines and the download (ustack receiving) has ACKs
#     with SACK blocks; under reordering SACK blocks; under duplication a data segment
#     received twice and acknowledged at once; under delay the traced SRTT reflects the 40 ms
#     round trip
# With a sanitizer build whose runtimes curl cannot start under, tests/tools/uscurl.py stands in
# for curl (tcp_http_client; -Z runs the two transfers on two threads).
# TCP_FAULTS_CELLS="loss dup" runs only those cells (for debugging; CI runs all).
# timeout: 420
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
source "$(dirname "$0")/../lib/relay.sh"
source "$(dirname "$0")/../tools/tcp_lib.sh"
need_root
need_cmd ip nginx curl ethtool sha256sum
tcp_need_build
tcp_http_client
RELAY_BUILD=$BUILD
[[ -x $RELAY_BUILD/ustack-relay ]] || die "$RELAY_BUILD/ustack-relay is missing"
size=20m
sink_port=8080
max_secs=${TCP_FAULTS_MAX_SECS:-90}   # per cell (both transfers run at once)

read -r -a cells <<<"${TCP_FAULTS_CELLS:-loss delay reorder dup corrupt all}"
declare -A spec=(
    [loss]="loss=1%"
    [delay]="delay=20ms"
    [reorder]="delay=10ms/5ms,reorder=10%"
    [dup]="dup=1%"
    [corrupt]="corrupt=0.1%"
    [all]="loss=1%,delay=20ms,reorder=10%,dup=1%,corrupt=0.1%"
)
declare -A seed=([loss]=61 [delay]=62 [reorder]=63 [dup]=64 [corrupt]=65 [all]=66)
# relay counter that must be > 0 in both directions
declare -A counter=([loss]=dropped_loss [delay]=delayed [reorder]=reordered [dup]=duplicated
    [corrupt]=corrupted [all]=dropped_loss)

need_root
on_exit relay_net_down
relay_net_up "t$$" || die "relay network could not be created"
net_adopt "$RELAY_NS_PEER" "$RELAY_NS_US"
if [[ ${TCP_OVER_KERNEL:-0} == 1 ]]; then relay_offloads_off "$RELAY_NS_US" us0; fi
tcp_net_ready

tcp_updown_start "$size" 601 602 "$sink_port"

# srtt_ms LOG: the last traced SRTT
srtt_ms() {
    sed -n 's/.* srtt=\([0-9]*\)us.*/\1/p' "$1" | tail -n 1 | awk '{print int($1 / 1000)}'
}

run_cell() {
    local c=$1 dir=$T_TMP/trace-$1 status=0 t0 ms lines dlog ulog d k v
    mkdir -p "$dir"
    relay_start --both "${spec[$c]}" --seed "${seed[$c]}" ||
        { fail "${c}_relay" "relay did not start"; return 0; }
    t0=$(tcp_ms)
    lines=$(tcp_us_run "$((max_secs + 15))" --trace "$dir" -- "${HTTP_CLIENT[@]}" -sS -Z --max-time "$max_secs" \
        -w '%{http_code} %{size_download} %{size_upload}\n' \
        -o "$T_TMP/$c.down" "http://$PEER_IP/down.bin" \
        --next -sS --max-time "$max_secs" -w '%{http_code} %{size_download} %{size_upload}\n' \
        -H 'Content-Type: application/octet-stream' --data-binary "@$up" \
        -o "$T_TMP/$c.reply" "http://$PEER_IP:$sink_port/up/$c" 2>"$T_TMP/$c.err") || status=$?
    ms=$(($(tcp_ms) - t0))
    relay_stop || true
    cp "$RELAY_STATS" "$T_TMP/$c.stats" 2>/dev/null || true
    info "$c (${spec[$c]}, seed ${seed[$c]}): $ms ms, $HTTP_CLIENT_NAME exit $status; ${lines//$'\n'/; }"
    if ((status != 0)); then
        fail "${c}_curl" "$HTTP_CLIENT_NAME exit $status after $ms ms: $(head -c 400 "$T_TMP/$c.err")"
    else
        pass "${c}_curl"
    fi
    expect_eq "${c}_download_sha256" "$(tcp_sha "$T_TMP/$c.down" 2>/dev/null)" "$down_sha"
    expect_eq "${c}_upload_sha256" "$(cat "$T_TMP/$c.reply" 2>/dev/null)" "$up_want"
    rm -f "$T_TMP/$c.down"

    # The relay did impair both directions.
    for d in a2b b2a; do
        v=$(relay_stat "$d.${counter[$c]}" 2>/dev/null || echo 0)
        if ((v > 0)); then pass "${c}_relay_${d}_${counter[$c]}"
        else fail "${c}_relay_${d}_${counter[$c]}" "relay counted $v"; fi
        info "  relay $d: $(grep "^$d\." "$RELAY_STATS" | grep -vE '\.(spec|held)=|=0$' |
            sed "s/^$d\.//" | tr '\n' ' ')"
    done

    # The traces explain it.
    dlog=$(tcp_trace_of "$dir" 80) || { fail "${c}_trace_download" "no trace log for :80 in $dir"; return 0; }
    ulog=$(tcp_trace_of "$dir" "$sink_port") ||
        { fail "${c}_trace_upload" "no trace log for :$sink_port in $dir"; return 0; }
    info "  upload trace: $(grep -cE '^ *[0-9.]+ retransmit ' "$ulog") retransmit lines"
    case $c in
    loss | corrupt | all)
        if tcp_trace_has_retransmits "$ulog"; then pass "${c}_upload_retransmits"
        else fail "${c}_upload_retransmits" "no retransmit line in $(basename "$ulog")"; fi
        if tcp_trace_has_sack_out "$dlog"; then pass "${c}_download_sacks"
        else fail "${c}_download_sacks" "no ACK with SACK blocks in $(basename "$dlog")"; fi
        ;;
    reorder)
        if tcp_trace_has_sack_out "$dlog"; then pass "${c}_download_sacks"
        else fail "${c}_download_sacks" "no ACK with SACK blocks in $(basename "$dlog")"; fi
        if tcp_trace_has_sack_in "$ulog"; then pass "${c}_upload_peer_sacks"
        else fail "${c}_upload_peer_sacks" "the peer's ACKs carry no SACK in $(basename "$ulog")"; fi
        ;;
    dup)
        if tcp_trace_has_dup_data_in "$dlog"; then pass "${c}_download_dup_segment"
        else fail "${c}_download_dup_segment" "no data segment received twice and ACKed in $(basename "$dlog")"; fi
        ;;
    delay)
        for k in dlog ulog; do
            v=$(srtt_ms "${!k}")
            if ((${v:-0} >= 38 && ${v:-0} <= 200)); then pass "${c}_${k}_srtt"
            else fail "${c}_${k}_srtt" "last traced SRTT ${v:-?} ms, want about 40"; fi
        done
        ;;
    esac
}

t_all=$(tcp_ms)
for c in "${cells[@]}"; do
    run_cell "$c"
done
info "all cells: $(($(tcp_ms) - t_all)) ms"
finish
