/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Packet parsing with a cursor (after xdp-tools): each parse_* checks its
 * header against data_end once, advances the cursor and returns the next
 * protocol, or -1 when the header is truncated or inconsistent. */
#ifndef XR_BPF_PARSE_H
#define XR_BPF_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>

#define ETH_P_IP      0x0800
#define ETH_P_IPV6    0x86DD
#define ETH_P_8021Q   0x8100
#define ETH_P_8021AD  0x88A8
#define IPPROTO_UDP_  17
#define IP_MF         0x2000
#define IP_OFFSET     0x1FFF
#define XR_VLAN_MAX   2      /* 802.1Q, or 802.1ad + 802.1Q (QinQ) */

struct hdr_cursor {
	void *pos;
};

struct xr_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* Returns the EtherType after up to two VLAN tags (host order), or -1. */
static __always_inline int parse_ethhdr(struct hdr_cursor *nh, void *data_end,
					struct ethhdr **eth)
{
	struct ethhdr *e = nh->pos;
	__u16 proto;

	if ((void *)(e + 1) > data_end)
		return -1;
	nh->pos = e + 1;
	*eth = e;
	proto = bpf_ntohs(e->h_proto);

#pragma unroll
	for (int i = 0; i < XR_VLAN_MAX; i++) {
		struct xr_vlan_hdr *v = nh->pos;

		if (proto != ETH_P_8021Q && proto != ETH_P_8021AD)
			break;
		if ((void *)(v + 1) > data_end)
			return -1;
		proto = bpf_ntohs(v->proto);
		nh->pos = v + 1;
	}
	return proto;
}

/* IPv4 with options: the header length comes from ihl, checked in bytes. */
static __always_inline int parse_iphdr(struct hdr_cursor *nh, void *data_end,
				       struct iphdr **iph)
{
	struct iphdr *ip = nh->pos;
	int hlen;

	if ((void *)(ip + 1) > data_end)
		return -1;
	if (ip->version != 4 || ip->ihl < 5)
		return -1;
	hlen = ip->ihl * 4;
	if (nh->pos + hlen > data_end)
		return -1;
	nh->pos += hlen;
	*iph = ip;
	return ip->protocol;
}

/* IPv6: extension headers are not walked; a relay only accepts UDP right
 * after the fixed header (WireGuard never sends extension headers). */
static __always_inline int parse_ip6hdr(struct hdr_cursor *nh, void *data_end,
					struct ipv6hdr **ip6h)
{
	struct ipv6hdr *ip6 = nh->pos;

	if ((void *)(ip6 + 1) > data_end)
		return -1;
	if (ip6->version != 6)
		return -1;
	nh->pos = ip6 + 1;
	*ip6h = ip6;
	return ip6->nexthdr;
}

static __always_inline int parse_udphdr(struct hdr_cursor *nh, void *data_end,
					struct udphdr **udph)
{
	struct udphdr *u = nh->pos;

	if ((void *)(u + 1) > data_end)
		return -1;
	nh->pos = u + 1;
	*udph = u;
	return bpf_ntohs(u->len);
}

#endif
