/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Incremental Internet checksum updates (RFC 1624: HC' = ~(~HC + ~m + m')),
 * on 16-bit words in network byte order.  A UDP checksum that becomes 0 is
 * sent as 0xffff (RFC 768); an IPv4 UDP checksum of 0 means "none" and is
 * left alone by the caller. */
#ifndef XR_BPF_CSUM_H
#define XR_BPF_CSUM_H

#include "vmlinux.h"

static __always_inline __u32 csum_add32(__u32 sum, __u32 word32)
{
	/* add both 16-bit halves; carries are folded later */
	return sum + (word32 >> 16) + (word32 & 0xffff);
}

static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* Replace `n` 32-bit words `from` by `to` under checksum `*check`. */
static __always_inline void csum_replace_words(__sum16 *check, const __u32 *from,
					       const __u32 *to, int n)
{
	__u32 sum = (__u16)~(*check);

	/* n is a constant at every (always-inlined) call site, so this unrolls */
#pragma unroll
	for (int i = 0; i < n; i++) {
		sum = csum_add32(sum, ~from[i]);
		sum = csum_add32(sum, to[i]);
	}
	*check = ~csum_fold32(sum);
}

/* Replace one 16-bit word. */
static __always_inline void csum_replace2(__sum16 *check, __u16 from, __u16 to)
{
	__u32 sum = (__u16)~(*check);

	sum += (__u16)~from;
	sum += to;
	*check = ~csum_fold32(sum);
}

#endif
