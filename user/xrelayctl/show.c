// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xrelayctl listings: status, tenants, sessions, flows, stats.
 *
 * Everything is read from the maps pinned under the pin root, never from
 * xrelayd, so the listings work while xrelayd is stopped (forwarding goes
 * on without it).  Only `status` also asks xrelayd, for its own state.
 * Text output is aligned tables for people; -j prints JSON for scripts, with
 * every counter present even when zero.
 */
#include "ctl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "bpfobj.h"
#include "json.h"
#include "wgstate.h"

/* ---- text tables ----------------------------------------------------------------- */

#define TBL_MAX_COLS 16

struct table {
	int ncols;
	const char *align;          /* per column: 'l' or 'r' */
	char **cells;               /* row-major, header row first */
	size_t n, cap;
	bool oom;
};

static void tbl_add(struct table *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tbl_add(struct table *t, const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;

	if (t->oom)
		return;
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **nc = realloc(t->cells, cap * sizeof(*nc));

		if (!nc) {
			t->oom = true;
			return;
		}
		t->cells = nc;
		t->cap = cap;
	}
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		s = NULL;
	va_end(ap);
	if (!s) {
		t->oom = true;
		return;
	}
	t->cells[t->n++] = s;
}

/* One header per column, in order; `align` holds one 'l'/'r' per column. */
static void tbl_init(struct table *t, const char *align, const char *const *hdr)
{
	memset(t, 0, sizeof(*t));
	t->align = align;
	t->ncols = (int)strlen(align);
	for (int i = 0; i < t->ncols; i++)
		tbl_add(t, "%s", hdr[i]);
}

/* Prints with two spaces between columns, the last column unpadded;
 * `indent` spaces before each row.  Frees the table. */
static int tbl_print(struct table *t, int indent)
{
	int w[TBL_MAX_COLS] = {};
	int rc = 0;

	if (t->oom) {
		ctl_err("out of memory");
		rc = -1;
		goto cleanup;
	}
	for (size_t i = 0; i < t->n; i++) {
		int col = (int)(i % t->ncols), l = (int)strlen(t->cells[i]);

		if (l > w[col])
			w[col] = l;
	}
	for (size_t i = 0; i < t->n; i++) {
		int col = (int)(i % t->ncols);
		bool last = col == t->ncols - 1;

		if (col == 0)
			printf("%*s", indent, "");
		if (t->align[col] == 'r')
			printf("%*s", w[col], t->cells[i]);
		else if (last)
			printf("%s", t->cells[i]);
		else
			printf("%-*s", w[col], t->cells[i]);
		fputs(last ? "\n" : "  ", stdout);
	}
cleanup:
	for (size_t i = 0; i < t->n; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->n = t->cap = 0;
	return rc;
}

/* ---- map access -------------------------------------------------------------------- */

static int open_maps(const struct ctl *c, struct xr_bpf *b)
{
	char err[512];

	if (xr_bpf_open_pinned(b, c->pin_root, err, sizeof(err))) {
		ctl_err("%s", err);
		return -1;
	}
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The whole xr_tenants array; slot 0 is never a tenant. */
struct tenant_tab {
	struct xr_tenant *t;
	uint32_t n;
};

static int tenants_load(struct xr_bpf *b, struct tenant_tab *tt)
{
	long max = xr_map_max(b->tenants_fd);

	tt->t = NULL;
	tt->n = 0;
	if (max <= 0) {
		ctl_err("bpf_obj_get_info_by_fd(%s): %s", XR_MAP_TENANTS, strerror(errno));
		return -1;
	}
	tt->t = calloc((size_t)max, sizeof(*tt->t));
	if (!tt->t) {
		ctl_err("out of memory");
		return -1;
	}
	tt->n = (uint32_t)max;
	for (uint32_t id = 1; id < tt->n; id++)
		if (bpf_map_lookup_elem(b->tenants_fd, &id, &tt->t[id]))
			memset(&tt->t[id], 0, sizeof(tt->t[id]));
	return 0;
}

static bool tenant_active(const struct tenant_tab *tt, uint32_t id)
{
	return id > 0 && id < tt->n && (tt->t[id].flags & XR_TENANT_F_ACTIVE);
}

/* The tenant's name (the map field need not be NUL-terminated), or NULL. */
static const char *tenant_name(const struct tenant_tab *tt, uint32_t id, char buf[XR_TENANT_NAME_LEN + 1])
{
	if (!tenant_active(tt, id))
		return NULL;
	snprintf(buf, XR_TENANT_NAME_LEN + 1, "%.*s", XR_TENANT_NAME_LEN, tt->t[id].name);
	return buf;
}

/* ---- formatting ---------------------------------------------------------------------- */

/* "100mbit", "1500kbit", "-" for unlimited (the config's own units). */
static const char *rate_str(uint64_t v, const char *unit, char *buf, size_t len)
{
	if (!v)
		snprintf(buf, len, "-");
	else if (v % 1000000000ull == 0)
		snprintf(buf, len, "%llug%s", (unsigned long long)(v / 1000000000ull), unit);
	else if (v % 1000000ull == 0)
		snprintf(buf, len, "%llum%s", (unsigned long long)(v / 1000000ull), unit);
	else if (v % 1000ull == 0)
		snprintf(buf, len, "%lluk%s", (unsigned long long)(v / 1000ull), unit);
	else
		snprintf(buf, len, "%llu%s", (unsigned long long)v, unit);
	return buf;
}

/* ---- status ---------------------------------------------------------------------------- */

struct fill {
	long count, max;
};

static void json_fill(struct xr_json *j, const char *name, const char *count_key, struct fill f)
{
	xr_json_key(j, name);
	xr_json_obj(j);
	xr_json_ki64(j, count_key, f.count);
	xr_json_ki64(j, "max", f.max);
	xr_json_end(j);
}

#define MAX_LINKS 256

static int link_cmp(const void *a, const void *b)
{
	return strcmp(((const struct xr_link_info *)a)->ifname, ((const struct xr_link_info *)b)->ifname);
}

int ctl_status(const struct ctl *c)
{
	static struct xr_link_info links[MAX_LINKS];
	struct fill sess, hs, allow, ten = { 0, 0 };
	struct tenant_tab tt = {};
	struct xr_meta meta = {};
	char aerr[256], *reply = NULL;
	size_t rlen = 0;
	uint64_t now = mono_ns();
	uint32_t zero = 0;
	struct xr_bpf b;
	int nl, rc = CTL_FAIL;
	bool up;

	if (open_maps(c, &b))
		return CTL_FAIL;
	nl = xr_xdp_links(c->pin_root, links, MAX_LINKS);
	if (nl < 0) {
		ctl_err("listing %s/%s: %s", c->pin_root, XR_PIN_LINKS_DIR, strerror(-nl));
		goto cleanup;
	}
	qsort(links, (size_t)nl, sizeof(links[0]), link_cmp);
	if (tenants_load(&b, &tt))
		goto cleanup;
	for (uint32_t id = 1; id < tt.n; id++)
		ten.count += tenant_active(&tt, id);
	ten.max = tt.n ? (long)tt.n - 1 : 0;
	sess = (struct fill){ xr_map_count(b.sessions_fd), xr_map_max(b.sessions_fd) };
	hs = (struct fill){ xr_map_count(b.hsrate_fd), xr_map_max(b.hsrate_fd) };
	allow = (struct fill){ xr_map_count(b.allow_fd), xr_map_max(b.allow_fd) };
	if (bpf_map_lookup_elem(b.meta_fd, &zero, &meta))
		memset(&meta, 0, sizeof(meta));
	up = !ctl_admin_call(c->socket, "status", &reply, &rlen, aerr, sizeof(aerr));

	if (c->json) {
		struct xr_json j;

		xr_json_init(&j, stdout, c->pretty);
		xr_json_obj(&j);
		xr_json_kstr(&j, "pin_root", c->pin_root);
		xr_json_ku64(&j, "abi_version", meta.abi_version);
		xr_json_key(&j, "maps_age_s");
		if (meta.loaded_ns && meta.loaded_ns <= now)
			xr_json_u64(&j, (now - meta.loaded_ns) / 1000000000ull);
		else
			xr_json_null(&j);
		xr_json_key(&j, "interfaces");
		xr_json_arr(&j);
		for (int i = 0; i < nl; i++) {
			xr_json_obj(&j);
			xr_json_kstr(&j, "ifname", links[i].ifname);
			xr_json_ku64(&j, "ifindex", links[i].ifindex);
			xr_json_kstr(&j, "mode", links[i].mode);
			xr_json_ku64(&j, "prog_id", links[i].prog_id);
			xr_json_kstr(&j, "prog_name", links[i].prog_name);
			xr_json_ku64(&j, "link_id", links[i].link_id);
			xr_json_kbool(&j, "defunct", links[i].defunct);
			xr_json_end(&j);
		}
		xr_json_end(&j);
		xr_json_key(&j, "maps");
		xr_json_obj(&j);
		json_fill(&j, "sessions", "count", sess);
		json_fill(&j, "tenants", "active", ten);
		json_fill(&j, "hsrate", "count", hs);
		json_fill(&j, "allow", "count", allow);
		xr_json_end(&j);
		xr_json_kstr(&j, "xrelayd_socket", c->socket);
		xr_json_key(&j, "xrelayd");
		if (up)
			xr_json_raw(&j, reply, rlen);
		else
			xr_json_null(&j);
		if (!up)
			xr_json_kstr(&j, "xrelayd_error", aerr);
		xr_json_end(&j);
		rc = xr_json_finish(&j) ? CTL_FAIL : CTL_OK;
		goto cleanup;
	}

	printf("pin root: %s (ABI v%u", c->pin_root, meta.abi_version);
	if (meta.loaded_ns && meta.loaded_ns <= now)
		printf(", maps created %llu s ago", (unsigned long long)((now - meta.loaded_ns) / 1000000000ull));
	printf(")\n");
	if (nl == 0) {
		printf("interfaces: none attached\n");
	} else {
		static const char *const hdr[] = { "IFACE", "IFINDEX", "MODE", "PROG", "LINK" };
		struct table t;

		printf("interfaces:\n");
		tbl_init(&t, "lrlll", hdr);
		for (int i = 0; i < nl; i++) {
			tbl_add(&t, "%s", links[i].ifname);
			if (links[i].defunct)
				tbl_add(&t, "-");
			else
				tbl_add(&t, "%u", links[i].ifindex);
			tbl_add(&t, "%s", links[i].defunct ? "gone (interface deleted: detach it)" : links[i].mode);
			tbl_add(&t, "%u %s", links[i].prog_id, links[i].prog_name[0] ? links[i].prog_name : "?");
			tbl_add(&t, "%u", links[i].link_id);
		}
		if (tbl_print(&t, 2))
			goto cleanup;
	}
	printf("maps:\n");
	printf("  sessions  %ld / %ld\n", sess.count, sess.max);
	printf("  tenants   %ld active / %ld\n", ten.count, ten.max);
	printf("  hsrate    %ld / %ld\n", hs.count, hs.max);
	printf("  allow     %ld / %ld\n", allow.count, allow.max);
	{
		unsigned n[4] = { 0 };

		for (uint32_t id = 1; id < tt.n; id++) {
			struct xr_tenant_health th;

			if (tenant_active(&tt, id) && !bpf_map_lookup_elem(b.health_fd, &id, &th) &&
			    th.state < 4)
				n[th.state]++;
		}
		printf("health: tenants %u healthy, %u degraded, %u down, %u unknown "
		       "(xrelayctl tenants; status -j lists routes and replicas)\n", n[1], n[2], n[3], n[0]);
	}
	if (up) {
		uint64_t pid = 0, uptime = 0;
		bool hp = ctl_json_get_u64(reply, "pid", &pid);
		bool hu = ctl_json_get_u64(reply, "uptime_s", &uptime);
		char ps[24] = "?", us[24] = "?";

		if (hp)
			snprintf(ps, sizeof(ps), "%llu", (unsigned long long)pid);
		if (hu)
			snprintf(us, sizeof(us), "%llu", (unsigned long long)uptime);
		printf("xrelayd: running (pid %s, uptime %ss)\n", ps, us);
		{
			uint64_t agents = 0, conns = 0;
			char mover[16] = "?";

			if (ctl_json_get_u64(reply, "agents_connected", &agents) &&
			    ctl_json_get_u64(reply, "connections", &conns)) {
				ctl_json_get_str(reply, "mover", mover, sizeof(mover));
				printf("tls: %llu agent session(s), %llu public connection(s), mover %s "
				       "(-j lists the agents)\n", (unsigned long long)agents,
				       (unsigned long long)conns, mover);
			}
		}
	} else {
		printf("xrelayd: not reachable at %s (%s)\n", c->socket, aerr);
	}
	rc = fflush(stdout) ? CTL_FAIL : CTL_OK;
cleanup:
	free(reply);
	free(tt.t);
	xr_bpf_close(&b);
	return rc;
}

/* ---- tenants ----------------------------------------------------------------------------- */

static void json_drops(struct xr_json *j, const struct xr_tenant_stats *ts)
{
	xr_json_key(j, "drops");
	xr_json_obj(j);
	for (int r = 0; r < XR_R_MAX; r++)
		xr_json_ku64(j, xr_reason_name(r), ts->drop[r]);
	xr_json_end(j);
}

/* "drop_ttl=3 drop_no_route=1", or "-" when nothing was dropped. */
static void text_drops(const struct xr_tenant_stats *ts, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int r = 0; r < XR_R_MAX && n < len; r++)   /* snprintf truncates safely */
		if (ts->drop[r])
			n += (size_t)snprintf(buf + n, len - n, "%s%s=%llu", n ? " " : "",
					      xr_reason_name(r), (unsigned long long)ts->drop[r]);
	if (!buf[0])
		snprintf(buf, len, "-");
}

/* "tcp": {...} of one slot of xr_tcpstats (0: relay-wide). */
static void json_tcp(struct xr_json *j, struct xr_bpf *b, uint32_t id)
{
	struct xr_tcp_stats ts;

	if (bpf_map_lookup_elem(b->tcpstats_fd, &id, &ts))
		memset(&ts, 0, sizeof(ts));
	xr_json_key(j, "tcp");
	xr_json_obj(j);
	for (int i = 0; i < XR_T_MAX; i++)
		xr_json_ku64(j, xr_tcp_counter_name(i), ts.c[i]);
	xr_json_end(j);
}

static void json_traffic(struct xr_json *j, const struct xr_tenant_stats *ts)
{
	xr_json_ku64(j, "rx_packets", ts->rx_packets);
	xr_json_ku64(j, "rx_bytes", ts->rx_bytes);
	xr_json_ku64(j, "tx_packets", ts->tx_packets);
	xr_json_ku64(j, "tx_bytes", ts->tx_bytes);
	json_drops(j, ts);
}

static const char *health_name(unsigned st)
{
	static const char *const n[] = { "unknown", "healthy", "degraded", "down" };

	return st < 4 ? n[st] : "unknown";
}

/* "health": {...} of a tenant, as xrelayd last wrote it to xr_health. */
static void json_health(struct xr_json *j, const struct xr_tenant_health *h, uint64_t now)
{
	xr_json_key(j, "health");
	xr_json_obj(j);
	xr_json_kstr(j, "state", health_name(h->state));
	xr_json_kstr(j, "reason", h->reason);
	xr_json_key(j, "since_s");
	if (h->since_ns && h->since_ns <= now)
		xr_json_u64(j, (now - h->since_ns) / 1000000000ull);
	else
		xr_json_null(j);
	xr_json_kstr(j, "routes", health_name(h->routes));
	xr_json_ku64(j, "names_healthy", h->names_healthy);
	xr_json_ku64(j, "names_degraded", h->names_degraded);
	xr_json_ku64(j, "names_down", h->names_down);
	xr_json_ku64(j, "names_unserved", h->names_unserved);
	xr_json_ku64(j, "replicas", h->replicas);
	xr_json_kstr(j, "wireguard", health_name(h->wg));
	xr_json_kstr(j, "wireguard_reason", h->wg_reason);
	xr_json_end(j);
}

int ctl_tenants(const struct ctl *c)
{
	static const char *const hdr[] = { "ID", "NAME", "HEALTH", "BANDWIDTH", "PACKETS", "CONNS",
					   "ALLOW", "RX_PKTS", "RX_BYTES", "TX_PKTS", "TX_BYTES", "DROPS" };
	uint64_t now = mono_ns();
	struct tenant_tab tt = {};
	struct xr_json j;
	struct table t;
	struct xr_bpf b;
	int rc = CTL_FAIL;

	if (open_maps(c, &b))
		return CTL_FAIL;
	if (tenants_load(&b, &tt))
		goto cleanup;
	if (c->json) {
		xr_json_init(&j, stdout, c->pretty);
		xr_json_arr(&j);
	} else {
		tbl_init(&t, "rllllllrrrrl", hdr);
	}
	for (uint32_t id = 1; id < tt.n; id++) {
		const struct xr_tenant *tn = &tt.t[id];
		struct xr_tenant_health th;
		struct xr_tenant_stats ts;
		char name[XR_TENANT_NAME_LEN + 1], drops[1024], r1[32], r2[32];

		if (!tenant_active(&tt, id))
			continue;
		tenant_name(&tt, id, name);
		if (xr_tstats_read(&b, id, &ts))
			memset(&ts, 0, sizeof(ts));
		if (bpf_map_lookup_elem(b.health_fd, &id, &th))
			memset(&th, 0, sizeof(th));
		if (c->json) {
			xr_json_obj(&j);
			xr_json_ku64(&j, "id", id);
			xr_json_kstr(&j, "name", name);
			xr_json_ku64(&j, "bw_bits_per_sec", tn->bw_bits_per_sec);
			xr_json_ku64(&j, "pkt_per_sec", tn->pkt_per_sec);
			xr_json_ku64(&j, "conn_per_sec", tn->conn_per_sec);
			xr_json_kbool(&j, "allow_list", tn->flags & XR_TENANT_F_ALLOWLIST);
			json_traffic(&j, &ts);
			json_tcp(&j, &b, id);
			json_health(&j, &th, now);
			xr_json_end(&j);
			continue;
		}
		text_drops(&ts, drops, sizeof(drops));
		tbl_add(&t, "%u", id);
		tbl_add(&t, "%s", name);
		tbl_add(&t, "%s", health_name(th.state));
		tbl_add(&t, "%s", rate_str(tn->bw_bits_per_sec, "bit", r1, sizeof(r1)));
		tbl_add(&t, "%s", rate_str(tn->pkt_per_sec, "pps", r2, sizeof(r2)));
		if (tn->conn_per_sec)
			tbl_add(&t, "%llu/s", (unsigned long long)tn->conn_per_sec);
		else
			tbl_add(&t, "-");
		tbl_add(&t, "%s", tn->flags & XR_TENANT_F_ALLOWLIST ? "list" : "any");
		tbl_add(&t, "%llu", (unsigned long long)ts.rx_packets);
		tbl_add(&t, "%llu", (unsigned long long)ts.rx_bytes);
		tbl_add(&t, "%llu", (unsigned long long)ts.tx_packets);
		tbl_add(&t, "%llu", (unsigned long long)ts.tx_bytes);
		tbl_add(&t, "%s", drops);
	}
	if (c->json) {
		xr_json_end(&j);
		rc = xr_json_finish(&j) ? CTL_FAIL : CTL_OK;
	} else {
		rc = tbl_print(&t, 0) ? CTL_FAIL : CTL_OK;
	}
cleanup:
	free(tt.t);
	xr_bpf_close(&b);
	return rc;
}

/* ---- sessions ------------------------------------------------------------------------------ */

struct sess_row {
	uint32_t index;
	struct xr_session s;
};

static int sess_index_cmp(const void *a, const void *b)
{
	const struct sess_row *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

static int sess_cmp(const void *a, const void *b)
{
	const struct sess_row *x = a, *y = b;

	if (x->s.tenant_id != y->s.tenant_id)
		return x->s.tenant_id < y->s.tenant_id ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Every session, sorted by tenant then index.  A walk can race with xrelayd
 * and the data plane inserting and expiring entries: a key that vanished
 * between get_next_key and lookup is skipped; get_next_key restarts from the
 * first key when the previous one was deleted, so the walk is bounded by
 * max_entries and duplicates are dropped. */
static long sessions_load(struct xr_bpf *b, struct sess_row **out)
{
	long max = xr_map_max(b->sessions_fd), n = 0;
	uint32_t key, next, *prev = NULL;
	struct sess_row *rows;

	*out = NULL;
	if (max <= 0) {
		ctl_err("bpf_obj_get_info_by_fd(%s): %s", XR_MAP_SESSIONS, strerror(errno));
		return -1;
	}
	rows = calloc((size_t)max, sizeof(*rows));
	if (!rows) {
		ctl_err("out of memory");
		return -1;
	}
	while (n < max && !bpf_map_get_next_key(b->sessions_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(b->sessions_fd, &key, &rows[n].s))
			continue;
		rows[n++].index = key;
	}
	qsort(rows, (size_t)n, sizeof(*rows), sess_index_cmp);
	if (n > 1) {
		long w = 1;

		for (long i = 1; i < n; i++)
			if (rows[i].index != rows[w - 1].index)
				rows[w++] = rows[i];
		n = w;
	}
	qsort(rows, (size_t)n, sizeof(*rows), sess_cmp);
	*out = rows;
	return n;
}

static bool tag_hex(const uint8_t tag[XR_WG_TAG_LEN], char *buf)
{
	bool nz = false;

	for (int i = 0; i < XR_WG_TAG_LEN; i++) {
		nz |= tag[i] != 0;
		sprintf(buf + 2 * i, "%02x", tag[i]);
	}
	return nz;
}

int ctl_sessions(const struct ctl *c)
{
	static const char *const hdr[] = { "INDEX", "TENANT", "DST", "PEER_INDEX", "KEY_TAG",
					   "PACKETS", "BYTES", "AGE_S", "IDLE_S" };
	struct tenant_tab tt = {};
	struct sess_row *rows = NULL;
	uint64_t now = mono_ns();
	struct xr_json j;
	struct table t;
	struct xr_bpf b;
	int rc = CTL_FAIL;
	long n;

	if (open_maps(c, &b))
		return CTL_FAIL;
	if (tenants_load(&b, &tt))
		goto cleanup;
	n = sessions_load(&b, &rows);
	if (n < 0)
		goto cleanup;
	if (c->json) {
		xr_json_init(&j, stdout, c->pretty);
		xr_json_arr(&j);
	} else {
		tbl_init(&t, "rllrlrrrr", hdr);
	}
	for (long i = 0; i < n; i++) {
		const struct xr_session *s = &rows[i].s;
		char name[XR_TENANT_NAME_LEN + 1], ep[INET6_ADDRSTRLEN + 16], tag[2 * XR_WG_TAG_LEN + 1];
		const char *tname = tenant_name(&tt, s->tenant_id, name);
		const char *dst = s->dst.family ? xr_ep_str(&s->dst, ep, sizeof(ep)) : NULL;
		bool has_tag = tag_hex(s->key_tag, tag);
		bool has_age = s->created_ns && s->created_ns <= now;
		bool has_idle = s->last_ns && s->last_ns <= now;
		uint64_t age = has_age ? (now - s->created_ns) / 1000000000ull : 0;
		uint64_t idle = has_idle ? (now - s->last_ns) / 1000000000ull : 0;

		if (s->last_ns && s->last_ns > now) {       /* stamped just after our clock read */
			has_idle = true;
			idle = 0;
		}
		if (c->json) {
			xr_json_obj(&j);
			xr_json_ku64(&j, "index", rows[i].index);
			xr_json_ku64(&j, "tenant_id", s->tenant_id);
			xr_json_kstr(&j, "tenant", tname);
			xr_json_kstr(&j, "dst", dst);
			xr_json_ku64(&j, "peer_index", s->peer_index);
			xr_json_kstr(&j, "key_tag", has_tag ? tag : NULL);
			xr_json_ku64(&j, "packets", s->packets);
			xr_json_ku64(&j, "bytes", s->bytes);
			if (has_age)
				xr_json_ku64(&j, "age_s", age);
			else
				xr_json_knull(&j, "age_s");
			if (has_idle)
				xr_json_ku64(&j, "idle_s", idle);
			else
				xr_json_knull(&j, "idle_s");
			xr_json_end(&j);
			continue;
		}
		tbl_add(&t, "%u", rows[i].index);
		if (tname)
			tbl_add(&t, "%s", tname);
		else
			tbl_add(&t, "#%u", s->tenant_id);
		tbl_add(&t, "%s", dst ? dst : "-");
		tbl_add(&t, "%u", s->peer_index);
		tbl_add(&t, "%s", has_tag ? tag : "-");
		tbl_add(&t, "%llu", (unsigned long long)s->packets);
		tbl_add(&t, "%llu", (unsigned long long)s->bytes);
		if (has_age)
			tbl_add(&t, "%llu", (unsigned long long)age);
		else
			tbl_add(&t, "-");
		if (has_idle)
			tbl_add(&t, "%llu", (unsigned long long)idle);
		else
			tbl_add(&t, "-");
	}
	if (c->json) {
		xr_json_end(&j);
		rc = xr_json_finish(&j) ? CTL_FAIL : CTL_OK;
	} else {
		rc = tbl_print(&t, 0) ? CTL_FAIL : CTL_OK;
	}
cleanup:
	free(rows);
	free(tt.t);
	xr_bpf_close(&b);
	return rc;
}

/* ---- flows --------------------------------------------------------------------------------- */

struct flow_row {
	uint64_t id;
	struct xr_flow f;
};

static int flow_cmp(const void *a, const void *b)
{
	const struct flow_row *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Open TLS flows from xr_flows (refreshed by xrelayd once a second). */
int ctl_flows(const struct ctl *c)
{
	struct tenant_tab tt = {};
	struct flow_row *rows = NULL;
	uint64_t key, next, *prev = NULL, now = mono_ns();
	size_t n = 0, cap = 0;
	struct xr_bpf b;
	int rc = CTL_FAIL;

	if (open_maps(c, &b))
		return CTL_FAIL;
	if (tenants_load(&b, &tt))
		goto cleanup;
	while (!bpf_map_get_next_key(b.flows_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (n == cap) {
			struct flow_row *nr = realloc(rows, (cap = cap ? cap * 2 : 64) * sizeof(*rows));

			if (!nr)
				goto cleanup;
			rows = nr;
		}
		if (bpf_map_lookup_elem(b.flows_fd, &key, &rows[n].f))
			continue;
		rows[n++].id = key;
	}
	qsort(rows, n, sizeof(*rows), flow_cmp);
	if (c->json) {
		struct xr_json j;

		xr_json_init(&j, stdout, c->pretty);
		xr_json_arr(&j);
		for (size_t i = 0; i < n; i++) {
			const struct xr_flow *f = &rows[i].f;
			char name[XR_TENANT_NAME_LEN + 1], ep[64], host[XR_FLOW_HOST_LEN + 1],
			     agent[XR_AGENT_NAME_LEN + 1];

			snprintf(host, sizeof(host), "%.*s", XR_FLOW_HOST_LEN, f->host);
			snprintf(agent, sizeof(agent), "%.*s", XR_AGENT_NAME_LEN, f->agent);
			xr_json_obj(&j);
			xr_json_ku64(&j, "id", rows[i].id);
			xr_json_kstr(&j, "tenant", f->tenant_id ? tenant_name(&tt, f->tenant_id, name) : NULL);
			xr_json_ku64(&j, "tenant_id", f->tenant_id);
			xr_json_kstr(&j, "hostname", host);
			xr_json_kstr(&j, "client", xr_ep_str(&f->client, ep, sizeof(ep)));
			xr_json_kstr(&j, "agent", agent[0] ? agent : NULL);
			xr_json_ku64(&j, "age_s", now > f->started_ns ? (now - f->started_ns) / 1000000000ull : 0);
			xr_json_ku64(&j, "bytes_in", f->bytes_in);
			xr_json_ku64(&j, "bytes_out", f->bytes_out);
			xr_json_kbool(&j, "client_fin", f->flags & XR_FLOW_F_HALF_IN);
			xr_json_kbool(&j, "service_fin", f->flags & XR_FLOW_F_HALF_OUT);
			xr_json_kstr(&j, "via", f->flags & XR_FLOW_F_FALLBACK ? "fallback" :
				     f->flags & XR_FLOW_F_CONTROL ? "control" : "agent");
			xr_json_end(&j);
		}
		xr_json_end(&j);
		rc = xr_json_finish(&j) ? CTL_FAIL : CTL_OK;
		goto cleanup;
	}
	{
		static const char *const fh[] = { "ID", "TENANT", "HOSTNAME", "CLIENT", "AGENT", "BYTES_IN",
						  "BYTES_OUT", "AGE_S" };
		struct table t;

		tbl_init(&t, "rllllrrr", fh);
		for (size_t i = 0; i < n; i++) {
			const struct xr_flow *f = &rows[i].f;
			char name[XR_TENANT_NAME_LEN + 1], ep[64];

			tbl_add(&t, "%llu", (unsigned long long)rows[i].id);
			tbl_add(&t, "%s", f->tenant_id ? tenant_name(&tt, f->tenant_id, name) : "-");
			tbl_add(&t, "%.*s", XR_FLOW_HOST_LEN, f->host[0] ? f->host : "-");
			tbl_add(&t, "%s", xr_ep_str(&f->client, ep, sizeof(ep)));
			tbl_add(&t, "%.*s", XR_AGENT_NAME_LEN, f->agent[0] ? f->agent : "-");
			tbl_add(&t, "%llu", (unsigned long long)f->bytes_in);
			tbl_add(&t, "%llu", (unsigned long long)f->bytes_out);
			tbl_add(&t, "%llu", (unsigned long long)(now > f->started_ns ?
				(now - f->started_ns) / 1000000000ull : 0));
		}
		if (tbl_print(&t, 0))
			goto cleanup;
	}
	rc = fflush(stdout) ? CTL_FAIL : CTL_OK;
cleanup:
	free(rows);
	free(tt.t);
	xr_bpf_close(&b);
	return rc;
}

/* ---- stats ----------------------------------------------------------------------------------- */

int ctl_stats(const struct ctl *c)
{
	struct xr_counter reasons[XR_R_MAX];
	struct tenant_tab tt = {};
	struct xr_bpf b;
	int rc = CTL_FAIL;

	if (open_maps(c, &b))
		return CTL_FAIL;
	if (tenants_load(&b, &tt))
		goto cleanup;
	for (int r = 0; r < XR_R_MAX; r++) {
		int e = xr_stats_read(&b, r, &reasons[r]);

		if (e) {
			ctl_err("reading %s[%s]: %s", XR_MAP_STATS, xr_reason_name(r), strerror(-e));
			goto cleanup;
		}
	}

	if (c->json) {
		struct xr_json j;

		xr_json_init(&j, stdout, c->pretty);
		xr_json_obj(&j);
		xr_json_key(&j, "reasons");
		xr_json_obj(&j);
		for (int r = 0; r < XR_R_MAX; r++) {
			xr_json_key(&j, xr_reason_name(r));
			xr_json_obj(&j);
			xr_json_ku64(&j, "packets", reasons[r].packets);
			xr_json_ku64(&j, "bytes", reasons[r].bytes);
			xr_json_end(&j);
		}
		xr_json_end(&j);
		json_tcp(&j, &b, 0);
		xr_json_key(&j, "tenants");
		xr_json_arr(&j);
		for (uint32_t id = 1; id < tt.n; id++) {
			struct xr_tenant_stats ts;
			char name[XR_TENANT_NAME_LEN + 1];

			if (!tenant_active(&tt, id))
				continue;
			if (xr_tstats_read(&b, id, &ts))
				memset(&ts, 0, sizeof(ts));
			xr_json_obj(&j);
			xr_json_ku64(&j, "id", id);
			xr_json_kstr(&j, "name", tenant_name(&tt, id, name));
			json_traffic(&j, &ts);
			json_tcp(&j, &b, id);
			xr_json_end(&j);
		}
		xr_json_end(&j);
		xr_json_end(&j);
		rc = xr_json_finish(&j) ? CTL_FAIL : CTL_OK;
		goto cleanup;
	}

	{
		static const char *const rh[] = { "REASON", "PACKETS", "BYTES" };
		struct table t;
		int shown = 0;

		tbl_init(&t, "lrr", rh);
		for (int r = 0; r < XR_R_MAX; r++) {
			if (!reasons[r].packets && !reasons[r].bytes)
				continue;
			tbl_add(&t, "%s", xr_reason_name(r));
			tbl_add(&t, "%llu", (unsigned long long)reasons[r].packets);
			tbl_add(&t, "%llu", (unsigned long long)reasons[r].bytes);
			shown++;
		}
		if (!shown) {
			tbl_print(&t, 0);
			printf("(no packets counted yet)\n");
		} else if (tbl_print(&t, 0)) {
			goto cleanup;
		}
	}
	{
		static const char *const th[] = { "TENANT", "ID", "RX_PKTS", "RX_BYTES", "TX_PKTS",
						  "TX_BYTES", "DROPS" };
		struct table t;

		printf("\n");
		tbl_init(&t, "lrrrrrl", th);
		for (uint32_t id = 1; id < tt.n; id++) {
			struct xr_tenant_stats ts;
			char name[XR_TENANT_NAME_LEN + 1], drops[1024];

			if (!tenant_active(&tt, id))
				continue;
			if (xr_tstats_read(&b, id, &ts))
				memset(&ts, 0, sizeof(ts));
			text_drops(&ts, drops, sizeof(drops));
			tbl_add(&t, "%s", tenant_name(&tt, id, name));
			tbl_add(&t, "%u", id);
			tbl_add(&t, "%llu", (unsigned long long)ts.rx_packets);
			tbl_add(&t, "%llu", (unsigned long long)ts.rx_bytes);
			tbl_add(&t, "%llu", (unsigned long long)ts.tx_packets);
			tbl_add(&t, "%llu", (unsigned long long)ts.tx_bytes);
			tbl_add(&t, "%s", drops);
		}
		if (tbl_print(&t, 0))
			goto cleanup;
	}
	{
		static const char *const th[] = { "TLS", "COUNT" };
		struct xr_tcp_stats ts;
		uint32_t zero = 0;
		struct table t;

		if (bpf_map_lookup_elem(b.tcpstats_fd, &zero, &ts))
			memset(&ts, 0, sizeof(ts));
		printf("\n");
		tbl_init(&t, "lr", th);
		for (int i = 0; i < XR_T_MAX; i++) {
			tbl_add(&t, "%s", xr_tcp_counter_name(i));
			tbl_add(&t, "%llu", (unsigned long long)ts.c[i]);
		}
		if (tbl_print(&t, 0))
			goto cleanup;
	}
	rc = fflush(stdout) ? CTL_FAIL : CTL_OK;
cleanup:
	free(tt.t);
	xr_bpf_close(&b);
	return rc;
}
