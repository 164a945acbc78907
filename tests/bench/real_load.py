#!/usr/bin/python3
"""real_load.py ws|calls PORT N SECONDS: the loads of the real-program benchmarks
(scripts/bench, through the bench cases of tests/real/run). N threads, each doing one
thing after the other in lockstep for SECONDS once all are ready:

  ws     a WebSocket each (python3-websocket), sending 64-byte text messages to an echo
         server (tests/progs/ws_server) and reading each echo back
  calls  HTTP requests with urllib to /slow/50/1000 of tests/real/httpd.py (answered
         after 50 ms), a new connection each

and prints one line of figures:

  threads=N ops=K rate=R p50_ms=A p99_ms=B errors=E

rate: echoes or calls per second over all threads; p50_ms, p99_ms: the time of one.
"""
import sys
import threading
import time
import urllib.request

mode, port, n, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
ready, finished = threading.Barrier(n), threading.Barrier(n)
lock = threading.Lock()
times, errors = [], []


def ws_session(i, until):
    import websocket

    ws = websocket.create_connection("ws://127.0.0.1:%d/" % port, timeout=120)
    msg = ("%08d" % i) * 8
    ready.wait(120)
    end = until()
    while time.monotonic() < end:
        t0 = time.monotonic()
        ws.send(msg)
        if ws.recv() != msg:
            raise ValueError("echo differs")
        yield time.monotonic() - t0
    finished.wait(120)
    ws.close(status=1000, timeout=30)


def calls_session(i, until):
    url = "http://127.0.0.1:%d/slow/50/1000" % port
    ready.wait(120)
    end = until()
    while time.monotonic() < end:
        t0 = time.monotonic()
        with urllib.request.urlopen(url, timeout=120) as r:
            if len(r.read()) != 1000:
                raise ValueError("short body")
        yield time.monotonic() - t0


def run(i):
    mine = []
    session = {"ws": ws_session, "calls": calls_session}[mode]
    try:
        for t in session(i, lambda: time.monotonic() + seconds):
            mine.append(t)
    except Exception as e:  # noqa: BLE001 - counted and shown
        with lock:
            errors.append(repr(e))
        ready.abort()
        finished.abort()
    with lock:
        times.extend(mine)


threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
times.sort()
k = len(times)
print("threads=%d ops=%d rate=%.0f p50_ms=%.2f p99_ms=%.2f errors=%d" % (
    n, k, k / seconds, times[k // 2] * 1e3 if k else 0, times[k * 99 // 100] * 1e3 if k else 0,
    len(errors)))
if errors:
    sys.stderr.write("real_load: %s\n" % errors[0])
