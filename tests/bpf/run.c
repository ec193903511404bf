// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One packet through the program, and every observable effect checked:
 * the verdict, the output bytes (byte by byte against an expected frame,
 * or against the input when the program must not touch it), the exact
 * delta of each xr_stats slot (the expected reason moves by one packet and
 * the frame's length, every other reason by nothing) and of each fixture
 * tenant's xr_tstats (the session's tenant gets rx + tx or drop[reason],
 * every other tenant nothing).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "bpfobj.h"
#include "xt.h"

bool xt_check(bool ok, const char *expr, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, expr, file, "", CU_FALSE);
	if (!ok) {
		fprintf(stderr, "\n  FAIL %s:%d: ", file, line);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fprintf(stderr, "\n");
	}
	return ok;
}

int xt_run_raw(const __u8 *in, size_t len, __u32 repeat, __u8 *out, __u32 *out_len,
	       __u32 *retval, __u32 *duration)
{
	return xt_run_raw_if(xt.ifindex0, in, len, repeat, out, out_len, retval, duration);
}

int xt_run_raw_if(int ifindex, const __u8 *in, size_t len, __u32 repeat, __u8 *out,
		  __u32 *out_len, __u32 *retval, __u32 *duration)
{
	struct xdp_md ctx_in = {
		.data = 0,
		.data_end = len,
		.ingress_ifindex = ifindex,
	}, ctx_out = {};
	__u8 scratch[XT_FRAME_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = in,
		.data_size_in = len,
		.data_out = out ? out : scratch,
		.data_size_out = XT_FRAME_MAX,
		.ctx_in = &ctx_in,
		.ctx_size_in = sizeof(ctx_in),
		.ctx_out = &ctx_out,
		.ctx_size_out = sizeof(ctx_out),
		.repeat = repeat,
	);
	int rc = bpf_prog_test_run_opts(xt.prog_fd, &opts);

	if (rc)
		return rc;
	if (out_len)
		*out_len = opts.data_size_out;
	if (retval)
		*retval = opts.retval;
	if (duration)
		*duration = opts.duration;
	if (ctx_out.data_end - ctx_out.data != opts.data_size_out ||
	    ctx_out.ingress_ifindex != (__u32)ifindex)
		return -EPROTO;
	return 0;
}

void xt_stats_snap(struct xr_counter out[XR_R_MAX])
{
	struct xr_counter v[xt.ncpus];

	for (__u32 r = 0; r < XR_R_MAX; r++) {
		memset(&out[r], 0, sizeof(out[r]));
		if (bpf_map_lookup_elem(xt.stats_fd, &r, v))
			continue;
		for (int c = 0; c < xt.ncpus; c++) {
			out[r].packets += v[c].packets;
			out[r].bytes += v[c].bytes;
		}
	}
}

void xt_tstats_snap(__u32 tid, struct xr_tenant_stats *out)
{
	struct xr_tenant_stats *v = calloc(xt.ncpus, sizeof(*v));

	memset(out, 0, sizeof(*out));
	if (!v || bpf_map_lookup_elem(xt.tstats_fd, &tid, v)) {
		free(v);
		return;
	}
	for (int c = 0; c < xt.ncpus; c++) {
		out->rx_packets += v[c].rx_packets;
		out->rx_bytes += v[c].rx_bytes;
		out->tx_packets += v[c].tx_packets;
		out->tx_bytes += v[c].tx_bytes;
		for (int r = 0; r < XR_R_MAX; r++)
			out->drop[r] += v[c].drop[r];
	}
	free(v);
}

static const char *action_name(int a)
{
	static const char *const n[] = { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT" };

	return a >= 0 && a <= 4 ? n[a] : "?";
}

/* "24-25 30-33": the differing byte ranges, for the failure message. */
static void diff_ranges(const __u8 *a, const __u8 *b, size_t n, char *buf, size_t blen)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used + 24 < blen; i++) {
		size_t j = i;

		if (a[i] == b[i])
			continue;
		while (j + 1 < n && a[j + 1] != b[j + 1])
			j++;
		used += snprintf(buf + used, blen - used, j > i ? " %zu-%zu" : " %zu", i, j);
		i = j;
	}
}

static bool check_bytes(const __u8 *got, size_t got_len, const __u8 *want, size_t want_len,
			const char *file, int line)
{
	char ranges[256];
	size_t i;

	if (!XT_CHECK(got_len == want_len, file, line, "output %zu bytes, expected %zu",
		      got_len, want_len))
		goto dump;
	for (i = 0; i < want_len && got[i] == want[i]; i++)
		;
	if (i == want_len)
		return true;
	diff_ranges(got, want, want_len, ranges, sizeof(ranges));
	XT_CHECK(false, file, line, "output differs from the expected frame at bytes%s", ranges);
dump:
	xt_hexdump("got", got, got_len);
	xt_hexdump("expected", want, want_len);
	return false;
}

bool xt_run_check(const __u8 *in, size_t len, const struct xt_expect *e,
		  __u8 *out, const char *file, int line)
{
	struct xr_counter s0[XR_R_MAX], s1[XR_R_MAX];
	struct xr_tenant_stats t0[XT_NTENANTS], t1[XT_NTENANTS];
	__u8 buf[XT_FRAME_MAX];
	__u32 n = e->repeat ? e->repeat : 1, out_len = 0, retval = 0;
	bool ok = true;
	int rc;

	if (!out)
		out = buf;
	xt_stats_snap(s0);
	for (__u32 t = 1; t < XT_NTENANTS; t++)
		xt_tstats_snap(t, &t0[t]);
	rc = xt_run_raw_if(e->ifindex ? e->ifindex : xt.ifindex0, in, len, n, out, &out_len,
			   &retval, NULL);
	if (!XT_CHECK(rc == 0, file, line, "bpf_prog_test_run_opts: %s", strerror(-rc)))
		return false;
	xt_stats_snap(s1);
	for (__u32 t = 1; t < XT_NTENANTS; t++)
		xt_tstats_snap(t, &t1[t]);

	ok &= XT_CHECK((int)retval == e->action, file, line, "verdict %s, expected %s",
		       action_name(retval), action_name(e->action));
	ok &= check_bytes(out, out_len, e->out ? e->out : in, e->out ? e->out_len : len, file, line);

	for (int r = 0; r < XR_R_MAX; r++) {
		__u64 dp = s1[r].packets - s0[r].packets, db = s1[r].bytes - s0[r].bytes;
		__u64 wp = r == e->reason ? n : 0, wb = r == e->reason ? (__u64)n * len : 0;

		ok &= XT_CHECK(dp == wp && db == wb, file, line,
			       "xr_stats[%s] moved by %llu packets %llu bytes, expected %llu/%llu",
			       xr_reason_name(r), (unsigned long long)dp, (unsigned long long)db,
			       (unsigned long long)wp, (unsigned long long)wb);
	}

	for (__u32 t = 1; t < XT_NTENANTS; t++) {
		struct xr_tenant_stats w = {};
		bool mine = t == e->tid;

		if (mine) {
			w.rx_packets = n;
			w.rx_bytes = (__u64)n * len;   /* frame bytes, like tx */
			if (e->reason == XR_R_TX || e->reason == XR_R_REDIRECT) {
				w.tx_packets = n;
				w.tx_bytes = (__u64)n * len;
			} else if (e->reason >= XR_R_DROP_MALFORMED) {
				w.drop[e->reason] = n;  /* drop[] counts drops only */
			}
		}
		ok &= XT_CHECK(t1[t].rx_packets - t0[t].rx_packets == w.rx_packets &&
			       t1[t].rx_bytes - t0[t].rx_bytes == w.rx_bytes, file, line,
			       "tenant %u rx moved by %llu/%llu, expected %llu/%llu", t,
			       (unsigned long long)(t1[t].rx_packets - t0[t].rx_packets),
			       (unsigned long long)(t1[t].rx_bytes - t0[t].rx_bytes),
			       (unsigned long long)w.rx_packets, (unsigned long long)w.rx_bytes);
		ok &= XT_CHECK(t1[t].tx_packets - t0[t].tx_packets == w.tx_packets &&
			       t1[t].tx_bytes - t0[t].tx_bytes == w.tx_bytes, file, line,
			       "tenant %u tx moved by %llu/%llu, expected %llu/%llu", t,
			       (unsigned long long)(t1[t].tx_packets - t0[t].tx_packets),
			       (unsigned long long)(t1[t].tx_bytes - t0[t].tx_bytes),
			       (unsigned long long)w.tx_packets, (unsigned long long)w.tx_bytes);
		for (int r = 0; r < XR_R_MAX; r++)
			ok &= XT_CHECK(t1[t].drop[r] - t0[t].drop[r] == w.drop[r], file, line,
				       "tenant %u drop[%s] moved by %llu, expected %llu", t,
				       xr_reason_name(r),
				       (unsigned long long)(t1[t].drop[r] - t0[t].drop[r]),
				       (unsigned long long)w.drop[r]);
	}
	if (!ok)
		fprintf(stderr, "    (verdict %s, reason expected %s)\n", action_name(retval),
			xr_reason_name(e->reason));
	return ok;
}

static __u32 tenant_of(enum xt_session s)
{
	struct xr_session ss;

	return xt_session_get(s, &ss) ? 0 : ss.tenant_id;
}

/* Forward p (addressed to session s) and expect exactly `want`; the session
 * counters must move by one packet and the IP length. */
void xt_fwd_check(const struct xt_pkt *p, enum xt_session s, int action, int reason,
		      const char *dmac, const char *smac, const char *file, int line)
{
	__u8 in[XT_FRAME_MAX], want[XT_FRAME_MAX], out[XT_FRAME_MAX];
	struct xr_session before = {}, after = {};
	size_t len = xt_build(p, in), wlen = xt_expect_fwd(p, s, dmac, smac, want);
	__u32 l3len = xt_l3len(in, len);
	const char *why;

	xt_session_get(s, &before);
	if (!xt_run_check(in, len, &(struct xt_expect){ .action = action, .reason = reason,
			  .tid = tenant_of(s), .out = want, .out_len = wlen }, out, file, line))
		return;
	why = xt_csum_problem(out, wlen);
	XT_CHECK(!why, file, line, "output checksums: %s", why);
	xt_session_get(s, &after);
	XT_CHECK(after.packets == before.packets + 1 && after.bytes == before.bytes + l3len,
		 file, line, "session counters %llu/%llu -> %llu/%llu, expected +1/+%u",
		 (unsigned long long)before.packets, (unsigned long long)before.bytes,
		 (unsigned long long)after.packets, (unsigned long long)after.bytes, l3len);
	XT_CHECK(after.last_ns && after.last_ns >= before.last_ns, file, line,
		 "session last_ns not refreshed (%llu -> %llu)",
		 (unsigned long long)before.last_ns, (unsigned long long)after.last_ns);
}

/* p must come out untouched with verdict/reason; the session counters must not move. */
void xt_keep_check(const struct xt_pkt *p, enum xt_session s, int action, int reason,
		       const char *file, int line)
{
	__u8 in[XT_FRAME_MAX];
	struct xr_session before = {}, after = {};
	size_t len = xt_build(p, in);

	xt_session_get(s, &before);
	xt_run_check(in, len, &(struct xt_expect){ .action = action, .reason = reason,
		     .tid = tenant_of(s) }, NULL, file, line);
	xt_session_get(s, &after);
	XT_CHECK(after.packets == before.packets && after.bytes == before.bytes, file, line,
		 "session counters moved without a forward (%llu/%llu -> %llu/%llu)",
		 (unsigned long long)before.packets, (unsigned long long)before.bytes,
		 (unsigned long long)after.packets, (unsigned long long)after.bytes);
}

size_t xt_expect_fwd(const struct xt_pkt *p, enum xt_session s, const char *dmac,
		     const char *smac, __u8 *frame)
{
	struct xt_pkt e = *p;
	const struct xr_endpoint *ep = &xt.ep[s];

	memcpy(e.dmac, dmac, 6);
	memcpy(e.smac, smac, 6);
	memcpy(e.src, p->dst, 16);
	memset(e.dst, 0, 16);
	if (ep->family == 4)
		memcpy(e.dst, &ep->addr.a[12], 4);
	else
		memcpy(e.dst, ep->addr.a, 16);
	e.sport = p->dport;
	e.dport = ntohs(ep->port);
	e.ttl = p->ttl - 1;
	return xt_build(&e, frame);
}

void xt_data_pkt(struct xt_pkt *p, int family, enum xt_session s, size_t len)
{
	xt_pkt_wg(p, family);
	p->plen = xt_wg_data(p->payload, XT_IDX(s), len);
}

static __u64 mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);  /* the clock of bpf_ktime_get_ns() */
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int xt_hs_exhaust(const struct xt_pkt *burst, const struct xt_pkt *last, const char *file,
		  int line)
{
	const __u64 cost = 1000000000ull / XR_HS_RATE_PPS;
	struct xr_counter s0[XR_R_MAX], s1[XR_R_MAX];
	__u8 in[XT_FRAME_MAX], out[XT_FRAME_MAX];
	__u32 out_len = 0, retval = 0;
	struct xr_gcra g = {};
	__u64 t0, t1 = 0, t2;
	size_t len;
	int rc;

	/* One run per packet: test_run with repeat > 1 swaps the XDP
	 * dispatcher, which can take tens of ms (see env.c). */
	len = xt_build(burst, in);
	xt_stats_snap(s0);
	t0 = mono_ns();
	for (int i = 0; i <= XR_HS_BURST; i++) {
		rc = xt_run_raw(in, len, 1, out, &out_len, &retval, NULL);
		if (i == 0)
			t1 = mono_ns();
		if (!XT_CHECK(rc == 0 && retval == XDP_PASS, file, line,
			      "handshake %d of the burst: rc %d verdict %s", i + 1, rc,
			      action_name(retval)))
			return -1;
	}
	xt_stats_snap(s1);
	XT_CHECK(s1[XR_R_PASS_HANDSHAKE].packets - s0[XR_R_PASS_HANDSHAKE].packets ==
		 XR_HS_BURST + 1, file, line, "pass_handshake +%llu, expected +%d",
		 (unsigned long long)(s1[XR_R_PASS_HANDSHAKE].packets -
				      s0[XR_R_PASS_HANDSHAKE].packets), XR_HS_BURST + 1);
	/* The first one set TAT = its arrival + cost, each other one added a
	 * cost: TAT - (XR_HS_BURST + 1) * cost is the first one's arrival. */
	XT_CHECK(!bpf_map_lookup_elem(xt.hsrate_fd, burst->family == 4 ?
				      (void *)&(struct xr_addr){ .a = { [10] = 0xff, [11] = 0xff,
					      [12] = burst->src[0], [13] = burst->src[1],
					      [14] = burst->src[2], [15] = burst->src[3] } } :
				      (void *)burst->src, &g) &&
		 g.tat >= t0 + (XR_HS_BURST + 1) * cost && g.tat <= t1 + (XR_HS_BURST + 1) * cost,
		 file, line, "xr_hsrate TAT %llu outside [%llu, %llu]", (unsigned long long)g.tat,
		 (unsigned long long)(t0 + (XR_HS_BURST + 1) * cost),
		 (unsigned long long)(t1 + (XR_HS_BURST + 1) * cost));

	len = xt_build(last, in);
	xt_stats_snap(s0);
	rc = xt_run_raw(in, len, 1, out, &out_len, &retval, NULL);
	t2 = mono_ns();
	xt_stats_snap(s1);
	if (!XT_CHECK(rc == 0, file, line, "bpf_prog_test_run_opts: %s", strerror(-rc)))
		return -1;
	if (t2 - t0 >= cost)
		return 0;  /* a token came back meanwhile: cannot judge, retry */
	XT_CHECK(retval == XDP_DROP, file, line, "verdict %s after the burst, expected XDP_DROP",
		 action_name(retval));
	XT_CHECK(s1[XR_R_DROP_HS_RATELIMIT].packets - s0[XR_R_DROP_HS_RATELIMIT].packets == 1 &&
		 s1[XR_R_PASS_HANDSHAKE].packets == s0[XR_R_PASS_HANDSHAKE].packets, file, line,
		 "drop_hs_ratelimit +%llu, pass_handshake +%llu; expected +1, +0",
		 (unsigned long long)(s1[XR_R_DROP_HS_RATELIMIT].packets -
				      s0[XR_R_DROP_HS_RATELIMIT].packets),
		 (unsigned long long)(s1[XR_R_PASS_HANDSHAKE].packets -
				      s0[XR_R_PASS_HANDSHAKE].packets));
	check_bytes(out, out_len, in, len, file, line);
	return 1;
}
