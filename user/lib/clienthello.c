// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Incremental ClientHello reassembly and SNI/ALPN extraction; see
 * clienthello.h.  Two stages: a byte-driven record layer that copies
 * handshake payload into st->hs (bounded by max_bytes), then, once the
 * handshake message is whole, a one-shot bounds-checked parse of it.
 */
#include <string.h>

#include "clienthello.h"

#define REC_HANDSHAKE   22
#define HS_CLIENT_HELLO 1
#define EXT_SNI         0
#define EXT_ALPN        16
#define REC_MAX_PAYLOAD 16384u

void xr_chello_init(struct xr_chello *st, size_t max_bytes)
{
	memset(st, 0, offsetof(struct xr_chello, hs));
	st->sni[0] = '\0';
	st->sni_len = 0;
	st->alpn_n = 0;
	st->legacy_version = 0;
	if (!max_bytes || max_bytes > XR_CH_DEFAULT_MAX)
		max_bytes = XR_CH_DEFAULT_MAX;
	if (max_bytes < XR_CH_MIN_MAX)
		max_bytes = XR_CH_MIN_MAX;
	st->max_bytes = max_bytes;
	st->state = XR_CH_NEED_MORE;
}

/* ---- parse of the complete message ---------------------------------- */

struct cur {
	const uint8_t *p;
	size_t left;
};

static int take(struct cur *c, size_t n, const uint8_t **out)
{
	if (c->left < n)
		return -1;
	if (out)
		*out = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

static int u8(struct cur *c, unsigned *v)
{
	const uint8_t *p;

	if (take(c, 1, &p))
		return -1;
	*v = p[0];
	return 0;
}

static int u16(struct cur *c, unsigned *v)
{
	const uint8_t *p;

	if (take(c, 2, &p))
		return -1;
	*v = (unsigned)p[0] << 8 | p[1];
	return 0;
}

/* A sub-cursor over a length-prefixed vector (prefix of `w` bytes). */
static int vec(struct cur *c, int w, size_t min, struct cur *sub)
{
	unsigned n;

	if ((w == 1 ? u8(c, &n) : u16(c, &n)) || n < min)
		return -1;
	sub->p = c->p;
	sub->left = n;
	return take(c, n, NULL);
}

static int is_digit(uint8_t ch) { return ch >= '0' && ch <= '9'; }
static int is_alpha(uint8_t ch) { return (ch | 0x20) >= 'a' && (ch | 0x20) <= 'z'; }
static int is_hex(uint8_t ch) { return is_digit(ch) || ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f'); }

/*
 * Validate an SNI host_name into st->sni.  Returns 0 (stored, or left
 * empty for an IP literal) or -1 (malformed).  Rules: ASCII letters,
 * digits, '-' and '_' (seen in the wild); labels 1..63 bytes, no leading or
 * trailing '-'; at most 253 bytes after one optional trailing dot is removed.
 * IP literals (RFC 6066 forbids them in SNI) - an IPv6 text form, or a name
 * whose last label is all digits, as a dotted IPv4 is - count as no SNI.
 */
static int set_sni(struct xr_chello *st, const uint8_t *name, size_t n)
{
	size_t i, lab = 0;
	int v6 = 1, colon = 0, last_numeric = 1;

	if (n && name[n - 1] == '.')
		n--;
	if (n == 0)
		return -1;
	for (i = 0; i < n; i++) { /* IPv6 literal, optionally bracketed */
		uint8_t ch = name[i];

		if (ch == ':')
			colon = 1;
		else if (!(is_hex(ch) || ch == '.' || ch == '%' ||
			   (ch == '[' && i == 0) || (ch == ']' && i == n - 1)))
			v6 = 0;
	}
	if (v6 && colon)
		return 0;
	if (n > XR_CH_SNI_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		uint8_t ch = name[i];

		if (ch == '.') {
			if (lab == 0 || name[i - 1] == '-')
				return -1;
			lab = 0;
			last_numeric = 1;
			st->sni[i] = '.';
			continue;
		}
		if (!(is_alpha(ch) || is_digit(ch) || ch == '-' || ch == '_'))
			return -1; /* NUL, space, '/', UTF-8 bytes, ... */
		if (ch == '-' && lab == 0)
			return -1;
		if (++lab > 63)
			return -1;
		if (!is_digit(ch))
			last_numeric = 0;
		st->sni[i] = (char)(is_alpha(ch) ? (ch | 0x20) : ch);
	}
	if (name[n - 1] == '-')
		return -1;
	if (last_numeric) { /* 10.0.0.1, 127.1, 3232235777 */
		st->sni[0] = '\0';
		return 0;
	}
	st->sni[n] = '\0';
	st->sni_len = (uint8_t)n;
	return 0;
}

static int parse_sni(struct xr_chello *st, struct cur ext)
{
	struct cur list, name;
	unsigned type;
	int seen = 0;

	if (vec(&ext, 2, 1, &list) || ext.left)
		return -1;
	while (list.left) { /* each pass consumes >= 3 bytes */
		if (u8(&list, &type) || vec(&list, 2, 1, &name))
			return -1;
		if (type != 0 || seen++)
			return -1; /* only one name, of type host_name */
		if (set_sni(st, name.p, name.left))
			return -1;
	}
	return 0;
}

static int parse_alpn(struct xr_chello *st, struct cur ext)
{
	struct cur list, proto;

	if (vec(&ext, 2, 2, &list) || ext.left)
		return -1;
	while (list.left) { /* each pass consumes >= 2 bytes */
		if (vec(&list, 1, 1, &proto))
			return -1;
		if (st->alpn_n < XR_CH_ALPN_MAX) {
			st->alpn_off[st->alpn_n] = (uint16_t)(proto.p - st->hs);
			st->alpn_len[st->alpn_n] = (uint8_t)proto.left;
			st->alpn_n++;
		}
	}
	return 0;
}

static int parse_hello(struct xr_chello *st)
{
	struct cur c = { st->hs + 4, st->hs_need - 4 }, sub, exts, ext;
	unsigned ver, type;
	int seen_sni = 0, seen_alpn = 0;

	if (u16(&c, &ver) || (ver >> 8) != 3 ||
	    take(&c, 32, NULL) ||                 /* random */
	    vec(&c, 1, 0, &sub) || sub.left > 32 || /* legacy_session_id */
	    vec(&c, 2, 2, &sub) || (sub.left & 1) || /* cipher_suites */
	    vec(&c, 1, 1, &sub))                  /* legacy_compression_methods */
		return XR_CH_MALFORMED;
	st->legacy_version = (uint16_t)ver;
	if (c.left == 0)
		return XR_CH_DONE; /* no extensions (SSL 3.0 style): no SNI */
	if (vec(&c, 2, 0, &exts) || c.left)
		return XR_CH_MALFORMED;
	while (exts.left) { /* each pass consumes >= 4 bytes */
		if (u16(&exts, &type) || vec(&exts, 2, 0, &ext))
			return XR_CH_MALFORMED;
		if (type == EXT_SNI) {
			if (seen_sni++ || parse_sni(st, ext))
				return XR_CH_MALFORMED;
		} else if (type == EXT_ALPN) {
			if (seen_alpn++ || parse_alpn(st, ext))
				return XR_CH_MALFORMED;
		}
	}
	return XR_CH_DONE;
}

/* ---- record layer ---------------------------------------------------- */

/* A full 5-byte record header is in st->rec_hdr. */
static int record_header(struct xr_chello *st)
{
	const uint8_t *h = st->rec_hdr;
	unsigned len = (unsigned)h[3] << 8 | h[4];
	int bad = st->records ? XR_CH_MALFORMED : XR_CH_NOT_TLS;

	if (h[0] != REC_HANDSHAKE || h[1] != 3 || h[2] < 1 || h[2] > 3)
		return bad;
	if (len == 0 || len > REC_MAX_PAYLOAD)
		return XR_CH_MALFORMED;
	if (st->consumed + len > st->max_bytes)
		return XR_CH_TOO_BIG;
	if (st->hs_need && len > st->hs_need - st->hs_have)
		return XR_CH_MALFORMED; /* data after the ClientHello in its record */
	st->rec_left = (uint16_t)len;
	st->records++;
	return XR_CH_NEED_MORE;
}

static int fail(struct xr_chello *st, int rc)
{
	st->state = rc;
	st->sni[0] = '\0';
	st->sni_len = 0;
	st->alpn_n = 0;
	return rc;
}

int xr_chello_feed(struct xr_chello *st, const uint8_t *buf, size_t len)
{
	size_t i = 0, n;
	int rc;

	if (st->state != XR_CH_NEED_MORE)
		return st->state;
	while (i < len) { /* every pass takes >= 1 byte */
		if (st->rec_hdr_have < 5) {
			uint8_t ch = buf[i++];

			st->consumed++;
			/* reject early, before a whole header is in (1-byte feeds) */
			if (st->rec_hdr_have == 0 && ch != REC_HANDSHAKE)
				return fail(st, st->records ? XR_CH_MALFORMED : XR_CH_NOT_TLS);
			if (st->rec_hdr_have == 1 && ch != 3)
				return fail(st, st->records ? XR_CH_MALFORMED : XR_CH_NOT_TLS);
			st->rec_hdr[st->rec_hdr_have++] = ch;
			if (st->rec_hdr_have == 5) {
				rc = record_header(st);
				if (rc != XR_CH_NEED_MORE)
					return fail(st, rc);
			}
			continue;
		}
		/* payload: copy up to the end of the record or of the message */
		n = len - i;
		if (n > st->rec_left)
			n = st->rec_left;
		if (st->hs_need && n > st->hs_need - st->hs_have)
			return fail(st, XR_CH_MALFORMED); /* data after the ClientHello in its record */
		if (!st->hs_need && n > 4 - st->hs_have)
			n = 4 - st->hs_have; /* header first, so the length is checked before copying */
		memcpy(st->hs + st->hs_have, buf + i, n);
		st->hs_have += n;
		st->rec_left -= (uint16_t)n;
		st->consumed += n;
		i += n;
		if (!st->hs_need && st->hs_have == 4) {
			size_t body = (size_t)st->hs[1] << 16 | (size_t)st->hs[2] << 8 | st->hs[3];

			if (st->hs[0] != HS_CLIENT_HELLO)
				return fail(st, XR_CH_MALFORMED);
			/* message + at least its first record header */
			if (4 + body + 5 > st->max_bytes)
				return fail(st, XR_CH_TOO_BIG);
			if (body < 2 + 32 + 1 + 2 + 1)
				return fail(st, XR_CH_MALFORMED);
			st->hs_need = 4 + body;
			/* checked here, not when copying, so the outcome and
			 * consumed count do not depend on how bytes were split */
			if (st->rec_left > st->hs_need - st->hs_have)
				return fail(st, XR_CH_MALFORMED);
		}
		if (st->rec_left == 0)
			st->rec_hdr_have = 0;
		if (st->hs_need && st->hs_have == st->hs_need) {
			if (st->rec_left)
				return fail(st, XR_CH_MALFORMED); /* message must end with its record */
			rc = parse_hello(st);
			if (rc != XR_CH_DONE)
				return fail(st, rc);
			st->state = XR_CH_DONE;
			return XR_CH_DONE;
		}
	}
	return XR_CH_NEED_MORE;
}

/* ---- accessors ------------------------------------------------------- */

const char *xr_chello_sni(const struct xr_chello *st)
{
	return st->state == XR_CH_DONE ? st->sni : "";
}

size_t xr_chello_alpn_count(const struct xr_chello *st)
{
	return st->state == XR_CH_DONE ? st->alpn_n : 0;
}

const uint8_t *xr_chello_alpn(const struct xr_chello *st, size_t i, size_t *len)
{
	if (i >= xr_chello_alpn_count(st))
		return NULL;
	if (len)
		*len = st->alpn_len[i];
	return st->hs + st->alpn_off[i];
}

size_t xr_chello_consumed(const struct xr_chello *st)
{
	return st->consumed;
}

const char *xr_chello_strerror(int rc)
{
	switch (rc) {
	case XR_CH_DONE:      return "done";
	case XR_CH_NEED_MORE: return "need more";
	case XR_CH_NOT_TLS:   return "not a TLS handshake";
	case XR_CH_TOO_BIG:   return "ClientHello too big";
	case XR_CH_MALFORMED: return "malformed ClientHello";
	default:              return "unknown";
	}
}
