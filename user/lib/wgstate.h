/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The WireGuard relay's handshake logic, pure (no I/O, time passed in):
 * which tenant a handshake belongs to, where to forward it, which endpoints
 * to trust, which sessions to install.
 *
 * Roles.  A tenant lists private WireGuard hosts ("pubkey", behind NAT) and
 * optionally each host's public peers ("peers").  mac1 of an initiation is
 * keyed with the *responder's* public key, mac1 of a response with the
 * *initiator's*, so the relay learns who a message is for without any
 * private key:
 *   initiation verifying under a host key  -> from a public peer, to that host
 *   initiation verifying under a peer key  -> from that peer's host, to the peer
 *
 * Trust.  mac1 needs only public keys, so anyone who knows them can make a
 * message the relay accepts; the relay therefore trusts no single message.
 * An initiation from a new address makes it a *candidate*; initiations
 * towards that key go to its confirmed address and its newest candidate;
 * each answer from those addresses installs its own pair of sessions.  An
 * address is *confirmed* only when data arrives on such a session from the
 * opposite peer's handshake address (the data plane sets
 * XR_SESS_F_CONFIRMED): a WireGuard peer sends data on a keypair only after
 * it authenticated the handshake, which no one without the private keys
 * can fake short of spoofing the peer's address.  Forged answers leave only
 * sessions that never carry data and expire.
 */
#ifndef XR_WGSTATE_H
#define XR_WGSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "xrelay_abi.h"
#include "config.h"

#define XR_WGS_FANOUT      2         /* confirmed endpoint + newest candidate */
#define XR_WGS_PENDING     4096      /* handshakes in flight (power of two) */
#define XR_WGS_PENDING_NS  (15ull * 1000000000ull)  /* REKEY_TIMEOUT 5 s x 3 */
#define XR_NS              1000000000ull

struct xr_wgs;

enum xr_wgs_verdict {
	XR_WGS_DROP = 0,
	XR_WGS_FORWARD = 1,
};

/* What to do with one handshake message. */
struct xr_wgs_out {
	enum xr_wgs_verdict verdict;
	const char *why;                 /* short reason, for logs and counters */
	uint32_t tenant_id;              /* 0 when no tenant matched */
	const char *tenant;              /* name, or NULL */
	struct xr_endpoint dst[XR_WGS_FANOUT];
	int n_dst;
	/* sessions to install (both directions) when a response completes */
	int n_install;
	uint32_t idx[2];                 /* map keys (wire bytes as host u32) */
	struct xr_session sess[2];
	bool learned;                    /* always false: a handshake never confirms
	                                  * an endpoint (xr_wgs_confirm_pair does) */
};

struct xr_wgs_stats {
	uint64_t init, resp, cookie;
	uint64_t forwarded, no_key, no_endpoint, no_pending, bad_source, not_allowed, malformed;
	uint64_t sessions_installed;
};

struct xr_wgs *xr_wgs_new(void);
void xr_wgs_free(struct xr_wgs *w);

/* (Re)build the key table from the config; tenant_ids[i] is the id of
 * cfg->tenants[i].  Endpoints learned for keys that survive (same tenant
 * name, same public key) are kept; pending handshakes are kept when their
 * keys survive.  0 or -ENOMEM. */
int xr_wgs_configure(struct xr_wgs *w, const struct xr_relay_cfg *cfg, const uint32_t *tenant_ids);

/* Handle a handshake message (types 1-3) from `src` at time `now`. */
void xr_wgs_handle(struct xr_wgs *w, const uint8_t *msg, size_t len,
		   const struct xr_endpoint *src, uint64_t now, struct xr_wgs_out *out);

/* Confirm an endpoint from a session the data plane saw in use: when `s`
 * carries XR_SESS_F_CONFIRMED (data arrived from the opposite peer's
 * handshake address), its dst is where the key of `s->key_tag` really is.
 * xrelayd calls this for every confirmed session and for its opposite
 * direction, periodically and after a restart.  Returns true when an
 * endpoint changed. */
bool xr_wgs_adopt(struct xr_wgs *w, const struct xr_session *s);

/* The same for a confirmed session `s` and its opposite direction `ps`
 * (NULL if gone): s->dst is confirmed for s's key and s->src for ps's key,
 * under a chain of trust: while one of the two keys has a confirmation
 * fresher than a keypair's lifetime, the session's end for that key must be
 * that very address, so a session an impostor runs with itself (both ends
 * its own) confirms nothing once the genuine peers have been seen. */
bool xr_wgs_confirm_pair(struct xr_wgs *w, const struct xr_session *s, const struct xr_session *ps,
			 uint64_t now);

/* Forget pending handshakes older than XR_WGS_PENDING_NS. */
void xr_wgs_tick(struct xr_wgs *w, uint64_t now);

const struct xr_wgs_stats *xr_wgs_stats(const struct xr_wgs *w);

/* Endpoint of a key, for status output: 0 if known. */
int xr_wgs_endpoint_of(const struct xr_wgs *w, const uint8_t pub[32], struct xr_endpoint *ep,
		       bool *confirmed);

/* A session direction is dead once WireGuard itself would reject its
 * keypair (REJECT_AFTER_TIME) plus slack. */
static inline bool xr_session_expired(const struct xr_session *s, uint64_t now, uint64_t slack_s)
{
	return now > s->created_ns &&
	       now - s->created_ns > (XR_WG_REJECT_AFTER_S + slack_s) * XR_NS;
}

/* Endpoints <-> sockaddr. */
void xr_ep_from_sockaddr(struct xr_endpoint *ep, const struct sockaddr *sa);
socklen_t xr_ep_to_sockaddr(const struct xr_endpoint *ep, struct sockaddr_storage *ss);
const char *xr_ep_str(const struct xr_endpoint *ep, char *buf, size_t len);
bool xr_ep_equal(const struct xr_endpoint *a, const struct xr_endpoint *b);
/* Does `ep` fall into one of the CIDRs (n == 0: everything allowed)? */
bool xr_cidr_match(const struct xr_cidr *c, int n, const struct xr_endpoint *ep);

#endif
