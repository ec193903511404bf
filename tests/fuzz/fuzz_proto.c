// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target for user/lib/proto.c.  The input is a byte stream from a
 * peer: frames are split off its front with xr_frame_split until it needs
 * more or fails, and each frame is decoded.  Invariants (abort otherwise):
 *  - split returns a frame length within the input, or NEED_MORE only when
 *    the input is shorter than a header or than header + length, or one of
 *    its documented errors; a frame's every proper prefix needs more;
 *  - decode returns 0 or a documented error; a decoded message has counts
 *    within bounds and NUL-terminated strings;
 *  - a decoded message re-encodes (failing only when the defaults the
 *    encoder always writes - HELLO pool and heartbeat, WELCOME heartbeat -
 *    push it past XR_FRAME_MAX), the frame splits to exactly its length,
 *    decodes to the same message, and re-encodes to the same bytes; a cap
 *    one byte short fails.
 * Built and run by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* ~42 KiB each: off the stack */
static struct xr_msg m1, m2;
static uint8_t enc1[XR_FRAME_HDR + XR_FRAME_MAX], enc2[XR_FRAME_HDR + XR_FRAME_MAX];

static void check_str(const char *s, size_t cap)
{
	if (strnlen(s, cap) >= cap)
		abort();
}

static int ep_eq(const struct xr_proto_ep *a, const struct xr_proto_ep *b)
{
	return a->family == b->family && a->port == b->port && !memcmp(a->addr, b->addr, 16);
}

static int msg_eq(const struct xr_msg *a, const struct xr_msg *b)
{
	if (a->type != b->type || a->version != b->version || a->pool != b->pool ||
	    a->heartbeat_ms != b->heartbeat_ms || a->session != b->session ||
	    a->nonce != b->nonce || a->flow != b->flow || a->code != b->code ||
	    a->n_hosts != b->n_hosts || a->n_refused != b->n_refused ||
	    a->n_tokens != b->n_tokens)
		return 0;
	if (memcmp(a->name, b->name, sizeof(a->name)) || memcmp(a->text, b->text, sizeof(a->text)) ||
	    !ep_eq(&a->client, &b->client) || !ep_eq(&a->server, &b->server))
		return 0;
	for (unsigned i = 0; i < a->n_hosts; i++)
		if (memcmp(a->hosts[i], b->hosts[i], sizeof(a->hosts[i])))
			return 0;
	for (unsigned i = 0; i < a->n_refused; i++)
		if (memcmp(&a->refused[i], &b->refused[i], sizeof(a->refused[i])))
			return 0;
	return !memcmp(a->tokens, b->tokens, (size_t)a->n_tokens * XR_TOKEN_LEN);
}

static void check_decoded(const struct xr_msg *m, uint8_t type)
{
	if (m->type != type || m->n_hosts > XR_PROTO_MAX_HOSTS || m->n_refused > XR_PROTO_MAX_HOSTS ||
	    m->n_tokens > XR_PROTO_MAX_TOKENS)
		abort();
	check_str(m->name, sizeof(m->name));
	check_str(m->text, sizeof(m->text));
	for (unsigned i = 0; i < m->n_hosts; i++)
		if (!m->hosts[i][0])
			abort();
	for (unsigned i = 0; i < m->n_refused; i++)
		if (!m->refused[i].host[0] || !m->refused[i].reason[0])
			abort();
	if (type == XR_MSG_OPEN && (m->n_hosts != 1 || (m->client.family != 4 && m->client.family != 6)))
		abort();
	if (type == XR_MSG_TOKEN && m->n_tokens == 0)
		abort();
}

static void roundtrip(uint8_t type, size_t plen)
{
	/* bytes the encoder may add that the input could have left out */
	size_t extra = type == XR_MSG_HELLO ? 12 : type == XR_MSG_WELCOME ? 7 : 0;
	uint8_t t2;
	const uint8_t *p2;
	size_t l2;
	int n1, n2;

	n1 = xr_msg_encode(&m1, enc1, sizeof(enc1));
	if (n1 < 0) {
		if (plen + extra <= XR_FRAME_MAX)
			abort();
		return;
	}
	if ((size_t)n1 < XR_FRAME_HDR || (size_t)n1 - XR_FRAME_HDR > plen + extra)
		abort();
	if (xr_frame_split(enc1, (size_t)n1, &t2, &p2, &l2) != n1 || t2 != type ||
	    p2 != enc1 + XR_FRAME_HDR || l2 != (size_t)n1 - XR_FRAME_HDR)
		abort();
	if (xr_msg_decode(t2, p2, l2, &m2) != 0 || !msg_eq(&m1, &m2))
		abort();
	n2 = xr_msg_encode(&m2, enc2, sizeof(enc2));
	if (n2 != n1 || memcmp(enc1, enc2, (size_t)n1))
		abort();
	if (xr_msg_encode(&m1, enc2, (size_t)n1 - 1) != -1)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	while (off < size) {
		const uint8_t *buf = data + off, *p = NULL;
		size_t len = size - off, plen = 0;
		uint8_t type = 0;
		int n = xr_frame_split(buf, len, &type, &p, &plen), rc;

		if (n == XR_PROTO_NEED_MORE) {
			if (len >= XR_FRAME_HDR && len >= XR_FRAME_HDR + (size_t)(buf[2] << 8 | buf[3]))
				abort();
			break;
		}
		if (n < 0) {
			if (n != XR_PROTO_EBADTYPE && n != XR_PROTO_ETOOBIG && n != XR_PROTO_EFLAGS)
				abort();
			break;
		}
		if ((size_t)n > len || (size_t)n != XR_FRAME_HDR + plen || plen > XR_FRAME_MAX ||
		    p != buf + XR_FRAME_HDR || type != buf[0] || type == 0 || type > XR_MSG_MAX_TYPE)
			abort();
		/* proper prefixes: the header alone, and one byte short */
		if (xr_frame_split(buf, (size_t)n - 1, &type, &p, &plen) != XR_PROTO_NEED_MORE ||
		    xr_frame_split(buf, XR_FRAME_HDR - 1, &type, &p, &plen) != XR_PROTO_NEED_MORE)
			abort();
		if (xr_frame_split(buf, (size_t)n, &type, &p, &plen) != n)
			abort();

		rc = xr_msg_decode(type, p, plen, &m1);
		if (rc < XR_PROTO_ETRUNC || rc > 0 || !xr_proto_strerror(rc))
			abort();
		if (rc == 0) {
			check_decoded(&m1, type);
			roundtrip(type, plen);
		}
		off += (size_t)n;
	}
	return 0;
}
