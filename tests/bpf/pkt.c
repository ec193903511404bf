// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Frame builder and from-scratch checksums.  Deliberately shares nothing
 * with bpf/: the expected output of a forward is built here field by field
 * with full checksums, so an incremental-update mistake in bpf/csum.h shows
 * up as a byte difference, not as the same mistake on both sides.
 */
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "xt.h"

#define ETH_HLEN 14

void xt_addr(int family, const char *s, __u8 *out)
{
	memset(out, 0, family == 4 ? 4 : 16);
	if (inet_pton(family == 4 ? AF_INET : AF_INET6, s, out) != 1)
		fprintf(stderr, "bpf_tests: bad address %s\n", s);
}

void xt_pkt_udp(struct xt_pkt *p, int family, const char *src, __u16 sport,
		const char *dst, __u16 dport)
{
	memset(p, 0, sizeof(*p));
	memcpy(p->dmac, XT_MAC_IF0, 6);
	memcpy(p->smac, XT_MAC_CLIENT, 6);
	p->family = family;
	xt_addr(family, src, p->src);
	xt_addr(family, dst, p->dst);
	p->ttl = 64;
	p->tos = 0x10;
	p->id = 0x1234;
	p->proto = 17;
	p->sport = sport;
	p->dport = dport;
}

void xt_pkt_wg(struct xt_pkt *p, int family)
{
	if (family == 4)
		xt_pkt_udp(p, 4, XT_CLIENT4, 40000, XT_RELAY4, XT_WG_PORT);
	else
		xt_pkt_udp(p, 6, XT_CLIENT6, 40000, XT_RELAY6, XT_WG_PORT);
}

static void put16(__u8 *b, __u16 v)
{
	b[0] = v >> 8;
	b[1] = v;
}

static __u32 sum16(const __u8 *b, size_t n, __u32 s)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		s += (b[i] << 8) | b[i + 1];
	if (n & 1)
		s += b[n - 1] << 8;
	return s;
}

static __u16 fold(__u32 s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

/* One's-complement sum of the pseudo-header + UDP datagram (host order). */
static __u16 udp_sum(int family, const __u8 *src, const __u8 *dst, const __u8 *udp, size_t ulen)
{
	__u32 s = 0;
	int alen = family == 4 ? 4 : 16;

	s = sum16(src, alen, s);
	s = sum16(dst, alen, s);
	s += 17;
	s += ulen & 0xffff;
	s += ulen >> 16;
	return fold(sum16(udp, ulen, s));
}

size_t xt_build(const struct xt_pkt *p, __u8 *f)
{
	size_t off = 0, l3, l4, l4len, len;
	int hl;

	memset(f, 0, XT_FRAME_MAX);
	memcpy(f, p->dmac, 6);
	memcpy(f + 6, p->smac, 6);
	off = 12;
	for (int i = 0; i < p->nvlan; i++, off += 4) {
		put16(f + off, p->tpid[i]);
		put16(f + off + 2, p->tci[i]);
	}
	put16(f + off, p->ethertype ? p->ethertype : p->family == 4 ? 0x0800 :
		       p->family == 6 ? 0x86dd : 0);
	off += 2;
	l3 = off;
	if (!p->family) {
		memcpy(f + off, p->payload, p->plen);
		len = off + p->plen;
		return p->truncate ? p->truncate : len;
	}

	l4len = p->proto == 17 ? 8 + p->plen : p->plen;
	if (p->family == 4) {
		hl = 20 + p->optlen;
		f[l3] = ((p->version_override ? p->version_override : 4) << 4) |
			(p->ihl_override ? p->ihl_override : hl / 4);
		f[l3 + 1] = p->tos;
		put16(f + l3 + 2, hl + l4len + p->ip_len_adj);
		put16(f + l3 + 4, p->id);
		put16(f + l3 + 6, p->frag);
		f[l3 + 8] = p->ttl;
		f[l3 + 9] = p->proto;
		memcpy(f + l3 + 12, p->src, 4);
		memcpy(f + l3 + 16, p->dst, 4);
		memcpy(f + l3 + 20, p->opts, p->optlen);
		put16(f + l3 + 10, ~fold(sum16(f + l3, hl, 0)));
	} else {
		hl = 40 + (p->v6_frag ? 8 : 0);
		f[l3] = (p->version_override ? p->version_override : 6) << 4 | p->tos >> 4;
		f[l3 + 1] = (p->tos << 4) | 0x0a;          /* flow label 0xabcde */
		f[l3 + 2] = 0xbc;
		f[l3 + 3] = 0xde;
		put16(f + l3 + 4, hl - 40 + l4len + p->ip_len_adj);
		f[l3 + 6] = p->v6_frag ? 44 : p->proto;
		f[l3 + 7] = p->ttl;
		memcpy(f + l3 + 8, p->src, 16);
		memcpy(f + l3 + 24, p->dst, 16);
		if (p->v6_frag) {
			f[l3 + 40] = p->proto;
			put16(f + l3 + 42, p->frag);
			memcpy(f + l3 + 44, "\x00\x01\x02\x03", 4);
		}
	}
	l4 = l3 + hl;
	if (p->proto == 17) {
		put16(f + l4, p->sport);
		put16(f + l4 + 2, p->dport);
		put16(f + l4 + 4, l4len + p->udp_len_adj);
		memcpy(f + l4 + 8, p->payload, p->plen);
		if (p->family == 6 || !p->no_udp_csum) {
			__u16 c = ~udp_sum(p->family, p->src, p->dst, f + l4, l4len);

			put16(f + l4 + 6, c ? c : 0xffff);
		}
	} else {
		memcpy(f + l4, p->payload, p->plen);
	}
	len = l4 + l4len;
	memset(f + len, 0xee, p->trailer);
	len += p->trailer;
	return p->truncate ? p->truncate : len;
}

size_t xt_wg_data(__u8 *pl, __u32 idx, size_t len)
{
	memset(pl, 0, 16);
	pl[0] = XR_WG_TYPE_DATA;
	pl[4] = idx;
	pl[5] = idx >> 8;
	pl[6] = idx >> 16;
	pl[7] = idx >> 24;
	for (int i = 0; i < 8; i++)         /* counter, little endian */
		pl[8 + i] = i == 0 ? 0x2a : 0;
	for (size_t i = 16; i < len; i++)   /* "ciphertext" */
		pl[i] = (__u8)(i * 37 + 11);
	return len;
}

size_t xt_wg_hs(__u8 *pl, int type, size_t len)
{
	memset(pl, 0, len);
	pl[0] = type;
	memcpy(pl + 4, "\x01\x02\x03\x04", 4);  /* sender index */
	for (size_t i = 8; i < len; i++)
		pl[i] = (__u8)(i * 13 + type);
	return len;
}

int xt_l3_offset(const __u8 *f, size_t len)
{
	size_t off = 12;
	__u16 et;

	for (int i = 0; i < 4; i++) {
		if (off + 2 > len)
			return -1;
		et = f[off] << 8 | f[off + 1];
		if (et != 0x8100 && et != 0x88a8)
			break;
		off += 4;
	}
	if (off + 2 > len)
		return -1;
	et = f[off] << 8 | f[off + 1];
	return et == 0x0800 || et == 0x86dd ? (int)off + 2 : -1;
}

__u32 xt_l3len(const __u8 *f, size_t len)
{
	int l3 = xt_l3_offset(f, len);

	if (l3 < 0 || (size_t)l3 + 6 > len)
		return 0;
	if (f[l3] >> 4 == 4)
		return f[l3 + 2] << 8 | f[l3 + 3];
	return (f[l3 + 4] << 8 | f[l3 + 5]) + 40;
}

const char *xt_csum_problem(const __u8 *f, size_t len)
{
	int l3 = xt_l3_offset(f, len);
	size_t hl, ulen;
	const __u8 *udp;
	int family;

	if (l3 < 0)
		return "not an IP frame";
	family = f[l3] >> 4;
	if (family == 4) {
		hl = (f[l3] & 15) * 4;
		if (l3 + hl > len)
			return "IPv4 header truncated";
		if (fold(sum16(f + l3, hl, 0)) != 0xffff)
			return "IPv4 header checksum wrong";
		if (f[l3 + 9] != 17)
			return "not UDP";
		udp = f + l3 + hl;
	} else if (family == 6) {
		hl = 40;
		if (f[l3 + 6] != 17)
			return "not UDP";
		udp = f + l3 + hl;
	} else {
		return "bad IP version";
	}
	if ((size_t)(udp - f) + 8 > len)
		return "UDP header truncated";
	ulen = udp[4] << 8 | udp[5];
	if ((size_t)(udp - f) + ulen > len)
		return "UDP length beyond the frame";
	if (family == 4 && !udp[6] && !udp[7])
		return NULL;                      /* no checksum */
	if (!udp[6] && !udp[7])
		return "IPv6 UDP checksum is 0";
	if (udp_sum(family, f + l3 + (family == 4 ? 12 : 8), f + l3 + (family == 4 ? 16 : 24),
		    udp, ulen) != 0xffff)
		return "UDP checksum wrong";
	return NULL;
}

void xt_hexdump(const char *tag, const __u8 *b, size_t len)
{
	fprintf(stderr, "    %s (%zu bytes):", tag, len);
	for (size_t i = 0; i < len; i++)
		fprintf(stderr, "%s%02x", i % 16 ? " " : "\n      ", b[i]);
	fprintf(stderr, "\n");
}
