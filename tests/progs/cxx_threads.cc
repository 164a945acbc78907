/*
 * cxx_threads [--list | CASE...]
 *
 * A plain C++17 program on the standard thread library: std::thread, the mutexes,
 * std::condition_variable, std::async, std::shared_mutex, std::this_thread::sleep_for
 * and std::promise/std::future. Each case prints lines of totals and outcomes that do
 * not depend on how the threads interleave; a case that finds something wrong says so
 * on stderr and exits 1.
 *
 * The threads case copies the "Threads:" line of /proc/self/status to stderr while
 * its 100 threads exist, and "sleep_elapsed: SECONDS" once they have all slept.
 *
 * With no argument every case runs in order; with CASEs those, in the order of the table
 * below; --list names them all (the command line of the C programs' progs.h).
 */
#include <unistd.h>

#include "cases.hh"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <iostream>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;

namespace {

const char *current = "";

void check(bool ok, const char *what)
{
	if (!ok) {
		std::fprintf(stderr, "cxx_threads: %s: %s\n", current, what);
		std::exit(1);
	}
}

const char *yes(bool b)
{
	return b ? "yes" : "no";
}

double since(steady::time_point t0)
{
	return std::chrono::duration<double>(steady::now() - t0).count();
}

/* Copies the "Threads:" line of /proc/self/status to stderr. */
void report_kernel_threads()
{
	std::ifstream status("/proc/self/status");
	std::string line;

	check(status.good(), "cannot open /proc/self/status");
	while (std::getline(status, line))
		if (line.rfind("Threads:", 0) == 0)
			std::cerr << line << std::endl;
}

/* Threads arrive; the opener waits until all have, then lets them through. */
class Gate {
public:
	void pass()
	{
		std::unique_lock<std::mutex> lk(m_);
		arrived_++;
		cv_.notify_all();
		cv_.wait(lk, [this] { return open_; });
	}

	void wait_arrivals(int n)
	{
		std::unique_lock<std::mutex> lk(m_);
		cv_.wait(lk, [&] { return arrived_ >= n; });
	}

	void open()
	{
		std::lock_guard<std::mutex> lk(m_);
		open_ = true;
		cv_.notify_all();
	}

private:
	std::mutex m_;
	std::condition_variable cv_;
	int arrived_ = 0;
	bool open_ = false;
};

/* ---- std::thread and std::this_thread::sleep_for ---------------------------------------- */

constexpr int kThreads = 100;
constexpr auto kSleep = 200ms;

/*
 * 100 threads first meet at a gate, so that all of them exist when main counts the kernel
 * threads, then each sleeps 200 ms: in turn that would take 20 s, at once a little over
 * 0.2 s.
 */
void case_threads()
{
	Gate gate;
	std::vector<std::thread> threads;
	std::vector<std::thread::id> ids(kThreads);
	std::atomic<int> slept_full{0};
	std::atomic<long> sum{0};

	for (int i = 0; i < kThreads; i++) {
		threads.emplace_back([&, i] {
			ids[i] = std::this_thread::get_id();
			gate.pass();
			auto t0 = steady::now();
			std::this_thread::sleep_for(kSleep);
			slept_full += steady::now() - t0 >= kSleep;
			sum += i;
		});
	}
	gate.wait_arrivals(kThreads);
	report_kernel_threads();
	auto t0 = steady::now();
	gate.open();
	for (auto &t : threads)
		t.join();
	double elapsed = since(t0);
	std::set<std::thread::id> distinct(ids.begin(), ids.end());
	std::cerr << "sleep_elapsed: " << elapsed << std::endl;
	std::printf("threads: started=%d sum=%ld distinct_ids=%zu main_id_distinct=%s "
		    "slept_full=%d overlapped=%s\n",
		    kThreads, sum.load(), distinct.size(),
		    yes(!distinct.count(std::this_thread::get_id())), slept_full.load(),
		    yes(elapsed < kThreads * 0.2 / 4));
}

/* ---- std::mutex, std::recursive_mutex, std::timed_mutex --------------------------------- */

/* Runs probe() while another thread holds m. */
template <class Mutex, class Probe>
void while_held(Mutex &m, Probe probe)
{
	Gate held, release;
	std::thread holder([&] {
		std::lock_guard<Mutex> lk(m);
		held.pass();
		release.pass();
	});

	held.wait_arrivals(1);
	probe();
	held.open();
	release.open();
	holder.join();
}

void case_mutex()
{
	std::mutex m;
	long counter = 0;
	std::vector<std::thread> threads;
	bool try_held = true, try_free = false;

	for (int i = 0; i < 8; i++) {
		threads.emplace_back([&] {
			for (int k = 0; k < 20000; k++) {
				std::lock_guard<std::mutex> lk(m);
				long v = counter;
				if (k % 1000 == 0)
					std::this_thread::yield(); /* let the others find it taken */
				counter = v + 1;
			}
		});
	}
	for (auto &t : threads)
		t.join();
	while_held(m, [&] {
		std::unique_lock<std::mutex> lk(m, std::try_to_lock);
		try_held = lk.owns_lock();
	});
	{
		std::unique_lock<std::mutex> lk(m, std::try_to_lock);
		try_free = lk.owns_lock();
	}
	std::printf("mutex: counter=%ld try_lock_while_held=%s try_lock_free=%s\n", counter,
		    yes(try_held), yes(try_free));
}

void case_recursive_mutex()
{
	std::recursive_mutex m;
	int nested = 0;
	bool other_while_held = true, other_after = false;

	std::thread outer([&] {
		for (int i = 0; i < 3; i++) {
			m.lock();
			nested++;
		}
		std::thread other([&] { other_while_held = m.try_lock(); });
		other.join();
		for (int i = 0; i < 3; i++)
			m.unlock();
	});
	outer.join();
	std::thread after([&] {
		other_after = m.try_lock();
		if (other_after)
			m.unlock();
	});
	after.join();
	std::printf("recursive_mutex: nested_locks=%d other_try_lock_while_held=%s "
		    "other_try_lock_after_release=%s\n",
		    nested, yes(other_while_held), yes(other_after));
}

void case_timed_mutex()
{
	std::timed_mutex m;
	bool for_held = true, until_held = true, for_free = false;
	double waited_for = 0, waited_until = 0;

	while_held(m, [&] {
		auto t0 = steady::now();
		for_held = m.try_lock_for(50ms);
		waited_for = since(t0);
		t0 = steady::now();
		until_held = m.try_lock_until(steady::now() + 50ms);
		waited_until = since(t0);
	});
	for_free = m.try_lock_for(1s);
	if (for_free)
		m.unlock();
	std::printf("timed_mutex: try_lock_for_while_held=%s waited_50ms=%s "
		    "try_lock_until_while_held=%s waited_until=%s try_lock_for_free=%s\n",
		    yes(for_held), yes(waited_for >= 0.05), yes(until_held),
		    yes(waited_until >= 0.05), yes(for_free));
}

/* ---- std::condition_variable ------------------------------------------------------------ */

/* Nobody notifies: wait_for times out on the steady clock, not early, with the lock held. */
void cv_timeout()
{
	std::mutex m;
	std::condition_variable cv;
	std::unique_lock<std::mutex> lk(m);
	auto deadline = steady::now() + 100ms;
	std::cv_status st = std::cv_status::no_timeout;

	while (st == std::cv_status::no_timeout && steady::now() < deadline)
		st = cv.wait_for(lk, deadline - steady::now());
	bool pred = cv.wait_for(lk, 20ms, [] { return false; });
	std::printf("condvar_timeout: status=%s waited=%s owns_lock=%s predicate_wait=%s\n",
		    st == std::cv_status::timeout ? "timeout" : "no_timeout",
		    yes(steady::now() >= deadline), yes(lk.owns_lock()), yes(pred));
}

/* Notified long before the timeout, wait_for with a predicate returns true. */
void cv_notified()
{
	std::mutex m;
	std::condition_variable cv;
	bool flag = false;
	std::thread notifier([&] {
		std::this_thread::sleep_for(20ms);
		std::lock_guard<std::mutex> lk(m);
		flag = true;
		cv.notify_one();
	});
	std::unique_lock<std::mutex> lk(m);
	auto t0 = steady::now();
	bool got = cv.wait_for(lk, 10s, [&] { return flag; });
	bool early = since(t0) < 5;
	lk.unlock();
	notifier.join();
	std::printf("condvar_notified: predicate=%s before_timeout=%s\n", yes(got), yes(early));
}

/* Ten waiters on one generation: one notify_all wakes them all. */
void cv_notify_all()
{
	std::mutex m;
	std::condition_variable cv;
	int waiting = 0, woken = 0;
	unsigned generation = 0;
	std::vector<std::thread> threads;

	for (int i = 0; i < 10; i++) {
		threads.emplace_back([&] {
			std::unique_lock<std::mutex> lk(m);
			unsigned seen = generation;
			waiting++;
			cv.wait(lk, [&] { return generation != seen; });
			woken++;
		});
	}
	/* waiting == 10 under the lock: every waiter has released it inside wait. */
	for (;;) {
		std::unique_lock<std::mutex> lk(m);
		if (waiting == 10) {
			generation++;
			cv.notify_all();
			break;
		}
		lk.unlock();
		std::this_thread::sleep_for(1ms);
	}
	for (auto &t : threads)
		t.join();
	std::printf("condvar_notify_all: waiters=10 woken=%d\n", woken);
}

void case_condvar()
{
	cv_timeout();
	cv_notified();
	cv_notify_all();
}

/* ---- std::async ---------------------------------------------------------------------------- */

void case_async()
{
	std::vector<std::future<long>> futures;
	long sum = 0;
	std::string caught = "none";

	for (long i = 1; i <= 16; i++) {
		futures.push_back(std::async(std::launch::async, [i] {
			std::this_thread::sleep_for(50ms);
			return i * i;
		}));
	}
	for (auto &f : futures)
		sum += f.get();
	auto failing = std::async(std::launch::async, []() -> long {
		std::this_thread::sleep_for(10ms);
		throw std::runtime_error("boom");
	});
	try {
		failing.get();
	} catch (const std::runtime_error &e) {
		caught = e.what();
	}
	std::printf("async: tasks=16 sum_of_squares=%ld exception=%s\n", sum, caught.c_str());
}

/* ---- std::shared_mutex ---------------------------------------------------------------------- */

/* Four readers hold the shared lock together: each waits, holding it, for all four. */
int readers_at_once(std::shared_mutex &sm)
{
	std::atomic<int> inside{0}, max_inside{0};
	std::vector<std::thread> readers;

	for (int i = 0; i < 4; i++) {
		readers.emplace_back([&] {
			std::shared_lock<std::shared_mutex> lk(sm);
			int n = ++inside;
			int m = max_inside.load();
			while (n > m && !max_inside.compare_exchange_weak(m, n))
				;
			auto deadline = steady::now() + 10s;
			while (max_inside.load() < 4 && steady::now() < deadline)
				std::this_thread::yield();
		});
	}
	for (auto &t : readers)
		t.join();
	return max_inside.load();
}

/* Writers and readers: a reader never sees the pair half updated. */
bool pairs_consistent(std::shared_mutex &sm)
{
	long a = 0, b = 0;
	std::atomic<bool> torn{false};
	std::vector<std::thread> threads;

	for (int w = 0; w < 4; w++) {
		threads.emplace_back([&] {
			for (int k = 0; k < 2000; k++) {
				std::unique_lock<std::shared_mutex> lk(sm);
				a++;
				if (k % 100 == 0)
					std::this_thread::yield();
				b++;
			}
		});
		threads.emplace_back([&] {
			for (int k = 0; k < 2000; k++) {
				std::shared_lock<std::shared_mutex> lk(sm);
				if (a != b)
					torn = true;
			}
		});
	}
	for (auto &t : threads)
		t.join();
	return !torn && a == 8000 && b == 8000;
}

void case_shared_mutex()
{
	std::shared_mutex sm;
	bool unique_while_shared = true, shared_while_shared = false, shared_while_unique = true;
	int at_once = readers_at_once(sm);

	{
		std::shared_lock<std::shared_mutex> mine(sm);
		std::thread probe([&] {
			unique_while_shared = sm.try_lock();
			shared_while_shared = sm.try_lock_shared();
			if (shared_while_shared)
				sm.unlock_shared();
		});
		probe.join();
	}
	{
		std::unique_lock<std::shared_mutex> mine(sm);
		std::thread probe([&] {
			shared_while_unique = sm.try_lock_shared();
		});
		probe.join();
	}
	bool consistent = pairs_consistent(sm);
	std::printf("shared_mutex: readers_at_once=%d try_lock_while_shared=%s "
		    "try_lock_shared_while_shared=%s try_lock_shared_while_unique=%s "
		    "writers_consistent=%s\n",
		    at_once, yes(unique_while_shared), yes(shared_while_shared),
		    yes(shared_while_unique), yes(consistent));
}

/* ---- std::promise and std::future ---------------------------------------------------------- */

void case_promise()
{
	std::promise<int> value;
	std::promise<int> failure;
	std::future<int> fv = value.get_future(), ff = failure.get_future();
	std::string caught = "none";

	/* The value arrives from another thread that first sleeps: get() must wait for it. */
	std::thread setter([&] {
		std::this_thread::sleep_for(100ms);
		value.set_value(42);
		std::this_thread::sleep_for(10ms);
		failure.set_exception(std::make_exception_ptr(std::runtime_error("broken")));
	});
	std::future_status early = fv.wait_for(10ms);
	int got = fv.get();
	try {
		ff.get();
	} catch (const std::runtime_error &e) {
		caught = e.what();
	}
	setter.join();
	std::printf("promise: wait_for_before_set=%s value=%d exception=%s\n",
		    early == std::future_status::timeout ? "timeout" : "ready", got,
		    caught.c_str());
}

const progs::Case cases[] = {
	{ "threads", case_threads },
	{ "mutex", case_mutex },
	{ "recursive_mutex", case_recursive_mutex },
	{ "timed_mutex", case_timed_mutex },
	{ "condvar", case_condvar },
	{ "async", case_async },
	{ "shared_mutex", case_shared_mutex },
	{ "promise", case_promise },
};

} // namespace

int main(int argc, char **argv)
{
	return progs::run_cases("cxx_threads", cases, current, argc, argv);
}
