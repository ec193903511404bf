// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ClientHello reassembly and SNI/ALPN extraction (user/lib/clienthello.c).
 *
 * Real captures from curl, openssl s_client and python3's ssl module
 * (clienthello_corpus.h, made by scripts/capture-clienthellos.sh) are fed
 * whole, one byte at a time and split at every offset; a hand-built 1.7 KB
 * (post-quantum sized) ClientHello is split across 3 TLS records; then
 * hand-made malformed hellos, one defect each.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "clienthello.h"
#include "clienthello_corpus.h"

/* struct xr_chello is ~16.5 KiB: one per test, on the heap */
static struct xr_chello *new_st(size_t max)
{
	struct xr_chello *st = malloc(sizeof(*st));

	if (st)
		xr_chello_init(st, max);
	return st;
}

/* Feed buf in pieces of `step` bytes (0 = whole); returns the last rc. */
static int feed_step(struct xr_chello *st, const uint8_t *buf, size_t len, size_t step)
{
	size_t off = 0, n;
	int rc = XR_CH_NEED_MORE;

	if (!step)
		step = len ? len : 1;
	while (off < len && rc == XR_CH_NEED_MORE) {
		n = len - off < step ? len - off : step;
		rc = xr_chello_feed(st, buf + off, n);
		off += n;
	}
	return rc;
}

static int run(const uint8_t *buf, size_t len, size_t step, char *sni, size_t snisz)
{
	struct xr_chello *st = new_st(0);
	int rc;

	if (!st)
		return -100;
	rc = feed_step(st, buf, len, step);
	if (sni)
		snprintf(sni, snisz, "%s", xr_chello_sni(st));
	free(st);
	return rc;
}

/* ---- builders for hand-made hellos ----------------------------------- */

#define NO_EXTS ((size_t)-1)

static size_t put16(uint8_t *o, size_t v) { o[0] = (uint8_t)(v >> 8); o[1] = (uint8_t)v; return 2; }

/* handshake message: type, 3-byte length, TLS 1.2 body with the given extensions block */
static size_t hs_msg(uint8_t *o, uint8_t type, const uint8_t *ext, size_t extlen)
{
	size_t n = 4, body;

	n += put16(o + n, 0x0303);
	memset(o + n, 0xab, 32); n += 32;              /* random */
	o[n++] = 32; memset(o + n, 0xcd, 32); n += 32; /* session id */
	n += put16(o + n, 4); n += put16(o + n, 0x1301); n += put16(o + n, 0xc02f);
	o[n++] = 1; o[n++] = 0;                         /* null compression */
	if (extlen != NO_EXTS) {
		n += put16(o + n, extlen);
		memcpy(o + n, ext, extlen); n += extlen;
	}
	body = n - 4;
	o[0] = type; o[1] = (uint8_t)(body >> 16); o[2] = (uint8_t)(body >> 8); o[3] = (uint8_t)body;
	return n;
}

/* wrap hs[0..n) in `nrec` handshake records of near-equal size */
static size_t recs(uint8_t *o, const uint8_t *hs, size_t n, size_t nrec)
{
	size_t off = 0, w = 0, i, part;

	for (i = 0; i < nrec; i++) {
		part = i == nrec - 1 ? n - off : n / nrec;
		o[w++] = 22; o[w++] = 3; o[w++] = 1;
		w += put16(o + w, part);
		memcpy(o + w, hs + off, part); w += part; off += part;
	}
	return w;
}

static size_t ext_raw(uint8_t *o, unsigned type, const void *data, size_t len)
{
	put16(o, type); put16(o + 2, len); memcpy(o + 4, data, len);
	return 4 + len;
}

/* server_name extension with one entry of name_type `nt` */
static size_t ext_sni(uint8_t *o, uint8_t nt, const char *name, size_t len)
{
	put16(o, 0); put16(o + 2, len + 5); put16(o + 4, len + 3);
	o[6] = nt; put16(o + 7, len); memcpy(o + 9, name, len);
	return 9 + len;
}

static size_t ext_alpn_h2(uint8_t *o)
{
	static const uint8_t l[] = { 0, 12, 2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };

	return ext_raw(o, 16, l, sizeof(l));
}

/* whole single-record hello with these extensions */
static size_t hello(uint8_t *o, const uint8_t *ext, size_t extlen)
{
	uint8_t hs[17000];

	return recs(o, hs, hs_msg(hs, 1, ext, extlen), 1);
}

static int sni_rc(const char *name, size_t len, char *out, size_t outsz)
{
	uint8_t ext[600], buf[1000];
	size_t e = ext_sni(ext, 0, name, len);

	return run(buf, hello(buf, ext, e), 0, out, outsz);
}

/* ---- real captures --------------------------------------------------- */

struct cap {
	const char *name;
	const uint8_t *buf;
	size_t len;
	const char *sni;
};

static const struct cap caps[] = {
	{ "curl", ch_curl, sizeof(ch_curl), "curl.example.com" },
	{ "openssl", ch_openssl, sizeof(ch_openssl), "openssl.example.org" },
	{ "python", ch_python, sizeof(ch_python), "py.example.net" },
};

static void check_alpn(const struct xr_chello *st)
{
	size_t l0 = 0, l1 = 0;
	const uint8_t *a0 = xr_chello_alpn(st, 0, &l0), *a1 = xr_chello_alpn(st, 1, &l1);

	CU_ASSERT_EQUAL(xr_chello_alpn_count(st), 2);
	CU_ASSERT(a0 && l0 == 2 && !memcmp(a0, "h2", 2));
	CU_ASSERT(a1 && l1 == 8 && !memcmp(a1, "http/1.1", 8));
	CU_ASSERT_PTR_NULL(xr_chello_alpn(st, 2, NULL));
}

static void test_real_whole_and_bytewise(void)
{
	size_t i, step;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		for (step = 0; step <= 1; step++) {
			struct xr_chello *st = new_st(0);

			CU_ASSERT_FATAL(st != NULL);
			CU_ASSERT_EQUAL(feed_step(st, caps[i].buf, caps[i].len, step), XR_CH_DONE);
			CU_ASSERT_STRING_EQUAL(xr_chello_sni(st), caps[i].sni);
			CU_ASSERT_EQUAL(xr_chello_consumed(st), caps[i].len);
			check_alpn(st);
			free(st);
		}
	}
}

static void test_real_split_everywhere(void)
{
	size_t i, at;

	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		const uint8_t *b = caps[i].buf;
		size_t len = caps[i].len;

		for (at = 1; at < len; at++) {
			struct xr_chello *st = new_st(0);
			int r1, r2;

			CU_ASSERT_FATAL(st != NULL);
			r1 = xr_chello_feed(st, b, at);
			r2 = xr_chello_feed(st, b + at, len - at);
			if (r1 != XR_CH_NEED_MORE || r2 != XR_CH_DONE ||
			    strcmp(xr_chello_sni(st), caps[i].sni) || xr_chello_consumed(st) != len) {
				CU_FAIL("split capture");
				free(st);
				return;
			}
			free(st);
		}
	}
}

/* the capture's handshake message re-wrapped into 2..5 records */
static void test_real_rerecorded(void)
{
	uint8_t buf[600];
	size_t n, nrec, step;
	char sni[256];

	for (nrec = 2; nrec <= 5; nrec++) {
		n = recs(buf, ch_curl + 5, sizeof(ch_curl) - 5, nrec);
		CU_ASSERT_EQUAL(n, sizeof(ch_curl) + 5 * (nrec - 1));
		for (step = 0; step <= 7; step += 7) {
			CU_ASSERT_EQUAL(run(buf, n, step, sni, sizeof(sni)), XR_CH_DONE);
			CU_ASSERT_STRING_EQUAL(sni, "curl.example.com");
		}
	}
}

/* pipelined bytes after the ClientHello are not consumed; later feeds are no-ops */
static void test_pipelined_tail(void)
{
	uint8_t buf[700];
	struct xr_chello *st = new_st(0);

	CU_ASSERT_FATAL(st != NULL);
	memcpy(buf, ch_openssl, sizeof(ch_openssl));
	memcpy(buf + sizeof(ch_openssl), "\x14\x03\x03\x00\x01\x01", 6); /* CCS */
	CU_ASSERT_EQUAL(xr_chello_feed(st, buf, sizeof(ch_openssl) + 6), XR_CH_DONE);
	CU_ASSERT_EQUAL(xr_chello_consumed(st), sizeof(ch_openssl));
	CU_ASSERT_EQUAL(xr_chello_feed(st, buf, 6), XR_CH_DONE);
	CU_ASSERT_EQUAL(xr_chello_consumed(st), sizeof(ch_openssl));
	free(st);
}

/* 1.7 KB hello (X25519MLKEM768-sized key_share) across 3 records */
static void test_large_three_records(void)
{
	static uint8_t ext[2000], hs[2100], buf[2200];
	uint8_t ks[1220];
	size_t e = 0, h, n, at, step;
	char sni[256];

	memset(ks, 0x5a, sizeof(ks));
	e += ext_sni(ext + e, 0, "PQ.Example.Com", 14);
	e += ext_alpn_h2(ext + e);
	e += ext_raw(ext + e, 51, ks, sizeof(ks));   /* key_share */
	e += ext_raw(ext + e, 21, ks, 300);           /* padding (content irrelevant) */
	h = hs_msg(hs, 1, ext, e);
	CU_ASSERT(h > 1600 && h < 1800);
	n = recs(buf, hs, h, 3);
	CU_ASSERT_EQUAL(n, h + 15);
	for (step = 0; step <= 1; step++) {
		CU_ASSERT_EQUAL(run(buf, n, step, sni, sizeof(sni)), XR_CH_DONE);
		CU_ASSERT_STRING_EQUAL(sni, "pq.example.com");
	}
	for (at = 1; at < n; at++) {
		struct xr_chello *st = new_st(0);

		CU_ASSERT_FATAL(st != NULL);
		if (xr_chello_feed(st, buf, at) != XR_CH_NEED_MORE ||
		    xr_chello_feed(st, buf + at, n - at) != XR_CH_DONE ||
		    xr_chello_consumed(st) != n || xr_chello_alpn_count(st) != 2) {
			CU_FAIL("large split");
			free(st);
			return;
		}
		free(st);
	}
}

/* ---- rejects --------------------------------------------------------- */

static void test_not_tls(void)
{
	static const uint8_t sslv2[] = { 0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15, 0x00, 0x00, 0x00, 0x10 };
	static const uint8_t http[] = "GET / HTTP/1.1\r\n";
	static const uint8_t alert[] = { 21, 3, 1, 0, 2, 2, 40 };
	uint8_t buf[600];

	CU_ASSERT_EQUAL(run(sslv2, sizeof(sslv2), 0, NULL, 0), XR_CH_NOT_TLS);
	CU_ASSERT_EQUAL(run(sslv2, sizeof(sslv2), 1, NULL, 0), XR_CH_NOT_TLS);
	CU_ASSERT_EQUAL(run(http, sizeof(http) - 1, 1, NULL, 0), XR_CH_NOT_TLS);
	CU_ASSERT_EQUAL(run(alert, sizeof(alert), 0, NULL, 0), XR_CH_NOT_TLS);
	memcpy(buf, ch_curl, sizeof(ch_curl));
	buf[2] = 0x04; /* record version 0x0304 */
	CU_ASSERT_EQUAL(run(buf, sizeof(ch_curl), 1, NULL, 0), XR_CH_NOT_TLS);
	buf[2] = 0x00; /* SSL 3.0 */
	CU_ASSERT_EQUAL(run(buf, sizeof(ch_curl), 0, NULL, 0), XR_CH_NOT_TLS);
	buf[1] = 0x02; buf[2] = 0x01;
	CU_ASSERT_EQUAL(run(buf, sizeof(ch_curl), 0, NULL, 0), XR_CH_NOT_TLS);
}

static void test_bad_records(void)
{
	uint8_t buf[700];
	size_t n;

	/* handshake type 2 (ServerHello) */
	memcpy(buf, ch_curl, sizeof(ch_curl));
	buf[5] = 2;
	CU_ASSERT_EQUAL(run(buf, sizeof(ch_curl), 0, NULL, 0), XR_CH_MALFORMED);
	/* second record not a handshake record */
	n = recs(buf, ch_curl + 5, sizeof(ch_curl) - 5, 2);
	buf[5 + (sizeof(ch_curl) - 5) / 2] = 23;
	CU_ASSERT_EQUAL(run(buf, n, 1, NULL, 0), XR_CH_MALFORMED);
	/* second record with a bad version */
	n = recs(buf, ch_curl + 5, sizeof(ch_curl) - 5, 2);
	buf[5 + (sizeof(ch_curl) - 5) / 2 + 2] = 9;
	CU_ASSERT_EQUAL(run(buf, n, 0, NULL, 0), XR_CH_MALFORMED);
	/* zero-length record */
	memcpy(buf, "\x16\x03\x01\x00\x00", 5);
	CU_ASSERT_EQUAL(run(buf, 5, 0, NULL, 0), XR_CH_MALFORMED);
	/* record longer than 2^14 */
	memcpy(buf, "\x16\x03\x01\x40\x01", 5);
	CU_ASSERT_EQUAL(run(buf, 5, 0, NULL, 0), XR_CH_MALFORMED);
	/* data after the ClientHello inside its record */
	memcpy(buf, ch_curl, sizeof(ch_curl));
	buf[4] += 1;
	buf[sizeof(ch_curl)] = 0;
	CU_ASSERT_EQUAL(run(buf, sizeof(ch_curl) + 1, 0, NULL, 0), XR_CH_MALFORMED);
	/* truncated: needs more, never done */
	CU_ASSERT_EQUAL(run(ch_curl, sizeof(ch_curl) - 1, 1, NULL, 0), XR_CH_NEED_MORE);
	CU_ASSERT_EQUAL(run(ch_curl, 3, 0, NULL, 0), XR_CH_NEED_MORE);
	/* hello body too short for its fixed fields */
	memcpy(buf, "\x16\x03\x01\x00\x08\x01\x00\x00\x04\x03\x03\x00\x00", 13);
	CU_ASSERT_EQUAL(run(buf, 13, 0, NULL, 0), XR_CH_MALFORMED);
}

static void test_too_big(void)
{
	uint8_t buf[16];
	struct xr_chello *st = new_st(300);

	/* handshake length 20000 announced in the first record */
	memcpy(buf, "\x16\x03\x01\x04\x00\x01\x00\x4e\x20", 9);
	CU_ASSERT_EQUAL(run(buf, 9, 1, NULL, 0), XR_CH_TOO_BIG);
	/* a 517-byte hello against max_bytes 300 */
	CU_ASSERT_FATAL(st != NULL);
	CU_ASSERT_EQUAL(feed_step(st, ch_curl, sizeof(ch_curl), 1), XR_CH_TOO_BIG);
	CU_ASSERT(xr_chello_consumed(st) <= 300);
	CU_ASSERT_STRING_EQUAL(xr_chello_sni(st), "");
	free(st);
	/* record length beyond max_bytes, rejected at its header */
	st = new_st(100);
	CU_ASSERT_FATAL(st != NULL);
	CU_ASSERT_EQUAL(xr_chello_feed(st, ch_curl, 5), XR_CH_TOO_BIG);
	CU_ASSERT_EQUAL(xr_chello_feed(st, ch_curl, 5), XR_CH_TOO_BIG);
	free(st);
}

static void test_sni_rules(void)
{
	char sni[300], name[300];

	CU_ASSERT_EQUAL(sni_rc("Example.COM.", 12, sni, sizeof(sni)), XR_CH_DONE);
	CU_ASSERT_STRING_EQUAL(sni, "example.com");
	CU_ASSERT_EQUAL(sni_rc("_acme.xn--bcher-kva.de", 22, sni, sizeof(sni)), XR_CH_DONE);
	CU_ASSERT_STRING_EQUAL(sni, "_acme.xn--bcher-kva.de");
	/* IP literals: done, no SNI */
	CU_ASSERT_EQUAL(sni_rc("192.168.1.1", 11, sni, sizeof(sni)), XR_CH_DONE);
	CU_ASSERT_STRING_EQUAL(sni, "");
	CU_ASSERT_EQUAL(sni_rc("::1", 3, sni, sizeof(sni)), XR_CH_DONE);
	CU_ASSERT_STRING_EQUAL(sni, "");
	CU_ASSERT_EQUAL(sni_rc("[2001:db8::1]", 13, sni, sizeof(sni)), XR_CH_DONE);
	CU_ASSERT_STRING_EQUAL(sni, "");
	/* bad characters and shapes */
	CU_ASSERT_EQUAL(sni_rc("exa mple.com", 12, NULL, 0), XR_CH_MALFORMED);
	CU_ASSERT_EQUAL(sni_rc("b\xc3\xbc" "cher.de", 9, NULL, 0), XR_CH_MALFORMED);
	CU_ASSERT_EQUAL(sni_rc("evil.com\0.good.com", 18, NULL, 0), XR_CH_MALFORMED);
	CU_ASSERT_EQUAL(sni_rc("a..b", 4, NULL, 0), XR_CH_MALFORMED);
	CU_ASSERT_EQUAL(sni_rc(".a.b", 4, NULL, 0), XR_CH_MALFORMED);
	CU_ASSERT_EQUAL(sni_rc("-a.b", 4, NULL, 0), XR_CH_MALFORMED);
	CU_ASSERT_EQUAL(sni_rc("a-.b", 4, NULL, 0), XR_CH_MALFORMED);
	CU_ASSERT_EQUAL(sni_rc("*.b.com", 7, NULL, 0), XR_CH_MALFORMED);
	CU_ASSERT_EQUAL(sni_rc(".", 1, NULL, 0), XR_CH_MALFORMED);
	/* labels of 63 ok, 64 not; names of 253 ok, 254 not */
	memset(name, 'a', 64);
	CU_ASSERT_EQUAL(sni_rc(name, 63, NULL, 0), XR_CH_DONE);
	CU_ASSERT_EQUAL(sni_rc(name, 64, NULL, 0), XR_CH_MALFORMED);
	memset(name, 'a', 254);
	name[63] = name[127] = name[191] = '.';
	CU_ASSERT_EQUAL(sni_rc(name, 253, sni, sizeof(sni)), XR_CH_DONE);
	CU_ASSERT_EQUAL(strlen(sni), 253);
	CU_ASSERT_EQUAL(sni_rc(name, 254, NULL, 0), XR_CH_MALFORMED);
	name[253] = '.';
	CU_ASSERT_EQUAL(sni_rc(name, 254, NULL, 0), XR_CH_DONE); /* 253 + trailing dot */
}

static void test_bad_extensions(void)
{
	uint8_t ext[600], buf[1000];
	size_t e;
	char sni[300];

	/* no extensions at all, and extensions without SNI: done, empty */
	CU_ASSERT_EQUAL(run(buf, hello(buf, NULL, NO_EXTS), 1, sni, sizeof(sni)), XR_CH_DONE);
	CU_ASSERT_STRING_EQUAL(sni, "");
	e = ext_alpn_h2(ext);
	CU_ASSERT_EQUAL(run(buf, hello(buf, ext, e), 0, sni, sizeof(sni)), XR_CH_DONE);
	CU_ASSERT_STRING_EQUAL(sni, "");
	/* duplicate SNI extension */
	e = ext_sni(ext, 0, "a.com", 5);
	e += ext_sni(ext + e, 0, "b.com", 5);
	CU_ASSERT_EQUAL(run(buf, hello(buf, ext, e), 0, NULL, 0), XR_CH_MALFORMED);
	/* duplicate ALPN extension */
	e = ext_alpn_h2(ext);
	e += ext_alpn_h2(ext + e);
	CU_ASSERT_EQUAL(run(buf, hello(buf, ext, e), 0, NULL, 0), XR_CH_MALFORMED);
	/* name_type 1 (not host_name) */
	e = ext_sni(ext, 1, "a.com", 5);
	CU_ASSERT_EQUAL(run(buf, hello(buf, ext, e), 0, NULL, 0), XR_CH_MALFORMED);
	/* two host_names in one list */
	{
		static const uint8_t two[] = { 0, 0, 0, 16, 0, 14, 0, 0, 4, 'a', '.', 'c', 'o',
					      0, 0, 4, 'b', '.', 'c', 'o' };
		CU_ASSERT_EQUAL(run(buf, hello(buf, two, sizeof(two)), 0, NULL, 0), XR_CH_MALFORMED);
	}
	/* empty server_name_list, empty host name */
	e = ext_raw(ext, 0, "\x00\x00", 2);
	CU_ASSERT_EQUAL(run(buf, hello(buf, ext, e), 0, NULL, 0), XR_CH_MALFORMED);
	e = ext_sni(ext, 0, "", 0);
	CU_ASSERT_EQUAL(run(buf, hello(buf, ext, e), 0, NULL, 0), XR_CH_MALFORMED);
	/* SNI list length disagreeing with the extension length */
	e = ext_sni(ext, 0, "a.com", 5);
	ext[5] += 1;
	CU_ASSERT_EQUAL(run(buf, hello(buf, ext, e), 0, NULL, 0), XR_CH_MALFORMED);
	/* ALPN with an empty protocol name */
	e = ext_raw(ext, 16, "\x00\x03\x02h2\x00", 6);
	ext[5] = 4;
	CU_ASSERT_EQUAL(run(buf, hello(buf, ext, 8), 0, NULL, 0), XR_CH_MALFORMED);
	/* extension running past the block */
	e = ext_raw(ext, 99, "xyz", 3);
	ext[3] = 9;
	CU_ASSERT_EQUAL(run(buf, hello(buf, ext, e), 0, NULL, 0), XR_CH_MALFORMED);
	/* trailing odd byte in the extensions block */
	e = ext_raw(ext, 99, "", 0);
	ext[e++] = 0;
	CU_ASSERT_EQUAL(run(buf, hello(buf, ext, e), 0, NULL, 0), XR_CH_MALFORMED);
	/* unknown extensions skipped */
	e = ext_raw(ext, 0xfe0d, "ech", 3);
	e += ext_sni(ext + e, 0, "ok.example", 10);
	CU_ASSERT_EQUAL(run(buf, hello(buf, ext, e), 0, sni, sizeof(sni)), XR_CH_DONE);
	CU_ASSERT_STRING_EQUAL(sni, "ok.example");
}

static void test_strerror(void)
{
	CU_ASSERT_STRING_EQUAL(xr_chello_strerror(XR_CH_TOO_BIG), "ClientHello too big");
	CU_ASSERT_STRING_EQUAL(xr_chello_strerror(42), "unknown");
}

int xr_register_clienthello(void)
{
	CU_pSuite s = CU_add_suite("clienthello", NULL, NULL);

	if (!s)
		return -1;
	if (!CU_add_test(s, "real captures whole and bytewise", test_real_whole_and_bytewise) ||
	    !CU_add_test(s, "real captures split at every offset", test_real_split_everywhere) ||
	    !CU_add_test(s, "real capture re-recorded 2..5 records", test_real_rerecorded) ||
	    !CU_add_test(s, "pipelined tail not consumed", test_pipelined_tail) ||
	    !CU_add_test(s, "1.7 KB hello across 3 records", test_large_three_records) ||
	    !CU_add_test(s, "not TLS", test_not_tls) ||
	    !CU_add_test(s, "bad records", test_bad_records) ||
	    !CU_add_test(s, "too big", test_too_big) ||
	    !CU_add_test(s, "SNI name rules", test_sni_rules) ||
	    !CU_add_test(s, "bad extensions", test_bad_extensions) ||
	    !CU_add_test(s, "strerror", test_strerror))
		return -1;
	return 0;
}
