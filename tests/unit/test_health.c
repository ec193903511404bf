// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Health states with hysteresis (user/lib/health.c), driven with simulated
 * time: the cloudflared-like defaults (window 30, 0.1 %, 3 failures to
 * down, 30-minute hold-down) and configured ones.
 */
#include <stdint.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "health.h"

#define S 1000000000ull
#define T0 (1000 * S)

static struct xr_health_params P;
static struct xr_health H;
static uint64_t now;

static void setup(void)
{
	xr_health_defaults(&P);
	now = T0;
	xr_health_init(&H, now);
}

/* n probes of one outcome, one per second; returns transitions seen */
static int feed(int n, int ok)
{
	int changes = 0;

	for (int i = 0; i < n; i++) {
		now += S;
		if (xr_health_feed(&H, &P, ok, ok ? NULL : "connect: refused", now) >= 0)
			changes++;
	}
	return changes;
}

static void test_defaults(void)
{
	setup();
	CU_ASSERT_EQUAL(P.window, 30);
	CU_ASSERT_EQUAL(P.max_fail_ppm, 1000);
	CU_ASSERT_EQUAL(P.down_after, 3);
	CU_ASSERT_EQUAL(P.hold_down_ms, 30ull * 60 * 1000);
	CU_ASSERT_EQUAL(H.state, XR_H_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(xr_health_name(XR_H_UNKNOWN), "unknown");
	CU_ASSERT_STRING_EQUAL(xr_health_name(XR_H_HEALTHY), "healthy");
	CU_ASSERT_STRING_EQUAL(xr_health_name(XR_H_DEGRADED), "degraded");
	CU_ASSERT_STRING_EQUAL(xr_health_name(XR_H_DOWN), "down");
}

static void test_first_probe(void)
{
	setup();
	CU_ASSERT_EQUAL(xr_health_feed(&H, &P, true, NULL, now += S), XR_H_UNKNOWN);
	CU_ASSERT_EQUAL(H.state, XR_H_HEALTHY);
	setup();
	CU_ASSERT_EQUAL(xr_health_feed(&H, &P, false, "refused", now += S), XR_H_UNKNOWN);
	CU_ASSERT_EQUAL(H.state, XR_H_DOWN);
	CU_ASSERT_STRING_EQUAL(H.reason, "refused");
}

/* one failure degrades; three in a row take it down */
static void test_burst_to_down(void)
{
	setup();
	feed(1, 1);
	CU_ASSERT_EQUAL(feed(1, 0), 1);
	CU_ASSERT_EQUAL(H.state, XR_H_DEGRADED);
	CU_ASSERT_STRING_EQUAL(H.reason, "connect: refused");
	feed(1, 0);
	CU_ASSERT_EQUAL(H.state, XR_H_DEGRADED);
	feed(1, 0);
	CU_ASSERT_EQUAL(H.state, XR_H_DOWN);
	CU_ASSERT_EQUAL(H.failures, 3);
	CU_ASSERT_EQUAL(H.probes, 4);
}

/* out of degraded only after 30 clean probes: 29 are not enough */
static void test_recovery_needs_window(void)
{
	setup();
	feed(1, 1);
	feed(3, 0);
	CU_ASSERT_EQUAL(H.state, XR_H_DOWN);
	CU_ASSERT_EQUAL(feed(1, 1), 1);
	CU_ASSERT_EQUAL(H.state, XR_H_DEGRADED);
	feed(28, 1);
	CU_ASSERT_EQUAL(H.state, XR_H_DEGRADED);     /* 29 ok probes */
	feed(1, 1);
	CU_ASSERT_EQUAL(H.state, XR_H_HEALTHY);      /* the 30th */
	CU_ASSERT_NOT_EQUAL(H.recovered_ns, 0);
}

/* a single failure inside the window restarts the wait: 1/30 >= 0.1 % */
static void test_flap_in_window(void)
{
	setup();
	feed(1, 1);
	feed(1, 0);                                  /* degraded */
	feed(20, 1);
	feed(1, 0);
	feed(25, 1);
	CU_ASSERT_EQUAL(H.state, XR_H_DEGRADED);     /* the failure is 25 probes back */
	feed(5, 1);
	CU_ASSERT_EQUAL(H.state, XR_H_HEALTHY);      /* now 30 clean */
}

/* a failure rate threshold that tolerates some failures */
static void test_rate_threshold(void)
{
	setup();
	P.window = 100;
	P.max_fail_ppm = 50000;                      /* 5 % */
	P.down_after = 10;
	feed(1, 1);
	feed(1, 0);                                  /* degraded */
	for (int i = 0; i < 4; i++) {                /* 3 % failures */
		feed(32, 1);
		feed(1, 0);
	}
	feed(5, 1);
	CU_ASSERT_EQUAL(H.state, XR_H_HEALTHY);
	for (int i = 0; i < 20; i++) {               /* and it stays healthy at 3 % */
		feed(32, 1);
		feed(1, 0);
		CU_ASSERT_EQUAL(H.state, XR_H_HEALTHY);
	}
	feed(3, 0);                                  /* 6 in the window: degraded */
	CU_ASSERT_EQUAL(H.state, XR_H_DEGRADED);
	setup();
	P.window = 100;
	P.max_fail_ppm = 50000;
	P.down_after = 10;
	feed(1, 1);
	feed(1, 0);
	for (int i = 0; i < 40; i++) {               /* 10 % failures */
		feed(8, 1);
		feed(1, 0);
		feed(1, 1);
	}
	CU_ASSERT_EQUAL(H.state, XR_H_DEGRADED);
}

/* after a recovery, a new burst inside the hold-down stays degraded until
 * the hold-down runs out; after it, recovery takes the window only */
static void test_hold_down(void)
{
	uint64_t recovered;

	setup();
	feed(1, 1);
	feed(3, 0);
	feed(30, 1);
	CU_ASSERT_EQUAL(H.state, XR_H_HEALTHY);
	recovered = H.recovered_ns;
	feed(3, 0);                                  /* new burst, 3 s later */
	CU_ASSERT_EQUAL(H.state, XR_H_DOWN);
	feed(100, 1);
	CU_ASSERT_EQUAL(H.state, XR_H_DEGRADED);
	CU_ASSERT_PTR_NOT_NULL(strstr(H.reason, "hold-down"));
	/* to just before the end of the hold-down, probing every 10 s */
	while (now + 10 * S < recovered + 30 * 60 * S) {
		now += 10 * S;
		xr_health_feed(&H, &P, true, NULL, now);
		CU_ASSERT_EQUAL_FATAL(H.state, XR_H_DEGRADED);
	}
	now = recovered + 30 * 60 * S;
	CU_ASSERT_EQUAL(xr_health_feed(&H, &P, true, NULL, now), XR_H_DEGRADED);
	CU_ASSERT_EQUAL(H.state, XR_H_HEALTHY);
	/* a burst long after the last recovery: no hold-down */
	now += 31 * 60 * S;
	feed(1, 0);
	CU_ASSERT_EQUAL(H.state, XR_H_DEGRADED);
	CU_ASSERT_EQUAL(H.hold_until_ns, 0);
	feed(30, 1);
	CU_ASSERT_EQUAL(H.state, XR_H_HEALTHY);
}

static void test_configured_hold_down(void)
{
	setup();
	P.window = 5;
	P.hold_down_ms = 20000;
	feed(1, 1);
	feed(1, 0);
	feed(5, 1);
	CU_ASSERT_EQUAL(H.state, XR_H_HEALTHY);      /* recovered at t */
	feed(1, 0);                                  /* t+1 s: burst */
	feed(5, 1);                                  /* window clean at t+6 s */
	CU_ASSERT_EQUAL(H.state, XR_H_DEGRADED);
	feed(13, 1);                                 /* t+19 s */
	CU_ASSERT_EQUAL(H.state, XR_H_DEGRADED);
	feed(1, 1);                                  /* t+20 s */
	CU_ASSERT_EQUAL(H.state, XR_H_HEALTHY);
}

static void test_set_and_rank(void)
{
	setup();
	feed(1, 1);
	CU_ASSERT_EQUAL(xr_health_set(&H, XR_H_DOWN, "session closed", now), XR_H_HEALTHY);
	CU_ASSERT_EQUAL(xr_health_set(&H, XR_H_DOWN, "again", now), -1);
	CU_ASSERT_STRING_EQUAL(H.reason, "again");
	CU_ASSERT(xr_health_rank(XR_H_HEALTHY) < xr_health_rank(XR_H_UNKNOWN));
	CU_ASSERT(xr_health_rank(XR_H_UNKNOWN) < xr_health_rank(XR_H_DEGRADED));
	CU_ASSERT(xr_health_rank(XR_H_DEGRADED) < xr_health_rank(XR_H_DOWN));
	CU_ASSERT_EQUAL(xr_health_worst(XR_H_HEALTHY, XR_H_DOWN), XR_H_DOWN);
	CU_ASSERT_EQUAL(xr_health_worst(XR_H_DEGRADED, XR_H_HEALTHY), XR_H_DEGRADED);
	CU_ASSERT_EQUAL(xr_health_worst(XR_H_UNKNOWN, XR_H_DEGRADED), XR_H_DEGRADED);
}

int xr_register_health(void)
{
	CU_pSuite s = CU_add_suite("health", NULL, NULL);

	if (!s)
		return -1;
	if (!CU_add_test(s, "defaults and names", test_defaults) ||
	    !CU_add_test(s, "first probe decides", test_first_probe) ||
	    !CU_add_test(s, "failure burst: degraded then down", test_burst_to_down) ||
	    !CU_add_test(s, "recovery needs a full clean window", test_recovery_needs_window) ||
	    !CU_add_test(s, "a failure in the window restarts the wait", test_flap_in_window) ||
	    !CU_add_test(s, "configured failure-rate threshold", test_rate_threshold) ||
	    !CU_add_test(s, "30-minute hold-down after a recovery", test_hold_down) ||
	    !CU_add_test(s, "configured hold-down", test_configured_hold_down) ||
	    !CU_add_test(s, "forced states and routing rank", test_set_and_rank))
		return -1;
	return 0;
}
