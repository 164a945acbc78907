#!/usr/bin/env python3
"""threads.py [--list | CASE...]

A plain Python program on the standard threading modules: threading.Thread, Lock,
RLock, Condition, Event, Semaphore, Barrier, queue.Queue,
concurrent.futures.ThreadPoolExecutor and threading.local. Each case prints one line
of totals that do not depend on how the threads interleave; a case that finds something
wrong says so on stderr and exits 1.

The threads and pool cases copy the "Threads:" line of /proc/self/status to stderr
while all their threads exist ("Threads:" and "pool_Threads:"), and how long the
sleeps took ("sleep_elapsed:" and "pool_elapsed:").

With no argument every case runs in order; with CASEs those, in the order of the table
below; --list names them all (the command line of the C programs' progs.h).
"""

import concurrent.futures
import queue
import signal
import sys
import threading
import time

WAIT = 30  # seconds any single wait may take before the case gives up
current = ""


def check(ok, what):
    if not ok:
        print(f"threads.py: {current}: {what}", file=sys.stderr)
        sys.exit(1)


def yes(b):
    return "yes" if b else "no"


def kernel_threads():
    """The value of the "Threads:" line of /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return -1


# ---- threading.Thread -------------------------------------------------------------------

N_THREADS = 200
SLEEP = 0.2


def case_threads():
    """200 threads meet at a barrier with main, so that all of them exist when main counts
    the kernel threads, then each sleeps 0.2 s: in turn that would take 40 s."""
    barrier = threading.Barrier(N_THREADS + 1)
    results = [None] * N_THREADS
    idents = [None] * N_THREADS

    def work(i):
        idents[i] = threading.get_ident()
        barrier.wait(WAIT)
        t0 = time.monotonic()
        time.sleep(SLEEP)
        results[i] = (i * i, time.monotonic() - t0 >= SLEEP)

    threads = [threading.Thread(target=work, args=(i,), name=f"w{i}") for i in range(N_THREADS)]
    for t in threads:
        t.start()
    print(f"Threads: {kernel_threads()}", file=sys.stderr)
    t0 = time.monotonic()
    barrier.wait(WAIT)
    for t in threads:
        t.join(WAIT)
        check(not t.is_alive(), f"{t.name} did not end")
    elapsed = time.monotonic() - t0
    print(f"sleep_elapsed: {elapsed:.3f}", file=sys.stderr)
    total = sum(r[0] for r in results)
    full = sum(r[1] for r in results)
    distinct = len(set(idents) | {threading.get_ident()})
    print(f"threads: started={N_THREADS} sum_of_squares={total} slept_full={full} "
          f"distinct_idents={distinct} overlapped={yes(elapsed < N_THREADS * SLEEP / 4)}")


# ---- Lock and RLock ---------------------------------------------------------------------


def case_lock():
    lock = threading.Lock()
    counter = [0]

    def add():
        for k in range(5000):
            with lock:
                v = counter[0]
                if k % 500 == 0:
                    time.sleep(0)  # let the others find the lock taken
                counter[0] = v + 1

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)

    # Held by another thread: a non-blocking acquire fails, a timed one times out.
    held, release = threading.Event(), threading.Event()
    probe = {}

    def holder():
        with lock:
            held.set()
            release.wait(WAIT)

    h = threading.Thread(target=holder)
    h.start()
    held.wait(WAIT)
    probe["nonblocking"] = lock.acquire(blocking=False)
    t0 = time.monotonic()
    probe["timed"] = lock.acquire(timeout=0.05)
    probe["waited"] = time.monotonic() - t0 >= 0.05
    release.set()
    h.join(WAIT)
    probe["after"] = lock.acquire(timeout=WAIT)
    lock.release()
    print(f"lock: counter={counter[0]} acquire_nonblocking_held={yes(probe['nonblocking'])} "
          f"acquire_timeout_held={yes(probe['timed'])} waited={yes(probe['waited'])} "
          f"acquire_after_release={yes(probe['after'])}")


def case_rlock():
    rlock = threading.RLock()
    outcome = {}

    def other():
        outcome["other_while_held"] = rlock.acquire(blocking=False)
        if outcome["other_while_held"]:
            rlock.release()

    nested = 0
    for _ in range(3):
        nested += rlock.acquire(timeout=WAIT)
    t = threading.Thread(target=other)
    t.start()
    t.join(WAIT)
    for _ in range(3):
        rlock.release()
    t = threading.Thread(target=lambda: outcome.update(after=rlock.acquire(timeout=WAIT)))
    t.start()
    t.join(WAIT)
    try:
        rlock.release()  # owned by the thread that ended, not by main
        foreign = "no error"
    except RuntimeError:
        foreign = "RuntimeError"
    print(f"rlock: nested={nested} other_while_held={yes(outcome['other_while_held'])} "
          f"other_after_release={yes(outcome['after'])} release_not_owned={foreign}")


# ---- Condition, Event, Semaphore, Barrier ------------------------------------------------


def case_condition():
    cond = threading.Condition()
    items = []
    done = [0]
    consumed = []

    def producer(base):
        for i in range(1, 501):
            with cond:
                items.append(base + i)
                cond.notify()
        with cond:
            done[0] += 1
            cond.notify_all()

    def consumer():
        got = 0
        while True:
            with cond:
                check(cond.wait_for(lambda: items or done[0] == 4, WAIT), "consumer starved")
                if not items:
                    break
                got += items.pop()
        consumed.append(got)

    consumers = [threading.Thread(target=consumer) for _ in range(3)]
    producers = [threading.Thread(target=producer, args=(k * 1000,)) for k in range(4)]
    for t in consumers + producers:
        t.start()
    for t in consumers + producers:
        t.join(WAIT)
    with cond:
        t0 = time.monotonic()
        timed_out = not cond.wait(0.05)
        waited = time.monotonic() - t0 >= 0.05
    expect = sum(k * 1000 * 500 + 500 * 501 // 2 for k in range(4))
    print(f"condition: consumed_sum={sum(consumed)} expected={expect} "
          f"wait_timeout={yes(timed_out)} waited={yes(waited)}")


def case_event():
    ev = threading.Event()
    woke = []
    lock = threading.Lock()

    def waiter():
        r = ev.wait(WAIT)
        with lock:
            woke.append(r)

    threads = [threading.Thread(target=waiter) for _ in range(20)]
    for t in threads:
        t.start()
    early = ev.wait(0.05)
    time.sleep(0.05)
    ev.set()
    for t in threads:
        t.join(WAIT)
    print(f"event: wait_before_set={yes(early)} waiters=20 woken_true={sum(woke)} "
          f"is_set={yes(ev.is_set())}")


def case_semaphore():
    sem = threading.Semaphore(3)
    lock = threading.Lock()
    inside = [0, 0]  # now, most at once

    def user():
        with sem:
            with lock:
                inside[0] += 1
                inside[1] = max(inside[1], inside[0])
            time.sleep(0.05)
            with lock:
                inside[0] -= 1

    threads = [threading.Thread(target=user) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    bounded = threading.BoundedSemaphore(1)
    bounded.acquire()
    bounded.release()
    try:
        bounded.release()
        over = "no error"
    except ValueError:
        over = "ValueError"
    print(f"semaphore: users=12 max_inside={inside[1]} nonblocking_on_zero="
          f"{yes(threading.Semaphore(0).acquire(blocking=False))} bounded_over_release={over}")


def case_barrier():
    parties, rounds = 5, 3
    barrier = threading.Barrier(parties)
    lock = threading.Lock()
    zeros = [0]

    def party():
        for _ in range(rounds):
            if barrier.wait(WAIT) == 0:
                with lock:
                    zeros[0] += 1

    threads = [threading.Thread(target=party) for _ in range(parties)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    lonely = threading.Barrier(2)
    try:
        lonely.wait(0.05)
        broken = "no error"
    except threading.BrokenBarrierError:
        broken = "BrokenBarrierError"
    print(f"barrier: parties={parties} rounds={rounds} index0_per_round={zeros[0]} "
          f"timeout={broken}")


# ---- queue.Queue --------------------------------------------------------------------------


def case_queue():
    q = queue.Queue(maxsize=10)
    results = queue.Queue()

    def worker():
        total = 0
        while True:
            item = q.get(timeout=WAIT)
            if item is None:
                q.task_done()
                break
            total += item
            q.task_done()
        results.put(total)

    workers = [threading.Thread(target=worker) for _ in range(6)]
    for t in workers:
        t.start()
    for i in range(1, 3001):
        q.put(i, timeout=WAIT)
    for _ in workers:
        q.put(None, timeout=WAIT)
    q.join()
    for t in workers:
        t.join(WAIT)
    total = sum(results.get_nowait() for _ in workers)
    try:
        queue.Queue().get(timeout=0.05)
        empty = "no error"
    except queue.Empty:
        empty = "Empty"
    print(f"queue: items=3000 sum={total} get_timeout={empty}")


# ---- concurrent.futures.ThreadPoolExecutor ------------------------------------------------


def case_pool():
    """200 workers map a function that first meets main at a barrier (so that all the
    workers exist when main counts the kernel threads), then sleeps 0.2 s."""
    barrier = threading.Barrier(N_THREADS + 1)

    def task(i):
        barrier.wait(WAIT)
        time.sleep(SLEEP)
        return i * 3

    with concurrent.futures.ThreadPoolExecutor(max_workers=N_THREADS) as ex:
        results = ex.map(task, range(N_THREADS), timeout=WAIT)
        print(f"pool_Threads: {kernel_threads()}", file=sys.stderr)
        t0 = time.monotonic()
        barrier.wait(WAIT)
        total = sum(results)
        elapsed = time.monotonic() - t0
        failing = ex.submit(lambda: 1 // 0)
        try:
            failing.result(WAIT)
            raised = "no error"
        except ZeroDivisionError:
            raised = "ZeroDivisionError"
    print(f"pool_elapsed: {elapsed:.3f}", file=sys.stderr)
    print(f"pool: workers={N_THREADS} tasks={N_THREADS} sum={total} "
          f"overlapped={yes(elapsed < N_THREADS * SLEEP / 4)} exception={raised}")


# ---- threading.local ----------------------------------------------------------------------


class Tagged(threading.local):
    def __init__(self):
        super().__init__()
        self.inits = 1  # runs once in each thread that touches the object


def case_local():
    data = threading.local()
    tagged = Tagged()
    data.value = "main"
    lock = threading.Lock()
    outcome = {"kept": 0, "fresh": 0, "inits": 0}

    def worker(i):
        fresh = not hasattr(data, "value")
        data.value = i
        inits = tagged.inits
        time.sleep(0.01)  # the others set theirs meanwhile
        kept = data.value == i
        with lock:
            outcome["kept"] += kept
            outcome["fresh"] += fresh
            outcome["inits"] += inits

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT)
    print(f"local: threads=50 kept_own_value={outcome['kept']} started_empty={outcome['fresh']} "
          f"subclass_inits={outcome['inits']} main_kept={yes(data.value == 'main')}")


CASES = {
    "threads": case_threads,
    "lock": case_lock,
    "rlock": case_rlock,
    "condition": case_condition,
    "event": case_event,
    "semaphore": case_semaphore,
    "barrier": case_barrier,
    "queue": case_queue,
    "pool": case_pool,
    "local": case_local,
}


def main(argv):
    global current
    if argv == ["--list"]:
        print("\n".join(CASES))
        return 0
    for arg in argv:  # checked before any case runs, so a typo runs nothing
        if arg not in CASES:
            print(f"threads.py: no case named {arg}\nusage: threads.py [--list | CASE...]",
                  file=sys.stderr)
            return 2
    signal.alarm(60)  # a case that hangs must not hold up whoever runs us for ever
    for name, fn in CASES.items():
        if argv and name not in argv:
            continue
        current = name
        fn()
        sys.stdout.flush()  # if a later case hangs, the lines so far still show
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
