// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Token-bucket arithmetic shared by the data plane and userspace:
 * xr_gcra_next() and xr_bw_cost() from xrelay_abi.h, driven with simulated
 * CLOCK_MONOTONIC time.
 *
 * Semantics (GCRA, virtual scheduling): with emission interval C and burst
 * tolerance B, an idle bucket admits 1 + floor(B / C) back-to-back packets;
 * in the long run exactly one packet per C (plus that initial burst).
 */
#include <stdint.h>
#include <CUnit/CUnit.h>

#include "xrelay_abi.h"

#define NS_PER_SEC 1000000000ULL
#define T0 (1000 * NS_PER_SEC) /* a running system: now is never 0 */

/* the emission interval as the config layer computes it */
#define ns_per_mib(bps) xr_bw_ns_per_mib(bps)

/* Offer one packet every `step` ns in [start, start + span); count admits. */
static __u64 offer(__u64 *tat, __u64 start, __u64 span, __u64 step, __u64 cost, __u64 burst)
{
	__u64 now, n = 0, next;

	for (now = start; now < start + span; now += step) {
		next = xr_gcra_next(*tat, now, cost, burst);
		if (next) {
			CU_ASSERT(next > now);
			*tat = next;
			n++;
		}
	}
	return n;
}

/* Offered at 4x the rate, a bucket without burst admits exactly rate * T. */
static void test_steady_rate_no_burst(void)
{
	const __u64 rate = 1000; /* packets per second */
	const __u64 cost = NS_PER_SEC / rate;
	__u64 tat = 0;

	CU_ASSERT_EQUAL(offer(&tat, T0, NS_PER_SEC, cost / 4, cost, 0), rate);
	/* and again over the next 10 s: no drift */
	CU_ASSERT_EQUAL(offer(&tat, T0 + NS_PER_SEC, 10 * NS_PER_SEC, cost / 4, cost, 0),
			10 * rate);
}

/* Offered exactly at the rate, nothing is refused. */
static void test_steady_rate_at_rate(void)
{
	const __u64 cost = NS_PER_SEC / 1000;
	__u64 tat = 0;

	CU_ASSERT_EQUAL(offer(&tat, T0, 5 * NS_PER_SEC, cost, cost, 0), 5000);
}

/* With burst B, over T: rate * T + B / C (the burst is spent once). */
static void test_steady_rate_with_burst(void)
{
	const __u64 cost = NS_PER_SEC / 1000;
	__u64 tat = 0;

	CU_ASSERT_EQUAL(offer(&tat, T0, NS_PER_SEC, cost / 4, cost, 10 * cost), 1000 + 10);
	/* the following second: back to exactly the rate */
	CU_ASSERT_EQUAL(offer(&tat, T0 + NS_PER_SEC, NS_PER_SEC, cost / 4, cost, 10 * cost),
			1000);
}

/* All at one instant: 1 + floor(B / C) admitted, then refused. */
static unsigned burst_at(__u64 *tat, __u64 now, __u64 cost, __u64 burst)
{
	unsigned n = 0, i;
	__u64 next;

	for (i = 0; i < 1000; i++) {
		next = xr_gcra_next(*tat, now, cost, burst);
		if (!next)
			break;
		*tat = next;
		n++;
	}
	/* once refused, refused again until time passes */
	CU_ASSERT_EQUAL(xr_gcra_next(*tat, now, cost, burst), 0);
	return n;
}

static void test_burst(void)
{
	const __u64 cost = 1000;
	__u64 tat = 0;

	CU_ASSERT_EQUAL(burst_at(&tat, T0, cost, 0), 1);
	tat = 0;
	CU_ASSERT_EQUAL(burst_at(&tat, T0, cost, 10 * cost), 11);
	CU_ASSERT_EQUAL(tat, T0 + 11 * cost);
	tat = 0;
	CU_ASSERT_EQUAL(burst_at(&tat, T0, cost, 10 * cost + cost / 2), 11);
	tat = 0;
	CU_ASSERT_EQUAL(burst_at(&tat, T0, cost, 11 * cost - 1), 11);

	/* the boundary: admitted when tat - now == burst, refused 1 ns earlier */
	tat = T0 + 11 * cost;
	CU_ASSERT_EQUAL(xr_gcra_next(tat, T0 + cost - 1, cost, 10 * cost), 0);
	CU_ASSERT_EQUAL(xr_gcra_next(tat, T0 + cost, cost, 10 * cost), T0 + 12 * cost);

	/* after a refusal, one more packet per interval */
	tat = 0;
	burst_at(&tat, T0, cost, 10 * cost);
	CU_ASSERT_EQUAL(burst_at(&tat, T0 + cost, cost, 10 * cost), 1);
	CU_ASSERT_EQUAL(burst_at(&tat, T0 + 4 * cost, cost, 10 * cost), 3);
}

/* A packet costlier than the burst still passes an idle bucket (GCRA), and
 * then the bucket owes the time. */
static void test_big_packet(void)
{
	__u64 tat = xr_gcra_next(0, T0, 5000, 1000);

	CU_ASSERT_EQUAL(tat, T0 + 5000);
	CU_ASSERT_EQUAL(xr_gcra_next(tat, T0 + 3999, 5000, 1000), 0);
	CU_ASSERT_EQUAL(xr_gcra_next(tat, T0 + 4000, 5000, 1000), T0 + 10000);
}

/* Idle time is not credit: after an hour, still only the burst. */
static void test_idle_no_accumulation(void)
{
	const __u64 cost = 1000, burst = 10 * cost;
	__u64 tat = 0, later = T0 + 3600 * NS_PER_SEC;

	CU_ASSERT_EQUAL(burst_at(&tat, T0, cost, burst), 11);
	CU_ASSERT_EQUAL(xr_gcra_next(tat, later, cost, burst), later + cost);
	CU_ASSERT_EQUAL(burst_at(&tat, later, cost, burst), 11);

	/* a stale TAT far in the past behaves like a fresh bucket */
	CU_ASSERT_EQUAL(xr_gcra_next(1, later, cost, burst), later + cost);
	CU_ASSERT_EQUAL(xr_gcra_next(0, later, cost, burst), later + cost);
}

/* 100 Mbit/s, 1500-byte packets: 120 us each, 8333.3 per second. */
static void test_cost_100mbit(void)
{
	__u64 npm = ns_per_mib(100000000ULL), cost, tat = 0, n;

	CU_ASSERT_EQUAL(npm, 83886080ULL);      /* 80 ns per byte, 2^20 bytes */
	cost = xr_bw_cost(1500, npm);
	CU_ASSERT_EQUAL(cost, 120000);
	CU_ASSERT_EQUAL(xr_bw_cost(0, npm), 0);
	CU_ASSERT_EQUAL(xr_bw_cost(64, npm), 5120);

	/* line-rate flood for one second: admits at T0 + k * 120 us, k < 8333.3 */
	n = offer(&tat, T0, NS_PER_SEC, 1000, cost, 0);
	CU_ASSERT_EQUAL(n, 8334);
	/* over 10 s the byte rate is 100 Mbit/s to within one packet */
	n = offer(&tat, T0 + NS_PER_SEC, 10 * NS_PER_SEC, 1000, cost, 0);
	CU_ASSERT(n * 1500 * 8 <= 10 * 100000000ULL + 1500 * 8);
	CU_ASSERT(n * 1500 * 8 >= 10 * 100000000ULL - 1500 * 8);
}

/* Exact 128-bit reference for the 64-bit product. */
static int cost_exact(__u64 bytes, __u64 npm)
{
	unsigned __int128 p = (unsigned __int128)bytes * npm;

	return (p >> 64) == 0 && (__u64)(p >> 20) == xr_bw_cost(bytes, npm);
}

static void test_cost_100gbit(void)
{
	__u64 npm = ns_per_mib(100000000000ULL), c;

	/* 0.08 ns per byte: 83886.08 per MiB truncates to 83886 (1e-6 low) */
	CU_ASSERT_EQUAL(npm, 83886);
	CU_ASSERT(cost_exact(65536, npm));
	CU_ASSERT(cost_exact(1500, npm));
	CU_ASSERT_EQUAL(xr_bw_cost(65536, npm), 5242); /* exact 5242.88 ns */
	c = xr_bw_cost(1500, npm);
	CU_ASSERT_EQUAL(c, 119);                       /* exact 120, truncated */
	CU_ASSERT_EQUAL(xr_bw_cost(1, npm), 0);
}

static void test_cost_1kbit(void)
{
	__u64 npm = ns_per_mib(1000);

	CU_ASSERT_EQUAL(npm, 8388608000000ULL);
	CU_ASSERT(cost_exact(65536, npm));
	/* 64 KiB at 1 kbit/s: 524.288 s, exactly */
	CU_ASSERT_EQUAL(xr_bw_cost(65536, npm), 524288000000ULL);
	/* and the bucket arithmetic around such costs does not wrap */
	CU_ASSERT_EQUAL(xr_gcra_next(0, T0, 524288000000ULL, 0), T0 + 524288000000ULL);
	CU_ASSERT_EQUAL(xr_gcra_next(T0 + 524288000000ULL, T0 + 1, 524288000000ULL,
				     524288000000ULL), T0 + 2 * 524288000000ULL);
	CU_ASSERT_EQUAL(xr_gcra_next(T0 + 2 * 524288000000ULL, T0 + 1, 524288000000ULL,
				     524288000000ULL), 0);
}

int xr_register_gcra(void)
{
	CU_pSuite s = CU_add_suite("gcra", NULL, NULL);

	if (!s)
		return -1;
	if (!CU_add_test(s, "steady rate, no burst", test_steady_rate_no_burst) ||
	    !CU_add_test(s, "steady rate, offered at rate", test_steady_rate_at_rate) ||
	    !CU_add_test(s, "steady rate, with burst", test_steady_rate_with_burst) ||
	    !CU_add_test(s, "burst size then refuse", test_burst) ||
	    !CU_add_test(s, "packet larger than burst", test_big_packet) ||
	    !CU_add_test(s, "idle does not accumulate", test_idle_no_accumulation) ||
	    !CU_add_test(s, "cost 100 Mbit/s 1500 B", test_cost_100mbit) ||
	    !CU_add_test(s, "cost 100 Gbit/s", test_cost_100gbit) ||
	    !CU_add_test(s, "cost 1 kbit/s 64 KiB", test_cost_1kbit))
		return -1;
	return 0;
}
