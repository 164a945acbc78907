/*
 * ws_server NCONN
 *
 * A WebSocket (RFC 6455) echo server written the way a C programmer writes one without
 * an event loop: blocking accept, a detached thread per connection with default
 * attributes, blocking read and write, the handshake's SHA-1 and base64 by hand. It
 * listens on 127.0.0.1 at a port the kernel picks, prints "port P", and serves until
 * NCONN connections have ended (or two minutes have passed); then it prints its counts
 * and exits 0, or 1 if a client broke the protocol.
 *
 * A connection starts with an HTTP/1.1 GET carrying Upgrade: websocket and a
 * Sec-WebSocket-Key, answered with 101 and Sec-WebSocket-Accept (and the first
 * subprotocol offered, if any). Then frames: masked, as clients must send them, of any
 * length (7, 16 and 64-bit lengths), messages in several fragments put together. Every
 * text or binary message is echoed as one unmasked frame of the same type; a ping is
 * answered by a pong with its payload; a pong is ignored; a close is answered by a close
 * with the same status code, and the connection ends. A connection that ends without a
 * close, or breaks the protocol (an unmasked frame, a bad opcode, a control frame over 125
 * bytes or in fragments, a message over 16 MiB), counts apart.
 */
#define PROG "ws_server"
#include "progs.h"

#include <stdint.h>
#include <strings.h>

#define HEAD_MAX 8192
#define MESSAGE_MAX (16u << 20)
#define RUN_MAX_S 120

enum { OP_CONT = 0, OP_TEXT = 1, OP_BINARY = 2, OP_CLOSE = 8, OP_PING = 9, OP_PONG = 10 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ended_cond = PTHREAD_COND_INITIALIZER;
static long accepted, ended, messages, pings, closes, unclosed, errors;
static unsigned long long bytes;

/* ---- SHA-1 (FIPS 180-4) and base64, for Sec-WebSocket-Accept ---------------------- */

static uint32_t rol(uint32_t x, int n)
{
	return x << n | x >> (32 - n);
}

static void sha1_block(uint32_t h[5], const unsigned char *p)
{
	uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;

		if (i < 20)
			f = (b & c) | (~b & d), k = 0x5a827999;
		else if (i < 40)
			f = b ^ c ^ d, k = 0x6ed9eba1;
		else if (i < 60)
			f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
		else
			f = b ^ c ^ d, k = 0xca62c1d6;
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d, d = c, c = rol(b, 30), b = a, a = t;
	}
	h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
}

static void sha1(const void *data, size_t len, unsigned char out[20])
{
	uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0 };
	const unsigned char *p = data;
	unsigned char last[128] = { 0 };
	size_t full = len / 64 * 64, rest = len - full, tail = rest < 56 ? 64 : 128;
	uint64_t bits = (uint64_t)len * 8;

	for (size_t i = 0; i < full; i += 64)
		sha1_block(h, p + i);
	memcpy(last, p + full, rest);
	last[rest] = 0x80;
	for (int i = 0; i < 8; i++)
		last[tail - 1 - i] = (unsigned char)(bits >> (8 * i));
	for (size_t i = 0; i < tail; i += 64)
		sha1_block(h, last + i);
	for (int i = 0; i < 20; i++)
		out[i] = (unsigned char)(h[i / 4] >> (24 - 8 * (i % 4)));
}

static void base64(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*out++ = digits[v >> 18 & 63];
		*out++ = digits[v >> 12 & 63];
		*out++ = i + 1 < len ? digits[v >> 6 & 63] : '=';
		*out++ = i + 2 < len ? digits[v & 63] : '=';
	}
	*out = '\0';
}

/* ---- blocking I/O ------------------------------------------------------------------- */

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 0 when len bytes were read, -1 on an error or when the peer closed first. */
static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- the handshake ------------------------------------------------------------------ */

/* The value of header name in head (case-insensitive name), cut at its line's end. */
static bool header(const char *head, const char *name, char *val, size_t size)
{
	size_t n = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
		const char *p = l + 2;

		if (strncasecmp(p, name, n) != 0 || p[n] != ':')
			continue;
		p += n + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		size_t len = strcspn(p, "\r\n");
		if (len >= size)
			return false;
		memcpy(val, p, len);
		while (len > 0 && (val[len - 1] == ' ' || val[len - 1] == '\t'))
			len--;
		val[len] = '\0';
		return true;
	}
	return false;
}

static int handshake(int fd)
{
	char head[HEAD_MAX], key[128], proto[256], resp[512], accept_key[32];
	size_t len = 0;

	/* Byte by byte up to the blank line: what follows it is the client's first frame. */
	while (len < sizeof(head) - 1) {
		if (read_all(fd, head + len, 1) != 0)
			return -1;
		len++;
		if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	head[len] = '\0';
	if (strncmp(head, "GET ", 4) != 0 || !header(head, "Sec-WebSocket-Key", key, 100)) {
		static const char bad[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
		write_all(fd, bad, sizeof(bad) - 1);
		return -1;
	}

	unsigned char digest[20];
	strcat(key, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
	sha1(key, strlen(key), digest);
	base64(digest, sizeof(digest), accept_key);

	int n = snprintf(resp, sizeof(resp),
			 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
			 "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
			 accept_key);
	if (header(head, "Sec-WebSocket-Protocol", proto, sizeof(proto))) {
		proto[strcspn(proto, ", ")] = '\0';
		n += snprintf(resp + n, sizeof(resp) - n, "Sec-WebSocket-Protocol: %s\r\n", proto);
	}
	n += snprintf(resp + n, sizeof(resp) - n, "\r\n");
	return write_all(fd, resp, (size_t)n);
}

/* ---- frames ------------------------------------------------------------------------- */

/* One unmasked frame with FIN set: a server never masks. */
static int send_frame(int fd, int op, const void *data, size_t len)
{
	unsigned char h[10];
	size_t hl = 2;

	h[0] = 0x80 | (unsigned char)op;
	if (len < 126) {
		h[1] = (unsigned char)len;
	} else if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
		hl = 10;
	}
	if (write_all(fd, h, hl) != 0)
		return -1;
	return write_all(fd, data, len);
}

struct frame {
	bool fin;
	int op;
	uint64_t len;
	unsigned char mask[4];
};

/* 0, or -1 when the peer closed or the connection failed, or -2 on a protocol error. */
static int read_header(int fd, struct frame *f)
{
	unsigned char h[8];

	if (read_all(fd, h, 2) != 0)
		return -1;
	f->fin = h[0] & 0x80;
	f->op = h[0] & 0x0f;
	f->len = h[1] & 0x7f;
	if (h[0] & 0x70 || !(h[1] & 0x80))
		return -2; /* no extension was agreed, and clients must mask */
	if (f->len == 126) {
		if (read_all(fd, h, 2) != 0)
			return -1;
		f->len = (uint64_t)h[0] << 8 | h[1];
	} else if (f->len == 127) {
		if (read_all(fd, h, 8) != 0)
			return -1;
		f->len = 0;
		for (int i = 0; i < 8; i++)
			f->len = f->len << 8 | h[i];
	}
	if (read_all(fd, f->mask, 4) != 0)
		return -1;
	bool control = f->op >= OP_CLOSE;
	if (control && (f->len > 125 || !f->fin))
		return -2;
	if (f->op > OP_BINARY && !control)
		return -2;
	if (f->op > OP_PONG)
		return -2;
	return 0;
}

static int read_payload(int fd, const struct frame *f, unsigned char *buf)
{
	if (read_all(fd, buf, f->len) != 0)
		return -1;
	for (uint64_t i = 0; i < f->len; i++)
		buf[i] ^= f->mask[i % 4];
	return 0;
}

static void count(long *what, unsigned long long nbytes)
{
	pthread_mutex_lock(&lock);
	++*what;
	bytes += nbytes;
	pthread_mutex_unlock(&lock);
}

/* Frames until a close, the end of the connection or a protocol error. */
static void serve(int fd)
{
	unsigned char *msg = NULL, control[125];
	size_t msg_len = 0;
	int msg_op = 0;

	for (;;) {
		struct frame f;
		int r = read_header(fd, &f);

		if (r == -1) {
			count(&unclosed, 0);
			break;
		}
		/* A continuation comes after a first fragment, a new message never does. */
		bool bad = r == -2 || (f.op == OP_CONT) != (msg_op != 0 && f.op < OP_CLOSE);
		bool too_big = !bad && f.op < OP_CLOSE && msg_len + f.len > MESSAGE_MAX;
		if (bad || too_big) {
			uint16_t code = htons(too_big ? 1009 : 1002);
			send_frame(fd, OP_CLOSE, &code, 2);
			count(&errors, 0);
			break;
		}
		if (f.op >= OP_CLOSE) {
			if (read_payload(fd, &f, control) != 0) {
				count(&unclosed, 0);
				break;
			}
			if (f.op == OP_PING) {
				if (send_frame(fd, OP_PONG, control, f.len) != 0)
					break;
				count(&pings, 0);
			} else if (f.op == OP_CLOSE) {
				send_frame(fd, OP_CLOSE, control, f.len < 2 ? f.len : 2);
				count(&closes, 0);
				break;
			}
			continue;
		}
		unsigned char *more = realloc(msg, msg_len + f.len + 1);
		if (!more)
			die("realloc");
		msg = more;
		if (read_payload(fd, &f, msg + msg_len) != 0) {
			count(&unclosed, 0);
			break;
		}
		msg_len += f.len;
		if (f.op != OP_CONT)
			msg_op = f.op;
		if (!f.fin)
			continue;
		if (send_frame(fd, msg_op, msg, msg_len) != 0) {
			count(&unclosed, 0);
			break;
		}
		count(&messages, msg_len);
		msg_len = 0;
		msg_op = 0;
	}
	free(msg);
}

static void *connection(void *arg)
{
	int fd = (int)(intptr_t)arg;

	if (handshake(fd) == 0)
		serve(fd);
	else
		count(&errors, 0);
	close(fd);
	pthread_mutex_lock(&lock);
	ended++;
	pthread_cond_signal(&ended_cond);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static void *acceptor(void *arg)
{
	int lfd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			die("accept");
		}
		pthread_mutex_lock(&lock);
		accepted++;
		pthread_mutex_unlock(&lock);
		int e = pthread_create(&t, NULL, connection, (void *)(intptr_t)fd);
		if (e != 0) {
			errno = e;
			die("pthread_create");
		}
		pthread_detach(t);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2 || atol(argv[1]) < 1)
		fail("usage: ws_server NCONN");
	long want = atol(argv[1]);
	int lfd = serve_loopback();
	pthread_t t;

	if (pthread_create(&t, NULL, acceptor, (void *)(intptr_t)lfd) != 0)
		fail("pthread_create failed");
	pthread_detach(t);

	struct timespec deadline = clock_after(CLOCK_REALTIME, RUN_MAX_S * 1000L);
	pthread_mutex_lock(&lock);
	while (ended < want)
		if (pthread_cond_timedwait(&ended_cond, &lock, &deadline) == ETIMEDOUT)
			break;
	printf("connections %ld, ended %ld: closed cleanly %ld, without a close %ld, "
	       "protocol errors %ld\n",
	       accepted, ended, closes, unclosed, errors);
	printf("messages echoed %ld (%llu bytes), pings answered %ld\n", messages, bytes, pings);
	bool ok = ended >= want && errors == 0;
	pthread_mutex_unlock(&lock);
	report_status("VmHWM:");
	fflush(stdout);
	exit(ok ? 0 : 1);
}
