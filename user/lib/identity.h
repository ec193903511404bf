/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Identities: Ed25519 key pairs (OpenSSL).  The private key lives in a PEM
 * (PKCS#8) file of mode 0600; the public identity is one printable line:
 *     xrelay-ed25519 <base64 of the 32-byte raw public key>
 * which is what the other side pins in its config.
 */
#ifndef XR_IDENTITY_H
#define XR_IDENTITY_H

#include <stddef.h>
#include <stdint.h>

#define XR_IDENTITY_PREFIX "xrelay-ed25519 "
#define XR_IDENTITY_STR_LEN 64    /* prefix + 44 base64 chars + NUL fits */

/* Create FILE (O_EXCL, 0600) with a new key; fills the identity line.
 * Returns 0, or -1 with err set ("FILE: exists", ...). */
int xr_identity_keygen(const char *path, char *line, size_t linelen, char *err, size_t errlen);
/* Read FILE's key, refusing a file readable or writable by group/others
 * (like OpenSSH); fills the identity line and optionally the raw key. */
int xr_identity_pubkey(const char *path, char *line, size_t linelen,
		       uint8_t raw[32], char *err, size_t errlen);
/* Same checks; returns the private key as an EVP_PKEY * (caller frees
 * with EVP_PKEY_free), or NULL with err set. */
void *xr_identity_load(const char *path, uint8_t raw[32], char *err, size_t errlen);

/* 0 if FILE is a regular file not accessible by group or others, else -1
 * with err "FILE: permissions 0644 are too open; chmod 600 FILE". */
int xr_key_file_check(const char *path, char *err, size_t errlen);
/* Parse an identity line into the raw key: 0 / -1. */
int xr_identity_parse(const char *line, uint8_t raw[32]);
/* Format raw key as an identity line. */
void xr_identity_format(const uint8_t raw[32], char *line, size_t linelen);

#endif
