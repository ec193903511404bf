// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* OpenSSL contexts: the pinned-identity control channel and service
 * termination.  See tlsctx.h. */
#include "tlsctx.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "identity.h"

const char *xr_tls_errstr(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (!e)
		snprintf(buf, len, "no OpenSSL error queued");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* A self-signed certificate carrying the identity key: only its public key
 * matters to the peer, so the subject is a constant. */
static X509 *self_cert(EVP_PKEY *pkey)
{
	X509 *x = X509_new();
	X509_NAME *name;

	if (!x)
		return NULL;
	if (!X509_set_version(x, 2) ||
	    !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 100L * 365 * 86400) ||
	    !X509_set_pubkey(x, pkey))
		goto fail;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"xrelay",
					-1, -1, 0) ||
	    !X509_set_issuer_name(x, name) ||
	    !X509_sign(x, pkey, NULL))   /* Ed25519: no separate digest */
		goto fail;
	return x;
fail:
	X509_free(x);
	return NULL;
}

/* Chains are meaningless here (self-signed, no CA): accept at the X.509
 * level and judge the peer's key after the handshake. */
static int accept_any(int ok, X509_STORE_CTX *ctx)
{
	(void)ok;
	(void)ctx;
	return 1;
}

SSL_CTX *xr_tls_ctl_ctx(const char *keyfile, bool server, uint8_t self[32],
			char *err, size_t errlen)
{
	char ebuf[256];
	EVP_PKEY *pkey;
	SSL_CTX *ctx;
	X509 *x;

	pkey = xr_identity_load(keyfile, self, err, errlen);
	if (!pkey)
		return NULL;
	x = self_cert(pkey);
	ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (!x || !ctx) {
		snprintf(err, errlen, "%s: %s", keyfile, xr_tls_errstr(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (!SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_use_certificate(ctx, x) || !SSL_CTX_use_PrivateKey(ctx, pkey) ||
	    !SSL_CTX_check_private_key(ctx)) {
		snprintf(err, errlen, "%s: %s", keyfile, xr_tls_errstr(ebuf, sizeof(ebuf)));
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
			   accept_any);
	/* Long-lived connections, one per relay: tickets buy nothing. */
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return NULL;
}

int xr_tls_peer_identity(SSL *ssl, uint8_t raw[32])
{
	X509 *x = SSL_get0_peer_certificate(ssl);
	EVP_PKEY *pk;
	size_t len = 32;

	if (!x || !(pk = X509_get0_pubkey(x)) || EVP_PKEY_get_id(pk) != EVP_PKEY_ED25519)
		return -1;
	if (EVP_PKEY_get_raw_public_key(pk, raw, &len) != 1 || len != 32)
		return -1;
	return 0;
}

/* ---- service termination -------------------------------------------------- */

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
		       const unsigned char *in, unsigned int inlen, void *arg)
{
	struct xr_tls_term *t = arg;
	unsigned char *sel;

	(void)ssl;
	/* Our preference order; no overlap: carry on without ALPN (RFC 7301
	 * allows the fatal alert, but an HTTP/1.1 target serves such clients). */
	if (SSL_select_next_proto(&sel, outlen, t->alpn, t->alpn_len, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static SSL_CTX *term_ctx(struct xr_tls_term *t, char *err, size_t errlen)
{
	char ebuf[256];
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		snprintf(err, errlen, "SSL_CTX_new: %s", xr_tls_errstr(ebuf, sizeof(ebuf)));
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, t->cert) != 1) {
		snprintf(err, errlen, "%s: %s", t->cert, xr_tls_errstr(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, t->key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "%s: %s", t->key, xr_tls_errstr(ebuf, sizeof(ebuf)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "%s does not match %s", t->key, t->cert);
		ERR_clear_error();
		goto fail;
	}
	SSL_CTX_set_alpn_select_cb(ctx, alpn_select, t);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			 SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static void mtimes(const struct xr_tls_term *t, struct timespec *c, struct timespec *k)
{
	struct stat st;

	memset(c, 0, sizeof(*c));
	memset(k, 0, sizeof(*k));
	if (!stat(t->cert, &st))
		*c = st.st_mtim;
	if (!stat(t->key, &st))
		*k = st.st_mtim;
}

int xr_tls_term_init(struct xr_tls_term *t, const char *cert, const char *key,
		     const char *const *alpn, char *err, size_t errlen)
{
	static const char *const dflt[] = { "http/1.1", NULL };

	memset(t, 0, sizeof(*t));
	snprintf(t->cert, sizeof(t->cert), "%s", cert);
	snprintf(t->key, sizeof(t->key), "%s", key);
	for (const char *const *a = alpn ? alpn : dflt; *a; a++) {
		size_t n = strlen(*a);

		if (n == 0 || n > 255 || t->alpn_len + 1 + n > sizeof(t->alpn)) {
			snprintf(err, errlen, "ALPN list too long");
			return -1;
		}
		t->alpn[t->alpn_len++] = (uint8_t)n;
		memcpy(t->alpn + t->alpn_len, *a, n);
		t->alpn_len += n;
	}
	mtimes(t, &t->cert_mtime, &t->key_mtime);
	t->checked = time(NULL);
	t->ctx = term_ctx(t, err, errlen);
	return t->ctx ? 0 : -1;
}

int xr_tls_term_refresh(struct xr_tls_term *t, char *err, size_t errlen)
{
	struct timespec c, k;
	time_t now = time(NULL);
	SSL_CTX *n;

	if (now == t->checked)
		return 0;
	t->checked = now;
	mtimes(t, &c, &k);
	if (!memcmp(&c, &t->cert_mtime, sizeof(c)) && !memcmp(&k, &t->key_mtime, sizeof(k)))
		return 0;
	n = term_ctx(t, err, errlen);
	if (!n)
		return -1;   /* keep serving the old pair; try again when they change */
	t->cert_mtime = c;
	t->key_mtime = k;
	SSL_CTX_free(t->ctx);  /* live SSLs hold their own reference */
	t->ctx = n;
	t->reloads++;
	return 1;
}

void xr_tls_term_fini(struct xr_tls_term *t)
{
	SSL_CTX_free(t->ctx);
	t->ctx = NULL;
}
