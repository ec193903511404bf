/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent <-> relay protocol.  Pure code: no I/O, no globals, no
 * allocation; the decoder is fuzzed (tests/fuzz/fuzz_proto.c).
 *
 * Control connection: TLS 1.3, mutually authenticated by pinned Ed25519
 * identities (tlsctx.h), carrying frames:
 *
 *	frame   = type:u8  flags:u8 (0)  length:u16be  payload[length]
 *	payload = *( tag:u8  length:u16be  value[length] )
 *
 * Unknown tags are skipped (a newer peer may add some); unknown frame types
 * are an error.  A tag that must appear once and appears twice, a value of
 * the wrong size, a string with a NUL or a control character, a host name
 * that is not one: all errors.  Every count is bounded below.
 *
 *	agent -> relay   HELLO   version, agent name, pool size, heartbeat, hosts
 *	relay -> agent   WELCOME session id, heartbeat, accepted hosts, refused
 *	                         hosts each with a reason
 *	either           PING / PONG  nonce (both sides ping every heartbeat and
 *	                         drop a peer silent for 3 heartbeats)
 *	relay -> agent   TOKEN   one-time tokens: dial a data connection for each
 *	agent -> relay   HEALTH  each service's state (healthy/degraded/down) with
 *	                         its reason, from the agent's probes of its targets;
 *	                         sent after WELCOME and on every change
 *	agent -> relay   HELLO again on a READY session: register anew (the
 *	                         agent retries names the relay refused)
 *	either           ERROR   code + message, then close
 *
 * Data connection: plain TCP (the bytes it carries are the client's TLS, or
 * TLS the agent terminates; the token is one-time and bound to the agent's
 * session, so seeing it on the wire gains nothing).  The agent opens it
 * with the fixed 20-byte preamble "XRD1" + token, so that it can arrive on
 * the control port or on the public TLS port alike (its first byte is not a
 * TLS record type).  The relay answers with one OPEN frame (flow id, host
 * name, client and server address) and then the client's bytes, unparsed.
 */
#ifndef XR_PROTO_H
#define XR_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define XR_PROTO_VERSION      1
#define XR_FRAME_HDR          4
#define XR_FRAME_MAX          16384      /* payload bytes */
#define XR_PROTO_MAX_HOSTS    64         /* hosts in HELLO / WELCOME */
#define XR_PROTO_MAX_TOKENS   64         /* tokens in one TOKEN frame */
#define XR_PROTO_HOST_LEN     254        /* with NUL */
#define XR_PROTO_NAME_LEN     32         /* agent name, with NUL */
#define XR_PROTO_TEXT_LEN     128        /* reasons and messages, with NUL */
#define XR_TOKEN_LEN          16
#define XR_DATA_MAGIC         "XRD1"
#define XR_DATA_PREAMBLE      (4 + XR_TOKEN_LEN)

enum xr_msg_type {
	XR_MSG_HELLO = 1,
	XR_MSG_WELCOME = 2,
	XR_MSG_PING = 3,
	XR_MSG_PONG = 4,
	XR_MSG_TOKEN = 5,
	XR_MSG_OPEN = 6,
	XR_MSG_ERROR = 7,
	XR_MSG_HEALTH = 8,
	XR_MSG_MAX_TYPE = 8,
};

enum xr_tag {
	XR_TAG_VERSION = 1,     /* u16 */
	XR_TAG_NAME = 2,        /* string: agent name */
	XR_TAG_POOL = 3,        /* u16 */
	XR_TAG_HEARTBEAT = 4,   /* u32 ms */
	XR_TAG_HOST = 5,        /* string: host name, repeated */
	XR_TAG_REFUSED = 6,     /* u8 hostlen, host, reason text; repeated */
	XR_TAG_SESSION = 7,     /* u64 */
	XR_TAG_NONCE = 8,       /* u64 */
	XR_TAG_TOKEN = 9,       /* 16 bytes, repeated */
	XR_TAG_FLOW = 10,       /* u64 flow id */
	XR_TAG_CLIENT = 11,     /* endpoint: family u8 (4/6), port u16be, addr 4/16 */
	XR_TAG_SERVER = 12,     /* endpoint */
	XR_TAG_CODE = 13,       /* u16 */
	XR_TAG_TEXT = 14,       /* string */
	XR_TAG_ROUTE = 15,      /* u8 state, u8 hostlen, host, reason text; repeated */
};

/* ERROR codes */
enum xr_err_code {
	XR_ERR_PROTOCOL = 1,    /* malformed frame */
	XR_ERR_VERSION = 2,     /* unsupported protocol version */
	XR_ERR_IDENTITY = 3,    /* identity not accepted */
	XR_ERR_TIMEOUT = 4,     /* peer silent */
	XR_ERR_SHUTDOWN = 5,    /* going away */
	XR_ERR_DUPLICATE = 6,   /* identity already connected from another address */
};

/* Decoder results (negative). */
enum xr_proto_rc {
	XR_PROTO_NEED_MORE = 0,
	XR_PROTO_EBADTYPE = -1,
	XR_PROTO_ETOOBIG = -2,
	XR_PROTO_ETAG = -3,      /* bad length for a tag, duplicate singleton */
	XR_PROTO_ESTRING = -4,   /* empty/too long/NUL/control chars */
	XR_PROTO_EHOST = -5,     /* not a host name */
	XR_PROTO_ETOOMANY = -6,
	XR_PROTO_EMISSING = -7,  /* a required tag is absent */
	XR_PROTO_EFLAGS = -8,
	XR_PROTO_ETRUNC = -9,    /* TLV runs past the payload */
};

struct xr_proto_ep {
	uint8_t family;          /* 4 or 6; 0 = absent */
	uint16_t port;           /* host order */
	uint8_t addr[16];        /* IPv4 in the first 4 bytes */
};

/* A host with a reason: WELCOME's refused hosts, HEALTH's routes (with
 * state, enum xr_health_state in health.h: 1 healthy, 2 degraded, 3 down). */
struct xr_msg_refused {
	char host[XR_PROTO_HOST_LEN];
	char reason[XR_PROTO_TEXT_LEN];
	uint8_t state;                             /* HEALTH only */
};

/* One decoded message; which fields matter depends on type. */
struct xr_msg {
	uint8_t type;
	uint16_t version;                          /* HELLO */
	char name[XR_PROTO_NAME_LEN];              /* HELLO */
	uint16_t pool;                             /* HELLO */
	uint32_t heartbeat_ms;                     /* HELLO, WELCOME */
	uint64_t session;                          /* WELCOME */
	uint64_t nonce;                            /* PING, PONG */
	uint64_t flow;                             /* OPEN */
	struct xr_proto_ep client, server;         /* OPEN */
	uint16_t code;                             /* ERROR */
	char text[XR_PROTO_TEXT_LEN];              /* ERROR */
	unsigned n_hosts;                          /* HELLO, WELCOME (accepted), OPEN (1) */
	char hosts[XR_PROTO_MAX_HOSTS][XR_PROTO_HOST_LEN];
	unsigned n_refused;                        /* WELCOME refused, HEALTH routes */
	struct xr_msg_refused refused[XR_PROTO_MAX_HOSTS];
	unsigned n_tokens;                         /* TOKEN */
	uint8_t tokens[XR_PROTO_MAX_TOKENS][XR_TOKEN_LEN];
};

/* Empty *m for building a message of `type`.  The big arrays are not
 * cleared: their counts (zeroed) say how much of them is valid. */
void xr_msg_init(struct xr_msg *m, uint8_t type);

/* Split one frame off the front of buf.  Returns the frame's total length
 * (> 0) with type, payload and plen set, XR_PROTO_NEED_MORE (0) when buf holds
 * less than a frame, or < 0 (EBADTYPE, ETOOBIG, EFLAGS). */
int xr_frame_split(const uint8_t *buf, size_t len, uint8_t *type,
		   const uint8_t **payload, size_t *plen);

/* Decode a payload of the given type into *m (zeroed first).  0 or < 0. */
int xr_msg_decode(uint8_t type, const uint8_t *payload, size_t plen, struct xr_msg *m);

/* Encode *m as one frame into out.  Returns the frame length, or -1 when it
 * does not fit in cap or XR_FRAME_MAX, or a field is invalid. */
int xr_msg_encode(const struct xr_msg *m, uint8_t *out, size_t cap);

/* Static text for a decoder result. */
const char *xr_proto_strerror(int rc);
const char *xr_msg_type_name(uint8_t type);

/* sockaddr to and from endpoint */
struct sockaddr;
void xr_proto_ep_from_sa(struct xr_proto_ep *ep, const struct sockaddr *sa);
/* Fills a sockaddr_storage-sized buffer; returns its length or 0. */
unsigned xr_proto_ep_to_sa(const struct xr_proto_ep *ep, struct sockaddr *sa);

#endif /* XR_PROTO_H */
