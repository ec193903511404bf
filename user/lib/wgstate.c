// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* WireGuard handshake logic of the relay.  See wgstate.h for the model. */
#include "wgstate.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>

#include "wg.h"

struct wgs_key {
	uint8_t pub[32];
	uint8_t mac1_key[32];
	uint32_t tenant_id;
	const char *tenant;            /* points into the config */
	const struct xr_cfg_tenant *tcfg;
	int host;                      /* index of this key's host entry (self for hosts) */
	int peers_begin, peers_end;    /* hosts: range of their peer keys */
	bool is_host;
	struct xr_endpoint ep;         /* confirmed */
	uint64_t ep_ns;
	struct xr_endpoint cand;       /* newest unconfirmed */
	uint64_t cand_ns;
};

struct wgs_pending {
	uint32_t sender;               /* initiator's index (wire bytes as u32) */
	bool used;
	uint64_t ns;
	int responder;                 /* key the initiation's mac1 matched */
	int initiator;                 /* key, or -1 when not known yet */
	struct xr_endpoint src;        /* initiator's address */
	struct xr_endpoint fwd[XR_WGS_FANOUT];
	int n_fwd;
	uint8_t resp_pub[32], init_pub[32]; /* to re-map across reconfiguration */
	bool init_known;
	uint8_t answered;              /* bit i: fwd[i] has answered (one response each) */
};

struct xr_wgs {
	struct wgs_key *keys;
	int n_keys;
	struct wgs_pending pending[XR_WGS_PENDING];
	struct xr_wgs_stats st;
};

struct xr_wgs *xr_wgs_new(void)
{
	return calloc(1, sizeof(struct xr_wgs));
}

void xr_wgs_free(struct xr_wgs *w)
{
	if (!w)
		return;
	free(w->keys);
	free(w);
}

const struct xr_wgs_stats *xr_wgs_stats(const struct xr_wgs *w)
{
	return &w->st;
}

static int find_key(const struct xr_wgs *w, const char *tenant, const uint8_t pub[32])
{
	for (int i = 0; i < w->n_keys; i++)
		if (!memcmp(w->keys[i].pub, pub, 32) && (!tenant || !strcmp(w->keys[i].tenant, tenant)))
			return i;
	return -1;
}

int xr_wgs_configure(struct xr_wgs *w, const struct xr_relay_cfg *cfg, const uint32_t *tenant_ids)
{
	struct wgs_key *keys;
	int n = 0, k = 0;

	for (int t = 0; t < cfg->n_tenants; t++)
		for (int h = 0; h < cfg->tenants[t].n_wg; h++)
			n += 1 + cfg->tenants[t].wg[h].n_peers;
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;

	for (int t = 0; t < cfg->n_tenants; t++) {
		const struct xr_cfg_tenant *tc = &cfg->tenants[t];

		for (int h = 0; h < tc->n_wg; h++) {
			int host = k;

			for (int p = -1; p < tc->wg[h].n_peers; p++) {
				struct wgs_key *key = &keys[k];
				const uint8_t *pub = p < 0 ? tc->wg[h].pubkey : tc->wg[h].peers[p];
				int old;

				memcpy(key->pub, pub, 32);
				xr_wg_mac1_key(pub, key->mac1_key);
				key->tenant_id = tenant_ids[t];
				key->tenant = tc->name;
				key->tcfg = tc;
				key->host = host;
				key->is_host = p < 0;
				/* carry learned endpoints over a reload */
				old = find_key(w, tc->name, pub);
				if (old >= 0) {
					key->ep = w->keys[old].ep;
					key->ep_ns = w->keys[old].ep_ns;
					key->cand = w->keys[old].cand;
					key->cand_ns = w->keys[old].cand_ns;
				}
				k++;
			}
			keys[host].peers_begin = host + 1;
			keys[host].peers_end = k;
		}
	}

	/* Re-map pending handshakes onto the new table by public key. */
	for (int i = 0; i < XR_WGS_PENDING; i++) {
		struct wgs_pending *p = &w->pending[i];
		int r = -1, in = -1;

		if (!p->used)
			continue;
		for (int j = 0; j < k; j++) {
			if (!memcmp(keys[j].pub, p->resp_pub, 32))
				r = j;
			if (p->init_known && !memcmp(keys[j].pub, p->init_pub, 32))
				in = j;
		}
		if (r < 0 || (p->init_known && in < 0))
			p->used = false;
		p->responder = r;
		p->initiator = in;
	}
	free(w->keys);
	w->keys = keys;
	w->n_keys = k;
	return 0;
}

/* ---- endpoints ----------------------------------------------------------- */

void xr_ep_from_sockaddr(struct xr_endpoint *ep, const struct sockaddr *sa)
{
	memset(ep, 0, sizeof(*ep));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)sa;

		ep->addr.a[10] = 0xff;
		ep->addr.a[11] = 0xff;
		memcpy(&ep->addr.a[12], &s4->sin_addr, 4);
		ep->port = s4->sin_port;
		ep->family = XR_AF_INET;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		memcpy(ep->addr.a, &s6->sin6_addr, 16);
		ep->port = s6->sin6_port;
		ep->family = XR_AF_INET6;
		/* a v4-mapped source on a dual-stack socket is IPv4 */
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			ep->family = XR_AF_INET;
	}
}

socklen_t xr_ep_to_sockaddr(const struct xr_endpoint *ep, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ep->family == XR_AF_INET) {
		struct sockaddr_in *s4 = (void *)ss;

		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, &ep->addr.a[12], 4);
		s4->sin_port = ep->port;
		return sizeof(*s4);
	}
	if (ep->family == XR_AF_INET6) {
		struct sockaddr_in6 *s6 = (void *)ss;

		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, ep->addr.a, 16);
		s6->sin6_port = ep->port;
		return sizeof(*s6);
	}
	return 0;
}

const char *xr_ep_str(const struct xr_endpoint *ep, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (ep->family == XR_AF_INET) {
		inet_ntop(AF_INET, &ep->addr.a[12], a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(ep->port));
	} else if (ep->family == XR_AF_INET6) {
		inet_ntop(AF_INET6, ep->addr.a, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(ep->port));
	} else {
		snprintf(buf, len, "-");
	}
	return buf;
}

bool xr_ep_equal(const struct xr_endpoint *a, const struct xr_endpoint *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr.a, b->addr.a, 16);
}

bool xr_cidr_match(const struct xr_cidr *c, int n, const struct xr_endpoint *ep)
{
	if (n == 0)
		return true;
	for (int i = 0; i < n; i++) {
		int bits = c[i].prefixlen, bytes = bits / 8, rem = bits % 8;

		if (memcmp(c[i].addr, ep->addr.a, bytes))
			continue;
		if (rem && ((c[i].addr[bytes] ^ ep->addr.a[bytes]) & (0xff << (8 - rem))))
			continue;
		return true;
	}
	return false;
}

static int endpoints_of(const struct wgs_key *k, struct xr_endpoint *out)
{
	int n = 0;

	if (k->ep.family)
		out[n++] = k->ep;
	if (k->cand.family && k->cand_ns > k->ep_ns && !xr_ep_equal(&k->cand, &k->ep))
		out[n++] = k->cand;
	return n;
}

/* Confirm ep for k as of `when`, unless a newer confirmation exists. */
static void confirm(struct wgs_key *k, const struct xr_endpoint *ep, uint64_t when)
{
	if (when < k->ep_ns)
		return;
	k->ep = *ep;
	k->ep_ns = when;
	if (xr_ep_equal(&k->cand, ep))
		memset(&k->cand, 0, sizeof(k->cand));
}

int xr_wgs_endpoint_of(const struct xr_wgs *w, const uint8_t pub[32], struct xr_endpoint *ep,
		       bool *confirmed)
{
	int i = find_key(w, NULL, pub);

	if (i < 0)
		return -ENOENT;
	if (w->keys[i].ep.family) {
		*ep = w->keys[i].ep;
		*confirmed = true;
		return 0;
	}
	if (w->keys[i].cand.family) {
		*ep = w->keys[i].cand;
		*confirmed = false;
		return 0;
	}
	return -ENOENT;
}

/* ---- pending handshakes: open addressing on the sender index ------------- */

static struct wgs_pending *pending_find(struct xr_wgs *w, uint32_t sender, uint64_t now)
{
	for (unsigned i = 0; i < 8; i++) {
		struct wgs_pending *p = &w->pending[(sender + i) & (XR_WGS_PENDING - 1)];

		if (p->used && p->sender == sender && now - p->ns <= XR_WGS_PENDING_NS)
			return p;
	}
	return NULL;
}

static struct wgs_pending *pending_slot(struct xr_wgs *w, uint32_t sender, uint64_t now)
{
	struct wgs_pending *oldest = NULL;

	for (unsigned i = 0; i < 8; i++) {
		struct wgs_pending *p = &w->pending[(sender + i) & (XR_WGS_PENDING - 1)];

		if (!p->used || p->sender == sender || now - p->ns > XR_WGS_PENDING_NS)
			return p;
		if (!oldest || p->ns < oldest->ns)
			oldest = p;
	}
	return oldest;  /* full probe window: the oldest handshake retries */
}

void xr_wgs_tick(struct xr_wgs *w, uint64_t now)
{
	for (int i = 0; i < XR_WGS_PENDING; i++)
		if (w->pending[i].used && now - w->pending[i].ns > XR_WGS_PENDING_NS)
			w->pending[i].used = false;
}

/* ---- messages -------------------------------------------------------------- */

static void drop(struct xr_wgs_out *out, const char *why, uint64_t *ctr)
{
	out->verdict = XR_WGS_DROP;
	out->why = why;
	(*ctr)++;
}

/* Apply `fn` to every key entry of the tenant with this public key (a
 * public peer shared by several hosts has one entry per host). */
static void each_same_key(struct xr_wgs *w, const struct wgs_key *k,
			  void (*fn)(struct wgs_key *, const struct xr_endpoint *, uint64_t),
			  const struct xr_endpoint *ep, uint64_t now)
{
	for (int i = 0; i < w->n_keys; i++)
		if (w->keys[i].tenant_id == k->tenant_id && !memcmp(w->keys[i].pub, k->pub, 32))
			fn(&w->keys[i], ep, now);
}

static void set_candidate(struct wgs_key *k, const struct xr_endpoint *ep, uint64_t now)
{
	if (xr_ep_equal(&k->ep, ep))
		return;
	k->cand = *ep;
	k->cand_ns = now;
}

static void handle_init(struct xr_wgs *w, const uint8_t *msg, size_t len, const struct xr_wg_msg *m,
			const struct xr_endpoint *src, uint64_t now, struct xr_wgs_out *out)
{
	struct wgs_pending *p;
	struct wgs_key *to = NULL;
	int ki = -1, initiator = -1, hosts = 0;

	for (int i = 0; i < w->n_keys; i++) {
		if (xr_wg_mac1_verify(msg, len, m, w->keys[i].mac1_key) == 1) {
			ki = i;
			break;
		}
	}
	if (ki < 0)
		return drop(out, "mac1 matches no tenant key", &w->st.no_key);
	to = &w->keys[ki];
	out->tenant_id = to->tenant_id;
	out->tenant = to->tenant;
	if (!xr_cidr_match(to->tcfg->allow, to->tcfg->n_allow, src))
		return drop(out, "source not in tenant's allow list", &w->st.not_allowed);

	if (!to->is_host) {
		/* host -> public peer: the sender is one of the hosts that list
		 * this peer; its address becomes a candidate of each of them
		 * (a host that is not the sender ignores what it cannot decrypt). */
		for (int i = 0; i < w->n_keys; i++) {
			struct wgs_key *k = &w->keys[i];

			if (k->is_host || k->tenant_id != to->tenant_id || memcmp(k->pub, to->pub, 32))
				continue;
			each_same_key(w, &w->keys[k->host], set_candidate, src, now);
			initiator = k->host;
			hosts++;
		}
		if (hosts > 1)
			initiator = -1;  /* told apart by the response's mac1 */
	}
	out->n_dst = endpoints_of(to, out->dst);
	if (!out->n_dst)
		return drop(out, to->is_host ? "private host's endpoint not known yet"
					     : "public peer's endpoint not known yet",
			    &w->st.no_endpoint);

	p = pending_slot(w, m->sender, now);
	memset(p, 0, sizeof(*p));
	p->used = true;
	p->sender = m->sender;
	p->ns = now;
	p->responder = ki;
	p->initiator = initiator;
	p->src = *src;
	p->n_fwd = out->n_dst;
	memcpy(p->fwd, out->dst, sizeof(p->fwd));
	memcpy(p->resp_pub, to->pub, 32);
	if (initiator >= 0) {
		memcpy(p->init_pub, w->keys[initiator].pub, 32);
		p->init_known = true;
	}
	out->verdict = XR_WGS_FORWARD;
	out->why = "initiation";
	w->st.forwarded++;
}

/* Index of src among the addresses the initiation went to, or -1. */
static int from_forwarded(const struct wgs_pending *p, const struct xr_endpoint *src)
{
	for (int i = 0; i < p->n_fwd; i++)
		if (xr_ep_equal(&p->fwd[i], src))
			return i;
	return -1;
}

static void set_session(struct xr_session *s, const struct xr_endpoint *dst,
			const struct xr_endpoint *src, uint32_t tid, uint32_t peer, uint64_t now,
			const struct wgs_key *dkey)
{
	memset(s, 0, sizeof(*s));
	s->dst = *dst;
	s->src = *src;
	s->tenant_id = tid;
	s->peer_index = peer;
	s->created_ns = now;
	if (dkey)
		memcpy(s->key_tag, dkey->pub, XR_WG_TAG_LEN);
}

/* Which key made the response's mac1?  It is keyed with the initiator's
 * public key; returns the key, NULL when none of the candidates verifies,
 * or `any` when there is nothing to check against (a host without peers). */
static struct wgs_key *response_initiator(struct xr_wgs *w, const struct wgs_pending *p,
					  const uint8_t *msg, size_t len,
					  const struct xr_wg_msg *m, struct wgs_key *any)
{
	struct wgs_key *resp = &w->keys[p->responder];
	int tried = 0;

	if (p->initiator >= 0)
		return xr_wg_mac1_verify(msg, len, m, w->keys[p->initiator].mac1_key) == 1 ?
		       &w->keys[p->initiator] : NULL;
	for (int i = 0; i < w->n_keys; i++) {
		struct wgs_key *k = &w->keys[i];
		bool cand;

		if (k->tenant_id != resp->tenant_id)
			continue;
		if (resp->is_host)      /* a public peer of this host started it */
			cand = !k->is_host && k->host == resp->host;
		else                    /* one of the hosts listing this peer did */
			cand = !k->is_host && !memcmp(k->pub, resp->pub, 32);
		if (!cand)
			continue;
		tried++;
		if (resp->is_host && xr_wg_mac1_verify(msg, len, m, k->mac1_key) == 1)
			return k;
		if (!resp->is_host && xr_wg_mac1_verify(msg, len, m, w->keys[k->host].mac1_key) == 1)
			return &w->keys[k->host];
	}
	return tried ? NULL : any;
}

/*
 * A response completes a handshake: install both session directions and
 * forward it to the initiator.  Every address the initiation was forwarded
 * to may answer (the confirmed endpoint and a candidate); each answer gets
 * its own sessions and only the genuine one will ever carry data.  Nothing
 * is trusted from a response alone: an endpoint is confirmed when data
 * arrives on its session from the expected peer (xr_wgs_adopt).
 */
static void handle_resp(struct xr_wgs *w, const uint8_t *msg, size_t len, const struct xr_wg_msg *m,
			const struct xr_endpoint *src, uint64_t now, struct xr_wgs_out *out)
{
	struct wgs_pending *p = pending_find(w, m->receiver, now);
	struct wgs_key *resp, *init, nobody = { .tenant_id = 0 };
	int fi;

	if (!p)
		return drop(out, "response to no pending initiation", &w->st.no_pending);
	if (m->sender == m->receiver)   /* would make both directions one map key */
		return drop(out, "response reuses the initiator's index", &w->st.malformed);
	resp = &w->keys[p->responder];
	out->tenant_id = resp->tenant_id;
	out->tenant = resp->tenant;
	fi = from_forwarded(p, src);
	if (fi < 0)
		return drop(out, "response from an address the initiation was not sent to",
			    &w->st.bad_source);
	if (p->answered & (1u << fi))
		return drop(out, "second response from the same address", &w->st.bad_source);
	init = response_initiator(w, p, msg, len, m, &nobody);
	if (!init)
		return drop(out, "response mac1 matches no possible initiator", &w->st.no_key);
	if (init == &nobody)
		init = NULL;
	p->answered |= 1u << fi;

	out->n_install = 2;
	out->idx[0] = m->sender;      /* data to the responder carries its index */
	set_session(&out->sess[0], src, &p->src, resp->tenant_id, m->receiver, now, resp);
	out->idx[1] = m->receiver;    /* data to the initiator carries the initiator's */
	set_session(&out->sess[1], &p->src, src, resp->tenant_id, m->sender, now, init);
	out->dst[0] = p->src;
	out->n_dst = 1;
	out->verdict = XR_WGS_FORWARD;
	out->why = "response";
	w->st.forwarded++;
	w->st.sessions_installed++;
}

static void handle_cookie(struct xr_wgs *w, const struct xr_wg_msg *m,
			  const struct xr_endpoint *src, uint64_t now, struct xr_wgs_out *out)
{
	struct wgs_pending *p = pending_find(w, m->receiver, now);

	if (!p)
		return drop(out, "cookie reply to no pending initiation", &w->st.no_pending);
	out->tenant_id = w->keys[p->responder].tenant_id;
	out->tenant = w->keys[p->responder].tenant;
	if (from_forwarded(p, src) < 0)
		return drop(out, "cookie reply from an address the initiation was not sent to",
			    &w->st.bad_source);
	out->dst[0] = p->src;
	out->n_dst = 1;
	out->verdict = XR_WGS_FORWARD;
	out->why = "cookie reply";
	w->st.forwarded++;
}

void xr_wgs_handle(struct xr_wgs *w, const uint8_t *msg, size_t len,
		   const struct xr_endpoint *src, uint64_t now, struct xr_wgs_out *out)
{
	struct xr_wg_msg m;

	memset(out, 0, sizeof(*out));
	if (xr_wg_parse(msg, len, &m))
		return drop(out, "malformed WireGuard message", &w->st.malformed);
	/* Map keys are the wire's little-endian bytes read as a host u32. */
	m.sender = htole32(m.sender);
	m.receiver = htole32(m.receiver);
	switch (m.type) {
	case XR_WG_TYPE_INITIATION:
		w->st.init++;
		return handle_init(w, msg, len, &m, src, now, out);
	case XR_WG_TYPE_RESPONSE:
		w->st.resp++;
		return handle_resp(w, msg, len, &m, src, now, out);
	case XR_WG_TYPE_COOKIE:
		w->st.cookie++;
		return handle_cookie(w, &m, src, now, out);
	default:
		return drop(out, "not a handshake message", &w->st.malformed);
	}
}

static struct wgs_key *key_by_tag(struct xr_wgs *w, uint32_t tid, const uint8_t tag[XR_WG_TAG_LEN])
{
	static const uint8_t zero[XR_WG_TAG_LEN];

	if (!memcmp(tag, zero, sizeof(zero)))
		return NULL;
	for (int i = 0; i < w->n_keys; i++)
		if (w->keys[i].tenant_id == tid && !memcmp(w->keys[i].pub, tag, XR_WG_TAG_LEN))
			return &w->keys[i];
	return NULL;
}

static bool fresh(const struct wgs_key *k, uint64_t now)
{
	return k->ep.family && now - k->ep_ns <= (XR_WG_REJECT_AFTER_S + 30) * XR_NS;
}

/* Does key k (if any) hold a fresh confirmation at an address other than ep? */
static bool held_elsewhere(const struct wgs_key *k, const struct xr_endpoint *ep, uint64_t now)
{
	return k && fresh(k, now) && !xr_ep_equal(&k->ep, ep);
}

/* Confirm `ep` for every entry of key k, unless a newer confirmation exists. */
static bool vouch(struct xr_wgs *w, struct wgs_key *k, const struct xr_endpoint *ep, uint64_t when)
{
	bool changed;

	if (!k || when < k->ep_ns)
		return false;
	changed = !xr_ep_equal(&k->ep, ep);
	each_same_key(w, k, confirm, ep, when);
	return changed;
}

bool xr_wgs_confirm_pair(struct xr_wgs *w, const struct xr_session *s, const struct xr_session *ps,
			 uint64_t now)
{
	struct wgs_key *k1, *k2 = NULL;
	bool changed;

	if (!(s->flags & XR_SESS_F_CONFIRMED))
		return false;
	k1 = key_by_tag(w, s->tenant_id, s->key_tag);
	if (ps && xr_ep_equal(&ps->dst, &s->src))
		k2 = key_by_tag(w, s->tenant_id, ps->key_tag);
	/* Decide both before changing either: each end vouches for the other.
	 * s->dst is vouched for by the opposite key being where s->src is (or
	 * having no fresh place); without the opposite key, only a first or
	 * stale confirmation, or a refresh of the same address, is taken.
	 * s->src is where the data came from, which proves nothing by itself:
	 * it may only take a key's first (or stale) place. */
	bool ok1 = k1 && (k2 ? !held_elsewhere(k2, &s->src, now) : !held_elsewhere(k1, &s->dst, now));
	bool ok2 = k2 && !held_elsewhere(k1, &s->dst, now) && !held_elsewhere(k2, &s->src, now);

	changed = ok1 && vouch(w, k1, &s->dst, s->created_ns);
	if (ok2)
		changed |= vouch(w, k2, &s->src, s->created_ns);
	return changed;
}

bool xr_wgs_adopt(struct xr_wgs *w, const struct xr_session *s)
{
	return xr_wgs_confirm_pair(w, s, NULL, s->created_ns);
}
