/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* WireGuard transport-data forwarding: the relay swaps itself into the
 * source (the address and port the packet was sent to) and the session's
 * endpoint into the destination, patches both checksums incrementally and
 * sends the frame back out with the next hop's MAC from the FIB. */
#ifndef XR_BPF_WG_FWD_H
#define XR_BPF_WG_FWD_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "xrelay_abi.h"
#include "maps.h"
#include "csum.h"

#define AF_INET_  2
#define AF_INET6_ 10

struct xr_pkt {
	struct ethhdr *eth;
	struct iphdr *ip4;
	struct ipv6hdr *ip6;
	struct udphdr *udp;
	__u8 *wg;             /* WireGuard message (UDP payload) */
	__u32 l3len;          /* IP packet length from the IP header */
	__u32 plen;           /* UDP payload length from the UDP header */
	__u8 family;          /* 4 or 6 */
	/* aligned: read as u32 words ("misaligned stack access") */
	struct xr_addr src __attribute__((aligned(8)));   /* IPv4-mapped for IPv4 */
};

static __always_inline void addr_from_v4(struct xr_addr *a, __be32 v4)
{
	__builtin_memset(a, 0, sizeof(*a));
	a->a[10] = 0xff;
	a->a[11] = 0xff;
	__builtin_memcpy(&a->a[12], &v4, 4);
}

/* Resolve the next hop of session s into nh: the session's cache when it is
 * fresh and was checked for a packet this large, else the FIB, else (the
 * FIB refuses with FWD_DISABLED unless forwarding is on for the NIC) the
 * reverse path the peer's handshakes came through.  Returns 0 or a reason. */
static __always_inline int resolve_nexthop(struct xdp_md *ctx, struct xr_pkt *p,
					   struct xr_session *s, struct xr_nh_cache *nh, __u64 now)
{
	struct bpf_fib_lookup fib = {};
	int rc;

	if (s->nh.ns && now - s->nh.ns < XR_NH_CACHE_NS && p->l3len <= s->nh.ok_len) {
		*nh = s->nh;
		return 0;
	}
	fib.ifindex = ctx->ingress_ifindex;
	fib.l4_protocol = IPPROTO_UDP_;
	fib.sport = p->udp->dest;
	fib.dport = s->dst.port;
	fib.tot_len = p->l3len;
	/* Branch on the header pointers, not on p->family: the verifier does not
	 * correlate the two ("R4 invalid mem access 'scalar'" otherwise). */
	if (p->ip4) {
		fib.family = AF_INET_;
		fib.tos = p->ip4->tos;
		fib.ipv4_src = p->ip4->daddr;
		__builtin_memcpy(&fib.ipv4_dst, &s->dst.addr.a[12], 4);
	} else if (p->ip6) {
		fib.family = AF_INET6_;
		__builtin_memcpy(fib.ipv6_src, &p->ip6->daddr, 16);
		__builtin_memcpy(fib.ipv6_dst, s->dst.addr.a, 16);
	} else {
		return XR_R_DROP_ABORTED;
	}
	/* An ingress-style lookup: BPF_FIB_LOOKUP_OUTPUT would pin the route to
	 * the ingress NIC and miss endpoints behind another one. */
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	switch (rc) {
	case BPF_FIB_LKUP_RET_SUCCESS:
		__builtin_memcpy(nh->dmac, fib.dmac, 6);
		__builtin_memcpy(nh->smac, fib.smac, 6);
		nh->ifindex = fib.ifindex;
		break;
	case BPF_FIB_LKUP_RET_FWD_DISABLED: {
		struct xr_nexthop *rp = bpf_map_lookup_elem(&xr_nexthop, &s->dst.addr);

		if (!rp)
			return XR_R_PASS_SLOWPATH;
		__builtin_memcpy(nh->dmac, rp->mac, 6);
		__builtin_memcpy(nh->smac, rp->our_mac, 6);
		nh->ifindex = rp->ifindex;
		break;
	}
	case BPF_FIB_LKUP_RET_NO_NEIGH:    /* xrelayd's sendmsg() resolves it */
	case BPF_FIB_LKUP_RET_FRAG_NEEDED: /* the stack fragments */
		return XR_R_PASS_SLOWPATH;
	default:
		return XR_R_DROP_NO_ROUTE;
	}
	nh->ok_len = p->l3len > s->nh.ok_len || now - s->nh.ns >= XR_NH_CACHE_NS ?
		     p->l3len : s->nh.ok_len;
	nh->pad = 0;
	nh->ns = now;
	s->nh = *nh;   /* racing CPUs write the same values */
	return 0;
}

/* Forward to the session's endpoint: route first, rewrite only when the
 * packet will really leave from here (a packet handed to the stack must
 * still be the original one). */
static __always_inline int wg_forward(struct xdp_md *ctx, struct xr_pkt *p,
				      struct xr_session *s, int *action, __u64 now)
{
	struct xr_nh_cache nh;
	__u32 from[9], to[9];
	__be16 new_sport;
	bool redirect = false;
	int rc;

	if (p->ip4) {
		if (s->dst.family != XR_AF_INET)
			return XR_R_PASS_SLOWPATH;
		if (p->ip4->ttl <= 1)
			return XR_R_DROP_TTL;
	} else if (p->ip6) {
		if (s->dst.family != XR_AF_INET6)
			return XR_R_PASS_SLOWPATH;
		if (p->ip6->hop_limit <= 1)
			return XR_R_DROP_TTL;
	} else {
		return XR_R_DROP_ABORTED;
	}
	rc = resolve_nexthop(ctx, p, s, &nh, now);
	if (rc)
		return rc;
	if (nh.ifindex != ctx->ingress_ifindex) {
		if (!bpf_map_lookup_elem(&xr_txports, &nh.ifindex))
			return XR_R_PASS_SLOWPATH;
		redirect = true;
	}

	/* ports: 4 bytes at the start of the UDP header */
	new_sport = p->udp->dest;
	__builtin_memcpy(&from[0], p->udp, 4);
	if (p->ip4) {
		struct iphdr *ip = p->ip4;
		__u16 old_ttl = *(__u16 *)&ip->ttl, new_ttl;

		from[1] = ip->saddr;
		from[2] = ip->daddr;
		to[1] = ip->daddr;
		/* the endpoint, never the FIB's answer (that is the gateway) */
		__builtin_memcpy(&to[2], &s->dst.addr.a[12], 4);
		ip->saddr = to[1];
		ip->daddr = to[2];
		ip->ttl--;
		new_ttl = *(__u16 *)&ip->ttl;
		csum_replace_words(&ip->check, &from[1], &to[1], 2);
		csum_replace2(&ip->check, old_ttl, new_ttl);
	} else if (p->ip6) {
		struct ipv6hdr *ip6 = p->ip6;

		__builtin_memcpy(&from[1], &ip6->saddr, 16);
		__builtin_memcpy(&from[5], &ip6->daddr, 16);
		__builtin_memcpy(&to[1], &ip6->daddr, 16);
		__builtin_memcpy(&to[5], s->dst.addr.a, 16);
		__builtin_memcpy(&ip6->saddr, &to[1], 16);
		__builtin_memcpy(&ip6->daddr, &to[5], 16);
		ip6->hop_limit--;
	}
	p->udp->source = new_sport;
	p->udp->dest = s->dst.port;
	__builtin_memcpy(&to[0], p->udp, 4);
	if (p->udp->check || p->family == 6) {
		if (p->family == 4)
			csum_replace_words(&p->udp->check, from, to, 3);
		else
			csum_replace_words(&p->udp->check, from, to, 9);
		if (!p->udp->check)
			p->udp->check = 0xffff;
	}
	__builtin_memcpy(p->eth->h_dest, nh.dmac, 6);
	__builtin_memcpy(p->eth->h_source, nh.smac, 6);

	if (redirect) {
		*action = bpf_redirect_map(&xr_txports, nh.ifindex, 0);
		return *action == XDP_REDIRECT ? XR_R_REDIRECT : XR_R_DROP_ABORTED;
	}
	*action = XDP_TX;
	return XR_R_TX;
}

#endif
