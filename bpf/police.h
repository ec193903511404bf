/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Policing: per-tenant GCRA buckets (bandwidth, packets), the per-tenant
 * source allow list, and the per-source handshake limiter.  The arithmetic
 * is xr_gcra_next() from the ABI header, unit-tested in userspace. */
#ifndef XR_BPF_POLICE_H
#define XR_BPF_POLICE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "xrelay_abi.h"
#include "maps.h"

#define XR_NSEC_PER_SEC 1000000000ULL

/* A tenant's bucket is shared by every CPU: update its TAT with cmpxchg.
 * Two CPUs racing retry; after a few lost races we admit, because a lost
 * race means the other CPU just moved TAT forward for us -- the error is
 * bounded by one packet per retry. */
static __always_inline bool gcra_admit(__u64 *tat, __u64 now, __u64 cost, __u64 burst)
{
#pragma unroll
	for (int i = 0; i < 4; i++) {
		__u64 old = *(volatile __u64 *)tat;
		__u64 next = xr_gcra_next(old, now, cost, burst);

		if (!next)
			return false;
		if (__sync_val_compare_and_swap(tat, old, next) == old)
			return true;
	}
	return true;
}

/* Returns 0 to admit, or the drop reason. */
static __always_inline int police_tenant(__u32 tid, const struct xr_tenant *t,
					 const struct xr_addr *src, __u32 l3len)
{
	struct xr_police *p;
	__u64 now;

	if (t->flags & XR_TENANT_F_ALLOWLIST) {
		struct xr_allow_key k = {
			.prefixlen = 32 + 128,
			.tenant_id = bpf_htonl(tid),
			.addr = *src,
		};

		if (!bpf_map_lookup_elem(&xr_allow, &k))
			return XR_R_DROP_NOT_ALLOWED;
	}
	if (!t->pkt_ns_per_packet && !t->bw_ns_per_mib)
		return 0;
	p = bpf_map_lookup_elem(&xr_police, &tid);
	if (!p)
		return 0;
	now = bpf_ktime_get_ns();   /* buckets need the precise clock */
	if (t->pkt_ns_per_packet &&
	    !gcra_admit(&p->pkt.tat, now, t->pkt_ns_per_packet, t->pkt_burst_ns))
		return XR_R_DROP_OVER_PACKETS;
	if (t->bw_ns_per_mib &&
	    !gcra_admit(&p->bw.tat, now, xr_bw_cost(l3len, t->bw_ns_per_mib), t->bw_burst_ns))
		return XR_R_DROP_OVER_BANDWIDTH;
	return 0;
}

/* Handshake messages (types 1-3) per source address, before userspace. */
static __always_inline bool hs_admit(const struct xr_addr *src, __u64 now)
{
	const __u64 cost = XR_NSEC_PER_SEC / XR_HS_RATE_PPS;
	const __u64 burst = cost * XR_HS_BURST;
	struct xr_gcra *g, init;

	g = bpf_map_lookup_elem(&xr_hsrate, src);
	if (!g) {
		init.tat = now + cost;
		bpf_map_update_elem(&xr_hsrate, src, &init, BPF_NOEXIST);
		return true;
	}
	return gcra_admit(&g->tat, now, cost, burst);
}

#endif
