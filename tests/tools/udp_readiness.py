#!/usr/bin/python3
"""udp_readiness — readiness of UDP sockets mixed with a pipe under select, poll and epoll.

    udp_readiness.py client PEER_IP ECHO_PORT CLOSED_PORT
    udp_readiness.py echo BIND_IP PORT          (the echo server for the peer namespace)

The client runs a fixed script of steps and prints one line per step: the readiness sets or
event masks it got, with file descriptors replaced by names (udp, pipe_r, pipe_w, …). The
output depends only on the stack's semantics, so the same script over the kernel and over
ustack must print identical lines (t_udp_readiness.sh diffs them).

Every wait for something to arrive (an echoed datagram, an ICMP error) is a blocking call with
a generous timeout; every snapshot after it uses timeout 0, so the output does not depend on
timing. Edge-triggered registrations ask for EPOLLIN only: the kernel also wakes writers when a
sent datagram's buffer is freed, at a moment no program controls.

The echo server is a plain kernel socket (one datagram in, the same datagram back, in order),
used instead of socat because socat's fork-per-datagram mode may reorder replies.
"""
import errno
import os
import select
import socket
import sys

WAIT = 5.0          # seconds: upper bound for anything that must arrive
IDLE = 0.2          # seconds: a wait that must time out with nothing ready

POLL_BITS = [(select.POLLIN, "IN"), (select.POLLPRI, "PRI"), (select.POLLOUT, "OUT"),
             (select.POLLERR, "ERR"), (select.POLLHUP, "HUP"), (select.POLLNVAL, "NVAL"),
             (getattr(select, "POLLRDHUP", 0x2000), "RDHUP")]
EPOLL_BITS = [(select.EPOLLIN, "IN"), (select.EPOLLPRI, "PRI"), (select.EPOLLOUT, "OUT"),
              (select.EPOLLERR, "ERR"), (select.EPOLLHUP, "HUP"),
              (select.EPOLLRDHUP, "RDHUP")]


class Script:
    def __init__(self, peer_ip, echo_port, closed_port):
        self.echo = (peer_ip, echo_port)
        self.closed = (peer_ip, closed_port)
        self.names = {}
        self.step_no = 0
        self.failed = False

    # ---- naming and printing ----
    def name(self, fd, label):
        self.names[fd if isinstance(fd, int) else fd.fileno()] = label

    def fdname(self, fd):
        fd = fd if isinstance(fd, int) else fd.fileno()
        return self.names.get(fd, "fd?")

    def out(self, what, result):
        self.step_no += 1
        print("%02d %s: %s" % (self.step_no, what, result), flush=True)

    def fmt_list(self, fds):
        return "[" + " ".join(sorted(self.fdname(f) for f in fds)) + "]"

    @staticmethod
    def fmt_mask(mask, bits):
        names = [n for b, n in bits if mask & b]
        rest = mask & ~sum(b for b, _ in bits)
        # EPOLLRDNORM etc. never appear here: the scripts do not ask for them.
        if rest:
            names.append("0x%x" % rest)
        return "|".join(names) if names else "0"

    def fmt_events(self, events, bits):
        return "[" + " ".join(sorted("%s:%s" % (self.fdname(fd), self.fmt_mask(m, bits))
                                     for fd, m in events)) + "]"

    # ---- the three interfaces, each printed the same way ----
    def sel(self, what, r, w, x, timeout):
        rr, ww, xx = select.select(r, w, x, timeout)
        self.out("select " + what, "r=%s w=%s x=%s" % (self.fmt_list(rr), self.fmt_list(ww),
                                                        self.fmt_list(xx)))

    def pol(self, what, p, timeout):
        ev = p.poll(None if timeout is None else int(timeout * 1000))
        self.out("poll " + what, self.fmt_events(ev, POLL_BITS))

    def epo(self, what, ep, timeout):
        ev = ep.poll(timeout)
        self.out("epoll " + what, self.fmt_events(ev, EPOLL_BITS))

    # ---- actions ----
    def udp_connected(self, addr, label):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect(addr)
        self.name(s, label)
        return s

    def pipe(self, label):
        r, w = os.pipe()
        self.name(r, label + "_r")
        self.name(w, label + "_w")
        return r, w

    def send(self, s, data):
        n = s.send(data)
        if n != len(data):
            self.out("send", "short %d of %d" % (n, len(data)))

    def recv_expect(self, s, data):
        s.setblocking(False)
        try:
            got = s.recv(65536)
            result = "ok" if got == data else "wrong data (%d bytes)" % len(got)
        except OSError as e:
            result = "error " + errno.errorcode.get(e.errno, str(e.errno))
        s.setblocking(True)
        self.out("recv " + self.fdname(s), result)

    def recv_error(self, s):
        try:
            s.recv(100, socket.MSG_DONTWAIT)
            result = "data"
        except OSError as e:
            result = "error " + errno.errorcode.get(e.errno, str(e.errno))
        self.out("recv " + self.fdname(s), result)

    def wait_readable(self, s):
        """Block until s is readable (a datagram arrived); not part of the compared output
        unless it times out."""
        r, _, _ = select.select([s], [], [], WAIT)
        if not r:
            self.out("wait " + self.fdname(s), "TIMEOUT (nothing arrived in %gs)" % WAIT)

    # ---- the scripts ----
    def run_select(self):
        u = self.udp_connected(self.echo, "udp")
        pr, pw = self.pipe("pipe")
        both = [u, pr]
        self.sel("fresh socket", [u], [u], [u], 0)
        self.sel("idle, timeout", both, [], both, IDLE)
        os.write(pw, b"x")
        self.sel("pipe written", both, [], both, 0)
        self.send(u, b"select-1")
        self.sel("wait for datagram", [u], [], [], WAIT)
        self.sel("pipe and datagram", both, [u, pw], both, 0)
        os.read(pr, 1)
        self.sel("pipe drained", both, [], both, 0)
        self.recv_expect(u, b"select-1")
        self.sel("all drained, timeout", both, [], both, IDLE)
        self.sel("writable", [], [u, pw], [], 0)
        u.close()
        os.close(pr)
        os.close(pw)

    def run_poll(self):
        u = self.udp_connected(self.echo, "udp")
        pr, pw = self.pipe("pipe")
        p = select.poll()
        p.register(u, select.POLLIN | select.POLLOUT)
        p.register(pr, select.POLLIN)
        self.pol("fresh socket", p, 0)
        p.modify(u, select.POLLIN)
        self.pol("idle, timeout", p, IDLE)
        os.write(pw, b"x")
        self.pol("pipe written", p, 0)
        self.send(u, b"poll-1")
        self.send(u, b"poll-2")
        self.wait_readable(u)
        self.pol("pipe and datagram", p, 0)
        os.read(pr, 1)
        self.recv_expect(u, b"poll-1")
        self.wait_readable(u)
        self.pol("second datagram", p, 0)
        self.recv_expect(u, b"poll-2")
        self.pol("drained, timeout", p, IDLE)
        p.modify(u, select.POLLIN | select.POLLOUT | getattr(select, "POLLRDHUP", 0x2000))
        self.pol("in|out|rdhup", p, 0)
        u.close()
        os.close(pr)
        os.close(pw)

    def run_epoll_level(self):
        u = self.udp_connected(self.echo, "udp")
        pr, pw = self.pipe("pipe")
        ep = select.epoll()
        self.name(ep, "epoll")
        ep.register(u, select.EPOLLIN | select.EPOLLOUT)
        ep.register(pr, select.EPOLLIN)
        self.epo("LT fresh socket", ep, 0)
        ep.modify(u, select.EPOLLIN)
        self.epo("LT idle, timeout", ep, IDLE)
        os.write(pw, b"x")
        self.epo("LT pipe written", ep, 0)
        self.send(u, b"lt-1")
        self.wait_readable(u)
        self.epo("LT pipe and datagram", ep, 0)
        self.epo("LT still reported", ep, 0)
        os.read(pr, 1)
        self.recv_expect(u, b"lt-1")
        self.epo("LT drained, timeout", ep, IDLE)
        self.send(u, b"lt-2")
        self.epo("LT wait for datagram", ep, WAIT)
        self.recv_expect(u, b"lt-2")
        ep.close()
        u.close()
        os.close(pr)
        os.close(pw)

    def run_epoll_edge(self):
        u = self.udp_connected(self.echo, "udp")
        pr, pw = self.pipe("pipe")
        ep = select.epoll()
        ep.register(u, select.EPOLLIN | select.EPOLLET)
        ep.register(pr, select.EPOLLIN | select.EPOLLET)
        self.epo("ET idle, timeout", ep, IDLE)
        self.send(u, b"et-1")
        self.epo("ET wait for datagram", ep, WAIT)
        self.epo("ET no new edge", ep, 0)
        self.send(u, b"et-2")
        # A second datagram is a new edge although the socket was readable already.
        self.epo("ET second datagram", ep, WAIT)
        self.epo("ET no new edge", ep, 0)
        os.write(pw, b"x")
        self.epo("ET pipe written", ep, 0)
        self.recv_expect(u, b"et-1")
        self.epo("ET after one recv", ep, 0)
        self.recv_expect(u, b"et-2")
        self.epo("ET drained, timeout", ep, IDLE)
        ep.modify(u, select.EPOLLIN | select.EPOLLOUT | select.EPOLLET)
        self.epo("ET modify reports current state", ep, 0)
        self.epo("ET no new edge", ep, 0)
        ep.close()
        u.close()
        os.close(pr)
        os.close(pw)

    def run_epoll_oneshot(self):
        u = self.udp_connected(self.echo, "udp")
        ep = select.epoll()
        ep.register(u, select.EPOLLIN | select.EPOLLONESHOT)
        self.send(u, b"os-1")
        self.epo("ONESHOT wait for datagram", ep, WAIT)
        self.epo("ONESHOT disarmed", ep, 0)
        self.recv_expect(u, b"os-1")
        self.send(u, b"os-2")
        self.wait_readable(u)
        self.epo("ONESHOT disarmed, datagram queued", ep, 0)
        ep.modify(u, select.EPOLLIN | select.EPOLLONESHOT)
        self.epo("ONESHOT re-armed", ep, 0)
        self.epo("ONESHOT disarmed again", ep, 0)
        self.recv_expect(u, b"os-2")
        ep.close()
        u.close()

    def run_epoll_two_sets(self):
        u = self.udp_connected(self.echo, "udp")
        ep1, ep2 = select.epoll(), select.epoll()
        ep1.register(u, select.EPOLLIN)
        ep2.register(u, select.EPOLLIN | select.EPOLLET)
        self.send(u, b"two-1")
        self.epo("two sets: first (LT) waits", ep1, WAIT)
        self.epo("two sets: second (ET)", ep2, 0)
        self.epo("two sets: first again", ep1, 0)
        self.epo("two sets: second, no new edge", ep2, 0)
        self.recv_expect(u, b"two-1")
        self.epo("two sets: first drained", ep1, 0)
        self.epo("two sets: second drained", ep2, 0)
        ep1.unregister(u)
        self.send(u, b"two-2")
        self.epo("two sets: second after first unregistered", ep2, WAIT)
        self.epo("two sets: first unregistered", ep1, 0)
        self.recv_expect(u, b"two-2")
        ep1.close()
        ep2.close()
        u.close()

    def run_epoll_nested(self):
        u = self.udp_connected(self.echo, "udp")
        pr, pw = self.pipe("pipe")
        inner, outer = select.epoll(), select.epoll()
        self.name(inner, "inner")
        inner.register(u, select.EPOLLIN)
        outer.register(inner, select.EPOLLIN)
        outer.register(pr, select.EPOLLIN)
        self.epo("nested idle, timeout", outer, IDLE)
        self.send(u, b"nest-1")
        self.epo("nested outer wait", outer, WAIT)
        self.epo("nested inner", inner, 0)
        os.write(pw, b"x")
        self.epo("nested outer with pipe", outer, 0)
        self.recv_expect(u, b"nest-1")
        os.read(pr, 1)
        self.epo("nested outer drained", outer, 0)
        self.epo("nested inner drained", inner, 0)
        outer.close()
        inner.close()
        u.close()
        os.close(pr)
        os.close(pw)

    def run_refused(self):
        """ICMP port unreachable on a connected socket: how each interface shows the error."""
        c = self.udp_connected(self.closed, "closed")
        pr, pw = self.pipe("pipe")
        os.write(pw, b"x")
        p = select.poll()
        p.register(c, select.POLLIN)
        self.send(c, b"refused-1")
        self.pol("refused wait (POLLIN asked)", p, WAIT)
        p.register(pr, select.POLLIN)
        p.modify(c, select.POLLIN | select.POLLOUT)
        self.pol("refused in|out with pipe", p, 0)
        self.sel("refused", [c, pr], [c], [c, pr], 0)
        ep = select.epoll()
        ep.register(c, select.EPOLLIN)
        self.epo("refused LT in", ep, 0)
        self.recv_error(c)
        self.pol("refused after recv", p, 0)
        self.sel("refused after recv", [c, pr], [c], [c, pr], 0)
        self.epo("refused after recv", ep, 0)
        # The error arriving while an edge-triggered epoll waits.
        ep.modify(c, select.EPOLLIN | select.EPOLLET)
        self.send(c, b"refused-2")
        self.epo("refused ET wait", ep, WAIT)
        self.epo("refused ET no new edge", ep, 0)
        self.recv_error(c)
        ep.close()
        c.close()
        os.close(pr)
        os.close(pw)

    def run_shutdown(self):
        u = self.udp_connected(self.echo, "udp")
        p = select.poll()
        rdhup = getattr(select, "POLLRDHUP", 0x2000)
        p.register(u, select.POLLIN | select.POLLOUT | rdhup)
        u.shutdown(socket.SHUT_RD)
        self.pol("shutdown rd", p, 0)
        u.shutdown(socket.SHUT_WR)
        self.pol("shutdown rdwr", p, 0)
        self.sel("shutdown rdwr", [u], [u], [u], 0)
        u.close()

    def run(self):
        for part in (self.run_select, self.run_poll, self.run_epoll_level, self.run_epoll_edge,
                     self.run_epoll_oneshot, self.run_epoll_two_sets, self.run_epoll_nested,
                     self.run_refused, self.run_shutdown):
            try:
                part()
            except OSError as e:
                self.out(part.__name__, "exception %s %s" % (
                    errno.errorcode.get(e.errno, str(e.errno)), e.strerror))


def echo_server(ip, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((ip, port))
    while True:
        data, addr = s.recvfrom(65536)
        s.sendto(data, addr)


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "client":
        Script(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])).run()
    elif len(sys.argv) == 4 and sys.argv[1] == "echo":
        echo_server(sys.argv[2], int(sys.argv[3]))
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
