#!/usr/bin/env bash
# t_tcp_nft_crosscheck: TCP over ustack under loss and duplication made by the kernel's
# nftables instead of the project's impairment relay — a cross-check of t_tcp_faults with an
# independent fault source. Plain two-namespace network (net_setup, no relay); every rule lives
# in the PEER namespace (never the root namespace) and is removed with it.
#
# Rules (nftables 1.0.6, kernel 6.x; the syntax that works here):
#   loss us → peer, table `inet xc`, input hook:
#     chain in { type filter hook input priority 0; }
#       ip saddr 192.0.2.2 meta l4proto tcp numgen random mod 100 < 2 counter drop
#   loss peer → us, table `netdev xcl`, egress hook of peer0:
#     chain eg { type filter hook egress device "peer0" priority 0; }
#       ip daddr 192.0.2.2 meta l4proto tcp numgen random mod 100 < 2 counter fwd to "xcs0"
#     NOT `drop` on the output hook: a verdict drop of a locally sent segment returns an error to
#     the peer's own TCP (tcp_transmit_skb sees -EPERM; the netdev egress drop gives
#     NET_XMIT_DROP), which keeps the segment queued and sends it again at once — nothing is lost
#     on the wire (seen here: 122 output-hook "drops", not one gap in the download's trace).
#     `fwd` steals the packet (reported as sent) onto xcs0, one end of a veth pair made in the
#     peer namespace whose other end xcs1 stays down: a black hole, so the loss is real.
#   duplication peer → us, table `ip xcdup` — `dup to` is rejected in an inet table
#   ("Error: unsupported family"), so it sits in an ip-family output chain:
#     chain out { type filter hook output priority 0; }
#       ip daddr 192.0.2.2 meta l4proto tcp numgen random mod 100 < 2 counter dup to 192.0.2.2 device peer0
#     (nf_dup_ipv4 sends the copy through the output path again; its own recursion guard keeps
#     the copy from being copied, while the loss rule may still drop it.)
# Offloads (TSO/GSO/GRO, checksums) are switched off on peer0 so the hooks see wire-size
# segments and "2 % of packets" means 2 % of segments, not of 64 KiB GSO bursts.
#
# Cells: loss, dup, both (loss + dup). Per cell one `ustack run --trace DIR` process runs
# "${HTTP_CLIENT[@]}" -Z: a 20 MiB GET from nginx (peer) and a 20 MiB POST to
# tests/tools/http_sink.py (peer) at once. Checks per cell:
#   - both transfers end with status 0 and the right sha256 (download: the file; upload: the
#     digest the sink computed of what it read)
#   - nft's counters show the fault happened: drops in both hooks (loss, both), duplicates
#     (dup, both)
#   - the traces show the recovery: under loss the upload (ustack sending) has `retransmit`
#     lines and the download (ustack receiving) ACKs with SACK blocks; under dup a data segment
#     of the download arrived twice and was ACKed at once
# Bounded: each cell's client has --max-time 25; the whole test normally takes well under 60 s.
# timeout: 120
set -uo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
source "$(dirname "$0")/../tools/tcp_lib.sh"
need_root
need_cmd ip nft nginx curl ethtool sha256sum
tcp_need_build
tcp_http_client
size=20m
sink_port=8080
max_secs=${TCP_NFT_MAX_SECS:-25}   # per cell (both transfers run at once)
pct=2
read -r -a cells <<<"${TCP_NFT_CELLS:-loss dup both}"

net_setup
in_peer ethtool -K "$PEER_IF" tso off gso off gro off tx off rx off >/dev/null 2>&1 ||
    info "could not switch offloads off on $PEER_IF (counters then count GSO packets)"
# The black hole for peer → us loss: xcs0 up, its veth peer xcs1 down (both in the peer
# namespace), so what is sent on xcs0 is dropped without an error to the sender.
sink_if=xcs0
in_peer ip link add "$sink_if" type veth peer name xcs1 || die "could not create $sink_if"
in_peer ip link set "$sink_if" up || die "could not set $sink_if up"
tcp_net_ready
info "$(nft --version)"

tcp_updown_start "$size" 701 702 "$sink_port"

# nft_rules CELL: install the cell's rules in the peer namespace (old ones removed first, so
# the counters are the cell's own).
nft_rules() {
    local c=$1 rand="numgen random mod 100 < $pct"
    nft_clear
    if [[ $c == loss || $c == both ]]; then
        in_peer nft -f - <<EOF || return 1
table inet xc {
    chain in {
        type filter hook input priority 0;
        ip saddr $US_IP meta l4proto tcp $rand counter drop comment "loss_in"
    }
}
table netdev xcl {
    chain eg {
        type filter hook egress device "$PEER_IF" priority 0;
        ip daddr $US_IP meta l4proto tcp $rand counter fwd to "$sink_if" comment "loss_out"
    }
}
EOF
    fi
    if [[ $c == dup || $c == both ]]; then
        in_peer nft -f - <<EOF || return 1
table ip xcdup {
    chain out {
        type filter hook output priority 0;
        ip daddr $US_IP meta l4proto tcp $rand counter dup to $US_IP device $PEER_IF comment "dup_out"
    }
}
EOF
    fi
}

nft_clear() {
    in_peer nft delete table inet xc 2>/dev/null
    in_peer nft delete table netdev xcl 2>/dev/null
    in_peer nft delete table ip xcdup 2>/dev/null
    return 0
}

# nft_count NAME: packets counted by the rule commented NAME (0 if absent).
nft_count() {
    local n
    n=$(in_peer nft list ruleset | sed -n "s/.*counter packets \([0-9]*\) .*comment \"$1\".*/\1/p")
    echo "${n:-0}"
}

# counter_check NAME COUNT: pass if COUNT > 0
counter_check() {
    if (($2 > 0)); then pass "$1"; else fail "$1" "nft counted $2 packets"; fi
}

run_cell() {
    local c=$1 dir=$T_TMP/trace-$1 status=0 t0 ms lines dlog ulog li lo du
    mkdir -p "$dir"
    nft_rules "$c" || { fail "${c}_nft_rules" "nft rejected the rules"; return 0; }
    t0=$(tcp_ms)
    lines=$(tcp_us_run "$((max_secs + 10))" --trace "$dir" -- "${HTTP_CLIENT[@]}" -sS -Z --max-time "$max_secs" \
        -w '%{http_code} %{size_download} %{size_upload}\n' \
        -o "$T_TMP/$c.down" "http://$PEER_IP/down.bin" \
        --next -sS --max-time "$max_secs" -w '%{http_code} %{size_download} %{size_upload}\n' \
        -H 'Content-Type: application/octet-stream' --data-binary "@$up" \
        -o "$T_TMP/$c.reply" "http://$PEER_IP:$sink_port/up/$c" 2>"$T_TMP/$c.err") || status=$?
    ms=$(($(tcp_ms) - t0))
    li=$(nft_count loss_in) lo=$(nft_count loss_out) du=$(nft_count dup_out)
    in_peer nft list ruleset >"$T_TMP/$c.nft" 2>&1
    nft_clear
    info "$c: $ms ms, $HTTP_CLIENT_NAME exit $status; ${lines//$'\n'/; }"
    info "  nft: dropped in=$li out=$lo, duplicated out=$du"
    if ((status != 0)); then
        fail "${c}_transfer" "$HTTP_CLIENT_NAME exit $status after $ms ms: $(head -c 400 "$T_TMP/$c.err")"
    else
        pass "${c}_transfer"
    fi
    expect_eq "${c}_download_sha256" "$(tcp_sha "$T_TMP/$c.down" 2>/dev/null)" "$down_sha"
    expect_eq "${c}_upload_sha256" "$(cat "$T_TMP/$c.reply" 2>/dev/null)" "$up_want"
    rm -f "$T_TMP/$c.down"

    if [[ $c == loss || $c == both ]]; then
        counter_check "${c}_nft_dropped_in" "$li"
        counter_check "${c}_nft_dropped_out" "$lo"
    fi
    if [[ $c == dup || $c == both ]]; then
        counter_check "${c}_nft_duplicated_out" "$du"
    fi

    dlog=$(tcp_trace_of "$dir" 80) || { fail "${c}_trace_download" "no trace log for :80 in $dir"; return 0; }
    ulog=$(tcp_trace_of "$dir" "$sink_port") ||
        { fail "${c}_trace_upload" "no trace log for :$sink_port in $dir"; return 0; }
    info "  upload trace: $(grep -cE '^ *[0-9.]+ retransmit ' "$ulog") retransmit lines;" \
        "download trace: $(grep -cE '^ *[0-9.]+ out .* opts=([^ ]*,)?sack:[0-9]' "$dlog") ACKs with SACK"
    if [[ $c == loss || $c == both ]]; then
        if tcp_trace_has_retransmits "$ulog"; then pass "${c}_upload_retransmits"
        else fail "${c}_upload_retransmits" "no retransmit line in $(basename "$ulog")"; fi
        if tcp_trace_has_sack_out "$dlog"; then pass "${c}_download_sacks"
        else fail "${c}_download_sacks" "no ACK with SACK blocks in $(basename "$dlog")"; fi
    fi
    if [[ $c == dup || $c == both ]]; then
        if tcp_trace_has_dup_data_in "$dlog"; then pass "${c}_download_dup_segment"
        else fail "${c}_download_dup_segment" "no data segment received twice and ACKed in $(basename "$dlog")"; fi
    fi
}

t_all=$(tcp_ms)
for c in "${cells[@]}"; do
    run_cell "$c"
done
info "all cells: $(($(tcp_ms) - t_all)) ms"
finish
