// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * WireGuard message parsing and mac1 verification (see wg.h).
 *
 * The only state is a process-wide cache of the two OpenSSL algorithm
 * handles, fetched once under pthread_once: EVP_MD_fetch/EVP_MAC_fetch walk
 * the provider store and take locks, which is far more expensive than the
 * BLAKE2s itself, and the relay tries one mac1 key per tenant for every
 * initiation.  Fetched objects are immutable and safe to share between
 * threads; each computation uses its own context.
 */
#include "wg.h"

#include <pthread.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define WG_MAC1_LEN        16
#define WG_INIT_MAC1_OFF   116
#define WG_RESP_MAC1_OFF   60
#define WG_LABEL_MAC1      "mac1----"
#define WG_KEY_B64_LEN     44 /* 4 * ceil(32 / 3) */

static EVP_MD *blake2s_md;
static EVP_MAC *blake2s_mac;
static pthread_once_t algs_once = PTHREAD_ONCE_INIT;

static void algs_fetch(void)
{
	blake2s_md = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	blake2s_mac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
}

static int algs_ready(void)
{
	if (pthread_once(&algs_once, algs_fetch) != 0)
		return 0;
	return blake2s_md != NULL && blake2s_mac != NULL;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 |
	       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int xr_wg_parse(const uint8_t *buf, size_t len, struct xr_wg_msg *out)
{
	if (!out)
		return -1;
	memset(out, 0, sizeof(*out));
	if (!buf || len < 4)
		return -1;
	if (buf[1] | buf[2] | buf[3])
		return -1;

	switch (buf[0]) {
	case XR_WG_TYPE_INITIATION:
		if (len != XR_WG_INIT_LEN)
			return -1;
		out->sender = get_le32(buf + 4);
		out->mac1 = buf + WG_INIT_MAC1_OFF;
		out->mac1_off = WG_INIT_MAC1_OFF;
		break;
	case XR_WG_TYPE_RESPONSE:
		if (len != XR_WG_RESP_LEN)
			return -1;
		out->sender = get_le32(buf + 4);
		out->receiver = get_le32(buf + 8);
		out->mac1 = buf + WG_RESP_MAC1_OFF;
		out->mac1_off = WG_RESP_MAC1_OFF;
		break;
	case XR_WG_TYPE_COOKIE:
		if (len != XR_WG_COOKIE_LEN)
			return -1;
		out->receiver = get_le32(buf + 4);
		break;
	case XR_WG_TYPE_DATA:
		/* padding to 16 bytes is capped at the MTU: no modulo check */
		if (len < XR_WG_DATA_MIN_LEN)
			return -1;
		out->receiver = get_le32(buf + 4);
		break;
	default:
		return -1;
	}
	out->type = buf[0];
	return 0;
}

int xr_wg_mac1_key(const uint8_t pubkey[32], uint8_t key[32])
{
	EVP_MD_CTX *ctx;
	unsigned int n = 0;
	int ok;

	if (!pubkey || !key || !algs_ready())
		return -1;
	ctx = EVP_MD_CTX_new();
	if (!ctx)
		return -1;
	ok = EVP_DigestInit_ex2(ctx, blake2s_md, NULL) &&
	     EVP_DigestUpdate(ctx, WG_LABEL_MAC1, sizeof(WG_LABEL_MAC1) - 1) &&
	     EVP_DigestUpdate(ctx, pubkey, XR_WG_KEY_LEN) &&
	     EVP_DigestFinal_ex(ctx, key, &n) && n == XR_WG_KEY_LEN;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

int xr_wg_mac1_compute(const uint8_t *buf, size_t covered, const uint8_t mac1_key[32],
		       uint8_t mac[16])
{
	EVP_MAC_CTX *ctx;
	size_t outsize = WG_MAC1_LEN, n = 0;
	OSSL_PARAM params[2];
	int ok;

	if ((!buf && covered) || !mac1_key || !mac || !algs_ready())
		return -1;
	ctx = EVP_MAC_CTX_new(blake2s_mac);
	if (!ctx)
		return -1;
	/* BLAKE2s-128 keyed: the digest length is part of the BLAKE2 parameter
	 * block, so this is not a truncated BLAKE2s-256 MAC. */
	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &outsize);
	params[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(ctx, mac1_key, XR_WG_KEY_LEN, params) &&
	     EVP_MAC_update(ctx, buf, covered) &&
	     EVP_MAC_final(ctx, mac, &n, WG_MAC1_LEN) && n == WG_MAC1_LEN;
	EVP_MAC_CTX_free(ctx);
	return ok ? 0 : -1;
}

int xr_wg_mac1_verify(const uint8_t *buf, size_t len, const struct xr_wg_msg *m,
		      const uint8_t mac1_key[32])
{
	uint8_t mac[WG_MAC1_LEN];

	if (!buf || !m || !mac1_key)
		return -1;
	/* Only types 1 and 2 carry mac1; insist that it lies where the parser
	 * put it, inside this buffer, so a stale struct cannot read out of
	 * bounds. */
	if (!m->mac1 || m->mac1_off == 0 || m->mac1_off > len ||
	    len - m->mac1_off < WG_MAC1_LEN || m->mac1 != buf + m->mac1_off)
		return 0;
	if (xr_wg_mac1_compute(buf, m->mac1_off, mac1_key, mac) < 0)
		return -1;
	return CRYPTO_memcmp(mac, m->mac1, WG_MAC1_LEN) == 0 ? 1 : 0;
}

void xr_wg_key_to_base64(const uint8_t key[32], char out[45])
{
	/* EVP_EncodeBlock writes 44 characters and a NUL. */
	EVP_EncodeBlock((unsigned char *)out, key, XR_WG_KEY_LEN);
}

static int is_b64(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : 63;
}

int xr_wg_key_from_base64(const char *s, uint8_t key[32])
{
	unsigned char tmp[36]; /* 44 chars decode to 33 bytes (pad counted) */
	int n, i;

	if (!s || !key)
		return -1;
	/* EVP_DecodeBlock is lenient (strips surrounding whitespace, does not
	 * account for '='), so check the exact form first: 43 alphabet
	 * characters and one '='.  32 bytes are 256 bits, 43 characters carry
	 * 258: the last character's two low bits must be zero (canonical
	 * encoding, as wg(8) insists too). */
	if (strnlen(s, WG_KEY_B64_LEN + 1) != WG_KEY_B64_LEN || s[WG_KEY_B64_LEN - 1] != '=')
		return -1;
	for (i = 0; i < WG_KEY_B64_LEN - 1; i++)
		if (!is_b64(s[i]))
			return -1;
	if (b64_val(s[WG_KEY_B64_LEN - 2]) & 3)
		return -1;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)s, WG_KEY_B64_LEN);
	if (n != XR_WG_KEY_LEN + 1 || tmp[XR_WG_KEY_LEN] != 0) {
		OPENSSL_cleanse(tmp, sizeof(tmp));
		return -1;
	}
	memcpy(key, tmp, XR_WG_KEY_LEN);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return 0;
}
