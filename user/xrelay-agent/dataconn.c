// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Data connections: for each token the relay sends, dial the relay, present
 * "XRD1" + token, wait for the OPEN frame (at once for a public connection
 * that is waiting; later for a warm-pool connection), connect to the
 * service's target, optionally send a PROXY v2 header, then either
 *   - pass the bytes through (pump.c: io_uring, bounded, half-close and
 *     resets propagated), or
 *   - terminate TLS here (services with tls.cert/tls.key) and bridge the
 *     plaintext to the target: one 16 KiB buffer per direction, driven by
 *     io_uring polls on non-blocking sockets.
 * Anything failing after OPEN resets the relay side, so that the public
 * client sees a reset, not a hang.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <openssl/err.h>

#include "agent.h"
#include "hostmatch.h"
#include "log.h"
#include "proxyv2.h"

#define OPEN_MAX     1024u                  /* OPEN payloads are small */
#define BRIDGE_BUF   (16u * 1024)
#define TLS_HS_NS    (10ull * 1000000000ull)
#define STEP_ROUNDS  32

enum dc_state { DC_DIAL, DC_OPEN_HDR, DC_OPEN_BODY, DC_TARGET, DC_PUMP, DC_BRIDGE };
enum { P_RIN, P_ROUT, P_TIN, P_TOUT, P_N };

struct dconn {
	struct agent *a;
	struct relay_sess *rs;
	int rfd, tfd;
	enum dc_state state;
	struct xr_op op;
	uint8_t busy;
	uint8_t hdr[XR_FRAME_HDR + OPEN_MAX];
	uint32_t have, need;
	struct service *svc;
	struct xr_proto_ep client, server;
	uint64_t flow;
	struct xr_pump pump;
	/* TLS bridge */
	SSL *ssl;
	struct xr_op pop[P_N];
	uint8_t pbusy[P_N];
	uint8_t *abuf, *bbuf;           /* a: client -> target (plaintext), b: target -> client */
	uint32_t alen, aoff, blen, boff;
	uint8_t aeof, beof, closing, reset, hs_done;
	uint64_t hs_deadline;
	struct dconn *prev, *next;      /* bridges, for the handshake deadline */
};

static struct dconn *bridges;
static struct xr_msg scratch;

static void linger0(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* Before the pump or bridge owns the sockets: close (with a reset towards
 * the relay when a public client is waiting on the other end). */
static void dc_free(struct dconn *d, int reset)
{
	if (reset)
		linger0(d->rfd);
	if (d->rfd >= 0)
		close(d->rfd);
	if (d->tfd >= 0)
		close(d->tfd);
	free(d);
}

static void dc_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

static void arm_recv_open(struct dconn *d)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&d->a->loop, &d->op);

	io_uring_prep_recv(sqe, d->rfd, d->hdr + d->have, d->need - d->have, 0);
	d->busy = 1;
}

void data_dial(struct relay_sess *rs, const uint8_t token[XR_TOKEN_LEN])
{
	struct agent *a = rs->a;
	struct dconn *d = calloc(1, sizeof(*d));
	struct io_uring_sqe *sqe;
	int one = 1;

	if (!d)
		return;
	d->a = a;
	d->rs = rs;
	d->tfd = -1;
	d->op.cb = dc_cb;
	d->op.ctx = d;
	d->rfd = socket(rs->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->rfd < 0) {
		a->st.dial_errors++;
		free(d);
		return;
	}
	setsockopt(d->rfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* a warm connection waits for OPEN as long as the relay likes; if the
	 * relay vanishes without a FIN, keepalives reap it within a minute */
	{
		int idle = 30, intvl = 10, cnt = 3;

		setsockopt(d->rfd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		setsockopt(d->rfd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		setsockopt(d->rfd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		setsockopt(d->rfd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	}
	memcpy(d->hdr, XR_DATA_MAGIC, 4);
	memcpy(d->hdr + 4, token, XR_TOKEN_LEN);
	d->state = DC_DIAL;
	a->st.dials++;
	rs->dials++;
	sqe = xr_loop_sqe(&a->loop, &d->op);
	io_uring_prep_connect(sqe, d->rfd, (struct sockaddr *)&rs->addr, rs->alen);
	d->busy = 1;
}

static struct service *find_service(struct agent *a, const char *host)
{
	for (int i = 0; i < a->cfg.n_services; i++)
		if (!strcasecmp(a->svc[i].cfg->hostname, host))
			return &a->svc[i];
	for (int i = 0; i < a->cfg.n_services; i++)
		if (xr_host_match(a->svc[i].cfg->hostname, host))
			return &a->svc[i];
	return NULL;
}

static void bridge_start(struct dconn *d);

static const struct xr_pump_ops pump_ops;

static void target_ready(struct dconn *d)
{
	struct agent *a = d->a;
	int rfd = d->rfd, tfd = d->tfd;

	if (d->svc->cfg->proxy_protocol) {
		uint8_t h[XR_PROXY_V2_MAX];
		int n = xr_proxy_v2(h, sizeof(h), &d->client, d->server.family ? &d->server : NULL);

		/* a fresh connection's send buffer takes 52 bytes at once */
		if (n < 0 || send(tfd, h, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) != n) {
			a->st.target_errors++;
			dc_free(d, 1);
			return;
		}
	}
	a->st.active++;
	if (d->svc->terminate) {
		bridge_start(d);
		return;
	}
	d->state = DC_PUMP;
	if (xr_pump_start(&a->pumps, &d->pump, rfd, tfd, &pump_ops, d)) {
		a->st.active--;
		dc_free(d, 1);
	}
}

static void got_open(struct dconn *d)
{
	struct agent *a = d->a;
	struct xr_msg *m = &scratch;
	struct io_uring_sqe *sqe;
	int one = 1;
	int rc = xr_msg_decode(d->hdr[0], d->hdr + XR_FRAME_HDR, d->need - XR_FRAME_HDR, m);

	if (rc || m->type != XR_MSG_OPEN) {
		xr_warn("bad OPEN from the relay", "relay=%s error=\"%s\"", d->rs->cfg->address,
			xr_proto_strerror(rc));
		dc_free(d, 1);
		return;
	}
	a->st.opens++;
	d->flow = m->flow;
	d->client = m->client;
	d->server = m->server;
	d->svc = find_service(a, m->hosts[0]);
	if (!d->svc) {
		xr_warn("OPEN for a name this agent does not serve", "hostname=%s", m->hosts[0]);
		dc_free(d, 1);
		return;
	}
	xr_dbg("open", "flow=%llu hostname=%s", (unsigned long long)d->flow, m->hosts[0]);
	d->tfd = socket(d->svc->target.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (d->tfd < 0) {
		a->st.target_errors++;
		dc_free(d, 1);
		return;
	}
	setsockopt(d->tfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	d->state = DC_TARGET;
	sqe = xr_loop_sqe(&a->loop, &d->op);
	io_uring_prep_connect(sqe, d->tfd, (struct sockaddr *)&d->svc->target, d->svc->tlen);
	d->busy = 1;
}

static void dc_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct dconn *d = op->ctx;
	struct agent *a = d->a;
	int res = cqe->res;

	(void)loop;
	d->busy = 0;
	switch (d->state) {
	case DC_DIAL:
		d->rs->dials--;
		if (res < 0 || send(d->rfd, d->hdr, XR_DATA_PREAMBLE, MSG_NOSIGNAL) != XR_DATA_PREAMBLE) {
			a->st.dial_errors++;
			xr_dbg("data connection failed", "relay=%s error=\"%s\"", d->rs->cfg->address,
			       strerror(res < 0 ? -res : errno));
			dc_free(d, 0);
			return;
		}
		d->state = DC_OPEN_HDR;
		d->have = 0;
		d->need = XR_FRAME_HDR;
		arm_recv_open(d);
		return;
	case DC_OPEN_HDR:
	case DC_OPEN_BODY:
		if (res <= 0) {                 /* the relay let a pool connection go */
			dc_free(d, 0);
			return;
		}
		d->have += (uint32_t)res;
		if (d->have < d->need) {
			arm_recv_open(d);
			return;
		}
		if (d->state == DC_OPEN_HDR) {
			uint32_t plen = (uint32_t)d->hdr[2] << 8 | d->hdr[3];

			if (d->hdr[0] != XR_MSG_OPEN || d->hdr[1] || plen == 0 || plen > OPEN_MAX) {
				xr_warn("data connection: expected OPEN", "relay=%s", d->rs->cfg->address);
				dc_free(d, 1);
				return;
			}
			d->state = DC_OPEN_BODY;
			d->need += plen;
			arm_recv_open(d);
			return;
		}
		got_open(d);
		return;
	case DC_TARGET:
		if (res < 0) {
			a->st.target_errors++;
			xr_warn("cannot connect to the target", "hostname=%s target=%s error=\"%s\"",
				d->svc->cfg->hostname, d->svc->cfg->target, strerror(-res));
			dc_free(d, 1);
			return;
		}
		target_ready(d);
		return;
	default:
		return;
	}
}

/* ---- passthrough ---------------------------------------------------------------------- */

static void pump_closed(struct xr_pump *p, int reset)
{
	struct dconn *d = p->owner;

	d->a->st.active--;
	if (reset)
		d->a->st.resets++;
	free(d);
}

static const struct xr_pump_ops pump_ops = { .closed = pump_closed };

/* ---- TLS termination bridge --------------------------------------------------------------- */

static void bridge_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

static void bridge_arm(struct dconn *d, int which)
{
	static const unsigned ev[P_N] = { POLLIN | POLLRDHUP, POLLOUT, POLLIN | POLLRDHUP, POLLOUT };
	struct io_uring_sqe *sqe;

	if (d->pbusy[which])
		return;
	sqe = xr_loop_sqe(&d->a->loop, &d->pop[which]);
	io_uring_prep_poll_add(sqe, which < P_TIN ? d->rfd : d->tfd, ev[which]);
	d->pbusy[which] = 1;
}

static void bridge_end(struct dconn *d, int reset)
{
	if (!d->closing) {
		d->closing = 1;
		d->reset = (uint8_t)reset;
		if (reset)
			d->a->st.resets++;
		/* wake whatever polls are out */
		shutdown(d->rfd, SHUT_RDWR);
		shutdown(d->tfd, SHUT_RDWR);
	}
	for (int i = 0; i < P_N; i++)
		if (d->pbusy[i])
			return;
	if (d->prev)
		d->prev->next = d->next;
	else if (bridges == d)
		bridges = d->next;
	if (d->next)
		d->next->prev = d->prev;
	SSL_free(d->ssl);
	free(d->abuf);
	free(d->bbuf);
	d->a->st.active--;
	dc_free(d, d->reset);
}

/* Client -> target: SSL_read, then send.  Returns 1 to keep going. */
static int step_a(struct dconn *d)
{
	for (int round = 0; round < STEP_ROUNDS; round++) {
		if (d->alen == 0) {
			int n, e;

			if (d->aeof)
				return 1;
			ERR_clear_error();
			n = SSL_read(d->ssl, d->abuf, BRIDGE_BUF);
			if (n <= 0) {
				e = SSL_get_error(d->ssl, n);
				if (e == SSL_ERROR_WANT_READ) {
					bridge_arm(d, P_RIN);
					return 1;
				}
				if (e == SSL_ERROR_WANT_WRITE) {
					bridge_arm(d, P_ROUT);
					return 1;
				}
				if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && n == 0)) {
					d->aeof = 1;                 /* client's FIN: pass it on */
					shutdown(d->tfd, SHUT_WR);
					return 1;
				}
				return 0;
			}
			d->alen = (uint32_t)n;
			d->aoff = 0;
		}
		ssize_t w = send(d->tfd, d->abuf + d->aoff, d->alen - d->aoff, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0) {
			if (errno == EAGAIN) {
				bridge_arm(d, P_TOUT);
				return 1;
			}
			return 0;
		}
		d->aoff += (uint32_t)w;
		if (d->aoff == d->alen)
			d->alen = 0;
	}
	bridge_arm(d, P_RIN);
	return 1;
}

/* Target -> client: recv, then SSL_write. */
static int step_b(struct dconn *d)
{
	for (int round = 0; round < STEP_ROUNDS; round++) {
		if (d->blen == 0) {
			ssize_t n;

			if (d->beof)
				return 1;
			n = recv(d->tfd, d->bbuf, BRIDGE_BUF, MSG_DONTWAIT);
			if (n < 0) {
				if (errno == EAGAIN) {
					bridge_arm(d, P_TIN);
					return 1;
				}
				return 0;
			}
			if (n == 0) {                        /* target's FIN: close_notify + FIN */
				d->beof = 1;
				ERR_clear_error();
				SSL_shutdown(d->ssl);
				shutdown(d->rfd, SHUT_WR);
				return 1;
			}
			d->blen = (uint32_t)n;
			d->boff = 0;
		}
		ERR_clear_error();
		int w = SSL_write(d->ssl, d->bbuf + d->boff, (int)(d->blen - d->boff));

		if (w <= 0) {
			int e = SSL_get_error(d->ssl, w);

			if (e == SSL_ERROR_WANT_WRITE) {
				bridge_arm(d, P_ROUT);
				return 1;
			}
			if (e == SSL_ERROR_WANT_READ) {
				bridge_arm(d, P_RIN);
				return 1;
			}
			return 0;
		}
		d->boff += (uint32_t)w;
		if (d->boff == d->blen)
			d->blen = 0;
	}
	bridge_arm(d, P_TIN);
	return 1;
}

static void bridge_step(struct dconn *d)
{
	if (d->closing) {
		bridge_end(d, d->reset);
		return;
	}
	if (!d->hs_done) {
		int rc, e;

		ERR_clear_error();
		rc = SSL_accept(d->ssl);
		if (rc <= 0) {
			char tls[200];

			e = SSL_get_error(d->ssl, rc);
			if (e == SSL_ERROR_WANT_READ)
				return bridge_arm(d, P_RIN);
			if (e == SSL_ERROR_WANT_WRITE)
				return bridge_arm(d, P_ROUT);
			d->a->st.tls_errors++;
			xr_dbg("TLS handshake with the client failed", "hostname=%s error=\"%s\"",
			       d->svc->cfg->hostname, e == SSL_ERROR_SSL ? xr_tls_errstr(tls, sizeof(tls)) :
			       "connection lost");
			return bridge_end(d, 1);
		}
		d->hs_done = 1;
	}
	if (!step_a(d) || !step_b(d))
		return bridge_end(d, 1);
	if (d->aeof && d->beof && !d->alen && !d->blen)
		bridge_end(d, 0);
}

static void bridge_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct dconn *d = op->ctx;

	(void)loop;
	(void)cqe;
	d->pbusy[op - d->pop] = 0;
	bridge_step(d);
}

static void bridge_start(struct dconn *d)
{
	char err[256];

	if (xr_tls_term_refresh(&d->svc->term, err, sizeof(err)) < 0)
		xr_warn("certificate reload failed; serving the previous one", "hostname=%s error=\"%s\"",
			d->svc->cfg->hostname, err);
	d->state = DC_BRIDGE;
	fcntl(d->rfd, F_SETFL, fcntl(d->rfd, F_GETFL) | O_NONBLOCK);
	fcntl(d->tfd, F_SETFL, fcntl(d->tfd, F_GETFL) | O_NONBLOCK);
	d->ssl = SSL_new(d->svc->term.ctx);
	d->abuf = malloc(BRIDGE_BUF);
	d->bbuf = malloc(BRIDGE_BUF);
	for (int i = 0; i < P_N; i++) {
		d->pop[i].cb = bridge_cb;
		d->pop[i].ctx = d;
	}
	d->hs_deadline = now_ns() + TLS_HS_NS;
	d->next = bridges;
	if (bridges)
		bridges->prev = d;
	bridges = d;
	if (!d->ssl || !d->abuf || !d->bbuf || !SSL_set_fd(d->ssl, d->rfd)) {
		bridge_end(d, 1);
		return;
	}
	bridge_step(d);
}

/* ---- services ---------------------------------------------------------------------------- */

int services_init(struct agent *a, bool check_only)
{
	char err[512];

	a->svc = calloc((size_t)a->cfg.n_services + 1, sizeof(*a->svc));
	if (!a->svc)
		return -1;
	for (int i = 0; i < a->cfg.n_services; i++) {
		const struct xr_agent_service *c = &a->cfg.services[i];
		struct service *s = &a->svc[i];
		struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
		char port[8];
		int rc;

		s->cfg = c;
		snprintf(port, sizeof(port), "%u", c->target_port);
		/* --check: names may resolve only where the agent runs */
		rc = check_only ? 0 : getaddrinfo(c->target_host, port, &hints, &ai);
		if (check_only)
			goto tls;
		if (rc) {
			fprintf(stderr, "%s:%d: target %s: %s\n", a->cfg.path, c->line, c->target,
				gai_strerror(rc));
			return -1;
		}
		memcpy(&s->target, ai->ai_addr, ai->ai_addrlen);
		s->tlen = ai->ai_addrlen;
		freeaddrinfo(ai);
tls:
		if (c->tls_cert[0]) {
			const char *alpn[XR_CFG_MAX_ALPN + 1] = { 0 };

			for (int k = 0; k < c->n_alpn; k++)
				alpn[k] = c->alpn[k];
			if (xr_tls_term_init(&s->term, c->tls_cert, c->tls_key, c->n_alpn ? alpn : NULL,
					     err, sizeof(err))) {
				fprintf(stderr, "%s:%d: service %s: %s\n", a->cfg.path, c->line, c->hostname,
					err);
				return -1;
			}
			s->terminate = 1;
		}
	}
	return 0;
}

void services_tick(struct agent *a)
{
	char err[256];
	uint64_t now = now_ns();

	for (int i = 0; i < a->cfg.n_services; i++) {
		struct service *s = &a->svc[i];
		int rc;

		if (!s->terminate)
			continue;
		rc = xr_tls_term_refresh(&s->term, err, sizeof(err));
		if (rc > 0)
			xr_info("certificate reloaded", "hostname=%s cert=%s", s->cfg->hostname, s->cfg->tls_cert);
		else if (rc < 0)
			xr_warn("certificate reload failed; serving the previous one", "hostname=%s "
				"error=\"%s\"", s->cfg->hostname, err);
	}
	for (struct dconn *d = bridges, *n; d; d = n) {
		n = d->next;
		if (!d->hs_done && !d->closing && now > d->hs_deadline)
			bridge_end(d, 1);
	}
}
