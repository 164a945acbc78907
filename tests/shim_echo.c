/*
 * A thread-per-connection echo server and a thread-per-connection client
 * (tests/progs/echo_server.c, echo_client.c), each natively or under the shim.
 *
 * What these prove: blocking accept/connect/read/write/send/recv and their vector forms
 * work under the shim with every byte checked; a shim server holds 1,000 connections and a
 * shim client opens 1,000 at once (the client waits until all are connected before any
 * sends), each side on one kernel thread; and two threads can block on the same socket at
 * once, one reading and one writing (duplex mode).
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

/*
 * The carriers and three more (see shim_sleep.c), and a spare per carrier: with more
 * carriers than CPUs, a carrier whose kernel thread the kernel does not run for a while
 * (4 carriers on 2 CPUs, checking megabytes of echoed data) is handed off, and the kernel
 * thread made for it stays as a spare. A client of 20 duplex connections runs 41 threads.
 */
#define MAX_KERNEL_THREADS (3 + 2 * gp_carriers())

struct echo {
	bool server_shim, client_shim;
	const char *server, *client; /* program names; NULL: echo_server, echo_client */
	int clients;
	long bytes;
	const char *io;	    /* server: rw or sendrecv */
	const char *accept; /* server: accept or accept4 */
	const char *mode;   /* client: lockstep or duplex */
};

static void expect_green(const struct gp_run *r)
{
	long n = -1;

	if (!gp_kv_long(r->err, "Threads:", &n)) {
		cr_expect_fail("%s printed no \"Threads:\" line:\n%s", r->label, r->err);
		return;
	}
	cr_expect(n <= MAX_KERNEL_THREADS, "%s: %ld kernel threads: its threads are not green",
		  r->label, n);
}

static struct gp_bg server;

/* Starts the server and returns the port it printed. */
static char *start_server(const struct echo *e, char *nconn)
{
	struct gp_cmd cmd = {
		.prog = e->server ? e->server : "echo_server",
		.argv = GP_ARGV(nconn, (char *)(e->io ? e->io : "rw"),
				(char *)(e->accept ? e->accept : "accept")),
		.shim = e->server_shim,
	};
	static char port[16];
	char line[128];

	gp_bg_start(&cmd, &server);
	if (gp_bg_first_line(&server, 10, line, sizeof(line)) != 0) {
		char *d = gp_describe(&server.run);

		cr_assert_fail("the server did not print its port:\n%s", d);
	}
	cr_assert(sscanf(line, "port %15s", port) == 1, "server's first line: \"%s\"", line);
	return port;
}

static void run_echo(const struct echo *e)
{
	char nconn[16], bytes[24], want_client[64], want_server[128];
	struct gp_run client;
	char *port;

	snprintf(nconn, sizeof(nconn), "%d", e->clients);
	snprintf(bytes, sizeof(bytes), "%ld", e->bytes);
	port = start_server(e, nconn);
	gp_run_prog(e->client ? e->client : "echo_client",
		    GP_ARGV(port, nconn, bytes, (char *)(e->mode ? e->mode : "lockstep")),
		    e->client_shim, 160, NULL, &client);
	/* A failed client leaves the server waiting for connections: do not wait long. */
	gp_bg_wait(&server, WIFEXITED(client.status) && WEXITSTATUS(client.status) == 0 ? 30 : 2);

	snprintf(want_client, sizeof(want_client), "ok %d %ld\n", e->clients, e->bytes);
	snprintf(want_server, sizeof(want_server), "port %s\nserved %d bytes %ld\n", port,
		 e->clients, e->bytes * e->clients);
	gp_expect_ok(&client);
	gp_expect_ok(&server.run);
	cr_expect_str_eq(client.out, want_client, "client printed \"%s\", expected \"%s\"",
			 client.out, want_client);
	cr_expect_str_eq(server.run.out, want_server, "server printed \"%s\", expected \"%s\"",
			 server.run.out, want_server);
	if (e->client_shim && WIFEXITED(client.status) && WEXITSTATUS(client.status) == 0)
		expect_green(&client);
	if (e->server_shim && WIFEXITED(server.run.status) && WEXITSTATUS(server.run.status) == 0)
		expect_green(&server.run);
	gp_run_free(&client);
	gp_bg_stop(&server);
}

TestSuite(echo, .timeout = 240, .fini = gp_bg_stop_all);

/* Both native: the programs themselves are right. */
Test(echo, native_both_small)
{
	run_echo(&(struct echo){ .clients = 10, .bytes = 100000 });
}

Test(echo, native_both_1000)
{
	run_echo(&(struct echo){ .clients = 1000, .bytes = 16384 });
}

Test(echo, shim_server_small)
{
	run_echo(&(struct echo){ .server_shim = true, .clients = 10, .bytes = 100000 });
}

Test(echo, shim_client_small)
{
	run_echo(&(struct echo){ .client_shim = true, .clients = 10, .bytes = 100000 });
}

Test(echo, shim_both_small)
{
	run_echo(&(struct echo){
		.server_shim = true, .client_shim = true, .clients = 10, .bytes = 100000 });
}

Test(echo, shim_server_1000_native_client)
{
	run_echo(&(struct echo){ .server_shim = true, .clients = 1000, .bytes = 16384 });
}

Test(echo, native_server_shim_client_1000)
{
	run_echo(&(struct echo){ .client_shim = true, .clients = 1000, .bytes = 16384 });
}

Test(echo, shim_both_1000)
{
	run_echo(&(struct echo){
		.server_shim = true, .client_shim = true, .clients = 1000, .bytes = 16384 });
}

/* recv/send and accept4 in the server. */
Test(echo, shim_server_sendrecv_accept4)
{
	run_echo(&(struct echo){ .server_shim = true,
				 .clients = 100,
				 .bytes = 50000,
				 .io = "sendrecv",
				 .accept = "accept4" });
}

/* One thread reads while another writes the same socket, with more data than the socket
   buffers hold, so that both block at once. */
Test(echo, shim_client_duplex)
{
	run_echo(&(struct echo){
		.client_shim = true, .clients = 20, .bytes = 4 << 20, .mode = "duplex" });
}

Test(echo, shim_both_duplex_1000)
{
	run_echo(&(struct echo){ .server_shim = true,
				 .client_shim = true,
				 .clients = 1000,
				 .bytes = 65536,
				 .mode = "duplex" });
}

Test(echo, shim_both_fortify)
{
	run_echo(&(struct echo){ .server_shim = true,
				 .client_shim = true,
				 .server = "echo_server.fortify",
				 .client = "echo_client.fortify",
				 .clients = 200,
				 .bytes = 50000,
				 .io = "sendrecv",
				 .accept = "accept4" });
}
