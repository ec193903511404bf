// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Everything before the session lookup: handshakes and their per-source
 * limiter, unknown indices, and the garbage a WireGuard port receives.
 * None of these may modify the frame; all of them are counted exactly once.
 */
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>

#include "xt.h"

/* Build p and expect it unmodified with this verdict and reason. */
static void same_check(const struct xt_pkt *p, int action, int reason, __u32 repeat,
		       const char *file, int line)
{
	__u8 in[XT_FRAME_MAX];
	size_t len = xt_build(p, in);

	xt_run_check(in, len, &(struct xt_expect){ .action = action, .reason = reason,
		     .repeat = repeat }, NULL, file, line);
}
#define SAME(p, action, reason) same_check(p, action, reason, 1, __FILE__, __LINE__)
#define SAME_N(p, n, action, reason) same_check(p, action, reason, n, __FILE__, __LINE__)

static void hs_pkt(struct xt_pkt *p, int family, const char *src, int type, size_t len)
{
	xt_pkt_udp(p, family, src, 51000, family == 4 ? XT_RELAY4 : XT_RELAY6, XT_WG_PORT);
	p->plen = xt_wg_hs(p->payload, type, len);
}

static void test_handshakes(void)
{
	static const struct { int type; size_t len; } hs[] = {
		{ XR_WG_TYPE_INITIATION, XR_WG_INIT_LEN },
		{ XR_WG_TYPE_RESPONSE, XR_WG_RESP_LEN },
		{ XR_WG_TYPE_COOKIE, XR_WG_COOKIE_LEN },
	};
	struct xt_pkt p;

	for (size_t i = 0; i < 3; i++) {
		hs_pkt(&p, 4, "198.51.100.21", hs[i].type, hs[i].len);
		SAME(&p, XDP_PASS, XR_R_PASS_HANDSHAKE);
		hs_pkt(&p, 6, "2001:db8:51::21", hs[i].type, hs[i].len);
		SAME(&p, XDP_PASS, XR_R_PASS_HANDSHAKE);
		hs_pkt(&p, 4, "198.51.100.21", hs[i].type, hs[i].len);
		p.nvlan = 1;                    /* behind a VLAN tag too */
		p.tpid[0] = 0x8100;
		p.tci[0] = 42;
		SAME(&p, XDP_PASS, XR_R_PASS_HANDSHAKE);
	}
}

/* XR_HS_BURST + 1 back to back pass, the next one from the same source is
 * dropped, whatever its type; another source still passes; transport data
 * from the limited source is still forwarded. */
static void test_hs_ratelimit(void)
{
	__u8 in[XT_FRAME_MAX], want[XT_FRAME_MAX];
	char src[64];
	struct xt_pkt p, last;
	size_t len, wlen;
	int judged = 0;

	for (int fam = 4; fam <= 6; fam += 2) {
		for (int attempt = 0; attempt < 10 && judged <= 0; attempt++) {
			snprintf(src, sizeof(src), fam == 4 ? "198.51.100.%d" : "2001:db8:51::1:%d",
				 100 + attempt);
			hs_pkt(&p, fam, src, XR_WG_TYPE_INITIATION, XR_WG_INIT_LEN);
			hs_pkt(&last, fam, src, XR_WG_TYPE_RESPONSE, XR_WG_RESP_LEN);
			judged = xt_hs_exhaust(&p, &last, __FILE__, __LINE__);
		}
		CU_ASSERT_EQUAL(judged, 1);     /* 10 runs each slower than 20 ms? */
		judged = 0;

		hs_pkt(&p, fam, fam == 4 ? "198.51.100.99" : "2001:db8:51::99",
		       XR_WG_TYPE_INITIATION, XR_WG_INIT_LEN);
		SAME(&p, XDP_PASS, XR_R_PASS_HANDSHAKE);      /* another source */

		xt_pkt_udp(&p, fam, src, 51000, fam == 4 ? XT_RELAY4 : XT_RELAY6, XT_WG_PORT);
		p.plen = xt_wg_data(p.payload, XT_IDX(fam == 4 ? S_V4 : S_V6), 64);
		len = xt_build(&p, in);
		wlen = xt_expect_fwd(&p, fam == 4 ? S_V4 : S_V6, XT_MAC_EP, XT_MAC_IF0, want);
		XT_RUN(in, len, NULL, .action = XDP_TX, .reason = XR_R_TX, .tid = T_ONE,
		       .out = want, .out_len = wlen);
	}
}

static void test_unknown_index(void)
{
	struct xt_pkt p;

	for (int fam = 4; fam <= 6; fam += 2) {
		xt_pkt_wg(&p, fam);
		p.plen = xt_wg_data(p.payload, XT_IDX_UNKNOWN, 64);
		SAME(&p, XDP_DROP, XR_R_DROP_UNKNOWN_INDEX);
		xt_pkt_wg(&p, fam);
		p.plen = xt_wg_data(p.payload, 0, 32);
		SAME(&p, XDP_DROP, XR_R_DROP_UNKNOWN_INDEX);
		/* a known index byte-swapped is another index */
		xt_pkt_wg(&p, fam);
		p.plen = xt_wg_data(p.payload, __builtin_bswap32(XT_IDX(S_V4)), 64);
		SAME(&p, XDP_DROP, XR_R_DROP_UNKNOWN_INDEX);
	}
}

static void test_wg_bad_type(void)
{
	static const struct { int type; size_t len; } bad[] = {
		{ 0, 148 }, { 5, 32 }, { 0xff, 64 },
		{ 1, 147 }, { 1, 149 }, { 1, 92 }, { 2, 91 }, { 2, 148 }, { 3, 63 }, { 3, 92 },
		{ 4, 0x10 }, { 4, 31 },     /* shorter than header + tag */
	};
	struct xt_pkt p;

	for (int fam = 4; fam <= 6; fam += 2) {
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			xt_pkt_wg(&p, fam);
			if (bad[i].type == 4)
				p.plen = xt_wg_data(p.payload, XT_IDX(S_V4), bad[i].len);
			else
				p.plen = xt_wg_hs(p.payload, bad[i].type, bad[i].len);
			SAME(&p, XDP_DROP, XR_R_DROP_WG_BAD_TYPE);
		}
		/* empty and 3-byte payloads */
		xt_pkt_wg(&p, fam);
		SAME(&p, XDP_DROP, XR_R_DROP_WG_BAD_TYPE);
		xt_pkt_wg(&p, fam);
		p.plen = 3;
		p.payload[0] = 4;
		SAME(&p, XDP_DROP, XR_R_DROP_WG_BAD_TYPE);
		/* reserved bytes must be zero */
		for (int b = 1; b <= 3; b++) {
			hs_pkt(&p, fam, fam == 4 ? "198.51.100.30" : "2001:db8:51::30",
			       XR_WG_TYPE_INITIATION, XR_WG_INIT_LEN);
			p.payload[b] = 0x80;
			SAME(&p, XDP_DROP, XR_R_DROP_WG_BAD_TYPE);
			xt_pkt_wg(&p, fam);
			p.plen = xt_wg_data(p.payload, XT_IDX(S_V4), 64);
			p.payload[b] = 1;
			SAME(&p, XDP_DROP, XR_R_DROP_WG_BAD_TYPE);
		}
	}
}

static void test_malformed(void)
{
	struct xt_pkt p;
	__u8 in[XT_FRAME_MAX];
	size_t len;

	for (int fam = 4; fam <= 6; fam += 2) {
		enum xt_session s = fam == 4 ? S_V4 : S_V6;

		xt_pkt_wg(&p, fam);                     /* UDP length > IP payload */
		p.plen = xt_wg_data(p.payload, XT_IDX(s), 64);
		p.udp_len_adj = 16;
		SAME(&p, XDP_DROP, XR_R_DROP_MALFORMED);
		p.udp_len_adj = -16;                    /* UDP length < IP payload */
		SAME(&p, XDP_DROP, XR_R_DROP_MALFORMED);
		p.udp_len_adj = -(8 + 64) + 4;          /* UDP length 4 < 8 */
		SAME(&p, XDP_DROP, XR_R_DROP_MALFORMED);
		p.udp_len_adj = -(8 + 64);              /* UDP length 0 */
		SAME(&p, XDP_DROP, XR_R_DROP_MALFORMED);
		p.udp_len_adj = 0;                      /* IP length > UDP length */
		p.ip_len_adj = 8;
		SAME(&p, XDP_DROP, XR_R_DROP_MALFORMED);

		/* lengths consistent, frame cut inside the UDP payload */
		xt_pkt_wg(&p, fam);
		p.plen = xt_wg_data(p.payload, XT_IDX(s), 64);
		len = xt_build(&p, in);
		p.truncate = len - 1;
		SAME(&p, XDP_DROP, XR_R_DROP_MALFORMED);
		p.truncate = len - 60;                  /* just after the WG header */
		SAME(&p, XDP_DROP, XR_R_DROP_MALFORMED);
		p.truncate = len - 64;                  /* right after the UDP header */
		SAME(&p, XDP_DROP, XR_R_DROP_MALFORMED);
		/* IP and UDP both claim 16 more bytes than the frame has */
		p.truncate = 0;
		p.ip_len_adj = 16;
		p.udp_len_adj = 16;
		SAME(&p, XDP_DROP, XR_R_DROP_MALFORMED);
		/* same for a handshake */
		hs_pkt(&p, fam, fam == 4 ? "198.51.100.31" : "2001:db8:51::31",
		       XR_WG_TYPE_INITIATION, XR_WG_INIT_LEN);
		len = xt_build(&p, in);
		p.truncate = len - 20;
		SAME(&p, XDP_DROP, XR_R_DROP_MALFORMED);
	}
}

static void raw(struct xt_pkt *p, __u16 ethertype, size_t n)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->dmac, XT_MAC_IF0, 6);
	memcpy(p->smac, XT_MAC_CLIENT, 6);
	p->ethertype = ethertype;
	p->plen = n;
	for (size_t i = 0; i < n; i++)
		p->payload[i] = i;
}

static void test_not_ip(void)
{
	struct xt_pkt p;

	raw(&p, 0x0806, 28);                    /* ARP request */
	memcpy(p.payload, "\x00\x01\x08\x00\x06\x04\x00\x01", 8);
	memset(p.dmac, 0xff, 6);
	SAME(&p, XDP_PASS, XR_R_PASS_NOT_IP);
	raw(&p, 0x88cc, 40);                    /* LLDP */
	SAME(&p, XDP_PASS, XR_R_PASS_NOT_IP);
	raw(&p, 0x0800, 0);                     /* Ethernet only, IPv4 missing */
	SAME(&p, XDP_PASS, XR_R_PASS_NOT_IP);
	raw(&p, 0x86dd, 0);
	SAME(&p, XDP_PASS, XR_R_PASS_NOT_IP);

	raw(&p, 0x8100, 2);                     /* cut inside the 802.1Q tag */
	SAME(&p, XDP_PASS, XR_R_PASS_NOT_IP);
	raw(&p, 0x88a8, 5);                     /* cut inside the inner QinQ tag */
	memcpy(p.payload, "\x00\x07\x81\x00\x00", 5);
	SAME(&p, XDP_PASS, XR_R_PASS_NOT_IP);

	/* three tags: more than the parser walks */
	xt_pkt_wg(&p, 4);
	p.plen = xt_wg_data(p.payload, XT_IDX(S_V4), 64);
	p.nvlan = 3;
	p.tpid[0] = 0x88a8, p.tpid[1] = 0x8100, p.tpid[2] = 0x8100;
	p.tci[0] = 1, p.tci[1] = 2, p.tci[2] = 3;
	SAME(&p, XDP_PASS, XR_R_PASS_NOT_IP);

	for (int fam = 4; fam <= 6; fam += 2) {
		size_t hl = fam == 4 ? 20 : 40;

		xt_pkt_wg(&p, fam);             /* IP header truncated */
		p.plen = xt_wg_data(p.payload, XT_IDX(S_V4), 64);
		p.truncate = 14 + hl - 1;
		SAME(&p, XDP_PASS, XR_R_PASS_NOT_IP);
		p.truncate = 0;                 /* wrong version for the EtherType */
		p.version_override = fam == 4 ? 6 : 4;
		SAME(&p, XDP_PASS, XR_R_PASS_NOT_IP);
	}
	xt_pkt_wg(&p, 4);                       /* ihl < 5 */
	p.plen = xt_wg_data(p.payload, XT_IDX(S_V4), 64);
	p.ihl_override = 4;
	SAME(&p, XDP_PASS, XR_R_PASS_NOT_IP);
	p.ihl_override = 15;                    /* 60-byte header beyond the frame */
	p.truncate = 14 + 56;
	SAME(&p, XDP_PASS, XR_R_PASS_NOT_IP);
	p.ihl_override = 0;                     /* options cut */
	memcpy(p.opts, "\x94\x04\x00\x00", 4);
	p.optlen = 4;
	p.truncate = 14 + 22;
	SAME(&p, XDP_PASS, XR_R_PASS_NOT_IP);
}

static void test_not_ours(void)
{
	struct xt_pkt p;

	for (int fam = 4; fam <= 6; fam += 2) {
		const char *relay = fam == 4 ? XT_RELAY4 : XT_RELAY6;
		const char *client = fam == 4 ? XT_CLIENT4 : XT_CLIENT6;
		const __u8 protos[] = { 6, fam == 4 ? 1 : 58, 47, 0 };

		for (size_t i = 0; i < sizeof(protos); i++) {
			if (fam == 4 && !protos[i])
				continue;
			xt_pkt_wg(&p, fam);     /* TCP, ICMP, GRE, IPv6 hop-by-hop */
			p.proto = protos[i];
			p.plen = 40;
			memset(p.payload, 0x5a, 40);
			SAME(&p, XDP_PASS, XR_R_PASS_NOT_OURS);
		}
		xt_pkt_udp(&p, fam, client, 40000, relay, 53);   /* DNS */
		p.plen = xt_wg_data(p.payload, XT_IDX(S_V4), 64);
		SAME(&p, XDP_PASS, XR_R_PASS_NOT_OURS);
		xt_pkt_udp(&p, fam, client, XT_WG_PORT, relay, 51821);   /* from our port */
		p.plen = xt_wg_data(p.payload, XT_IDX(S_V4), 64);
		SAME(&p, XDP_PASS, XR_R_PASS_NOT_OURS);
		xt_pkt_wg(&p, fam);             /* UDP header truncated */
		p.plen = xt_wg_data(p.payload, XT_IDX(S_V4), 64);
		p.truncate = 14 + (fam == 4 ? 20 : 40) + 7;
		SAME(&p, XDP_PASS, XR_R_PASS_NOT_OURS);
	}
	/* IPv6 listens on the relay's address only */
	xt_pkt_udp(&p, 6, XT_CLIENT6, 40000, "2001:db8:18::77", XT_WG_PORT);
	p.plen = xt_wg_data(p.payload, XT_IDX(S_V6), 64);
	SAME(&p, XDP_PASS, XR_R_PASS_NOT_OURS);
	/* IPv4 total length shorter than its header */
	xt_pkt_wg(&p, 4);
	p.plen = xt_wg_data(p.payload, XT_IDX(S_V4), 64);
	p.ip_len_adj = -(20 + 8 + 64) + 16;
	SAME(&p, XDP_PASS, XR_R_PASS_NOT_OURS);
}

static void test_fragments(void)
{
	static const __u16 v4frag[] = { 0x2000, 0x00b9, 0x20b9, 0x6000, 0x1fff };
	struct xt_pkt p;

	for (size_t i = 0; i < sizeof(v4frag) / sizeof(v4frag[0]); i++) {
		xt_pkt_wg(&p, 4);
		p.plen = xt_wg_data(p.payload, XT_IDX(S_V4), 64);
		p.frag = v4frag[i];
		SAME(&p, XDP_PASS, XR_R_PASS_FRAGMENT);
	}
	xt_pkt_wg(&p, 6);
	p.plen = xt_wg_data(p.payload, XT_IDX(S_V6), 64);
	p.v6_frag = true;
	p.frag = 0x0001;                        /* first fragment, M set */
	SAME(&p, XDP_PASS, XR_R_PASS_FRAGMENT);
	p.frag = 0x0100;                        /* offset 32, last */
	SAME(&p, XDP_PASS, XR_R_PASS_FRAGMENT);
	p.frag = 0;                             /* atomic fragment (RFC 6946) */
	SAME(&p, XDP_PASS, XR_R_PASS_FRAGMENT);
	p.nvlan = 1;
	p.tpid[0] = 0x8100;
	p.tci[0] = 9;
	SAME(&p, XDP_PASS, XR_R_PASS_FRAGMENT);
}

int xt_register_classify(void)
{
	CU_pSuite s = CU_add_suite("classify", NULL, NULL);

	if (!s ||
	    !CU_add_test(s, "handshake types 1-3 -> pass_handshake", test_handshakes) ||
	    !CU_add_test(s, "handshake rate limit per source", test_hs_ratelimit) ||
	    !CU_add_test(s, "unknown receiver index", test_unknown_index) ||
	    !CU_add_test(s, "not WireGuard -> drop_wg_bad_type", test_wg_bad_type) ||
	    !CU_add_test(s, "inconsistent/truncated -> drop_malformed", test_malformed) ||
	    !CU_add_test(s, "not IP -> pass_not_ip", test_not_ip) ||
	    !CU_add_test(s, "not ours -> pass_not_ours", test_not_ours) ||
	    !CU_add_test(s, "fragments -> pass_fragment", test_fragments))
		return -1;
	return 0;
}
