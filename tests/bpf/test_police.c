// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-tenant policy on the forward path: packet and bandwidth GCRA buckets
 * (with another tenant forwarded in between, to show isolation), the source
 * allow list, and tenants that are gone or inactive while their sessions
 * remain.  The buckets (xt.h) refill in hundreds of milliseconds, so the
 * time a test takes (even preempted on a busy machine) does not change the
 * count.
 */
#include <string.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>

#include "xt.h"

/* How many back-to-back packets of `cost` a GCRA with `burst` admits from an
 * empty bucket: the k-th (k from 0) is admitted while k * cost <= burst. */
static unsigned gcra_admits(__u64 cost, __u64 burst)
{
	return burst / cost + 1;
}

static void witness(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 4, S_T2_V4, 64);
	XT_FWD(&p, S_T2_V4, XT_MAC_EP_B);
	xt_data_pkt(&p, 6, S_T2_V6, 64);
	XT_FWD(&p, S_T2_V6, XT_MAC_EP_B);
}

static void test_over_packets(void)
{
	unsigned n = gcra_admits(XT_PKT_NS, XT_PKT_BURST_NS);
	struct xr_police pol = {};
	__u32 tid = T_PKT;
	struct xt_pkt p;

	CU_ASSERT_EQUAL(n, 3);
	for (unsigned i = 0; i < n; i++) {
		xt_data_pkt(&p, 4, S_PKT, i & 1 ? 1424 : 32);  /* size does not matter */
		XT_FWD(&p, S_PKT, XT_MAC_EP);
		witness();
	}
	for (int i = 0; i < 3; i++) {
		xt_data_pkt(&p, 4, S_PKT, 32);
		XT_KEEP(&p, S_PKT, XDP_DROP, XR_R_DROP_OVER_PACKETS);
		witness();
	}
	CU_ASSERT_FATAL(!bpf_map_lookup_elem(xt.police_fd, &tid, &pol));
	CU_ASSERT(pol.pkt.tat != 0);
	CU_ASSERT(pol.bw.tat == 0);     /* no bandwidth limit: bucket untouched */
}

static void test_over_bandwidth(void)
{
	__u8 frame[XT_FRAME_MAX];
	struct xr_police pol = {};
	__u32 tid = T_BW, l3len;
	struct xt_pkt p;
	unsigned n;

	xt_data_pkt(&p, 4, S_BW, 64);
	l3len = xt_l3len(frame, xt_build(&p, frame));
	n = gcra_admits(xr_bw_cost(l3len, xr_bw_ns_per_mib(XT_BW_BPS)), XT_BW_BURST_NS);
	CU_ASSERT_EQUAL(l3len, 92);
	CU_ASSERT_EQUAL(n, 3);          /* 736 ms per packet, 1.6 s of burst */
	for (unsigned i = 0; i < n; i++) {
		XT_FWD(&p, S_BW, XT_MAC_EP);
		witness();
	}
	XT_KEEP(&p, S_BW, XDP_DROP, XR_R_DROP_OVER_BANDWIDTH);
	witness();
	xt_data_pkt(&p, 4, S_BW, 32);   /* smaller still does not fit */
	XT_KEEP(&p, S_BW, XDP_DROP, XR_R_DROP_OVER_BANDWIDTH);
	witness();
	CU_ASSERT_FATAL(!bpf_map_lookup_elem(xt.police_fd, &tid, &pol));
	CU_ASSERT(pol.bw.tat != 0);
	CU_ASSERT(pol.pkt.tat == 0);
}

static void from(struct xt_pkt *p, int family, enum xt_session s, const char *src)
{
	xt_pkt_udp(p, family, src, 40000, family == 4 ? XT_RELAY4 : XT_RELAY6, XT_WG_PORT);
	p->plen = xt_wg_data(p->payload, XT_IDX(s), 64);
}

static void test_allowlist(void)
{
	static const char *const in4[] = { "198.51.100.10", "198.51.100.0", "198.51.100.255" };
	static const char *const out4[] = { "198.51.101.10", "198.51.99.255", "192.0.2.5", "10.0.0.1" };
	static const char *const in6[] = { "2001:db8:51::10", "2001:db8:51:ffff:ffff:ffff:ffff:ffff" };
	static const char *const out6[] = { "2001:db8:50::1", "2001:db8:52::1", "::ffff:10.0.0.1" };
	struct xt_pkt p;

	for (size_t i = 0; i < sizeof(in4) / sizeof(in4[0]); i++) {
		from(&p, 4, S_ALLOW4, in4[i]);
		XT_FWD(&p, S_ALLOW4, XT_MAC_EP);
	}
	/* 192.0.2.0/24 is in T_ONE's list, not in T_ALLOW's */
	for (size_t i = 0; i < sizeof(out4) / sizeof(out4[0]); i++) {
		from(&p, 4, S_ALLOW4, out4[i]);
		XT_KEEP(&p, S_ALLOW4, XDP_DROP, XR_R_DROP_NOT_ALLOWED);
	}
	for (size_t i = 0; i < sizeof(in6) / sizeof(in6[0]); i++) {
		from(&p, 6, S_ALLOW6, in6[i]);
		XT_FWD(&p, S_ALLOW6, XT_MAC_EP);
	}
	for (size_t i = 0; i < sizeof(out6) / sizeof(out6[0]); i++) {
		from(&p, 6, S_ALLOW6, out6[i]);
		XT_KEEP(&p, S_ALLOW6, XDP_DROP, XR_R_DROP_NOT_ALLOWED);
	}
	/* T_ONE has entries but no XR_TENANT_F_ALLOWLIST: they do not apply */
	from(&p, 4, S_V4, "10.0.0.1");
	XT_FWD(&p, S_V4, XT_MAC_EP);
}

static void test_tenant_gone(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 4, S_GONE, 64);
	XT_FWD(&p, S_GONE, XT_MAC_EP);
	CU_ASSERT_FATAL(xt_tenant_del(T_GONE) == 0);
	XT_KEEP(&p, S_GONE, XDP_DROP, XR_R_DROP_NOT_ALLOWED);
	XT_KEEP(&p, S_GONE, XDP_DROP, XR_R_DROP_NOT_ALLOWED);
	witness();
	CU_ASSERT_FATAL(xt_tenant_put(T_GONE) == 0);     /* back: forwarded again */
	XT_FWD(&p, S_GONE, XT_MAC_EP);

	xt_data_pkt(&p, 4, S_IDLE, 64);                  /* present, not active */
	XT_KEEP(&p, S_IDLE, XDP_DROP, XR_R_DROP_NOT_ALLOWED);
}

int xt_register_police(void)
{
	CU_pSuite s = CU_add_suite("police", NULL, NULL);

	if (!s ||
	    !CU_add_test(s, "packets limit, another tenant unaffected", test_over_packets) ||
	    !CU_add_test(s, "bandwidth limit, another tenant unaffected", test_over_bandwidth) ||
	    !CU_add_test(s, "allow list", test_allowlist) ||
	    !CU_add_test(s, "tenant removed / inactive -> drop_not_allowed", test_tenant_gone))
		return -1;
	return 0;
}
