/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Incremental TLS ClientHello reassembler and SNI/ALPN extractor for the SNI
 * router.  Pure code: no I/O, no globals, no allocation; every loop is
 * bounded by the bytes fed or by the (bounded) reassembly buffer.
 *
 * Feed the bytes a client sends, in whatever pieces TCP delivers them:
 *
 *	struct xr_chello ch;              // ~16.5 KiB: keep it off small stacks
 *	xr_chello_init(&ch, 0);           // 0 = XR_CH_DEFAULT_MAX bytes
 *	rc = xr_chello_feed(&ch, buf, n); // XR_CH_NEED_MORE, XR_CH_DONE or < 0
 *
 * The handshake message may be split across TCP segments and across several
 * TLS records (content type 22), e.g. post-quantum ClientHellos.  Accepted:
 * first record type 22, record version 0x0301..0x0303, record lengths
 * 1..2^14, handshake type 1 (ClientHello), the whole message ending exactly
 * at the end of a record, total bytes <= max_bytes.
 *
 * xr_chello_consumed() counts the bytes taken so far: on XR_CH_DONE it is the
 * exact length of the ClientHello records, which the relay replays to the
 * backend.  Bytes fed past that point (a client that pipelines) are NOT
 * consumed; the caller forwards them after the replay.  Once DONE or failed,
 * further feeds consume nothing and return the same code.
 */
#ifndef XR_CLIENTHELLO_H
#define XR_CLIENTHELLO_H

#include <stddef.h>
#include <stdint.h>

#define XR_CH_DEFAULT_MAX 16384u  /* default and largest max_bytes (raw bytes) */
#define XR_CH_MIN_MAX     64u     /* smallest max_bytes accepted by init */
#define XR_CH_SNI_MAX     253u    /* DNS name, without trailing dot */
#define XR_CH_ALPN_MAX    16u     /* protocols remembered (later ones ignored) */

enum xr_ch_rc {
	XR_CH_DONE       = 0,   /* complete; SNI may be empty (no SNI / IP literal) */
	XR_CH_NEED_MORE  = 1,
	XR_CH_NOT_TLS    = -1,  /* first bytes are not a TLS handshake record (incl. SSLv2) */
	XR_CH_TOO_BIG    = -2,  /* beyond max_bytes */
	XR_CH_MALFORMED  = -3,  /* bad record/handshake/extension encoding, bad SNI */
};

struct xr_chello {
	/* record layer */
	uint8_t rec_hdr[5];
	uint8_t rec_hdr_have;    /* 0..5 */
	uint16_t rec_left;       /* payload bytes left in the current record */
	uint32_t records;        /* records started */
	size_t consumed;         /* raw bytes taken */
	size_t max_bytes;
	int state;               /* last result: NEED_MORE until DONE or error */
	/* handshake reassembly */
	size_t hs_have;
	size_t hs_need;          /* 4 + body length, 0 until the header is in */
	uint8_t hs[XR_CH_DEFAULT_MAX];
	/* results */
	char sni[XR_CH_SNI_MAX + 1];
	uint8_t sni_len;
	uint8_t alpn_n;
	uint16_t alpn_off[XR_CH_ALPN_MAX]; /* into hs[] */
	uint8_t alpn_len[XR_CH_ALPN_MAX];
	uint16_t legacy_version; /* client_version from the ClientHello */
};

/* max_bytes: 0 for XR_CH_DEFAULT_MAX, else clamped to
 * [XR_CH_MIN_MAX, XR_CH_DEFAULT_MAX]. */
void xr_chello_init(struct xr_chello *st, size_t max_bytes);
int xr_chello_feed(struct xr_chello *st, const uint8_t *buf, size_t len);

/* After XR_CH_DONE: the SNI host name, lower-cased, validated, trailing dot
 * removed, NUL-terminated; "" when absent or an IP literal.  "" otherwise. */
const char *xr_chello_sni(const struct xr_chello *st);
/* ALPN protocols (after DONE): count, and the i-th as bytes (not
 * NUL-terminated; ALPN names are opaque) valid while st lives.  NULL if
 * i >= count. */
size_t xr_chello_alpn_count(const struct xr_chello *st);
const uint8_t *xr_chello_alpn(const struct xr_chello *st, size_t i, size_t *len);
/* Raw bytes consumed so far (see above). */
size_t xr_chello_consumed(const struct xr_chello *st);
/* Static text for an xr_ch_rc. */
const char *xr_chello_strerror(int rc);

#endif /* XR_CLIENTHELLO_H */
