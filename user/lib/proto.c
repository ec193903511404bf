// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The agent <-> relay protocol codec; see proto.h. */
#include "proto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>

#include "config.h"

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)rd16(p) << 16 | rd16(p + 2); }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) << 32 | rd32(p + 4); }

void xr_msg_init(struct xr_msg *m, uint8_t type)
{
	memset(m, 0, offsetof(struct xr_msg, hosts));
	m->n_refused = 0;
	m->n_tokens = 0;
	m->type = type;
}

int xr_frame_split(const uint8_t *buf, size_t len, uint8_t *type,
		   const uint8_t **payload, size_t *plen)
{
	size_t n;

	if (len >= 1 && (buf[0] == 0 || buf[0] > XR_MSG_MAX_TYPE))
		return XR_PROTO_EBADTYPE;
	if (len >= 2 && buf[1] != 0)
		return XR_PROTO_EFLAGS;
	if (len < XR_FRAME_HDR)
		return XR_PROTO_NEED_MORE;
	n = rd16(buf + 2);
	if (n > XR_FRAME_MAX)
		return XR_PROTO_ETOOBIG;
	if (len < XR_FRAME_HDR + n)
		return XR_PROTO_NEED_MORE;
	*type = buf[0];
	*payload = buf + XR_FRAME_HDR;
	*plen = n;
	return (int)(XR_FRAME_HDR + n);
}

/* A printable string without NUL or control characters, 1..cap-1 bytes. */
static int get_text(const uint8_t *v, size_t n, char *out, size_t cap)
{
	if (n == 0 || n >= cap)
		return XR_PROTO_ESTRING;
	for (size_t i = 0; i < n; i++)
		if (v[i] < 0x20 || v[i] == 0x7f)
			return XR_PROTO_ESTRING;
	memcpy(out, v, n);
	out[n] = 0;
	return 0;
}

static int get_host(const uint8_t *v, size_t n, char out[XR_PROTO_HOST_LEN])
{
	char tmp[XR_PROTO_HOST_LEN];
	int rc = get_text(v, n, tmp, sizeof(tmp));

	if (rc)
		return rc;
	return xr_parse_hostname(tmp, out) ? XR_PROTO_EHOST : 0;
}

static int get_ep(const uint8_t *v, size_t n, struct xr_proto_ep *ep)
{
	if (n < 3)
		return XR_PROTO_ETAG;
	memset(ep, 0, sizeof(*ep));
	ep->family = v[0];
	ep->port = rd16(v + 1);
	if ((ep->family == 4 && n == 3 + 4) || (ep->family == 6 && n == 3 + 16)) {
		memcpy(ep->addr, v + 3, n - 3);
		return 0;
	}
	return XR_PROTO_ETAG;
}

/* Which tags a type requires (bit per tag), and which it may carry once. */
static const struct {
	uint32_t required;
	uint32_t allowed;
} type_tags[XR_MSG_MAX_TYPE + 1] = {
#define B(t) (1u << (t))
	[XR_MSG_HELLO] = { B(XR_TAG_VERSION) | B(XR_TAG_NAME),
			   B(XR_TAG_VERSION) | B(XR_TAG_NAME) | B(XR_TAG_POOL) |
			   B(XR_TAG_HEARTBEAT) | B(XR_TAG_HOST) },
	[XR_MSG_WELCOME] = { B(XR_TAG_SESSION),
			     B(XR_TAG_SESSION) | B(XR_TAG_HEARTBEAT) | B(XR_TAG_HOST) |
			     B(XR_TAG_REFUSED) },
	[XR_MSG_PING] = { B(XR_TAG_NONCE), B(XR_TAG_NONCE) },
	[XR_MSG_PONG] = { B(XR_TAG_NONCE), B(XR_TAG_NONCE) },
	[XR_MSG_TOKEN] = { B(XR_TAG_TOKEN), B(XR_TAG_TOKEN) },
	[XR_MSG_OPEN] = { B(XR_TAG_FLOW) | B(XR_TAG_HOST) | B(XR_TAG_CLIENT),
			  B(XR_TAG_FLOW) | B(XR_TAG_HOST) | B(XR_TAG_CLIENT) | B(XR_TAG_SERVER) },
	[XR_MSG_ERROR] = { B(XR_TAG_CODE), B(XR_TAG_CODE) | B(XR_TAG_TEXT) },
	[XR_MSG_HEALTH] = { B(XR_TAG_ROUTE), B(XR_TAG_ROUTE) },
#undef B
};

#define REPEATABLE ((1u << XR_TAG_HOST) | (1u << XR_TAG_REFUSED) | (1u << XR_TAG_TOKEN) | \
		    (1u << XR_TAG_ROUTE))

int xr_msg_decode(uint8_t type, const uint8_t *p, size_t plen, struct xr_msg *m)
{
	uint32_t seen = 0;
	size_t off = 0;
	int rc;

	memset(m, 0, sizeof(*m));
	if (type == 0 || type > XR_MSG_MAX_TYPE)
		return XR_PROTO_EBADTYPE;
	if (plen > XR_FRAME_MAX)
		return XR_PROTO_ETOOBIG;
	m->type = type;
	while (off < plen) {
		uint8_t tag;
		size_t n;
		const uint8_t *v;

		if (plen - off < 3)
			return XR_PROTO_ETRUNC;
		tag = p[off];
		n = rd16(p + off + 1);
		v = p + off + 3;
		if (n > plen - off - 3)
			return XR_PROTO_ETRUNC;
		off += 3 + n;
		if (tag >= 32 || !(type_tags[type].allowed & (1u << tag)))
			continue;   /* unknown to this type: skip (forward compatible) */
		if ((seen & (1u << tag)) && !(REPEATABLE & (1u << tag)))
			return XR_PROTO_ETAG;
		seen |= 1u << tag;
		switch (tag) {
		case XR_TAG_VERSION:
			if (n != 2)
				return XR_PROTO_ETAG;
			m->version = rd16(v);
			break;
		case XR_TAG_NAME:
			if ((rc = get_text(v, n, m->name, sizeof(m->name))))
				return rc;
			break;
		case XR_TAG_POOL:
			if (n != 2)
				return XR_PROTO_ETAG;
			m->pool = rd16(v);
			break;
		case XR_TAG_HEARTBEAT:
			if (n != 4)
				return XR_PROTO_ETAG;
			m->heartbeat_ms = rd32(v);
			break;
		case XR_TAG_HOST:
			if (m->n_hosts >= XR_PROTO_MAX_HOSTS || (type == XR_MSG_OPEN && m->n_hosts))
				return type == XR_MSG_OPEN ? XR_PROTO_ETAG : XR_PROTO_ETOOMANY;
			if ((rc = get_host(v, n, m->hosts[m->n_hosts])))
				return rc;
			m->n_hosts++;
			break;
		case XR_TAG_REFUSED:
		case XR_TAG_ROUTE: {
			struct xr_msg_refused *r;
			size_t hl;

			if (m->n_refused >= XR_PROTO_MAX_HOSTS)
				return XR_PROTO_ETOOMANY;
			r = &m->refused[m->n_refused];
			if (tag == XR_TAG_ROUTE) {
				if (n < 1 || v[0] < 1 || v[0] > 3)
					return XR_PROTO_ETAG;
				r->state = v[0];
				v++;
				n--;
			}
			if (n < 1 || (hl = v[0]) == 0 || hl + 1 >= n)
				return XR_PROTO_ETAG;
			if ((rc = get_host(v + 1, hl, r->host)))
				return rc;
			if ((rc = get_text(v + 1 + hl, n - 1 - hl, r->reason, sizeof(r->reason))))
				return rc;
			m->n_refused++;
			break;
		}
		case XR_TAG_SESSION:
		case XR_TAG_NONCE:
		case XR_TAG_FLOW:
			if (n != 8)
				return XR_PROTO_ETAG;
			*(tag == XR_TAG_SESSION ? &m->session : tag == XR_TAG_NONCE ? &m->nonce : &m->flow) = rd64(v);
			break;
		case XR_TAG_TOKEN:
			if (n != XR_TOKEN_LEN)
				return XR_PROTO_ETAG;
			if (m->n_tokens >= XR_PROTO_MAX_TOKENS)
				return XR_PROTO_ETOOMANY;
			memcpy(m->tokens[m->n_tokens++], v, XR_TOKEN_LEN);
			break;
		case XR_TAG_CLIENT:
			if ((rc = get_ep(v, n, &m->client)))
				return rc;
			break;
		case XR_TAG_SERVER:
			if ((rc = get_ep(v, n, &m->server)))
				return rc;
			break;
		case XR_TAG_CODE:
			if (n != 2)
				return XR_PROTO_ETAG;
			m->code = rd16(v);
			break;
		case XR_TAG_TEXT:
			if ((rc = get_text(v, n, m->text, sizeof(m->text))))
				return rc;
			break;
		}
	}
	if ((seen & type_tags[type].required) != type_tags[type].required)
		return XR_PROTO_EMISSING;
	return 0;
}

/* ---- encoder ---------------------------------------------------------------- */

struct wbuf {
	uint8_t *p;
	size_t cap, len;
	int bad;
};

static void put(struct wbuf *w, const void *v, size_t n)
{
	if (w->bad || n > w->cap - w->len) {
		w->bad = 1;
		return;
	}
	memcpy(w->p + w->len, v, n);
	w->len += n;
}

static void put8(struct wbuf *w, uint8_t v) { put(w, &v, 1); }
static void put16(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = { v >> 8, v & 0xff };

	put(w, b, 2);
}
static void put32(struct wbuf *w, uint32_t v) { put16(w, v >> 16); put16(w, v & 0xffff); }
static void put64(struct wbuf *w, uint64_t v) { put32(w, v >> 32); put32(w, v & 0xffffffffu); }

static void tlv(struct wbuf *w, uint8_t tag, const void *v, size_t n)
{
	if (n > 0xffff) {
		w->bad = 1;
		return;
	}
	put8(w, tag);
	put16(w, (uint16_t)n);
	put(w, v, n);
}

static void tlv16(struct wbuf *w, uint8_t tag, uint16_t v) { put8(w, tag); put16(w, 2); put16(w, v); }
static void tlv32(struct wbuf *w, uint8_t tag, uint32_t v) { put8(w, tag); put16(w, 4); put32(w, v); }
static void tlv64(struct wbuf *w, uint8_t tag, uint64_t v) { put8(w, tag); put16(w, 8); put64(w, v); }
/* s (in a char[cap] field) is what the decoder accepts: get_text, and for a
 * host also get_host.  Reads at most cap bytes. */
static int str_ok(const char *s, size_t cap, int host)
{
	char tmp[XR_PROTO_HOST_LEN];
	size_t n = strnlen(s, cap);

	if (host)
		return !get_host((const uint8_t *)s, n, tmp);
	return cap <= sizeof(tmp) && !get_text((const uint8_t *)s, n, tmp, cap);
}

static void tlvs(struct wbuf *w, uint8_t tag, const char *s, size_t cap, int host)
{
	if (!str_ok(s, cap, host)) {
		w->bad = 1;
		return;
	}
	tlv(w, tag, s, strlen(s));
}

static void tlv_ep(struct wbuf *w, uint8_t tag, const struct xr_proto_ep *ep)
{
	size_t alen = ep->family == 4 ? 4 : 16;

	if (ep->family != 4 && ep->family != 6) {
		w->bad = 1;
		return;
	}
	put8(w, tag);
	put16(w, (uint16_t)(3 + alen));
	put8(w, ep->family);
	put16(w, ep->port);
	put(w, ep->addr, alen);
}

/* REFUSED: hostlen, host, reason; ROUTE: state first. */
static void tlv_hostnote(struct wbuf *w, uint8_t tag, const struct xr_msg_refused *r)
{
	int st = tag == XR_TAG_ROUTE;
	size_t hl, rl;

	if (!str_ok(r->host, sizeof(r->host), 1) || !str_ok(r->reason, sizeof(r->reason), 0) ||
	    (st && (r->state < 1 || r->state > 3))) {
		w->bad = 1;
		return;
	}
	hl = strlen(r->host);
	rl = strlen(r->reason);
	put8(w, tag);
	put16(w, (uint16_t)(st + 1 + hl + rl));
	if (st)
		put8(w, r->state);
	put8(w, (uint8_t)hl);
	put(w, r->host, hl);
	put(w, r->reason, rl);
}

int xr_msg_encode(const struct xr_msg *m, uint8_t *out, size_t cap)
{
	struct wbuf w = { .p = out, .cap = cap };

	if (cap < XR_FRAME_HDR || m->type == 0 || m->type > XR_MSG_MAX_TYPE)
		return -1;
	w.len = XR_FRAME_HDR;
	switch (m->type) {
	case XR_MSG_HELLO:
		if (m->n_hosts > XR_PROTO_MAX_HOSTS)
			return -1;
		tlv16(&w, XR_TAG_VERSION, m->version);
		tlvs(&w, XR_TAG_NAME, m->name, sizeof(m->name), 0);
		tlv16(&w, XR_TAG_POOL, m->pool);
		tlv32(&w, XR_TAG_HEARTBEAT, m->heartbeat_ms);
		for (unsigned i = 0; i < m->n_hosts; i++)
			tlvs(&w, XR_TAG_HOST, m->hosts[i], sizeof(m->hosts[i]), 1);
		break;
	case XR_MSG_WELCOME:
		if (m->n_hosts > XR_PROTO_MAX_HOSTS || m->n_refused > XR_PROTO_MAX_HOSTS)
			return -1;
		tlv64(&w, XR_TAG_SESSION, m->session);
		tlv32(&w, XR_TAG_HEARTBEAT, m->heartbeat_ms);
		for (unsigned i = 0; i < m->n_hosts; i++)
			tlvs(&w, XR_TAG_HOST, m->hosts[i], sizeof(m->hosts[i]), 1);
		for (unsigned i = 0; i < m->n_refused; i++)
			tlv_hostnote(&w, XR_TAG_REFUSED, &m->refused[i]);
		break;
	case XR_MSG_HEALTH:
		if (m->n_refused == 0 || m->n_refused > XR_PROTO_MAX_HOSTS)
			return -1;
		for (unsigned i = 0; i < m->n_refused; i++)
			tlv_hostnote(&w, XR_TAG_ROUTE, &m->refused[i]);
		break;
	case XR_MSG_PING:
	case XR_MSG_PONG:
		tlv64(&w, XR_TAG_NONCE, m->nonce);
		break;
	case XR_MSG_TOKEN:
		if (m->n_tokens == 0 || m->n_tokens > XR_PROTO_MAX_TOKENS)
			return -1;
		for (unsigned i = 0; i < m->n_tokens; i++)
			tlv(&w, XR_TAG_TOKEN, m->tokens[i], XR_TOKEN_LEN);
		break;
	case XR_MSG_OPEN:
		tlv64(&w, XR_TAG_FLOW, m->flow);
		tlvs(&w, XR_TAG_HOST, m->hosts[0], sizeof(m->hosts[0]), 1);
		tlv_ep(&w, XR_TAG_CLIENT, &m->client);
		if (m->server.family)
			tlv_ep(&w, XR_TAG_SERVER, &m->server);
		break;
	case XR_MSG_ERROR:
		tlv16(&w, XR_TAG_CODE, m->code);
		if (m->text[0])
			tlvs(&w, XR_TAG_TEXT, m->text, sizeof(m->text), 0);
		break;
	}
	if (w.bad || w.len - XR_FRAME_HDR > XR_FRAME_MAX)
		return -1;
	out[0] = m->type;
	out[1] = 0;
	out[2] = (uint8_t)((w.len - XR_FRAME_HDR) >> 8);
	out[3] = (uint8_t)((w.len - XR_FRAME_HDR) & 0xff);
	return (int)w.len;
}

const char *xr_proto_strerror(int rc)
{
	switch (rc) {
	case XR_PROTO_NEED_MORE: return "incomplete frame";
	case XR_PROTO_EBADTYPE: return "unknown frame type";
	case XR_PROTO_ETOOBIG: return "frame too big";
	case XR_PROTO_ETAG: return "bad or duplicate field";
	case XR_PROTO_ESTRING: return "bad string";
	case XR_PROTO_EHOST: return "bad host name";
	case XR_PROTO_ETOOMANY: return "too many entries";
	case XR_PROTO_EMISSING: return "required field missing";
	case XR_PROTO_EFLAGS: return "non-zero frame flags";
	case XR_PROTO_ETRUNC: return "field runs past the frame";
	}
	return rc > 0 ? "ok" : "unknown error";
}

const char *xr_msg_type_name(uint8_t type)
{
	static const char *const names[] = {
		[XR_MSG_HELLO] = "HELLO", [XR_MSG_WELCOME] = "WELCOME", [XR_MSG_PING] = "PING",
		[XR_MSG_PONG] = "PONG", [XR_MSG_TOKEN] = "TOKEN", [XR_MSG_OPEN] = "OPEN",
		[XR_MSG_ERROR] = "ERROR", [XR_MSG_HEALTH] = "HEALTH",
	};

	return type && type <= XR_MSG_MAX_TYPE ? names[type] : "?";
}

void xr_proto_ep_from_sa(struct xr_proto_ep *ep, const struct sockaddr *sa)
{
	memset(ep, 0, sizeof(*ep));
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		ep->family = 4;
		ep->port = ntohs(s->sin_port);
		memcpy(ep->addr, &s->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)sa;
		static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		ep->port = ntohs(s->sin6_port);
		if (!memcmp(&s->sin6_addr, mapped, 12)) {
			ep->family = 4;
			memcpy(ep->addr, (const uint8_t *)&s->sin6_addr + 12, 4);
		} else {
			ep->family = 6;
			memcpy(ep->addr, &s->sin6_addr, 16);
		}
	}
}

unsigned xr_proto_ep_to_sa(const struct xr_proto_ep *ep, struct sockaddr *sa)
{
	if (ep->family == 4) {
		struct sockaddr_in *s = (void *)sa;

		memset(s, 0, sizeof(*s));
		s->sin_family = AF_INET;
		s->sin_port = htons(ep->port);
		memcpy(&s->sin_addr, ep->addr, 4);
		return sizeof(*s);
	}
	if (ep->family == 6) {
		struct sockaddr_in6 *s = (void *)sa;

		memset(s, 0, sizeof(*s));
		s->sin6_family = AF_INET6;
		s->sin6_port = htons(ep->port);
		memcpy(&s->sin6_addr, ep->addr, 16);
		return sizeof(*s);
	}
	return 0;
}
