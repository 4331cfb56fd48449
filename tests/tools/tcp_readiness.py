#!/usr/bin/python3
"""tcp_readiness — readiness of TCP sockets through a connection's life, under poll, select
and epoll.

    tcp_readiness.py client PEER_IP CTL_PORT CLOSED_PORT DROP_PORT LISTEN_PORT
    tcp_readiness.py server BIND_IP CTL_PORT        (the peer: a kernel server it steers)

The client runs a fixed script and prints one line per step: a call's result (errno names, not
numbers) or the readiness it got, with events as names (IN OUT ERR HUP RDHUP ...) and no
addresses, ports or times. Every wait for something to happen is a blocking call with a
generous timeout, and every snapshot after it uses timeout 0, so the output depends only on
the stack's semantics: the same script over the kernel and over ustack must print identical
lines (t_tcp_readiness.sh diffs them).

Steps: non-blocking connect to a port whose SYNs the peer drops (EINPROGRESS, nothing ready),
to a closed port (RST: error readiness, SO_ERROR ECONNREFUSED), to the server (EINPROGRESS,
then writable); established and idle; the peer sends data and FIN (POLLRDHUP), read to EOF,
our own SHUT_WR (POLLHUP); the peer resets (POLLERR|POLLHUP, ECONNRESET once, then EOF and
EPIPE); edge-triggered epoll across data+FIN; a listening socket before and after the peer
connects to it (accept EAGAIN, then POLLIN and a connection).

The server reads one command line per connection: "fin" (send "hello", shut down writing,
wait for EOF), "rst" (close with SO_LINGER 0: RST), "hold" (wait for EOF), "connect IP PORT"
(connect there, send "hi", wait for EOF there).
"""
import errno
import os
import select
import socket
import struct
import sys
import threading
import time

WAIT = 5.0      # seconds: upper bound for anything that must happen
IDLE = 0.2      # seconds: a wait that must time out with nothing ready

POLLRDHUP = getattr(select, "POLLRDHUP", 0x2000)
POLL_BITS = [(select.POLLIN, "IN"), (select.POLLPRI, "PRI"), (select.POLLOUT, "OUT"),
             (select.POLLERR, "ERR"), (select.POLLHUP, "HUP"), (select.POLLNVAL, "NVAL"),
             (POLLRDHUP, "RDHUP")]
EPOLL_BITS = [(select.EPOLLIN, "IN"), (select.EPOLLPRI, "PRI"), (select.EPOLLOUT, "OUT"),
              (select.EPOLLERR, "ERR"), (select.EPOLLHUP, "HUP"),
              (select.EPOLLRDHUP, "RDHUP")]
ALL_POLL = select.POLLIN | select.POLLOUT | POLLRDHUP | select.POLLPRI


def names(mask, bits):
    got = [name for bit, name in bits if mask & bit]
    return "{" + " ".join(got) + "}"


def err_name(e):
    return errno.errorcode.get(e, str(e))


class Client:
    def __init__(self, peer, ctl_port, closed_port, drop_port, listen_port):
        self.peer = peer
        self.ctl = ctl_port
        self.closed = closed_port
        self.drop = drop_port
        self.listen_port = listen_port
        self.step = 0

    def out(self, text):
        self.step += 1
        print("%2d %s" % (self.step, text), flush=True)

    # --- readiness helpers -------------------------------------------------------------
    def poll_once(self, sock, events=ALL_POLL, timeout=0.0):
        p = select.poll()
        p.register(sock, events)
        res = p.poll(int(timeout * 1000))
        return res[0][1] if res else 0

    def poll_until(self, sock, want, events=ALL_POLL):
        """Block (up to WAIT) until every bit of `want` is reported; returns the mask."""
        deadline = time.monotonic() + WAIT
        while True:
            left = deadline - time.monotonic()
            mask = self.poll_once(sock, want, max(left, 0))
            if mask & want == want or left <= 0:
                return self.poll_once(sock, events)
            time.sleep(0.01)   # something else (ERR, HUP) is pending: look again soon

    def snap(self, label, sock, events=ALL_POLL):
        self.out("%s: poll %s" % (label, names(self.poll_once(sock, events), POLL_BITS)))

    def snap_select(self, label, sock):
        r, w, x = select.select([sock], [sock], [sock], 0)
        self.out("%s: select r=%d w=%d x=%d" % (label, len(r), len(w), len(x)))

    def snap_epoll(self, label, sock, events):
        ep = select.epoll()
        ep.register(sock.fileno(), events)
        res = ep.poll(0)
        ep.close()
        self.out("%s: epoll %s" % (label, names(res[0][1] if res else 0, EPOLL_BITS)))

    def so_error(self, label, sock):
        e = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        self.out("%s: SO_ERROR %s" % (label, err_name(e) if e else "0"))

    def recv(self, label, sock, n=100):
        try:
            data = sock.recv(n)
            self.out("%s: recv %r" % (label, data))
        except OSError as e:
            self.out("%s: recv %s" % (label, err_name(e.errno)))

    def send(self, label, sock, data):
        try:
            n = sock.send(data, socket.MSG_NOSIGNAL)
            self.out("%s: send %d" % (label, n))
        except OSError as e:
            self.out("%s: send %s" % (label, err_name(e.errno)))

    def connect_nb(self, label, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex((self.peer, port))
        self.out("%s: connect %s" % (label, err_name(rc) if rc else "0"))
        return s

    def connected(self, label, command):
        """A blocking connection to the control server that sent `command`."""
        s = socket.create_connection((self.peer, self.ctl), timeout=WAIT)
        s.settimeout(None)
        s.setblocking(False)
        s.send(command.encode("ascii") + b"\n")
        self.out("%s: connected, sent %s" % (label, command.split()[0]))
        return s

    # --- the script --------------------------------------------------------------------
    def run(self):
        # SYNs dropped by the peer: the connect stays in progress.
        s = self.connect_nb("drop", self.drop)
        self.out("drop: poll %dms %s" % (IDLE * 1000, names(self.poll_once(s, ALL_POLL, IDLE),
                                                             POLL_BITS)))
        self.snap_select("drop", s)
        self.so_error("drop", s)
        s.close()

        # Closed port: the RST fails the connect.
        s = self.connect_nb("refused", self.closed)
        self.poll_until(s, select.POLLERR)
        self.snap("refused", s)
        self.snap_select("refused", s)
        self.so_error("refused", s)
        self.so_error("refused again", s)
        self.recv("refused", s)
        s.close()

        # The server: in progress, then writable.
        s = self.connect_nb("server", self.ctl)
        mask = self.poll_until(s, select.POLLOUT)
        self.out("server: became %s" % names(mask, POLL_BITS))
        self.so_error("server", s)
        self.snap_select("server", s)
        self.snap_epoll("server", s, select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP)
        self.recv("server idle", s)
        s.send(b"hold\n")
        s.shutdown(socket.SHUT_WR)
        self.poll_until(s, select.POLLIN)
        self.snap("server EOF", s)
        self.recv("server EOF", s)
        s.close()

        # Peer sends data and FIN.
        s = self.connected("fin", "fin")
        self.poll_until(s, POLLRDHUP)
        self.snap("fin", s)
        self.snap_select("fin", s)
        self.snap_epoll("fin", s, select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP)
        self.recv("fin", s)
        self.snap("fin drained", s)
        self.recv("fin drained", s)
        self.send("fin half-open", s, b"still here")
        s.shutdown(socket.SHUT_WR)
        self.snap("fin both shut", s)
        self.snap_epoll("fin both shut", s, select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP)
        s.close()

        # Peer resets.
        s = self.connected("rst", "rst")
        self.poll_until(s, select.POLLERR)
        self.snap("rst", s)
        self.snap_select("rst", s)
        self.snap_epoll("rst", s, select.EPOLLIN | select.EPOLLOUT | select.EPOLLRDHUP)
        self.recv("rst", s)
        self.so_error("rst after recv", s)
        self.snap("rst after error", s)
        self.recv("rst after error", s)
        self.send("rst after error", s, b"x")
        s.close()

        # Edge-triggered epoll across data and FIN.
        s = self.connected("et", "fin")
        ep = select.epoll()
        ep.register(s.fileno(), select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLET)
        self.poll_until(s, POLLRDHUP)
        res = ep.poll(0)
        self.out("et first: epoll %s" % names(res[0][1] if res else 0, EPOLL_BITS))
        res = ep.poll(0)
        self.out("et again: epoll %s" % names(res[0][1] if res else 0, EPOLL_BITS))
        self.recv("et", s, 2)
        res = ep.poll(0)
        self.out("et after partial read: epoll %s" % names(res[0][1] if res else 0, EPOLL_BITS))
        ep.close()
        s.close()

        # A listening socket; the peer connects to it on request.
        lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsn.bind(("0.0.0.0", self.listen_port))
        lsn.listen(4)
        lsn.setblocking(False)
        self.snap("listen idle", lsn)
        try:
            lsn.accept()
            self.out("listen idle: accept ok")
        except OSError as e:
            self.out("listen idle: accept %s" % err_name(e.errno))
        ctl = socket.create_connection((self.peer, self.ctl), timeout=WAIT)
        local_ip = ctl.getsockname()[0]
        ctl.send(("connect %s %d\n" % (local_ip, self.listen_port)).encode("ascii"))
        mask = self.poll_until(lsn, select.POLLIN)
        self.out("listen: became %s" % names(mask, POLL_BITS))
        self.snap_select("listen", lsn)
        conn, _ = lsn.accept()
        self.out("listen: accept ok")
        self.snap("listen after accept", lsn)
        conn.setblocking(True)
        conn.settimeout(WAIT)
        try:
            self.out("accepted: recv %r" % conn.recv(100))
        except OSError as e:
            self.out("accepted: recv %s" % err_name(e.errno))
        conn.close()
        ctl.close()
        lsn.close()
        return 0


def serve_one(conn):
    try:
        conn.settimeout(30)
        line = b""
        while not line.endswith(b"\n"):
            chunk = conn.recv(1)
            if not chunk:
                return
            line += chunk
        cmd = line.decode("ascii").split()
        if cmd[0] == "fin":
            conn.sendall(b"hello")
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(4096):
                pass
        elif cmd[0] == "rst":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif cmd[0] == "hold":
            while conn.recv(4096):
                pass
        elif cmd[0] == "connect":
            back = socket.create_connection((cmd[1], int(cmd[2])), timeout=WAIT)
            back.sendall(b"hi")
            back.settimeout(30)
            while back.recv(4096):
                pass
            back.close()
    except OSError:
        pass
    finally:
        conn.close()


def server(bind_ip, port):
    lsn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsn.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsn.bind((bind_ip, port))
    lsn.listen(16)
    while True:
        conn, _ = lsn.accept()
        threading.Thread(target=serve_one, args=(conn,), daemon=True).start()


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "server":
        server(sys.argv[2], int(sys.argv[3]))
        return 0
    if len(sys.argv) == 7 and sys.argv[1] == "client":
        return Client(sys.argv[2], *map(int, sys.argv[3:])).run()
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
