#!/usr/bin/env bash
# t_pcap: `ustack run --pcap FILE -- dig …` writes a capture tshark reads without complaint:
# Ethernet frames, timestamps of this run, ustack's ARP request and the peer's reply, the DNS
# query and its answer, and correct IPv4/UDP checksums on every frame ustack sent.
# timeout: 90
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ip dig dnsmasq tshark
need_build

cap=$T_TMP/dig.pcap

# fields FILTER FIELD...: one tab-separated line per matching frame.
fields() {
    local filter=$1 f args=()
    shift
    for f in "$@"; do args+=(-e "$f"); done
    run_timeout 30 tshark -n -r "$cap" -o ip.check_checksum:TRUE -o udp.check_checksum:TRUE \
        -Y "$filter" -T fields "${args[@]}" 2>/dev/null
}

net_setup
start_peer_bg dnsmasq dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
    --listen-address="$PEER_IP" --bind-interfaces --address=/web.test/"$PEER_IP" \
    --pid-file="$T_TMP/dnsmasq.pid" --user=root --group=root --log-facility=-
wait_port_peer 53 udp 10 || die "dnsmasq did not start: $(cat "$(bg_log dnsmasq)")"

t_start=$(date +%s)
status=0
out=$(run_timeout 30 ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" \
    --ip "$US_IP/$NET_PREFIX" --pcap "$cap" -- dig +time=2 +tries=2 +short "@$PEER_IP" \
    web.test A 2>&1) || status=$?
t_end=$(date +%s)
if ((status == 0)) && [[ $out == "$PEER_IP" ]]; then
    pass dig_answer
else
    fail dig_answer "exit $status, output: $out" || true
fi
[[ -s $cap ]] || die "no capture written to $cap"

# tshark reads the whole file: no error, no truncated last record.
status=0
run_timeout 30 tshark -n -r "$cap" >"$T_TMP/tshark.out" 2>"$T_TMP/tshark.err" || status=$?
problems=$(grep -viE 'running as user "?root|this could be dangerous' "$T_TMP/tshark.err" || true)
if ((status == 0)) && [[ -z $problems ]]; then
    pass tshark_reads
else
    fail tshark_reads "tshark exit $status: $problems" || true
fi
info "capture: $(wc -l <"$T_TMP/tshark.out") frames"
sed 's/^/#   /' "$T_TMP/tshark.out" | head -n 20

expect_eq ethernet_frames "$(fields 'frame.number == 1' frame.protocols | cut -d: -f1)" eth || true

# Timestamps: the first and last frame fall within this run (1 s slack each side).
first=$(fields 'frame' frame.time_epoch | head -n 1 | cut -d. -f1)
last=$(fields 'frame' frame.time_epoch | tail -n 1 | cut -d. -f1)
if [[ -n $first ]] && ((first >= t_start - 1 && last <= t_end + 1 && first <= last)); then
    pass timestamps
else
    fail timestamps "first $first, last $last, run from $t_start to $t_end" || true
fi

expect_eq arp_request "$(fields "arp.opcode == 1 && arp.src.proto_ipv4 == $US_IP && \
arp.dst.proto_ipv4 == $PEER_IP" arp.opcode | head -n 1)" 1 || true
expect_eq arp_reply "$(fields "arp.opcode == 2 && arp.src.proto_ipv4 == $PEER_IP && \
arp.dst.proto_ipv4 == $US_IP" arp.opcode | head -n 1)" 2 || true
expect_eq dns_query "$(fields "dns.flags.response == 0 && ip.src == $US_IP && \
ip.dst == $PEER_IP" dns.qry.name | head -n 1)" web.test || true
expect_eq dns_answer "$(fields "dns.flags.response == 1 && ip.src == $PEER_IP && \
ip.dst == $US_IP" dns.a | head -n 1)" "$PEER_IP" || true

# Frames from a kernel peer on a veth may carry partial checksums; ustack computes its IPv4
# and UDP checksums itself, so its own must be right in the capture (should UDP checksums
# ever be offloaded through PACKET_VNET_HDR, the capture shows partial sums like tcpdump).
bad=$(fields "ip.src == $US_IP && (ip.checksum.status == \"Bad\" || udp.checksum.status == \"Bad\")" \
    frame.number)
sent=$(fields "ip.src == $US_IP" frame.number | wc -l)
if [[ -z $bad ]] && ((sent > 0)); then
    pass sent_checksums
else
    fail sent_checksums "$sent IPv4 frames from $US_IP; bad checksums in frames: ${bad:-none}" ||
        true
fi
finish
