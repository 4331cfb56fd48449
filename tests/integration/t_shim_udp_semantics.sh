#!/usr/bin/env bash
# t_shim_udp_semantics: the shim's fd-level behaviour on ustack UDP sockets, checked from a
# Python program run over ustack against a UDP echo server on the peer:
#   dup/close (the socket lives while any fd does; the stack moves off a closed number that is
#   then reused), dup2 onto a ustack fd, O_NONBLOCK by fcntl and by FIONBIO, MSG_DONTWAIT,
#   SO_RCVTIMEO, EINTR from a signal handler, FIONREAD, close_range, syscall() made directly
#   (as libuv does), and fork: a child forked before the process used the network gets its own
#   stack; a child forked after cannot use the inherited sockets (ENETDOWN) nor create AF_INET
#   sockets (EAFNOSUPPORT), can close them, and the parent's sockets keep working.
# timeout: 90
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh" "$@"
source "$(dirname "$0")/../lib/net.sh"
need_root
need_cmd ip
need_build
py=/usr/bin/python3
[[ -x $py ]] || die "$py is missing"
port=9100

cat >"$T_TMP/echo.py" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(60)
while True:
    try:
        data, addr = s.recvfrom(65535)
    except socket.timeout:
        break
    s.sendto(data, addr)
EOF

cat >"$T_TMP/semantics.py" <<'EOF'
import ctypes, errno, fcntl, os, select, signal, socket, struct, sys, termios, time
PEER = (sys.argv[1], int(sys.argv[2]))
results = []

def check(name, cond, detail=""):
    print(("ok %s" % name) if cond else ("FAIL %s: %s" % (name, detail)), flush=True)

def udp():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect(PEER)
    return s

def echo_fd(fd, payload):
    os.write(fd, payload)
    r, _, _ = select.select([fd], [], [], 3)
    if not r:
        return None
    return os.read(fd, 65535)

def expect_errno(fn, code):
    try:
        fn()
    except OSError as e:
        return e.errno == code, "errno %s" % errno.errorcode.get(e.errno, e.errno)
    return False, "no error"

# 1. fork before any AF_INET socket: the child starts its own stack.
pid = os.fork()
if pid == 0:
    s = udp()
    ok = echo_fd(s.fileno(), b"child-own-stack") == b"child-own-stack"
    os._exit(0 if ok else 1)
_, st = os.waitpid(pid, 0)
check("fork_before_stack_child_has_own_stack", os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0,
      "child status %r" % st)

# 2. dup then close the original: the socket lives on; the freed number is reused by an
#    unrelated file the stack must not touch.
s = udp()
orig = s.fileno()
d = os.dup(orig)
s.close()
reused = os.open("/dev/null", os.O_RDWR)
check("dup_survives_close", echo_fd(d, b"after-close") == b"after-close")
check("closed_number_reused_untouched", reused == orig and os.write(reused, b"x") == 1 and
      os.read(reused, 1) == b"", "reused=%d orig=%d" % (reused, orig))
os.close(reused)
os.close(d)

# 3. dup2 onto a ustack fd: that socket goes, the fd now means the first one.
a, b = udp(), udp()
a_name = a.getsockname()
os.dup2(a.fileno(), b.fileno())
check("dup2_onto_ustack_fd", socket.socket(fileno=os.dup(b.fileno())).getsockname() == a_name and
      echo_fd(b.fileno(), b"dup2") == b"dup2")
a.close(); b.close()

# 4. O_NONBLOCK by fcntl, then by FIONBIO (Python's setblocking), and MSG_DONTWAIT.
s = udp()
fd = s.fileno()
flags = fcntl.fcntl(fd, fcntl.F_GETFL)
fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
ok, why = expect_errno(lambda: os.read(fd, 100), errno.EAGAIN)
check("fcntl_nonblock_read_eagain", ok, why)
fcntl.fcntl(fd, fcntl.F_SETFL, flags)
s.setblocking(False)
ok, why = expect_errno(lambda: s.recv(100), errno.EAGAIN)
check("fionbio_nonblock_recv_eagain", ok, why)
s.setblocking(True)
ok, why = expect_errno(lambda: s.recv(100, socket.MSG_DONTWAIT), errno.EAGAIN)
check("msg_dontwait_eagain", ok, why)

# 5. SO_RCVTIMEO on a blocking socket: EAGAIN after the timeout.
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 300000))
t0 = time.monotonic()
ok, why = expect_errno(lambda: os.read(fd, 100), errno.EAGAIN)
dt = time.monotonic() - t0
check("so_rcvtimeo_expires", ok and 0.2 <= dt < 2.0, "%s after %.3fs" % (why, dt))
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", 0, 0))

# 6. A signal handler that raises interrupts a blocking recv (EINTR underneath).
class Interrupted(Exception):
    pass
def on_alarm(sig, frame):
    raise Interrupted()
signal.signal(signal.SIGALRM, on_alarm)
signal.setitimer(signal.ITIMER_REAL, 0.2)
t0 = time.monotonic()
try:
    s.recv(100)
    got = "returned"
except Interrupted:
    got = "interrupted"
dt = time.monotonic() - t0
signal.setitimer(signal.ITIMER_REAL, 0)
check("signal_interrupts_blocking_recv", got == "interrupted" and dt < 2.0, "%s after %.3fs" % (got, dt))

# 7. FIONREAD: size of the queued datagram.
s.send(b"12345678")
select.select([s], [], [], 3)
n = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
check("fionread_datagram_size", n == 8, "got %d" % n)
s.recv(100)

# 8. syscall() made directly, as libuv does for sendmmsg/recvmmsg.
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_sendto, SYS_recvfrom = 44, 45
buf = ctypes.create_string_buffer(b"raw-syscall")
r = libc.syscall(ctypes.c_long(SYS_sendto), ctypes.c_long(fd), buf, ctypes.c_long(11),
                 ctypes.c_long(0), ctypes.c_void_p(0), ctypes.c_long(0))
select.select([s], [], [], 3)
out = ctypes.create_string_buffer(64)
r2 = libc.syscall(ctypes.c_long(SYS_recvfrom), ctypes.c_long(fd), out, ctypes.c_long(64),
                  ctypes.c_long(socket.MSG_DONTWAIT), ctypes.c_void_p(0), ctypes.c_void_p(0))
check("raw_syscall_send_recv", r == 11 and r2 == 11 and out.raw[:11] == b"raw-syscall",
      "sendto %d recvfrom %d errno %d" % (r, r2, ctypes.get_errno()))

# 9. close_range over ustack fds: they leave the table; new sockets reuse the numbers cleanly.
x, y = udp(), udp()
lo, hi = sorted((x.fileno(), y.fileno()))
x.detach(); y.detach()
os.closerange(lo, hi + 1)
z = udp()
check("close_range_then_reuse", echo_fd(z.fileno(), b"after-close-range") == b"after-close-range")
z.close()

# 10. fork after the stack runs: inherited sockets fail with ENETDOWN, new AF_INET sockets
#     with EAFNOSUPPORT, close works; the parent's socket is unaffected.
pid = os.fork()
if pid == 0:
    code = 0
    try:
        s.send(b"from-child")
        code |= 1
    except OSError as e:
        if e.errno != errno.ENETDOWN:
            code |= 2
    try:
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        code |= 4
    except OSError as e:
        if e.errno != errno.EAFNOSUPPORT:
            code |= 8
    try:
        u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)  # other families still work
        u.close()
    except OSError:
        code |= 16
    try:
        s.close()
    except OSError:
        code |= 32
    os._exit(code)
_, st = os.waitpid(pid, 0)
check("fork_child_inherited_and_new_sockets", os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0,
      "child exit code %r (bits: 1 send worked, 2 wrong errno, 4 socket worked, 8 wrong errno, "
      "16 AF_UNIX failed, 32 close failed)" % (os.WEXITSTATUS(st) if os.WIFEXITED(st) else st))
check("fork_parent_socket_still_works", echo_fd(fd, b"parent-after-fork") == b"parent-after-fork")
s.close()
print("done", flush=True)
EOF

net_setup
start_peer_bg echo "$py" "$T_TMP/echo.py" "$PEER_IP" "$port"
wait_port_peer "$port" udp 10 || die "echo server did not start: $(cat "$(bg_log echo)")"

status=0
run_timeout 60 ip netns exec "$NS_US" "$USTACK" run --if "$US_IF" --ip "$US_IP/$NET_PREFIX" \
    -- "$py" "$T_TMP/semantics.py" "$PEER_IP" "$port" >"$T_TMP/out" 2>"$T_TMP/err" || status=$?
program_checks program_completed "$status" "$T_TMP/out" "$T_TMP/err"
finish
