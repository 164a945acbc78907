/*
 * Name resolution goes to the offload pool: glibc's resolver uses its own sockets and
 * its own poll, which no hook sees, and NSS modules may do anything. Running libc's own
 * functions on a pool thread keeps /etc/hosts, nsswitch.conf and resolv.conf behaving
 * exactly as natively. h_errno is carried back with the result.
 */
#include <netdb.h>
#include <sys/socket.h>

#include "hook.h"
#include "offcall.h"

struct gai_call {
	struct gp_offcall c;
	const char *node, *service;
	const struct addrinfo *hints;
	struct addrinfo **res;
};

static void run_getaddrinfo(struct gp_offcall *c)
{
	struct gai_call *g = (struct gai_call *)c;
	c->ret = GP_REAL(getaddrinfo)(g->node, g->service, g->hints, g->res);
}

int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints,
		struct addrinfo **res)
{
	if (!gp__offload_wanted())
		return GP_REAL(getaddrinfo)(node, service, hints, res);
	struct gai_call g = { { .run = run_getaddrinfo }, node, service, hints, res };
	gp__offload_call(&g.c);
	return (int)g.c.ret;
}

struct gni_call {
	struct gp_offcall c;
	const struct sockaddr *sa;
	socklen_t salen;
	char *host, *serv;
	socklen_t hostlen, servlen;
	int flags;
};

static void run_getnameinfo(struct gp_offcall *c)
{
	struct gni_call *g = (struct gni_call *)c;
	c->ret = GP_REAL(getnameinfo)(g->sa, g->salen, g->host, g->hostlen, g->serv,
				      g->servlen, g->flags);
}

int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen,
		char *serv, socklen_t servlen, int flags)
{
	if (!gp__offload_wanted())
		return GP_REAL(getnameinfo)(sa, salen, host, hostlen, serv, servlen, flags);
	struct gni_call g = { { .run = run_getnameinfo }, sa, salen, host, serv, hostlen,
			      servlen, flags };
	gp__offload_call(&g.c);
	return (int)g.c.ret;
}

/* gethostbyname and friends: name (or address) in, a struct hostent out. */
struct ghb_call {
	struct gp_offcall c;
	const void *key;
	socklen_t len;
	int af;
	struct hostent *ret, *buf;
	char *space;
	size_t buflen;
	struct hostent **result;
	int *herr;
};

static void run_gethostbyname(struct gp_offcall *c)
{
	struct ghb_call *g = (struct ghb_call *)c;
	g->ret = GP_REAL(gethostbyname)(g->key);
}

static void run_gethostbyname2(struct gp_offcall *c)
{
	struct ghb_call *g = (struct ghb_call *)c;
	g->ret = GP_REAL(gethostbyname2)(g->key, g->af);
}

static void run_gethostbyaddr(struct gp_offcall *c)
{
	struct ghb_call *g = (struct ghb_call *)c;
	g->ret = GP_REAL(gethostbyaddr)(g->key, g->len, g->af);
}

static void run_gethostbyname_r(struct gp_offcall *c)
{
	struct ghb_call *g = (struct ghb_call *)c;
	c->ret = GP_REAL(gethostbyname_r)(g->key, g->buf, g->space, g->buflen, g->result,
					  g->herr);
}

static void run_gethostbyname2_r(struct gp_offcall *c)
{
	struct ghb_call *g = (struct ghb_call *)c;
	c->ret = GP_REAL(gethostbyname2_r)(g->key, g->af, g->buf, g->space, g->buflen,
					   g->result, g->herr);
}

static void run_gethostbyaddr_r(struct gp_offcall *c)
{
	struct ghb_call *g = (struct ghb_call *)c;
	c->ret = GP_REAL(gethostbyaddr_r)(g->key, g->len, g->af, g->buf, g->space, g->buflen,
					  g->result, g->herr);
}

struct hostent *gethostbyname(const char *name)
{
	if (!gp__offload_wanted())
		return GP_REAL(gethostbyname)(name);
	struct ghb_call g = { .c.run = run_gethostbyname, .key = name };
	gp__offload_call(&g.c);
	return g.ret;
}

struct hostent *gethostbyname2(const char *name, int af)
{
	if (!gp__offload_wanted())
		return GP_REAL(gethostbyname2)(name, af);
	struct ghb_call g = { .c.run = run_gethostbyname2, .key = name, .af = af };
	gp__offload_call(&g.c);
	return g.ret;
}

struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type)
{
	if (!gp__offload_wanted())
		return GP_REAL(gethostbyaddr)(addr, len, type);
	struct ghb_call g = { .c.run = run_gethostbyaddr, .key = addr, .len = len, .af = type };
	gp__offload_call(&g.c);
	return g.ret;
}

int gethostbyname_r(const char *name, struct hostent *ret, char *buf, size_t buflen,
		    struct hostent **result, int *herr)
{
	if (!gp__offload_wanted())
		return GP_REAL(gethostbyname_r)(name, ret, buf, buflen, result, herr);
	struct ghb_call g = { .c.run = run_gethostbyname_r, .key = name, .buf = ret,
			      .space = buf, .buflen = buflen, .result = result, .herr = herr };
	gp__offload_call(&g.c);
	return (int)g.c.ret;
}

int gethostbyname2_r(const char *name, int af, struct hostent *ret, char *buf, size_t buflen,
		     struct hostent **result, int *herr)
{
	if (!gp__offload_wanted())
		return GP_REAL(gethostbyname2_r)(name, af, ret, buf, buflen, result, herr);
	struct ghb_call g = { .c.run = run_gethostbyname2_r, .key = name, .af = af, .buf = ret,
			      .space = buf, .buflen = buflen, .result = result, .herr = herr };
	gp__offload_call(&g.c);
	return (int)g.c.ret;
}

int gethostbyaddr_r(const void *addr, socklen_t len, int type, struct hostent *ret, char *buf,
		    size_t buflen, struct hostent **result, int *herr)
{
	if (!gp__offload_wanted())
		return GP_REAL(gethostbyaddr_r)(addr, len, type, ret, buf, buflen, result, herr);
	struct ghb_call g = { .c.run = run_gethostbyaddr_r, .key = addr, .len = len, .af = type,
			      .buf = ret, .space = buf, .buflen = buflen, .result = result,
			      .herr = herr };
	gp__offload_call(&g.c);
	return (int)g.c.ret;
}
