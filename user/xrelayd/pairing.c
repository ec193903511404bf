// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pairing: joins a public connection with the other side - an agent's data
 * connection, tls.fallback, or our own control service - replays what was
 * read (OPEN frame for agents, then the ClientHello bytes untouched), then
 * hands both sockets to the byte mover (pump.c).  Also the accounting:
 * per-tenant counters and the open flows, written to the pinned maps
 * xr_tcpstats and xr_flows once a second.
 */
#include <errno.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "log.h"
#include "xrelayd.h"

/* ---- accounting ---------------------------------------------------------------------- */

void ep_abi(struct xr_endpoint *e, const struct xr_proto_ep *p)
{
	memset(e, 0, sizeof(*e));
	if (p->family == 4) {
		e->addr.a[10] = e->addr.a[11] = 0xff;
		memcpy(&e->addr.a[12], p->addr, 4);
		e->family = XR_AF_INET;
	} else if (p->family == 6) {
		memcpy(e->addr.a, p->addr, 16);
		e->family = XR_AF_INET6;
	}
	e->port = htons(p->port);
}

static void flow_write(struct pconn *pc)
{
	struct relay *r = pc->r;
	struct xr_flow f;

	memset(&f, 0, sizeof(f));
	ep_abi(&f.client, &pc->client);
	f.tenant_id = pc->tenant_id;
	f.flags = (pc->pump.d[0].eof ? XR_FLOW_F_HALF_IN : 0) |
		  (pc->pump.d[1].eof ? XR_FLOW_F_HALF_OUT : 0) |
		  (pc->kind == RT_FALLBACK ? XR_FLOW_F_FALLBACK : 0) |
		  (pc->kind == RT_CONTROL ? XR_FLOW_F_CONTROL : 0);
	f.started_ns = pc->started_ns;
	f.bytes_in = pc->pump.bytes[0];
	f.bytes_out = pc->pump.bytes[1];
	memcpy(f.host, pc->host, sizeof(f.host));
	if (pc->sess)
		snprintf(f.agent, sizeof(f.agent), "%s", pc->sess->name);
	pc->in_map = !bpf_map_update_elem(r->bpf.flows_fd, &pc->flow_id, &f, BPF_ANY);
}

/* Bytes moved since the last flush go to the tenant's counters. */
static int flow_account(struct pconn *pc)
{
	uint64_t in = pc->pump.bytes[0] - pc->flushed[0], out = pc->pump.bytes[1] - pc->flushed[1];

	if (!in && !out)
		return 0;
	tcp_count(pc->r, pc->tenant_id, XR_T_BYTES_IN, in);
	tcp_count(pc->r, pc->tenant_id, XR_T_BYTES_OUT, out);
	pc->flushed[0] = pc->pump.bytes[0];
	pc->flushed[1] = pc->pump.bytes[1];
	return 1;
}

void flows_flush(struct relay *r)
{
	uint32_t zero = 0;

	/* a flow enters the map at its first tick: most HTTPS connections
	 * are over before that and never cost a map syscall */
	for (struct pconn *pc = r->active; pc; pc = pc->next)
		if (flow_account(pc) || !pc->in_map)
			flow_write(pc);
	bpf_map_update_elem(r->bpf.tcpstats_fd, &zero, &r->tcp[0], BPF_ANY);
	for (int t = 0; t < r->cfg.n_tenants; t++) {
		uint32_t id = r->tenant_ids[t];

		bpf_map_update_elem(r->bpf.tcpstats_fd, &id, &r->tcp[id], BPF_ANY);
	}
}

void flow_remove(struct pconn *pc)
{
	flow_account(pc);
	if (pc->in_map)
		bpf_map_delete_elem(pc->r->bpf.flows_fd, &pc->flow_id);
}

/* ---- the mover's callbacks ------------------------------------------------------------- */

static void pump_closed(struct xr_pump *p, int reset)
{
	struct pconn *pc = p->owner;
	struct relay *r = pc->r;

	flow_remove(pc);
	tcp_count(r, pc->tenant_id, XR_T_ACTIVE, (uint64_t)-1);
	if (reset)
		tcp_count(r, pc->tenant_id, XR_T_RESETS, 1);
	pconn_unlink(pc);
	r->n_pconns--;
	free(pc);
}

/* limits.bandwidth for TLS: a GCRA per tenant over bytes.  The bytes are
 * already through; what the limit controls is when this direction reads
 * again, so TCP slows the sender down instead of anything being dropped. */
static uint64_t pump_moved(struct xr_pump *p, int dir, uint32_t bytes)
{
	struct pconn *pc = p->owner;
	struct relay *r = pc->r;
	uint64_t bps, ns_per_mib, cost, burst, now, base, tat;

	(void)dir;
	if (pc->tidx < 0 || pc->tidx >= r->cfg.n_tenants || r->tenant_ids[pc->tidx] != pc->tenant_id)
		return 0;
	bps = r->cfg.tenants[pc->tidx].limits.bandwidth_bps;
	if (!bps)
		return 0;
	ns_per_mib = xr_bw_ns_per_mib(bps);
	cost = xr_bw_cost(bytes, ns_per_mib);
	burst = xr_bw_cost(128 * 1024, ns_per_mib);
	if (burst < 100000000ull)
		burst = 100000000ull;
	now = now_ns();
	base = r->bw_gcra[pc->tenant_id].tat > now ? r->bw_gcra[pc->tenant_id].tat : now;
	tat = base + cost;
	r->bw_gcra[pc->tenant_id].tat = tat;
	if (tat - now <= burst)
		return 0;
	tcp_count(r, pc->tenant_id, XR_T_THROTTLED, 1);
	return tat - now - burst;
}

static const struct xr_pump_ops pump_ops = {
	.closed = pump_closed,
	.moved = pump_moved,
};

/* ---- pairing ------------------------------------------------------------------------------ */

static void arm_replay(struct pconn *pc)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&pc->r->loop, &pc->op);

	io_uring_prep_send(sqe, pc->dfd, pc->slot->buf + pc->rp_off, pc->rp_len - pc->rp_off,
			   MSG_NOSIGNAL);
	pc->busy = 1;
}

static void start_pump(struct pconn *pc)
{
	struct relay *r = pc->r;
	int rc;

	slot_put(r, pc->slot);
	pc->slot = NULL;
	pconn_unlink(pc);
	rc = xr_pump_start(&r->pumps, &pc->pump, pc->fd, pc->dfd, &pump_ops, pc);
	if (rc) {
		xr_warn("cannot start moving bytes", "error=\"%s\"", strerror(-rc));
		pc->state = PC_HELLO;    /* any live state: pconn_close frees */
		pconn_close(pc, XR_T_RESETS);
		return;
	}
	pc->fd = pc->dfd = -1;       /* the pump owns them */
	pc->state = PC_PUMP;
	pc->prev = NULL;
	pc->next = r->active;
	if (r->active)
		r->active->prev = pc;
	r->active = pc;
	tcp_count(r, pc->tenant_id, XR_T_ROUTED, 1);
	tcp_count(r, pc->tenant_id, XR_T_ACTIVE, 1);
}

void pair_with(struct pconn *pc, int dfd)
{
	struct relay *r = pc->r;
	uint32_t start = HELLO_HDR_ROOM;

	pc->dfd = dfd;
	pc->flow_id = ++r->next_flow_id;
	pc->token_ns = now_ns();      /* from now on: the agent's answer is due (front_sweep) */
	pc->patient = 0;
	if (pc->kind == RT_AGENT) {
		static struct xr_msg m;
		uint8_t frame[HELLO_HDR_ROOM];
		int n;

		xr_msg_init(&m, XR_MSG_OPEN);
		m.flow = pc->flow_id;
		m.n_hosts = 1;
		snprintf(m.hosts[0], sizeof(m.hosts[0]), "%s", xr_chello_sni(&pc->slot->ch));
		m.client = pc->client;
		m.server = pc->server;
		n = xr_msg_encode(&m, frame, sizeof(frame));
		if (n < 0) {
			pconn_close(pc, XR_T_RESETS);
			return;
		}
		start -= (uint32_t)n;
		memcpy(pc->slot->buf + start, frame, (size_t)n);
	}
	pc->rp_off = start;
	pc->rp_len = HELLO_HDR_ROOM + pc->slot->have;
	pc->state = PC_REPLAY;
	arm_replay(pc);
}

void pair_connect(struct pconn *pc, const struct sockaddr *sa, socklen_t len)
{
	struct io_uring_sqe *sqe;
	int one = 1;

	pc->dfd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (pc->dfd < 0) {
		pconn_close(pc, XR_T_RESETS);
		return;
	}
	setsockopt(pc->dfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	pc->state = PC_CONNECT;
	sqe = xr_loop_sqe(&pc->r->loop, &pc->op);
	io_uring_prep_connect(sqe, pc->dfd, sa, len);
	pc->busy = 1;
}

/* The data connection ended before a single byte came back (the agent could
 * not reach its target, or died): nothing reached the client yet. */
static bool ended_unanswered(int fd, int events)
{
	char b;

	return (events & (POLLERR | POLLHUP | POLLRDHUP)) &&
	       recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

static void arm_await(struct pconn *pc)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&pc->r->loop, &pc->op);

	io_uring_prep_poll_add(sqe, pc->dfd, POLLIN | POLLRDHUP);
	pc->busy = 1;
}

void pair_repair(struct pconn *pc, struct agent_sess *to)
{
	pc->state = PC_REPAIR;
	pc->repair_to = to;
	if (pc->busy) {
		io_uring_prep_cancel(xr_loop_sqe(&pc->r->loop, NULL), &pc->op, 0);
		return;
	}
	pair_op_done(pc, -ECANCELED);
}

/* The cancelled poll is back: the stuck agent's data connection is reset
 * and the ClientHello goes to the other replica, unless the answer came
 * meanwhile (or there is nowhere else to go): then bytes move as usual. */
static void repair_done(struct pconn *pc, int res)
{
	struct relay *r = pc->r;
	struct agent_sess *to = pc->repair_to;
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	pc->repair_to = NULL;
	if (!to || to->state != AS_READY || (res > 0 && !ended_unanswered(pc->dfd, res))) {
		start_pump(pc);
		return;
	}
	pc->repaired = 1;
	setsockopt(pc->dfd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(pc->dfd);
	pc->dfd = -1;
	pc->sess = to;
	if (agents_request(r, pc)) {
		pconn_close(pc, XR_T_NO_AGENT);
		return;
	}
	tcp_count(r, pc->tenant_id, XR_T_REROUTED, 1);
}

void pair_op_done(struct pconn *pc, int res)
{
	if (pc->state == PC_AWAIT) {
		struct agent_sess *to;

		/* ended with nothing said: once, the ClientHello goes to another
		 * replica if there is one; else the pump passes the end on */
		if (res > 0 && !pc->repaired && pc->sess && ended_unanswered(pc->dfd, res) &&
		    (to = router_other(pc->r, pc))) {
			xr_dbg("rerouted: data connection ended unanswered", "sni=%s from=%s to=%s",
			       pc->host, pc->sess->name, to->name);
			pc->state = PC_REPAIR;
			pc->repair_to = to;
			repair_done(pc, 0);
			return;
		}
		start_pump(pc);           /* the first byte back (or an end: the pump sees it) */
		return;
	}
	if (pc->state == PC_REPAIR) {
		repair_done(pc, res);
		return;
	}
	if (pc->state == PC_CONNECT) {
		if (res < 0) {
			xr_dbg("cannot reach the other side", "host=%s error=\"%s\"", pc->host, strerror(-res));
			pconn_close(pc, XR_T_RESETS);
			return;
		}
		pair_with(pc, pc->dfd);
		return;
	}
	if (pc->state != PC_REPLAY)
		return;
	if (res <= 0) {
		pconn_close(pc, XR_T_RESETS);
		return;
	}
	pc->rp_off += (uint32_t)res;
	if (pc->rp_off < pc->rp_len) {
		arm_replay(pc);
		return;
	}
	if (pc->kind == RT_AGENT && pc->sess) {
		/* hold the ClientHello until the agent answers (front_sweep) */
		pc->state = PC_AWAIT;
		pc->token_ns = now_ns();
		arm_await(pc);
		return;
	}
	start_pump(pc);
}
