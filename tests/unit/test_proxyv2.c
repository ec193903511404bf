// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * PROXY protocol v2 header builder (user/lib/proxyv2.c): byte-exact
 * headers for IPv4, IPv6, mixed families and an absent server, and the
 * refusals (bad families, short buffer).
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "proxyv2.h"

#define SIG 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a

static struct xr_proto_ep ep(uint8_t family, uint16_t port, const char *ip)
{
	struct xr_proto_ep e;

	memset(&e, 0, sizeof(e));
	e.family = family;
	e.port = port;
	if (ip)
		CU_ASSERT_EQUAL(inet_pton(family == 4 ? AF_INET : AF_INET6, ip, e.addr), 1);
	return e;
}

/* build into a buffer pre-filled with 0xee: exact bytes, nothing past them */
static void expect(const struct xr_proto_ep *c, const struct xr_proto_ep *s,
		   const uint8_t *want, size_t n)
{
	uint8_t out[80];
	int rc;

	memset(out, 0xee, sizeof(out));
	rc = xr_proxy_v2(out, sizeof(out), c, s);
	CU_ASSERT_EQUAL(rc, (int)n);
	CU_ASSERT_EQUAL(memcmp(out, want, n), 0);
	for (size_t i = n; i < sizeof(out); i++)
		if (out[i] != 0xee) {
			CU_FAIL("wrote past the header");
			break;
		}
	/* an exact-size buffer is enough, one byte less is not */
	CU_ASSERT_EQUAL(xr_proxy_v2(out, n, c, s), (int)n);
	CU_ASSERT_EQUAL(xr_proxy_v2(out, n - 1, c, s), -1);
}

static void test_v4(void)
{
	static const uint8_t want[XR_PROXY_V2_LEN4] = {
		SIG, 0x21, 0x11, 0x00, 0x0c,
		198, 18, 0, 7,          /* source 198.18.0.7 */
		203, 0, 113, 1,         /* destination 203.0.113.1 */
		0xc3, 0xcb,             /* 50123 */
		0x01, 0xbb,             /* 443 */
	};
	struct xr_proto_ep c = ep(4, 50123, "198.18.0.7"), s = ep(4, 443, "203.0.113.1");

	CU_ASSERT_EQUAL(XR_PROXY_V2_LEN4, 28);
	CU_ASSERT_EQUAL(memcmp(XR_PROXY_V2_SIG, want, XR_PROXY_V2_SIG_LEN), 0);
	expect(&c, &s, want, sizeof(want));
}

static void test_v6(void)
{
	static const uint8_t want[XR_PROXY_V2_LEN6] = {
		SIG, 0x21, 0x21, 0x00, 0x24,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07,  /* 2001:db8::7 */
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,  /* 2001:db8::1 */
		0xc3, 0x51,             /* 50001 */
		0x01, 0xbb,             /* 443 */
	};
	struct xr_proto_ep c = ep(6, 50001, "2001:db8::7"), s = ep(6, 443, "2001:db8::1");

	CU_ASSERT_EQUAL(XR_PROXY_V2_LEN6, 52);
	expect(&c, &s, want, sizeof(want));
}

static void test_mixed(void)
{
	/* IPv4 client, IPv6 server: both as IPv6, the client mapped */
	static const uint8_t want_4_6[XR_PROXY_V2_LEN6] = {
		SIG, 0x21, 0x21, 0x00, 0x24,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 18, 0, 7,       /* ::ffff:198.18.0.7 */
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,  /* 2001:db8::1 */
		0xc3, 0xcb, 0x01, 0xbb,
	};
	/* IPv6 client, IPv4 server: the server mapped */
	static const uint8_t want_6_4[XR_PROXY_V2_LEN6] = {
		SIG, 0x21, 0x21, 0x00, 0x24,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07,  /* 2001:db8::7 */
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 1,      /* ::ffff:203.0.113.1 */
		0xc3, 0x51, 0x20, 0xfb,                                         /* 50001, 8443 */
	};
	struct xr_proto_ep c4 = ep(4, 50123, "198.18.0.7"), s6 = ep(6, 443, "2001:db8::1");
	struct xr_proto_ep c6 = ep(6, 50001, "2001:db8::7"), s4 = ep(4, 8443, "203.0.113.1");

	expect(&c4, &s6, want_4_6, sizeof(want_4_6));
	expect(&c6, &s4, want_6_4, sizeof(want_6_4));
}

static void test_no_server(void)
{
	static const uint8_t want4[XR_PROXY_V2_LEN4] = {
		SIG, 0x21, 0x11, 0x00, 0x0c,
		198, 18, 0, 7, 0, 0, 0, 0,      /* to 0.0.0.0 */
		0xc3, 0xcb, 0x00, 0x00,         /* port 0 */
	};
	static const uint8_t want6[XR_PROXY_V2_LEN6] = {
		SIG, 0x21, 0x21, 0x00, 0x24,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x07,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                 /* to :: */
		0xc3, 0x51, 0x00, 0x00,
	};
	struct xr_proto_ep c4 = ep(4, 50123, "198.18.0.7"), c6 = ep(6, 50001, "2001:db8::7");
	struct xr_proto_ep none = ep(0, 0, NULL);

	/* absent = NULL or family 0 (whatever its other fields hold) */
	expect(&c4, NULL, want4, sizeof(want4));
	expect(&c4, &none, want4, sizeof(want4));
	none.port = 443;
	memset(none.addr, 0xab, sizeof(none.addr));
	expect(&c4, &none, want4, sizeof(want4));
	expect(&c6, NULL, want6, sizeof(want6));
	expect(&c6, &none, want6, sizeof(want6));
}

static void test_refusals(void)
{
	uint8_t out[64];
	struct xr_proto_ep c = ep(4, 1, "10.0.0.1"), s = ep(4, 2, "10.0.0.2");
	struct xr_proto_ep c6 = ep(6, 1, "::1");

	CU_ASSERT_EQUAL(xr_proxy_v2(out, sizeof(out), NULL, &s), -1);
	CU_ASSERT_EQUAL(xr_proxy_v2(NULL, 64, &c, &s), -1);
	CU_ASSERT_EQUAL(xr_proxy_v2(out, 0, &c, &s), -1);
	CU_ASSERT_EQUAL(xr_proxy_v2(out, XR_PROXY_V2_LEN4 - 1, &c, &s), -1);
	CU_ASSERT_EQUAL(xr_proxy_v2(out, XR_PROXY_V2_LEN4, &c, &s), XR_PROXY_V2_LEN4);
	/* a mixed pair needs the IPv6 size */
	CU_ASSERT_EQUAL(xr_proxy_v2(out, XR_PROXY_V2_LEN4, &c6, &s), -1);
	CU_ASSERT_EQUAL(xr_proxy_v2(out, XR_PROXY_V2_LEN6 - 1, &c, &c6), -1);
	CU_ASSERT_EQUAL(xr_proxy_v2(out, XR_PROXY_V2_LEN6, &c, &c6), XR_PROXY_V2_LEN6);
	/* families other than 4/6 (and 0 for the server) */
	c.family = 0;
	CU_ASSERT_EQUAL(xr_proxy_v2(out, sizeof(out), &c, &s), -1);
	CU_ASSERT_EQUAL(xr_proxy_v2(out, sizeof(out), &c, NULL), -1);
	c.family = 2;   /* AF_INET is not 4 */
	CU_ASSERT_EQUAL(xr_proxy_v2(out, sizeof(out), &c, &s), -1);
	c.family = 4;
	s.family = 10;  /* nor AF_INET6 6 */
	CU_ASSERT_EQUAL(xr_proxy_v2(out, sizeof(out), &c, &s), -1);
	s.family = 5;
	CU_ASSERT_EQUAL(xr_proxy_v2(out, sizeof(out), &c, &s), -1);
}

int xr_register_proxyv2(void)
{
	CU_pSuite s = CU_add_suite("proxyv2", NULL, NULL);

	if (!s)
		return -1;
	if (!CU_add_test(s, "TCP over IPv4", test_v4) ||
	    !CU_add_test(s, "TCP over IPv6", test_v6) ||
	    !CU_add_test(s, "mixed families as IPv6", test_mixed) ||
	    !CU_add_test(s, "server absent", test_no_server) ||
	    !CU_add_test(s, "refusals", test_refusals))
		return -1;
	return 0;
}
