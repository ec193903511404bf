// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Config -> maps.  Used at start (re-adopting whatever is pinned) and on
 * SIGHUP / `xrelayctl reload`.
 *
 * Tenant ids are stable: a tenant keeps the id it has in the pinned
 * xr_tenants map (matched by name), so its sessions, buckets and counters
 * survive restarts and reloads.  Each map write replaces one element
 * atomically; the order (add new state first, remove stale state last) means
 * the data plane never sees a tenant without its allow list or a listen
 * address without its tenants.  An invalid config never gets here: it is
 * rejected by the parser and the running one stays.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "log.h"
#include "sdnotify.h"
#include "xrelayd.h"

/* GCRA burst tolerance: 100 ms at rate, but never less than 128 KiB or 64
 * packets.  A policer shallower than a TCP window makes TCP collapse into
 * timeouts instead of settling at the rate (measured: 50 ms at 4 Mbit/s
 * gave 2.8 Mbit/s for one second, then nothing). */
#define BURST_NS      (100ull * 1000000ull)
#define BURST_BYTES   (128ull * 1024)
#define BURST_PACKETS 64ull

struct id_name {
	uint32_t id;
	char name[XR_TENANT_NAME_LEN];
};

static int pinned_tenants(struct relay *r, struct id_name *out, int max)
{
	uint32_t key, next, *prev = NULL;
	struct xr_tenant t;
	int n = 0;

	while (n < max && !bpf_map_get_next_key(r->bpf.tenants_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(r->bpf.tenants_fd, &key, &t))
			continue;
		out[n].id = key;
		memcpy(out[n].name, t.name, sizeof(t.name));
		out[n].name[XR_TENANT_NAME_LEN - 1] = '\0';
		n++;
	}
	return n;
}

static void tenant_value(const struct xr_cfg_tenant *tc, struct xr_tenant *t)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", tc->name);
	t->flags = XR_TENANT_F_ACTIVE | (tc->n_allow ? XR_TENANT_F_ALLOWLIST : 0);
	t->bw_bits_per_sec = tc->limits.bandwidth_bps;
	t->pkt_per_sec = tc->limits.packets_pps;
	t->conn_per_sec = tc->limits.connections_ps;
	if (t->bw_bits_per_sec) {
		t->bw_ns_per_mib = xr_bw_ns_per_mib(t->bw_bits_per_sec);
		t->bw_burst_ns = xr_bw_cost(BURST_BYTES, t->bw_ns_per_mib);
		if (t->bw_burst_ns < BURST_NS)
			t->bw_burst_ns = BURST_NS;
	}
	if (t->pkt_per_sec) {
		t->pkt_ns_per_packet = 1000000000ull / t->pkt_per_sec;
		if (!t->pkt_ns_per_packet)
			t->pkt_ns_per_packet = 1;
		t->pkt_burst_ns = BURST_PACKETS * t->pkt_ns_per_packet;
		if (t->pkt_burst_ns < BURST_NS)
			t->pkt_burst_ns = BURST_NS;
	}
}

static void zero_slot(struct relay *r, uint32_t id)
{
	struct xr_tenant_stats *z = calloc(r->bpf.ncpus, sizeof(*z));
	struct xr_police p = {};

	if (z) {
		bpf_map_update_elem(r->bpf.tstats_fd, &id, z, BPF_ANY);
		free(z);
	}
	bpf_map_update_elem(r->bpf.police_fd, &id, &p, BPF_ANY);
}

static void allow_key(struct xr_allow_key *k, uint32_t id, const struct xr_cidr *c)
{
	memset(k, 0, sizeof(*k));
	k->prefixlen = 32 + c->prefixlen;
	k->tenant_id = htonl(id);
	memcpy(k->addr.a, c->addr, 16);
}

static int allow_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct xr_allow_key));
}

static void listen_key(struct xr_listen_key *k, const struct xr_sockaddr *sa)
{
	struct xr_endpoint ep;

	memset(k, 0, sizeof(*k));
	xr_ep_from_sockaddr(&ep, (const struct sockaddr *)&sa->ss);
	k->addr = ep.addr;
	k->port = ep.port;
	k->family = ep.family;
	/* unspecified address = any: stored all-zero for both families */
	if ((k->family == XR_AF_INET && !memcmp(&k->addr.a[12], "\0\0\0\0", 4)) ||
	    (k->family == XR_AF_INET6 && !memcmp(k->addr.a, (uint8_t[16]){0}, 16)))
		memset(&k->addr, 0, sizeof(k->addr));
}

static uint8_t port_flags(const struct xr_relay_cfg *cfg, uint16_t port)
{
	uint8_t f = 0;

	for (int i = 0; i < cfg->n_wg_listen; i++) {
		struct xr_listen_key k;

		listen_key(&k, &cfg->wg_listen[i]);
		if (ntohs(k.port) != port)
			continue;
		if (memcmp(&k.addr, (uint8_t[16]){0}, 16))
			f |= XR_PORT_EXACT;
		else
			f |= k.family == XR_AF_INET ? XR_PORT_ANY4 : XR_PORT_ANY6;
	}
	return f;
}

/* Ports of the new config get their flags; ports only the pinned listen
 * entries still name (the old config) are cleared. */
static void update_ports(struct relay *r, const struct xr_relay_cfg *nc)
{
	struct xr_listen_key key, next, *prev = NULL;

	for (int i = 0; i < nc->n_wg_listen; i++) {
		struct xr_listen_key k;
		uint32_t port;
		uint8_t f;

		listen_key(&k, &nc->wg_listen[i]);
		port = ntohs(k.port);
		f = port_flags(nc, port);
		bpf_map_update_elem(r->bpf.ports_fd, &port, &f, BPF_ANY);
	}
	while (!bpf_map_get_next_key(r->bpf.listen_fd, prev, &next)) {
		uint32_t port = ntohs(next.port);
		uint8_t zero = 0;

		key = next;
		prev = &key;
		if (!port_flags(nc, port))
			bpf_map_update_elem(r->bpf.ports_fd, &port, &zero, BPF_ANY);
	}
}

int relay_apply_config(struct relay *r, struct xr_relay_cfg *nc, char *err, size_t errlen)
{
	struct id_name *old = calloc(XR_MAX_TENANTS, sizeof(*old));
	uint32_t *ids = calloc(nc->n_tenants ? nc->n_tenants : 1, sizeof(*ids));
	uint8_t *used = calloc(XR_MAX_TENANTS, 1);
	struct xr_allow_key *want = NULL;   /* the new allow entries, sorted */
	int n_old, n_want = 0, rc = 0;

	if (!old || !ids || !used) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	if (nc->n_tenants >= XR_MAX_TENANTS) {
		snprintf(err, errlen, "%d tenants, this build holds %d (Kconfig XR_MAX_TENANTS)",
			 nc->n_tenants, XR_MAX_TENANTS - 1);
		rc = -E2BIG;
		goto out;
	}
	n_old = pinned_tenants(r, old, XR_MAX_TENANTS);

	/* 1. ids: keep by name, else the lowest free slot (0 means "none") */
	used[0] = 1;
	for (int t = 0; t < nc->n_tenants; t++)
		for (int o = 0; o < n_old; o++)
			if (!strcmp(old[o].name, nc->tenants[t].name) && old[o].id < XR_MAX_TENANTS) {
				ids[t] = old[o].id;
				used[ids[t]] = 1;
			}
	for (int o = 0; o < n_old; o++)       /* leaving tenants' ids are not reused now */
		if (old[o].id < XR_MAX_TENANTS)
			used[old[o].id] = 1;
	for (int t = 0; t < nc->n_tenants; t++) {
		if (ids[t])
			continue;
		for (uint32_t id = 1; id < XR_MAX_TENANTS; id++) {
			if (!used[id]) {
				ids[t] = id;
				used[id] = 1;
				zero_slot(r, id);
				break;
			}
		}
		if (!ids[t]) {
			snprintf(err, errlen, "no free tenant slot for '%s'", nc->tenants[t].name);
			rc = -E2BIG;
			goto out;
		}
	}

	/* 2. allow lists first, so a tenant never runs with a partial list */
	for (int t = 0; t < nc->n_tenants; t++)
		n_want += nc->tenants[t].n_allow;
	want = calloc(n_want ? n_want : 1, sizeof(*want));
	if (!want) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	n_want = 0;
	for (int t = 0; t < nc->n_tenants; t++) {
		for (int i = 0; i < nc->tenants[t].n_allow; i++) {
			struct xr_allow_key *k = &want[n_want++];
			uint8_t one = 1;

			allow_key(k, ids[t], &nc->tenants[t].allow[i]);
			if (bpf_map_update_elem(r->bpf.allow_fd, k, &one, BPF_ANY)) {
				snprintf(err, errlen, "allow list of '%s': %s", nc->tenants[t].name,
					 strerror(errno));
				rc = -errno;
				goto out;
			}
		}
	}
	qsort(want, n_want, sizeof(*want), allow_cmp);
	/* 3. tenant policies (each replaced atomically) */
	for (int t = 0; t < nc->n_tenants; t++) {
		struct xr_tenant v;

		tenant_value(&nc->tenants[t], &v);
		if (bpf_map_update_elem(r->bpf.tenants_fd, &ids[t], &v, BPF_ANY)) {
			snprintf(err, errlen, "tenant '%s': %s", nc->tenants[t].name, strerror(errno));
			rc = -errno;
			goto out;
		}
	}
	/* 4. listen addresses: add, then remove the stale ones; xr_ports
	 *    summarises them per port for the data plane's first check */
	for (int i = 0; i < nc->n_wg_listen; i++) {
		struct xr_listen_key k;
		struct xr_listen_val v = {};

		listen_key(&k, &nc->wg_listen[i]);
		bpf_map_update_elem(r->bpf.listen_fd, &k, &v, BPF_ANY);
	}
	update_ports(r, nc);
	{
		struct xr_listen_key key, next, *prev = NULL, dead[32];
		int nd = 0;

		while (!bpf_map_get_next_key(r->bpf.listen_fd, prev, &next)) {
			bool keep = false;

			key = next;
			prev = &key;
			for (int i = 0; i < nc->n_wg_listen && !keep; i++) {
				struct xr_listen_key w;

				listen_key(&w, &nc->wg_listen[i]);
				keep = !memcmp(&w, &key, sizeof(w));
			}
			if (!keep && nd < 32)
				dead[nd++] = key;
		}
		for (int i = 0; i < nd; i++)
			bpf_map_delete_elem(r->bpf.listen_fd, &dead[i]);
	}
	/* 5. tenants that left: policy removed (their sessions stop at once and
	 *    are swept), then stale allow entries */
	for (int o = 0; o < n_old; o++) {
		bool keep = false;

		for (int t = 0; t < nc->n_tenants && !keep; t++)
			keep = ids[t] == old[o].id;
		if (!keep) {
			bpf_map_delete_elem(r->bpf.tenants_fd, &old[o].id);
			xr_info("tenant removed", "tenant=%s id=%u", old[o].name, old[o].id);
		}
	}
	{
		struct xr_allow_key key, next, *prev = NULL;
		struct xr_allow_key *dead = calloc(XR_MAX_ALLOW, sizeof(*dead));
		int nd = 0;

		while (dead && !bpf_map_get_next_key(r->bpf.allow_fd, prev, &next)) {
			key = next;
			prev = &key;
			if (!bsearch(&key, want, n_want, sizeof(*want), allow_cmp) && nd < XR_MAX_ALLOW)
				dead[nd++] = key;
		}
		for (int i = 0; i < nd; i++)
			bpf_map_delete_elem(r->bpf.allow_fd, &dead[i]);
		free(dead);
	}
	/* 6. handshake logic */
	rc = xr_wgs_configure(r->wgs, nc, ids);
	if (rc) {
		snprintf(err, errlen, "handshake table: %s", strerror(-rc));
		goto out;
	}
	for (int t = 0; t < nc->n_tenants; t++)
		xr_dbg("tenant", "tenant=%s id=%u", nc->tenants[t].name, ids[t]);
	free(r->tenant_ids);
	r->tenant_ids = ids;
	ids = NULL;
out:
	free(old);
	free(ids);
	free(used);
	free(want);
	return rc;
}

static bool listen_same(const struct xr_sockaddr *a, int na, const struct xr_sockaddr *b, int nb)
{
	if (na != nb)
		return false;
	for (int i = 0; i < na; i++)
		if (a[i].len != b[i].len || memcmp(&a[i].ss, &b[i].ss, a[i].len))
			return false;
	return true;
}

static int reload_file(struct relay *r, char *err, size_t errlen)
{
	struct xr_relay_cfg nc;
	int rc;

	memset(&nc, 0, sizeof(nc));
	if (xr_relay_cfg_load(r->cfg_path, &nc, err, errlen)) {
		r->st.reload_failures++;
		xr_err("reload rejected, running config kept", "error=\"%s\"", err);
		return -EINVAL;
	}
	bool same = nc.n_wg_listen == r->cfg.n_wg_listen;

	for (int i = 0; same && i < nc.n_wg_listen; i++)
		same = nc.wg_listen[i].len == r->cfg.wg_listen[i].len &&
		       !memcmp(&nc.wg_listen[i].ss, &r->cfg.wg_listen[i].ss, nc.wg_listen[i].len);
	if (!same)
		xr_warn("wireguard.listen changed: sockets are re-opened only on restart", "%s", "");
	if (!listen_same(nc.tls_listen, nc.n_tls_listen, r->cfg.tls_listen, r->cfg.n_tls_listen) ||
	    !listen_same(nc.control_listen, nc.n_control_listen, r->cfg.control_listen,
			 r->cfg.n_control_listen) || nc.tls_mover != r->cfg.tls_mover ||
	    strcmp(nc.control_key, r->cfg.control_key))
		xr_warn("tls.listen, control.listen, control.key or tls.mover changed: applied on restart",
			"%s", "");
	if (strcmp(nc.admin_socket, r->cfg.admin_socket) || nc.admin_metrics.len != r->cfg.admin_metrics.len ||
	    memcmp(&nc.admin_metrics.ss, &r->cfg.admin_metrics.ss, nc.admin_metrics.len))
		xr_warn("admin.socket or admin.metrics changed: applied on restart", "%s", "");
	rc = relay_apply_config(r, &nc, err, errlen);
	if (rc) {
		r->st.reload_failures++;
		xr_err("reload failed", "error=\"%s\"", err);
		xr_relay_cfg_free(&nc);
		return rc;
	}
	/* wgstate points into the config: swap only after it was rebuilt */
	xr_relay_cfg_free(&r->cfg);
	r->cfg = nc;
	if (router_build(r, err, sizeof(err)))
		xr_err("routes not rebuilt", "error=\"%s\"", err);
	agents_reload(r);
	health_reload(r);
	r->st.reloads++;
	xr_log_set_level(r->verbose ? XR_LOG_DEBUG : (enum xr_log_level)r->cfg.log_level);
	xr_info("config reloaded", "path=%s tenants=%d", r->cfg_path, r->cfg.n_tenants);
	return 0;
}

/* SIGHUP / `xrelayctl reload`: tell systemd (Type=notify) while it runs. */
int relay_reload(struct relay *r, char *err, size_t errlen)
{
	int rc;

	xr_sd_notify("RELOADING=1");
	rc = reload_file(r, err, errlen);
	xr_sd_notify("READY=1");
	return rc;
}
