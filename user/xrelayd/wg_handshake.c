// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * WireGuard messages that reach userspace on the relay port:
 *  - handshakes (types 1-3), which XDP always passes up (rate-limited per
 *    source): tenant by mac1, forward, install sessions (wgstate.c decides);
 *  - the slow path of transport data (type 4): fragments, a destination
 *    whose neighbour is not resolved yet, another address family or NIC.
 *    Forwarding these through our socket lets the kernel resolve and
 *    fragment; XDP takes over from the next packet on.
 *
 * Sends are synchronous sendmsg(MSG_DONTWAIT) on the UDP socket: a UDP send
 * never waits for the peer, and the datagram's provided buffer can go back
 * to the ring as soon as the callback returns.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "log.h"
#include "wg.h"
#include "xrelayd.h"

#define WG_BGID   1
#define WG_NBUFS  256
#define WG_BUFSZ  2048   /* io_uring_recvmsg_out + name + control + 1500-byte MTU payload */
#define WG_CTLSZ  64

static void wg_recv_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

static void arm(struct wg_sock *s)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&s->r->loop, &s->op);

	io_uring_prep_recvmsg_multishot(sqe, s->fd, &s->msgh, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = WG_BGID;
}

int wg_open(struct relay *r)
{
	int rc, one = 1;
	char a[80];

	rc = xr_bufring_init(&r->loop, &r->wg_br, WG_BGID, WG_NBUFS, WG_BUFSZ);
	if (rc) {
		xr_err("io_uring buffer ring", "error=\"%s\"", strerror(-rc));
		return rc;
	}
	for (int i = 0; i < r->cfg.n_wg_listen; i++) {
		struct wg_sock *s = &r->wg[r->n_wg];
		const struct xr_sockaddr *sa = &r->cfg.wg_listen[i];

		memset(s, 0, sizeof(*s));
		s->r = r;
		s->addr = *sa;
		s->family = sa->ss.ss_family;
		s->fd = socket(s->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (s->fd < 0)
			goto fail;
		setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (s->family == AF_INET6) {
			setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
			setsockopt(s->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
		} else {
			setsockopt(s->fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
		}
		if (bind(s->fd, (const struct sockaddr *)&sa->ss, sa->len))
			goto fail;
		s->op.cb = wg_recv_cb;
		s->op.ctx = s;
		s->msgh.msg_namelen = sizeof(struct sockaddr_storage);
		s->msgh.msg_controllen = WG_CTLSZ;
		arm(s);
		r->n_wg++;
		xr_info("wireguard listening", "addr=%s",
			xr_sockaddr_str((const struct sockaddr *)&sa->ss, a, sizeof(a)));
		continue;
fail:
		rc = -errno;
		xr_err("wireguard listen failed", "addr=%s error=\"%s\"",
		       xr_sockaddr_str((const struct sockaddr *)&sa->ss, a, sizeof(a)), strerror(errno));
		if (s->fd >= 0)
			close(s->fd);
		return rc;
	}
	return 0;
}

void wg_close(struct relay *r)
{
	for (int i = 0; i < r->n_wg; i++)
		close(r->wg[i].fd);
	r->n_wg = 0;
}

/* Send `buf` to `dst`, from the local address `local` when it is of the same
 * family (so replies leave from the address the peer talks to). */
static void send_to(struct relay *r, struct wg_sock *via, const struct xr_endpoint *dst,
		    const struct in6_pktinfo *local6, const struct in_pktinfo *local4,
		    const void *buf, size_t len)
{
	struct sockaddr_storage ss;
	char ctl[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_name = &ss, .msg_iov = &iov, .msg_iovlen = 1 };
	int fam = dst->family == XR_AF_INET ? AF_INET : AF_INET6;
	struct wg_sock *s = via;
	char a[80];

	mh.msg_namelen = xr_ep_to_sockaddr(dst, &ss);
	if (s->family != fam) {
		s = NULL;
		for (int i = 0; i < r->n_wg; i++)
			if (r->wg[i].family == fam)
				s = &r->wg[i];
		if (!s) {
			r->st.send_errors++;
			xr_dbg("no socket of the destination's family", "dst=%s", xr_ep_str(dst, a, sizeof(a)));
			return;
		}
		local4 = NULL;
		local6 = NULL;
	}
	memset(ctl, 0, sizeof(ctl));
	if ((fam == AF_INET && local4) || (fam == AF_INET6 && local6)) {
		struct in_pktinfo pi4 = { .ipi_spec_dst = local4 ? local4->ipi_addr : (struct in_addr){ 0 } };
		struct in6_pktinfo pi6 = { .ipi6_addr = local6 ? local6->ipi6_addr : in6addr_any };
		const void *pi = fam == AF_INET ? (const void *)&pi4 : (const void *)&pi6;
		size_t pl = fam == AF_INET ? sizeof(pi4) : sizeof(pi6);
		struct cmsghdr *c;

		mh.msg_control = ctl;
		mh.msg_controllen = CMSG_SPACE(pl);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = fam == AF_INET ? IPPROTO_IP : IPPROTO_IPV6;
		c->cmsg_type = fam == AF_INET ? IP_PKTINFO : IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(pl);
		memcpy(CMSG_DATA(c), pi, pl);
	}
	if (sendmsg(s->fd, &mh, MSG_DONTWAIT) < 0) {
		r->st.send_errors++;
		xr_dbg("sendmsg failed", "dst=%s error=\"%s\"", xr_ep_str(dst, a, sizeof(a)), strerror(errno));
	}
}

static void install_sessions(struct relay *r, const struct xr_wgs_out *o)
{
	char a[80], b[80];

	for (int i = 0; i < o->n_install; i++) {
		/* Never overwrite: idx[1] is the initiator's index, shared by
		 * every answer to one initiation (the first stays, a later forged
		 * answer must not re-point it); idx[0] is the responder's fresh
		 * random index, and an answer that names an index already in use
		 * is not allowed to take it over. */
		if (bpf_map_update_elem(r->bpf.sessions_fd, &o->idx[i], &o->sess[i], BPF_NOEXIST)) {
			if (errno == EEXIST)
				xr_dbg("session index already in use, kept", "tenant=%s index=%u",
				       o->tenant, le32toh(o->idx[i]));
			else
				xr_warn("session install failed", "tenant=%s index=%u error=\"%s\"",
					o->tenant, le32toh(o->idx[i]), strerror(errno));
		}
	}
	if (o->n_install == 2)
		xr_info("session installed", "tenant=%s index=%u to=%s index=%u to=%s",
			o->tenant, le32toh(o->idx[0]), xr_ep_str(&o->sess[0].dst, a, sizeof(a)),
			le32toh(o->idx[1]), xr_ep_str(&o->sess[1].dst, b, sizeof(b)));
}

static void slowpath(struct relay *r, struct wg_sock *s, const uint8_t *p, size_t len,
		     const struct in6_pktinfo *l6, const struct in_pktinfo *l4)
{
	struct xr_session sess;
	uint32_t idx;

	if (len < XR_WG_DATA_MIN_LEN) {
		r->st.slowpath_drop++;
		return;
	}
	memcpy(&idx, p + 4, 4);   /* the wire bytes, as XDP keys them */
	if (bpf_map_lookup_elem(r->bpf.sessions_fd, &idx, &sess)) {
		r->st.slowpath_drop++;
		return;
	}
	r->st.slowpath_fwd++;
	send_to(r, s, &sess.dst, l6, l4, p, len);
}

static void handle_datagram(struct relay *r, struct wg_sock *s, struct io_uring_recvmsg_out *out,
			    int res)
{
	struct xr_endpoint src;
	const struct in6_pktinfo *l6 = NULL;
	const struct in_pktinfo *l4 = NULL;
	struct xr_wgs_out o;
	struct cmsghdr *c;
	uint8_t *p;
	size_t len;
	char a[80];

	if (out->namelen == 0 || (out->flags & MSG_TRUNC))
		return;
	xr_ep_from_sockaddr(&src, io_uring_recvmsg_name(out));
	for (c = io_uring_recvmsg_cmsg_firsthdr(out, &s->msgh); c;
	     c = io_uring_recvmsg_cmsg_nexthdr(out, &s->msgh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
			l4 = (const void *)CMSG_DATA(c);
		else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
			l6 = (const void *)CMSG_DATA(c);
	}
	p = io_uring_recvmsg_payload(out, &s->msgh);
	len = io_uring_recvmsg_payload_length(out, res, &s->msgh);
	if (len >= 4 && p[0] == XR_WG_TYPE_DATA)
		return slowpath(r, s, p, len, l6, l4);

	xr_wgs_handle(r->wgs, p, len, &src, now_ns(), &o);
	if (o.verdict != XR_WGS_FORWARD) {
		xr_dbg("handshake dropped", "src=%s tenant=%s why=\"%s\"",
		       xr_ep_str(&src, a, sizeof(a)), o.tenant ? o.tenant : "-", o.why);
		return;
	}
	/* Sessions go in before the response leaves, so the first data packet
	 * the initiator sends already finds them. */
	install_sessions(r, &o);
	for (int i = 0; i < o.n_dst; i++) {
		xr_dbg("handshake forwarded", "tenant=%s what=\"%s\" src=%s dst=%s", o.tenant, o.why,
		       xr_ep_str(&src, a, sizeof(a)), xr_ep_str(&o.dst[i], (char[80]){0}, 80));
		send_to(r, s, &o.dst[i], l6, l4, p, len);
	}
}

static void wg_recv_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct wg_sock *s = op->ctx;
	struct relay *r = s->r;

	if (cqe->flags & IORING_CQE_F_BUFFER) {
		unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		uint8_t *buf = xr_bufring_buf(&r->wg_br, bid);

		if (cqe->res > 0) {
			struct io_uring_recvmsg_out *out = io_uring_recvmsg_validate(buf, cqe->res, &s->msgh);

			if (out)
				handle_datagram(r, s, out, cqe->res);
		}
		xr_bufring_put(&r->wg_br, bid);
	} else if (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED) {
		xr_warn("wireguard receive", "error=\"%s\"", strerror(-cqe->res));
	}
	if (!(cqe->flags & IORING_CQE_F_MORE) && cqe->res != -ECANCELED && !loop->stop)
		arm(s);
}

/* Learn trusted endpoints from sessions the data plane saw in use: a
 * confirmed direction vouches for its own destination and, through its
 * opposite direction, for the other peer. */
static void confirm_from(struct relay *r, uint32_t key, const struct xr_session *s, uint64_t now)
{
	struct xr_session ps;
	bool have_ps;
	char a[80], b[80];

	if (!(s->flags & XR_SESS_F_CONFIRMED))
		return;
	have_ps = !bpf_map_lookup_elem(r->bpf.sessions_fd, &s->peer_index, &ps);
	if (xr_wgs_confirm_pair(r->wgs, s, have_ps ? &ps : NULL, now))
		xr_info("endpoint confirmed", "tenant_id=%u index=%u endpoint=%s peer=%s",
			s->tenant_id, le32toh(key), xr_ep_str(&s->dst, a, sizeof(a)),
			xr_ep_str(&s->src, b, sizeof(b)));
}

/* Every tick: drop expired session directions (WireGuard's
 * REJECT_AFTER_TIME + slack) and those of tenants that no longer exist,
 * and confirm endpoints from sessions in use. */
struct sweep {
	struct relay *r;
	uint64_t now;
	uint8_t *live;            /* [XR_MAX_TENANTS]: ids of the config's tenants */
	uint32_t dead[256];
	int n;
};

static void sweep_one(uint32_t key, const struct xr_session *s, void *ctx)
{
	struct sweep *w = ctx;

	if (xr_session_expired(s, w->now, XR_SESSION_SLACK_S) || s->tenant_id >= XR_MAX_TENANTS ||
	    !w->live[s->tenant_id]) {
		if (w->n < (int)(sizeof(w->dead) / sizeof(w->dead[0])))
			w->dead[w->n++] = key;
		return;
	}
	confirm_from(w->r, key, s, w->now);
}

/* Once a second: expired sessions and those of removed tenants go, live
 * ones confirm endpoints.  The map is read in batches (bpfobj.c): 60k
 * sessions cost ~20 ms here, not ~150 ms of per-entry syscalls. */
void wg_sweep(struct relay *r)
{
	struct sweep w = { .r = r, .now = now_ns() };

	w.live = calloc(XR_MAX_TENANTS, 1);
	if (!w.live)
		return;
	for (int t = 0; t < r->cfg.n_tenants; t++)
		w.live[r->tenant_ids[t]] = 1;
	xr_sessions_each(&r->bpf, sweep_one, &w);
	free(w.live);
	for (int i = 0; i < w.n; i++)
		bpf_map_delete_elem(r->bpf.sessions_fd, &w.dead[i]);
	if (w.n)
		xr_dbg("sessions expired", "count=%d", w.n);
	r->st.sessions_expired += w.n;
	xr_wgs_tick(r->wgs, w.now);
}

/* After a restart: the sessions XDP kept forwarding teach the endpoints back. */
void wg_adopt_sessions(struct relay *r)
{
	long n = xr_map_count(r->bpf.sessions_fd);

	wg_sweep(r);
	if (n > 0)
		xr_info("adopted pinned sessions", "count=%ld", n);
}
