/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * WireGuard messages as seen by the relay: parsing and mac1.  Pure code:
 * no I/O, no globals.  The relay never holds a WireGuard private key; mac1
 * only needs the receiver's *public* key:
 *   mac1_key = BLAKE2s-256("mac1----" || receiver_pubkey)
 *   mac1     = BLAKE2s-128-MAC(mac1_key, msg[0 : offset_of(mac1)])
 * Computed with OpenSSL 3 (EVP_MD "BLAKE2S-256", EVP_MAC "BLAKE2SMAC").
 */
#ifndef XR_WG_H
#define XR_WG_H

#include <stddef.h>
#include <stdint.h>

#include "xrelay_abi.h"

struct xr_wg_msg {
	uint8_t type;            /* XR_WG_TYPE_* */
	uint32_t sender;         /* host order of the little-endian wire field; 0 for type 3/4 */
	uint32_t receiver;       /* types 2,3,4; 0 for type 1 */
	const uint8_t *mac1;     /* types 1,2: 16 bytes inside the buffer, else NULL */
	size_t mac1_off;         /* bytes covered by mac1 (116 for type 1, 60 for type 2) */
};

/* Parse a UDP payload.  Returns 0, or -1 when it is not a well-formed
 * WireGuard message (wrong length for its type, non-zero reserved bytes,
 * unknown type, data message shorter than 32 or not 16-byte padded). */
int xr_wg_parse(const uint8_t *buf, size_t len, struct xr_wg_msg *out);

/* mac1_key for a receiver public key. */
int xr_wg_mac1_key(const uint8_t pubkey[32], uint8_t key[32]);
/* 1 if msg's mac1 verifies under mac1_key, 0 if not, -1 on library error. */
int xr_wg_mac1_verify(const uint8_t *buf, size_t len, const struct xr_wg_msg *m,
		      const uint8_t mac1_key[32]);
/* Compute mac1 (for tests and tools). */
int xr_wg_mac1_compute(const uint8_t *buf, size_t covered, const uint8_t mac1_key[32],
		       uint8_t mac[16]);

/* base64 (standard, padded) of a 32-byte key, as wg(8) prints it. */
void xr_wg_key_to_base64(const uint8_t key[32], char out[45]);
int xr_wg_key_from_base64(const char *s, uint8_t key[32]);

#endif
