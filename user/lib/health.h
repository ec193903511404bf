/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Health states with hysteresis, fed with probe results.  Pure: no I/O, no
 * clock of its own (callers pass CLOCK_MONOTONIC ns), no allocation.
 *
 *   unknown --ok--> healthy            unknown --fail--> down
 *   healthy --failure rate over the last `window` probes reaches
 *            `max_fail_ppm` (with the defaults: any failure)--> degraded
 *   degraded --`down_after` failures in a row--> down
 *   down --ok--> degraded
 *   degraded --> healthy  only when the last `window` probes (all taken in
 *            degraded) failed at a rate below `max_fail_ppm`, the latest one
 *            succeeded, and no hold-down is running
 *
 * Hold-down: a recovery (degraded -> healthy) at time T starts a hold-down
 * until T + hold_down.  A new failure burst inside it keeps the state out of
 * healthy until the hold-down has run out, however clean the probes are.
 * Defaults follow cloudflared: window 30, 0.1 %, hold-down 30 minutes.
 * Routing prefers healthy, then unknown and degraded; never down.
 */
#ifndef XR_HEALTH_H
#define XR_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

enum xr_health_state {
	XR_H_UNKNOWN = 0,
	XR_H_HEALTHY = 1,
	XR_H_DEGRADED = 2,
	XR_H_DOWN = 3,
};

#define XR_HEALTH_WINDOW_MAX     1024
#define XR_HEALTH_WINDOW         30
#define XR_HEALTH_MAX_FAIL_PPM   1000            /* 0.1 % */
#define XR_HEALTH_DOWN_AFTER     3
#define XR_HEALTH_HOLD_DOWN_MS   (30ull * 60 * 1000)
#define XR_HEALTH_REASON_LEN     96

struct xr_health_params {
	uint32_t window;          /* 1..XR_HEALTH_WINDOW_MAX */
	uint32_t max_fail_ppm;    /* failures per million probes, 0..1000000 */
	uint32_t down_after;      /* consecutive failures, >= 1 */
	uint64_t hold_down_ms;
};

struct xr_health {
	uint8_t state;                          /* enum xr_health_state */
	uint32_t consec_fail;
	uint32_t n;                             /* probes since entering degraded */
	uint32_t pos;                           /* ring position */
	uint32_t win_fail;                      /* failures among the last `window` probes */
	uint64_t ring[XR_HEALTH_WINDOW_MAX / 64]; /* 1 = failed */
	uint64_t since_ns;                      /* in this state since */
	uint64_t recovered_ns;                  /* last degraded -> healthy, 0 never */
	uint64_t hold_until_ns;                 /* no healthy before this, 0 none */
	uint64_t probes, failures;              /* totals */
	char reason[XR_HEALTH_REASON_LEN];      /* why it is in this state */
};

void xr_health_defaults(struct xr_health_params *p);
void xr_health_init(struct xr_health *h, uint64_t now_ns);
/* One probe result (`why` describes a failure; NULL/"" for ok).  Returns the
 * previous state when the state changed, -1 otherwise. */
int xr_health_feed(struct xr_health *h, const struct xr_health_params *p, bool ok, const char *why,
		   uint64_t now_ns);
/* Force a state (session gone, config removed a route); -1 or the old state. */
int xr_health_set(struct xr_health *h, enum xr_health_state st, const char *why, uint64_t now_ns);
const char *xr_health_name(int state);
/* Routing preference: lower is better; down is never routed to. */
static inline int xr_health_rank(int state)
{
	return state == XR_H_HEALTHY ? 0 : state == XR_H_UNKNOWN ? 1 : state == XR_H_DEGRADED ? 2 : 3;
}
/* The worse of two states (for a route: its session and its target). */
static inline int xr_health_worst(int a, int b)
{
	return xr_health_rank(a) >= xr_health_rank(b) ? a : b;
}

#endif
