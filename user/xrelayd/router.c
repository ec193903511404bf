// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Router: host name -> tenant -> an agent session that registered it.
 *
 * Ownership comes from the config (tenants[].hostnames, exact or one-label
 * wildcard, unique across tenants); availability from agents' registrations.
 * Per tenant, before a connection is given to an agent: the source must be
 * in `allow` (the same LPM map the XDP program uses) and the tenant must be
 * under `limits.connections` (GCRA, burst of a tenth of a second's worth).
 * Then: round robin over the tenant's ready sessions that registered a
 * matching name, preferring one with a warm data connection.
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <bpf/bpf.h>

#include "log.h"
#include "xrelayd.h"

static int resolve(const char *hostport, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[XR_CFG_HOST_LEN], port[8];
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	uint16_t p;

	if (xr_parse_hostport(hostport, host, sizeof(host), &p))
		return -1;
	snprintf(port, sizeof(port), "%u", p);
	if (getaddrinfo(host, port, &hints, &ai) || !ai)
		return -1;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int router_build(struct relay *r, char *err, size_t errlen)
{
	const struct xr_relay_cfg *c = &r->cfg;
	size_t n = 0;

	for (int t = 0; t < c->n_tenants; t++)
		n += (size_t)c->tenants[t].n_hostnames;
	free(r->host_ents);
	r->host_ents = calloc(n + 1, sizeof(*r->host_ents));
	if (!r->host_ents) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	xr_hosttab_init(&r->hosts, r->host_ents, n + 1);
	for (int t = 0; t < c->n_tenants; t++)
		for (int h = 0; h < c->tenants[t].n_hostnames; h++)
			if (xr_hosttab_add(&r->hosts, c->tenants[t].hostnames[h],
					   (void *)(intptr_t)(t + 1)) < 0) {
				snprintf(err, errlen, "hostname %s: cannot be routed",
					 c->tenants[t].hostnames[h]);
				return -1;
			}
	r->fallback_len = 0;
	if (c->tls_fallback[0] && resolve(c->tls_fallback, &r->fallback_sa, &r->fallback_len)) {
		snprintf(err, errlen, "tls.fallback %s: cannot resolve", c->tls_fallback);
		return -1;
	}
	/* the control service reached through tls.listen: our own control port */
	r->control_len = 0;
	if (c->control_hostname[0] && c->n_control_listen) {
		const struct xr_sockaddr *a = &c->control_listen[0];

		memcpy(&r->control_sa, &a->ss, a->len);
		r->control_len = a->len;
		if (a->ss.ss_family == AF_INET) {
			struct sockaddr_in *s = (struct sockaddr_in *)&r->control_sa;

			if (s->sin_addr.s_addr == htonl(INADDR_ANY))
				s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		} else {
			struct sockaddr_in6 *s = (struct sockaddr_in6 *)&r->control_sa;

			if (IN6_IS_ADDR_UNSPECIFIED(&s->sin6_addr))
				s->sin6_addr = in6addr_loopback;
		}
	}
	return 0;
}

int router_owns(const struct relay *r, int tidx, const char *host, char *why, size_t whylen)
{
	const struct xr_cfg_tenant *t;

	if (tidx < 0 || tidx >= r->cfg.n_tenants) {
		snprintf(why, whylen, "tenant gone");
		return 0;
	}
	t = &r->cfg.tenants[tidx];
	for (int h = 0; h < t->n_hostnames; h++) {
		if (!strcasecmp(t->hostnames[h], host))
			return 1;
		/* a concrete name under one of the tenant's wildcards */
		if (host[0] != '*' && t->hostnames[h][0] == '*' && xr_host_match(t->hostnames[h], host))
			return 1;
	}
	snprintf(why, whylen, "not among the hostnames of tenant %s", t->name);
	return 0;
}

static int allowed(struct relay *r, int tidx, uint32_t tid, const struct xr_proto_ep *ep)
{
	struct xr_allow_key k;
	struct xr_endpoint e;
	uint8_t v;

	if (!r->cfg.tenants[tidx].n_allow)
		return 1;
	ep_abi(&e, ep);   /* the address as the XDP side keys it */
	memset(&k, 0, sizeof(k));
	k.prefixlen = 32 + 128;
	k.tenant_id = htonl(tid);
	k.addr = e.addr;
	return bpf_map_lookup_elem(r->bpf.allow_fd, &k, &v) == 0;
}

static int under_rate(struct relay *r, int tidx, uint32_t tid)
{
	uint64_t cps = r->cfg.tenants[tidx].limits.connections_ps, interval, burst, next;

	if (!cps)
		return 1;
	interval = 1000000000ull / cps;
	burst = interval * (cps / 10 > 1 ? cps / 10 : 1);
	next = xr_gcra_next(r->conn_gcra[tid].tat, now_ns(), interval, burst);
	if (!next)
		return 0;
	r->conn_gcra[tid].tat = next;
	return 1;
}

/* The route of session s for host, or NULL when it does not serve it. */
static const struct sess_route *serves(const struct agent_sess *s, const char *host)
{
	for (unsigned i = 0; i < s->n_hosts; i++)
		if (xr_host_match(s->routes[i].host, host))
			return &s->routes[i];
	return NULL;
}

/*
 * Pick a replica of tenant pc->tenant_id for sni: the best health first
 * (healthy, then unknown, then degraded; never down), round-robin among the
 * replicas of that rank, and one with a warm data connection when the
 * round-robin choice has none.  RT_NO_AGENT when no session serves the
 * name, RT_ROUTE_DOWN when every one that does is down.
 */
static enum route_kind pick(struct relay *r, uint32_t tenant_id, const char *sni,
			    struct agent_sess **out)
{
	struct agent_sess *s, *pick = NULL, *pick_pool = NULL;
	const struct sess_route *rt;
	int best = XR_H_DOWN, rank;
	unsigned n = 0, any = 0, skip;

	*out = NULL;
	for (s = r->sessions; s; s = s->next) {
		if (s->state != AS_READY || s->tenant_id != tenant_id || !(rt = serves(s, sni)))
			continue;
		any++;
		rank = xr_health_rank(rt->state);
		if (rank < xr_health_rank(best)) {
			best = rt->state;
			n = 0;
		}
		n += rank == xr_health_rank(best);
	}
	if (!any)
		return RT_NO_AGENT;
	if (best == XR_H_DOWN)
		return RT_ROUTE_DOWN;
	skip = r->rr++ % n;
	for (s = r->sessions; s; s = s->next) {
		if (s->state != AS_READY || s->tenant_id != tenant_id || !(rt = serves(s, sni)) ||
		    xr_health_rank(rt->state) != xr_health_rank(best))
			continue;
		if (!pick && skip == 0)
			pick = s;
		if (skip)
			skip--;
		if (s->pool && (!pick_pool || s == pick))
			pick_pool = s;
	}
	if (!pick || (!pick->pool && pick_pool))
		pick = pick_pool;
	*out = pick;
	return pick ? RT_AGENT : RT_NO_AGENT;
}

enum route_kind router_pick(struct relay *r, struct pconn *pc, const char *sni)
{
	return pick(r, pc->tenant_id, sni, &pc->sess);
}

struct agent_sess *router_other(struct relay *r, const struct pconn *pc)
{
	struct agent_sess *to;

	if (!pc->slot || pick(r, pc->tenant_id, xr_chello_sni(&pc->slot->ch), &to) != RT_AGENT)
		return NULL;
	return to != pc->sess ? to : NULL;
}

enum route_kind router_route(struct relay *r, struct pconn *pc, const char *sni)
{
	int found = 0, tidx;
	void *v;

	if (sni[0] && r->control_len && !strcasecmp(sni, r->cfg.control_hostname))
		return RT_CONTROL;
	v = sni[0] ? xr_hosttab_lookup(&r->hosts, sni, &found) : NULL;
	if (!found || !v)
		return r->fallback_len ? RT_FALLBACK : RT_UNKNOWN;
	tidx = (int)(intptr_t)v - 1;
	pc->tidx = tidx;
	pc->tenant_id = r->tenant_ids[tidx];
	if (!allowed(r, tidx, pc->tenant_id, &pc->client))
		return RT_REFUSED_ALLOW;
	if (!under_rate(r, tidx, pc->tenant_id))
		return RT_REFUSED_RATE;
	return router_pick(r, pc, sni);
}
