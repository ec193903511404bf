// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Transport data (type 4) of a known session: the rewrite and XDP_TX, and
 * every way the forward can end elsewhere (no neighbour, no route, another
 * NIC, a family change, TTL).  Each forward is compared byte by byte with a
 * frame built independently (xt_expect_fwd), and its checksums are also
 * recomputed from scratch on the program's own output.
 */
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>

#include <bpf/bpf.h>

#include "xt.h"

static void test_fwd_ipv4(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 4, S_V4, 64);
	XT_FWD(&p, S_V4, XT_MAC_EP);
	xt_data_pkt(&p, 4, S_V4, 32);              /* keepalive: empty payload + tag */
	XT_FWD(&p, S_V4, XT_MAC_EP);
	xt_data_pkt(&p, 4, S_V4, 1424);            /* full-size data */
	XT_FWD(&p, S_V4, XT_MAC_EP);
	/* padding is capped at the MTU: not a multiple of 16 (1420 MTU) */
	xt_data_pkt(&p, 4, S_V4, 1452);
	XT_FWD(&p, S_V4, XT_MAC_EP);
	xt_data_pkt(&p, 4, S_V4, 33);
	XT_FWD(&p, S_V4, XT_MAC_EP);
	xt_data_pkt(&p, 4, S_V4, 64);              /* to another address: listen "any" */
	xt_addr(4, "198.18.0.77", p.dst);
	XT_FWD(&p, S_V4, XT_MAC_EP);
}

static void test_fwd_ipv6(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 6, S_V6, 64);
	XT_FWD(&p, S_V6, XT_MAC_EP);
	xt_data_pkt(&p, 6, S_V6, 32);
	XT_FWD(&p, S_V6, XT_MAC_EP);
	xt_data_pkt(&p, 6, S_V6, 1424);
	XT_FWD(&p, S_V6, XT_MAC_EP);
	xt_data_pkt(&p, 6, S_V6, 1432);
	XT_FWD(&p, S_V6, XT_MAC_EP);
}

static void test_fwd_ipv4_variants(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 4, S_V4, 80);
	p.no_udp_csum = true;                   /* checksum 0 stays 0 */
	XT_FWD(&p, S_V4, XT_MAC_EP);
	xt_data_pkt(&p, 4, S_V4, 80);
	p.frag = 0x4000;                        /* DF is not a fragment */
	XT_FWD(&p, S_V4, XT_MAC_EP);
	xt_data_pkt(&p, 4, S_V4, 48);
	p.ttl = 2;                              /* leaves with TTL 1 */
	XT_FWD(&p, S_V4, XT_MAC_EP);
	xt_data_pkt(&p, 4, S_V4, 48);
	p.ttl = 255;
	p.tos = 0xb8;
	p.id = 0xffff;
	XT_FWD(&p, S_V4, XT_MAC_EP);
	xt_data_pkt(&p, 6, S_V6, 48);
	p.ttl = 2;
	XT_FWD(&p, S_V6, XT_MAC_EP);
}

/* A UDP checksum that comes out 0 after the rewrite is sent as 0xffff
 * (RFC 768); the payload's last word is chosen to get there. */
static void csum_becomes_zero(int fam, enum xt_session s)
{
	__u8 f[XT_FRAME_MAX];
	struct xt_pkt p;
	size_t len, l4;

	xt_data_pkt(&p, fam, s, 64);
	p.payload[62] = p.payload[63] = 0;
	len = xt_expect_fwd(&p, s, XT_MAC_EP, XT_MAC_IF0, f);
	l4 = xt_l3_offset(f, len) + (fam == 4 ? 20 : 40);
	p.payload[62] = f[l4 + 6];      /* + ~sum: the sum becomes 0xffff */
	p.payload[63] = f[l4 + 7];
	len = xt_expect_fwd(&p, s, XT_MAC_EP, XT_MAC_IF0, f);
	CU_ASSERT(f[l4 + 6] == 0xff && f[l4 + 7] == 0xff);
	XT_FWD(&p, s, XT_MAC_EP);
}

static void test_fwd_csum_edges(void)
{
	csum_becomes_zero(4, S_V4);
	csum_becomes_zero(6, S_V6);
}

/* Bytes after the IP packet (Ethernet padding, trailers) are carried along. */
static void test_fwd_trailer(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 4, S_V4, 32);
	p.trailer = 6;
	XT_FWD(&p, S_V4, XT_MAC_EP);
	xt_data_pkt(&p, 6, S_V6, 32);
	p.trailer = 2;
	XT_FWD(&p, S_V6, XT_MAC_EP);
}

/* Over the route's MTU: the stack fragments (IPv4) or sends PTB, not us. */
static void test_frag_needed(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 4, S_MTU4, 1000 - 28);  /* exactly the MTU */
	XT_FWD(&p, S_MTU4, XT_MAC_EP_MTU);
	xt_data_pkt(&p, 4, S_MTU4, 1000 - 28 + 1);
	XT_KEEP(&p, S_MTU4, XDP_PASS, XR_R_PASS_SLOWPATH);
	xt_data_pkt(&p, 6, S_MTU6, 1280 - 48);
	XT_FWD(&p, S_MTU6, XT_MAC_EP_MTU);
	xt_data_pkt(&p, 6, S_MTU6, 1280 - 48 + 1);
	XT_KEEP(&p, S_MTU6, XDP_PASS, XR_R_PASS_SLOWPATH);
}

static void test_fwd_ip_options(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 4, S_V4, 64);              /* ihl 6: Router Alert */
	memcpy(p.opts, "\x94\x04\x00\x00", 4);
	p.optlen = 4;
	XT_FWD(&p, S_V4, XT_MAC_EP);

	xt_data_pkt(&p, 4, S_V4, 64);              /* ihl 8: NOPs + timestamp */
	memcpy(p.opts, "\x01\x01\x44\x0c\x05\x00\xaa\xbb\xcc\xdd\x00\x00", 12);
	p.optlen = 12;
	XT_FWD(&p, S_V4, XT_MAC_EP);

	xt_data_pkt(&p, 4, S_V4, 64);              /* ihl 15: record route, 9 slots + EOL */
	p.opts[0] = 0x07;
	p.opts[1] = 39;
	p.opts[2] = 4;
	for (int i = 3; i < 39; i++)
		p.opts[i] = i;
	p.opts[39] = 0;
	p.optlen = 40;
	XT_FWD(&p, S_V4, XT_MAC_EP);
}

static void vlan(struct xt_pkt *p, int n, __u16 outer_tpid)
{
	p->nvlan = n;
	p->tpid[0] = n == 2 ? outer_tpid : 0x8100;
	p->tci[0] = n == 2 ? 0x20c8 : 0x6064;   /* PCP 1 VID 200 / PCP 3 VID 100 */
	p->tpid[1] = 0x8100;
	p->tci[1] = 0x0064;
}

static void test_fwd_vlan(void)
{
	struct xt_pkt p;

	for (int fam = 4; fam <= 6; fam += 2) {
		enum xt_session s = fam == 4 ? S_V4 : S_V6;

		xt_data_pkt(&p, fam, s, 64);       /* 802.1Q */
		vlan(&p, 1, 0);
		XT_FWD(&p, s, XT_MAC_EP);
		xt_data_pkt(&p, fam, s, 64);       /* QinQ 802.1ad + 802.1Q */
		vlan(&p, 2, 0x88a8);
		XT_FWD(&p, s, XT_MAC_EP);
		xt_data_pkt(&p, fam, s, 64);       /* double 802.1Q */
		vlan(&p, 2, 0x8100);
		XT_FWD(&p, s, XT_MAC_EP);
	}
	xt_data_pkt(&p, 4, S_V4, 64);              /* options behind QinQ */
	vlan(&p, 2, 0x88a8);
	memcpy(p.opts, "\x94\x04\x00\x00", 4);
	p.optlen = 4;
	XT_FWD(&p, S_V4, XT_MAC_EP);
}

/* The endpoint is behind a gateway: the frame goes to the gateway's MAC but
 * its IP destination must stay the endpoint.  (bpf_fib_lookup() overwrites
 * ipv4_dst / ipv6_dst with the gateway's address on success; the header
 * must be written from the session, not from the lookup's result.) */
static void test_fwd_via_gateway(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 4, S_GW4, 64);
	XT_FWD(&p, S_GW4, XT_MAC_GW);
	xt_data_pkt(&p, 6, S_GW6, 64);
	XT_FWD(&p, S_GW6, XT_MAC_GW);
}

static void test_no_neigh(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 4, S_NONEIGH4, 64);
	XT_KEEP(&p, S_NONEIGH4, XDP_PASS, XR_R_PASS_SLOWPATH);
	xt_data_pkt(&p, 6, S_NONEIGH6, 64);
	XT_KEEP(&p, S_NONEIGH6, XDP_PASS, XR_R_PASS_SLOWPATH);
}

static void test_no_route(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 4, S_NOROUTE4, 64);
	XT_KEEP(&p, S_NOROUTE4, XDP_DROP, XR_R_DROP_NO_ROUTE);
	xt_data_pkt(&p, 6, S_NOROUTE6, 64);
	XT_KEEP(&p, S_NOROUTE6, XDP_DROP, XR_R_DROP_NO_ROUTE);
}

/* Endpoint behind xr1: handed to xrelayd while xr1 runs no XDP (not in
 * xr_txports), XDP_REDIRECT with xr1's MAC once it does (xrelay_abi.h:
 * pass_slowpath covers "other NIC").  With BPF_FIB_LOOKUP_OUTPUT the kernel
 * uses params->ifindex as the flow's oif, and IPv4's fib_table_lookup()
 * then skips next hops on other devices: NOT_FWDED, i.e. drop_no_route. */
static void test_other_nic(void)
{
	__u32 ifx = xt.ifindex1;
	struct xt_pkt p;

	for (int fam = 4; fam <= 6; fam += 2) {
		enum xt_session s = fam == 4 ? S_IF1_V4 : S_IF1_V6;

		xt_data_pkt(&p, fam, s, 64);
		XT_KEEP(&p, s, XDP_PASS, XR_R_PASS_SLOWPATH);
		if (!XT_CHECK(!bpf_map_update_elem(xt.txports_fd, &ifx, &ifx, BPF_ANY),
			      __FILE__, __LINE__, "xr_txports[%u]", ifx))
			continue;
		xt_fwd_check(&p, s, XDP_REDIRECT, XR_R_REDIRECT, XT_MAC_EP_IF1, XT_MAC_IF1,
			  __FILE__, __LINE__);
		bpf_map_delete_elem(xt.txports_fd, &ifx);
	}
}

/* An IPv4 packet for an IPv6 endpoint and vice versa: userspace translates. */
static void test_family_change(void)
{
	struct xt_pkt p;

	xt_data_pkt(&p, 4, S_V6, 64);
	XT_KEEP(&p, S_V6, XDP_PASS, XR_R_PASS_SLOWPATH);
	xt_data_pkt(&p, 6, S_V4, 64);
	XT_KEEP(&p, S_V4, XDP_PASS, XR_R_PASS_SLOWPATH);
}

static void test_ttl(void)
{
	struct xt_pkt p;

	for (int ttl = 0; ttl <= 1; ttl++) {
		xt_data_pkt(&p, 4, S_V4, 64);
		p.ttl = ttl;
		XT_KEEP(&p, S_V4, XDP_DROP, XR_R_DROP_TTL);
		xt_data_pkt(&p, 6, S_V6, 64);
		p.ttl = ttl;
		XT_KEEP(&p, S_V6, XDP_DROP, XR_R_DROP_TTL);
	}
}

static __u32 sess_flags(enum xt_session s)
{
	struct xr_session ss = {};

	xt_session_get(s, &ss);
	return ss.flags;
}

/* XR_SESS_F_CONFIRMED: set by the first data packet from the session's src
 * (address and port); packets from elsewhere are forwarded without it. */
static void test_confirm(void)
{
	struct xt_pkt p;

	for (int fam = 4; fam <= 6; fam += 2) {
		enum xt_session s = fam == 4 ? S_CONF4 : S_CONF6;
		const char *client = fam == 4 ? XT_CLIENT4 : XT_CLIENT6;
		const char *other = fam == 4 ? "198.51.100.11" : "2001:db8:51::11";
		const char *relay = fam == 4 ? XT_RELAY4 : XT_RELAY6;

		CU_ASSERT_EQUAL(sess_flags(s), 0);
		xt_pkt_udp(&p, fam, other, 40000, relay, XT_WG_PORT);   /* other address */
		p.plen = xt_wg_data(p.payload, XT_IDX(s), 64);
		XT_FWD(&p, s, XT_MAC_EP);
		CU_ASSERT_EQUAL(sess_flags(s), 0);
		xt_pkt_udp(&p, fam, client, 40001, relay, XT_WG_PORT);  /* other port */
		p.plen = xt_wg_data(p.payload, XT_IDX(s), 64);
		XT_FWD(&p, s, XT_MAC_EP);
		CU_ASSERT_EQUAL(sess_flags(s), 0);
		xt_pkt_udp(&p, fam, client, 40000, relay, XT_WG_PORT);  /* the peer */
		p.plen = xt_wg_data(p.payload, XT_IDX(s), 64);
		XT_FWD(&p, s, XT_MAC_EP);
		CU_ASSERT_EQUAL(sess_flags(s), XR_SESS_F_CONFIRMED);
		XT_FWD(&p, s, XT_MAC_EP);
		CU_ASSERT_EQUAL(sess_flags(s), XR_SESS_F_CONFIRMED);
	}
}

int xt_register_forward(void)
{
	CU_pSuite s = CU_add_suite("forward", NULL, NULL);

	if (!s ||
	    !CU_add_test(s, "IPv4 forward, XDP_TX", test_fwd_ipv4) ||
	    !CU_add_test(s, "IPv6 forward, XDP_TX", test_fwd_ipv6) ||
	    !CU_add_test(s, "no UDP checksum, DF, TTL 2, TOS", test_fwd_ipv4_variants) ||
	    !CU_add_test(s, "UDP checksum 0 after rewrite -> 0xffff", test_fwd_csum_edges) ||
	    !CU_add_test(s, "trailing bytes carried", test_fwd_trailer) ||
	    !CU_add_test(s, "over the route MTU -> pass_slowpath", test_frag_needed) ||
	    !CU_add_test(s, "IPv4 options kept (ihl 6, 8, 15)", test_fwd_ip_options) ||
	    !CU_add_test(s, "802.1Q and QinQ tags kept", test_fwd_vlan) ||
	    !CU_add_test(s, "endpoint behind a gateway", test_fwd_via_gateway) ||
	    !CU_add_test(s, "no neighbour -> pass_slowpath", test_no_neigh) ||
	    !CU_add_test(s, "no route -> drop_no_route", test_no_route) ||
	    !CU_add_test(s, "endpoint behind another NIC", test_other_nic) ||
	    !CU_add_test(s, "family change -> pass_slowpath", test_family_change) ||
	    !CU_add_test(s, "TTL/hop limit 0 and 1 -> drop_ttl", test_ttl) ||
	    !CU_add_test(s, "session confirmed by its peer's data", test_confirm))
		return -1;
	return 0;
}
