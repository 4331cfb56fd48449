"""Hold idle sockets of every kind over ustack and report this process's CPU time.

Usage: idle_sockets.py PEER_IP PEER_PORT SECONDS
Opens a UDP socket, a TCP listener and an established TCP connection to PEER_IP:PEER_PORT,
prints "ready", sleeps SECONDS in a blocking recv with a timeout (as an idle server would), then
prints the CPU seconds (user+system, all threads) spent while idle: "idle_cpu_ms N".
"""
import os
import socket
import sys
import time

peer_ip, peer_port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("0.0.0.0", 0))
listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
listener.bind(("0.0.0.0", 0))
listener.listen(8)
conn = socket.create_connection((peer_ip, peer_port), timeout=5)
conn.settimeout(seconds)
print("ready", flush=True)
start = os.times()
try:
    conn.recv(1)          # the peer sends nothing: a blocking wait until the timeout
except socket.timeout:
    pass
end = os.times()
print("idle_cpu_ms %d" % round(((end.user - start.user) + (end.system - start.system)) * 1000),
      flush=True)
