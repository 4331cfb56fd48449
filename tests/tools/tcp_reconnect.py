"""connect() again on a socket whose connection failed, blocking and non-blocking.

Usage: tcp_reconnect.py PEER_IP OPEN_PORT CLOSED_PORT
Prints one line per step; the same program over the kernel and over ustack must print the same.
Linux lets a TCP socket connect again once a failed attempt has been reported: a blocking
connect reports it itself; after a non-blocking one the next connect() reports it (or
ECONNABORTED when SO_ERROR already consumed it) and the one after starts a new attempt.
"""
import errno
import select
import socket
import sys

peer, open_port, closed_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


s = socket.socket()
print("blocking refused:", attempt(lambda: s.connect((peer, closed_port))))
print("blocking retry:", attempt(lambda: s.connect((peer, open_port))))
s.sendall(b"ping\n")
print("echo:", s.recv(16).decode().strip())
s.close()

s = socket.socket()
s.setblocking(False)
print("nonblocking refused:", attempt(lambda: s.connect((peer, closed_port))))
select.select([], [s], [], 3)
print("so_error:", errno.errorcode.get(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR), "0"))
print("next connect:", attempt(lambda: s.connect((peer, open_port))))
print("new attempt:", attempt(lambda: s.connect((peer, open_port))))
select.select([], [s], [], 3)
print("completed:", attempt(lambda: s.connect((peer, open_port))))
s.close()
