// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* PROXY protocol v2 header builder; see proxyv2.h. */
#include "proxyv2.h"

#include <string.h>

/* ep's address as 16 bytes: IPv6 as is, IPv4 mapped, absent as ::. */
static void addr16(uint8_t a[16], const struct xr_proto_ep *ep)
{
	memset(a, 0, 16);
	if (!ep)
		return;
	if (ep->family == 6) {
		memcpy(a, ep->addr, 16);
	} else if (ep->family == 4) {
		a[10] = 0xff;
		a[11] = 0xff;
		memcpy(a + 12, ep->addr, 4);
	}
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return p + 2;
}

int xr_proxy_v2(uint8_t *out, size_t cap, const struct xr_proto_ep *client,
		const struct xr_proto_ep *server)
{
	uint8_t *p = out;
	int v6;
	size_t len;

	if (!client || (client->family != 4 && client->family != 6))
		return -1;
	if (server && server->family == 0)
		server = NULL;
	if (server && server->family != 4 && server->family != 6)
		return -1;
	v6 = client->family == 6 || (server && server->family == 6);
	len = v6 ? XR_PROXY_V2_LEN6 : XR_PROXY_V2_LEN4;
	if (!out || cap < len)
		return -1;

	memcpy(p, XR_PROXY_V2_SIG, XR_PROXY_V2_SIG_LEN);
	p += XR_PROXY_V2_SIG_LEN;
	*p++ = 0x21;                    /* version 2, PROXY */
	*p++ = v6 ? 0x21 : 0x11;        /* AF_INET6 / AF_INET, STREAM */
	p = put16(p, (uint16_t)(len - 16));
	if (v6) {
		addr16(p, client);
		addr16(p + 16, server);
		p += 32;
	} else {
		memcpy(p, client->addr, 4);
		if (server)
			memcpy(p + 4, server->addr, 4);
		else
			memset(p + 4, 0, 4);
		p += 8;
	}
	p = put16(p, client->port);
	p = put16(p, server ? server->port : 0);
	return (int)(p - out);
}
