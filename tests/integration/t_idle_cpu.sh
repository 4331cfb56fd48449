#!/usr/bin/env bash
# t_idle_cpu: an idle ustack process sleeps. With a UDP socket, a TCP listener and an
# established TCP connection open, and the program blocked in recv for 3 s, the process (stack
# thread included) uses almost no CPU: no polling loop, no spinning waits (design.md).
# timeout: 60
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ip socat
need_build
net_setup

start_peer_bg idle_peer socat TCP-LISTEN:7100,bind="$PEER_IP",reuseaddr,fork SYSTEM:'sleep 20'
wait_port_peer 7100 tcp || die "peer listener did not start"

out=$(run_timeout 30 ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" --ip "$US_IP/$NET_PREFIX" \
    -- /usr/bin/python3 "$REPO/tests/tools/idle_sockets.py" "$PEER_IP" 7100 3 2>&1) || true
info "$out"
check ready grep -q '^ready' <<<"$out"
ms=$(sed -n 's/^idle_cpu_ms \([0-9]*\)$/\1/p' <<<"$out")
if [[ -n $ms ]] && ((ms <= 60)); then
    pass idle_cpu_under_2_percent
else
    fail idle_cpu_under_2_percent "used '${ms:-?}' ms of CPU in 3 s idle (limit 60 ms)"
fi
finish
