# tests/lib/relay.sh — three-namespace test network around the impairment relay.
# Source it from bash (works under `set -euo pipefail`):
#
#   source tests/lib/relay.sh
#   relay_net_up "$$"                       # namespaces + veths, peer has 192.0.2.1/24
#   trap 'relay_net_down' EXIT
#   relay_start --both delay=20ms --seed 1  # ustack-relay in the middle namespace
#   relay_in_peer ping -c 3 192.0.2.2
#   relay_stop                              # SIGTERM, wait; stats file is final
#   relay_stat a2b.dropped_loss             # prints the counter
#
# Topology (SUFFIX is per run, so parallel runs do not collide):
#
#   usr-peer-SUFFIX          usr-relay-SUFFIX            usr-us-SUFFIX
#   peer0 192.0.2.1/24 ==veth== ra0   [relay]   rb0 ==veth== us0 (no address:
#                                                               ustack owns 192.0.2.2)
#   a2b = peer -> ustack, b2a = ustack -> peer.
#
# Offloads (TSO/GSO/GRO, tx/rx checksum) are switched off on peer0, ra0 and rb0
# so the kernel peer sends MTU-sized frames with real checksums and corrupted
# frames are not waved through as "checksum unnecessary"; us0 is left alone
# (the product must cope with offloads on) unless a test calls
# relay_offloads_off "$RELAY_NS_US" "$RELAY_IF_US".
# Nothing here touches the root namespace's interfaces.

# Read by the scripts that source this file.
# shellcheck disable=SC2034
{
RELAY_PEER_IP=192.0.2.1
RELAY_US_IP=192.0.2.2
RELAY_PREFIX_LEN=24
RELAY_IF_PEER=peer0
RELAY_IF_A=ra0
RELAY_IF_B=rb0
RELAY_IF_US=us0
}

relay_in_peer()  { ip netns exec "$RELAY_NS_PEER" "$@"; }
relay_in_relay() { ip netns exec "$RELAY_NS_RELAY" "$@"; }
relay_in_us()    { ip netns exec "$RELAY_NS_US" "$@"; }

# relay_offloads_off NS IF — best effort: veth refuses some features on old kernels.
relay_offloads_off() {
	ip netns exec "$1" ethtool -K "$2" tso off gso off gro off tx off rx off \
		>/dev/null 2>&1 || true
	if ip netns exec "$1" ethtool -k "$2" 2>/dev/null |
		grep -q '^tcp-segmentation-offload: on'; then
		echo "relay.sh: could not switch TSO off on $2 in $1" >&2
		return 1
	fi
}

# relay_net_up SUFFIX — creates the three namespaces, the two veth pairs,
# 192.0.2.1/24 on the peer end, and a scratch directory for the relay.
# Sets RELAY_SUFFIX RELAY_NS_PEER RELAY_NS_RELAY RELAY_NS_US RELAY_DIR
# RELAY_STATS RELAY_LOG.
relay_net_up() {
	local suffix=${1:?relay_net_up: SUFFIX required}
	local ns

	RELAY_SUFFIX=$suffix
	RELAY_NS_PEER=usr-peer-$suffix
	RELAY_NS_RELAY=usr-relay-$suffix
	RELAY_NS_US=usr-us-$suffix
	RELAY_DIR=$(mktemp -d "${TMPDIR:-/tmp}/ustack-relay-$suffix.XXXXXX")
	RELAY_STATS=$RELAY_DIR/stats
	RELAY_LOG=$RELAY_DIR/relay.log
	RELAY_PID=

	for ns in "$RELAY_NS_PEER" "$RELAY_NS_RELAY" "$RELAY_NS_US"; do
		ip netns add "$ns" || return 1
		# No IPv6 chatter (router solicitations, DAD): counters stay exact.
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1 >/dev/null
		ip -n "$ns" link set lo up
	done
	ip -n "$RELAY_NS_PEER" link add "$RELAY_IF_PEER" type veth \
		peer name "$RELAY_IF_A" netns "$RELAY_NS_RELAY" || return 1
	ip -n "$RELAY_NS_RELAY" link add "$RELAY_IF_B" type veth \
		peer name "$RELAY_IF_US" netns "$RELAY_NS_US" || return 1

	relay_offloads_off "$RELAY_NS_PEER" "$RELAY_IF_PEER" || return 1
	relay_offloads_off "$RELAY_NS_RELAY" "$RELAY_IF_A" || return 1
	relay_offloads_off "$RELAY_NS_RELAY" "$RELAY_IF_B" || return 1

	ip -n "$RELAY_NS_PEER" addr add "$RELAY_PEER_IP/$RELAY_PREFIX_LEN" dev "$RELAY_IF_PEER"
	ip -n "$RELAY_NS_PEER" link set "$RELAY_IF_PEER" up
	ip -n "$RELAY_NS_RELAY" link set "$RELAY_IF_A" up
	ip -n "$RELAY_NS_RELAY" link set "$RELAY_IF_B" up
	ip -n "$RELAY_NS_US" link set "$RELAY_IF_US" up
}

# relay_net_down [SUFFIX] — stops the relay if running, deletes the namespaces
# (which deletes the veths) and the scratch directory.  Safe to call twice.
relay_net_down() {
	local suffix=${1:-${RELAY_SUFFIX:-}}
	local ns

	relay_stop >/dev/null 2>&1 || true
	[ -n "$suffix" ] || return 0
	for ns in "usr-peer-$suffix" "usr-relay-$suffix" "usr-us-$suffix"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	if [ -n "${RELAY_DIR:-}" ] && [ -d "$RELAY_DIR" ]; then
		rm -rf "$RELAY_DIR"
	fi
}

# relay_start [ustack-relay options...] — e.g. relay_start --both loss=1% --seed 7.
# Runs ${RELAY_BIN:-${RELAY_BUILD:-build}/ustack-relay} in the relay namespace
# between ra0 (--a) and rb0 (--b) with --stats "$RELAY_STATS", stderr to
# "$RELAY_LOG"; returns once it is forwarding (its first stats file exists).
# Sets RELAY_PID.  Fails (and prints the log) if it exits instead.
relay_start() {
	local bin=${RELAY_BIN:-${RELAY_BUILD:-build}/ustack-relay}
	local _

	if [ -n "${RELAY_PID:-}" ]; then
		echo "relay.sh: relay already running (pid $RELAY_PID)" >&2
		return 1
	fi
	rm -f "$RELAY_STATS"
	ip netns exec "$RELAY_NS_RELAY" "$bin" --a "$RELAY_IF_A" --b "$RELAY_IF_B" \
		--stats "$RELAY_STATS" "$@" 2>"$RELAY_LOG" &
	RELAY_PID=$!
	for _ in $(seq 1 100); do
		[ -f "$RELAY_STATS" ] && return 0
		if ! kill -0 "$RELAY_PID" 2>/dev/null; then
			wait "$RELAY_PID" 2>/dev/null || true
			RELAY_PID=
			echo "relay.sh: ustack-relay exited at start:" >&2
			cat "$RELAY_LOG" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "relay.sh: ustack-relay not ready after 5 s" >&2
	relay_stop || true
	return 1
}

# relay_stop — SIGTERM, wait; afterwards "$RELAY_STATS" holds the final
# counters.  Returns the relay's exit status (0 if none was running).
relay_stop() {
	local pid=${RELAY_PID:-} rc=0

	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || rc=$?
	RELAY_PID=
	return "$rc"
}

# relay_snapshot — asks a running relay (SIGUSR1) to rewrite "$RELAY_STATS"
# and waits until it has.
relay_snapshot() {
	local _

	[ -n "${RELAY_PID:-}" ] || return 1
	rm -f "$RELAY_STATS"
	kill -USR1 "$RELAY_PID"
	for _ in $(seq 1 100); do
		[ -f "$RELAY_STATS" ] && return 0
		sleep 0.02
	done
	return 1
}

# relay_stat KEY — prints KEY's value from "$RELAY_STATS" (e.g. a2b.rx,
# b2a.dropped_loss, seed, a2b.spec); fails if absent.
relay_stat() {
	local line

	line=$(grep -m1 "^$1=" "$RELAY_STATS" 2>/dev/null) || {
		echo "relay.sh: no '$1' in $RELAY_STATS" >&2
		return 1
	}
	printf '%s\n' "${line#*=}"
}
