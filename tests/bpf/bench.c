// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-packet cost of the forward verdict against XDP_PASS of a non-UDP
 * packet (the cheapest exit: parse Ethernet + IPv4, read the protocol).
 * Printed, never asserted: only the counts behind the numbers are checked.
 *
 * Why the forward is not one run with repeat = 1000000: without
 * BPF_F_TEST_XDP_LIVE_FRAMES, test_run reuses one buffer across repeats
 * and the program rewrites it in place, so the second run would see the
 * first one's output.  S_BENCH sends to 198.18.0.2:51820, our own port and
 * "any" listen address, so every rewritten frame is again a valid forward
 * to the same session, until the TTL runs out: 250 repeats from TTL 255 are
 * 250 full forwards (parse, 2 listen lookups, session, tenant, FIB, rewrite),
 * and 4000 such runs make the million.
 */
#include <stdio.h>
#include <string.h>
#include <linux/bpf.h>

#include "xt.h"

#define BENCH_PACKETS 1000000u
#define FWD_REPEAT    250u

static void test_bench(void)
{
	struct xr_counter s0[XR_R_MAX], s1[XR_R_MAX];
	__u8 in[XT_FRAME_MAX], out[XT_FRAME_MAX];
	__u32 out_len, retval, dur;
	double fwd_ns = 0, pass_ns;
	struct xt_pkt p;
	size_t len;
	int l3;

	xt_data_pkt(&p, 4, S_BENCH, 128);
	p.ttl = 255;
	len = xt_build(&p, in);
	xt_stats_snap(s0);
	for (unsigned i = 0; i < BENCH_PACKETS / FWD_REPEAT; i++) {
		if (xt_run_raw(in, len, FWD_REPEAT, out, &out_len, &retval, &dur)) {
			CU_FAIL("bpf_prog_test_run_opts (forward)");
			return;
		}
		fwd_ns += (double)dur * FWD_REPEAT;
	}
	fwd_ns /= BENCH_PACKETS;
	xt_stats_snap(s1);
	l3 = xt_l3_offset(out, out_len);
	CU_ASSERT_EQUAL(retval, XDP_TX);
	CU_ASSERT(l3 > 0 && out[l3 + 8] == 255 - FWD_REPEAT);
	CU_ASSERT_EQUAL(s1[XR_R_TX].packets - s0[XR_R_TX].packets, BENCH_PACKETS);

	xt_pkt_wg(&p, 4);
	p.proto = 6;                            /* TCP: pass_not_ours after the IP header */
	p.plen = 20;
	memset(p.payload, 0, 20);
	len = xt_build(&p, in);
	xt_stats_snap(s0);
	if (xt_run_raw(in, len, BENCH_PACKETS, out, &out_len, &retval, &dur)) {
		CU_FAIL("bpf_prog_test_run_opts (pass)");
		return;
	}
	pass_ns = dur;
	xt_stats_snap(s1);
	CU_ASSERT_EQUAL(retval, XDP_PASS);
	CU_ASSERT_EQUAL(s1[XR_R_PASS_NOT_OURS].packets - s0[XR_R_PASS_NOT_OURS].packets,
			BENCH_PACKETS);

	printf("\nbench: forward_ns=%.1f pass_ns=%.1f ratio=%.2f\n", fwd_ns, pass_ns,
	       pass_ns > 0 ? fwd_ns / pass_ns : 0.0);
}

int xt_register_bench(void)
{
	CU_pSuite s = CU_add_suite("bench", NULL, NULL);

	if (!s || !CU_add_test(s, "forward vs pass ns/packet", test_bench))
		return -1;
	return 0;
}
