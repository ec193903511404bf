// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Health states with hysteresis; see health.h. */
#include "health.h"

#include <stdio.h>
#include <string.h>

void xr_health_defaults(struct xr_health_params *p)
{
	p->window = XR_HEALTH_WINDOW;
	p->max_fail_ppm = XR_HEALTH_MAX_FAIL_PPM;
	p->down_after = XR_HEALTH_DOWN_AFTER;
	p->hold_down_ms = XR_HEALTH_HOLD_DOWN_MS;
}

void xr_health_init(struct xr_health *h, uint64_t now_ns)
{
	memset(h, 0, sizeof(*h));
	h->since_ns = now_ns;
	snprintf(h->reason, sizeof(h->reason), "not probed yet");
}

const char *xr_health_name(int state)
{
	switch (state) {
	case XR_H_HEALTHY: return "healthy";
	case XR_H_DEGRADED: return "degraded";
	case XR_H_DOWN: return "down";
	}
	return "unknown";
}

static int set_state(struct xr_health *h, int st, uint64_t now)
{
	int old = h->state;

	if (old == st)
		return -1;
	h->state = (uint8_t)st;
	h->since_ns = now;
	return old;
}

static uint32_t win_of(const struct xr_health_params *p)
{
	return p->window < 1 ? 1 : p->window > XR_HEALTH_WINDOW_MAX ? XR_HEALTH_WINDOW_MAX : p->window;
}

/* Entering degraded: count probes anew; a burst inside a hold-down keeps it. */
static void enter_degraded(struct xr_health *h, const struct xr_health_params *p, uint64_t now)
{
	h->n = 0;
	if (h->recovered_ns && now < h->recovered_ns + p->hold_down_ms * 1000000ull)
		h->hold_until_ns = h->recovered_ns + p->hold_down_ms * 1000000ull;
}

/* The ring holds the last `window` results in every state. */
static void record(struct xr_health *h, uint32_t w, bool ok)
{
	uint32_t i = h->pos % w;
	uint64_t bit = 1ull << (i % 64);

	if (h->ring[i / 64] & bit)
		h->win_fail--;                  /* the probe falling out of the window */
	if (ok)
		h->ring[i / 64] &= ~bit;
	else {
		h->ring[i / 64] |= bit;
		h->win_fail++;
	}
	h->pos = (i + 1) % w;
	if (h->n < UINT32_MAX)
		h->n++;
}

/* failure rate over the window at or above the threshold */
static bool too_many(const struct xr_health *h, const struct xr_health_params *p, uint32_t w)
{
	return (uint64_t)h->win_fail * 1000000ull >= (uint64_t)p->max_fail_ppm * w;
}

static void why_fail(struct xr_health *h, const char *why)
{
	snprintf(h->reason, sizeof(h->reason), "%s", why && *why ? why : "probe failed");
}

int xr_health_feed(struct xr_health *h, const struct xr_health_params *p, bool ok, const char *why,
		   uint64_t now)
{
	uint32_t w = win_of(p);
	uint32_t down_after = p->down_after ? p->down_after : 1;

	h->probes++;
	if (ok) {
		h->consec_fail = 0;
	} else {
		h->failures++;
		h->consec_fail++;
	}
	record(h, w, ok);
	if (!ok)
		why_fail(h, why);
	switch (h->state) {
	case XR_H_UNKNOWN:
		if (ok) {
			snprintf(h->reason, sizeof(h->reason), "probe succeeded");
			return set_state(h, XR_H_HEALTHY, now);
		}
		return set_state(h, XR_H_DOWN, now);
	case XR_H_HEALTHY:
		if (ok || !too_many(h, p, w))
			return -1;
		enter_degraded(h, p, now);
		return set_state(h, h->consec_fail >= down_after ? XR_H_DOWN : XR_H_DEGRADED, now);
	case XR_H_DOWN:
		if (!ok)
			return -1;
		enter_degraded(h, p, now);
		h->n = 1;
		snprintf(h->reason, sizeof(h->reason), "recovering: %u of %u probes", h->n, w);
		return set_state(h, XR_H_DEGRADED, now);
	case XR_H_DEGRADED:
		if (!ok)
			return h->consec_fail >= down_after ? set_state(h, XR_H_DOWN, now) : -1;
		if (h->n < w) {
			snprintf(h->reason, sizeof(h->reason), "recovering: %u of %u probes", h->n, w);
			return -1;
		}
		if (too_many(h, p, w)) {
			snprintf(h->reason, sizeof(h->reason), "%u of the last %u probes failed",
				 h->win_fail, w);
			return -1;
		}
		if (h->hold_until_ns && now < h->hold_until_ns) {
			snprintf(h->reason, sizeof(h->reason), "hold-down after a recovery: %llu s left",
				 (unsigned long long)((h->hold_until_ns - now + 999999999ull) / 1000000000ull));
			return -1;
		}
		h->hold_until_ns = 0;
		h->recovered_ns = now;
		snprintf(h->reason, sizeof(h->reason), "%u probes without failure", w);
		return set_state(h, XR_H_HEALTHY, now);
	}
	return -1;
}

int xr_health_set(struct xr_health *h, enum xr_health_state st, const char *why, uint64_t now)
{
	snprintf(h->reason, sizeof(h->reason), "%s", why ? why : "");
	if (st == XR_H_DEGRADED && h->state != XR_H_DEGRADED)
		h->n = 0;
	return set_state(h, st, now);
}
