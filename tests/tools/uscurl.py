#!/usr/bin/python3
"""uscurl — the subset of curl the integration tests use, in standard-library Python.

    uscurl.py [OPTIONS] URL... [--next OPTIONS URL...]...

Why: with a sanitizer build, `ustack run` preloads libasan before libustack.so, and on Debian 12
curl (and wget) deadlock at start-up under a preloaded ASan runtime (libp11-kit's constructor runs
before ASan is initialised; google/sanitizers#1270). The tests then run this client instead, so
the ASan pass still drives the same TCP paths through ustack: blocking-with-timeout connect
(non-blocking connect + poll, as curl does), HTTP/1.1 keep-alive reuse across URLs, large
downloads read in 16 KiB pieces, large uploads with "Expect: 100-continue", and curl's exit
codes and error lines for the failures the tests provoke.

Options (as curl; anything else is refused with exit 2):
    -s/--silent  -S/--show-error  -o/--output FILE  -w/--write-out FORMAT
    --data-binary DATA|@FILE (POST)  -H/--header "Name: value"
    --connect-timeout SECS  -m/--max-time SECS  -Z/--parallel  -:/--next
-w variables: http_code response_code size_download size_upload size_request num_connects
time_total time_connect exitcode errormsg url_effective remote_ip remote_port local_port.
Several URLs in one group share one keep-alive connection (HTTP/1.1), as with curl. With -Z the
transfers run at once, one thread and one connection each.
Exit codes (curl's): 0 ok, 2 bad usage, 3 bad URL, 6 could not resolve, 7 could not connect,
8 weird server reply, 18 partial body, 23 write error, 28 timeout, 52 empty reply,
55 send failure, 56 receive failure; with several transfers, the last failure's code.
"""
import errno
import os
import select
import socket
import sys
import threading
import time
import urllib.parse

RECV_SIZE = 16 * 1024           # curl's default receive buffer
UPLOAD_SIZE = 64 * 1024         # curl's default upload buffer
EXPECT_THRESHOLD = 1024 * 1024  # curl asks "Expect: 100-continue" for bodies above 1 MiB
EXPECT_WAIT = 1.0               # and sends the body anyway after 1 s without an answer
HEAD_LIMIT = 100 * 1024
USER_AGENT = "uscurl/1.0 (curl-compatible test client)"

E_OK, E_UNSUPPORTED, E_USAGE, E_URL = 0, 1, 2, 3
E_RESOLVE, E_CONNECT, E_WEIRD, E_PARTIAL = 6, 7, 8, 18
E_WRITE, E_TIMEOUT, E_EMPTY, E_SEND, E_RECV = 23, 28, 52, 55, 56


class CurlError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class StaleConnection(Exception):
    """A reused keep-alive connection the server had closed: curl retries on a new one."""


class Group:
    """One --next group: its options and URLs."""

    def __init__(self):
        self.silent = False
        self.show_error = False
        self.outputs = []
        self.write_out = None
        self.data = None          # bytes, or ("file", path)
        self.headers = []
        self.connect_timeout = None
        self.max_time = None
        self.urls = []


class Transfer:
    """One URL fetched with its group's options; the -w variables are read from here."""

    def __init__(self, group, url, output):
        self.group = group
        self.url = url
        self.output = output
        self.http_code = 0
        self.size_download = 0
        self.size_upload = 0
        self.size_request = 0
        self.num_connects = 0
        self.time_connect = 0.0
        self.time_total = 0.0
        self.exitcode = 0
        self.errormsg = ""
        self.remote_ip = ""
        self.remote_port = 0
        self.local_port = 0
        self.start = 0.0
        self.deadline = None
        self.expected = None      # Content-Length of the body being read, if known


# ---- command line ---------------------------------------------------------------------------

LONG_WITH_ARG = {"--output": "o", "--write-out": "w", "--header": "H", "--max-time": "m",
                 "--data-binary": "data-binary", "--connect-timeout": "connect-timeout"}
LONG_FLAGS = {"--silent": "s", "--show-error": "S", "--parallel": "Z", "--next": ":"}
SHORT_WITH_ARG = set("owHm")
SHORT_FLAGS = set("sSZ:")


def usage_error(text):
    sys.stderr.write("curl: %s\ncurl: try 'curl --help' or 'curl --manual' for more "
                     "information\n" % text)
    sys.exit(E_USAGE)


def parse_seconds(opt, value):
    try:
        secs = float(value)
    except ValueError:
        secs = -1.0
    if secs < 0:
        usage_error("option %s: expected a proper numerical parameter" % opt)
    return secs


def apply_option(group, key, value):
    if key == "o":
        group.outputs.append(value)
    elif key == "w":
        group.write_out = value
    elif key == "H":
        group.headers.append(value)
    elif key == "m":
        group.max_time = parse_seconds("--max-time", value)
    elif key == "connect-timeout":
        group.connect_timeout = parse_seconds("--connect-timeout", value)
    elif key == "data-binary":
        group.data = ("file", value[1:]) if value.startswith("@") else value.encode()


def parse_args(argv):
    """Returns (groups, parallel)."""
    groups, parallel, group, i = [], False, Group(), 0
    while i < len(argv):
        arg = argv[i]
        i += 1
        if arg.startswith("--"):
            name, eq, inline = arg.partition("=")
            if name in LONG_WITH_ARG:
                if eq:
                    value = inline
                elif i < len(argv):
                    value, i = argv[i], i + 1
                else:
                    usage_error("option %s: requires parameter" % name)
                apply_option(group, LONG_WITH_ARG[name], value)
                continue
            if name in LONG_FLAGS and not eq:
                arg = "-" + LONG_FLAGS[name]
            else:
                usage_error("option %s: is unknown" % arg)
        if arg.startswith("-") and len(arg) > 1:
            for pos, letter in enumerate(arg[1:], start=1):
                if letter in SHORT_WITH_ARG:
                    value = arg[pos + 1:]
                    if not value:
                        if i >= len(argv):
                            usage_error("option -%s: requires parameter" % letter)
                        value, i = argv[i], i + 1
                    apply_option(group, letter, value)
                    break
                if letter not in SHORT_FLAGS:
                    usage_error("option %s: is unknown" % arg)
                if letter == "s":
                    group.silent = True
                elif letter == "S":
                    group.show_error = True
                elif letter == "Z":
                    parallel = True
                else:  # ":" = --next
                    groups.append(group)
                    group = Group()
            continue
        group.urls.append(arg)
    groups.append(group)
    if not any(g.urls for g in groups):
        usage_error("no URL specified!")
    return groups, parallel


# ---- connection -----------------------------------------------------------------------------

def remaining(tr):
    if tr.deadline is None:
        return None
    left = tr.deadline - time.monotonic()
    if left <= 0:
        raise_timeout(tr)
    return left


def elapsed_ms(tr):
    return int((time.monotonic() - tr.start) * 1000)


def raise_timeout(tr):
    if tr.expected is not None:
        got = "%d out of %d" % (tr.size_download, tr.expected)
    else:
        got = "%d" % tr.size_download
    raise CurlError(E_TIMEOUT, "Operation timed out after %d milliseconds with %s bytes "
                    "received" % (elapsed_ms(tr), got))


def resolve(host, port, timeout):
    """getaddrinfo on a helper thread, as curl's threaded resolver does."""
    result = {}

    def work():
        try:
            result["ai"] = socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
        except OSError as exc:
            result["err"] = exc

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout)
    return result.get("ai")


def tune_socket(sock):
    """curl's defaults: TCP_NODELAY and TCP keepalive after 60 s; failures are not fatal."""
    for level, name, value in ((socket.IPPROTO_TCP, socket.TCP_NODELAY, 1),
                               (socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1),
                               (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPIDLE", 0), 60),
                               (socket.IPPROTO_TCP, getattr(socket, "TCP_KEEPINTVL", 0), 60)):
        if name:
            try:
                sock.setsockopt(level, name, value)
            except OSError:
                pass


def connect(tr, host, port):
    g = tr.group
    limit = g.connect_timeout if g.connect_timeout else 300.0
    left = remaining(tr)
    if left is not None:
        limit = min(limit, left)
    connect_deadline = time.monotonic() + limit
    addrs = resolve(host, port, limit)
    if not addrs:
        if time.monotonic() >= connect_deadline:
            raise CurlError(E_TIMEOUT, "Resolving timed out after %d milliseconds"
                            % elapsed_ms(tr))
        raise CurlError(E_RESOLVE, "Could not resolve host: %s" % host)
    why = "Couldn't connect to server"
    for family, kind, proto, _, addr in addrs:
        left = connect_deadline - time.monotonic()
        if left <= 0:
            why = None
            break
        sock = socket.socket(family, kind, proto)
        try:
            tune_socket(sock)
            sock.settimeout(left)
            sock.connect(addr)
        except socket.timeout:
            sock.close()
            why = None
            break
        except OSError:
            sock.close()
            continue
        tr.num_connects += 1
        tr.time_connect = time.monotonic() - tr.start
        return sock
    code = E_CONNECT if why else E_TIMEOUT
    raise CurlError(code, "Failed to connect to %s port %d after %d ms: %s"
                    % (host, port, elapsed_ms(tr), why or "Timeout was reached"))


class Conn:
    """A connected socket with a read buffer; reusable while the server keeps it alive."""

    def __init__(self, sock, key):
        self.sock = sock
        self.key = key
        self.buf = bytearray()
        self.reusable = True

    def close(self):
        self.reusable = False
        try:
            self.sock.close()
        except OSError:
            pass

    def wait(self, tr):
        self.sock.settimeout(remaining(tr))

    def recv_more(self, tr, want=RECV_SIZE):
        """Appends up to `want` bytes to buf; returns how many (0: the peer closed)."""
        self.wait(tr)
        try:
            data = self.sock.recv(want)
        except socket.timeout:
            raise_timeout(tr)
        except OSError as exc:
            raise CurlError(E_RECV, "Recv failure: %s" % os.strerror(exc.errno or errno.EIO))
        self.buf += data
        return len(data)

    def send_all(self, tr, data):
        view = memoryview(data)
        while view:
            self.wait(tr)
            try:
                sent = self.sock.send(view)
            except socket.timeout:
                raise_timeout(tr)
            except OSError as exc:
                raise CurlError(E_SEND, "Send failure: %s"
                                % os.strerror(exc.errno or errno.EIO))
            view = view[sent:]

    def readable_within(self, secs):
        if self.buf:
            return True
        ready, _, _ = select.select([self.sock], [], [], secs)
        return bool(ready)


# ---- HTTP/1.1 -------------------------------------------------------------------------------

def request_head(tr, method, path, host_header, body_len, expect):
    headers = [("Host", host_header), ("User-Agent", USER_AGENT), ("Accept", "*/*")]
    if body_len is not None:
        headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        headers.append(("Content-Length", str(body_len)))
        if expect:
            headers.append(("Expect", "100-continue"))
    for line in tr.group.headers:
        # curl: "Name: value" replaces, "Name:" removes, "Name;" sends it empty.
        if ":" in line:
            name, _, value = line.partition(":")
            value = value.strip()
        elif line.endswith(";"):
            name, value = line[:-1], ""
        else:
            continue
        headers = [(n, v) for n, v in headers if n.lower() != name.strip().lower()]
        if value or line.endswith(";"):
            headers.append((name.strip(), value))
    lines = ["%s %s HTTP/1.1" % (method, path)] + ["%s: %s" % h for h in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_head(conn, tr, fresh):
    """Reads one response head; returns (code, version, headers dict of lists)."""
    while True:
        end = conn.buf.find(b"\r\n\r\n")
        if end >= 0:
            break
        if len(conn.buf) > HEAD_LIMIT:
            raise CurlError(E_WEIRD, "Weird server reply")
        if conn.recv_more(tr) == 0:
            if conn.buf:
                raise CurlError(E_WEIRD, "Weird server reply")
            if not fresh:
                raise StaleConnection()
            raise CurlError(E_EMPTY, "Empty reply from server")
    head = bytes(conn.buf[:end]).decode("latin-1")
    del conn.buf[:end + 4]
    status, *lines = head.split("\r\n")
    parts = status.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        raise CurlError(E_WEIRD, "Weird server reply")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return int(parts[1]), parts[0], headers


class Sink:
    """Where a body goes: the -o file (opened at the first byte, as curl does) or stdout."""

    def __init__(self, path):
        self.path = path
        self.file = None

    def write(self, data):
        try:
            if self.path is None:
                sys.stdout.buffer.write(data)
                return
            if self.file is None:
                self.file = open(self.path, "wb")
            self.file.write(data)
        except OSError:
            raise CurlError(E_WRITE, "Failure writing output to destination")

    def finish(self, ok):
        try:
            if self.path is None:
                sys.stdout.buffer.flush()
            elif self.file is not None:
                self.file.close()
            elif ok:
                open(self.path, "wb").close()
        except OSError:
            if ok:
                raise CurlError(E_WRITE, "Failure writing output to destination")


def take_body(conn, tr, sink, count):
    """Moves `count` bytes (None: until the peer closes) from the connection to sink."""
    while count is None or count > 0:
        if not conn.buf:
            want = RECV_SIZE if count is None else min(RECV_SIZE, count)
            if conn.recv_more(tr, want) == 0:
                if count is None:
                    return
                raise CurlError(E_PARTIAL, "transfer closed with %d bytes remaining to read"
                                % count)
        n = len(conn.buf) if count is None else min(len(conn.buf), count)
        sink.write(bytes(conn.buf[:n]))
        del conn.buf[:n]
        tr.size_download += n
        if count is not None:
            count -= n


def read_line(conn, tr):
    while b"\r\n" not in conn.buf:
        if len(conn.buf) > HEAD_LIMIT or conn.recv_more(tr) == 0:
            raise CurlError(E_RECV, "Recv failure: chunked encoding ended early")
    line, _, rest = bytes(conn.buf).partition(b"\r\n")
    conn.buf[:] = rest
    return line


def take_chunked(conn, tr, sink):
    """RFC 9112 §7.1: chunk-size CRLF data CRLF ... 0 CRLF trailers CRLF."""
    while True:
        size_text = read_line(conn, tr).split(b";")[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise CurlError(E_RECV, "Recv failure: bad chunk size")
        if size == 0:
            while read_line(conn, tr):
                pass
            return
        take_body(conn, tr, sink, size)
        if read_line(conn, tr):
            raise CurlError(E_RECV, "Recv failure: bad chunk end")


def read_response(conn, tr, method, sink, fresh, head=None):
    """Reads the final response (its head already read if `head` is given) and its body."""
    while head is None or (head[0] < 200 and head[0] != 101):
        head = read_head(conn, tr, fresh)
    code, version, headers = head
    tr.http_code = code
    conn_tokens = ",".join(headers.get("connection", [])).lower()
    if version == "HTTP/1.0":
        conn.reusable = "keep-alive" in conn_tokens
    elif "close" in conn_tokens:
        conn.reusable = False
    if method == "HEAD" or code in (204, 304) or 100 <= code < 200:
        return
    if "chunked" in ",".join(headers.get("transfer-encoding", [])).lower():
        take_chunked(conn, tr, sink)
    elif "content-length" in headers:
        try:
            tr.expected = int(headers["content-length"][-1])
        except ValueError:
            raise CurlError(E_WEIRD, "Weird server reply")
        take_body(conn, tr, sink, tr.expected)
    else:
        conn.reusable = False
        take_body(conn, tr, sink, None)


def send_body(conn, tr, body):
    if isinstance(body, bytes):
        conn.send_all(tr, body)
        tr.size_upload += len(body)
        return
    while True:
        piece = body.read(UPLOAD_SIZE)
        if not piece:
            return
        conn.send_all(tr, piece)
        tr.size_upload += len(piece)


def open_body(group):
    """(body, length) for --data-binary: bytes, or an open file; None for a GET."""
    if group.data is None:
        return None, None
    if isinstance(group.data, bytes):
        return group.data, len(group.data)
    path = group.data[1]
    try:
        if path == "-":
            data = sys.stdin.buffer.read()
            return data, len(data)
        f = open(path, "rb")
        return f, os.fstat(f.fileno()).st_size
    except OSError:
        sys.stderr.write('Warning: Couldn\'t read data from file "%s", this makes an empty '
                         'POST.\n' % path)
        return b"", 0


def exchange(conn, tr, fresh, parts):
    """Sends one request on conn and reads the response."""
    host_header, path = parts
    body, length = open_body(tr.group)
    method = "POST" if body is not None else "GET"
    expect = length is not None and length > EXPECT_THRESHOLD
    head = request_head(tr, method, path, host_header, length, expect)
    sink = Sink(tr.output)
    answer = None
    ok = False
    try:
        conn.send_all(tr, head)
        tr.size_request += len(head)
        if expect:
            # RFC 9110 §10.1.1: wait a while for "100 Continue", then send the body anyway;
            # a final answer instead means the body is not wanted (and the connection,
            # its body unsent, cannot carry another request).
            wait = EXPECT_WAIT
            left = remaining(tr)
            if left is not None:
                wait = min(wait, left)
            if conn.readable_within(wait):
                answer = read_head(conn, tr, fresh)
                if answer[0] < 200:
                    answer = None
                else:
                    conn.reusable = False
        if body is not None and answer is None:
            send_body(conn, tr, body)
        read_response(conn, tr, method, sink, fresh, answer)
        ok = True
    finally:
        if body is not None and not isinstance(body, bytes):
            body.close()
        sink.finish(ok)


def split_url(url):
    if "://" not in url:
        url = "http://" + url
    try:
        parsed = urllib.parse.urlsplit(url)
        port = parsed.port or 80
    except ValueError:
        raise CurlError(E_URL, "URL using bad/illegal format or missing URL")
    if parsed.scheme.lower() != "http":
        raise CurlError(E_UNSUPPORTED, 'Protocol "%s" not supported or disabled in libcurl'
                        % parsed.scheme)
    if not parsed.hostname:
        raise CurlError(E_URL, "URL using bad/illegal format or missing URL")
    host = parsed.hostname
    host_header = parsed.netloc.rpartition("@")[2]
    path = parsed.path or "/"
    if parsed.query:
        path += "?" + parsed.query
    return host, port, host_header, path


def use_connection(tr, conn, parts):
    """Sends the request on conn (a new connection if None); returns the connection, still
    open if it may serve another request. Closes it on failure."""
    host, port, host_header, path = parts
    fresh = conn is None
    if fresh:
        conn = Conn(connect(tr, host, port), (host, port))
    try:
        peer = conn.sock.getpeername()
        tr.remote_ip, tr.remote_port = peer[0], peer[1]
        tr.local_port = conn.sock.getsockname()[1]
        exchange(conn, tr, fresh, (host_header, path))
    except CurlError as exc:
        conn.close()
        # a send on a reused connection the server has closed: curl retries it once
        if not fresh and exc.code == E_SEND and tr.size_upload == 0:
            raise StaleConnection() from exc
        raise
    except BaseException:
        conn.close()
        raise
    return conn


def run_transfer(tr, pool):
    """Performs one transfer; pool maps (host, port) to an idle keep-alive Conn."""
    g = tr.group
    tr.start = time.monotonic()
    tr.deadline = tr.start + g.max_time if g.max_time else None
    try:
        host, port, host_header, path = split_url(tr.url)
        parts = (host, port, host_header, path)
        try:
            conn = use_connection(tr, pool.pop((host, port), None), parts)
        except StaleConnection:
            tr.size_upload = tr.size_request = 0
            conn = use_connection(tr, None, parts)
        if conn.reusable and not conn.buf:
            pool[(host, port)] = conn
        else:
            conn.close()
    except CurlError as exc:
        tr.exitcode, tr.errormsg = exc.code, exc.message
    tr.time_total = time.monotonic() - tr.start


# ---- output ---------------------------------------------------------------------------------

WRITE_VARS = {
    "http_code": lambda t: "%03d" % t.http_code,
    "response_code": lambda t: "%03d" % t.http_code,
    "size_download": lambda t: str(t.size_download),
    "size_upload": lambda t: str(t.size_upload),
    "size_request": lambda t: str(t.size_request),
    "num_connects": lambda t: str(t.num_connects),
    "time_total": lambda t: "%.6f" % t.time_total,
    "time_connect": lambda t: "%.6f" % t.time_connect,
    "exitcode": lambda t: str(t.exitcode),
    "errormsg": lambda t: t.errormsg,
    "url_effective": lambda t: t.url,
    "remote_ip": lambda t: t.remote_ip,
    "remote_port": lambda t: str(t.remote_port or ""),
    "local_port": lambda t: str(t.local_port or ""),
}
ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "\\": "\\"}


def format_write_out(fmt, tr):
    out, i = [], 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and fmt.startswith("%{", i) and "}" in fmt[i:]:
            end = fmt.index("}", i)
            name = fmt[i + 2:end]
            if name in WRITE_VARS:
                out.append(WRITE_VARS[name](tr))
            else:
                sys.stderr.write("curl: unknown --write-out variable: '%s'\n" % name)
            i = end + 1
        elif ch == "%" and fmt.startswith("%%", i):
            out.append("%")
            i += 2
        elif ch == "\\" and i + 1 < len(fmt) and fmt[i + 1] in ESCAPES:
            out.append(ESCAPES[fmt[i + 1]])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


REPORT_LOCK = threading.Lock()


def report(tr):
    g = tr.group
    with REPORT_LOCK:
        if g.write_out is not None:
            sys.stdout.write(format_write_out(g.write_out, tr))
            sys.stdout.flush()
        if tr.exitcode and (not g.silent or g.show_error):
            sys.stderr.write("curl: (%d) %s\n" % (tr.exitcode, tr.errormsg))
            sys.stderr.flush()


def transfers_of(groups):
    out = []
    for g in groups:
        for n, url in enumerate(g.urls):
            out.append(Transfer(g, url, g.outputs[n] if n < len(g.outputs) else None))
    return out


def main(argv):
    groups, parallel = parse_args(argv)
    transfers = transfers_of(groups)
    if parallel and len(transfers) > 1:
        def one(tr):
            run_transfer(tr, {})
            report(tr)
        threads = [threading.Thread(target=one, args=(tr,)) for tr in transfers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        pool = {}
        for tr in transfers:
            run_transfer(tr, pool)
            report(tr)
        for conn in pool.values():
            conn.close()
    status = 0
    for tr in transfers:
        if tr.exitcode:
            status = tr.exitcode
    return status


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
