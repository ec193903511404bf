// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xrelay XDP program for the relay's NIC.  Reads like its table of contents:
 *
 *   parse (Ethernet, VLAN, IPv4/IPv6, UDP)
 *     -> not to a WireGuard listen port ........ XDP_PASS (untouched)
 *     -> WireGuard handshake (types 1-3) ........ rate limit per source, XDP_PASS to xrelayd
 *     -> transport data (type 4) ................ session by receiver index
 *           -> police (allow list, packets, bandwidth) per tenant
 *           -> rewrite + XDP_TX / XDP_REDIRECT
 *     -> anything else to the port .............. XDP_DROP
 *   count (one exit: global per-reason counter, per-tenant counter)
 *
 * Only packets positively classified as ours are ever dropped.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xrelay_abi.h"
#include "maps.h"
#include "parse.h"
#include "csum.h"
#include "police.h"
#include "wg_fwd.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline bool is_listen(struct xr_pkt *p)
{
	__u32 port = bpf_ntohs(p->udp->dest);
	__u8 *flags = bpf_map_lookup_elem(&xr_ports, &port);
	struct xr_listen_key k = {};

	if (!flags || !*flags)
		return false;
	if (*flags & (p->family == 4 ? XR_PORT_ANY4 : XR_PORT_ANY6))
		return true;
	if (!(*flags & XR_PORT_EXACT))
		return false;
	if (p->ip4)
		addr_from_v4(&k.addr, p->ip4->daddr);
	else if (p->ip6)
		__builtin_memcpy(&k.addr, &p->ip6->daddr, 16);
	k.port = p->udp->dest;
	k.family = p->family;
	return bpf_map_lookup_elem(&xr_listen, &k) != NULL;
}

/* Is this UDP payload a WireGuard message of a plausible size?  Returns the
 * type, or 0 for "not WireGuard". */
static __always_inline int wg_type(const __u8 *wg, void *data_end, __u32 plen)
{
	__u32 hdr;

	if ((void *)(wg + 4) > data_end)
		return 0;
	hdr = *(__u32 *)wg;             /* type (1 byte) + 3 reserved zero bytes */
	switch (bpf_ntohl(hdr)) {
	case XR_WG_TYPE_INITIATION << 24:
		return plen == XR_WG_INIT_LEN ? XR_WG_TYPE_INITIATION : 0;
	case XR_WG_TYPE_RESPONSE << 24:
		return plen == XR_WG_RESP_LEN ? XR_WG_TYPE_RESPONSE : 0;
	case XR_WG_TYPE_COOKIE << 24:
		return plen == XR_WG_COOKIE_LEN ? XR_WG_TYPE_COOKIE : 0;
	case XR_WG_TYPE_DATA << 24:
		/* no 16-byte alignment check: WireGuard pads the plaintext to
		 * 16 bytes *capped at the MTU*, so a full-size packet is not
		 * a multiple of 16 (1420-byte MTU: 1452-byte messages) */
		return plen >= XR_WG_DATA_MIN_LEN ? XR_WG_TYPE_DATA : 0;
	}
	return 0;
}

/* Remember the link-layer path of a peer's handshake (reverse path). */
static __always_inline void learn_nexthop(struct xdp_md *ctx, struct xr_pkt *p, __u64 now)
{
	struct xr_nexthop nh = { .ifindex = ctx->ingress_ifindex, .seen_ns = now };

	__builtin_memcpy(nh.mac, p->eth->h_source, 6);
	__builtin_memcpy(nh.our_mac, p->eth->h_dest, 6);
	bpf_map_update_elem(&xr_nexthop, &p->src, &nh, BPF_ANY);
}

/* Did this packet come from where the opposite peer completed the handshake? */
static __always_inline bool from_expected(const struct xr_pkt *p, const struct xr_session *s)
{
	const __u32 *a = (const __u32 *)s->src.addr.a, *b = (const __u32 *)p->src.a;

	return s->src.port == p->udp->source &&
	       a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* One per-CPU lookup per packet of a tenant: rx = arrived for one of its
 * sessions, then what became of it (forwarded, or which drop). */
static __always_inline void tenant_count(__u32 tid, int reason, __u64 bytes)
{
	struct xr_tenant_stats *ts;

	if (!tid)
		return;
	ts = bpf_map_lookup_elem(&xr_tstats, &tid);
	if (!ts)
		return;
	ts->rx_packets++;
	ts->rx_bytes += bytes;
	if (reason == XR_R_TX || reason == XR_R_REDIRECT) {
		ts->tx_packets++;
		ts->tx_bytes += bytes;
	} else if (reason >= XR_R_DROP_MALFORMED && reason < XR_R_MAX) {
		ts->drop[reason]++;
	}
}

static __always_inline int classify(struct xdp_md *ctx, __u32 *tid, int *action)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct hdr_cursor nh = { .pos = data };
	struct xr_pkt p = {};
	struct xr_session *s;
	struct xr_tenant *t;
	__u32 idx, l3hdr, ip_payload;
	__u64 now;
	int proto, ulen, type, reason;

	*action = XDP_PASS;
	proto = parse_ethhdr(&nh, data_end, &p.eth);
	if (proto == ETH_P_IP) {
		__u16 frag;

		if (parse_iphdr(&nh, data_end, &p.ip4) < 0)
			return XR_R_PASS_NOT_IP;  /* malformed: not ours to judge */
		if (p.ip4->protocol != IPPROTO_UDP_)
			return XR_R_PASS_NOT_OURS;
		frag = bpf_ntohs(p.ip4->frag_off);
		if (frag & (IP_MF | IP_OFFSET))
			return XR_R_PASS_FRAGMENT;
		p.family = 4;
		l3hdr = p.ip4->ihl * 4;
		p.l3len = bpf_ntohs(p.ip4->tot_len);
		if (p.l3len < l3hdr)
			return XR_R_PASS_NOT_OURS;
		ip_payload = p.l3len - l3hdr;
	} else if (proto == ETH_P_IPV6 && XR_IPV6) {
		if (parse_ip6hdr(&nh, data_end, &p.ip6) < 0)
			return XR_R_PASS_NOT_IP;
		if (p.ip6->nexthdr == 44 /* fragment header */)
			return XR_R_PASS_FRAGMENT;
		if (p.ip6->nexthdr != IPPROTO_UDP_)
			return XR_R_PASS_NOT_OURS;
		p.family = 6;
		l3hdr = sizeof(struct ipv6hdr);
		ip_payload = bpf_ntohs(p.ip6->payload_len);
		p.l3len = ip_payload + l3hdr;
	} else {
		return XR_R_PASS_NOT_IP;
	}

	ulen = parse_udphdr(&nh, data_end, &p.udp);
	if (ulen < 0)
		return XR_R_PASS_NOT_OURS;  /* truncated before we know the port */
	if (!is_listen(&p))
		return XR_R_PASS_NOT_OURS;

	/* From here on the packet is addressed to our WireGuard port: only now
	 * is its source worth a copy (other UDP traffic leaves untouched). */
	if (p.ip4)
		addr_from_v4(&p.src, p.ip4->saddr);
	else if (p.ip6)
		__builtin_memcpy(&p.src, &p.ip6->saddr, 16);
	if (ulen < 8 || (__u32)ulen != ip_payload)
		return XR_R_DROP_MALFORMED;
	p.plen = ulen - 8;
	p.wg = nh.pos;
	if ((void *)p.wg + p.plen > data_end)
		return XR_R_DROP_MALFORMED;  /* truncated frame */

	type = wg_type(p.wg, data_end, p.plen);
	if (!type)
		return XR_R_DROP_WG_BAD_TYPE;
	if (type != XR_WG_TYPE_DATA) {
		now = bpf_ktime_get_ns();
		if (!hs_admit(&p.src, now))
			return XR_R_DROP_HS_RATELIMIT;
		learn_nexthop(ctx, &p, now);
		return XR_R_PASS_HANDSHAKE;
	}

	if ((void *)(p.wg + 8) > data_end)
		return XR_R_DROP_MALFORMED;
	idx = *(__u32 *)(p.wg + 4);   /* the wire's little-endian bytes, as the key */
	s = bpf_map_lookup_elem(&xr_sessions, &idx);
	if (!s)
		return XR_R_DROP_UNKNOWN_INDEX;

	if (!(s->flags & XR_SESS_F_CONFIRMED) && from_expected(&p, s))
		__sync_fetch_and_or(&s->flags, XR_SESS_F_CONFIRMED);
	*tid = s->tenant_id;
	t = bpf_map_lookup_elem(&xr_tenants, tid);
	if (!t || !(t->flags & XR_TENANT_F_ACTIVE))
		return XR_R_DROP_NOT_ALLOWED;
	reason = police_tenant(*tid, t, &p.src, p.l3len);
	if (reason)
		return reason;
	/* last_ns and the next-hop cache only need ticks: the coarse clock
	 * costs about a third of the precise one here (about 40 ns) */
	now = bpf_ktime_get_coarse_ns();

	reason = wg_forward(ctx, &p, s, action, now);
	if (reason == XR_R_TX || reason == XR_R_REDIRECT) {
		__sync_fetch_and_add(&s->packets, 1);
		__sync_fetch_and_add(&s->bytes, p.l3len);
		s->last_ns = now;
	}
	return reason;
}

SEC("xdp")
int xrelay_xdp(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u64 len = data_end - data;
	struct xr_counter *c;
	__u32 tid = 0;
	int action = XDP_PASS;
	int reason = classify(ctx, &tid, &action);

	if (reason >= XR_R_DROP_MALFORMED)
		action = reason == XR_R_DROP_ABORTED ? XDP_ABORTED : XDP_DROP;
	else if (reason < XR_R_TX)
		action = XDP_PASS;

	c = bpf_map_lookup_elem(&xr_stats, &reason);
	if (c) {
		c->packets++;
		c->bytes += len;
	}
	tenant_count(tid, reason, len);
	if (XR_DEBUG_COUNTERS && reason >= XR_R_DROP_MALFORMED)  /* Kconfig XR_DEBUG_COUNTERS */
		bpf_printk("xrelay: drop reason=%d tenant=%u len=%llu", reason, tid, len);
	return action;
}
