// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Agent control sessions: identity, registrations, heartbeats, data
 * connection requests (proto.h describes the wire).
 *
 * A connection on control.listen is either TLS (first byte 0x16: a control
 * session) or a data connection (first bytes "XRD1" + token).  Control TLS
 * runs on a non-blocking socket driven by io_uring polls: one read poll and
 * one write poll per session, each in flight at most once.
 *
 * Identity: TLS 1.3 with both sides' self-signed Ed25519 certificates; the
 * agent is whoever holds the private key of an identity some tenant lists
 * (tenants[].agents[].identity).  Its tenant is the one that lists it; the
 * names it may register are that tenant's.  Anything else is logged with
 * the reason and refused (the agent logs the same reason from WELCOME).
 *
 * Data connections: the relay hands out one-time tokens over the control
 * session (TOKEN frames): `pool` of them for the warm pool, and one per
 * public connection that finds the pool empty.  A data connection that
 * presents an unknown or used token is closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include "identity.h"
#include "log.h"
#include "tlsctx.h"
#include "xrelayd.h"

#define HANDSHAKE_NS   (10ull * 1000000000ull)   /* TLS + HELLO within this */
#define OBUF_MAX       (256u * 1024)              /* a session that reads nothing is dropped */
#define OD_TOKENS_MAX  1024u                      /* on-demand tokens outstanding per session */
#define HB_MIN_MS      100u
#define HB_MAX_MS      3600000u

static struct xr_msg scratch;   /* one loop thread: one message at a time */

static struct xr_msg *msg_new(uint8_t type)
{
	xr_msg_init(&scratch, type);
	return &scratch;
}

static void sess_close(struct agent_sess *s, const char *why);
static void drive(struct agent_sess *s);
static void flush(struct agent_sess *s);

/* ---- tokens --------------------------------------------------------------------- */

static unsigned tok_hash(const uint8_t *t)
{
	return ((unsigned)t[0] | (unsigned)t[1] << 8 | (unsigned)t[2] << 16) % TOKEN_BUCKETS;
}

static struct token *token_new(struct relay *r, struct agent_sess *s, struct pconn *pc)
{
	struct token *t = calloc(1, sizeof(*t));
	unsigned h;

	if (!t)
		return NULL;
	if (RAND_bytes(t->tok, XR_TOKEN_LEN) != 1) {
		free(t);
		return NULL;
	}
	t->sess = s;
	t->pc = pc;
	h = tok_hash(t->tok);
	t->hnext = r->tokens[h];
	r->tokens[h] = t;
	r->n_tokens++;
	return t;
}

static void token_unlink(struct relay *r, struct token *t)
{
	struct token **pp = &r->tokens[tok_hash(t->tok)];

	for (; *pp; pp = &(*pp)->hnext)
		if (*pp == t) {
			*pp = t->hnext;
			r->n_tokens--;
			return;
		}
}

void token_drop(struct relay *r, struct token *t)
{
	token_unlink(r, t);
	if (t->pc) {
		t->pc->tok = NULL;
		if (t->sess)
			t->sess->od_tokens--;
	} else if (t->sess) {
		t->sess->pool_tokens--;
	}
	free(t);
}

static struct token *token_take(struct relay *r, const uint8_t *tok)
{
	for (struct token *t = r->tokens[tok_hash(tok)]; t; t = t->hnext)
		if (!CRYPTO_memcmp(t->tok, tok, XR_TOKEN_LEN)) {
			token_unlink(r, t);
			return t;
		}
	return NULL;
}

/* ---- output --------------------------------------------------------------------- */

static int send_msg(struct agent_sess *s, const struct xr_msg *m)
{
	uint8_t frame[XR_FRAME_HDR + XR_FRAME_MAX];
	int n = xr_msg_encode(m, frame, sizeof(frame));

	if (n < 0)
		return -1;
	if (s->olen + (size_t)n > s->ocap) {
		size_t cap = s->ocap ? s->ocap : 4096;
		uint8_t *nb;

		while (cap < s->olen + (size_t)n)
			cap *= 2;
		if (cap > OBUF_MAX) {
			s->doomed = "control output backlog (agent not reading)";  /* see flush() */
			return -1;
		}
		nb = realloc(s->obuf, cap);
		if (!nb)
			return -1;
		s->obuf = nb;
		s->ocap = cap;
	}
	memcpy(s->obuf + s->olen, frame, (size_t)n);
	s->olen += (size_t)n;
	if (s->state != AS_CLOSING && !s->wr_busy)
		flush(s);
	return s->doomed ? -1 : 0;
}

int agents_ping(struct agent_sess *s, uint64_t nonce)
{
	struct xr_msg *m = msg_new(XR_MSG_PING);

	m->nonce = nonce;
	return send_msg(s, m);
}

static void send_tokens(struct agent_sess *s, unsigned n, struct pconn *pc)
{
	while (n) {
		unsigned k = n > XR_PROTO_MAX_TOKENS ? XR_PROTO_MAX_TOKENS : n;
		struct xr_msg *m = msg_new(XR_MSG_TOKEN);

		for (unsigned i = 0; i < k; i++) {
			struct token *t = token_new(s->r, s, pc);

			if (!t)
				return;
			if (pc) {
				pc->tok = t;
				s->od_tokens++;
			} else {
				s->pool_tokens++;
			}
			memcpy(m->tokens[m->n_tokens++], t->tok, XR_TOKEN_LEN);
		}
		if (send_msg(s, m))
			return;
		n -= k;
	}
}

static void pool_top_up(struct agent_sess *s)
{
	unsigned have = s->pool_n + s->pool_tokens;

	if (s->state == AS_READY && have < s->pool_target)
		send_tokens(s, s->pool_target - have, NULL);
}

/* ---- data connections ---------------------------------------------------------------- */

static void dconn_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct dconn *d = op->ctx;
	struct agent_sess *s = d->sess;

	(void)loop;
	(void)cqe;
	d->busy = 0;
	if (d->assigned) {           /* handed to a public connection: only the struct is ours */
		free(d);
		return;
	}
	/* a parked connection became readable: the agent closed it (or broke
	 * the protocol by sending first) */
	if (s) {
		struct dconn **pp = &s->pool;

		for (; *pp; pp = &(*pp)->next)
			if (*pp == d) {
				*pp = d->next;
				s->pool_n--;
				break;
			}
	}
	close(d->fd);
	free(d);
	if (s)
		pool_top_up(s);
}

static void park(struct agent_sess *s, int fd)
{
	struct dconn *d = calloc(1, sizeof(*d));
	struct io_uring_sqe *sqe;

	if (!d) {
		close(fd);
		return;
	}
	d->r = s->r;
	d->fd = fd;
	d->sess = s;
	d->op.cb = dconn_cb;
	d->op.ctx = d;
	d->next = s->pool;
	s->pool = d;
	s->pool_n++;
	sqe = xr_loop_sqe(&s->r->loop, &d->op);
	io_uring_prep_poll_add(sqe, fd, POLLIN | POLLRDHUP);
	d->busy = 1;
}

/* Take a parked data connection: the poll is cancelled, its struct freed
 * when the cancellation comes back. */
static int unpark(struct agent_sess *s)
{
	struct dconn *d = s->pool;
	int fd;

	if (!d)
		return -1;
	s->pool = d->next;
	s->pool_n--;
	fd = d->fd;
	d->fd = -1;
	d->assigned = 1;
	d->sess = NULL;
	if (d->busy) {
		struct io_uring_sqe *sqe = xr_loop_sqe(&s->r->loop, NULL);

		io_uring_prep_cancel(sqe, &d->op, 0);
	} else {
		free(d);
	}
	return fd;
}

void agents_data_conn(struct relay *r, int fd, const uint8_t token[XR_TOKEN_LEN])
{
	struct token *t = token_take(r, token);
	struct agent_sess *s;
	struct pconn *pc;
	int one = 1;

	if (!t || !t->sess || t->sess->state != AS_READY) {
		xr_dbg("data connection with an unknown token: closed", "%s", "");
		if (t)
			free(t);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	s = t->sess;
	pc = t->pc;
	if (pc) {
		s->od_tokens--;
		pc->tok = NULL;
		free(t);
		pair_with(pc, fd);
		return;
	}
	s->pool_tokens--;
	free(t);
	park(s, fd);
}

int agents_request(struct relay *r, struct pconn *pc)
{
	struct agent_sess *s = pc->sess;
	int fd;

	(void)r;
	if (!s || s->state != AS_READY)
		return -1;
	fd = unpark(s);
	if (fd >= 0) {
		pool_top_up(s);
		pair_with(pc, fd);
		return 0;
	}
	if (s->od_tokens >= OD_TOKENS_MAX)
		return -1;
	pc->state = PC_WAIT_DATA;
	pc->token_ns = now_ns();
	send_tokens(s, 1, pc);
	pool_top_up(s);
	return pc->tok ? 0 : -1;
}

/* ---- sessions ------------------------------------------------------------------------- */

static void rd_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);
static void wr_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

static void arm(struct agent_sess *s, bool write)
{
	struct io_uring_sqe *sqe;

	if (write ? s->wr_busy : s->rd_busy)
		return;
	sqe = xr_loop_sqe(&s->r->loop, write ? &s->wr_op : &s->rd_op);
	io_uring_prep_poll_add(sqe, s->fd, write ? POLLOUT : POLLIN | POLLRDHUP);
	*(write ? &s->wr_busy : &s->rd_busy) = 1;
}

void agents_accept(struct relay *r, int fd)
{
	struct agent_sess *s;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int one = 1, lowat = XR_DATA_PREAMBLE;

	if (!r->ctl_ctx) {
		close(fd);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		close(fd);
		return;
	}
	s->r = r;
	s->fd = fd;
	s->state = AS_PEEK;
	s->tidx = -1;
	s->rd_op.cb = rd_cb;
	s->rd_op.ctx = s;
	s->wr_op.cb = wr_cb;
	s->wr_op.ctx = s;
	s->deadline_ns = now_ns() + HANDSHAKE_NS;
	if (!getpeername(fd, (struct sockaddr *)&ss, &len)) {
		xr_sockaddr_str((struct sockaddr *)&ss, s->peer, sizeof(s->peer));
		s->peer_sa = ss;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);   /* OpenSSL on a polled socket */
	/* wake when the preamble (20 bytes) can be peeked; a ClientHello is longer */
	setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &lowat, sizeof(lowat));
	s->next = r->sessions;
	if (r->sessions)
		r->sessions->prev = s;
	r->sessions = s;
	arm(s, false);
}

static void sess_free(struct agent_sess *s)
{
	struct relay *r = s->r;

	if (s->prev)
		s->prev->next = s->next;
	else if (r->sessions == s)
		r->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->ssl)
		SSL_free(s->ssl);
	if (s->fd >= 0)
		close(s->fd);
	free(s->routes);
	free(s->asked);
	free(s->ibuf);
	free(s->obuf);
	free(s);
}

/* Free a CLOSING session from a completion, never from under a caller: with
 * no poll in flight, a NOP brings rd_cb back to do it. */
static void defer_free(struct agent_sess *s)
{
	if (!s->rd_busy && !s->wr_busy) {
		io_uring_prep_nop(xr_loop_sqe(&s->r->loop, &s->rd_op));
		s->rd_busy = 1;
	}
}

static void sess_close(struct agent_sess *s, const char *why)
{
	struct relay *r = s->r;
	struct pconn *pc, *next;

	if (s->state == AS_CLOSING)
		return;
	bool was_ready = s->state == AS_READY;

	if (was_ready)
		xr_info("agent disconnected", "tenant=%s agent=%s peer=%s session=%llu reason=\"%s\"",
			s->tenant, s->name, s->peer, (unsigned long long)s->id, why);
	else if (s->state >= AS_HANDSHAKE)
		xr_warn("agent refused", "peer=%s reason=\"%s\"", s->peer, why);
	s->state = AS_CLOSING;
	if (was_ready)
		health_sess_down(s, why);
	/* its public connections end now, so that clients do not hang: the
	 * agent's side with a reset, the client's with a FIN, which crosses a
	 * link that is down at this moment once it is back (a reset would not) */
	for (pc = r->active; pc; pc = next) {
		next = pc->next;
		if (pc->sess == s) {
			pc->sess = NULL;
			xr_pump_cut(&pc->pump, 0);
		}
	}
	/* waiting for a data connection from it: to another replica if any */
	for (pc = r->pending; pc; pc = next) {
		next = pc->next;
		if (pc->repair_to == s)
			pc->repair_to = NULL;   /* it was to go there: it pumps on instead */
		if (pc->sess == s)
			front_reroute(pc);
	}
	for (unsigned h = 0; h < TOKEN_BUCKETS && r->n_tokens; h++) {
		struct token *t = r->tokens[h], *tn;

		for (; t; t = tn) {
			tn = t->hnext;
			if (t->sess == s)
				token_drop(r, t);
		}
	}
	while (s->pool) {
		int fd = unpark(s);

		if (fd >= 0)
			close(fd);
	}
	/* wake our polls; free when both are back */
	if (s->fd >= 0)
		shutdown(s->fd, SHUT_RDWR);
	defer_free(s);
}

static void send_error(struct agent_sess *s, uint16_t code, const char *text)
{
	struct xr_msg *m = msg_new(XR_MSG_ERROR);

	m->code = code;
	snprintf(m->text, sizeof(m->text), "%s", text);
	send_msg(s, m);
	/* best effort: push it out before closing */
	if (s->ssl && s->olen)
		SSL_write(s->ssl, s->obuf, (int)s->olen);
}

static int find_agent(struct agent_sess *s, const uint8_t id[32])
{
	const struct xr_relay_cfg *c = &s->r->cfg;

	for (int t = 0; t < c->n_tenants; t++)
		for (int a = 0; a < c->tenants[t].n_agents; a++)
			if (!memcmp(c->tenants[t].agents[a].identity, id, 32)) {
				s->tidx = t;
				s->tenant_id = s->r->tenant_ids[t];
				snprintf(s->tenant, sizeof(s->tenant), "%s", c->tenants[t].name);
				snprintf(s->name, sizeof(s->name), "%s", c->tenants[t].agents[a].name);
				return 0;
			}
	return -1;
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	struct xr_proto_ep x, y;

	xr_proto_ep_from_sa(&x, (const struct sockaddr *)a);
	xr_proto_ep_from_sa(&y, (const struct sockaddr *)b);
	return x.family == y.family && !memcmp(x.addr, y.addr, x.family == 4 ? 4 : 16);
}

/*
 * An identity is one agent.  Another READY session of it is either that
 * agent's earlier connection, lost without a word (crash, reboot, NAT
 * flush): from the same address, or silent for more than a heartbeat and a
 * half; the new session supersedes it.  Or it is alive elsewhere: the key
 * was copied, and the newcomer is refused, both addresses logged and
 * counted (a copied cloudflared credentials file is silently accepted as a
 * replica; replicas here have identities of their own).
 */
static int identity_check(struct agent_sess *s)
{
	struct relay *r = s->r;
	uint64_t now = now_ns();
	char why[200];

	for (struct agent_sess *o = r->sessions; o; o = o->next) {
		if (o == s || o->state != AS_READY || o->tenant_id != s->tenant_id || strcmp(o->name, s->name))
			continue;
		if (same_address(&o->peer_sa, &s->peer_sa) ||
		    now - o->last_rx_ns > (uint64_t)o->heartbeat_ms * 1500000ull)
			continue;
		r->st.identity_conflicts++;
		tcp_count(r, s->tenant_id, XR_T_ID_CONFLICTS, 1);
		xr_err("agent identity connected from two addresses: refusing the second, the key may "
		       "be copied", "tenant=%s agent=%s first=%s first_session=%llu second=%s", s->tenant,
		       s->name, o->peer, (unsigned long long)o->id, s->peer);
		snprintf(why, sizeof(why), "identity already connected from another address (%s)", o->peer);
		send_error(s, XR_ERR_DUPLICATE, "identity already connected from another address");
		sess_close(s, why);
		return -1;
	}
	return 0;
}

/* HELLO: check the names, answer WELCOME, fill the pool.  A HELLO on a
 * READY session registers anew (the agent retrying refused names); routes
 * it keeps keep their state. */
static void on_hello(struct agent_sess *s, const struct xr_msg *in)
{
	struct relay *r = s->r;
	static struct xr_msg w;
	char why[XR_PROTO_TEXT_LEN];
	bool again = s->state == AS_READY;
	struct sess_route *routes;
	unsigned n = 0;

	if (in->version != XR_PROTO_VERSION) {
		snprintf(why, sizeof(why), "protocol version %u, relay speaks %u", in->version,
			 XR_PROTO_VERSION);
		send_error(s, XR_ERR_VERSION, why);
		sess_close(s, why);
		return;
	}
	if (strcmp(in->name, s->name))
		xr_warn("agent calls itself by another name; the identity decides", "tenant=%s agent=%s "
			"says=%s", s->tenant, s->name, in->name);
	if (!again && identity_check(s))
		return;
	memset(&w, 0, sizeof(w));
	w.type = XR_MSG_WELCOME;
	if (!again)
		s->id = ++r->next_sess_id;
	w.session = s->id;
	s->heartbeat_ms = in->heartbeat_ms < HB_MIN_MS ? XR_AGENT_HEARTBEAT_MS :
			  in->heartbeat_ms > HB_MAX_MS ? HB_MAX_MS : in->heartbeat_ms;
	w.heartbeat_ms = s->heartbeat_ms;
	s->pool_target = in->pool > XR_AGENT_POOL_MAX ? XR_AGENT_POOL_MAX : in->pool;
	routes = calloc(in->n_hosts + 1, sizeof(*routes));
	if (!routes) {
		sess_close(s, "out of memory");
		return;
	}
	for (unsigned i = 0; i < in->n_hosts; i++) {
		if (router_owns(r, s->tidx, in->hosts[i], why, sizeof(why))) {
			struct sess_route *rt = &routes[n++];

			memcpy(rt->host, in->hosts[i], XR_PROTO_HOST_LEN);
			rt->since_ns = now_ns();
			for (unsigned k = 0; k < s->n_hosts; k++)   /* registered before: keep */
				if (!strcmp(s->routes[k].host, rt->host))
					*rt = s->routes[k];
			memcpy(w.hosts[w.n_hosts++], in->hosts[i], XR_PROTO_HOST_LEN);
		} else {
			xr_warn("hostname refused", "tenant=%s agent=%s hostname=%s reason=\"%s\"",
				s->tenant, s->name, in->hosts[i], why);
			memcpy(w.refused[w.n_refused].host, in->hosts[i], XR_PROTO_HOST_LEN);
			snprintf(w.refused[w.n_refused].reason, XR_PROTO_TEXT_LEN, "%s", why);
			w.n_refused++;
		}
	}
	free(s->routes);
	s->routes = routes;
	s->n_hosts = n;
	free(s->asked);
	s->asked = calloc(in->n_hosts + 1, sizeof(*s->asked));
	s->n_asked = 0;
	for (unsigned i = 0; s->asked && i < in->n_hosts; i++)
		memcpy(s->asked[s->n_asked++], in->hosts[i], XR_PROTO_HOST_LEN);
	s->state = AS_READY;
	s->last_rx_ns = now_ns();
	if (!again)
		s->since_ns = s->last_rx_ns;
	xr_info(again ? "agent registered again" : "agent connected", "tenant=%s agent=%s peer=%s "
		"session=%llu hostnames=%u refused=%u pool=%u heartbeat_ms=%u", s->tenant, s->name,
		s->peer, (unsigned long long)s->id, s->n_hosts, w.n_refused, s->pool_target,
		s->heartbeat_ms);
	if (!again)
		/* its own earlier connections (see identity_check) go now */
		for (struct agent_sess *o = r->sessions; o; o = o->next)
			if (o != s && o->state == AS_READY && o->tenant_id == s->tenant_id &&
			    !strcmp(o->name, s->name)) {
				char why2[64];

				snprintf(why2, sizeof(why2), "superseded by session %llu of the same agent",
					 (unsigned long long)s->id);
				sess_close(o, why2);
			}
	health_sess_up(s);
	if (send_msg(s, &w))
		return;
	pool_top_up(s);
}

static void on_frame(struct agent_sess *s, uint8_t type, const uint8_t *p, size_t n)
{
	struct xr_msg *m = &scratch;
	int rc = xr_msg_decode(type, p, n, m);
	char why[160];

	if (rc) {
		snprintf(why, sizeof(why), "bad %s frame: %s", xr_msg_type_name(type), xr_proto_strerror(rc));
		send_error(s, XR_ERR_PROTOCOL, why);
		sess_close(s, why);
		return;
	}
	s->last_rx_ns = now_ns();
	if (s->state == AS_HELLO) {
		if (type != XR_MSG_HELLO) {
			sess_close(s, "expected HELLO");
			return;
		}
		on_hello(s, m);
		return;
	}
	switch (type) {
	case XR_MSG_PING: {
		uint64_t nonce = m->nonce;

		m = msg_new(XR_MSG_PONG);
		m->nonce = nonce;
		send_msg(s, m);
		return;
	}
	case XR_MSG_PONG:
		health_on_pong(s, m->nonce);
		return;
	case XR_MSG_HEALTH:
		health_on_report(s, m);
		return;
	case XR_MSG_HELLO:
		on_hello(s, m);
		return;
	case XR_MSG_ERROR:
		snprintf(why, sizeof(why), "agent says: %.100s (code %u)", m->text, m->code);
		sess_close(s, why);
		return;
	default:
		snprintf(why, sizeof(why), "unexpected %s", xr_msg_type_name(type));
		send_error(s, XR_ERR_PROTOCOL, why);
		sess_close(s, why);
		return;
	}
}

/* Turn a peeked connection into TLS or hand it over as a data connection. */
static void peek(struct agent_sess *s)
{
	struct relay *r = s->r;
	uint8_t b[XR_DATA_PREAMBLE];
	ssize_t n = recv(s->fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	int one = 1;

	if (n <= 0) {
		if (n < 0 && errno == EAGAIN)
			return arm(s, false);
		return sess_close(s, "closed before speaking");
	}
	setsockopt(s->fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	if (b[0] == 0x16) {
		s->ssl = SSL_new(r->ctl_ctx);
		s->ibuf = malloc(XR_FRAME_HDR + XR_FRAME_MAX);
		if (!s->ssl || !s->ibuf || !SSL_set_fd(s->ssl, s->fd))
			return sess_close(s, "out of memory");
		s->state = AS_HANDSHAKE;
		drive(s);
		return;
	}
	if (n == XR_DATA_PREAMBLE && !memcmp(b, XR_DATA_MAGIC, 4) &&
	    recv(s->fd, b, sizeof(b), MSG_DONTWAIT) == XR_DATA_PREAMBLE) {
		int fd = s->fd;

		s->fd = -1;
		s->state = AS_CLOSING;
		defer_free(s);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);  /* set for OpenSSL above */
		agents_data_conn(r, fd, b + 4);
		return;
	}
	if (n < XR_DATA_PREAMBLE && !memcmp(b, XR_DATA_MAGIC, (size_t)(n < 4 ? n : 4)))
		return arm(s, false);   /* the rest of the preamble is on its way */
	sess_close(s, "neither TLS nor a data connection");
}

static void drive(struct agent_sess *s)
{
	char ebuf[256];
	int rc, e;

	if (s->state == AS_PEEK) {
		peek(s);
		return;
	}
	if (s->state == AS_HANDSHAKE) {
		uint8_t id[32];

		ERR_clear_error();
		rc = SSL_accept(s->ssl);
		if (rc <= 0) {
			e = SSL_get_error(s->ssl, rc);
			if (e == SSL_ERROR_WANT_READ)
				return arm(s, false);
			if (e == SSL_ERROR_WANT_WRITE)
				return arm(s, true);
			{
				char tls[192];

				snprintf(ebuf, sizeof(ebuf), "TLS handshake: %s", e == SSL_ERROR_SSL ?
					 xr_tls_errstr(tls, sizeof(tls)) : "connection lost");
			}
			return sess_close(s, ebuf);
		}
		if (xr_tls_peer_identity(s->ssl, id) || find_agent(s, id)) {
			char line[XR_IDENTITY_STR_LEN];

			xr_identity_format(id, line, sizeof(line));
			snprintf(ebuf, sizeof(ebuf), "identity \"%s\" is not an agent of any tenant", line);
			send_error(s, XR_ERR_IDENTITY, "identity not accepted by this relay");
			return sess_close(s, ebuf);
		}
		s->state = AS_HELLO;
	}
	/* read every frame the TLS layer has */
	for (;;) {
		size_t off = 0;

		if (s->state == AS_CLOSING)
			return;
		ERR_clear_error();
		rc = SSL_read(s->ssl, s->ibuf + s->ilen, (int)(XR_FRAME_HDR + XR_FRAME_MAX - s->ilen));
		if (rc <= 0) {
			e = SSL_get_error(s->ssl, rc);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
				arm(s, e == SSL_ERROR_WANT_WRITE);
				break;
			}
			return sess_close(s, e == SSL_ERROR_ZERO_RETURN ? "closed by the agent" :
					  "connection lost");
		}
		s->ilen += (size_t)rc;
		for (;;) {
			uint8_t type;
			const uint8_t *p;
			size_t plen;
			int n = xr_frame_split(s->ibuf + off, s->ilen - off, &type, &p, &plen);

			if (n == 0)
				break;
			if (n < 0) {
				snprintf(ebuf, sizeof(ebuf), "bad frame: %s", xr_proto_strerror(n));
				send_error(s, XR_ERR_PROTOCOL, ebuf);
				return sess_close(s, ebuf);
			}
			on_frame(s, type, p, plen);
			if (s->state == AS_CLOSING)
				return;
			off += (size_t)n;
		}
		memmove(s->ibuf, s->ibuf + off, s->ilen - off);
		s->ilen -= off;
	}
	flush(s);
	if (s->doomed && s->state != AS_CLOSING)
		sess_close(s, s->doomed);
}

/* Write what is queued; never reads and never closes (a failure marks the
 * session doomed), so it is safe from anywhere. */
static void flush(struct agent_sess *s)
{
	int rc, e;

	if (!s->ssl || s->state < AS_HELLO)
		return;
	while (s->olen && s->state != AS_CLOSING) {
		ERR_clear_error();
		rc = SSL_write(s->ssl, s->obuf, (int)s->olen);
		if (rc <= 0) {
			e = SSL_get_error(s->ssl, rc);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
				arm(s, e == SSL_ERROR_WANT_WRITE);
				return;
			}
			/* not from here: send_msg's callers still use the
			 * session and its connections; the next sweep closes */
			s->doomed = "connection lost while writing";
			return;
		}
		memmove(s->obuf, s->obuf + rc, s->olen - (size_t)rc);
		s->olen -= (size_t)rc;
	}
}

static void rd_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct agent_sess *s = op->ctx;

	(void)loop;
	(void)cqe;
	s->rd_busy = 0;
	if (s->state == AS_CLOSING) {
		if (!s->wr_busy)
			sess_free(s);
		return;
	}
	drive(s);
}

static void wr_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct agent_sess *s = op->ctx;

	(void)loop;
	(void)cqe;
	s->wr_busy = 0;
	if (s->state == AS_CLOSING) {
		if (!s->rd_busy)
			sess_free(s);
		return;
	}
	drive(s);
}

/* ---- lifecycle ------------------------------------------------------------------------- */

int agents_open(struct relay *r)
{
	char err[XR_CFG_ERR_LEN];

	if (!r->cfg.control_key[0])
		return 0;
	r->ctl_ctx = xr_tls_ctl_ctx(r->cfg.control_key, true, r->self_id, err, sizeof(err));
	if (!r->ctl_ctx) {
		xr_err("cannot load the relay identity (control.key)", "error=\"%s\"", err);
		return -1;
	}
	{
		char line[XR_IDENTITY_STR_LEN];

		xr_identity_format(r->self_id, line, sizeof(line));
		xr_info("relay identity", "identity=\"%s\"", line);
	}
	return 0;
}

void agents_close(struct relay *r)
{
	struct agent_sess *s, *next;

	for (s = r->sessions; s; s = next) {
		next = s->next;
		if (s->state == AS_READY)
			send_error(s, XR_ERR_SHUTDOWN, "relay stopping");
		sess_close(s, "relay stopping");
	}
	SSL_CTX_free(r->ctl_ctx);
	r->ctl_ctx = NULL;
}

void agents_sweep(struct relay *r)
{
	uint64_t now = now_ns();
	struct agent_sess *s, *next;

	for (s = r->sessions; s; s = next) {
		next = s->next;
		if (s->state == AS_CLOSING)
			continue;
		if (s->doomed) {
			sess_close(s, s->doomed);
			continue;
		}
		if (s->state != AS_READY) {
			if (now > s->deadline_ns)
				sess_close(s, "no TLS handshake and HELLO within 10 s");
			continue;
		}
		if (now - s->last_rx_ns > 3ull * s->heartbeat_ms * 1000000ull)
			sess_close(s, "heartbeat timeout (3 missed)");
	}
}

/* After a reload: agents whose identity left the config go, names the
 * tenant no longer owns are withdrawn. */
void agents_reload(struct relay *r)
{
	struct agent_sess *s, *next;
	char why[XR_PROTO_TEXT_LEN];

	for (s = r->sessions; s; s = next) {
		uint8_t id[32];
		unsigned k = 0;

		next = s->next;
		if (s->state != AS_READY)
			continue;
		if (xr_tls_peer_identity(s->ssl, id) || find_agent(s, id)) {
			sess_close(s, "identity removed from the config");
			continue;
		}
		for (unsigned i = 0; i < s->n_hosts; i++) {
			if (router_owns(r, s->tidx, s->routes[i].host, why, sizeof(why)))
				s->routes[k++] = s->routes[i];
			else
				xr_warn("hostname withdrawn by reload", "tenant=%s agent=%s hostname=%s "
					"reason=\"%s\"", s->tenant, s->name, s->routes[i].host, why);
		}
		s->n_hosts = k;
		/* names asked for and refused before, owned now: granted (the
		 * routes array has room for every name asked) */
		for (unsigned a = 0; a < s->n_asked && s->n_hosts < s->n_asked; a++) {
			bool have = false;

			for (unsigned i = 0; i < s->n_hosts && !have; i++)
				have = !strcmp(s->routes[i].host, s->asked[a]);
			if (have || !router_owns(r, s->tidx, s->asked[a], why, sizeof(why)))
				continue;
			memset(&s->routes[s->n_hosts], 0, sizeof(s->routes[0]));
			memcpy(s->routes[s->n_hosts].host, s->asked[a], XR_PROTO_HOST_LEN);
			s->routes[s->n_hosts].since_ns = now_ns();
			s->n_hosts++;
			xr_info("hostname granted by reload", "tenant=%s agent=%s hostname=%s", s->tenant,
				s->name, s->asked[a]);
		}
		health_sess_up(s);
	}
}
