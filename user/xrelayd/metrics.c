// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Prometheus text exposition (format 0.0.4) on admin.metrics: GET /metrics.
 *
 * HTTP/1.1 on xrelayd's one loop, a small state per connection:
 *   multishot accept -> recv until the end of the request head (at most
 *   REQ_MAX bytes, within REQ_TIMEOUT_MS of the accept) -> the whole
 *   response built in memory (open_memstream, read after fclose) -> send
 *   until done (within RESP_TIMEOUT_MS) -> close.  Connection: close, always.
 *
 * Ownership on the ring: a connection has at most one request in flight, a
 * recv or a send, linked to a timeout (IOSQE_IO_LINK + link_timeout) whose
 * CQE carries no op and is ignored by the loop.  When the deadline passes
 * the kernel cancels the recv/send (-ECANCELED): a client that sends or
 * reads slowly is cut off at its deadline and holds neither the loop nor
 * more than one struct mconn.  A connection is freed only in the completion
 * of its request, so the kernel never writes into freed memory.  Past
 * MAX_CONNS connections at once, a new one gets a 503 (one non-blocking
 * send of a constant) and is closed.
 *
 * What a scrape reads, none of it blocking: xrelayd's own counters (TLS per
 * tenant in r->tcp, handshakes, agent sessions, r->st), the per-CPU arrays
 * xr_stats and xr_tstats (one lookup per reason, one per tenant), xr_sessions
 * and xr_hsrate by batch lookup (a few syscalls for 64k entries), and the
 * pinned XDP links as `xrelayctl status` reads them.
 *
 * Names follow the Prometheus conventions: xrelay_ prefix, _total for
 * counters, base units (bytes, seconds).  Families named xrelay_tenant_*
 * carry a tenant="NAME" label and count what was attributed to a tenant;
 * the relay-wide families (no tenant label) count everything, including
 * what no tenant owns (unknown SNI, garbage), so a sum over either never
 * counts a thing twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <sys/resource.h>

#include <bpf/bpf.h>

#include "log.h"
#include "xrelayd.h"

#define MAX_CONNS        64          /* concurrent scrapes */
#define REQ_MAX          4096        /* request line + headers */
#define REQ_TIMEOUT_MS   5000        /* accept -> complete request head */
#define RESP_TIMEOUT_MS  10000       /* response fully sent */
#define BATCH            1024        /* map entries per batch lookup */
#define MAX_LINKS        64
#define WALK_MAX_AGE_NS  1000000000ull

enum { C200, C400, C404, C405, C431, C500, C503, C_MAX };
static const char *const code_str[C_MAX] = {
	[C200] = "200", [C400] = "400", [C404] = "404", [C405] = "405",
	[C431] = "431", [C500] = "500", [C503] = "503",
};

struct metrics;

struct mconn {
	struct metrics *m;
	int fd;
	bool sending;
	struct xr_op op;
	struct __kernel_timespec ts;     /* linked timeout of the request in flight */
	uint64_t deadline_ns;
	char *out;                       /* whole response (malloc) */
	size_t out_len, out_off;
	size_t have;                     /* bytes in req[] */
	struct mconn *prev, *next;
	char req[REQ_MAX + 1];
};

struct metrics {
	struct relay *r;
	int fd;
	struct xr_op accept_op, retry_op;
	struct __kernel_timespec retry_ts;
	struct mconn *conns;
	unsigned n_conns;
	double start_unix;               /* xrelay_start_time_seconds */
	uint64_t responses[C_MAX];
	uint64_t timeouts;
	uint64_t scrape_ns_total;        /* time spent building /metrics bodies */
	void *keys, *vals;               /* batch lookup buffers */
	size_t keys_cap, vals_cap;
	/* Hash map walks cost ~0.3 us per entry in the kernel (20 ms for 60k
	 * sessions): their results serve every scrape within WALK_MAX_AGE_NS,
	 * so concurrent scrapers cost one walk. */
	uint64_t walked_ns;
	long n_sess, n_hsrate;
	uint64_t *sess_per_tenant;       /* [XR_MAX_TENANTS] */
	uint64_t sess_confirmed;
};

/* ---- exposition helpers -------------------------------------------------------- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value as the text format wants it: \ " and newline escaped. */
static void esc(char *dst, size_t cap, const char *s)
{
	size_t n = 0;

	for (; *s && n + 3 < cap; s++) {
		if (*s == '\\' || *s == '"') {
			dst[n++] = '\\';
			dst[n++] = *s;
		} else if (*s == '\n') {
			dst[n++] = '\\';
			dst[n++] = 'n';
		} else {
			dst[n++] = *s;
		}
	}
	dst[n] = '\0';
}

static void u64(FILE *f, const char *name, const char *labels, uint64_t v)
{
	fprintf(f, "%s%s %llu\n", name, labels ? labels : "", (unsigned long long)v);
}

/* ---- map reads ------------------------------------------------------------------- */

static int bufs_reserve(struct metrics *m, size_t ksz, size_t vsz)
{
	if (m->keys_cap < ksz * BATCH) {
		void *p = realloc(m->keys, ksz * BATCH);

		if (!p)
			return -ENOMEM;
		m->keys = p;
		m->keys_cap = ksz * BATCH;
	}
	if (m->vals_cap < vsz * BATCH) {
		void *p = realloc(m->vals, vsz * BATCH);

		if (!p)
			return -ENOMEM;
		m->vals = p;
		m->vals_cap = vsz * BATCH;
	}
	return 0;
}

/*
 * Every entry of a hash map, BATCH at a time (bpf_map_lookup_batch: one
 * syscall per batch instead of two per entry); `each` sees keys and values
 * of one batch.  Entries inserted or deleted meanwhile may be missed or
 * seen once; that is fine for gauges.  Falls back to get_next_key + lookup
 * (bounded by max_entries) where batches are not supported.  Returns the
 * number of entries seen, or -errno.
 */
static long map_walk(struct metrics *m, int fd, size_t ksz, size_t vsz,
		     void (*each)(void *ctx, const void *keys, const void *vals, unsigned n), void *ctx)
{
	uint8_t in[64], out[64];     /* batch tokens: a u32 bucket for hash maps */
	bool first = true;
	long total = 0, max;

	if (bufs_reserve(m, ksz, vsz))
		return -ENOMEM;
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, opts);
		__u32 count = BATCH;
		int rc = bpf_map_lookup_batch(fd, first ? NULL : in, out, m->keys, m->vals, &count, &opts);
		int e = rc ? errno : 0;

		if (rc && e != ENOENT) {
			if (first && (e == EINVAL || e == ENOTSUP || e == EOPNOTSUPP || e == 524 /* ENOTSUPP */))
				break;       /* no batch ops for this map: walk */
			return -e;
		}
		if (count) {
			if (each)
				each(ctx, m->keys, m->vals, count);
			total += count;
		}
		if (rc)                  /* ENOENT: that was the last batch */
			return total;
		memcpy(in, out, sizeof(in));
		first = false;
	}
	/* fallback: one key at a time */
	max = xr_map_max(fd);
	if (ksz > sizeof(in) || max < 0)
		return -EINVAL;
	{
		void *prev = NULL;

		total = 0;
		while (total < max && !bpf_map_get_next_key(fd, prev, out)) {
			memcpy(in, out, ksz);
			prev = in;
			if (bpf_map_lookup_elem(fd, in, m->vals))
				continue;
			if (each)
				each(ctx, in, m->vals, 1);
			total++;
		}
	}
	return total;
}

static void count_sessions(void *ctx, const void *keys, const void *vals, unsigned n)
{
	struct metrics *m = ctx;
	const struct xr_session *s = vals;

	(void)keys;
	for (unsigned i = 0; i < n; i++) {
		if (s[i].tenant_id < XR_MAX_TENANTS)
			m->sess_per_tenant[s[i].tenant_id]++;
		m->sess_confirmed += !!(s[i].flags & XR_SESS_F_CONFIRMED);
	}
}

/* Sessions per tenant and handshake sources, at most WALK_MAX_AGE_NS old. */
static void maps_walk(struct metrics *m)
{
	struct relay *r = m->r;
	uint64_t now = now_ns();

	if (m->walked_ns && now - m->walked_ns < WALK_MAX_AGE_NS)
		return;
	memset(m->sess_per_tenant, 0, XR_MAX_TENANTS * sizeof(*m->sess_per_tenant));
	m->sess_confirmed = 0;
	m->n_sess = map_walk(m, r->bpf.sessions_fd, sizeof(uint32_t), sizeof(struct xr_session),
			     count_sessions, m);
	m->n_hsrate = map_walk(m, r->bpf.hsrate_fd, sizeof(struct xr_addr), sizeof(struct xr_gcra),
			       NULL, NULL);
	m->walked_ns = now_ns();
}

/* ---- the body -------------------------------------------------------------------- */

/* Escaped tenant names of the config, in config order. */
struct tnames {
	int n;
	char (*lbl)[2 * XR_CFG_NAME_LEN + 4];
};

static void section_build(struct metrics *m, FILE *f)
{
	char v[64];

	esc(v, sizeof(v), XRELAYD_VERSION);
	family(f, "xrelay_build_info", "gauge", "xrelayd's version; always 1");
	fprintf(f, "xrelay_build_info{version=\"%s\"} 1\n", v);
	family(f, "xrelay_start_time_seconds", "gauge", "When xrelayd started, Unix time in seconds");
	fprintf(f, "xrelay_start_time_seconds %.3f\n", m->start_unix);
}

static void section_process(FILE *f)
{
	struct rusage ru;
	struct rlimit rl;
	long rss_pages = 0;
	FILE *st;
	DIR *d;

	if (!getrusage(RUSAGE_SELF, &ru)) {
		family(f, "process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds");
		fprintf(f, "process_cpu_seconds_total %.6f\n",
			(double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
			(double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6);
	}
	st = fopen("/proc/self/statm", "re");
	if (st) {
		long size;

		if (fscanf(st, "%ld %ld", &size, &rss_pages) == 2) {
			family(f, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes");
			fprintf(f, "process_resident_memory_bytes %lld\n",
				(long long)rss_pages * sysconf(_SC_PAGESIZE));
		}
		fclose(st);
	}
	d = opendir("/proc/self/fd");
	if (d) {
		long n = 0;
		struct dirent *de;

		while ((de = readdir(d)))
			n += de->d_name[0] != '.';
		closedir(d);
		family(f, "process_open_fds", "gauge", "Open file descriptors");
		fprintf(f, "process_open_fds %ld\n", n - 1);   /* minus the one reading */
	}
	if (!getrlimit(RLIMIT_NOFILE, &rl)) {
		family(f, "process_max_fds", "gauge", "Limit on open file descriptors (RLIMIT_NOFILE soft)");
		fprintf(f, "process_max_fds %llu\n", (unsigned long long)rl.rlim_cur);
	}
}


static void section_xdp(struct metrics *m, FILE *f)
{
	struct relay *r = m->r;
	static struct xr_link_info links[MAX_LINKS];
	int nl = xr_xdp_links(r->pin_root, links, MAX_LINKS);
	struct xr_counter c[XR_R_MAX];
	bool ok[XR_R_MAX];
	char lbl[160], ifn[40], mode[24];

	family(f, "xrelay_xdp_attached", "gauge",
	       "1 per XDP link pinned under the pin root (interface, attach mode); 0 when its interface is gone");
	for (int i = 0; i < nl; i++) {
		esc(ifn, sizeof(ifn), links[i].ifname);
		esc(mode, sizeof(mode), links[i].defunct ? "gone" : links[i].mode);
		snprintf(lbl, sizeof(lbl), "{interface=\"%s\",mode=\"%s\"}", ifn, mode);
		u64(f, "xrelay_xdp_attached", lbl, !links[i].defunct);
	}
	for (int i = 0; i < XR_R_MAX; i++)
		ok[i] = !xr_stats_read(&r->bpf, (enum xr_reason)i, &c[i]);
	family(f, "xrelay_xdp_packets_total", "counter",
	       "Packets the XDP program saw, by verdict reason (pass_*, tx, redirect, drop_*)");
	for (int i = 0; i < XR_R_MAX; i++) {
		if (!ok[i])
			continue;
		snprintf(lbl, sizeof(lbl), "{reason=\"%s\"}", xr_reason_name((enum xr_reason)i));
		u64(f, "xrelay_xdp_packets_total", lbl, c[i].packets);
	}
	family(f, "xrelay_xdp_bytes_total", "counter", "Frame bytes the XDP program saw, by verdict reason");
	for (int i = 0; i < XR_R_MAX; i++) {
		if (!ok[i])
			continue;
		snprintf(lbl, sizeof(lbl), "{reason=\"%s\"}", xr_reason_name((enum xr_reason)i));
		u64(f, "xrelay_xdp_bytes_total", lbl, c[i].bytes);
	}
}

static void section_maps(struct metrics *m, FILE *f)
{
	struct relay *r = m->r;
	struct { const char *name; int fd; long n; } maps[] = {
		{ "xr_sessions", r->bpf.sessions_fd, m->n_sess },
		{ "xr_hsrate", r->bpf.hsrate_fd, m->n_hsrate },
		{ "xr_flows", r->bpf.flows_fd, 0 },
		{ "xr_tenants", r->bpf.tenants_fd, (long)r->cfg.n_tenants },
	};
	int nm = (int)(sizeof(maps) / sizeof(maps[0]));
	char lbl[64];

	/* flows are in the map from a pumping connection's first tick on */
	for (struct pconn *pc = r->active; pc; pc = pc->next)
		maps[2].n += pc->in_map;

	family(f, "xrelay_bpf_map_entries", "gauge",
	       "Entries in a pinned BPF map (xr_sessions: session directions; xr_hsrate: handshake "
	       "sources rate-limited; xr_flows: TLS connections; xr_tenants: tenants)");
	for (int i = 0; i < nm; i++) {
		if (maps[i].n < 0)
			continue;
		snprintf(lbl, sizeof(lbl), "{map=\"%s\"}", maps[i].name);
		u64(f, "xrelay_bpf_map_entries", lbl, (uint64_t)maps[i].n);
	}
	family(f, "xrelay_bpf_map_max_entries", "gauge", "Capacity of a pinned BPF map (Kconfig)");
	for (int i = 0; i < nm; i++) {
		long max = xr_map_max(maps[i].fd);

		if (max < 0)
			continue;
		snprintf(lbl, sizeof(lbl), "{map=\"%s\"}", maps[i].name);
		u64(f, "xrelay_bpf_map_max_entries", lbl, (uint64_t)max);
	}
}

/* WireGuard per tenant: xr_tstats (frame bytes), sessions from xr_sessions. */
static void section_wg_tenants(struct metrics *m, FILE *f, const struct tnames *tn)
{
	struct relay *r = m->r;
	struct xr_tenant_stats *ts = calloc((size_t)tn->n + 1, sizeof(*ts));
	char lbl[256];

	if (!ts)
		return;
	for (int i = 0; i < tn->n; i++)
		if (xr_tstats_read(&r->bpf, r->tenant_ids[i], &ts[i]))
			memset(&ts[i], 0, sizeof(ts[i]));

	family(f, "xrelay_tenant_wireguard_packets_total", "counter",
	       "WireGuard data packets of the tenant's sessions (direction rx: arrived, tx: forwarded)");
	for (int i = 0; i < tn->n; i++) {
		snprintf(lbl, sizeof(lbl), "{tenant=\"%s\",direction=\"rx\"}", tn->lbl[i]);
		u64(f, "xrelay_tenant_wireguard_packets_total", lbl, ts[i].rx_packets);
		snprintf(lbl, sizeof(lbl), "{tenant=\"%s\",direction=\"tx\"}", tn->lbl[i]);
		u64(f, "xrelay_tenant_wireguard_packets_total", lbl, ts[i].tx_packets);
	}
	family(f, "xrelay_tenant_wireguard_bytes_total", "counter",
	       "Frame bytes of the tenant's WireGuard data packets (direction rx: arrived, tx: forwarded)");
	for (int i = 0; i < tn->n; i++) {
		snprintf(lbl, sizeof(lbl), "{tenant=\"%s\",direction=\"rx\"}", tn->lbl[i]);
		u64(f, "xrelay_tenant_wireguard_bytes_total", lbl, ts[i].rx_bytes);
		snprintf(lbl, sizeof(lbl), "{tenant=\"%s\",direction=\"tx\"}", tn->lbl[i]);
		u64(f, "xrelay_tenant_wireguard_bytes_total", lbl, ts[i].tx_bytes);
	}
	family(f, "xrelay_tenant_wireguard_dropped_packets_total", "counter",
	       "The tenant's WireGuard packets dropped by the XDP program, by reason");
	for (int i = 0; i < tn->n; i++)
		for (int d = XR_R_DROP_MALFORMED; d < XR_R_MAX; d++) {
			const char *rn = xr_reason_name((enum xr_reason)d);

			if (!strncmp(rn, "drop_", 5))
				rn += 5;
			snprintf(lbl, sizeof(lbl), "{tenant=\"%s\",reason=\"%s\"}", tn->lbl[i], rn);
			u64(f, "xrelay_tenant_wireguard_dropped_packets_total", lbl, ts[i].drop[d]);
		}
	family(f, "xrelay_tenant_wireguard_sessions", "gauge",
	       "Relayed WireGuard session directions of the tenant (entries in xr_sessions; "
	       "a session has one per direction)");
	for (int i = 0; i < tn->n; i++) {
		uint32_t id = r->tenant_ids[i];

		snprintf(lbl, sizeof(lbl), "{tenant=\"%s\"}", tn->lbl[i]);
		u64(f, "xrelay_tenant_wireguard_sessions", lbl, id < XR_MAX_TENANTS ? m->sess_per_tenant[id] : 0);
	}
	free(ts);
}

/* Relay-wide WireGuard control plane: handshakes (wgstate.c), slow path. */
static void section_wg_relay(struct metrics *m, FILE *f)
{
	struct relay *r = m->r;
	const struct xr_wgs_stats *w = xr_wgs_stats(r->wgs);
	static const char *N = "xrelay_wireguard_handshakes_dropped_total";

	family(f, "xrelay_wireguard_handshakes_total", "counter",
	       "WireGuard handshake messages xrelayd received, by type");
	u64(f, "xrelay_wireguard_handshakes_total", "{type=\"initiation\"}", w->init);
	u64(f, "xrelay_wireguard_handshakes_total", "{type=\"response\"}", w->resp);
	u64(f, "xrelay_wireguard_handshakes_total", "{type=\"cookie\"}", w->cookie);
	family(f, "xrelay_wireguard_handshakes_forwarded_total", "counter",
	       "WireGuard handshake messages forwarded to a peer (one per destination)");
	u64(f, "xrelay_wireguard_handshakes_forwarded_total", NULL, w->forwarded);
	family(f, N, "counter", "WireGuard handshake messages rejected, by reason");
	u64(f, N, "{reason=\"no_key\"}", w->no_key);
	u64(f, N, "{reason=\"no_endpoint\"}", w->no_endpoint);
	u64(f, N, "{reason=\"no_pending\"}", w->no_pending);
	u64(f, N, "{reason=\"bad_source\"}", w->bad_source);
	u64(f, N, "{reason=\"not_allowed\"}", w->not_allowed);
	u64(f, N, "{reason=\"malformed\"}", w->malformed);
	family(f, "xrelay_wireguard_sessions_installed_total", "counter",
	       "WireGuard sessions installed from completed handshakes (two directions each)");
	u64(f, "xrelay_wireguard_sessions_installed_total", NULL, w->sessions_installed);
	family(f, "xrelay_wireguard_sessions_expired_total", "counter",
	       "Session directions removed (expired, or their tenant removed)");
	u64(f, "xrelay_wireguard_sessions_expired_total", NULL, r->st.sessions_expired);
	family(f, "xrelay_wireguard_sessions", "gauge",
	       "Relayed WireGuard session directions (entries in xr_sessions)");
	u64(f, "xrelay_wireguard_sessions", NULL, m->n_sess > 0 ? (uint64_t)m->n_sess : 0);
	family(f, "xrelay_wireguard_sessions_confirmed", "gauge",
	       "Session directions on which data arrived from the handshake's address");
	u64(f, "xrelay_wireguard_sessions_confirmed", NULL, m->sess_confirmed);
	family(f, "xrelay_wireguard_slowpath_packets_total", "counter",
	       "Packets xrelayd forwarded through its socket for the data plane, by result");
	u64(f, "xrelay_wireguard_slowpath_packets_total", "{result=\"forwarded\"}", r->st.slowpath_fwd);
	u64(f, "xrelay_wireguard_slowpath_packets_total", "{result=\"dropped\"}", r->st.slowpath_drop);
	family(f, "xrelay_wireguard_send_errors_total", "counter",
	       "Failed sends on the WireGuard sockets (handshakes, slow path)");
	u64(f, "xrelay_wireguard_send_errors_total", NULL, r->st.send_errors);
}

/* TLS counters that are closes without a route, per enum xr_tcp_counter. */
static const enum xr_tcp_counter refusals[] = {
	XR_T_UNKNOWN_SNI, XR_T_BAD_HELLO, XR_T_HELLO_TIMEOUT, XR_T_NO_AGENT,
	XR_T_REFUSED_ALLOW, XR_T_REFUSED_RATE, XR_T_DATA_TIMEOUT, XR_T_BUSY,
};
/* ...of which these can be told apart by tenant (the name was routed) */
static bool refusal_has_tenant(enum xr_tcp_counter c)
{
	return c == XR_T_NO_AGENT || c == XR_T_REFUSED_ALLOW || c == XR_T_REFUSED_RATE ||
	       c == XR_T_DATA_TIMEOUT;
}

/* One TLS family: relay-wide from r->tcp[0] when tn is NULL, else one series
 * per tenant. */
static void tls_family(struct metrics *m, FILE *f, const struct tnames *tn, const char *name,
		       const char *type, const char *help, enum xr_tcp_counter c,
		       const char *extra_label)
{
	struct relay *r = m->r;
	char lbl[256];

	family(f, name, type, help);
	if (!tn) {
		if (extra_label)
			snprintf(lbl, sizeof(lbl), "{%s}", extra_label);
		u64(f, name, extra_label ? lbl : NULL, r->tcp[0].c[c]);
		return;
	}
	for (int i = 0; i < tn->n; i++) {
		uint32_t id = r->tenant_ids[i];

		snprintf(lbl, sizeof(lbl), "{tenant=\"%s\"%s%s}", tn->lbl[i], extra_label ? "," : "",
			 extra_label ? extra_label : "");
		u64(f, name, lbl, id < XR_MAX_TENANTS ? r->tcp[id].c[c] : 0);
	}
}

static void section_tls(struct metrics *m, FILE *f, const struct tnames *tn)
{
	struct relay *r = m->r;
	const char *pre = tn ? "xrelay_tenant_tls_" : "xrelay_tls_";
	char name[96], lbl[256], rl[64];
	unsigned nr = sizeof(refusals) / sizeof(refusals[0]);

#define NAME(s) (snprintf(name, sizeof(name), "%s%s", pre, s), name)
	if (!tn)
		tls_family(m, f, NULL, NAME("connections_accepted_total"), "counter",
			   "Public TCP connections accepted on tls.listen", XR_T_ACCEPTED, NULL);
	tls_family(m, f, tn, NAME("connections_routed_total"), "counter",
		   "Public connections joined with an agent's data connection, tls.fallback or "
		   "the control service", XR_T_ROUTED, NULL);
	family(f, NAME("connections_refused_total"), "counter",
	       "Public connections closed before any byte moved, by reason (see docs/TLS.md)");
	for (unsigned k = 0; k < nr; k++) {
		enum xr_tcp_counter c = refusals[k];

		if (tn && !refusal_has_tenant(c))
			continue;
		if (!tn) {
			snprintf(lbl, sizeof(lbl), "{reason=\"%s\"}", xr_tcp_counter_name(c));
			u64(f, name, lbl, r->tcp[0].c[c]);
			continue;
		}
		for (int i = 0; i < tn->n; i++) {
			uint32_t id = r->tenant_ids[i];

			snprintf(lbl, sizeof(lbl), "{tenant=\"%s\",reason=\"%s\"}", tn->lbl[i],
				 xr_tcp_counter_name(c));
			u64(f, name, lbl, id < XR_MAX_TENANTS ? r->tcp[id].c[c] : 0);
		}
	}
	tls_family(m, f, tn, NAME("connections_reset_total"), "counter",
		   "Routed connections ended by a reset (either side, or the agent lost)", XR_T_RESETS, NULL);
	tls_family(m, f, tn, NAME("connections_active"), "gauge",
		   "Routed connections open now", XR_T_ACTIVE, NULL);
	/* one family, two directions: emitted by hand so they stay together */
	family(f, NAME("bytes_total"), "counter",
	       "Bytes relayed (direction in: client to service, out: service to client); "
	       "updated once a second");
	for (int d = 0; d < 2; d++) {
		enum xr_tcp_counter c = d ? XR_T_BYTES_OUT : XR_T_BYTES_IN;

		snprintf(rl, sizeof(rl), "direction=\"%s\"", d ? "out" : "in");
		if (!tn) {
			snprintf(lbl, sizeof(lbl), "{%s}", rl);
			u64(f, name, lbl, r->tcp[0].c[c]);
			continue;
		}
		for (int i = 0; i < tn->n; i++) {
			uint32_t id = r->tenant_ids[i];

			snprintf(lbl, sizeof(lbl), "{tenant=\"%s\",%s}", tn->lbl[i], rl);
			u64(f, name, lbl, id < XR_MAX_TENANTS ? r->tcp[id].c[c] : 0);
		}
	}
	tls_family(m, f, tn, NAME("throttled_total"), "counter",
		   "Times a direction waited for limits.bandwidth", XR_T_THROTTLED, NULL);
#undef NAME
}

static void section_agents(struct metrics *m, FILE *f, const struct tnames *tn)
{
	struct relay *r = m->r;
	uint64_t *per = calloc((size_t)tn->n + 1, sizeof(*per)), total = 0;
	char lbl[256];

	for (struct agent_sess *a = r->sessions; a; a = a->next) {
		int t = a->tidx;

		if (a->state != AS_READY)
			continue;
		total++;
		if (t < 0 || t >= tn->n || strcmp(r->cfg.tenants[t].name, a->tenant)) {
			/* index from before a reload: look the name up */
			for (t = 0; t < tn->n && strcmp(r->cfg.tenants[t].name, a->tenant); t++)
				;
		}
		if (per && t < tn->n)
			per[t]++;
	}
	family(f, "xrelay_agent_sessions", "gauge", "Agent control sessions up (TLS done, HELLO accepted)");
	u64(f, "xrelay_agent_sessions", NULL, total);
	if (per) {
		family(f, "xrelay_tenant_agent_sessions", "gauge", "The tenant's agent control sessions up");
		for (int i = 0; i < tn->n; i++) {
			snprintf(lbl, sizeof(lbl), "{tenant=\"%s\"}", tn->lbl[i]);
			u64(f, "xrelay_tenant_agent_sessions", lbl, per[i]);
		}
	}
	free(per);
}

static void section_relay(struct metrics *m, FILE *f)
{
	struct relay *r = m->r;
	char lbl[32];

	family(f, "xrelay_tenants", "gauge", "Tenants in the running config");
	u64(f, "xrelay_tenants", NULL, (uint64_t)r->cfg.n_tenants);
	family(f, "xrelay_reloads_total", "counter", "Config reloads applied (SIGHUP, xrelayctl reload)");
	u64(f, "xrelay_reloads_total", NULL, r->st.reloads);
	family(f, "xrelay_reload_failures_total", "counter",
	       "Config reloads refused (the old config stays in force)");
	u64(f, "xrelay_reload_failures_total", NULL, r->st.reload_failures);
	family(f, "xrelay_accept_errors_total", "counter",
	       "accept() failures on tls.listen and control.listen (e.g. out of file descriptors)");
	u64(f, "xrelay_accept_errors_total", NULL, r->st.accept_errors);
	family(f, "xrelay_tls_hello_slots_used", "gauge", "ClientHello buffers in use (Kconfig XR_HELLO_SLOTS)");
	u64(f, "xrelay_tls_hello_slots_used", NULL, r->slots_used);
	family(f, "xrelay_tls_connections_open", "gauge",
	       "Public connections held, routed or not (reading a ClientHello, waiting, pumping)");
	u64(f, "xrelay_tls_connections_open", NULL, r->n_pconns);
	family(f, "xrelay_tls_tokens_outstanding", "gauge", "Data-connection tokens issued and not yet used");
	u64(f, "xrelay_tls_tokens_outstanding", NULL, r->n_tokens);
	family(f, "xrelay_tls_buffer_waits_total", "counter", "Times the byte mover waited for a free buffer");
	u64(f, "xrelay_tls_buffer_waits_total", NULL, r->pumps.starved_events);

	/* the endpoint itself */
	family(f, "xrelay_metrics_responses_total", "counter", "Responses of this endpoint, by HTTP status");
	for (int i = 0; i < C_MAX; i++) {
		snprintf(lbl, sizeof(lbl), "{code=\"%s\"}", code_str[i]);
		u64(f, "xrelay_metrics_responses_total", lbl, m->responses[i]);
	}
	family(f, "xrelay_metrics_timeouts_total", "counter",
	       "Connections to this endpoint cut off at their read or write deadline");
	u64(f, "xrelay_metrics_timeouts_total", NULL, m->timeouts);
	family(f, "xrelay_metrics_scrape_seconds_total", "counter",
	       "Time spent building /metrics bodies, in seconds (excluding this scrape)");
	fprintf(f, "xrelay_metrics_scrape_seconds_total %.6f\n", (double)m->scrape_ns_total / 1e9);
}

/* The body of /metrics.  0, or -1 when the stream failed (out of memory). */
static int render(struct metrics *m, FILE *f)
{
	struct relay *r = m->r;
	struct tnames tn = { .n = r->cfg.n_tenants };

	tn.lbl = calloc((size_t)tn.n + 1, sizeof(*tn.lbl));
	if (!tn.lbl)
		return -1;
	for (int i = 0; i < tn.n; i++)
		esc(tn.lbl[i], sizeof(tn.lbl[i]), r->cfg.tenants[i].name);
	maps_walk(m);

	section_build(m, f);
	section_process(f);
	section_relay(m, f);
	section_xdp(m, f);
	section_maps(m, f);
	section_wg_relay(m, f);
	section_wg_tenants(m, f, &tn);
	section_tls(m, f, NULL);
	section_tls(m, f, &tn);
	section_agents(m, f, &tn);
	/* route health and probes (health.c, issue 4) */
	health_metrics(r, f);

	free(tn.lbl);
	return ferror(f) ? -1 : 0;
}

/* ---- HTTP ------------------------------------------------------------------------ */

static void accept_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);
static void accept_retry_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);
static void conn_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

static void arm_accept(struct metrics *m)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&m->r->loop, &m->accept_op);

	io_uring_prep_multishot_accept(sqe, m->fd, NULL, NULL, SOCK_CLOEXEC);
}

/* Unread request bytes would make close() send a reset, which can destroy
 * the response still in flight: read what is there (bounded), then close. */
static void drain_close(int fd)
{
	char sink[4096];

	for (int i = 0; i < 16 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0; i++)
		;
	close(fd);
}

static void conn_free(struct mconn *c)
{
	struct metrics *m = c->m;

	drain_close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		m->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	m->n_conns--;
	free(c->out);
	free(c);
}

/* The request in flight (recv or send) and its deadline, as one link. */
static void arm_io(struct mconn *c)
{
	struct xr_loop *loop = &c->m->r->loop;
	struct io_uring_sqe *sqe;
	uint64_t now = now_ns();
	uint64_t left = c->deadline_ns > now ? c->deadline_ns - now : 1000000;

	/* both SQEs in the same submission, or the link would be cut */
	if (io_uring_sq_space_left(&loop->ring) < 2)
		io_uring_submit(&loop->ring);
	sqe = xr_loop_sqe(loop, &c->op);
	if (c->sending)
		io_uring_prep_send(sqe, c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
	else
		io_uring_prep_recv(sqe, c->fd, c->req + c->have, REQ_MAX - c->have, 0);
	sqe->flags |= IOSQE_IO_LINK;
	c->ts.tv_sec = (long long)(left / 1000000000ull);
	c->ts.tv_nsec = (long long)(left % 1000000000ull);
	sqe = xr_loop_sqe(loop, NULL);
	io_uring_prep_link_timeout(sqe, &c->ts, 0);
}

static void respond(struct mconn *c, int code, const char *extra_hdr, const char *body, size_t blen,
		    bool head_only)
{
	static const char *const status[C_MAX] = {
		[C200] = "200 OK", [C400] = "400 Bad Request", [C404] = "404 Not Found",
		[C405] = "405 Method Not Allowed", [C431] = "431 Request Header Fields Too Large",
		[C500] = "500 Internal Server Error", [C503] = "503 Service Unavailable",
	};
	char hdr[512];
	int hl = snprintf(hdr, sizeof(hdr),
			  "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
			  "Connection: close\r\n\r\n", status[code],
			  code == C200 ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8",
			  blen, extra_hdr ? extra_hdr : "");
	size_t n = (size_t)hl + (head_only ? 0 : blen);

	c->m->responses[code]++;
	c->out = malloc(n);
	if (!c->out) {
		conn_free(c);
		return;
	}
	memcpy(c->out, hdr, (size_t)hl);
	if (!head_only && blen)
		memcpy(c->out + hl, body, blen);
	c->out_len = n;
	c->out_off = 0;
	c->sending = true;
	c->deadline_ns = now_ns() + RESP_TIMEOUT_MS * 1000000ull;
	arm_io(c);
}

static void respond_text(struct mconn *c, int code, const char *extra_hdr, const char *text, bool head_only)
{
	respond(c, code, extra_hdr, text, strlen(text), head_only);
}

static void serve_metrics(struct mconn *c, bool head_only)
{
	struct metrics *m = c->m;
	char *buf = NULL;
	size_t len = 0;
	uint64_t t0 = now_ns();
	FILE *f = open_memstream(&buf, &len);
	int bad;

	if (!f) {
		respond_text(c, C500, NULL, "out of memory\n", head_only);
		return;
	}
	bad = render(m, f);
	/* open_memstream sets buf/len at fclose: read them only after it */
	bad |= fclose(f) != 0;
	m->scrape_ns_total += now_ns() - t0;
	if (bad || !buf)
		respond_text(c, C500, NULL, "could not build the metrics\n", head_only);
	else
		respond(c, C200, NULL, buf, len, head_only);
	free(buf);
}

/* A complete request head is in c->req[0..have). */
static void handle(struct mconn *c)
{
	char *sp1, *sp2, *eol, *q;
	char *line = c->req;
	bool head;

	eol = memchr(line, '\n', c->have);
	if (!eol) {
		respond_text(c, C400, NULL, "bad request\n", false);
		return;
	}
	*eol = '\0';
	if (eol > line && eol[-1] == '\r')
		eol[-1] = '\0';
	sp1 = strchr(line, ' ');
	sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
		respond_text(c, C400, NULL, "bad request\n", false);
		return;
	}
	*sp1 = *sp2 = '\0';
	q = strchr(sp1 + 1, '?');
	if (q)
		*q = '\0';
	head = !strcmp(line, "HEAD");
	if (strcmp(sp1 + 1, "/metrics"))
		respond_text(c, C404, NULL, "not found: try /metrics\n", head);
	else if (strcmp(line, "GET") && !head)
		respond_text(c, C405, "Allow: GET, HEAD\r\n", "method not allowed\n", false);
	else
		serve_metrics(c, head);
}

static void conn_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct mconn *c = op->ctx;
	int res = cqe->res;

	(void)loop;
	if (res == -ECANCELED) {           /* the linked timeout fired */
		c->m->timeouts++;
		conn_free(c);
		return;
	}
	if (c->sending) {
		if (res <= 0) {
			conn_free(c);
			return;
		}
		c->out_off += (size_t)res;
		if (c->out_off < c->out_len)
			arm_io(c);
		else
			conn_free(c);      /* Connection: close */
		return;
	}
	if (res <= 0) {                    /* closed before a whole request, or an error */
		conn_free(c);
		return;
	}
	c->have += (size_t)res;
	c->req[c->have] = '\0';
	if (memmem(c->req, c->have, "\r\n\r\n", 4) || memmem(c->req, c->have, "\n\n", 2))
		handle(c);
	else if (c->have >= REQ_MAX)
		respond_text(c, C431, NULL, "request head too large\n", false);
	else
		arm_io(c);
}

static void conn_new(struct metrics *m, int fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Retry-After: 1\r\nConnection: close\r\n\r\n";
	struct mconn *c;

	if (m->n_conns >= MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
		/* a constant that fits any socket buffer: no state kept */
		if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
			m->responses[C503]++;
		drain_close(fd);
		return;
	}
	c->m = m;
	c->fd = fd;
	c->op.cb = conn_cb;
	c->op.ctx = c;
	c->deadline_ns = now_ns() + REQ_TIMEOUT_MS * 1000000ull;
	c->next = m->conns;
	if (m->conns)
		m->conns->prev = c;
	m->conns = c;
	m->n_conns++;
	arm_io(c);
}

static void accept_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct metrics *m = op->ctx;

	(void)loop;
	if (cqe->res >= 0) {
		conn_new(m, cqe->res);
	} else if (cqe->res != -ECANCELED && !(cqe->flags & IORING_CQE_F_MORE) && m->fd >= 0) {
		/* out of file descriptors or memory: try again in 100 ms */
		struct io_uring_sqe *sqe = xr_loop_sqe(&m->r->loop, &m->retry_op);

		m->retry_ts.tv_sec = 0;
		m->retry_ts.tv_nsec = 100000000;
		io_uring_prep_timeout(sqe, &m->retry_ts, 0, 0);
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_MORE) && m->fd >= 0)
		arm_accept(m);
}

static void accept_retry_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct metrics *m = op->ctx;

	(void)loop;
	(void)cqe;
	if (m->fd >= 0)
		arm_accept(m);
}

int metrics_open(struct relay *r)
{
	const struct xr_sockaddr *a = &r->cfg.admin_metrics;
	struct metrics *m;
	struct timespec rt;
	char addr[80];
	int one = 1;

	r->metrics = NULL;
	if (!a->len)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -1;
	m->r = r;
	m->sess_per_tenant = calloc(XR_MAX_TENANTS, sizeof(*m->sess_per_tenant));
	if (!m->sess_per_tenant) {
		free(m);
		return -1;
	}
	clock_gettime(CLOCK_REALTIME, &rt);
	m->start_unix = (double)rt.tv_sec + (double)rt.tv_nsec / 1e9 -
			(double)(now_ns() - r->start_ns) / 1e9;
	xr_sockaddr_str((const struct sockaddr *)&a->ss, addr, sizeof(addr));
	m->fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (m->fd < 0)
		goto fail;
	setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (a->ss.ss_family == AF_INET6)
		setsockopt(m->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(m->fd, (const struct sockaddr *)&a->ss, a->len) || listen(m->fd, 128))
		goto fail;
	m->accept_op.cb = accept_cb;
	m->accept_op.ctx = m;
	m->retry_op.cb = accept_retry_cb;
	m->retry_op.ctx = m;
	r->metrics = m;
	arm_accept(m);
	xr_info("metrics listening", "addr=%s path=/metrics", addr);
	return 0;
fail:
	xr_err("cannot listen (admin.metrics)", "addr=%s error=\"%s\"", addr, strerror(errno));
	if (m->fd >= 0)
		close(m->fd);
	free(m->sess_per_tenant);
	free(m);
	return -1;
}

/* After the loop stopped: nothing of ours is dispatched any more. */
void metrics_close(struct relay *r)
{
	struct metrics *m = r->metrics;

	if (!m)
		return;
	close(m->fd);
	m->fd = -1;
	while (m->conns)
		conn_free(m->conns);
	free(m->keys);
	free(m->vals);
	free(m->sess_per_tenant);
	free(m);
	r->metrics = NULL;
}
