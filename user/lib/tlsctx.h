/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * OpenSSL contexts of xrelay.
 *
 * Control channel (agent <-> relay): TLS 1.3 only, both sides present a
 * self-signed certificate made at start from their Ed25519 identity key
 * (OpenSSL 3.0 has no RFC 7250 raw public keys), and both sides accept a
 * peer only by its public key, compared with the identities pinned in the
 * config.  No CA, no names, no shared secret: a copy of the relay's config
 * holds only public keys.  CertificateVerify proves possession of the key,
 * whatever the verify callback says about the chain.
 *
 * Service termination (agent, services with tls.cert/tls.key): TLS 1.2 and
 * 1.3 with the operator's certificate, ALPN chosen from the service's list,
 * files re-read when they change.
 */
#ifndef XR_TLSCTX_H
#define XR_TLSCTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <openssl/ssl.h>

/* Control-channel context from an identity key file.  server: the relay
 * (asks for and requires a client certificate).  NULL with err set. */
SSL_CTX *xr_tls_ctl_ctx(const char *keyfile, bool server, uint8_t self[32],
			char *err, size_t errlen);

/* The peer's raw Ed25519 public key after the handshake: 0, or -1 when it
 * presented none or another key type. */
int xr_tls_peer_identity(SSL *ssl, uint8_t raw[32]);

/* A termination context that reloads itself when its files change. */
struct xr_tls_term {
	SSL_CTX *ctx;
	char cert[4096], key[4096];
	uint8_t alpn[64];            /* wire format: len-prefixed names */
	unsigned alpn_len;
	struct timespec cert_mtime, key_mtime;
	time_t checked;              /* last stat, at most once a second */
	unsigned reloads;
};

/* alpn: NULL-terminated list of names ("http/1.1", "h2"); NULL = http/1.1. */
int xr_tls_term_init(struct xr_tls_term *t, const char *cert, const char *key,
		     const char *const *alpn, char *err, size_t errlen);
/* Re-read the files if their mtime changed (checked at most once a second).
 * Returns 1 reloaded, 0 unchanged, -1 when the new files fail to load (the
 * old context stays; err says why). */
int xr_tls_term_refresh(struct xr_tls_term *t, char *err, size_t errlen);
void xr_tls_term_fini(struct xr_tls_term *t);

/* First queued OpenSSL error as text ("" if none), clearing the queue. */
const char *xr_tls_errstr(char *buf, size_t len);

#endif
