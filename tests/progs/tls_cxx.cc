/*
 * tls_cxx [--list | CASE...]
 *
 * C++ thread_local objects with constructors and destructors belong to each thread: each
 * thread constructs its own on first use, sees the initial state rather than its creator's,
 * keeps its own across blocking calls, and destroys it when it exits (not at process exit,
 * not twice, not another thread's). Destructors write into a per-thread record; main prints
 * a summary after join, so the output does not depend on the interleaving.
 *
 * dtor_order checks glibc's order at thread exit: thread_local destructors (registered with
 * __cxa_thread_atexit) run first, in reverse order of construction, then the destructors of
 * pthread keys. In main_at_exit a thread's object is destroyed when the thread exits, and
 * main's by exit(), which prints the last line.
 *
 * With no argument every case runs in order; with CASEs those, in the order of the table
 * below; --list names them all (the command line of the C programs' progs.h).
 */
#include <pthread.h>
#include <unistd.h>

#include "cases.hh"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;

namespace {

const char *current = "";

void check(bool ok, const char *what)
{
	if (!ok) {
		std::fprintf(stderr, "tls_cxx: %s: %s\n", current, what);
		std::exit(1);
	}
}

const char *yes(bool b)
{
	return b ? "yes" : "no";
}

/* What a thread's object said when it was destroyed, written by its destructor. */
struct Record {
	int destroyed = 0; /* times: exactly 1 is right */
	int uses = 0;
	bool own_thread = false; /* destroyed by the thread that made it */
};

std::vector<Record> records;
std::atomic<int> constructed{ 0 };
std::atomic<int> destroyed_elsewhere{ 0 }; /* objects never given a record slot */

/* A thread's own object: its state starts the same in every thread. */
class Tracker {
public:
	Tracker() : owner_(pthread_self())
	{
		constructed++;
	}
	~Tracker()
	{
		if (slot_ < 0) {
			destroyed_elsewhere++;
			return;
		}
		Record &r = records[(size_t)slot_];
		r.destroyed++;
		r.uses = uses_;
		r.own_thread = pthread_equal(owner_, pthread_self());
	}
	Tracker(const Tracker &) = delete;
	Tracker &operator=(const Tracker &) = delete;

	int slot_ = -1;
	int uses_ = 0;
	std::string tag_ = "initial";

private:
	pthread_t owner_;
};

/*
 * Function-local, so that each object is constructed on its own first use: namespace-scope
 * thread_locals of one file are all constructed together on the first use of any of them.
 */
Tracker &tracker()
{
	thread_local Tracker t;
	return t;
}

/* Blocks briefly: odd rounds sleep, even rounds wait on a condition variable that times out. */
void park(int round)
{
	static std::mutex m;
	static std::condition_variable cv;

	if (round & 1) {
		std::this_thread::sleep_for(100us);
		return;
	}
	std::unique_lock<std::mutex> lk(m);
	cv.wait_for(lk, 200us);
}

/* Threads arrive; each waits until all have, so that they all exist at once. */
class Gate {
public:
	explicit Gate(int n) : left_(n)
	{
	}
	void pass()
	{
		std::unique_lock<std::mutex> lk(m_);
		if (--left_ == 0)
			cv_.notify_all();
		cv_.wait(lk, [this] { return left_ == 0; });
	}

private:
	std::mutex m_;
	std::condition_variable cv_;
	int left_;
};

/* ---- the main thread's object ------------------------------------------------------ */

/* Main's object, used before and after the threads run: theirs must not touch it. */
void use_main_tracker()
{
	if (tracker().slot_ < 0) {
		tracker().tag_ = "main";
		tracker().uses_ = 1000;
	}
}

bool main_tracker_intact()
{
	return tracker().tag_ == "main" && tracker().uses_ == 1000;
}

/* ---- many threads ------------------------------------------------------------------ */

constexpr int THREADS = 1000;
constexpr int ROUNDS = 20;

void tracker_main(int slot, Gate *gate, std::atomic<int> *wrong)
{
	gate->pass();
	bool ok = tracker().tag_ == "initial" && tracker().uses_ == 0 && tracker().slot_ == -1;

	tracker().slot_ = slot;
	tracker().tag_ = "thread " + std::to_string(slot);
	for (int r = 0; r < ROUNDS; r++) {
		tracker().uses_++;
		park(r);
		ok = ok && tracker().uses_ == r + 1 && tracker().slot_ == slot &&
		     tracker().tag_ == "thread " + std::to_string(slot);
	}
	if (!ok)
		(*wrong)++;
}

void case_objects()
{
	std::vector<std::thread> threads;
	std::atomic<int> wrong{ 0 };
	Gate gate(THREADS);
	int once = 0, used = 0, own = 0;

	use_main_tracker();
	records.assign(THREADS, Record{});
	constructed = 0;
	for (int i = 0; i < THREADS; i++)
		threads.emplace_back(tracker_main, i, &gate, &wrong);
	for (auto &t : threads)
		t.join();
	for (const auto &r : records) {
		once += r.destroyed == 1;
		used += r.uses == ROUNDS;
		own += r.own_thread;
	}
	std::printf("objects: threads=%d constructed=%d destroyed_once=%d all_uses_seen=%d "
		    "destroyed_by_owner=%d wrong=%d main_object_intact=%s\n",
		    THREADS, constructed.load(), once, used, own, wrong.load(),
		    yes(main_tracker_intact()));
}

/* ---- destructor order at thread exit ------------------------------------------------ */

std::mutex order_m;
std::string order;

void note(const char *what)
{
	std::lock_guard<std::mutex> lk(order_m);
	if (!order.empty())
		order += ",";
	order += what;
}

struct Noted {
	const char *name;
	explicit Noted(const char *n) : name(n)
	{
		note((std::string("construct ") + n).c_str());
	}
	~Noted()
	{
		note((std::string("destroy ") + name).c_str());
	}
};

Noted &first()
{
	thread_local Noted n("first");
	return n;
}

Noted &second()
{
	thread_local Noted n("second");
	return n;
}

void key_destructor(void *value)
{
	note(static_cast<const char *>(value));
}

void order_main(pthread_key_t key)
{
	pthread_setspecific(key, "key destructor");
	(void)first().name;
	park(0);
	(void)second().name;
	park(1);
	note("thread returns");
}

void case_dtor_order()
{
	pthread_key_t key;

	check(pthread_key_create(&key, key_destructor) == 0, "pthread_key_create");
	order.clear();
	std::thread(order_main, key).join();
	pthread_key_delete(key);
	std::printf("dtor_order: %s\n", order.c_str());
}

/* ---- the main thread's object at exit ----------------------------------------------- */

/* Says whose it was when destroyed: a thread's at its exit, main's by exit(). */
struct Owned {
	const char *owner = "nobody";
	~Owned()
	{
		std::printf("main_at_exit: %s's thread_local destroyed\n", owner);
		std::fflush(stdout);
	}
};

Owned &owned()
{
	thread_local Owned o;
	return o;
}

void case_main_at_exit()
{
	owned().owner = "main";
	use_main_tracker();
	std::thread([] {
		check(std::strcmp(owned().owner, "nobody") == 0, "a new thread saw main's object");
		owned().owner = "a thread";
		park(1);
	}).join();
	std::printf("main_at_exit: joined, main_object_intact=%s owner=%s\n",
		    yes(main_tracker_intact()), owned().owner);
}

const progs::Case cases[] = {
	{ "objects", case_objects },
	{ "dtor_order", case_dtor_order },
	{ "main_at_exit", case_main_at_exit },
};

} // namespace

int main(int argc, char **argv)
{
	return progs::run_cases("tls_cxx", cases, current, argc, argv);
}
