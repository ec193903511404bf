// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Public TLS listeners: accept, read the ClientHello, ask the router, hand
 * to pairing.
 *
 * Memory per connection is small until its first bytes arrive: a new
 * connection only has a poll in flight.  Then it takes a ClientHello slot
 * (Kconfig XR_HELLO_SLOTS of them, ~17 KiB each) and reads into it until the
 * ClientHello is complete, over any number of TCP segments and TLS records
 * (clienthello.c).  Every connection not yet pumping sits on r->pending with
 * a deadline (tls.hello_timeout, then the same again for the agent's data
 * connection), swept each second.  Garbage, oversize and slow clients end
 * here, each counted, without touching anyone else.
 *
 * A connection whose first bytes are "XRD1" is an agent's data connection
 * that came in through the public port (agents behind a firewall that only
 * lets 443 out): its token goes to agents.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xrelayd.h"

void tcp_count(struct relay *r, uint32_t tenant_id, enum xr_tcp_counter c, uint64_t n)
{
	r->tcp[0].c[c] += n;
	if (tenant_id && tenant_id < XR_MAX_TENANTS)
		r->tcp[tenant_id].c[c] += n;
}

/* ---- listeners ------------------------------------------------------------------ */

static void accept_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);
static void accept_retry_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

static void arm_accept(struct listener *l)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&l->r->loop, &l->op);

	io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
}

static int listen_on(struct relay *r, const struct xr_sockaddr *a, int kind)
{
	struct listener *l = &r->lis[r->n_lis];
	int one = 1, fd;
	char buf[80];

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->ss, a->len) || listen(fd, 4096))
		goto fail;
	memset(l, 0, sizeof(*l));
	l->r = r;
	l->fd = fd;
	l->kind = kind;
	l->addr = *a;
	l->op.cb = accept_cb;
	l->op.ctx = l;
	l->retry_op.cb = accept_retry_cb;
	l->retry_op.ctx = l;
	r->n_lis++;
	arm_accept(l);
	xr_info(kind ? "control listening" : "TLS listening", "addr=%s",
		xr_sockaddr_str((const struct sockaddr *)&a->ss, buf, sizeof(buf)));
	return 0;
fail:
	xr_err(kind ? "cannot listen (control.listen)" : "cannot listen (tls.listen)",
	       "addr=%s error=\"%s\"", xr_sockaddr_str((const struct sockaddr *)&a->ss, buf, sizeof(buf)),
	       strerror(errno));
	if (fd >= 0)
		close(fd);
	return -1;
}

static void pconn_new(struct relay *r, int fd);

static void accept_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct listener *l = op->ctx;
	struct relay *r = l->r;

	(void)loop;
	if (cqe->res >= 0) {
		if (l->kind)
			agents_accept(r, cqe->res);
		else
			pconn_new(r, cqe->res);
	} else if (cqe->res != -ECANCELED) {
		uint64_t now = now_ns();

		/* out of file descriptors (or memory): connections wait in the
		 * listen queue; retry in 100 ms instead of spinning, log once a
		 * second with how many were deferred */
		r->st.accept_errors++;
		if (now - r->accept_err_logged_ns > 1000000000ull) {
			xr_warn("accept failed; retrying in 100 ms", "error=\"%s\" count=%llu",
				strerror(-cqe->res), (unsigned long long)r->st.accept_errors);
			r->accept_err_logged_ns = now;
		}
		if (!(cqe->flags & IORING_CQE_F_MORE) && l->fd >= 0) {
			struct io_uring_sqe *sqe = xr_loop_sqe(&r->loop, &l->retry_op);

			l->retry_ts.tv_sec = 0;
			l->retry_ts.tv_nsec = 100000000;
			io_uring_prep_timeout(sqe, &l->retry_ts, 0, 0);
			return;
		}
	}
	if (!(cqe->flags & IORING_CQE_F_MORE) && l->fd >= 0)
		arm_accept(l);
}

static void accept_retry_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct listener *l = op->ctx;

	(void)loop;
	(void)cqe;
	if (l->fd >= 0)
		arm_accept(l);
}

int front_open(struct relay *r)
{
	struct hello_slot *s;

	if (xr_pumpset_init(&r->pumps, &r->loop, (enum xr_mover)r->cfg.tls_mover, 2,
			    XR_PUMP_BUFS, XR_PUMP_BUF_SIZE)) {
		xr_err("cannot set up the byte mover", "mover=%s", xr_mover_name(r->cfg.tls_mover));
		return -1;
	}
	/* a few slots up front; the rest on demand, up to XR_HELLO_SLOTS */
	for (int i = 0; i < 4; i++) {
		s = malloc(sizeof(*s));
		if (!s)
			return -1;
		s->next_free = r->slots_free;
		r->slots_free = s;
	}
	for (int i = 0; i < r->cfg.n_tls_listen; i++)
		if (listen_on(r, &r->cfg.tls_listen[i], 0))
			return -1;
	for (int i = 0; i < r->cfg.n_control_listen; i++)
		if (listen_on(r, &r->cfg.control_listen[i], 1))
			return -1;
	if (r->cfg.n_tls_listen)
		xr_info("TLS passthrough ready", "mover=%s hello_timeout_ms=%u", xr_mover_name(r->cfg.tls_mover),
			r->cfg.tls_hello_timeout_ms);
	return 0;
}

void front_close(struct relay *r)
{
	for (int i = 0; i < r->n_lis; i++) {
		close(r->lis[i].fd);
		r->lis[i].fd = -1;
	}
}

/* ---- slots ---------------------------------------------------------------------- */

static struct hello_slot *slot_get(struct relay *r)
{
	struct hello_slot *s = r->slots_free;

	if (s) {
		r->slots_free = s->next_free;
	} else {
		if (r->slots_used >= XR_HELLO_SLOTS || !(s = malloc(sizeof(*s))))
			return NULL;
	}
	r->slots_used++;
	xr_chello_init(&s->ch, 0);
	s->have = 0;
	return s;
}

void slot_put(struct relay *r, struct hello_slot *s)
{
	if (!s)
		return;
	r->slots_used--;
	/* keep a handful for the next clients, give the rest back */
	if (r->slots_used < 8) {
		s->next_free = r->slots_free;
		r->slots_free = s;
	} else {
		free(s);
	}
}

/* ---- public connections ------------------------------------------------------------ */

static void pconn_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

static void pending_link(struct relay *r, struct pconn *pc)
{
	pc->prev = NULL;
	pc->next = r->pending;
	if (r->pending)
		r->pending->prev = pc;
	r->pending = pc;
}

void pconn_unlink(struct pconn *pc)
{
	struct relay *r = pc->r;

	if (pc->prev)
		pc->prev->next = pc->next;
	else if (r->pending == pc)
		r->pending = pc->next;
	else if (r->active == pc)
		r->active = pc->next;
	if (pc->next)
		pc->next->prev = pc->prev;
	pc->prev = pc->next = NULL;
}

static void pconn_free(struct pconn *pc)
{
	struct relay *r = pc->r;

	slot_put(r, pc->slot);
	if (pc->fd >= 0)
		close(pc->fd);
	if (pc->dfd >= 0)
		close(pc->dfd);
	r->n_pconns--;
	free(pc);
}

void pconn_close(struct pconn *pc, int counter)
{
	struct relay *r = pc->r;

	if (pc->state == PC_DEAD)
		return;
	if (counter >= 0)
		tcp_count(r, pc->tenant_id, (enum xr_tcp_counter)counter, 1);
	pconn_unlink(pc);
	if (pc->tok)
		token_drop(r, pc->tok);
	pc->state = PC_DEAD;
	if (pc->busy) {       /* freed when the op comes back */
		struct io_uring_sqe *sqe = xr_loop_sqe(&r->loop, NULL);

		io_uring_prep_cancel(sqe, &pc->op, 0);
		return;
	}
	pconn_free(pc);
}

static void arm_poll(struct pconn *pc)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&pc->r->loop, &pc->op);

	io_uring_prep_poll_add(sqe, pc->fd, POLLIN | POLLRDHUP);
	pc->busy = 1;
}

static void arm_recv(struct pconn *pc)
{
	struct hello_slot *s = pc->slot;
	struct io_uring_sqe *sqe = xr_loop_sqe(&pc->r->loop, &pc->op);

	io_uring_prep_recv(sqe, pc->fd, SLOT_RAW(s) + s->have, HELLO_RAW_MAX - s->have, 0);
	pc->busy = 1;
}

static void pconn_new(struct relay *r, int fd)
{
	struct pconn *pc = calloc(1, sizeof(*pc));
	struct sockaddr_storage ss;
	socklen_t len;
	int one = 1;

	if (!pc) {
		close(fd);
		return;
	}
	r->n_pconns++;
	pc->r = r;
	pc->fd = fd;
	pc->dfd = -1;
	pc->tidx = -1;
	pc->op.cb = pconn_cb;
	pc->op.ctx = pc;
	pc->state = PC_WAIT_FIRST;
	pc->started_ns = now_ns();
	pc->deadline_ns = pc->started_ns + (uint64_t)r->cfg.tls_hello_timeout_ms * 1000000ull;
	len = sizeof(ss);
	if (!getpeername(fd, (struct sockaddr *)&ss, &len))
		xr_proto_ep_from_sa(&pc->client, (struct sockaddr *)&ss);
	len = sizeof(ss);
	if (!getsockname(fd, (struct sockaddr *)&ss, &len))
		xr_proto_ep_from_sa(&pc->server, (struct sockaddr *)&ss);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	tcp_count(r, 0, XR_T_ACCEPTED, 1);
	pending_link(r, pc);
	arm_poll(pc);
}

static void route(struct pconn *pc)
{
	struct relay *r = pc->r;
	const char *sni = xr_chello_sni(&pc->slot->ch);
	enum route_kind k = router_route(r, pc, sni);

	snprintf(pc->host, sizeof(pc->host), "%s", sni);
	pc->kind = (uint8_t)k;
	/* the other side gets its own tls.hello_timeout to be joined */
	pc->deadline_ns = now_ns() + (uint64_t)r->cfg.tls_hello_timeout_ms * 1000000ull;
	switch (k) {
	case RT_AGENT:
		if (agents_request(r, pc))
			pconn_close(pc, XR_T_NO_AGENT);
		return;
	case RT_FALLBACK:
		pair_connect(pc, (struct sockaddr *)&r->fallback_sa, r->fallback_len);
		return;
	case RT_CONTROL:
		pair_connect(pc, (struct sockaddr *)&r->control_sa, r->control_len);
		return;
	case RT_NO_AGENT:
		xr_dbg("no agent for the name", "sni=%s", sni);
		pconn_close(pc, XR_T_NO_AGENT);
		return;
	case RT_ROUTE_DOWN:
		/* refused at once, not left to time out: the fallback if there
		 * is one, else a reset */
		xr_dbg("every replica is down", "sni=%s", sni);
		if (r->fallback_len) {
			tcp_count(r, pc->tenant_id, XR_T_ROUTE_DOWN, 1);
			pc->kind = RT_FALLBACK;
			pair_connect(pc, (struct sockaddr *)&r->fallback_sa, r->fallback_len);
			return;
		}
		pconn_close(pc, XR_T_ROUTE_DOWN);
		return;
	case RT_REFUSED_ALLOW:
		pconn_close(pc, XR_T_REFUSED_ALLOW);
		return;
	case RT_REFUSED_RATE:
		pconn_close(pc, XR_T_REFUSED_RATE);
		return;
	case RT_UNKNOWN:
		xr_dbg("unknown SNI", "sni=\"%s\"", sni);
		pconn_close(pc, XR_T_UNKNOWN_SNI);
		return;
	}
}

void front_reroute(struct pconn *pc)
{
	struct relay *r = pc->r;
	enum route_kind k;

	if (pc->tok)
		token_drop(r, pc->tok);
	if ((pc->state == PC_AWAIT || pc->state == PC_REPAIR) && pc->slot) {
		/* replayed to the agent just lost, no answer yet: another replica */
		k = pc->repaired ? RT_NO_AGENT : router_pick(r, pc, xr_chello_sni(&pc->slot->ch));
		if (k == RT_AGENT) {
			struct agent_sess *to = pc->sess;

			pc->sess = NULL;
			if (pc->state == PC_REPAIR)
				pc->repair_to = to;
			else
				pair_repair(pc, to);
			return;
		}
		pconn_close(pc, k == RT_ROUTE_DOWN ? XR_T_ROUTE_DOWN : XR_T_NO_AGENT);
		return;
	}
	if (pc->state != PC_WAIT_DATA || !pc->slot) {
		pconn_close(pc, XR_T_NO_AGENT);
		return;
	}
	k = router_pick(r, pc, xr_chello_sni(&pc->slot->ch));
	pc->deadline_ns = now_ns() + (uint64_t)r->cfg.tls_hello_timeout_ms * 1000000ull;
	if (k == RT_AGENT && !agents_request(r, pc)) {
		tcp_count(r, pc->tenant_id, XR_T_REROUTED, 1);
		return;
	}
	if (k == RT_ROUTE_DOWN && r->fallback_len) {
		tcp_count(r, pc->tenant_id, XR_T_ROUTE_DOWN, 1);
		pc->kind = RT_FALLBACK;
		pair_connect(pc, (struct sockaddr *)&r->fallback_sa, r->fallback_len);
		return;
	}
	pconn_close(pc, k == RT_ROUTE_DOWN ? XR_T_ROUTE_DOWN : XR_T_NO_AGENT);
}

/* First bytes "XRD1": an agent's data connection through the public port. */
static int data_magic(struct pconn *pc)
{
	struct hello_slot *s = pc->slot;
	uint8_t *raw = SLOT_RAW(s);
	size_t n = s->have < 4 ? s->have : 4;

	if (memcmp(raw, XR_DATA_MAGIC, n))
		return 0;                       /* not ours */
	if (s->have < XR_DATA_PREAMBLE)
		return 1;                       /* read on */
	if (s->have > XR_DATA_PREAMBLE)
		return -1;                      /* agents wait for OPEN before sending */
	{
		struct relay *r = pc->r;
		uint8_t tok[XR_TOKEN_LEN];
		int fd = pc->fd;

		memcpy(tok, raw + 4, XR_TOKEN_LEN);
		/* still counted in accepted: a counter never goes down (Prometheus
		 * would read a decrement as a reset) */
		pc->fd = -1;
		pconn_close(pc, -1);            /* pc is gone after this */
		agents_data_conn(r, fd, tok);
	}
	return 2;
}

static void hello_bytes(struct pconn *pc, int n)
{
	struct hello_slot *s = pc->slot;
	int rc, m;

	s->have += (uint32_t)n;
	m = data_magic(pc);
	if (m == 2)
		return;
	if (m == 1) {
		arm_recv(pc);
		return;
	}
	if (m < 0) {
		pconn_close(pc, XR_T_BAD_HELLO);
		return;
	}
	rc = xr_chello_feed(&s->ch, SLOT_RAW(s) + s->have - n, (size_t)n);
	if (rc == XR_CH_NEED_MORE) {
		if (s->have >= HELLO_RAW_MAX) {
			pconn_close(pc, XR_T_BAD_HELLO);
			return;
		}
		arm_recv(pc);
		return;
	}
	if (rc != XR_CH_DONE) {
		xr_dbg("bad ClientHello", "error=\"%s\"", xr_chello_strerror(rc));
		pconn_close(pc, XR_T_BAD_HELLO);
		return;
	}
	route(pc);
}

static void pconn_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct pconn *pc = op->ctx;
	struct relay *r = pc->r;
	int res = cqe->res;

	(void)loop;
	pc->busy = 0;
	if (pc->state == PC_DEAD) {
		pconn_free(pc);
		return;
	}
	switch (pc->state) {
	case PC_WAIT_FIRST:
		if (res < 0 || !(res & POLLIN)) {
			pconn_close(pc, -1);
			return;
		}
		pc->slot = slot_get(r);
		if (!pc->slot) {
			pconn_close(pc, XR_T_BUSY);
			return;
		}
		pc->state = PC_HELLO;
		arm_recv(pc);
		return;
	case PC_HELLO:
		if (res <= 0) {
			pconn_close(pc, res == 0 && pc->slot->have == 0 ? -1 : XR_T_BAD_HELLO);
			return;
		}
		hello_bytes(pc, res);
		return;
	default:
		pair_op_done(pc, res);
		return;
	}
}

/*
 * An agent that does not dial a data connection within a second (plus
 * four round trips) of its token is probably stuck (stopped, overloaded,
 * cut off): that counts as a failed probe of its session, and the waiting
 * connection goes to another replica if a better one is there; else it
 * keeps waiting until tls.hello_timeout.  Each connection gets this once.
 */
#define DATA_PATIENCE_NS (1000ull * 1000000ull)

static void impatient(struct pconn *pc)
{
	struct relay *r = pc->r;
	struct agent_sess *old = pc->sess, *to;

	pc->patient = 1;
	if (!old || !pc->slot)
		return;
	health_data_miss(old, "a token not answered with a data connection within 1 s");
	if (!(to = router_other(r, pc)))
		return;
	token_drop(r, pc->tok);           /* the old session's; a late dial finds nothing */
	pc->sess = to;
	if (!agents_request(r, pc)) {
		xr_dbg("rerouted: no data connection in time", "sni=%s from=%s to=%s", pc->host, old->name,
		       pc->sess->name);
		tcp_count(r, pc->tenant_id, XR_T_REROUTED, 1);
		return;
	}
	pconn_close(pc, XR_T_NO_AGENT);
}

/*
 * Replayed to an agent and no byte back within the patience: the agent is
 * stuck (a failed probe of its session).  The ClientHello goes to a better
 * replica if there is one; else the connection just pumps on as it would
 * have (a slow service is not cut at tls.hello_timeout).
 */
static void unanswered(struct pconn *pc)
{
	struct agent_sess *to;

	health_data_miss(pc->sess, "no byte back within 1 s of a connection");
	to = pc->repaired ? NULL : router_other(pc->r, pc);
	if (to)
		xr_dbg("rerouted: no answer in time", "sni=%s from=%s to=%s", pc->host, pc->sess->name,
		       to->name);
	pair_repair(pc, to);
}

/* Every tick (250 ms): agents past their patience, connections past their
 * deadline. */
void front_sweep(struct relay *r)
{
	uint64_t now = now_ns();
	struct pconn *pc = r->pending, *next;

	for (; pc; pc = next) {
		next = pc->next;
		if (pc->state == PC_WAIT_DATA && pc->tok && !pc->patient && pc->sess &&
		    now - pc->token_ns > DATA_PATIENCE_NS + 4000ull * pc->sess->rtt_us) {
			impatient(pc);
			continue;
		}
		if (pc->state == PC_AWAIT && pc->sess &&
		    now - pc->token_ns > DATA_PATIENCE_NS + 4000ull * pc->sess->rtt_us) {
			unanswered(pc);
			continue;
		}
		if (pc->state == PC_AWAIT || pc->state == PC_REPAIR)
			continue;       /* the agent answers in its own time when alone */
		if (pc->deadline_ns > now)
			continue;
		if (pc->state == PC_WAIT_DATA)
			pconn_close(pc, XR_T_DATA_TIMEOUT);
		else if (pc->state == PC_WAIT_FIRST || pc->state == PC_HELLO)
			pconn_close(pc, XR_T_HELLO_TIMEOUT);
		else
			pconn_close(pc, XR_T_DATA_TIMEOUT);
	}
}
