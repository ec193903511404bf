// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Health on the relay: what is up, what is not, and why.
 *
 *   agent session  probed by the relay's own heartbeat: a PING every
 *                  heartbeat interval, answered or not by the next one
 *                  (the handshake that made the session counts as one
 *                  good probe).  Three silent intervals close it (agents.c).
 *   route          hostname -> agent session -> target: the worse of the
 *                  session's state and the target's, which the agent probes
 *                  and reports in HEALTH messages.  The router sends new
 *                  connections to healthy routes, else unknown/degraded
 *                  ones, never to down ones (router.c).
 *   hostname       a configured name: the best of its replicas' routes.
 *   WireGuard      per tenant: a probe every health.interval asks whether a
 *                  packet from one of its private hosts went through within
 *                  health.wireguard_idle (their PersistentKeepalive keeps it
 *                  fresh).
 *   tenant         the worse of its hostnames and its WireGuard, written to
 *                  the pinned map xr_health for xrelayctl and bpftool.
 * Every state uses the same hysteresis (user/lib/health.c, health: in the
 * config) and every transition is logged with its reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "log.h"
#include "xrelayd.h"

static const char *route_reason(const struct agent_sess *s, const struct sess_route *rt, char *buf,
				size_t len)
{
	if (xr_health_rank(s->h.state) >= xr_health_rank(rt->tstate) && s->h.state != XR_H_HEALTHY)
		snprintf(buf, len, "agent session: %s", s->h.reason);
	else if (rt->tstate == XR_H_UNKNOWN)
		snprintf(buf, len, "target not reported yet");
	else
		snprintf(buf, len, "target: %s", rt->treason);
	return buf;
}

/* Tenant id's health is to be recomputed at the next tick. */
static void mark(struct relay *r, uint32_t id)
{
	if (r->th_dirty && id < XR_MAX_TENANTS) {
		r->th_dirty[id] = 1;
		r->health_dirty = 1;
	}
}

static void mark_all(struct relay *r)
{
	for (int t = 0; t < r->cfg.n_tenants; t++)
		mark(r, r->tenant_ids[t]);
}

/* Recompute a session's routes; log the ones that changed. */
static void routes_update(struct agent_sess *s, const char *forced)
{
	struct relay *r = s->r;
	uint64_t now = now_ns();
	char why[160];

	for (unsigned i = 0; i < s->n_hosts; i++) {
		struct sess_route *rt = &s->routes[i];
		int st = forced ? XR_H_DOWN : xr_health_worst(s->h.state, rt->tstate);

		if (st == rt->state)
			continue;
		if (forced)
			snprintf(why, sizeof(why), "%s", forced);
		else
			route_reason(s, rt, why, sizeof(why));
		xr_log(st == XR_H_HEALTHY ? XR_LOG_INFO : XR_LOG_WARN, "route state changed",
		       "tenant=%s hostname=%s agent=%s session=%llu from=%s to=%s reason=\"%s\"",
		       s->tenant, rt->host, s->name, (unsigned long long)s->id,
		       xr_health_name(rt->state), xr_health_name(st), why);
		rt->state = (uint8_t)st;
		rt->since_ns = now;
		r->st.route_transitions++;
	}
	mark(r, s->tenant_id);
}

static void sess_feed(struct agent_sess *s, bool ok, const char *why)
{
	int old = xr_health_feed(&s->h, &s->r->cfg.health.p, ok, why, now_ns());

	if (old < 0)
		return;
	xr_log(s->h.state == XR_H_HEALTHY ? XR_LOG_INFO : XR_LOG_WARN, "agent session state changed",
	       "tenant=%s agent=%s peer=%s session=%llu from=%s to=%s reason=\"%s\"", s->tenant,
	       s->name, s->peer, (unsigned long long)s->id, xr_health_name(old),
	       xr_health_name(s->h.state), s->h.reason);
	routes_update(s, NULL);
}

void health_sess_up(struct agent_sess *s)
{
	uint64_t now = now_ns();

	if (s->h.probes == 0) {
		xr_health_init(&s->h, now);
		/* the handshake and HELLO that made the session: one good probe */
		xr_health_feed(&s->h, &s->r->cfg.health.p, true, NULL, now);
		s->next_ping_ns = now + (uint64_t)s->heartbeat_ms * 1000000ull;
	}
	routes_update(s, NULL);
}

void health_sess_down(struct agent_sess *s, const char *why)
{
	char buf[160];

	snprintf(buf, sizeof(buf), "agent session closed: %s", why);
	xr_health_set(&s->h, XR_H_DOWN, buf, now_ns());
	routes_update(s, buf);
}

void health_on_pong(struct agent_sess *s, uint64_t nonce)
{
	if (!s->pong_due || nonce != s->ping_nonce)
		return;   /* an answer to an older ping, or the agent's own */
	s->pong_due = 0;
	s->rtt_us = (uint32_t)((now_ns() - s->ping_sent_ns) / 1000);
}

void health_on_report(struct agent_sess *s, const struct xr_msg *m)
{
	s->r->st.health_reports++;
	for (unsigned k = 0; k < m->n_refused; k++) {
		const struct xr_msg_refused *e = &m->refused[k];

		for (unsigned i = 0; i < s->n_hosts; i++) {
			struct sess_route *rt = &s->routes[i];

			if (strcmp(rt->host, e->host))
				continue;
			rt->tstate = e->state;
			snprintf(rt->treason, sizeof(rt->treason), "%s", e->reason);
		}
	}
	routes_update(s, NULL);
}

void health_data_miss(struct agent_sess *s, const char *why)
{
	s->r->st.sess_ping_failures++;
	sess_feed(s, false, why);
}

/* One heartbeat probe per session and interval: was the last PING answered? */
static void sess_probe(struct relay *r, uint64_t now)
{
	for (struct agent_sess *s = r->sessions; s; s = s->next) {
		char why[96];

		if (s->state != AS_READY || now < s->next_ping_ns)
			continue;
		if (s->pong_due) {
			r->st.sess_ping_failures++;
			snprintf(why, sizeof(why), "heartbeat not answered within %u ms", s->heartbeat_ms);
			sess_feed(s, false, why);
		} else if (s->ping_sent_ns) {
			sess_feed(s, true, NULL);
		}
		s->ping_sent_ns = now;
		s->pong_due = 1;
		s->next_ping_ns = now + (uint64_t)s->heartbeat_ms * 1000000ull;
		r->st.sess_pings++;
		agents_ping(s, ++s->ping_nonce);
	}
}

/* ---- WireGuard tenants -------------------------------------------------------------- */

static bool is_host_tag(const struct xr_cfg_tenant *t, const uint8_t tag[XR_WG_TAG_LEN])
{
	for (int k = 0; k < t->n_wg; k++)
		if (!memcmp(t->wg[k].pubkey, tag, XR_WG_TAG_LEN))
			return true;
	return false;
}

struct wg_walk {
	struct relay *r;
	uint64_t *last;           /* [XR_MAX_TENANTS] newest packet from a private host */
	int *tidx_of;             /* [XR_MAX_TENANTS] config index + 1 */
};

/* Sessions whose destination is not a private host carry what the hosts send. */
static void wg_walk_one(uint32_t key, const struct xr_session *sv, void *ctx)
{
	struct wg_walk *w = ctx;

	(void)key;
	if (sv->tenant_id >= XR_MAX_TENANTS || !w->tidx_of[sv->tenant_id] ||
	    is_host_tag(&w->r->cfg.tenants[w->tidx_of[sv->tenant_id] - 1], sv->key_tag))
		return;
	if (sv->last_ns > w->last[sv->tenant_id])
		w->last[sv->tenant_id] = sv->last_ns;
}

static void wg_probe(struct relay *r, uint64_t now)
{
	struct wg_walk w = { .r = r };
	bool any = false;

	for (int t = 0; t < r->cfg.n_tenants; t++)
		any |= r->cfg.tenants[t].n_wg > 0;
	if (!any)
		return;
	w.last = calloc(XR_MAX_TENANTS, sizeof(*w.last));
	w.tidx_of = calloc(XR_MAX_TENANTS, sizeof(*w.tidx_of));
	if (!w.last || !w.tidx_of)
		goto out;
	for (int t = 0; t < r->cfg.n_tenants; t++)
		w.tidx_of[r->tenant_ids[t]] = t + 1;
	xr_sessions_each(&r->bpf, wg_walk_one, &w);
	uint64_t *last = w.last;

	for (int t = 0; t < r->cfg.n_tenants; t++) {
		uint32_t id = r->tenant_ids[t];
		struct xr_health *h = &r->wg_health[id];
		uint64_t idle = (uint64_t)r->cfg.health.wg_idle_ms * 1000000ull;
		char why[96];
		bool ok;
		int old;

		if (!r->cfg.tenants[t].n_wg)
			continue;
		ok = last[id] && (last[id] >= now || now - last[id] <= idle);
		/* a tenant just configured (or a relay just started) gets one
		 * idle period for its hosts' first keepalive before it counts
		 * as down: until then it stays unknown */
		if (!ok && h->state == XR_H_UNKNOWN && now - h->since_ns < idle) {
			snprintf(h->reason, sizeof(h->reason), "waiting for a first packet from a "
				 "private host (%llu s left)",
				 (unsigned long long)((h->since_ns + idle - now) / 1000000000ull + 1));
			mark(r, id);
			continue;
		}
		if (!ok && !last[id])
			snprintf(why, sizeof(why), "no WireGuard session of a private host through the relay");
		else if (!ok)
			snprintf(why, sizeof(why), "no packet from a private host for %llu s",
				 (unsigned long long)((now - last[id]) / 1000000000ull));
		r->st.wg_probes++;
		r->st.wg_probe_failures += !ok;
		old = xr_health_feed(h, &r->cfg.health.p, ok, ok ? NULL : why, now);
		if (old >= 0) {
			xr_log(h->state == XR_H_HEALTHY ? XR_LOG_INFO : XR_LOG_WARN,
			       "wireguard state changed", "tenant=%s from=%s to=%s reason=\"%s\"",
			       r->cfg.tenants[t].name, xr_health_name(old), xr_health_name(h->state),
			       h->reason);
		}
		mark(r, id);   /* also refreshes the reason (seconds without a packet) */
	}
out:
	free(w.last);
	free(w.tidx_of);
}

/* ---- hostnames and tenants -------------------------------------------------------------- */

/* The best replica's route for configured name `name` of tenant tidx. */
static int name_state(struct relay *r, int tidx, const char *name, char *why, size_t len,
		      unsigned *replicas)
{
	int best = -1;

	*replicas = 0;
	snprintf(why, len, "no agent serves it");
	for (struct agent_sess *s = r->sessions; s; s = s->next) {
		if (s->state != AS_READY || s->tidx != tidx)
			continue;
		for (unsigned i = 0; i < s->n_hosts; i++) {
			const struct sess_route *rt = &s->routes[i];

			if (strcasecmp(rt->host, name) && !xr_host_match(name, rt->host))
				continue;
			(*replicas)++;
			if (best < 0 || xr_health_rank(rt->state) < xr_health_rank(best)) {
				best = rt->state;
				if (best == XR_H_HEALTHY)
					snprintf(why, len, "%u replica(s), agent %s healthy", *replicas, s->name);
				else
					route_reason(s, rt, why, len);
			}
		}
	}
	return best < 0 ? XR_H_DOWN : best;
}

static void tenants_update(struct relay *r, uint64_t now)
{
	for (int t = 0; t < r->cfg.n_tenants; t++) {
		const struct xr_cfg_tenant *ct = &r->cfg.tenants[t];
		uint32_t id = r->tenant_ids[t];
		struct xr_tenant_health nh, *oh = &r->th[id];
		char why[XR_HEALTH_TEXT_LEN] = "";
		int worst_names = XR_H_UNKNOWN;

		if (!r->th_dirty[id])
			continue;
		r->th_dirty[id] = 0;

		memset(&nh, 0, sizeof(nh));
		worst_names = -1;
		for (int h = 0; h < ct->n_hostnames; h++) {
			char w[XR_HEALTH_TEXT_LEN];
			unsigned reps;
			int st = name_state(r, t, ct->hostnames[h], w, sizeof(w), &reps);

			if (!reps) {
				/* a name (often a wildcard) nobody registered: listed, not
				 * held against the names that work */
				nh.names_unserved++;
				continue;
			}
			nh.names_healthy += st == XR_H_HEALTHY;
			nh.names_degraded += st == XR_H_DEGRADED || st == XR_H_UNKNOWN;
			nh.names_down += st == XR_H_DOWN;
			if (worst_names < 0 || xr_health_rank(st) > xr_health_rank(worst_names)) {
				worst_names = st;
				snprintf(why, sizeof(why), "%.40s: %.50s", ct->hostnames[h], w);
			}
		}
		if (worst_names < 0) {
			worst_names = XR_H_DOWN;
			snprintf(why, sizeof(why), "no agent serves any of its hostnames");
		}
		for (struct agent_sess *s = r->sessions; s; s = s->next)
			nh.replicas += s->state == AS_READY && s->tidx == t;
		nh.routes = (uint8_t)(ct->n_hostnames ? worst_names : XR_H_UNKNOWN);
		nh.wg = ct->n_wg ? r->wg_health[id].state : XR_H_UNKNOWN;
		snprintf(nh.wg_reason, sizeof(nh.wg_reason), "%s", ct->n_wg ? r->wg_health[id].reason : "");
		if (!ct->n_hostnames)
			nh.state = nh.wg;
		else if (!ct->n_wg)
			nh.state = nh.routes;
		else
			nh.state = (uint8_t)xr_health_worst(nh.routes, nh.wg);
		if (ct->n_hostnames && (!ct->n_wg || nh.state == nh.routes))
			snprintf(nh.reason, sizeof(nh.reason), "%s", why);
		else
			snprintf(nh.reason, sizeof(nh.reason), "wireguard: %.80s", nh.wg_reason);
		nh.since_ns = nh.state == oh->state && oh->since_ns ? oh->since_ns : now;
		if (nh.state != oh->state && oh->since_ns)
			xr_log(nh.state == XR_H_HEALTHY ? XR_LOG_INFO : XR_LOG_WARN, "tenant state changed",
			       "tenant=%s from=%s to=%s reason=\"%s\"", ct->name, xr_health_name(oh->state),
			       xr_health_name(nh.state), nh.reason);
		if (memcmp(&nh, oh, sizeof(nh))) {
			*oh = nh;
			bpf_map_update_elem(r->bpf.health_fd, &id, &nh, BPF_ANY);
		}
	}
}

int health_open(struct relay *r)
{
	r->th = calloc(XR_MAX_TENANTS, sizeof(*r->th));
	r->wg_health = calloc(XR_MAX_TENANTS, sizeof(*r->wg_health));
	r->th_dirty = calloc(XR_MAX_TENANTS, 1);
	if (!r->th || !r->wg_health || !r->th_dirty)
		return -1;
	health_reload(r);
	return 0;
}

void health_close(struct relay *r)
{
	free(r->th);
	free(r->wg_health);
	free(r->th_dirty);
	r->th = NULL;
	r->wg_health = NULL;
	r->th_dirty = NULL;
}

/* New config: tenants that appeared start unknown, removed ones are
 * cleared from the map; the others keep their state and history. */
void health_reload(struct relay *r)
{
	uint64_t now = now_ns();
	uint8_t *live = calloc(XR_MAX_TENANTS, 1);

	if (!live || !r->th)
		goto out;
	for (int t = 0; t < r->cfg.n_tenants; t++) {
		uint32_t id = r->tenant_ids[t];

		live[id] = 1;
		if (!r->wg_health[id].since_ns)
			xr_health_init(&r->wg_health[id], now);
	}
	for (uint32_t id = 1; id < XR_MAX_TENANTS; id++) {
		if (live[id] || !r->th[id].since_ns)
			continue;
		memset(&r->th[id], 0, sizeof(r->th[id]));
		memset(&r->wg_health[id], 0, sizeof(r->wg_health[id]));
		bpf_map_update_elem(r->bpf.health_fd, &id, &r->th[id], BPF_ANY);
	}
	mark_all(r);
	r->next_wg_probe_ns = 0;
out:
	free(live);
}

void health_sweep(struct relay *r)
{
	uint64_t now = now_ns();

	sess_probe(r, now);
	if (now >= r->next_wg_probe_ns) {
		r->next_wg_probe_ns = now + (uint64_t)r->cfg.health.interval_ms * 1000000ull;
		wg_probe(r, now);
	}
	if (r->health_dirty) {
		r->health_dirty = 0;
		tenants_update(r, now);
	}
}

/* ---- output ------------------------------------------------------------------------ */

static void json_health(struct xr_json *j, const char *key, const struct xr_health *h, uint64_t now)
{
	xr_json_key(j, key);
	xr_json_obj(j);
	xr_json_kstr(j, "state", xr_health_name(h->state));
	xr_json_kstr(j, "reason", h->reason);
	xr_json_ku64(j, "since_s", (now - h->since_ns) / 1000000000ull);
	xr_json_ku64(j, "probes", h->probes);
	xr_json_ku64(j, "failures", h->failures);
	xr_json_end(j);
}

/* "routes": every configured hostname with its replicas; "wireguard": the
 * WireGuard tenants. */
void health_json(struct relay *r, struct xr_json *j)
{
	uint64_t now = now_ns();
	char why[160];

	xr_json_key(j, "routes");
	xr_json_arr(j);
	for (int t = 0; t < r->cfg.n_tenants; t++) {
		const struct xr_cfg_tenant *ct = &r->cfg.tenants[t];

		for (int h = 0; h < ct->n_hostnames; h++) {
			unsigned reps;
			int st = name_state(r, t, ct->hostnames[h], why, sizeof(why), &reps);

			xr_json_obj(j);
			xr_json_kstr(j, "tenant", ct->name);
			xr_json_kstr(j, "hostname", ct->hostnames[h]);
			xr_json_kstr(j, "state", xr_health_name(st));
			xr_json_kstr(j, "reason", why);
			xr_json_key(j, "replicas");
			xr_json_arr(j);
			for (struct agent_sess *s = r->sessions; s; s = s->next) {
				if (s->state != AS_READY || s->tidx != t)
					continue;
				for (unsigned i = 0; i < s->n_hosts; i++) {
					const struct sess_route *rt = &s->routes[i];

					if (strcasecmp(rt->host, ct->hostnames[h]) &&
					    !xr_host_match(ct->hostnames[h], rt->host))
						continue;
					xr_json_obj(j);
					xr_json_kstr(j, "agent", s->name);
					xr_json_ku64(j, "session", s->id);
					xr_json_kstr(j, "peer", s->peer);
					xr_json_kstr(j, "hostname", rt->host);
					xr_json_kstr(j, "state", xr_health_name(rt->state));
					xr_json_kstr(j, "reason", route_reason(s, rt, why, sizeof(why)));
					xr_json_ku64(j, "since_s", (now - rt->since_ns) / 1000000000ull);
					xr_json_kstr(j, "target_state", xr_health_name(rt->tstate));
					xr_json_kstr(j, "target_reason", rt->treason);
					json_health(j, "session", &s->h, now);
					xr_json_ku64(j, "rtt_us", s->rtt_us);
					xr_json_end(j);
				}
			}
			xr_json_end(j);
			xr_json_end(j);
		}
	}
	xr_json_end(j);
	xr_json_key(j, "wireguard");
	xr_json_arr(j);
	for (int t = 0; t < r->cfg.n_tenants; t++) {
		if (!r->cfg.tenants[t].n_wg)
			continue;
		xr_json_obj(j);
		xr_json_kstr(j, "tenant", r->cfg.tenants[t].name);
		json_health(j, "health", &r->wg_health[r->tenant_ids[t]], now);
		xr_json_end(j);
	}
	xr_json_end(j);
}

/* Prometheus: states as one gauge per state (value 1 for the current one,
 * the usual enum encoding), probe counters. */
static void metric_states(FILE *f, const char *name, const char *labels, int state)
{
	for (int st = XR_H_UNKNOWN; st <= XR_H_DOWN; st++)
		fprintf(f, "%s{%s,state=\"%s\"} %d\n", name, labels, xr_health_name(st), st == state);
}

void health_metrics(struct relay *r, FILE *f)
{
	char labels[600];

	fputs("# HELP xrelay_tenant_health Health of a tenant (the worse of its hostnames and WireGuard); "
	      "1 for the current state.\n# TYPE xrelay_tenant_health gauge\n", f);
	for (int t = 0; t < r->cfg.n_tenants; t++) {
		snprintf(labels, sizeof(labels), "tenant=\"%s\"", r->cfg.tenants[t].name);
		metric_states(f, "xrelay_tenant_health", labels, r->th[r->tenant_ids[t]].state);
	}
	/* each configured name's state and replica count, computed once for
	 * both families (a family's samples must stay together) */
	unsigned total = 0, k = 0, *reps;

	for (int t = 0; t < r->cfg.n_tenants; t++)
		total += (unsigned)r->cfg.tenants[t].n_hostnames;
	reps = calloc(total + 1, sizeof(*reps));
	fputs("# HELP xrelay_route_health Health of a configured hostname (its best replica); "
	      "1 for the current state.\n# TYPE xrelay_route_health gauge\n", f);
	for (int t = 0; t < r->cfg.n_tenants; t++) {
		const struct xr_cfg_tenant *ct = &r->cfg.tenants[t];

		for (int h = 0; h < ct->n_hostnames; h++, k++) {
			char why[160];
			unsigned n;
			int st = name_state(r, t, ct->hostnames[h], why, sizeof(why), &n);

			if (reps)
				reps[k] = n;
			snprintf(labels, sizeof(labels), "tenant=\"%s\",hostname=\"%s\"", ct->name,
				 ct->hostnames[h]);
			metric_states(f, "xrelay_route_health", labels, st);
		}
	}
	fputs("# HELP xrelay_route_replicas Agent sessions serving a configured hostname.\n"
	      "# TYPE xrelay_route_replicas gauge\n", f);
	k = 0;
	for (int t = 0; t < r->cfg.n_tenants; t++) {
		const struct xr_cfg_tenant *ct = &r->cfg.tenants[t];

		for (int h = 0; h < ct->n_hostnames; h++, k++)
			fprintf(f, "xrelay_route_replicas{tenant=\"%s\",hostname=\"%s\"} %u\n", ct->name,
				ct->hostnames[h], reps ? reps[k] : 0);
	}
	free(reps);
	fputs("# HELP xrelay_wireguard_health Health of a tenant's WireGuard private hosts; "
	      "1 for the current state.\n# TYPE xrelay_wireguard_health gauge\n", f);
	for (int t = 0; t < r->cfg.n_tenants; t++) {
		if (!r->cfg.tenants[t].n_wg)
			continue;
		snprintf(labels, sizeof(labels), "tenant=\"%s\"", r->cfg.tenants[t].name);
		metric_states(f, "xrelay_wireguard_health", labels,
			      r->wg_health[r->tenant_ids[t]].state);
	}
	fprintf(f, "# HELP xrelay_agent_heartbeat_probes_total Heartbeat round trips the relay asked "
		"agents for.\n# TYPE xrelay_agent_heartbeat_probes_total counter\n"
		"xrelay_agent_heartbeat_probes_total %llu\n"
		"# HELP xrelay_agent_heartbeat_failures_total Heartbeats agents left unanswered.\n"
		"# TYPE xrelay_agent_heartbeat_failures_total counter\n"
		"xrelay_agent_heartbeat_failures_total %llu\n"
		"# HELP xrelay_wireguard_probes_total WireGuard tenant probes.\n"
		"# TYPE xrelay_wireguard_probes_total counter\nxrelay_wireguard_probes_total %llu\n"
		"# HELP xrelay_wireguard_probe_failures_total WireGuard tenant probes that failed.\n"
		"# TYPE xrelay_wireguard_probe_failures_total counter\n"
		"xrelay_wireguard_probe_failures_total %llu\n"
		"# HELP xrelay_health_reports_total HEALTH messages received from agents.\n"
		"# TYPE xrelay_health_reports_total counter\nxrelay_health_reports_total %llu\n"
		"# HELP xrelay_route_transitions_total Route state changes.\n"
		"# TYPE xrelay_route_transitions_total counter\nxrelay_route_transitions_total %llu\n"
		"# HELP xrelay_identity_conflicts_total Agent sessions refused because their identity "
		"was connected from another address.\n"
		"# TYPE xrelay_identity_conflicts_total counter\nxrelay_identity_conflicts_total %llu\n",
		(unsigned long long)r->st.sess_pings, (unsigned long long)r->st.sess_ping_failures,
		(unsigned long long)r->st.wg_probes, (unsigned long long)r->st.wg_probe_failures,
		(unsigned long long)r->st.health_reports, (unsigned long long)r->st.route_transitions,
		(unsigned long long)r->st.identity_conflicts);
}
