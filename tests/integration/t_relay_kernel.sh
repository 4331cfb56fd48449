#!/usr/bin/env bash
# t_relay_kernel — proves ustack-relay with the kernel stack at both ends:
# plain forwarding (ARP included), delay in both and one direction, random
# loss, duplication, a TCP transfer through loss+delay+reorder+dup+corrupt,
# and a rate limit; checks the relay's counters for each and that an idle
# relay uses no CPU.  The far end gets 192.0.2.2/24 on its veth for this test
# only (ustack tests leave that end without an address).
#   usage: t_relay_kernel.sh [BUILD_DIR]   (default: build)
set -euo pipefail

NAME=t_relay_kernel
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-build}
[ -d "$BUILD" ] || BUILD=$ROOT/$BUILD
RELAY_BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || RELAY_BUILD=$BUILD
export RELAY_BUILD
# shellcheck disable=SC1091
source "$ROOT/tests/lib/relay.sh"

RESULT_PRINTED=0
# VERBOSE=1 prints each measurement on stderr.
note() { [ -z "${VERBOSE:-}" ] || echo "  $NAME: $*" >&2; }
fail() {
	echo "FAIL $NAME: $*"
	RESULT_PRINTED=1
	if [ -n "${RELAY_LOG:-}" ] && [ -s "$RELAY_LOG" ]; then
		sed 's/^/  relay: /' "$RELAY_LOG" | tail -n 40 >&2
	fi
	exit 1
}
on_exit() {
	local rc=$?

	if [ "$rc" -ne 0 ] && [ "$RESULT_PRINTED" -eq 0 ]; then
		echo "FAIL $NAME: unexpected error at line ${ERR_LINE:-?}: ${ERR_CMD:-?}"
	fi
	relay_net_down
	exit "$rc"
}
trap 'ERR_LINE=$LINENO ERR_CMD=$BASH_COMMAND' ERR
trap on_exit EXIT

for tool in ip ethtool ping socat sha256sum timeout; do
	command -v "$tool" >/dev/null || fail "missing tool: $tool"
done
[ -x "$RELAY_BUILD/ustack-relay" ] || fail "no $RELAY_BUILD/ustack-relay (make build/ustack-relay)"

relay_net_up "k$$"
WORK=$RELAY_DIR

# The kernel plays ustack's part for this proof only.
ip -n "$RELAY_NS_US" addr add "$RELAY_US_IP/$RELAY_PREFIX_LEN" dev "$RELAY_IF_US"
relay_offloads_off "$RELAY_NS_US" "$RELAY_IF_US"

# ping_summary ARGS... — runs ping from the peer to the far end; prints its
# output (ping exits non-zero on loss: that is for the caller to judge).
ping_from_peer() {
	relay_in_peer ping -n "$@" "$RELAY_US_IP" 2>&1 || true
}
rtt_avg() { awk -F/ '/^rtt/ { print $5 }' <<<"$1"; }
loss_pct() { grep -oE '[0-9.]+% packet loss' <<<"$1" | cut -d% -f1; }
# in_range VALUE LO HI — floating-point LO <= VALUE <= HI
in_range() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v != "" && v >= lo && v <= hi) }'; }
stat_of() { relay_stat "$1" || fail "stats file lacks $1"; }

# Counters must balance once the relay has stopped with nothing held.
check_balance() {
	local d rx tx dup lost q over err held

	for d in a2b b2a; do
		rx=$(stat_of $d.rx) tx=$(stat_of $d.tx) dup=$(stat_of $d.duplicated)
		lost=$(stat_of $d.dropped_loss) q=$(stat_of $d.dropped_queue)
		over=$(stat_of $d.dropped_oversize) err=$(stat_of $d.tx_errors)
		held=$(stat_of $d.held)
		[ $((rx + dup)) -eq $((tx + lost + q + over + err + held)) ] ||
			fail "$d counters do not balance: rx=$rx dup=$dup tx=$tx loss=$lost queue=$q oversize=$over err=$err held=$held"
		[ "$over" -eq 0 ] || fail "$d dropped $over oversize frames (offloads still on?)"
	done
}

# --- 1. plain forwarding: ARP and ICMP cross the relay; idle relay sleeps.
relay_start --seed 1
out=$(ping_from_peer -c 3 -i 0.1 -W 2)
[ "$(loss_pct "$out")" = 0 ] || fail "no impairment: ping lost packets: $(tail -n 2 <<<"$out" | head -n 1)"
ticks_before=$(awk '{ print $14 + $15 }' "/proc/$RELAY_PID/stat")
sleep 1
ticks_after=$(awk '{ print $14 + $15 }' "/proc/$RELAY_PID/stat")
[ $((ticks_after - ticks_before)) -le 2 ] ||
	fail "idle relay used $((ticks_after - ticks_before)) CPU ticks in 1 s"
relay_stop || fail "relay exited with status $?"
{ [ "$(stat_of a2b.tx)" -ge 4 ] && [ "$(stat_of b2a.tx)" -ge 4 ]; } ||
	fail "plain forwarding: too few frames relayed ($(stat_of a2b.tx)/$(stat_of b2a.tx))"
check_balance

# Pin the neighbours so ARP (which the relay also impairs) does not blur the
# loss and delay measurements below.
peer_mac=$(relay_in_peer cat "/sys/class/net/$RELAY_IF_PEER/address")
us_mac=$(relay_in_us cat "/sys/class/net/$RELAY_IF_US/address")
ip -n "$RELAY_NS_PEER" neigh replace "$RELAY_US_IP" lladdr "$us_mac" dev "$RELAY_IF_PEER" nud permanent
ip -n "$RELAY_NS_US" neigh replace "$RELAY_PEER_IP" lladdr "$peer_mac" dev "$RELAY_IF_US" nud permanent

# --- 2. delay=20ms both ways: RTT ~40 ms.
relay_start --both delay=20ms --seed 2
out=$(ping_from_peer -c 20 -i 0.05 -W 2)
avg=$(rtt_avg "$out")
note "delay=20ms both: RTT avg $avg ms"
in_range "$avg" 39 55 || fail "delay=20ms both ways: RTT avg '$avg' ms not in 39..55"
relay_stop
{ [ "$(stat_of a2b.delayed)" -ge 20 ] && [ "$(stat_of b2a.delayed)" -ge 20 ]; } ||
	fail "delay both ways: delayed counters $(stat_of a2b.delayed)/$(stat_of b2a.delayed)"
check_balance

# --- 3. delay=20ms one way (peer -> far end): RTT ~20 ms.
relay_start --a2b delay=20ms --seed 3
out=$(ping_from_peer -c 20 -i 0.05 -W 2)
avg=$(rtt_avg "$out")
note "delay=20ms a2b: RTT avg $avg ms"
in_range "$avg" 19.5 32 || fail "delay=20ms a2b only: RTT avg '$avg' ms not in 19.5..32"
relay_stop
[ "$(stat_of b2a.delayed)" -eq 0 ] || fail "b2a delayed frames with no b2a delay"
check_balance

# --- 4. loss=20% both ways: ~36% of round trips lost.
relay_start --both loss=20% --seed 4
out=$(ping_from_peer -c 100 -i 0.01 -W 1)
loss=$(loss_pct "$out")
note "loss=20% both: ping loss $loss%"
in_range "$loss" 18 56 || fail "loss=20% both ways: ping loss '$loss'% not in 18..56"
relay_stop
lost_a=$(stat_of a2b.dropped_loss) lost_b=$(stat_of b2a.dropped_loss)
{ [ "$lost_a" -gt 0 ] && [ "$lost_b" -gt 0 ]; } || fail "loss: dropped_loss counters $lost_a/$lost_b"
# Requests lost a2b plus replies lost b2a are the round trips ping missed.
received=$(grep -oE '[0-9]+ received' <<<"$out" | cut -d' ' -f1)
[ $((100 - received)) -eq $((lost_a + lost_b)) ] ||
	fail "loss: ping missed $((100 - received)) but relay dropped $lost_a+$lost_b"
check_balance

# --- 5. dup=50% towards the far end: DUP! replies.
relay_start --a2b dup=50% --seed 5
out=$(ping_from_peer -c 20 -i 0.05 -W 2)
relay_stop
grep -q 'DUP!' <<<"$out" || fail "dup=50%: no DUP! reply in ping output"
dups=$(grep -c 'DUP!' <<<"$out")
# ping may exit on the last echo reply before that reply's duplicate arrives.
duplicated=$(stat_of a2b.duplicated)
[ "$dups" -eq "$duplicated" ] || [ "$dups" -eq $((duplicated - 1)) ] ||
	fail "dup: ping saw $dups DUP! but relay duplicated $(stat_of a2b.duplicated)"
check_balance

# --- TCP transfers: peer sends FILE to a socat listener on the far end.
# tcp_transfer FILE TIMEOUT — sets XFER_MS; fails unless the copy matches.
tcp_transfer() {
	local file=$1 limit=$2 got=$WORK/received start end

	rm -f "$got"
	relay_in_us timeout "$limit" socat -u TCP-LISTEN:5001,reuseaddr "OPEN:$got,creat,trunc" &
	local listener=$!
	for _ in $(seq 1 100); do
		relay_in_us ss -Hltn 'sport = :5001' | grep -q . && break
		sleep 0.02
	done
	start=$(date +%s%N)
	relay_in_peer timeout "$limit" socat -u "OPEN:$file" "TCP:$RELAY_US_IP:5001" ||
		fail "TCP sender failed (relay: $(relay_stat a2b.spec 2>/dev/null || true))"
	wait "$listener" || fail "TCP listener failed"
	end=$(date +%s%N)
	XFER_MS=$(((end - start) / 1000000))
	[ "$(sha256sum <"$file")" = "$(sha256sum <"$got")" ] ||
		fail "TCP transfer through '$(relay_stat a2b.spec)': received data differs ($(stat -c %s "$got") of $(stat -c %s "$file") bytes)"
}

# --- 6. 4 MiB through loss, delay, reorder, dup and corruption.
head -c $((4 * 1024 * 1024)) /dev/urandom >"$WORK/4m"
relay_start --both loss=1%,delay=5ms,reorder=10%,dup=1%,corrupt=0.5% --seed 6
tcp_transfer "$WORK/4m" 40
relay_stop
note "impaired 4 MiB: $XFER_MS ms; a2b loss=$(stat_of a2b.dropped_loss) reordered=$(stat_of a2b.reordered) dup=$(stat_of a2b.duplicated) corrupt=$(stat_of a2b.corrupted) tx=$(stat_of a2b.tx)"
for key in dropped_loss reordered duplicated corrupted; do
	[ "$(stat_of a2b.$key)" -gt 0 ] || fail "impaired TCP transfer: a2b.$key is 0"
done
check_balance

# --- 7. rate=20mbit: 2 MiB needs at least 0.84 s.
head -c $((2 * 1024 * 1024)) /dev/urandom >"$WORK/2m"
relay_start --both rate=20mbit,queue=100 --seed 7
tcp_transfer "$WORK/2m" 30
relay_stop
note "rate=20mbit: 2 MiB in $XFER_MS ms, a2b dropped_queue=$(stat_of a2b.dropped_queue)"
in_range "$XFER_MS" 800 8000 || fail "rate=20mbit: 2 MiB took $XFER_MS ms, expected 800..8000"
check_balance

RESULT_PRINTED=1
echo "PASS $NAME"
