// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The agent <-> relay protocol codec (user/lib/proto.c): round trips of
 * every message type, frame splitting over partial input, hand-made
 * malformed frames each giving its documented error code, unknown tags
 * skipped, the encoder's refusals, and the sockaddr <-> endpoint helpers.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <CUnit/CUnit.h>

#include "health.h"
#include "proto.h"

/* struct xr_msg is ~42 KiB: keep the ones a test uses off the stack */
static struct xr_msg ma, mb;
static uint8_t wire[XR_FRAME_HDR + XR_FRAME_MAX + 64];

/* ---- a hand-made frame builder --------------------------------------------- */

struct fb {
	uint8_t b[XR_FRAME_HDR + 70000];
	size_t n;
};
static struct fb F;

static void fb_start(struct fb *f, uint8_t type)
{
	f->b[0] = type;
	f->b[1] = 0;
	f->b[2] = f->b[3] = 0;
	f->n = XR_FRAME_HDR;
}

static void fb_raw(struct fb *f, const void *v, size_t n)
{
	memcpy(f->b + f->n, v, n);
	f->n += n;
}

static void fb_tlv(struct fb *f, uint8_t tag, const void *v, size_t n)
{
	uint8_t h[3] = { tag, (uint8_t)(n >> 8), (uint8_t)n };

	fb_raw(f, h, 3);
	fb_raw(f, v, n);
}

static void fb_be(struct fb *f, uint8_t tag, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	fb_tlv(f, tag, b, n);
}

static void fb_str(struct fb *f, uint8_t tag, const char *s)
{
	fb_tlv(f, tag, s, strlen(s));
}

static void fb_ep(struct fb *f, uint8_t tag, uint8_t family, uint16_t port, const char *ip)
{
	uint8_t b[3 + 16] = { family, (uint8_t)(port >> 8), (uint8_t)port };

	CU_ASSERT_EQUAL_FATAL(inet_pton(family == 4 ? AF_INET : AF_INET6, ip, b + 3), 1);
	fb_tlv(f, tag, b, 3 + (family == 4 ? 4 : 16));
}

/* Decode the payload built so far (header length ignored). */
static int fb_decode(struct fb *f, struct xr_msg *m)
{
	return xr_msg_decode(f->b[0], f->b + XR_FRAME_HDR, f->n - XR_FRAME_HDR, m);
}

/* Minimal valid frames of each type, to be extended by a test. */
static void fb_hello(struct fb *f)
{
	fb_start(f, XR_MSG_HELLO);
	fb_be(f, XR_TAG_VERSION, XR_PROTO_VERSION, 2);
	fb_str(f, XR_TAG_NAME, "vm1");
}

static void fb_open_base(struct fb *f)
{
	fb_start(f, XR_MSG_OPEN);
	fb_be(f, XR_TAG_FLOW, 42, 8);
	fb_str(f, XR_TAG_HOST, "dev.example.com");
	fb_ep(f, XR_TAG_CLIENT, 4, 50000, "198.18.0.7");
}

/* ---- round trips ------------------------------------------------------------ */

/* encode a, check the frame splits to exactly its length, decode into b */
static int roundtrip(const struct xr_msg *a, struct xr_msg *b)
{
	uint8_t type = 0;
	const uint8_t *p = NULL;
	size_t plen = 0;
	int n = xr_msg_encode(a, wire, sizeof(wire)), s;

	CU_ASSERT(n >= XR_FRAME_HDR);
	if (n < XR_FRAME_HDR)
		return -100;
	CU_ASSERT_EQUAL(wire[0], a->type);
	CU_ASSERT_EQUAL(wire[1], 0);
	CU_ASSERT_EQUAL((wire[2] << 8 | wire[3]), n - XR_FRAME_HDR);
	s = xr_frame_split(wire, (size_t)n, &type, &p, &plen);
	CU_ASSERT_EQUAL(s, n);
	CU_ASSERT_EQUAL(type, a->type);
	CU_ASSERT_PTR_EQUAL(p, wire + XR_FRAME_HDR);
	CU_ASSERT_EQUAL(plen, (size_t)n - XR_FRAME_HDR);
	if (s != n)
		return -101;
	return xr_msg_decode(type, p, plen, b);
}

static void test_hello(void)
{
	static const char *const few[] = { "dev.example.com", "*.lab.example.com" };
	char name[32];

	/* no hosts */
	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_HELLO;
	ma.version = XR_PROTO_VERSION;
	strcpy(ma.name, "vm1");
	ma.pool = 4;
	ma.heartbeat_ms = 5000;
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.type, XR_MSG_HELLO);
	CU_ASSERT_EQUAL(mb.version, XR_PROTO_VERSION);
	CU_ASSERT_STRING_EQUAL(mb.name, "vm1");
	CU_ASSERT_EQUAL(mb.pool, 4);
	CU_ASSERT_EQUAL(mb.heartbeat_ms, 5000);
	CU_ASSERT_EQUAL(mb.n_hosts, 0);
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);

	/* one wildcard host */
	ma.n_hosts = 1;
	strcpy(ma.hosts[0], few[1]);
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.n_hosts, 1);
	CU_ASSERT_STRING_EQUAL(mb.hosts[0], "*.lab.example.com");
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);

	/* 64 hosts, a 31-byte name, extreme integers */
	memset(name, 'n', 31);
	name[31] = 0;
	strcpy(ma.name, name);
	ma.version = 0xffff;
	ma.pool = 0xfffe;
	ma.heartbeat_ms = 0xfffffffe;
	ma.n_hosts = XR_PROTO_MAX_HOSTS;
	memset(ma.hosts, 0, sizeof(ma.hosts));  /* memcmp below: no stale bytes after a NUL */
	for (unsigned i = 0; i < XR_PROTO_MAX_HOSTS; i++) {
		if (i < 2)
			strcpy(ma.hosts[i], few[i]);
		else
			snprintf(ma.hosts[i], sizeof(ma.hosts[i]), "h%u.tenant-%u.example.com", i, i % 7);
	}
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.n_hosts, XR_PROTO_MAX_HOSTS);
	CU_ASSERT_STRING_EQUAL(mb.name, name);
	CU_ASSERT_EQUAL(mb.version, 0xffff);
	CU_ASSERT_EQUAL(mb.pool, 0xfffe);
	CU_ASSERT_EQUAL(mb.heartbeat_ms, 0xfffffffe);
	CU_ASSERT_STRING_EQUAL(mb.hosts[1], "*.lab.example.com");
	CU_ASSERT_STRING_EQUAL(mb.hosts[63], "h63.tenant-0.example.com");
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);

	/* host names come out lower-case */
	ma.n_hosts = 1;
	strcpy(ma.hosts[0], "Dev.Example.COM");
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_STRING_EQUAL(mb.hosts[0], "dev.example.com");
}

static void test_welcome(void)
{
	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_WELCOME;
	ma.session = 0x0123456789abcdefULL;
	ma.heartbeat_ms = 5000;
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.session, 0x0123456789abcdefULL);
	CU_ASSERT_EQUAL(mb.n_hosts + mb.n_refused, 0);
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);

	ma.session = UINT64_MAX;
	ma.n_hosts = 2;
	strcpy(ma.hosts[0], "dev.example.com");
	strcpy(ma.hosts[1], "*.lab.example.com");
	ma.n_refused = 3;
	strcpy(ma.refused[0].host, "other.example.net");
	strcpy(ma.refused[0].reason, "not owned by tenant lab");
	strcpy(ma.refused[1].host, "*.example.org");
	strcpy(ma.refused[1].reason, "x");
	strcpy(ma.refused[2].host, "taken.example.com");
	strcpy(ma.refused[2].reason, "registered by agent vm2 \xc3\xa9"); /* UTF-8 passes */
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.session, UINT64_MAX);
	CU_ASSERT_EQUAL(mb.heartbeat_ms, 5000);
	CU_ASSERT_EQUAL(mb.n_hosts, 2);
	CU_ASSERT_STRING_EQUAL(mb.hosts[1], "*.lab.example.com");
	CU_ASSERT_EQUAL(mb.n_refused, 3);
	CU_ASSERT_STRING_EQUAL(mb.refused[0].host, "other.example.net");
	CU_ASSERT_STRING_EQUAL(mb.refused[0].reason, "not owned by tenant lab");
	CU_ASSERT_STRING_EQUAL(mb.refused[1].host, "*.example.org");
	CU_ASSERT_STRING_EQUAL(mb.refused[1].reason, "x");
	CU_ASSERT_STRING_EQUAL(mb.refused[2].reason, "registered by agent vm2 \xc3\xa9");
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);

	/* the maximum: 64 accepted and 64 refused */
	ma.n_hosts = ma.n_refused = XR_PROTO_MAX_HOSTS;
	memset(ma.hosts, 0, sizeof(ma.hosts));
	memset(ma.refused, 0, sizeof(ma.refused));
	for (unsigned i = 0; i < XR_PROTO_MAX_HOSTS; i++) {
		snprintf(ma.hosts[i], sizeof(ma.hosts[i]), "a%u.example.com", i);
		snprintf(ma.refused[i].host, sizeof(ma.refused[i].host), "r%u.example.com", i);
		snprintf(ma.refused[i].reason, sizeof(ma.refused[i].reason), "reason %u", i);
	}
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.n_refused, XR_PROTO_MAX_HOSTS);
	CU_ASSERT_STRING_EQUAL(mb.refused[63].reason, "reason 63");
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);
}

static void test_ping_pong(void)
{
	/* the wire format, byte for byte */
	static const uint8_t ping[] = { 3, 0, 0, 11, XR_TAG_NONCE, 0, 8,
					0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef };

	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_PING;
	ma.nonce = 0x0123456789abcdefULL;
	CU_ASSERT_EQUAL(xr_msg_encode(&ma, wire, sizeof(wire)), (int)sizeof(ping));
	CU_ASSERT_EQUAL(memcmp(wire, ping, sizeof(ping)), 0);
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.type, XR_MSG_PING);
	CU_ASSERT_EQUAL(mb.nonce, 0x0123456789abcdefULL);
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);

	ma.type = XR_MSG_PONG;
	ma.nonce = 0;
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.type, XR_MSG_PONG);
	CU_ASSERT_EQUAL(mb.nonce, 0);
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);
}

static void test_token(void)
{
	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_TOKEN;
	ma.n_tokens = 1;
	for (unsigned i = 0; i < XR_TOKEN_LEN; i++)
		ma.tokens[0][i] = (uint8_t)(0xf0 + i);
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.n_tokens, 1);
	CU_ASSERT_EQUAL(memcmp(mb.tokens[0], ma.tokens[0], XR_TOKEN_LEN), 0);
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);

	ma.n_tokens = XR_PROTO_MAX_TOKENS;
	for (unsigned t = 0; t < XR_PROTO_MAX_TOKENS; t++)
		for (unsigned i = 0; i < XR_TOKEN_LEN; i++)
			ma.tokens[t][i] = (uint8_t)(t * 31 + i * 7);
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.n_tokens, XR_PROTO_MAX_TOKENS);
	CU_ASSERT_EQUAL(memcmp(mb.tokens, ma.tokens, sizeof(ma.tokens)), 0);
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);
}

static void set_ep(struct xr_proto_ep *ep, uint8_t family, uint16_t port, const char *ip)
{
	memset(ep, 0, sizeof(*ep));
	ep->family = family;
	ep->port = port;
	CU_ASSERT_EQUAL(inet_pton(family == 4 ? AF_INET : AF_INET6, ip, ep->addr), 1);
}

static void test_open(void)
{
	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_OPEN;
	ma.flow = 0xfedcba9876543210ULL;
	ma.n_hosts = 1;
	strcpy(ma.hosts[0], "dev.example.com");
	set_ep(&ma.client, 4, 50123, "198.18.0.7");
	set_ep(&ma.server, 4, 443, "203.0.113.1");
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.flow, 0xfedcba9876543210ULL);
	CU_ASSERT_EQUAL(mb.n_hosts, 1);
	CU_ASSERT_STRING_EQUAL(mb.hosts[0], "dev.example.com");
	CU_ASSERT_EQUAL(mb.client.family, 4);
	CU_ASSERT_EQUAL(mb.client.port, 50123);
	CU_ASSERT_EQUAL(memcmp(mb.client.addr, "\xc6\x12\x00\x07", 4), 0);
	CU_ASSERT_EQUAL(mb.server.family, 4);
	CU_ASSERT_EQUAL(mb.server.port, 443);
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);

	set_ep(&ma.client, 6, 65535, "2001:db8::1:2:3:4");
	set_ep(&ma.server, 6, 1, "2001:db8:ffff::443");
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.client.family, 6);
	CU_ASSERT_EQUAL(mb.client.port, 65535);
	CU_ASSERT_EQUAL(mb.server.family, 6);
	CU_ASSERT_EQUAL(mb.server.port, 1);
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);

	/* mixed families, and the server absent */
	set_ep(&ma.client, 6, 40000, "::1");
	set_ep(&ma.server, 4, 443, "127.0.0.1");
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);
	memset(&ma.server, 0, sizeof(ma.server));
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.server.family, 0);
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);
}

/* HEALTH: routes with states; state 0 or 4 refused both ways */
static void test_health(void)
{
	static const uint8_t st0[] = { XR_TAG_ROUTE, 0, 6, 0, 3, 'a', '.', 'b', 'x' };
	static const uint8_t st4[] = { XR_TAG_ROUTE, 0, 6, 4, 3, 'a', '.', 'b', 'x' };
	static const uint8_t ok[] = { XR_TAG_ROUTE, 0, 6, 2, 3, 'a', '.', 'b', 'x' };

	xr_msg_init(&ma, XR_MSG_HEALTH);
	CU_ASSERT_EQUAL(xr_msg_encode(&ma, wire, sizeof(wire)), -1);   /* no route */
	for (unsigned i = 0; i < XR_PROTO_MAX_HOSTS; i++) {
		snprintf(ma.refused[i].host, sizeof(ma.refused[i].host), "h%u.example.com", i);
		snprintf(ma.refused[i].reason, sizeof(ma.refused[i].reason), "probe %u", i);
		ma.refused[i].state = (uint8_t)(1 + i % 3);
	}
	ma.n_refused = XR_PROTO_MAX_HOSTS;
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.n_refused, XR_PROTO_MAX_HOSTS);
	CU_ASSERT_EQUAL(mb.refused[5].state, 3);
	CU_ASSERT_STRING_EQUAL(mb.refused[63].host, "h63.example.com");
	CU_ASSERT_STRING_EQUAL(mb.refused[63].reason, "probe 63");
	ma.refused[1].state = 0;
	CU_ASSERT_EQUAL(xr_msg_encode(&ma, wire, sizeof(wire)), -1);
	ma.refused[1].state = 4;
	CU_ASSERT_EQUAL(xr_msg_encode(&ma, wire, sizeof(wire)), -1);
	CU_ASSERT_EQUAL(xr_msg_decode(XR_MSG_HEALTH, st0, sizeof(st0), &mb), XR_PROTO_ETAG);
	CU_ASSERT_EQUAL(xr_msg_decode(XR_MSG_HEALTH, st4, sizeof(st4), &mb), XR_PROTO_ETAG);
	CU_ASSERT_EQUAL(xr_msg_decode(XR_MSG_HEALTH, ok, sizeof(ok), &mb), 0);
	CU_ASSERT_EQUAL(mb.refused[0].state, XR_H_DEGRADED);
	CU_ASSERT_STRING_EQUAL(mb.refused[0].host, "a.b");
	CU_ASSERT_STRING_EQUAL(mb.refused[0].reason, "x");
	CU_ASSERT_EQUAL(xr_msg_decode(XR_MSG_HEALTH, ok, 0, &mb), XR_PROTO_EMISSING);
}

static void test_error(void)
{
	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_ERROR;
	ma.code = XR_ERR_VERSION;
	strcpy(ma.text, "protocol version 9 not supported");
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.code, XR_ERR_VERSION);
	CU_ASSERT_STRING_EQUAL(mb.text, "protocol version 9 not supported");
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);

	memset(ma.text, 0, sizeof(ma.text));
	ma.code = XR_ERR_SHUTDOWN;
	CU_ASSERT_EQUAL(xr_msg_encode(&ma, wire, sizeof(wire)), XR_FRAME_HDR + 5);
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(mb.code, XR_ERR_SHUTDOWN);
	CU_ASSERT_STRING_EQUAL(mb.text, "");
	CU_ASSERT_EQUAL(memcmp(&ma, &mb, sizeof(ma)), 0);

	/* a 127-byte text is the longest */
	memset(ma.text, 'm', XR_PROTO_TEXT_LEN - 1);
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	CU_ASSERT_EQUAL(strlen(mb.text), XR_PROTO_TEXT_LEN - 1);
}

/* ---- frame splitting ---------------------------------------------------------- */

static void test_split_partial(void)
{
	static uint8_t two[2 * (XR_FRAME_HDR + 64)];
	uint8_t type = 0;
	const uint8_t *p = NULL;
	size_t plen = 0;
	int n, n2, rc;

	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_OPEN;
	ma.flow = 7;
	ma.n_hosts = 1;
	strcpy(ma.hosts[0], "a.example.com");
	set_ep(&ma.client, 6, 1, "2001:db8::1");
	n = xr_msg_encode(&ma, wire, sizeof(wire));
	CU_ASSERT_FATAL(n > XR_FRAME_HDR);
	for (int k = 0; k < n; k++) {
		rc = xr_frame_split(wire, (size_t)k, &type, &p, &plen);
		if (rc != XR_PROTO_NEED_MORE) {
			CU_FAIL("prefix shorter than the frame did not give NEED_MORE");
			fprintf(stderr, "prefix %d of %d: %d\n", k, n, rc);
		}
	}
	CU_ASSERT_EQUAL(xr_frame_split(wire, (size_t)n, &type, &p, &plen), n);
	CU_ASSERT_EQUAL(type, XR_MSG_OPEN);
	CU_ASSERT_EQUAL(plen, (size_t)n - XR_FRAME_HDR);

	/* two frames back to back: the first, then the rest */
	memcpy(two, wire, (size_t)n);
	ma.type = XR_MSG_PONG;
	ma.nonce = 99;
	n2 = xr_msg_encode(&ma, two + n, sizeof(two) - (size_t)n);
	CU_ASSERT_EQUAL_FATAL(n2, XR_FRAME_HDR + 11);
	CU_ASSERT_EQUAL(xr_frame_split(two, (size_t)(n + n2), &type, &p, &plen), n);
	CU_ASSERT_EQUAL(type, XR_MSG_OPEN);
	CU_ASSERT_PTR_EQUAL(p, two + XR_FRAME_HDR);
	CU_ASSERT_EQUAL(xr_msg_decode(type, p, plen, &mb), 0);
	CU_ASSERT_STRING_EQUAL(mb.hosts[0], "a.example.com");
	CU_ASSERT_EQUAL(xr_frame_split(two + n, (size_t)n2, &type, &p, &plen), n2);
	CU_ASSERT_EQUAL(type, XR_MSG_PONG);
	CU_ASSERT_EQUAL(xr_msg_decode(type, p, plen, &mb), 0);
	CU_ASSERT_EQUAL(mb.nonce, 99);
	/* the second frame cut short */
	CU_ASSERT_EQUAL(xr_frame_split(two + n, (size_t)n2 - 1, &type, &p, &plen), XR_PROTO_NEED_MORE);

	/* an empty payload is a frame (its decode then misses the nonce) */
	CU_ASSERT_EQUAL(xr_frame_split((const uint8_t *)"\x03\x00\x00\x00", 4, &type, &p, &plen), 4);
	CU_ASSERT_EQUAL(plen, 0);
	CU_ASSERT_EQUAL(xr_msg_decode(type, p, plen, &mb), XR_PROTO_EMISSING);
}

static void test_split_errors(void)
{
	static uint8_t big[XR_FRAME_HDR + XR_FRAME_MAX];
	uint8_t type = 0;
	const uint8_t *p = NULL;
	size_t plen = 0;

	/* bad type: known from the first byte */
	CU_ASSERT_EQUAL(xr_frame_split((const uint8_t *)"\x00", 1, &type, &p, &plen), XR_PROTO_EBADTYPE);
	CU_ASSERT_EQUAL(xr_frame_split((const uint8_t *)"\x00\x00\x00\x00", 4, &type, &p, &plen),
			XR_PROTO_EBADTYPE);
	CU_ASSERT_EQUAL(xr_frame_split((const uint8_t *)"\x09", 1, &type, &p, &plen), XR_PROTO_EBADTYPE);
	CU_ASSERT_EQUAL(xr_frame_split((const uint8_t *)"\x09\x00\x00\x00", 4, &type, &p, &plen),
			XR_PROTO_EBADTYPE);
	CU_ASSERT_EQUAL(xr_frame_split((const uint8_t *)"\xff\x00\x00\x00", 4, &type, &p, &plen),
			XR_PROTO_EBADTYPE);
	CU_ASSERT_EQUAL(xr_frame_split((const uint8_t *)"", 0, &type, &p, &plen), XR_PROTO_NEED_MORE);
	for (uint8_t t = 1; t <= XR_MSG_MAX_TYPE; t++) {
		uint8_t h[4] = { t, 0, 0, 0 };

		CU_ASSERT_EQUAL(xr_frame_split(h, 1, &type, &p, &plen), XR_PROTO_NEED_MORE);
		CU_ASSERT_EQUAL(xr_frame_split(h, 4, &type, &p, &plen), 4);
		CU_ASSERT_EQUAL(type, t);
	}
	/* non-zero flags: known from the second byte */
	CU_ASSERT_EQUAL(xr_frame_split((const uint8_t *)"\x03\x01", 2, &type, &p, &plen), XR_PROTO_EFLAGS);
	CU_ASSERT_EQUAL(xr_frame_split((const uint8_t *)"\x03\x80\x00\x00", 4, &type, &p, &plen),
			XR_PROTO_EFLAGS);
	/* length: XR_FRAME_MAX is allowed, one more is not */
	big[0] = XR_MSG_PING;
	big[2] = XR_FRAME_MAX >> 8;
	big[3] = XR_FRAME_MAX & 0xff;
	CU_ASSERT_EQUAL(xr_frame_split(big, 4, &type, &p, &plen), XR_PROTO_NEED_MORE);
	CU_ASSERT_EQUAL(xr_frame_split(big, sizeof(big) - 1, &type, &p, &plen), XR_PROTO_NEED_MORE);
	CU_ASSERT_EQUAL(xr_frame_split(big, sizeof(big), &type, &p, &plen), (int)sizeof(big));
	CU_ASSERT_EQUAL(plen, XR_FRAME_MAX);
	big[3]++;
	CU_ASSERT_EQUAL(xr_frame_split(big, 4, &type, &p, &plen), XR_PROTO_ETOOBIG);
	CU_ASSERT_EQUAL(xr_frame_split((const uint8_t *)"\x01\x00\xff\xff", 4, &type, &p, &plen),
			XR_PROTO_ETOOBIG);

	/* the decoder checks the same bounds when called directly */
	CU_ASSERT_EQUAL(xr_msg_decode(0, NULL, 0, &mb), XR_PROTO_EBADTYPE);
	CU_ASSERT_EQUAL(xr_msg_decode(XR_MSG_MAX_TYPE + 1, NULL, 0, &mb), XR_PROTO_EBADTYPE);
	CU_ASSERT_EQUAL(xr_msg_decode(XR_MSG_PING, big, XR_FRAME_MAX + 1, &mb), XR_PROTO_ETOOBIG);
}

/* ---- malformed payloads --------------------------------------------------------- */

static void test_decode_trunc(void)
{
	/* TLV header cut after 1 and 2 bytes, value running past the payload */
	fb_hello(&F);
	fb_raw(&F, "\x05", 1);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETRUNC);
	fb_hello(&F);
	fb_raw(&F, "\x05\x00", 2);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETRUNC);
	fb_hello(&F);
	fb_raw(&F, "\x05\x00\x04" "a.b", 6);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETRUNC);
	fb_hello(&F);
	fb_raw(&F, "\x05\xff\xff", 3);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETRUNC);
	/* an unknown tag is checked for length too */
	fb_hello(&F);
	fb_raw(&F, "\xc8\x00\x02" "x", 4);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETRUNC);
	/* the exact length is fine */
	fb_hello(&F);
	fb_raw(&F, "\x05\x00\x03" "a.b", 6);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);
	CU_ASSERT_STRING_EQUAL(mb.hosts[0], "a.b");
	/* a payload that ends inside the first TLV */
	CU_ASSERT_EQUAL(xr_msg_decode(XR_MSG_PING, (const uint8_t *)"\x08\x00\x08\x00", 4, &mb),
			XR_PROTO_ETRUNC);
}

static void test_decode_tags(void)
{
	static const struct { uint8_t type, tag; size_t good; } ints[] = {
		{ XR_MSG_HELLO, XR_TAG_VERSION, 2 },   { XR_MSG_HELLO, XR_TAG_POOL, 2 },
		{ XR_MSG_HELLO, XR_TAG_HEARTBEAT, 4 }, { XR_MSG_WELCOME, XR_TAG_SESSION, 8 },
		{ XR_MSG_WELCOME, XR_TAG_HEARTBEAT, 4 }, { XR_MSG_PING, XR_TAG_NONCE, 8 },
		{ XR_MSG_PONG, XR_TAG_NONCE, 8 },      { XR_MSG_TOKEN, XR_TAG_TOKEN, XR_TOKEN_LEN },
		{ XR_MSG_OPEN, XR_TAG_FLOW, 8 },       { XR_MSG_ERROR, XR_TAG_CODE, 2 },
	};
	static const uint8_t zeros[32];

	/* every fixed-size field: one byte short, one byte long, empty */
	for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		size_t lens[3] = { ints[i].good - 1, ints[i].good + 1, 0 };

		for (int k = 0; k < 3; k++) {
			fb_start(&F, ints[i].type);
			fb_tlv(&F, ints[i].tag, zeros, lens[k]);
			if (fb_decode(&F, &mb) != XR_PROTO_ETAG) {
				CU_FAIL("wrong-size integer field accepted");
				fprintf(stderr, "type %u tag %u len %zu\n", ints[i].type, ints[i].tag, lens[k]);
			}
		}
	}

	/* duplicate singletons */
	fb_hello(&F);
	fb_be(&F, XR_TAG_VERSION, 1, 2);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETAG);
	fb_hello(&F);
	fb_str(&F, XR_TAG_NAME, "vm2");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETAG);
	fb_hello(&F);
	fb_be(&F, XR_TAG_POOL, 1, 2);
	fb_be(&F, XR_TAG_POOL, 1, 2);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETAG);
	fb_start(&F, XR_MSG_PING);
	fb_be(&F, XR_TAG_NONCE, 1, 8);
	fb_be(&F, XR_TAG_NONCE, 1, 8);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETAG);
	fb_open_base(&F);
	fb_ep(&F, XR_TAG_CLIENT, 4, 1, "10.0.0.1");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETAG);
	fb_start(&F, XR_MSG_ERROR);
	fb_be(&F, XR_TAG_CODE, 1, 2);
	fb_str(&F, XR_TAG_TEXT, "a");
	fb_str(&F, XR_TAG_TEXT, "b");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETAG);
	/* a duplicate even with a bad value is reported as the duplicate */
	fb_hello(&F);
	fb_tlv(&F, XR_TAG_NAME, "", 0);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETAG);

	/* OPEN carries exactly one host */
	fb_open_base(&F);
	fb_str(&F, XR_TAG_HOST, "other.example.com");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETAG);
	fb_open_base(&F);
	fb_str(&F, XR_TAG_HOST, "dev.example.com");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETAG);
}

static void test_decode_strings(void)
{
	static const struct { const char *s; size_t n; int rc; } names[] = {
		{ "", 0, XR_PROTO_ESTRING },
		{ "vm\x01", 3, XR_PROTO_ESTRING },
		{ "vm\n1", 4, XR_PROTO_ESTRING },
		{ "vm\x1f", 3, XR_PROTO_ESTRING },
		{ "vm\x7f", 3, XR_PROTO_ESTRING },
		{ "vm\0x", 4, XR_PROTO_ESTRING },
		{ "\0", 1, XR_PROTO_ESTRING },
		{ "0123456789012345678901234567890", 31, 0 },
		{ "01234567890123456789012345678901", 32, XR_PROTO_ESTRING },
		{ "vm 1 \xc3\xa9~", 8, 0 },
	};
	static const struct { const char *s; int rc; } hosts[] = {
		{ "dev.example.com", 0 },
		{ "*.lab.example.com", 0 },
		{ "localhost", 0 },
		{ "xn--bcher-kva.example", 0 },
		{ "a..b", XR_PROTO_EHOST },
		{ ".example.com", XR_PROTO_EHOST },
		{ "example.com.", XR_PROTO_EHOST },
		{ "-a.example.com", XR_PROTO_EHOST },
		{ "a-.example.com", XR_PROTO_EHOST },
		{ "a_b.example.com", XR_PROTO_EHOST },
		{ "a b.example.com", XR_PROTO_EHOST },
		{ "a.*.example.com", XR_PROTO_EHOST },
		{ "*", XR_PROTO_EHOST },
		{ "*.", XR_PROTO_EHOST },
		{ "**.example.com", XR_PROTO_EHOST },
		{ "192.0.2.1", XR_PROTO_EHOST },
		{ "[::1]", XR_PROTO_EHOST },
		{ "example.com:443", XR_PROTO_EHOST },
		{ "\xc3\xa9.example.com", XR_PROTO_EHOST },
		{ "a\tb.example.com", XR_PROTO_ESTRING },
		{ "", XR_PROTO_ESTRING },
	};
	char big[300];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		fb_start(&F, XR_MSG_HELLO);
		fb_be(&F, XR_TAG_VERSION, 1, 2);
		fb_tlv(&F, XR_TAG_NAME, names[i].s, names[i].n);
		if (fb_decode(&F, &mb) != names[i].rc) {
			CU_FAIL("agent name");
			fprintf(stderr, "name #%zu: got %d\n", i, fb_decode(&F, &mb));
		}
	}
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		fb_hello(&F);
		fb_str(&F, XR_TAG_HOST, hosts[i].s);
		if (fb_decode(&F, &mb) != hosts[i].rc) {
			CU_FAIL("host name in HELLO");
			fprintf(stderr, "host '%s': got %d\n", hosts[i].s, fb_decode(&F, &mb));
		}
		fb_start(&F, XR_MSG_OPEN);
		fb_be(&F, XR_TAG_FLOW, 1, 8);
		fb_ep(&F, XR_TAG_CLIENT, 4, 1, "10.0.0.1");
		fb_str(&F, XR_TAG_HOST, hosts[i].s);
		CU_ASSERT_EQUAL(fb_decode(&F, &mb), hosts[i].rc);
	}
	/* a NUL inside a host name */
	fb_hello(&F);
	fb_tlv(&F, XR_TAG_HOST, "a.com\0b", 7);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ESTRING);

	/* host length: 253 fine, 254 too long as a string */
	for (int i = 0; i < 253; i++)
		big[i] = (i % 50 == 49) ? '.' : 'a';
	big[253] = 0;
	fb_hello(&F);
	fb_str(&F, XR_TAG_HOST, big);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);
	CU_ASSERT_EQUAL(strlen(mb.hosts[0]), 253);
	big[253] = 'a';
	big[254] = 0;
	fb_hello(&F);
	fb_str(&F, XR_TAG_HOST, big);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ESTRING);
	/* a label longer than 63 */
	memset(big, 'a', 64);
	strcpy(big + 64, ".com");
	fb_hello(&F);
	fb_str(&F, XR_TAG_HOST, big);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_EHOST);

	/* ERROR text: empty, control, 127 fine, 128 too long */
	fb_start(&F, XR_MSG_ERROR);
	fb_be(&F, XR_TAG_CODE, 1, 2);
	fb_tlv(&F, XR_TAG_TEXT, "", 0);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ESTRING);
	fb_start(&F, XR_MSG_ERROR);
	fb_be(&F, XR_TAG_CODE, 1, 2);
	fb_str(&F, XR_TAG_TEXT, "line\r\n");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ESTRING);
	memset(big, 't', 128);
	fb_start(&F, XR_MSG_ERROR);
	fb_be(&F, XR_TAG_CODE, 1, 2);
	fb_tlv(&F, XR_TAG_TEXT, big, 127);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);
	fb_start(&F, XR_MSG_ERROR);
	fb_be(&F, XR_TAG_CODE, 1, 2);
	fb_tlv(&F, XR_TAG_TEXT, big, 128);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ESTRING);
}

static void test_decode_refused(void)
{
	uint8_t v[300];

#define REFUSED(bytes, len, want) do {                                   \
		fb_start(&F, XR_MSG_WELCOME);                            \
		fb_be(&F, XR_TAG_SESSION, 1, 8);                         \
		fb_tlv(&F, XR_TAG_REFUSED, bytes, len);                  \
		CU_ASSERT_EQUAL(fb_decode(&F, &mb), want);               \
	} while (0)
	REFUSED("\x05" "a.com" "why", 9, 0);
	CU_ASSERT_EQUAL(mb.n_refused, 1);
	CU_ASSERT_STRING_EQUAL(mb.refused[0].host, "a.com");
	CU_ASSERT_STRING_EQUAL(mb.refused[0].reason, "why");
	REFUSED("\x05" "A.COM" "w", 7, 0);
	CU_ASSERT_STRING_EQUAL(mb.refused[0].host, "a.com");
	REFUSED("", 0, XR_PROTO_ETAG);                  /* nothing */
	REFUSED("\x00" "why", 4, XR_PROTO_ETAG);        /* empty host */
	REFUSED("\x05" "a.com", 6, XR_PROTO_ETAG);      /* no reason */
	REFUSED("\x09" "a.com", 6, XR_PROTO_ETAG);      /* host past the value */
	REFUSED("\x05" "a..om" "why", 9, XR_PROTO_EHOST);
	REFUSED("\x05" "a.com" "w\x01y", 9, XR_PROTO_ESTRING);
	REFUSED("\x05" "a.com" "w\0y", 9, XR_PROTO_ESTRING);
	/* a 128-byte reason is too long */
	v[0] = 5;
	memcpy(v + 1, "a.com", 5);
	memset(v + 6, 'r', 128);
	REFUSED(v, 6 + 127, 0);
	REFUSED(v, 6 + 128, XR_PROTO_ESTRING);
	/* host length 254 (> 253) */
	v[0] = 254;
	memset(v + 1, 'h', 254);
	v[255] = 'r';
	REFUSED(v, 256, XR_PROTO_ESTRING);
#undef REFUSED
}

static void test_decode_counts(void)
{
	uint8_t tok[XR_TOKEN_LEN] = { 0 };
	char h[32];

	/* 64 hosts fine, 65 too many */
	fb_hello(&F);
	for (int i = 0; i < XR_PROTO_MAX_HOSTS; i++) {
		snprintf(h, sizeof(h), "h%d.example.com", i);
		fb_str(&F, XR_TAG_HOST, h);
	}
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);
	CU_ASSERT_EQUAL(mb.n_hosts, XR_PROTO_MAX_HOSTS);
	fb_str(&F, XR_TAG_HOST, "one-more.example.com");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETOOMANY);

	/* WELCOME: 65 accepted, or 65 refused */
	fb_start(&F, XR_MSG_WELCOME);
	fb_be(&F, XR_TAG_SESSION, 1, 8);
	for (int i = 0; i <= XR_PROTO_MAX_HOSTS; i++)
		fb_str(&F, XR_TAG_HOST, "a.example.com");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETOOMANY);
	fb_start(&F, XR_MSG_WELCOME);
	fb_be(&F, XR_TAG_SESSION, 1, 8);
	for (int i = 0; i < XR_PROTO_MAX_HOSTS; i++)
		fb_tlv(&F, XR_TAG_REFUSED, "\x05" "a.com" "no", 8);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);
	CU_ASSERT_EQUAL(mb.n_refused, XR_PROTO_MAX_HOSTS);
	fb_tlv(&F, XR_TAG_REFUSED, "\x05" "a.com" "no", 8);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETOOMANY);

	/* 64 tokens fine, 65 too many */
	fb_start(&F, XR_MSG_TOKEN);
	for (int i = 0; i < XR_PROTO_MAX_TOKENS; i++) {
		tok[0] = (uint8_t)i;
		fb_tlv(&F, XR_TAG_TOKEN, tok, sizeof(tok));
	}
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);
	CU_ASSERT_EQUAL(mb.n_tokens, XR_PROTO_MAX_TOKENS);
	CU_ASSERT_EQUAL(mb.tokens[63][0], 63);
	fb_tlv(&F, XR_TAG_TOKEN, tok, sizeof(tok));
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_ETOOMANY);
}

static void test_decode_missing(void)
{
	uint8_t tok[XR_TOKEN_LEN] = { 1 };

	/* every type with no payload at all */
	for (uint8_t t = 1; t <= XR_MSG_MAX_TYPE; t++)
		CU_ASSERT_EQUAL(xr_msg_decode(t, NULL, 0, &mb), XR_PROTO_EMISSING);

	/* HELLO: version and name required; pool, heartbeat, hosts optional */
	fb_start(&F, XR_MSG_HELLO);
	fb_str(&F, XR_TAG_NAME, "vm1");
	fb_be(&F, XR_TAG_POOL, 4, 2);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_EMISSING);
	fb_start(&F, XR_MSG_HELLO);
	fb_be(&F, XR_TAG_VERSION, 1, 2);
	fb_str(&F, XR_TAG_HOST, "a.example.com");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_EMISSING);
	fb_hello(&F);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);

	/* WELCOME: session required */
	fb_start(&F, XR_MSG_WELCOME);
	fb_be(&F, XR_TAG_HEARTBEAT, 5000, 4);
	fb_str(&F, XR_TAG_HOST, "a.example.com");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_EMISSING);

	/* PING/PONG: nonce (a SESSION tag is not one, and is skipped) */
	fb_start(&F, XR_MSG_PING);
	fb_be(&F, XR_TAG_SESSION, 1, 8);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_EMISSING);
	fb_start(&F, XR_MSG_PONG);
	fb_be(&F, XR_TAG_FLOW, 1, 8);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_EMISSING);

	/* TOKEN: at least one token */
	fb_start(&F, XR_MSG_TOKEN);
	fb_be(&F, XR_TAG_NONCE, 1, 8);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_EMISSING);
	fb_tlv(&F, XR_TAG_TOKEN, tok, sizeof(tok));
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);

	/* OPEN: flow, host and client each required; server optional */
	fb_start(&F, XR_MSG_OPEN);
	fb_str(&F, XR_TAG_HOST, "a.example.com");
	fb_ep(&F, XR_TAG_CLIENT, 4, 1, "10.0.0.1");
	fb_ep(&F, XR_TAG_SERVER, 4, 1, "10.0.0.2");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_EMISSING);
	fb_start(&F, XR_MSG_OPEN);
	fb_be(&F, XR_TAG_FLOW, 1, 8);
	fb_ep(&F, XR_TAG_CLIENT, 4, 1, "10.0.0.1");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_EMISSING);
	fb_start(&F, XR_MSG_OPEN);
	fb_be(&F, XR_TAG_FLOW, 1, 8);
	fb_str(&F, XR_TAG_HOST, "a.example.com");
	fb_ep(&F, XR_TAG_SERVER, 4, 1, "10.0.0.2");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_EMISSING);
	fb_open_base(&F);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);
	CU_ASSERT_EQUAL(mb.server.family, 0);

	/* ERROR: code required, text optional */
	fb_start(&F, XR_MSG_ERROR);
	fb_str(&F, XR_TAG_TEXT, "bye");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), XR_PROTO_EMISSING);
}

static void test_decode_endpoints(void)
{
	static const struct { const char *v; size_t n; } bad[] = {
		{ "", 0 },
		{ "\x04\x01", 2 },
		{ "\x04\x01\xbb", 3 },                               /* no address */
		{ "\x04\x01\xbb\x0a\x00\x00", 6 },                   /* 3 bytes */
		{ "\x04\x01\xbb\x0a\x00\x00\x01\x00", 8 },           /* 5 bytes */
		{ "\x04\x01\xbb" "0123456789abcdef", 19 },           /* v4 with 16 */
		{ "\x06\x01\xbb\x0a\x00\x00\x01", 7 },               /* v6 with 4 */
		{ "\x06\x01\xbb" "0123456789abcde", 18 },
		{ "\x06\x01\xbb" "0123456789abcdefg", 20 },
		{ "\x00\x01\xbb\x0a\x00\x00\x01", 7 },               /* family 0 */
		{ "\x02\x01\xbb\x0a\x00\x00\x01", 7 },               /* AF_INET, not 4 */
		{ "\x0a\x01\xbb" "0123456789abcdef", 19 },           /* AF_INET6, not 6 */
		{ "\x05\x01\xbb\x0a\x00\x00\x01", 7 },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		for (int which = 0; which < 2; which++) {
			fb_start(&F, XR_MSG_OPEN);
			fb_be(&F, XR_TAG_FLOW, 1, 8);
			fb_str(&F, XR_TAG_HOST, "a.example.com");
			if (which)
				fb_ep(&F, XR_TAG_CLIENT, 6, 1, "::1");
			fb_tlv(&F, which ? XR_TAG_SERVER : XR_TAG_CLIENT, bad[i].v, bad[i].n);
			if (fb_decode(&F, &mb) != XR_PROTO_ETAG) {
				CU_FAIL("bad endpoint accepted");
				fprintf(stderr, "endpoint #%zu as %s: %d\n", i, which ? "server" : "client",
					fb_decode(&F, &mb));
			}
		}
	}
	/* good ones, ports big-endian */
	fb_start(&F, XR_MSG_OPEN);
	fb_be(&F, XR_TAG_FLOW, 1, 8);
	fb_str(&F, XR_TAG_HOST, "a.example.com");
	fb_tlv(&F, XR_TAG_CLIENT, "\x04\x01\xbb\x0a\x00\x00\x01", 7);
	fb_tlv(&F, XR_TAG_SERVER, "\x06\xff\x00" "0123456789abcdef", 19);
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);
	CU_ASSERT_EQUAL(mb.client.family, 4);
	CU_ASSERT_EQUAL(mb.client.port, 443);
	CU_ASSERT_EQUAL(memcmp(mb.client.addr, "\x0a\x00\x00\x01" "\0\0\0\0\0\0\0\0\0\0\0\0", 16), 0);
	CU_ASSERT_EQUAL(mb.server.family, 6);
	CU_ASSERT_EQUAL(mb.server.port, 0xff00);
	CU_ASSERT_EQUAL(memcmp(mb.server.addr, "0123456789abcdef", 16), 0);
}

static void test_decode_unknown(void)
{
	static uint8_t junk[1000];
	uint8_t tok[XR_TOKEN_LEN] = { 9 };

	memset(junk, 0xa5, sizeof(junk));
	/* tags unknown to everyone, of any length, repeated, anywhere */
	fb_start(&F, XR_MSG_HELLO);
	fb_tlv(&F, 0, junk, 0);
	fb_tlv(&F, 200, junk, 5);
	fb_be(&F, XR_TAG_VERSION, 1, 2);
	fb_tlv(&F, 255, junk, sizeof(junk));
	fb_tlv(&F, 31, junk, 3);
	fb_str(&F, XR_TAG_NAME, "vm1");
	fb_tlv(&F, 200, junk, 5);
	fb_tlv(&F, 15, "\0\x01", 2);
	fb_tlv(&F, 32, junk, 1);
	/* tags known to the protocol but not to HELLO: skipped, even if malformed */
	fb_tlv(&F, XR_TAG_TOKEN, tok, 3);
	fb_tlv(&F, XR_TAG_SESSION, junk, 1);
	fb_tlv(&F, XR_TAG_TEXT, "\x01", 1);
	fb_tlv(&F, XR_TAG_CLIENT, junk, 2);
	fb_tlv(&F, XR_TAG_CLIENT, junk, 2);
	fb_str(&F, XR_TAG_HOST, "a.example.com");
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);
	CU_ASSERT_EQUAL(mb.version, 1);
	CU_ASSERT_STRING_EQUAL(mb.name, "vm1");
	CU_ASSERT_EQUAL(mb.n_hosts, 1);
	CU_ASSERT_EQUAL(mb.session, 0);
	CU_ASSERT_EQUAL(mb.n_tokens, 0);
	CU_ASSERT_EQUAL(mb.client.family, 0);
	CU_ASSERT_STRING_EQUAL(mb.text, "");

	/* a PING whose only other content is a HOST and a TOKEN */
	fb_start(&F, XR_MSG_PING);
	fb_str(&F, XR_TAG_HOST, "not a host");
	fb_be(&F, XR_TAG_NONCE, 77, 8);
	fb_tlv(&F, XR_TAG_TOKEN, tok, sizeof(tok));
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);
	CU_ASSERT_EQUAL(mb.nonce, 77);
	CU_ASSERT_EQUAL(mb.n_hosts, 0);
	CU_ASSERT_EQUAL(mb.n_tokens, 0);
}

/* ---- the encoder's refusals ------------------------------------------------------ */

static void test_encode_cap(void)
{
	static uint8_t small[XR_FRAME_HDR + 600];
	int n;

	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_WELCOME;
	ma.session = 5;
	ma.n_hosts = 3;
	strcpy(ma.hosts[0], "a.example.com");
	strcpy(ma.hosts[1], "b.example.com");
	strcpy(ma.hosts[2], "*.c.example.com");
	ma.n_refused = 1;
	strcpy(ma.refused[0].host, "d.example.com");
	strcpy(ma.refused[0].reason, "owned elsewhere");
	n = xr_msg_encode(&ma, small, sizeof(small));
	CU_ASSERT_FATAL(n > XR_FRAME_HDR && n < (int)sizeof(small));
	/* every smaller cap: -1, and nothing written past the cap */
	for (int cap = 0; cap < n; cap++) {
		memset(small, 0xee, sizeof(small));
		if (xr_msg_encode(&ma, small, (size_t)cap) != -1) {
			CU_FAIL("encode with too small a cap succeeded");
			fprintf(stderr, "cap %d of %d\n", cap, n);
		}
		for (size_t i = (size_t)cap; i < sizeof(small); i++)
			if (small[i] != 0xee) {
				CU_FAIL("encode wrote past cap");
				break;
			}
	}
	CU_ASSERT_EQUAL(xr_msg_encode(&ma, small, (size_t)n), n);

	/* more than XR_FRAME_MAX of payload: -1 however big the buffer */
	ma.n_hosts = ma.n_refused = XR_PROTO_MAX_HOSTS;
	for (unsigned i = 0; i < XR_PROTO_MAX_HOSTS; i++) {
		memset(ma.hosts[i], 'a', 200);
		ma.hosts[i][200] = 0;
		ma.hosts[i][100] = '.';
		ma.hosts[i][50] = '.';
		ma.hosts[i][150] = '.';
		strcpy(ma.refused[i].host, ma.hosts[i]);
		strcpy(ma.refused[i].reason, "r");
	}
	CU_ASSERT_EQUAL(xr_msg_encode(&ma, F.b, sizeof(F.b)), -1);
	/* 64 hosts of 253 in a HELLO: 64 * 256 = 16384 with nothing else, too big */
	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_HELLO;
	ma.version = 1;
	strcpy(ma.name, "n");
	ma.n_hosts = XR_PROTO_MAX_HOSTS;
	for (unsigned i = 0; i < XR_PROTO_MAX_HOSTS; i++) {
		memset(ma.hosts[i], 'b', 253);
		for (int k = 63; k < 253; k += 64)
			ma.hosts[i][k] = '.';
	}
	CU_ASSERT_EQUAL(xr_msg_encode(&ma, F.b, sizeof(F.b)), -1);
	/* 63 of them fit: 4 + 5 + 4 + 5 + 7 + 63 * 256 */
	ma.n_hosts = XR_PROTO_MAX_HOSTS - 1;
	n = xr_msg_encode(&ma, F.b, sizeof(F.b));
	CU_ASSERT_EQUAL(n, XR_FRAME_HDR + 21 + 63 * 256);
	F.n = n > 0 ? (size_t)n : XR_FRAME_HDR;
	CU_ASSERT_EQUAL(fb_decode(&F, &mb), 0);
	CU_ASSERT_EQUAL(mb.n_hosts, XR_PROTO_MAX_HOSTS - 1);
}

static void test_encode_invalid(void)
{
	uint8_t out[512];

#define BAD() CU_ASSERT_EQUAL(xr_msg_encode(&ma, out, sizeof(out)), -1)
#define GOOD() CU_ASSERT(xr_msg_encode(&ma, out, sizeof(out)) > XR_FRAME_HDR)
	memset(&ma, 0, sizeof(ma));
	BAD();                                  /* type 0 */
	ma.type = XR_MSG_MAX_TYPE + 1;
	BAD();
	ma.type = 0xff;
	BAD();

	/* HELLO: empty name, empty host, a name with a control character */
	ma.type = XR_MSG_HELLO;
	ma.version = 1;
	BAD();
	strcpy(ma.name, "vm1");
	GOOD();
	ma.n_hosts = 1;
	BAD();
	strcpy(ma.hosts[0], "a.example.com");
	GOOD();
	strcpy(ma.hosts[0], "a..example.com");
	BAD();
	strcpy(ma.hosts[0], "a.example.com");
	for (unsigned i = 0; i < XR_PROTO_MAX_HOSTS; i++)
		strcpy(ma.hosts[i], "a.b");
	ma.n_hosts = XR_PROTO_MAX_HOSTS;
	GOOD();
	ma.n_hosts = XR_PROTO_MAX_HOSTS + 1;    /* not silently cut to 64 */
	BAD();
	ma.n_hosts = 1;
	strcpy(ma.name, "vm\n1");
	BAD();
	memset(ma.name, 'n', sizeof(ma.name));  /* no NUL: 32 bytes, too long */
	BAD();
	ma.name[sizeof(ma.name) - 1] = 0;
	GOOD();
	memset(ma.hosts[0], 'h', sizeof(ma.hosts[0]));  /* no NUL */
	BAD();
	strcpy(ma.name, "vm1");
	strcpy(ma.hosts[0], "a.b");
	GOOD();

	/* WELCOME: refused with an empty host or reason, too many */
	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_WELCOME;
	GOOD();
	ma.n_refused = 1;
	BAD();
	strcpy(ma.refused[0].host, "a.example.com");
	BAD();
	strcpy(ma.refused[0].reason, "no");
	GOOD();
	ma.refused[0].host[0] = 0;
	BAD();
	strcpy(ma.refused[0].host, "a.example.com");
	strcpy(ma.refused[0].reason, "tab\there");
	BAD();
	strcpy(ma.refused[0].reason, "no");
	for (unsigned i = 1; i < XR_PROTO_MAX_HOSTS; i++)
		ma.refused[i] = ma.refused[0];
	ma.n_refused = XR_PROTO_MAX_HOSTS;
	CU_ASSERT(xr_msg_encode(&ma, F.b, sizeof(F.b)) > XR_FRAME_HDR);
	ma.n_refused = XR_PROTO_MAX_HOSTS + 1;  /* not silently cut to 64 */
	CU_ASSERT_EQUAL(xr_msg_encode(&ma, F.b, sizeof(F.b)), -1);
	strcpy(ma.refused[5].host, "UPPER.example.com");
	ma.n_refused = XR_PROTO_MAX_HOSTS;
	CU_ASSERT(xr_msg_encode(&ma, F.b, sizeof(F.b)) > XR_FRAME_HDR);
	strcpy(ma.refused[5].host, "bad host");
	CU_ASSERT_EQUAL(xr_msg_encode(&ma, F.b, sizeof(F.b)), -1);
	ma.n_refused = 0;
	ma.n_hosts = 1;
	BAD();                                  /* hosts[0] empty */

	/* TOKEN: 0 or 65 tokens */
	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_TOKEN;
	BAD();
	ma.n_tokens = XR_PROTO_MAX_TOKENS + 1;
	BAD();
	ma.n_tokens = 1;
	GOOD();

	/* OPEN: no host, bad client or server family */
	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_OPEN;
	set_ep(&ma.client, 4, 1, "10.0.0.1");
	ma.n_hosts = 1;
	BAD();                                  /* empty host */
	strcpy(ma.hosts[0], "a.example.com");
	GOOD();
	ma.client.family = 0;
	BAD();
	ma.client.family = 5;
	BAD();
	ma.client.family = AF_INET;
	BAD();
	ma.client.family = 6;
	GOOD();
	ma.server.family = 7;
	BAD();
	ma.server.family = 4;
	GOOD();

	/* ERROR: text with a control character */
	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_ERROR;
	ma.code = 1;
	GOOD();
	strcpy(ma.text, "bye\x1b[0m");
	BAD();
#undef BAD
#undef GOOD
}

/* ---- sockaddr <-> endpoint ---------------------------------------------------------- */

static void test_sockaddr(void)
{
	struct sockaddr_storage ss, back;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct xr_proto_ep ep;

	memset(&ss, 0, sizeof(ss));
	s4->sin_family = AF_INET;
	s4->sin_port = htons(8443);
	inet_pton(AF_INET, "192.0.2.33", &s4->sin_addr);
	xr_proto_ep_from_sa(&ep, (struct sockaddr *)&ss);
	CU_ASSERT_EQUAL(ep.family, 4);
	CU_ASSERT_EQUAL(ep.port, 8443);
	CU_ASSERT_EQUAL(memcmp(ep.addr, "\xc0\x00\x02\x21" "\0\0\0\0\0\0\0\0\0\0\0\0", 16), 0);
	memset(&back, 0x55, sizeof(back));
	CU_ASSERT_EQUAL(xr_proto_ep_to_sa(&ep, (struct sockaddr *)&back), sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(memcmp(&back, &ss, sizeof(struct sockaddr_in)), 0);

	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(65535);
	inet_pton(AF_INET6, "2001:db8::dead:beef", &s6->sin6_addr);
	xr_proto_ep_from_sa(&ep, (struct sockaddr *)&ss);
	CU_ASSERT_EQUAL(ep.family, 6);
	CU_ASSERT_EQUAL(ep.port, 65535);
	CU_ASSERT_EQUAL(memcmp(ep.addr, &s6->sin6_addr, 16), 0);
	memset(&back, 0x55, sizeof(back));
	CU_ASSERT_EQUAL(xr_proto_ep_to_sa(&ep, (struct sockaddr *)&back), sizeof(struct sockaddr_in6));
	CU_ASSERT_EQUAL(memcmp(&back, &ss, sizeof(struct sockaddr_in6)), 0);

	/* IPv4-mapped IPv6 becomes family 4, and back an AF_INET sockaddr */
	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(443);
	inet_pton(AF_INET6, "::ffff:198.18.0.9", &s6->sin6_addr);
	xr_proto_ep_from_sa(&ep, (struct sockaddr *)&ss);
	CU_ASSERT_EQUAL(ep.family, 4);
	CU_ASSERT_EQUAL(ep.port, 443);
	CU_ASSERT_EQUAL(memcmp(ep.addr, "\xc6\x12\x00\x09" "\0\0\0\0\0\0\0\0\0\0\0\0", 16), 0);
	memset(&back, 0x55, sizeof(back));
	CU_ASSERT_EQUAL(xr_proto_ep_to_sa(&ep, (struct sockaddr *)&back), sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(((struct sockaddr_in *)&back)->sin_family, AF_INET);
	CU_ASSERT_EQUAL(((struct sockaddr_in *)&back)->sin_port, htons(443));
	CU_ASSERT_EQUAL(((struct sockaddr_in *)&back)->sin_addr.s_addr, inet_addr("198.18.0.9"));

	/* ::1 and the IPv4-compatible ::a.b.c.d stay IPv6 */
	inet_pton(AF_INET6, "::1", &s6->sin6_addr);
	xr_proto_ep_from_sa(&ep, (struct sockaddr *)&ss);
	CU_ASSERT_EQUAL(ep.family, 6);
	inet_pton(AF_INET6, "::198.18.0.9", &s6->sin6_addr);
	xr_proto_ep_from_sa(&ep, (struct sockaddr *)&ss);
	CU_ASSERT_EQUAL(ep.family, 6);

	/* other families: absent, and an absent endpoint gives no sockaddr */
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	memset(&ep, 0x77, sizeof(ep));
	xr_proto_ep_from_sa(&ep, (struct sockaddr *)&ss);
	CU_ASSERT_EQUAL(ep.family, 0);
	CU_ASSERT_EQUAL(ep.port, 0);
	CU_ASSERT_EQUAL(xr_proto_ep_to_sa(&ep, (struct sockaddr *)&back), 0);
	ep.family = 5;
	CU_ASSERT_EQUAL(xr_proto_ep_to_sa(&ep, (struct sockaddr *)&back), 0);

	/* an endpoint through OPEN and back to the same sockaddr */
	memset(&ss, 0, sizeof(ss));
	s6->sin6_family = AF_INET6;
	s6->sin6_port = htons(51000);
	inet_pton(AF_INET6, "2001:db8:1::7", &s6->sin6_addr);
	memset(&ma, 0, sizeof(ma));
	ma.type = XR_MSG_OPEN;
	ma.n_hosts = 1;
	strcpy(ma.hosts[0], "a.example.com");
	xr_proto_ep_from_sa(&ma.client, (struct sockaddr *)&ss);
	CU_ASSERT_EQUAL(roundtrip(&ma, &mb), 0);
	memset(&back, 0, sizeof(back));
	CU_ASSERT_EQUAL(xr_proto_ep_to_sa(&mb.client, (struct sockaddr *)&back), sizeof(struct sockaddr_in6));
	CU_ASSERT_EQUAL(memcmp(&back, &ss, sizeof(struct sockaddr_in6)), 0);
}

static void test_names(void)
{
	static const int rcs[] = { XR_PROTO_NEED_MORE, XR_PROTO_EBADTYPE, XR_PROTO_ETOOBIG,
				   XR_PROTO_ETAG, XR_PROTO_ESTRING, XR_PROTO_EHOST,
				   XR_PROTO_ETOOMANY, XR_PROTO_EMISSING, XR_PROTO_EFLAGS,
				   XR_PROTO_ETRUNC };

	for (size_t i = 0; i < sizeof(rcs) / sizeof(rcs[0]); i++) {
		const char *s = xr_proto_strerror(rcs[i]);

		CU_ASSERT_PTR_NOT_NULL(s);
		CU_ASSERT(s && strcmp(s, "unknown error") != 0);
	}
	CU_ASSERT_STRING_EQUAL(xr_proto_strerror(-100), "unknown error");
	CU_ASSERT_STRING_EQUAL(xr_msg_type_name(XR_MSG_HELLO), "HELLO");
	CU_ASSERT_STRING_EQUAL(xr_msg_type_name(XR_MSG_ERROR), "ERROR");
	CU_ASSERT_STRING_EQUAL(xr_msg_type_name(XR_MSG_HEALTH), "HEALTH");
	CU_ASSERT_STRING_EQUAL(xr_msg_type_name(0), "?");
	CU_ASSERT_STRING_EQUAL(xr_msg_type_name(9), "?");
	CU_ASSERT_EQUAL(strlen(XR_DATA_MAGIC) + XR_TOKEN_LEN, XR_DATA_PREAMBLE);
}

int xr_register_proto(void)
{
	CU_pSuite s = CU_add_suite("proto", NULL, NULL);

	if (!s)
		return -1;
	if (!CU_add_test(s, "HELLO round trip 0/1/64 hosts", test_hello) ||
	    !CU_add_test(s, "WELCOME round trip accepted and refused", test_welcome) ||
	    !CU_add_test(s, "PING/PONG round trip and wire bytes", test_ping_pong) ||
	    !CU_add_test(s, "TOKEN round trip 1/64", test_token) ||
	    !CU_add_test(s, "OPEN round trip IPv4/IPv6", test_open) ||
	    !CU_add_test(s, "ERROR round trip with and without text", test_error) ||
	    !CU_add_test(s, "HEALTH round trip and states", test_health) ||
	    !CU_add_test(s, "split over every prefix, back to back", test_split_partial) ||
	    !CU_add_test(s, "split: type, flags, length", test_split_errors) ||
	    !CU_add_test(s, "decode: TLV past the payload", test_decode_trunc) ||
	    !CU_add_test(s, "decode: sizes, duplicates, one OPEN host", test_decode_tags) ||
	    !CU_add_test(s, "decode: strings and host names", test_decode_strings) ||
	    !CU_add_test(s, "decode: refused entries", test_decode_refused) ||
	    !CU_add_test(s, "decode: 65 hosts/refused/tokens", test_decode_counts) ||
	    !CU_add_test(s, "decode: required tags per type", test_decode_missing) ||
	    !CU_add_test(s, "decode: endpoint family and length", test_decode_endpoints) ||
	    !CU_add_test(s, "decode: unknown tags skipped", test_decode_unknown) ||
	    !CU_add_test(s, "encode: cap and XR_FRAME_MAX", test_encode_cap) ||
	    !CU_add_test(s, "encode: invalid fields", test_encode_invalid) ||
	    !CU_add_test(s, "sockaddr <-> endpoint", test_sockaddr) ||
	    !CU_add_test(s, "strerror and type names", test_names))
		return -1;
	return 0;
}
