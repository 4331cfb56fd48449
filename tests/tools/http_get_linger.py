#!/usr/bin/python3
"""http_get_linger — one HTTP/1.1 keep-alive GET, close first, then stay alive.

    http_get_linger.py HOST PORT PATH LINGER_SECONDS

Connects, sends "GET PATH" with "Connection: keep-alive" (so the server keeps its side open
and this client is the one that closes first), reads the headers and exactly Content-Length
bytes of body, prints one line

    pid=<pid> local=<ip>:<port> status=<code> bytes=<n> sha256=<hex>

closes the socket and sleeps LINGER_SECONDS before exiting — over ustack the stack lives in
this process, so its TIME_WAIT timer can fire only while the process is alive. Exit 1 on a
short or malformed response.
"""
import hashlib
import os
import socket
import sys
import time


def read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed inside the headers")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        raise RuntimeError("no Content-Length")
    digest = hashlib.sha256(body)
    got = len(body)
    while got < length:
        chunk = sock.recv(min(65536, length - got))
        if not chunk:
            raise RuntimeError("body ended after %d of %d bytes" % (got, length))
        digest.update(chunk)
        got += len(chunk)
    return status, got, digest.hexdigest()


def main():
    if len(sys.argv) != 5:
        sys.stderr.write("usage: http_get_linger.py HOST PORT PATH LINGER_SECONDS\n")
        return 2
    host, port, path, linger = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
    sock = socket.create_connection((host, port), timeout=20)
    local = sock.getsockname()
    request = "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: keep-alive\r\n\r\n" % (path, host)
    sock.sendall(request.encode("ascii"))
    try:
        status, got, hexdigest = read_response(sock)
    except (RuntimeError, ValueError, IndexError, OSError) as e:
        print("error: %s" % e, flush=True)
        return 1
    print("pid=%d local=%s:%d status=%d bytes=%d sha256=%s"
          % (os.getpid(), local[0], local[1], status, got, hexdigest), flush=True)
    sock.close()
    time.sleep(linger)
    return 0


if __name__ == "__main__":
    sys.exit(main())
