// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The reverse-path next hop: with forwarding off on the NIC,
 * bpf_fib_lookup() answers FWD_DISABLED and the program sends a session's
 * packets to the MAC that the endpoint's own handshakes came from
 * (xr_nexthop, learned on every admitted type 1-3), or hands them to
 * xrelayd while nothing was learned.  The suite turns forwarding off on
 * xr0/xr1 for its duration.
 */
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>

#include "xt.h"

#define MAC_NH     "\x02\x00\x00\x00\x00\x50"
#define MAC_NH_NEW "\x02\x00\x00\x00\x00\x51"
#define MAC_NH_IF1 "\x02\x00\x00\x00\x01\x50"

static int suite_init(void)
{
	return xt_forwarding(XT_IF0, false) || xt_forwarding(XT_IF1, false);
}

static int suite_clean(void)
{
	return xt_forwarding(XT_IF0, true) || xt_forwarding(XT_IF1, true);
}

/* A handshake from `src` as it arrives on `ifindex` with these MACs. */
static void handshake(int family, const char *src, int type, const char *smac, const char *dmac,
		      int ifindex, int action, int reason, __u32 repeat, const char *file, int line)
{
	static const size_t lens[4] = { 0, XR_WG_INIT_LEN, XR_WG_RESP_LEN, XR_WG_COOKIE_LEN };
	__u8 in[XT_FRAME_MAX];
	struct xt_pkt p;
	size_t len;

	xt_pkt_udp(&p, family, src, 51820, family == 4 ? XT_RELAY4 : XT_RELAY6, XT_WG_PORT);
	p.plen = xt_wg_hs(p.payload, type, lens[type]);
	memcpy(p.smac, smac, 6);
	memcpy(p.dmac, dmac, 6);
	len = xt_build(&p, in);
	xt_run_check(in, len, &(struct xt_expect){ .action = action, .reason = reason,
		     .ifindex = ifindex, .repeat = repeat }, NULL, file, line);
}
#define HS(fam, src, type, smac) \
	handshake(fam, src, type, smac, XT_MAC_IF0, 0, XDP_PASS, XR_R_PASS_HANDSHAKE, 1, \
		  __FILE__, __LINE__)

static void nexthop_is(int family, const char *addr, const char *mac, const char *our_mac,
		       int ifindex, const char *file, int line)
{
	struct xr_nexthop nh = {};
	struct xr_addr a = {};

	if (family == 4) {
		a.a[10] = a.a[11] = 0xff;
		xt_addr(4, addr, &a.a[12]);
	} else {
		xt_addr(6, addr, a.a);
	}
	if (!XT_CHECK(!bpf_map_lookup_elem(xt.nexthop_fd, &a, &nh), file, line,
		      "no xr_nexthop entry for %s", addr))
		return;
	XT_CHECK(!memcmp(nh.mac, mac, 6) && !memcmp(nh.our_mac, our_mac, 6), file, line,
		 "xr_nexthop[%s] has mac %02x:..:%02x our_mac %02x:..:%02x", addr,
		 nh.mac[0], nh.mac[5], nh.our_mac[0], nh.our_mac[5]);
	XT_CHECK(nh.ifindex == (__u32)ifindex && nh.seen_ns, file, line,
		 "xr_nexthop[%s] ifindex %u seen_ns %llu", addr, nh.ifindex,
		 (unsigned long long)nh.seen_ns);
}
#define NH_IS(fam, addr, mac, ifx) nexthop_is(fam, addr, mac, XT_MAC_IF0, ifx, __FILE__, __LINE__)

static void test_nothing_learned(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 4, S_NH4, 64);
	XT_KEEP(&p, S_NH4, XDP_PASS, XR_R_PASS_SLOWPATH);
	xt_data_pkt(&p, 6, S_NH6, 64);
	XT_KEEP(&p, S_NH6, XDP_PASS, XR_R_PASS_SLOWPATH);
	/* the FIB's neighbour entry is not used without forwarding */
	xt_data_pkt(&p, 4, S_V4, 64);
	XT_KEEP(&p, S_V4, XDP_PASS, XR_R_PASS_SLOWPATH);
	/* no route at all: still userspace's call, not drop_no_route */
	xt_data_pkt(&p, 4, S_NOROUTE4, 64);
	XT_KEEP(&p, S_NOROUTE4, XDP_PASS, XR_R_PASS_SLOWPATH);
}

static void test_learn_and_forward(void)
{
	struct xt_pkt p;

	HS(4, "198.18.0.50", XR_WG_TYPE_INITIATION, MAC_NH);
	NH_IS(4, "198.18.0.50", MAC_NH, xt.ifindex0);
	xt_data_pkt(&p, 4, S_NH4, 64);
	XT_FWD(&p, S_NH4, MAC_NH);
	HS(6, "2001:db8:18::50", XR_WG_TYPE_RESPONSE, MAC_NH);
	NH_IS(6, "2001:db8:18::50", MAC_NH, xt.ifindex0);
	xt_data_pkt(&p, 6, S_NH6, 64);
	XT_FWD(&p, S_NH6, MAC_NH);
	xt_data_pkt(&p, 4, S_NH4, 64);          /* TTL is still checked first */
	p.ttl = 1;
	XT_KEEP(&p, S_NH4, XDP_DROP, XR_R_DROP_TTL);
}

/* The peer roams (new router MAC): the next handshake moves the next hop. */
static void test_relearn(void)
{
	struct xt_pkt p;

	HS(4, "198.18.0.50", XR_WG_TYPE_COOKIE, MAC_NH_NEW);
	NH_IS(4, "198.18.0.50", MAC_NH_NEW, xt.ifindex0);
	/* the session's cached next hop keeps the old MAC for up to
	 * XR_NH_CACHE_NS; a cleared cache takes the new one at once */
	xt_data_pkt(&p, 4, S_NH4, 64);
	XT_FWD(&p, S_NH4, MAC_NH);
	xt_nh_flush();
	xt_data_pkt(&p, 4, S_NH4, 64);
	XT_FWD(&p, S_NH4, MAC_NH_NEW);
}

/* Off link: frames go to the router's MAC, the IP destination stays the endpoint. */
static void test_off_link(void)
{
	struct xt_pkt p;

	HS(4, "203.0.113.50", XR_WG_TYPE_INITIATION, XT_MAC_GW);
	xt_data_pkt(&p, 4, S_NH_GW4, 64);
	XT_FWD(&p, S_NH_GW4, XT_MAC_GW);
}

/* Handshakes came in on xr1: userspace until xr1 is in xr_txports, then
 * XDP_REDIRECT with xr1's MAC as source. */
static void test_other_nic(void)
{
	__u32 ifx = xt.ifindex1;
	struct xt_pkt p;

	handshake(4, "198.19.0.50", XR_WG_TYPE_INITIATION, MAC_NH_IF1, XT_MAC_IF1, xt.ifindex1,
		  XDP_PASS, XR_R_PASS_HANDSHAKE, 1, __FILE__, __LINE__);
	nexthop_is(4, "198.19.0.50", MAC_NH_IF1, XT_MAC_IF1, xt.ifindex1, __FILE__, __LINE__);
	xt_data_pkt(&p, 4, S_NH_IF1, 64);
	XT_KEEP(&p, S_NH_IF1, XDP_PASS, XR_R_PASS_SLOWPATH);
	CU_ASSERT_FATAL(!bpf_map_update_elem(xt.txports_fd, &ifx, &ifx, BPF_ANY));
	xt_fwd_check(&p, S_NH_IF1, XDP_REDIRECT, XR_R_REDIRECT, MAC_NH_IF1, XT_MAC_IF1,
		     __FILE__, __LINE__);
	bpf_map_delete_elem(xt.txports_fd, &ifx);
}

/* A source over its handshake limit teaches nothing. */
static void test_ratelimited_not_learned(void)
{
	struct xt_pkt p, last;
	char src[32];
	int judged = 0;

	for (int attempt = 0; attempt < 10 && judged <= 0; attempt++) {
		snprintf(src, sizeof(src), "198.18.0.%d", 60 + attempt);
		xt_pkt_udp(&p, 4, src, 51820, XT_RELAY4, XT_WG_PORT);
		p.plen = xt_wg_hs(p.payload, XR_WG_TYPE_INITIATION, XR_WG_INIT_LEN);
		memcpy(p.smac, MAC_NH, 6);
		last = p;
		memcpy(last.smac, MAC_NH_NEW, 6);
		judged = xt_hs_exhaust(&p, &last, __FILE__, __LINE__);
		if (judged == 1)
			NH_IS(4, src, MAC_NH, xt.ifindex0);
	}
	CU_ASSERT_EQUAL(judged, 1);
}

int xt_register_nexthop(void)
{
	CU_pSuite s = CU_add_suite("nexthop (forwarding off)", suite_init, suite_clean);

	if (!s ||
	    !CU_add_test(s, "nothing learned -> pass_slowpath", test_nothing_learned) ||
	    !CU_add_test(s, "learned from a handshake -> XDP_TX", test_learn_and_forward) ||
	    !CU_add_test(s, "re-learned after roaming", test_relearn) ||
	    !CU_add_test(s, "off-link peer via its router", test_off_link) ||
	    !CU_add_test(s, "learned on another NIC", test_other_nic) ||
	    !CU_add_test(s, "rate-limited handshakes teach nothing", test_ratelimited_not_learned))
		return -1;
	return 0;
}
