#!/usr/bin/env python3
"""httpd.py [--gate N]: the HTTP server of the real-program tests (tests/real/run).

A ThreadingHTTPServer (one thread per connection) on 127.0.0.1 at a port the kernel picks;
it prints "port P", then serves until GET /quit, and then prints "served R requests" and
exits 0. Everything it sends is a function of the path alone, so that runs compare:

  /hello            a short page
  /redirect/K       K redirects, each to /redirect/K-1, the last to /hello
  /bytes/N          N bytes from random.Random(N), the same bytes every time
  /slow/MS/N        waits MS milliseconds, then answers as /bytes/N: a slow server, which
                    many clients wait on at once
  /gate             waits until N requests are inside /gate at once (a barrier of N
                    threads, --gate N), then answers "gate passed"
  /quit             answers, then stops the server

Bounded: the gate gives up after 60 s, and the whole server stops after 120 s.
"""
import http.server
import random
import sys
import threading
import time

CHUNK = 1 << 20


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, code, body, headers=()):
        self.send_response(code)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with self.server.lock:
            self.server.requests += 1
        path = self.path
        if path == "/hello":
            self.reply(200, b"hello from a thread-per-connection python server\n")
        elif path.startswith("/redirect/"):
            k = int(path.rsplit("/", 1)[1])
            where = "/hello" if k <= 0 else "/redirect/%d" % (k - 1)
            self.reply(302, b"", [("Location", where)])
        elif path.startswith("/bytes/") or path.startswith("/slow/"):
            if path.startswith("/slow/"):
                time.sleep(int(path.split("/")[2]) / 1000)
            n = int(path.rsplit("/", 1)[1])
            data = random.Random(n).randbytes(n)
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            for i in range(0, n, CHUNK):
                self.wfile.write(data[i:i + CHUNK])
        elif path == "/gate":
            try:
                self.server.gate.wait(60)
                self.reply(200, b"gate passed\n")
            except threading.BrokenBarrierError:
                self.reply(503, b"gate broken\n")
        elif path == "/quit":
            self.reply(200, b"bye\n")
            threading.Thread(target=self.server.shutdown).start()
        else:
            self.reply(404, b"not found\n")


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # clients connect all at once: a backlog of 5 drops them


def main():
    gate = 1
    if len(sys.argv) == 3 and sys.argv[1] == "--gate":
        gate = int(sys.argv[2])
    elif len(sys.argv) != 1:
        sys.exit("usage: httpd.py [--gate N]")
    server = Server(("127.0.0.1", 0), Handler)
    server.lock = threading.Lock()
    server.requests = 0
    server.gate = threading.Barrier(gate)
    watchdog = threading.Timer(120, server.shutdown)
    watchdog.daemon = True
    watchdog.start()
    print("port %d" % server.server_address[1], flush=True)
    server.serve_forever()
    server.server_close()
    print("served %d requests" % server.requests, flush=True)


if __name__ == "__main__":
    main()
