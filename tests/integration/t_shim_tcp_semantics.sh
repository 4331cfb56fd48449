#!/usr/bin/env bash
# t_shim_tcp_semantics: the shim's blocking and signal behaviour on ustack TCP sockets, from
# Python programs run over ustack against kernel peers:
#   blocking connect (success, ECONNREFUSED), sendfile with and without an offset (digest
#   checked, file position advanced), MSG_WAITALL across several segments, EPIPE raising
#   SIGPIPE (and not with MSG_NOSIGNAL), SIOCOUTQ (unacknowledged bytes, 0 once acked), and a
#   ustack listener: blocking accept of a kernel client, echo, close.
# timeout: 120
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ip
need_build
py=/usr/bin/python3
[[ -x $py ]] || die "$py is missing"

cat >"$T_TMP/peer.py" <<'EOF'
# 8001 sink: read to EOF, reply "<length> <sha256>"; 8002 drip: 3 x 1000 bytes 50 ms apart;
# 8003 slam: accept and close at once; 8004 stall: accept, never read, close after 5 s.
import hashlib, socket, sys, threading, time
ip = sys.argv[1]
def serve(port, handler):
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind((ip, port)); l.listen(16); l.settimeout(90)
    while True:
        try:
            c, _ = l.accept()
        except socket.timeout:
            return
        threading.Thread(target=handler, args=(c,), daemon=True).start()
def sink(c):
    h, n = hashlib.sha256(), 0
    while True:
        d = c.recv(65536)
        if not d: break
        h.update(d); n += len(d)
    c.sendall(b"%d %s" % (n, h.hexdigest().encode())); c.close()
def drip(c):
    for i in range(3):
        c.sendall(bytes([65 + i]) * 1000); time.sleep(0.05)
    c.close()
def slam(c):
    c.close()
def stall(c):
    time.sleep(5); c.close()
for port, h in ((8001, sink), (8002, drip), (8003, slam), (8004, stall)):
    threading.Thread(target=serve, args=(port, h), daemon=True).start()
time.sleep(100)
EOF

cat >"$T_TMP/client.py" <<'EOF'
import errno, hashlib, os, signal, socket, sys, time
PEER = sys.argv[1]
def check(name, cond, detail=""):
    print(("ok %s" % name) if cond else ("FAIL %s: %s" % (name, detail)), flush=True)
def sink_reply(s):
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        d = s.recv(1000)
        if not d: break
        out += d
    return out.decode()

# blocking connect, 1 MB through sendall
data = os.urandom(1 << 20)
s = socket.socket()
s.connect((PEER, 8001))
s.sendall(data)
want = "%d %s" % (len(data), hashlib.sha256(data).hexdigest())
got = sink_reply(s); s.close()
check("blocking_connect_and_send", got == want, got)

# connect to a closed port
s = socket.socket()
try:
    s.connect((PEER, 8009)); r = "connected"
except OSError as e:
    r = errno.errorcode.get(e.errno, e.errno)
s.close()
check("blocking_connect_refused", r == "ECONNREFUSED", r)

# sendfile with an offset, and without one (the file position advances)
path = sys.argv[2]
blob = os.urandom((1 << 20) + 123)
with open(path, "wb") as f: f.write(blob)
fd = os.open(path, os.O_RDONLY)
s = socket.create_connection((PEER, 8001))
off = 0
while off < len(blob):
    n = os.sendfile(s.fileno(), fd, off, len(blob) - off)
    if n <= 0: break
    off += n
got = sink_reply(s); s.close()
check("sendfile_with_offset", got == "%d %s" % (len(blob), hashlib.sha256(blob).hexdigest()), got)
check("sendfile_offset_keeps_position", os.lseek(fd, 0, os.SEEK_CUR) == 0)
os.lseek(fd, 1000, os.SEEK_SET)
s = socket.create_connection((PEER, 8001))
total = 0
while True:
    n = os.sendfile(s.fileno(), fd, None, 1 << 16)
    if n <= 0: break
    total += n
pos = os.lseek(fd, 0, os.SEEK_CUR)
got = sink_reply(s); s.close(); os.close(fd)
rest = blob[1000:]
check("sendfile_without_offset", got == "%d %s" % (len(rest), hashlib.sha256(rest).hexdigest())
      and pos == len(blob), "%s pos=%d" % (got, pos))

# MSG_WAITALL gathers three segments sent 50 ms apart
s = socket.create_connection((PEER, 8002))
d = s.recv(3000, socket.MSG_WAITALL)
check("msg_waitall_fills_buffer", len(d) == 3000 and d[:1] == b"A" and d[-1:] == b"C", "got %d bytes" % len(d))
s.close()

# EPIPE after the peer closed: SIGPIPE without MSG_NOSIGNAL, none with it
sigpipes = []
signal.signal(signal.SIGPIPE, lambda *a: sigpipes.append(1))
def until_epipe(flags):
    s = socket.create_connection((PEER, 8003))
    time.sleep(0.1)
    seen = []
    for i in range(40):
        try:
            s.send(b"x" * 1000, flags)
        except OSError as e:
            seen.append(errno.errorcode.get(e.errno, e.errno))
            if e.errno == errno.EPIPE: break
        time.sleep(0.05)
    s.close()
    return seen
seen = until_epipe(0)
check("epipe_raises_sigpipe", seen[-1:] == ["EPIPE"] and len(sigpipes) == 1, "errors %s, %d SIGPIPE" % (seen, len(sigpipes)))
seen = until_epipe(socket.MSG_NOSIGNAL)
check("epipe_msg_nosignal_no_signal", seen[-1:] == ["EPIPE"] and len(sigpipes) == 1, "errors %s, %d SIGPIPE" % (seen, len(sigpipes)))

# SIOCOUTQ: bytes not yet acknowledged — many with a peer that does not read, none once acked
import fcntl, struct
def outq(sock):
    return struct.unpack("i", fcntl.ioctl(sock.fileno(), 0x5411, b"\0\0\0\0"))[0]  # SIOCOUTQ
s = socket.create_connection((PEER, 8004))
s.setblocking(False)
sent = 0
try:
    while sent < (16 << 20):
        sent += s.send(b"y" * 65536)
except BlockingIOError:
    pass
q = outq(s)
check("siocoutq_counts_unacked", 0 < q <= sent, "outq %d after %d bytes sent" % (q, sent))
s.close()
s = socket.create_connection((PEER, 8001))
s.sendall(b"z" * 1000)
time.sleep(0.3)
q = outq(s)
check("siocoutq_zero_when_acked", q == 0, "outq %d" % q)
sink_reply(s); s.close()
print("done", flush=True)
EOF

cat >"$T_TMP/server.py" <<'EOF'
# a ustack listener: blocking accept, echo one message back upper-cased, close
import socket, sys
l = socket.socket()
l.bind(("0.0.0.0", 8100)); l.listen(4)
print("listening", flush=True)
c, addr = l.accept()
print("accepted", addr[0], flush=True)
d = b""
while not d.endswith(b"\n"):
    x = c.recv(100)
    if not x: break
    d += x
c.sendall(d.upper()); c.close(); l.close()
print("served", flush=True)
EOF

net_setup
start_peer_bg peer "$py" "$T_TMP/peer.py" "$PEER_IP"
wait_port_peer 8004 tcp 10 || die "peer servers did not start: $(cat "$(bg_log peer)")"

status=0
run_timeout 60 ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" --ip "$US_IP/$NET_PREFIX" \
    -- "$py" "$T_TMP/client.py" "$PEER_IP" "$T_TMP/blob" >"$T_TMP/out" 2>"$T_TMP/err" || status=$?
program_checks client_completed "$status" "$T_TMP/out" "$T_TMP/err"

# ustack as the server, a kernel client on the peer
ustack_bg server "$py" "$T_TMP/server.py"
for ((i = 0; i < 100; i++)); do
    grep -q listening "$(bg_log server)" 2>/dev/null && break
    sleep 0.1
done
reply=$(run_timeout 20 ip netns exec "$NS_PEER" "$py" -c '
import socket, sys
s = socket.create_connection((sys.argv[1], 8100), timeout=10)
s.sendall(b"hello ustack\n")
print(s.recv(100).decode().strip())' "$US_IP" 2>&1) || true
expect_eq accept_and_echo "$reply" "HELLO USTACK"
wait_bg server 10 || true
if grep -q "accepted $PEER_IP" "$(bg_log server)" && grep -q served "$(bg_log server)"; then
    pass accept_reports_peer
else
    fail accept_reports_peer "$(head -c 400 "$(bg_log server)")" || true
fi
finish
