// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Service probes: each service's target is probed every `health.interval`
 * with a TCP connect, a TLS handshake, or an HTTP GET (over TLS when the
 * target speaks TLS itself, plain when the agent terminates TLS for it),
 * bounded by `health.timeout`.  Results feed the service's health state
 * (health.h); every change is logged and sent to every relay in a HEALTH
 * message, and the relays route only to healthy (else degraded) replicas.
 *
 * One probe in flight per service, driven by polls on the loop:
 *   IDLE --due--> CONNECT --writable--> [TLS handshake] --> [request,
 *   status line] --> IDLE.   The tick enforces the timeout: it cancels the
 *   poll, and the completion ends the probe.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>

#include "agent.h"
#include "log.h"

enum { P_IDLE, P_CONNECT, P_TLS, P_SEND, P_RECV };

static const char *const kind_name[] = { "tcp", "tls", "http", "none" };

static void probe_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

static void arm(struct probe *p, short events)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&p->a->loop, &p->op);

	io_uring_prep_poll_add(sqe, p->fd, events);
	p->busy = 1;
}

static void release(struct probe *p)
{
	if (p->ssl)
		SSL_free(p->ssl);
	p->ssl = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->phase = P_IDLE;
	p->failed[0] = '\0';
}

static void send_all(struct agent *a)
{
	for (int i = 0; i < a->cfg.n_services; i++) {
		snprintf(a->probes[i].reported, sizeof(a->probes[i].reported), "%s", a->probes[i].h.reason);
		a->probes[i].dirty = 0;
	}
	for (int i = 0; i < a->cfg.n_relays; i++)
		sess_send_health(&a->rs[i]);
	a->next_report_ns = now_ns() + 1000000000ull;
}

/* A result: feed the state machine, tell the relays on a change (at once)
 * or when only the reason changed (at most once a second). */
static void finish(struct probe *p, bool ok, const char *why)
{
	struct agent *a = p->a;
	uint64_t now = now_ns();
	int old;

	if (ok && p->s->cfg->probe.kind != XR_PROBE_NONE)
		xr_dbg("probe ok", "hostname=%s probe=%s ms=%llu", p->s->cfg->hostname,
		       kind_name[p->s->cfg->probe.kind],
		       (unsigned long long)((now - p->start_ns) / 1000000));
	old = xr_health_feed(&p->h, &a->cfg.health.p, ok, why, now);
	if (!ok)
		a->st.probe_failures++;
	a->st.probes++;
	if (old < 0 && strcmp(p->h.reason, p->reported)) {
		p->dirty = 1;           /* same state, news in the reason: sent within a second */
	} else if (old >= 0) {
		p->dirty = 0;
		xr_log(p->h.state == XR_H_HEALTHY ? XR_LOG_INFO : XR_LOG_WARN, "service state changed",
			"hostname=%s target=%s from=%s to=%s reason=\"%s\"", p->s->cfg->hostname,
			p->s->cfg->target, xr_health_name(old), xr_health_name(p->h.state), p->h.reason);
		send_all(a);
	}
}

static void fail_now(struct probe *p, const char *fmt, const char *detail)
{
	char why[XR_HEALTH_REASON_LEN];

	snprintf(why, sizeof(why), fmt, detail);
	release(p);
	finish(p, false, why);
}

static void step(struct probe *p);

static void start(struct probe *p, uint64_t now)
{
	const struct service *s = p->s;
	int rc;

	p->start_ns = now;
	p->deadline_ns = now + (uint64_t)s->cfg->probe.timeout_ms * 1000000ull;
	p->fd = socket(s->target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (p->fd < 0)
		return fail_now(p, "socket: %s", strerror(errno));
	p->phase = P_CONNECT;
	rc = connect(p->fd, (const struct sockaddr *)&s->target, s->tlen);
	if (rc && errno != EINPROGRESS)
		return fail_now(p, "connect: %s", strerror(errno));
	if (rc)
		return arm(p, POLLOUT);
	step(p);
}

/* TLS for a tls probe, or an http probe of a target that speaks TLS. */
static bool wants_tls(const struct probe *p)
{
	int k = p->s->cfg->probe.kind;

	return k == XR_PROBE_TLS || (k == XR_PROBE_HTTP && !p->s->terminate);
}

/* An SSL_* call wants more: poll for it.  false when it failed. */
static bool ssl_wait(struct probe *p, int rc, const char *what)
{
	char tls[160], why[XR_HEALTH_REASON_LEN];
	int e = SSL_get_error(p->ssl, rc);

	if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
		arm(p, e == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN);
		return true;
	}
	snprintf(why, sizeof(why), "%s: %s", what,
		 e == SSL_ERROR_SSL ? xr_tls_errstr(tls, sizeof(tls)) :
		 e == SSL_ERROR_ZERO_RETURN ? "closed" : "connection lost");
	release(p);
	finish(p, false, why);
	return false;
}

static void step(struct probe *p)
{
	const struct xr_cfg_probe *pc = &p->s->cfg->probe;
	char host[XR_CFG_HOST_LEN];
	int rc, err = 0;
	socklen_t elen = sizeof(err);

	switch (p->phase) {
	case P_CONNECT:
		if (getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0 && err)
			return fail_now(p, "connect: %s", strerror(err));
		if (pc->kind == XR_PROBE_TCP) {
			release(p);
			return finish(p, true, NULL);
		}
		if (wants_tls(p)) {
			const char *h = p->s->cfg->hostname;

			p->ssl = SSL_new(p->a->probe_ctx);
			if (!p->ssl)
				return fail_now(p, "%s", "out of memory");
			snprintf(host, sizeof(host), "%s", h[0] == '*' ? h + 2 : h);
			SSL_set_tlsext_host_name(p->ssl, host);
			SSL_set_fd(p->ssl, p->fd);
			p->phase = P_TLS;
		} else {
			p->phase = P_SEND;
		}
		return step(p);
	case P_TLS:
		ERR_clear_error();
		rc = SSL_connect(p->ssl);
		if (rc <= 0) {
			ssl_wait(p, rc, "TLS handshake");
			return;
		}
		if (pc->kind == XR_PROBE_TLS) {
			release(p);
			return finish(p, true, NULL);
		}
		p->phase = P_SEND;
		/* fall through */
	case P_SEND:
		if (!p->blen) {
			const char *h = p->s->cfg->hostname;

			p->blen = (size_t)snprintf(p->buf, sizeof(p->buf),
						   "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: xrelay-agent-probe/"
						   AGENT_VERSION "\r\nConnection: close\r\n\r\n",
						   pc->path, h[0] == '*' ? h + 2 : h);
			if (p->blen >= sizeof(p->buf))
				p->blen = sizeof(p->buf) - 1;
			p->boff = 0;
		}
		while (p->boff < p->blen) {
			ssize_t n;

			if (p->ssl) {
				ERR_clear_error();
				rc = SSL_write(p->ssl, p->buf + p->boff, (int)(p->blen - p->boff));
				if (rc <= 0) {
					ssl_wait(p, rc, "HTTP request");
					return;
				}
				n = rc;
			} else {
				n = send(p->fd, p->buf + p->boff, p->blen - p->boff, MSG_NOSIGNAL);
				if (n < 0 && errno == EAGAIN)
					return arm(p, POLLOUT);
				if (n < 0)
					return fail_now(p, "HTTP request: %s", strerror(errno));
			}
			p->boff += (size_t)n;
		}
		p->phase = P_RECV;
		p->blen = 0;
		/* fall through */
	case P_RECV:
		while (!memchr(p->buf, '\n', p->blen) && p->blen < sizeof(p->buf) - 1) {
			ssize_t n;

			if (p->ssl) {
				ERR_clear_error();
				rc = SSL_read(p->ssl, p->buf + p->blen, (int)(sizeof(p->buf) - 1 - p->blen));
				if (rc <= 0) {
					ssl_wait(p, rc, "HTTP response");
					return;
				}
				n = rc;
			} else {
				n = recv(p->fd, p->buf + p->blen, sizeof(p->buf) - 1 - p->blen, 0);
				if (n < 0 && errno == EAGAIN)
					return arm(p, POLLIN);
				if (n < 0)
					return fail_now(p, "HTTP response: %s", strerror(errno));
				if (n == 0)
					return fail_now(p, "HTTP response: %s", "closed before the status line");
			}
			p->blen += (size_t)n;
		}
		p->buf[p->blen] = '\0';
		{
			int status = 0;
			char why[XR_HEALTH_REASON_LEN];

			if (sscanf(p->buf, "HTTP/1.%*1[01] %3d", &status) != 1 || status < 100) {
				release(p);
				return finish(p, false, "HTTP response: not HTTP/1.x");
			}
			release(p);
			if (status >= 200 && status < 400)
				return finish(p, true, NULL);
			snprintf(why, sizeof(why), "HTTP status %d for %.60s", status, pc->path);
			return finish(p, false, why);
		}
	}
}

static void probe_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct probe *p = op->ctx;

	(void)loop;
	p->busy = 0;
	if (p->failed[0]) {             /* timed out (the poll was cancelled) */
		char why[XR_HEALTH_REASON_LEN];

		snprintf(why, sizeof(why), "%s", p->failed);
		release(p);
		return finish(p, false, why);
	}
	if (cqe->res < 0)
		return fail_now(p, "poll: %s", strerror(-cqe->res));
	step(p);
}

void probes_tick(struct agent *a)
{
	uint64_t now = now_ns();
	bool dirty = false;

	for (int i = 0; i < a->cfg.n_services; i++)
		dirty |= a->probes[i].dirty;
	if (dirty && now >= a->next_report_ns)
		send_all(a);

	for (int i = 0; i < a->cfg.n_services; i++) {
		struct probe *p = &a->probes[i];
		const struct xr_cfg_probe *pc = &p->s->cfg->probe;

		if (p->phase != P_IDLE) {
			if (now > p->deadline_ns && !p->failed[0]) {
				snprintf(p->failed, sizeof(p->failed), "%s probe timed out after %u ms",
					 kind_name[pc->kind], pc->timeout_ms);
				if (p->busy)
					io_uring_prep_cancel(xr_loop_sqe(&a->loop, NULL), &p->op, 0);
			}
			continue;
		}
		if (now < p->next_ns)
			continue;
		p->next_ns = now + (uint64_t)pc->interval_ms * 1000000ull;
		p->blen = 0;
		if (pc->kind == XR_PROBE_NONE) {
			finish(p, true, NULL);
			continue;
		}
		start(p, now);
	}
}

int probes_init(struct agent *a)
{
	uint64_t now = now_ns();

	a->probe_ctx = SSL_CTX_new(TLS_client_method());
	a->probes = calloc((size_t)a->cfg.n_services + 1, sizeof(*a->probes));
	if (!a->probe_ctx || !a->probes)
		return -1;
	/* a liveness check of a local target, not an identity check: the
	 * client's TLS reaches the target through the relay, untouched */
	SSL_CTX_set_verify(a->probe_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_min_proto_version(a->probe_ctx, TLS1_2_VERSION);
	for (int i = 0; i < a->cfg.n_services; i++) {
		struct probe *p = &a->probes[i];

		p->a = a;
		p->s = &a->svc[i];
		p->fd = -1;
		p->op.cb = probe_cb;
		p->op.ctx = p;
		p->next_ns = now;
		xr_health_init(&p->h, now);
	}
	return 0;
}

/* Current states of the services that have one, as a HEALTH message;
 * 0 when there is nothing to tell. */
unsigned probes_report(struct agent *a, struct xr_msg *m)
{
	xr_msg_init(m, XR_MSG_HEALTH);
	for (int i = 0; i < a->cfg.n_services && m->n_refused < XR_PROTO_MAX_HOSTS; i++) {
		const struct probe *p = &a->probes[i];
		struct xr_msg_refused *r = &m->refused[m->n_refused];

		if (p->h.state == XR_H_UNKNOWN)
			continue;
		snprintf(r->host, sizeof(r->host), "%s", p->s->cfg->hostname);
		snprintf(r->reason, sizeof(r->reason), "%s", p->h.reason[0] ? p->h.reason : "-");
		r->state = p->h.state;
		m->n_refused++;
	}
	return m->n_refused;
}
