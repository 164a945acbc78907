/*
 * libc's DNS resolver functions (res_query and friends) wait for a name server's answer
 * on a socket of their own: they run on the offload pool, with libc's own code, so
 * resolv.conf and the program's resolver options behave as natively.
 *
 * The res_n* functions take the program's resolver state. The others use _res, which
 * is per thread: they run as res_n* on the calling green thread's state (initialised
 * first, on that thread, as libc would). With GREENPATCH_TLS=shared the green threads
 * share the carrier's, which then serves one query at a time.
 */
#include <netinet/in.h>
#include <resolv.h>

#include "hook.h"
#include "offcall.h"
#include "tls.h"

enum res_kind { RES_QUERY, RES_SEARCH, RES_QUERYDOMAIN, RES_SEND };

struct res_call {
	struct gp_offcall c;
	enum res_kind kind;
	res_state statp;
	const char *name, *domain;
	int class, type;
	const unsigned char *msg;
	int msglen;
	unsigned char *answer;
	int anslen;
};

static void run_res(struct gp_offcall *c)
{
	struct res_call *r = (struct res_call *)c;
	switch (r->kind) {
	case RES_QUERY:
		c->ret = GP_REAL(res_nquery)(r->statp, r->name, r->class, r->type, r->answer,
					     r->anslen);
		break;
	case RES_SEARCH:
		c->ret = GP_REAL(res_nsearch)(r->statp, r->name, r->class, r->type, r->answer,
					      r->anslen);
		break;
	case RES_QUERYDOMAIN:
		c->ret = GP_REAL(res_nquerydomain)(r->statp, r->name, r->domain, r->class,
						   r->type, r->answer, r->anslen);
		break;
	case RES_SEND:
		c->ret = GP_REAL(res_nsend)(r->statp, r->msg, r->msglen, r->answer, r->anslen);
		break;
	}
}

static int offload_res(struct res_call *r)
{
	r->c.run = run_res;
	gp__offload_call(&r->c);
	return (int)r->c.ret;
}

/* With shared TLS, the carrier's _res, lent to one query at a time. */
static int shared_busy;

static void wait_for_shared_state(void)
{
	gp_enter();
	gp_park_on(&shared_busy, -1, "the resolver state _res");
	gp_leave();
}

static int on_shared_state(struct res_call *r)
{
	bool shared = !gp_tls_per_thread;
	while (shared && shared_busy)
		wait_for_shared_state();
	shared_busy = shared;
	r->statp = &_res;
	int rc = (r->statp->options & RES_INIT) || res_init() == 0 ? offload_res(r) : -1;
	if (shared) {
		shared_busy = 0;
		gp_wake(&shared_busy, 1);
	}
	return rc;
}

int res_nquery(res_state statp, const char *name, int class, int type, unsigned char *answer,
	       int anslen)
{
	if (!gp__offload_wanted())
		return GP_REAL(res_nquery)(statp, name, class, type, answer, anslen);
	struct res_call r = { .kind = RES_QUERY, .statp = statp, .name = name, .class = class,
			      .type = type, .answer = answer, .anslen = anslen };
	return offload_res(&r);
}

int res_nsearch(res_state statp, const char *name, int class, int type, unsigned char *answer,
		int anslen)
{
	if (!gp__offload_wanted())
		return GP_REAL(res_nsearch)(statp, name, class, type, answer, anslen);
	struct res_call r = { .kind = RES_SEARCH, .statp = statp, .name = name, .class = class,
			      .type = type, .answer = answer, .anslen = anslen };
	return offload_res(&r);
}

int res_nquerydomain(res_state statp, const char *name, const char *domain, int class,
		     int type, unsigned char *answer, int anslen)
{
	if (!gp__offload_wanted())
		return GP_REAL(res_nquerydomain)(statp, name, domain, class, type, answer,
						 anslen);
	struct res_call r = { .kind = RES_QUERYDOMAIN, .statp = statp, .name = name,
			      .domain = domain, .class = class, .type = type, .answer = answer,
			      .anslen = anslen };
	return offload_res(&r);
}

int res_nsend(res_state statp, const unsigned char *msg, int msglen, unsigned char *answer,
	      int anslen)
{
	if (!gp__offload_wanted())
		return GP_REAL(res_nsend)(statp, msg, msglen, answer, anslen);
	struct res_call r = { .kind = RES_SEND, .statp = statp, .msg = msg, .msglen = msglen,
			      .answer = answer, .anslen = anslen };
	return offload_res(&r);
}

int res_query(const char *name, int class, int type, unsigned char *answer, int anslen)
{
	if (!gp__offload_wanted())
		return GP_REAL(res_query)(name, class, type, answer, anslen);
	struct res_call r = { .kind = RES_QUERY, .name = name, .class = class, .type = type,
			      .answer = answer, .anslen = anslen };
	return on_shared_state(&r);
}

int res_search(const char *name, int class, int type, unsigned char *answer, int anslen)
{
	if (!gp__offload_wanted())
		return GP_REAL(res_search)(name, class, type, answer, anslen);
	struct res_call r = { .kind = RES_SEARCH, .name = name, .class = class, .type = type,
			      .answer = answer, .anslen = anslen };
	return on_shared_state(&r);
}

int res_querydomain(const char *name, const char *domain, int class, int type,
		    unsigned char *answer, int anslen)
{
	if (!gp__offload_wanted())
		return GP_REAL(res_querydomain)(name, domain, class, type, answer, anslen);
	struct res_call r = { .kind = RES_QUERYDOMAIN, .name = name, .domain = domain,
			      .class = class, .type = type, .answer = answer, .anslen = anslen };
	return on_shared_state(&r);
}

int res_send(const unsigned char *msg, int msglen, unsigned char *answer, int anslen)
{
	if (!gp__offload_wanted())
		return GP_REAL(res_send)(msg, msglen, answer, anslen);
	struct res_call r = { .kind = RES_SEND, .msg = msg, .msglen = msglen, .answer = answer,
			      .anslen = anslen };
	return on_shared_state(&r);
}
