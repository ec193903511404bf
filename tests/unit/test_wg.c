// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * user/lib/wg.c: parsing, index extraction, mac1 against a real
 * wireguard-go handshake (tests/unit/wg_vectors.h, made by
 * scripts/capture-wg-vectors.sh), base64 keys.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "wg.h"
#include "wg_vectors.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* A synthetic message: type, zero reserved, then bytes 4.. = i & 0xff. */
static void mk(uint8_t *buf, size_t len, uint8_t type)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + 1);
	if (len > 0)
		buf[0] = type;
	for (i = 1; i < 4 && i < len; i++)
		buf[i] = 0;
}

static int parse_ok(uint8_t type, size_t len)
{
	uint8_t buf[2048];
	struct xr_wg_msg m;

	mk(buf, len, type);
	return xr_wg_parse(buf, len, &m) == 0 && m.type == type;
}

static void test_parse_valid(void)
{
	struct xr_wg_msg m;
	uint8_t buf[256];

	CU_ASSERT_EQUAL_FATAL(xr_wg_parse(wgv_initiation, sizeof(wgv_initiation), &m), 0);
	CU_ASSERT_EQUAL(m.type, XR_WG_TYPE_INITIATION);
	CU_ASSERT_EQUAL(m.receiver, 0);
	CU_ASSERT_PTR_EQUAL(m.mac1, wgv_initiation + 116);
	CU_ASSERT_EQUAL(m.mac1_off, 116);

	CU_ASSERT_EQUAL_FATAL(xr_wg_parse(wgv_response, sizeof(wgv_response), &m), 0);
	CU_ASSERT_EQUAL(m.type, XR_WG_TYPE_RESPONSE);
	CU_ASSERT_PTR_EQUAL(m.mac1, wgv_response + 60);
	CU_ASSERT_EQUAL(m.mac1_off, 60);

	mk(buf, XR_WG_COOKIE_LEN, XR_WG_TYPE_COOKIE);
	CU_ASSERT_EQUAL_FATAL(xr_wg_parse(buf, XR_WG_COOKIE_LEN, &m), 0);
	CU_ASSERT_EQUAL(m.type, XR_WG_TYPE_COOKIE);
	CU_ASSERT_EQUAL(m.sender, 0);
	CU_ASSERT_EQUAL(m.receiver, le32(buf + 4));
	CU_ASSERT_PTR_NULL(m.mac1);

	CU_ASSERT_EQUAL_FATAL(xr_wg_parse(wgv_data, sizeof(wgv_data), &m), 0);
	CU_ASSERT_EQUAL(m.type, XR_WG_TYPE_DATA);
	CU_ASSERT_EQUAL(m.sender, 0);
	CU_ASSERT_PTR_NULL(m.mac1);

	/* keepalive: empty payload, header + tag */
	CU_ASSERT(parse_ok(XR_WG_TYPE_DATA, 32));
	CU_ASSERT(parse_ok(XR_WG_TYPE_DATA, 48));
	CU_ASSERT(parse_ok(XR_WG_TYPE_DATA, 1440));
	CU_ASSERT(parse_ok(XR_WG_TYPE_DATA, 2032));
}

static void test_parse_wrong_length(void)
{
	struct xr_wg_msg m;
	static const size_t bad_init[] = { 0, 4, 32, 92, 116, 132, 147, 149, 164 };
	static const size_t bad_resp[] = { 4, 60, 76, 91, 93, 148 };
	static const size_t bad_cookie[] = { 4, 32, 63, 65, 80 };
	size_t i;

	for (i = 0; i < sizeof(bad_init) / sizeof(bad_init[0]); i++)
		CU_ASSERT(!parse_ok(XR_WG_TYPE_INITIATION, bad_init[i]));
	for (i = 0; i < sizeof(bad_resp) / sizeof(bad_resp[0]); i++)
		CU_ASSERT(!parse_ok(XR_WG_TYPE_RESPONSE, bad_resp[i]));
	for (i = 0; i < sizeof(bad_cookie) / sizeof(bad_cookie[0]); i++)
		CU_ASSERT(!parse_ok(XR_WG_TYPE_COOKIE, bad_cookie[i]));
	/* data shorter than header + tag */
	CU_ASSERT(!parse_ok(XR_WG_TYPE_DATA, 0));
	CU_ASSERT(!parse_ok(XR_WG_TYPE_DATA, 4));
	CU_ASSERT(!parse_ok(XR_WG_TYPE_DATA, 16));
	CU_ASSERT(!parse_ok(XR_WG_TYPE_DATA, 31));

	/* truncated real messages */
	CU_ASSERT_EQUAL(xr_wg_parse(wgv_initiation, sizeof(wgv_initiation) - 1, &m), -1);
	CU_ASSERT_EQUAL(xr_wg_parse(wgv_response, sizeof(wgv_response) - 16, &m), -1);
	CU_ASSERT_EQUAL(xr_wg_parse(wgv_data, 3, &m), -1);
	CU_ASSERT_EQUAL(xr_wg_parse(NULL, 0, &m), -1);
}

/* WireGuard pads the plaintext to a multiple of 16 *capped at the MTU*
 * (wireguard-go: paddedSize = min((n + 15) & ~15, mtu)), so a full-size
 * message with a 1420-byte MTU is 1452 bytes, not a multiple of 16.  Only
 * the minimum (header + empty payload's tag) is checked. */
static void test_parse_data_padding(void)
{
	size_t len;

	for (len = 0; len < 32; len++)
		CU_ASSERT(!parse_ok(XR_WG_TYPE_DATA, len));
	for (len = 32; len <= 100; len++)
		CU_ASSERT(parse_ok(XR_WG_TYPE_DATA, len));
	CU_ASSERT(parse_ok(XR_WG_TYPE_DATA, 1452));   /* 1420-byte MTU, full packet */
	CU_ASSERT(parse_ok(XR_WG_TYPE_DATA, 1441));
}

static void test_parse_reserved(void)
{
	static const struct { uint8_t type; size_t len; } ok[] = {
		{ XR_WG_TYPE_INITIATION, XR_WG_INIT_LEN },
		{ XR_WG_TYPE_RESPONSE, XR_WG_RESP_LEN },
		{ XR_WG_TYPE_COOKIE, XR_WG_COOKIE_LEN },
		{ XR_WG_TYPE_DATA, 64 },
	};
	uint8_t buf[256];
	struct xr_wg_msg m;
	size_t i, r;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		for (r = 1; r < 4; r++) {
			mk(buf, ok[i].len, ok[i].type);
			CU_ASSERT_EQUAL(xr_wg_parse(buf, ok[i].len, &m), 0);
			buf[r] = 0x01;
			CU_ASSERT_EQUAL(xr_wg_parse(buf, ok[i].len, &m), -1);
			buf[r] = 0x80;
			CU_ASSERT_EQUAL(xr_wg_parse(buf, ok[i].len, &m), -1);
		}
	}
	/* the real initiation with its reserved bytes disturbed */
	memcpy(buf, wgv_initiation, sizeof(wgv_initiation));
	buf[3] = 1;
	CU_ASSERT_EQUAL(xr_wg_parse(buf, sizeof(wgv_initiation), &m), -1);
}

static void test_parse_unknown_type(void)
{
	static const uint8_t types[] = { 0, 5, 6, 0x11, 0x45, 0x80, 0xff };
	size_t i;

	for (i = 0; i < sizeof(types); i++) {
		CU_ASSERT(!parse_ok(types[i], 32));
		CU_ASSERT(!parse_ok(types[i], 64));
		CU_ASSERT(!parse_ok(types[i], 92));
		CU_ASSERT(!parse_ok(types[i], 148));
	}
}

static void test_indices(void)
{
	struct xr_wg_msg init, resp, data, m;
	uint8_t buf[XR_WG_COOKIE_LEN];

	CU_ASSERT_EQUAL_FATAL(xr_wg_parse(wgv_initiation, sizeof(wgv_initiation), &init), 0);
	CU_ASSERT_EQUAL_FATAL(xr_wg_parse(wgv_response, sizeof(wgv_response), &resp), 0);
	CU_ASSERT_EQUAL_FATAL(xr_wg_parse(wgv_data, sizeof(wgv_data), &data), 0);

	CU_ASSERT_EQUAL(init.sender, le32(wgv_initiation + 4));
	CU_ASSERT_EQUAL(resp.sender, le32(wgv_response + 4));
	CU_ASSERT_EQUAL(resp.receiver, le32(wgv_response + 8));
	CU_ASSERT_EQUAL(data.receiver, le32(wgv_data + 4));
	/* the handshake ties them together */
	CU_ASSERT_EQUAL(resp.receiver, init.sender);
	CU_ASSERT_EQUAL(data.receiver, resp.sender);
	CU_ASSERT_NOT_EQUAL(init.sender, resp.sender);

	/* byte order: wire 01 02 03 04 is 0x04030201 on every host */
	mk(buf, sizeof(buf), XR_WG_TYPE_COOKIE);
	buf[4] = 0x01, buf[5] = 0x02, buf[6] = 0x03, buf[7] = 0x04;
	CU_ASSERT_EQUAL_FATAL(xr_wg_parse(buf, sizeof(buf), &m), 0);
	CU_ASSERT_EQUAL(m.receiver, 0x04030201u);
	buf[4] = 0xff, buf[5] = 0xff, buf[6] = 0xff, buf[7] = 0xfe;
	CU_ASSERT_EQUAL_FATAL(xr_wg_parse(buf, sizeof(buf), &m), 0);
	CU_ASSERT_EQUAL(m.receiver, 0xfeffffffu);
}

static int verify(const uint8_t *buf, size_t len, const uint8_t pub[32])
{
	struct xr_wg_msg m;
	uint8_t key[32];

	if (xr_wg_parse(buf, len, &m) || xr_wg_mac1_key(pub, key))
		return -2;
	return xr_wg_mac1_verify(buf, len, &m, key);
}

static void test_mac1_real(void)
{
	uint8_t k1[32], k2[32], mac[16];

	/* the right key */
	CU_ASSERT_EQUAL(verify(wgv_initiation, sizeof(wgv_initiation), WGV_INITIATION_MAC1_PUB), 1);
	CU_ASSERT_EQUAL(verify(wgv_response, sizeof(wgv_response), WGV_RESPONSE_MAC1_PUB), 1);
	CU_ASSERT_EQUAL(verify(wgv_initiation, sizeof(wgv_initiation), wgv_responder_pub), 1);
	CU_ASSERT_EQUAL(verify(wgv_response, sizeof(wgv_response), wgv_initiator_pub), 1);
	/* the other key */
	CU_ASSERT_EQUAL(verify(wgv_initiation, sizeof(wgv_initiation), wgv_initiator_pub), 0);
	CU_ASSERT_EQUAL(verify(wgv_response, sizeof(wgv_response), wgv_responder_pub), 0);

	/* compute reproduces the bytes on the wire */
	CU_ASSERT_EQUAL_FATAL(xr_wg_mac1_key(wgv_responder_pub, k1), 0);
	CU_ASSERT_EQUAL_FATAL(xr_wg_mac1_compute(wgv_initiation, 116, k1, mac), 0);
	CU_ASSERT_EQUAL(memcmp(mac, wgv_initiation + 116, 16), 0);
	CU_ASSERT_EQUAL_FATAL(xr_wg_mac1_key(wgv_initiator_pub, k2), 0);
	CU_ASSERT_EQUAL_FATAL(xr_wg_mac1_compute(wgv_response, 60, k2, mac), 0);
	CU_ASSERT_EQUAL(memcmp(mac, wgv_response + 60, 16), 0);

	/* mac1_key is deterministic and key-dependent */
	CU_ASSERT_EQUAL_FATAL(xr_wg_mac1_key(wgv_responder_pub, k2), 0);
	CU_ASSERT_EQUAL(memcmp(k1, k2, 32), 0);
	CU_ASSERT_EQUAL_FATAL(xr_wg_mac1_key(wgv_initiator_pub, k2), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(k1, k2, 32), 0);

	/* repeated use (cached algorithms) gives the same answer */
	for (int i = 0; i < 100; i++)
		CU_ASSERT_EQUAL(verify(wgv_initiation, sizeof(wgv_initiation), wgv_responder_pub), 1);
}

static void test_mac1_flip(void)
{
	uint8_t buf[XR_WG_INIT_LEN];
	size_t i;

	/* any flipped bit in the covered part or in mac1 fails */
	for (i = 4; i < 132; i++) {
		memcpy(buf, wgv_initiation, sizeof(buf));
		buf[i] ^= 0x01;
		CU_ASSERT_EQUAL(verify(buf, sizeof(buf), wgv_responder_pub), 0);
	}
	memcpy(buf, wgv_response, sizeof(wgv_response));
	buf[20] ^= 0x80;
	CU_ASSERT_EQUAL(verify(buf, sizeof(wgv_response), wgv_initiator_pub), 0);
	memcpy(buf, wgv_response, sizeof(wgv_response));
	buf[75] ^= 0x01;
	CU_ASSERT_EQUAL(verify(buf, sizeof(wgv_response), wgv_initiator_pub), 0);

	/* mac2 is not covered by mac1 */
	memcpy(buf, wgv_initiation, sizeof(buf));
	buf[140] ^= 0xff;
	CU_ASSERT_EQUAL(verify(buf, sizeof(buf), wgv_responder_pub), 1);
	memcpy(buf, wgv_response, sizeof(wgv_response));
	buf[80] ^= 0xff;
	CU_ASSERT_EQUAL(verify(buf, sizeof(wgv_response), wgv_initiator_pub), 1);

	/* a key differing in one bit */
	memcpy(buf, wgv_responder_pub, 32);
	buf[31] ^= 0x01;
	CU_ASSERT_EQUAL(verify(wgv_initiation, sizeof(wgv_initiation), buf), 0);
}

static void test_mac1_no_mac(void)
{
	struct xr_wg_msg m;
	uint8_t key[32];

	CU_ASSERT_EQUAL_FATAL(xr_wg_mac1_key(wgv_initiator_pub, key), 0);
	CU_ASSERT_EQUAL_FATAL(xr_wg_parse(wgv_data, sizeof(wgv_data), &m), 0);
	CU_ASSERT_EQUAL(xr_wg_mac1_verify(wgv_data, sizeof(wgv_data), &m, key), 0);
	/* a struct that does not describe this buffer is not trusted */
	CU_ASSERT_EQUAL_FATAL(xr_wg_parse(wgv_response, sizeof(wgv_response), &m), 0);
	CU_ASSERT_EQUAL(xr_wg_mac1_verify(wgv_response, 70, &m, key), 0);
}

static void test_base64_real(void)
{
	char s[45];
	uint8_t k[32];

	xr_wg_key_to_base64(wgv_initiator_pub, s);
	CU_ASSERT_STRING_EQUAL(s, wgv_initiator_pub_b64);
	xr_wg_key_to_base64(wgv_responder_pub, s);
	CU_ASSERT_STRING_EQUAL(s, wgv_responder_pub_b64);
	CU_ASSERT_EQUAL(strlen(s), 44);

	CU_ASSERT_EQUAL_FATAL(xr_wg_key_from_base64(wgv_initiator_pub_b64, k), 0);
	CU_ASSERT_EQUAL(memcmp(k, wgv_initiator_pub, 32), 0);
	CU_ASSERT_EQUAL_FATAL(xr_wg_key_from_base64(wgv_responder_pub_b64, k), 0);
	CU_ASSERT_EQUAL(memcmp(k, wgv_responder_pub, 32), 0);
}

static void test_base64_roundtrip(void)
{
	uint8_t key[32], back[32];
	char s[45];
	unsigned i, j, seed = 12345;

	for (i = 0; i < 256; i++) {
		for (j = 0; j < 32; j++) {
			seed = seed * 1103515245u + 12345u;
			key[j] = (uint8_t)(seed >> 16);
		}
		if (i == 0)
			memset(key, 0, 32);
		if (i == 1)
			memset(key, 0xff, 32);
		memset(s, 'x', sizeof(s));
		xr_wg_key_to_base64(key, s);
		CU_ASSERT_EQUAL(strlen(s), 44);
		CU_ASSERT_EQUAL(s[43], '=');
		CU_ASSERT_NOT_EQUAL(s[42], '=');
		memset(back, 0xaa, sizeof(back));
		CU_ASSERT_EQUAL(xr_wg_key_from_base64(s, back), 0);
		CU_ASSERT_EQUAL(memcmp(key, back, 32), 0);
	}
	xr_wg_key_to_base64((const uint8_t[32]){ 0 }, s);
	CU_ASSERT_STRING_EQUAL(s, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
}

static void test_base64_reject(void)
{
	char s[64];
	uint8_t k[32];
	const char *good = wgv_initiator_pub_b64;
	static const char bad_chars[] = { '*', '-', '_', ' ', '\n', '.', '=', '\x80' };
	size_t i;

	CU_ASSERT_EQUAL(xr_wg_key_from_base64("", k), -1);
	CU_ASSERT_EQUAL(xr_wg_key_from_base64("AAAA", k), -1);
	/* 43: padding dropped */
	snprintf(s, sizeof(s), "%.43s", good);
	CU_ASSERT_EQUAL(xr_wg_key_from_base64(s, k), -1);
	/* 45: extra padding, extra character, trailing newline, leading space */
	snprintf(s, sizeof(s), "%s=", good);
	CU_ASSERT_EQUAL(xr_wg_key_from_base64(s, k), -1);
	snprintf(s, sizeof(s), "%.43sAA", good);
	CU_ASSERT_EQUAL(xr_wg_key_from_base64(s, k), -1);
	snprintf(s, sizeof(s), "%s\n", good);
	CU_ASSERT_EQUAL(xr_wg_key_from_base64(s, k), -1);
	snprintf(s, sizeof(s), " %s", good);
	CU_ASSERT_EQUAL(xr_wg_key_from_base64(s, k), -1);
	/* 44 chars without padding (33 bytes) */
	snprintf(s, sizeof(s), "%.43sA", good);
	CU_ASSERT_EQUAL(xr_wg_key_from_base64(s, k), -1);
	/* wrong padding: "==" (a 31-byte key plus junk) */
	snprintf(s, sizeof(s), "%.42s==", good);
	CU_ASSERT_EQUAL(xr_wg_key_from_base64(s, k), -1);
	/* 48-char encoding of 34/35 bytes */
	CU_ASSERT_EQUAL(xr_wg_key_from_base64(
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==", k), -1);
	/* non-base64 character in every position */
	for (i = 0; i < 43; i++) {
		for (size_t c = 0; c < sizeof(bad_chars); c++) {
			snprintf(s, sizeof(s), "%s", good);
			s[i] = bad_chars[c];
			CU_ASSERT_EQUAL(xr_wg_key_from_base64(s, k), -1);
		}
	}
	/* non-canonical: the last character's unused low bits set ('A'+1) */
	snprintf(s, sizeof(s), "%s", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=");
	CU_ASSERT_EQUAL(xr_wg_key_from_base64(s, k), -1);
	s[42] = 'E'; /* value 4: low bits clear */
	CU_ASSERT_EQUAL(xr_wg_key_from_base64(s, k), 0);
	CU_ASSERT_EQUAL(k[31], 0x01);
	/* an embedded NUL shortens the string */
	snprintf(s, sizeof(s), "%s", good);
	s[20] = '\0';
	CU_ASSERT_EQUAL(xr_wg_key_from_base64(s, k), -1);
}

int xr_register_wg(void)
{
	CU_pSuite s = CU_add_suite("wg", NULL, NULL);

	if (!s)
		return -1;
	if (!CU_add_test(s, "parse valid messages", test_parse_valid) ||
	    !CU_add_test(s, "parse wrong lengths", test_parse_wrong_length) ||
	    !CU_add_test(s, "parse data padding", test_parse_data_padding) ||
	    !CU_add_test(s, "parse reserved bytes", test_parse_reserved) ||
	    !CU_add_test(s, "parse unknown type", test_parse_unknown_type) ||
	    !CU_add_test(s, "indices", test_indices) ||
	    !CU_add_test(s, "mac1 real handshake", test_mac1_real) ||
	    !CU_add_test(s, "mac1 flipped bytes", test_mac1_flip) ||
	    !CU_add_test(s, "mac1 without mac1", test_mac1_no_mac) ||
	    !CU_add_test(s, "base64 real keys", test_base64_real) ||
	    !CU_add_test(s, "base64 round trip", test_base64_roundtrip) ||
	    !CU_add_test(s, "base64 rejects", test_base64_reject))
		return -1;
	return 0;
}
