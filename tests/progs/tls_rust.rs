// tls_rust [--list | CASE...]
//
// A plain Rust program on the standard library only (built with Debian's rustc, no crates):
// std::thread, thread_local! values with a Drop impl, Mutex, Condvar, mpsc channels, and a
// blocking thread-per-connection TCP echo server on 127.0.0.1 with its clients as threads of
// the same process. Rust keeps its own per-thread state in TLS too (the current thread's
// handle and name, the thread_local! values, their destructor list), and runs thread_local!
// destructors at thread exit through glibc's __cxa_thread_atexit_impl.
//
// Each case prints lines that do not depend on timing; a drop writes into a Mutex'ed record
// that main summarises after join. The echo case copies the "Threads:" line of
// /proc/self/status to stderr while all its threads exist (natively one kernel thread each).
//
// With no argument every case runs in order; with CASEs those, in the order of the table
// below; --list names them all (the command line of the C programs' progs.h).

use std::cell::Cell;
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Condvar, Mutex};
use std::thread;
use std::time::Duration;

const THREADS: usize = 200;
const ROUNDS: u32 = 20;
const CLIENTS: usize = 30;

// What each thread's value said when it was dropped: (id, uses).
static DROPS: Mutex<Vec<(i64, u32)>> = Mutex::new(Vec::new());

struct Tracker {
    id: Cell<i64>,
    uses: Cell<u32>,
}

impl Drop for Tracker {
    fn drop(&mut self) {
        if self.id.get() >= 0 {
            DROPS.lock().unwrap().push((self.id.get(), self.uses.get()));
        }
    }
}

thread_local! {
    static TRACKER: Tracker = Tracker { id: Cell::new(-1), uses: Cell::new(0) };
    static COUNTER: Cell<u64> = Cell::new(7);
}

// A short block: the library parks the thread on it, natively the kernel does.
fn park() {
    thread::sleep(Duration::from_micros(100));
}

fn yes(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn fail(what: &str) -> ! {
    eprintln!("tls_rust: {}", what);
    std::process::exit(1);
}

// ---- thread_local! ----------------------------------------------------------------------

fn count_in_own_copy(id: i64) -> bool {
    let mut ok = TRACKER.with(|t| t.id.get() == -1 && t.uses.get() == 0);
    ok = ok && COUNTER.with(|c| c.get() == 7);
    TRACKER.with(|t| t.id.set(id));
    for r in 0..ROUNDS {
        COUNTER.with(|c| c.set(c.get() + 1));
        TRACKER.with(|t| t.uses.set(t.uses.get() + 1));
        park();
        ok = ok && COUNTER.with(|c| c.get()) == 7 + u64::from(r) + 1;
        ok = ok && TRACKER.with(|t| t.id.get() == id && t.uses.get() == r + 1);
        ok = ok && thread::current().name() == Some(format!("counter {}", id).as_str());
    }
    ok
}

fn case_thread_locals() {
    COUNTER.with(|c| c.set(1000));
    DROPS.lock().unwrap().clear();
    let gate = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let gate = Arc::clone(&gate);
            thread::Builder::new()
                .name(format!("counter {}", i))
                .spawn(move || {
                    gate.wait();
                    count_in_own_copy(i as i64)
                })
                .unwrap_or_else(|e| fail(&format!("spawn: {}", e)))
        })
        .collect();
    let wrong = handles.into_iter().map(|h| h.join()).filter(|r| !matches!(r, Ok(true))).count();
    let drops = DROPS.lock().unwrap().clone();
    let ids: HashSet<i64> = drops.iter().map(|d| d.0).collect();
    let right = drops.iter().filter(|d| d.1 == ROUNDS).count();
    println!(
        "thread_locals: threads={} wrong={} dropped={} distinct_ids={} drops_with_all_uses={} \
         main_kept={}",
        THREADS,
        wrong,
        drops.len(),
        ids.len(),
        right,
        yes(COUNTER.with(|c| c.get()) == 1000)
    );
}

// ---- Mutex, Condvar, mpsc ---------------------------------------------------------------

// 50 threads take turns in the order of their numbers, each waiting on a Condvar for its turn.
fn case_condvar_turns() {
    const N: usize = 50;
    let state = Arc::new((Mutex::new((0usize, Vec::new())), Condvar::new()));
    let handles: Vec<_> = (0..N)
        .rev()
        .map(|i| {
            let state = Arc::clone(&state);
            thread::spawn(move || {
                park();
                let (m, cv) = &*state;
                let mut g = cv.wait_while(m.lock().unwrap(), |g| g.0 != i).unwrap();
                g.1.push(i);
                g.0 += 1;
                cv.notify_all();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap_or_else(|_| fail("a turn-taking thread panicked"));
    }
    let g = state.0.lock().unwrap();
    println!(
        "condvar_turns: threads={} turns_in_order={}",
        N,
        yes(g.1 == (0..N).collect::<Vec<_>>())
    );
}

// Workers send results through a channel; two threads play ping-pong on a rendezvous one.
fn case_channels() {
    const N: u64 = 50;
    let (tx, rx) = mpsc::channel();
    for i in 0..N {
        let tx = tx.clone();
        thread::spawn(move || {
            park();
            tx.send((i, i * i)).unwrap();
        });
    }
    drop(tx);
    let results: Vec<(u64, u64)> = rx.iter().collect();
    let sum: u64 = results.iter().map(|r| r.1).sum();

    let (ping_tx, ping_rx) = mpsc::sync_channel::<u32>(0);
    let (pong_tx, pong_rx) = mpsc::sync_channel::<u32>(0);
    let ponger = thread::spawn(move || {
        let mut n = 0;
        for v in ping_rx.iter() {
            park();
            pong_tx.send(v + 1).unwrap();
            n += 1;
        }
        n
    });
    let mut v = 0;
    for _ in 0..100 {
        ping_tx.send(v).unwrap();
        v = pong_rx.recv().unwrap();
    }
    drop(ping_tx);
    let pongs = ponger.join().unwrap_or_else(|_| fail("the ponger panicked"));
    println!(
        "channels: received={} sum_of_squares={} ping_pong_value={} pongs={}",
        results.len(),
        sum,
        v,
        pongs
    );
}

// ---- a thread-per-connection echo server ------------------------------------------------

// Lines a handler echoed, counted in its own thread_local and recorded when it is dropped.
struct Echoed(Cell<u32>);

static ECHOED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

impl Drop for Echoed {
    fn drop(&mut self) {
        ECHOED.lock().unwrap().push(self.0.get());
    }
}

thread_local! {
    static LINES: Echoed = Echoed(Cell::new(0));
}

fn handle(stream: TcpStream) {
    let mut out = stream.try_clone().unwrap_or_else(|e| fail(&format!("clone: {}", e)));
    for line in BufReader::new(stream).lines() {
        let line = match line {
            Ok(l) => l,
            Err(_) => break,
        };
        LINES.with(|n| n.0.set(n.0.get() + 1));
        if writeln!(out, "{}", line).is_err() {
            break;
        }
    }
}

fn kernel_threads() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("Threads:"))
        .unwrap_or("Threads: unknown")
        .to_string()
}

// Sends a line and reads its echo.
fn round_trip(reader: &mut BufReader<TcpStream>, out: &mut TcpStream, text: &str) -> bool {
    let mut back = String::new();
    writeln!(out, "{}", text).is_ok()
        && reader.read_line(&mut back).is_ok()
        && back.trim_end() == text
}

fn client(port: u16, i: usize, connected: &Barrier, release: &Barrier) -> bool {
    let mut out = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| fail(&format!("connect: {}", e)));
    out.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let mut reader = BufReader::new(out.try_clone().unwrap());
    let ok = round_trip(&mut reader, &mut out, &format!("hello from {}", i));
    connected.wait(); // every client and every handler exists now
    release.wait();
    let ok = round_trip(&mut reader, &mut out, &format!("bye from {}", i)) && ok;
    out.shutdown(Shutdown::Both).ok();
    ok
}

fn case_echo() {
    let listener =
        TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| fail(&format!("bind: {}", e)));
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    ECHOED.lock().unwrap().clear();

    let acceptor = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut handlers = Vec::new();
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let stream = stream.unwrap_or_else(|e| fail(&format!("accept: {}", e)));
                handlers.push(thread::spawn(move || handle(stream)));
            }
            for h in handlers {
                h.join().unwrap_or_else(|_| fail("a handler panicked"));
            }
        })
    };

    let connected = Arc::new(Barrier::new(CLIENTS + 1));
    let release = Arc::new(Barrier::new(CLIENTS + 1));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (c, r) = (Arc::clone(&connected), Arc::clone(&release));
            thread::spawn(move || client(port, i, &c, &r))
        })
        .collect();
    connected.wait();
    eprintln!("{}", kernel_threads()); // main, the acceptor, the clients and their handlers
    release.wait();
    let right = clients.into_iter().map(|c| c.join()).filter(|r| matches!(r, Ok(true))).count();
    stop.store(true, Ordering::SeqCst);
    drop(TcpStream::connect(("127.0.0.1", port))); // wakes the acceptor to see stop
    acceptor.join().unwrap_or_else(|_| fail("the acceptor panicked"));
    let echoed = ECHOED.lock().unwrap().clone();
    println!(
        "echo: clients={} right={} handlers_dropped={} lines_echoed={}",
        CLIENTS,
        right,
        echoed.len(),
        echoed.iter().sum::<u32>()
    );
}

// ---- table and driver ---------------------------------------------------------------------

const CASES: &[(&str, fn())] = &[
    ("thread_locals", case_thread_locals),
    ("condvar_turns", case_condvar_turns),
    ("channels", case_channels),
    ("echo", case_echo),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() == 1 && args[0] == "--list" {
        for (name, _) in CASES {
            println!("{}", name);
        }
        return;
    }
    for a in &args {
        if !CASES.iter().any(|(name, _)| name == a) {
            eprintln!("tls_rust: no case named {}\nusage: tls_rust [--list | CASE...]", a);
            std::process::exit(2);
        }
    }
    for (name, run) in CASES {
        if args.is_empty() || args.iter().any(|a| a == name) {
            run();
        }
    }
}
