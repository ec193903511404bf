/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * PROXY protocol version 2 header builder (haproxy's proxy-protocol.txt,
 * section 2.2).  Pure code: no I/O, no globals, no allocation.
 *
 * The header is the 12-byte signature "\r\n\r\n\0\r\nQUIT\n", 0x21 (version
 * 2, command PROXY), the family/transport byte (0x11 TCP over IPv4, 0x21
 * TCP over IPv6), the address block length (u16 big-endian: 12 or 36), then
 * source address, destination address, source port, destination port, all
 * in network order.  No TLVs.  Total: 28 bytes (IPv4) or 52 bytes (IPv6).
 *
 * Families: both IPv4 -> IPv4; both IPv6 -> IPv6; one of each -> IPv6 with
 * the IPv4 one mapped (::ffff:a.b.c.d).  A server that is absent (NULL or
 * family 0) becomes the unspecified address and port 0 of the client's
 * family: 0.0.0.0:0 or [::]:0.
 */
#ifndef XR_PROXYV2_H
#define XR_PROXYV2_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define XR_PROXY_V2_SIG      "\r\n\r\n\0\r\nQUIT\n"   /* 12 bytes */
#define XR_PROXY_V2_SIG_LEN  12
#define XR_PROXY_V2_LEN4     28
#define XR_PROXY_V2_LEN6     52
#define XR_PROXY_V2_MAX      XR_PROXY_V2_LEN6

/* Write the header for a TCP connection from client to server into out.
 * Returns its length (28 or 52), or -1 when client is NULL or not family
 * 4/6, server's family is not 0/4/6, or cap is too small. */
int xr_proxy_v2(uint8_t *out, size_t cap, const struct xr_proto_ep *client,
		const struct xr_proto_ep *server);

#endif /* XR_PROXYV2_H */
