// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One control session per relay: dial, authenticate, register, heartbeat,
 * reconnect.
 *
 *   WAIT --tick--> CONNECT --connected--> HANDSHAKE --TLS ok, relay's key is
 *   the pinned identity--> WELCOME (HELLO sent) --WELCOME--> READY
 *   any failure --> CLOSING (ops drain) --> WAIT (backoff with jitter)
 *
 * Dead peers: the agent pings every heartbeat and gives up after three
 * heartbeats without any frame from the relay; TCP_USER_TIMEOUT gives up on
 * unacknowledged data as fast.  The relay pings too (its heartbeat probe).
 *
 * Backoff, "equal jitter" (half fixed, half random) so that a relay restart
 * is not met by every agent in the same millisecond; reset by a WELCOME:
 *   - transport failures (refused, reset, timeout, relay restarting):
 *     0.25 s doubling to 1.5 s, so an agent is back within 2 s of its relay;
 *   - refusals (the relay does not know our identity, or sees it connected
 *     from elsewhere; the relay's key is not the pinned one): 1 s doubling to
 *     30 s, each attempt logged as an error.
 * A WELCOME that refuses some names keeps the session (the other names
 * work), logs an error per refused name and registers again every 30 s.
 * With --once, any refusal ends the agent with exit status 1: it never runs
 * silently without a forward (the lesson of ssh's ExitOnForwardFailure).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "agent.h"
#include "identity.h"
#include "log.h"

#define CONNECT_NS    (10ull * 1000000000ull)
#define RETRY_MIN     250u
#define RETRY_MAX     1500u
#define REFUSED_MIN   1000u
#define REFUSED_MAX   30000u
#define REHELLO_NS    (30ull * 1000000000ull)
#define OBUF_MAX      (256u * 1024)

static struct xr_msg scratch;

static void drive(struct relay_sess *rs);
static void flush(struct relay_sess *rs);
static void rd_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);
static void wr_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);
static void conn_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

static struct xr_msg *msg_new(uint8_t type)
{
	xr_msg_init(&scratch, type);
	return &scratch;
}

void sess_start(struct agent *a, struct relay_sess *rs)
{
	rs->a = a;
	rs->fd = -1;
	rs->state = RS_WAIT;
	rs->rd_op.cb = rd_cb;
	rs->rd_op.ctx = rs;
	rs->wr_op.cb = wr_cb;
	rs->wr_op.ctx = rs;
	rs->conn_op.cb = conn_cb;
	rs->conn_op.ctx = rs;
	rs->next_try_ns = now_ns();
	rs->heartbeat_ms = a->cfg.heartbeat_ms;
}

/* All ops back: release the connection, wait for the next attempt. */
static void settle(struct relay_sess *rs)
{
	if (rs->state != RS_CLOSING || rs->rd_busy || rs->wr_busy || rs->conn_busy)
		return;
	if (rs->ssl)
		SSL_free(rs->ssl);
	rs->ssl = NULL;
	if (rs->fd >= 0)
		close(rs->fd);
	rs->fd = -1;
	free(rs->ibuf);
	free(rs->obuf);
	rs->ibuf = rs->obuf = NULL;
	rs->ilen = rs->olen = rs->ocap = 0;
	rs->state = RS_WAIT;
}

static void fail(struct relay_sess *rs, const char *why)
{
	uint32_t delay;
	unsigned rnd = 0;

	if (rs->state == RS_CLOSING || rs->state == RS_WAIT)
		return;
	if (rs->refused) {
		rs->backoff_ms = rs->backoff_ms < REFUSED_MIN ? REFUSED_MIN : rs->backoff_ms * 2;
		if (rs->backoff_ms > REFUSED_MAX)
			rs->backoff_ms = REFUSED_MAX;
	} else {
		rs->backoff_ms = rs->backoff_ms ? rs->backoff_ms * 2 : RETRY_MIN;
		if (rs->backoff_ms > RETRY_MAX)
			rs->backoff_ms = RETRY_MAX;
	}
	RAND_bytes((unsigned char *)&rnd, sizeof(rnd));
	delay = rs->backoff_ms / 2 + rnd % (rs->backoff_ms / 2 + 1);
	rs->next_try_ns = now_ns() + (uint64_t)delay * 1000000ull;
	rs->failures++;
	if (rs->refused)
		xr_err("relay refused this agent", "relay=%s reason=\"%s\" retry_ms=%u attempt=%u",
		       rs->cfg->address, why, delay, rs->failures);
	else if (rs->state == RS_READY)
		xr_warn("relay session lost", "relay=%s reason=\"%s\" retry_ms=%u", rs->cfg->address, why,
			delay);
	else
		xr_warn("relay session failed", "relay=%s reason=\"%s\" retry_ms=%u", rs->cfg->address,
			why, delay);
	if (rs->refused && rs->a->once) {
		xr_err("stopping: --once and the relay refused", "relay=%s", rs->cfg->address);
		rs->a->exit_code = 1;
		rs->a->loop.stop = true;
	}
	rs->state = RS_CLOSING;
	if (rs->fd >= 0)
		shutdown(rs->fd, SHUT_RDWR);   /* wakes our polls */
	if (rs->conn_busy) {
		struct io_uring_sqe *sqe = xr_loop_sqe(&rs->a->loop, NULL);

		io_uring_prep_cancel(sqe, &rs->conn_op, 0);
	}
	/* settle from a completion, never from under drive(): with nothing in
	 * flight, a NOP brings rd_cb back */
	if (!rs->rd_busy && !rs->wr_busy && !rs->conn_busy) {
		io_uring_prep_nop(xr_loop_sqe(&rs->a->loop, &rs->rd_op));
		rs->rd_busy = 1;
	}
}

/* A refusal: longer backoff, an error per attempt, the end with --once. */
static void refused(struct relay_sess *rs, const char *why)
{
	rs->refused = 1;
	fail(rs, why);
}

static void try_connect(struct relay_sess *rs)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *p;
	char port[8];
	int n = 0, pick, one = 1, rc;
	unsigned uto;
	struct io_uring_sqe *sqe;

	snprintf(port, sizeof(port), "%u", rs->cfg->port);
	rs->state = RS_CONNECT;
	rs->deadline_ns = now_ns() + CONNECT_NS;
	rc = getaddrinfo(rs->cfg->host, port, &hints, &ai);
	if (rc) {
		fail(rs, gai_strerror(rc));
		return;
	}
	for (p = ai; p; p = p->ai_next)
		n++;
	/* several addresses: a different one after each failure */
	pick = (int)(rs->failures % (unsigned)n);
	for (p = ai; pick--; p = p->ai_next)
		;
	memcpy(&rs->addr, p->ai_addr, p->ai_addrlen);
	rs->alen = p->ai_addrlen;
	freeaddrinfo(ai);
	rs->fd = socket(rs->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (rs->fd < 0) {
		fail(rs, strerror(errno));
		return;
	}
	setsockopt(rs->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	uto = 3 * rs->a->cfg.heartbeat_ms;
	setsockopt(rs->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &uto, sizeof(uto));
	sqe = xr_loop_sqe(&rs->a->loop, &rs->conn_op);
	io_uring_prep_connect(sqe, rs->fd, (struct sockaddr *)&rs->addr, rs->alen);
	rs->conn_busy = 1;
}

static void conn_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct relay_sess *rs = op->ctx;
	struct in6_addr tmp;

	(void)loop;
	rs->conn_busy = 0;
	if (rs->state == RS_CLOSING) {
		settle(rs);
		return;
	}
	if (cqe->res < 0) {
		fail(rs, strerror(-cqe->res));
		return;
	}
	fcntl(rs->fd, F_SETFL, fcntl(rs->fd, F_GETFL) | O_NONBLOCK);
	rs->ssl = SSL_new(rs->a->ctl_ctx);
	rs->ibuf = malloc(XR_FRAME_HDR + XR_FRAME_MAX);
	if (!rs->ssl || !rs->ibuf || !SSL_set_fd(rs->ssl, rs->fd)) {
		fail(rs, "out of memory");
		return;
	}
	/* the relay's name in SNI: how its public TLS port recognises agents
	 * (control.hostname); `sni:` names it when the address is a literal */
	if (rs->cfg->sni[0])
		SSL_set_tlsext_host_name(rs->ssl, rs->cfg->sni);
	else if (inet_pton(AF_INET, rs->cfg->host, &tmp) != 1 &&
		 inet_pton(AF_INET6, rs->cfg->host, &tmp) != 1)
		SSL_set_tlsext_host_name(rs->ssl, rs->cfg->host);
	rs->state = RS_HANDSHAKE;
	drive(rs);
}

static void arm(struct relay_sess *rs, bool write)
{
	struct io_uring_sqe *sqe;

	if (write ? rs->wr_busy : rs->rd_busy)
		return;
	sqe = xr_loop_sqe(&rs->a->loop, write ? &rs->wr_op : &rs->rd_op);
	io_uring_prep_poll_add(sqe, rs->fd, write ? POLLOUT : POLLIN | POLLRDHUP);
	*(write ? &rs->wr_busy : &rs->rd_busy) = 1;
}

static int send_msg(struct relay_sess *rs, const struct xr_msg *m)
{
	uint8_t frame[XR_FRAME_HDR + XR_FRAME_MAX];
	int n = xr_msg_encode(m, frame, sizeof(frame));

	if (n < 0)
		return -1;
	if (rs->olen + (size_t)n > rs->ocap) {
		size_t cap = rs->ocap ? rs->ocap : 4096;
		uint8_t *nb;

		while (cap < rs->olen + (size_t)n)
			cap *= 2;
		if (cap > OBUF_MAX || !(nb = realloc(rs->obuf, cap))) {
			fail(rs, "control output backlog");
			return -1;
		}
		rs->obuf = nb;
		rs->ocap = cap;
	}
	memcpy(rs->obuf + rs->olen, frame, (size_t)n);
	rs->olen += (size_t)n;
	return 0;
}

static void send_hello(struct relay_sess *rs)
{
	const struct xr_agent_cfg *c = &rs->a->cfg;
	struct xr_msg *m = msg_new(XR_MSG_HELLO);

	m->version = XR_PROTO_VERSION;
	snprintf(m->name, sizeof(m->name), "%s", c->name);
	m->pool = (uint16_t)c->pool;
	m->heartbeat_ms = c->heartbeat_ms;
	for (int i = 0; i < c->n_services && m->n_hosts < XR_PROTO_MAX_HOSTS; i++)
		snprintf(m->hosts[m->n_hosts++], XR_PROTO_HOST_LEN, "%s", c->services[i].hostname);
	send_msg(rs, m);
}

/* The services' states as a HEALTH message, queued; -1 when nothing was. */
static int queue_health(struct relay_sess *rs)
{
	static struct xr_msg m;

	if (rs->state != RS_READY || !probes_report(rs->a, &m))
		return -1;
	return send_msg(rs, &m);
}

static void on_frame(struct relay_sess *rs, uint8_t type, const uint8_t *p, size_t n)
{
	struct xr_msg *m = &scratch;
	int rc = xr_msg_decode(type, p, n, m);
	char why[200];

	if (rc) {
		snprintf(why, sizeof(why), "bad %s frame from the relay: %s", xr_msg_type_name(type),
			 xr_proto_strerror(rc));
		fail(rs, why);
		return;
	}
	rs->last_rx_ns = now_ns();
	switch (type) {
	case XR_MSG_WELCOME: {
		bool again = rs->state == RS_READY;

		if (rs->state != RS_WELCOME && !again) {
			fail(rs, "unexpected WELCOME");
			return;
		}
		for (unsigned i = 0; i < m->n_refused; i++)
			xr_err("hostname refused by the relay", "relay=%s hostname=%s reason=\"%s\" "
			       "retry_s=%llu", rs->cfg->address, m->refused[i].host, m->refused[i].reason,
			       rs->a->once ? 0ull : REHELLO_NS / 1000000000ull);
		rs->session_id = m->session;
		if (m->heartbeat_ms)
			rs->heartbeat_ms = m->heartbeat_ms;
		rs->state = RS_READY;
		rs->backoff_ms = 0;
		rs->failures = 0;
		rs->refused = 0;
		rs->names_refused = m->n_refused > 0;
		rs->rehello_ns = now_ns() + REHELLO_NS;
		if (!again)
			rs->next_ping_ns = now_ns() + (uint64_t)rs->heartbeat_ms * 1000000ull;
		xr_info(again ? "relay registration renewed" : "relay session up",
			"relay=%s session=%llu hostnames=%u refused=%u", rs->cfg->address,
			(unsigned long long)m->session, m->n_hosts, m->n_refused);
		if (rs->names_refused && rs->a->once) {
			xr_err("stopping: --once and the relay refused", "relay=%s", rs->cfg->address);
			rs->a->exit_code = 1;
			rs->a->loop.stop = true;
			return;
		}
		queue_health(rs);       /* drive() flushes */
		return;
	}
	case XR_MSG_TOKEN:
		if (rs->state != RS_READY) {
			fail(rs, "TOKEN before WELCOME");
			return;
		}
		for (unsigned i = 0; i < m->n_tokens; i++)
			data_dial(rs, m->tokens[i]);
		return;
	case XR_MSG_PING: {
		uint64_t nonce = m->nonce;

		m = msg_new(XR_MSG_PONG);
		m->nonce = nonce;
		send_msg(rs, m);
		return;
	}
	case XR_MSG_PONG:
		return;
	case XR_MSG_ERROR:
		snprintf(why, sizeof(why), "relay says: %.120s (code %u)", m->text, m->code);
		if (m->code == XR_ERR_IDENTITY || m->code == XR_ERR_DUPLICATE || m->code == XR_ERR_VERSION)
			refused(rs, why);
		else
			fail(rs, why);
		return;
	default:
		snprintf(why, sizeof(why), "unexpected %s from the relay", xr_msg_type_name(type));
		fail(rs, why);
		return;
	}
}

static void drive(struct relay_sess *rs)
{
	char ebuf[300], tls[200];
	int rc, e;

	if (rs->state == RS_HANDSHAKE) {
		uint8_t id[32];

		ERR_clear_error();
		rc = SSL_connect(rs->ssl);
		if (rc <= 0) {
			e = SSL_get_error(rs->ssl, rc);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
				return arm(rs, e == SSL_ERROR_WANT_WRITE);
			snprintf(ebuf, sizeof(ebuf), "TLS handshake: %s",
				 e == SSL_ERROR_SSL ? xr_tls_errstr(tls, sizeof(tls)) : "connection lost");
			return fail(rs, ebuf);
		}
		if (xr_tls_peer_identity(rs->ssl, id) || memcmp(id, rs->cfg->identity, 32)) {
			char line[XR_IDENTITY_STR_LEN];

			xr_identity_format(id, line, sizeof(line));
			snprintf(ebuf, sizeof(ebuf), "the relay's identity is \"%s\", not the one pinned in "
				 "the config", line);
			return refused(rs, ebuf);
		}
		rs->state = RS_WELCOME;
		rs->last_rx_ns = now_ns();
		send_hello(rs);
	}
	for (;;) {
		size_t off = 0;

		if (rs->state == RS_CLOSING)
			return;
		ERR_clear_error();
		rc = SSL_read(rs->ssl, rs->ibuf + rs->ilen, (int)(XR_FRAME_HDR + XR_FRAME_MAX - rs->ilen));
		if (rc <= 0) {
			e = SSL_get_error(rs->ssl, rc);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				arm(rs, e == SSL_ERROR_WANT_WRITE);
				break;
			}
			return fail(rs, e == SSL_ERROR_ZERO_RETURN ? "closed by the relay" : "connection lost");
		}
		rs->ilen += (size_t)rc;
		for (;;) {
			uint8_t type;
			const uint8_t *p;
			size_t plen;
			int n = xr_frame_split(rs->ibuf + off, rs->ilen - off, &type, &p, &plen);

			if (n == 0)
				break;
			if (n < 0) {
				snprintf(ebuf, sizeof(ebuf), "bad frame from the relay: %s", xr_proto_strerror(n));
				return fail(rs, ebuf);
			}
			on_frame(rs, type, p, plen);
			if (rs->state == RS_CLOSING)
				return;
			off += (size_t)n;
		}
		memmove(rs->ibuf, rs->ibuf + off, rs->ilen - off);
		rs->ilen -= off;
	}
	flush(rs);
}

/* Write what is queued; never reads. */
static void flush(struct relay_sess *rs)
{
	int rc, e;

	while (rs->olen && rs->state != RS_CLOSING && rs->ssl) {
		ERR_clear_error();
		rc = SSL_write(rs->ssl, rs->obuf, (int)rs->olen);
		if (rc <= 0) {
			e = SSL_get_error(rs->ssl, rc);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
				return arm(rs, e == SSL_ERROR_WANT_WRITE);
			return fail(rs, "connection lost while writing");
		}
		memmove(rs->obuf, rs->obuf + rc, rs->olen - (size_t)rc);
		rs->olen -= (size_t)rc;
	}
}

static void rd_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct relay_sess *rs = op->ctx;

	(void)loop;
	(void)cqe;
	rs->rd_busy = 0;
	if (rs->state == RS_CLOSING)
		return settle(rs);
	drive(rs);
}

static void wr_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct relay_sess *rs = op->ctx;

	(void)loop;
	(void)cqe;
	rs->wr_busy = 0;
	if (rs->state == RS_CLOSING)
		return settle(rs);
	drive(rs);
}

void sess_tick(struct relay_sess *rs)
{
	uint64_t now = now_ns();

	switch (rs->state) {
	case RS_WAIT:
		if (now >= rs->next_try_ns)
			try_connect(rs);
		return;
	case RS_CONNECT:
	case RS_HANDSHAKE:
	case RS_WELCOME:
		if (now > rs->deadline_ns)
			fail(rs, "no session within 10 s");
		return;
	case RS_READY:
		if (now - rs->last_rx_ns > 3ull * rs->heartbeat_ms * 1000000ull) {
			fail(rs, "heartbeat timeout (3 missed)");
			return;
		}
		if (rs->names_refused && now >= rs->rehello_ns) {
			rs->rehello_ns = now + REHELLO_NS;
			send_hello(rs);
			if (!rs->wr_busy)
				flush(rs);
		}
		if (now >= rs->next_ping_ns) {
			struct xr_msg *m = msg_new(XR_MSG_PING);

			m->nonce = ++rs->nonce;
			rs->next_ping_ns = now + (uint64_t)rs->heartbeat_ms * 1000000ull;
			if (!send_msg(rs, m) && !rs->wr_busy)
				flush(rs);
		}
		return;
	case RS_CLOSING:
		return;
	}
}

void sess_send_health(struct relay_sess *rs)
{
	if (!queue_health(rs) && !rs->wr_busy)
		flush(rs);
}

void sess_stop(struct relay_sess *rs)
{
	if (rs->state == RS_READY && rs->ssl) {
		struct xr_msg *m = msg_new(XR_MSG_ERROR);

		m->code = XR_ERR_SHUTDOWN;
		snprintf(m->text, sizeof(m->text), "agent stopping");
		if (!send_msg(rs, m)) {
			SSL_write(rs->ssl, rs->obuf, (int)rs->olen);
			SSL_shutdown(rs->ssl);
		}
	}
}
