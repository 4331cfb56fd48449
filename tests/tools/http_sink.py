#!/usr/bin/python3
"""http_sink — an HTTP/1.1 upload sink that answers with the digest of what it received.

    http_sink.py BIND_IP PORT [LOG]

POST (or PUT) any path: the server reads exactly Content-Length bytes of body (answering
"Expect: 100-continue" as curl asks for large bodies), hashes them and replies 200 with one
line "<sha256 hex> <byte count>\n". A body that ends early (the client closed or reset) is
logged and answered with nothing: the connection is closed. One thread per connection, so
several uploads can run at once. LOG (optional) gets one line per request:
"<client ip>:<port> <method> <path> <bytes> <sha256 | short>".
"""
import hashlib
import http.server
import sys

CHUNK = 256 * 1024


class SinkHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"   # keep-alive, and 100-continue handling by the base class
    log_file = None

    def log_message(self, fmt, *args):  # quiet: the request log below is what tests read
        pass

    def note(self, text):
        if self.log_file:
            with open(self.log_file, "a", encoding="ascii") as f:
                f.write("%s:%d %s %s %s\n" % (self.client_address[0], self.client_address[1],
                                            self.command, self.path, text))

    def do_POST(self):
        try:
            left = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self.send_error(411, "Content-Length required")
            return
        digest = hashlib.sha256()
        total = 0
        while left > 0:
            data = self.rfile.read(min(CHUNK, left))
            if not data:
                self.note("%d short" % total)
                self.close_connection = True
                return
            digest.update(data)
            total += len(data)
            left -= len(data)
        body = ("%s %d\n" % (digest.hexdigest(), total)).encode("ascii")
        self.note("%d %s" % (total, digest.hexdigest()))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_PUT = do_POST


def main():
    if len(sys.argv) not in (3, 4):
        sys.stderr.write("usage: http_sink.py BIND_IP PORT [LOG]\n")
        return 2
    SinkHandler.log_file = sys.argv[3] if len(sys.argv) == 4 else None
    http.server.ThreadingHTTPServer.allow_reuse_address = True
    server = http.server.ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), SinkHandler)
    server.daemon_threads = True
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
