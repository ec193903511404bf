/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Host name matching for the SNI router.  Pure code: no I/O, no globals,
 * no allocation (the table uses storage the caller provides).
 *
 * Names compare case-insensitively (ASCII) and one trailing dot is ignored
 * on either side.  A pattern "*.example.com" matches exactly one extra,
 * non-empty leftmost label: "a.example.com" yes; "a.b.example.com" and
 * "example.com" no.  '*' is only special as the whole leftmost label.
 */
#ifndef XR_HOSTMATCH_H
#define XR_HOSTMATCH_H

#include <stddef.h>

#define XR_HOST_MAX 253 /* without trailing dot */

/* 1 if host matches pattern (exact or wildcard as above), else 0. */
int xr_host_match(const char *pattern, const char *host);

struct xr_hostent {
	char key[XR_HOST_MAX + 1]; /* lower-case, no trailing dot; wildcard: the suffix after "*." */
	unsigned char wild;        /* 1 for "*.suffix" */
	void *value;
};

/*
 * A sorted array of (wild, key) over caller storage, searched with binary
 * search.  Complexity: add O(n) (insertion shifts), lookup O(log n) string
 * compares - at most two searches: the exact name, then the one wildcard
 * that can match under the one-label rule ("*." + host minus its first
 * label), which is therefore also the longest matching wildcard.
 */
struct xr_hosttab {
	struct xr_hostent *ents;
	size_t n, cap;
};

void xr_hosttab_init(struct xr_hosttab *t, struct xr_hostent *storage, size_t cap);
/* Add "name" or "*.suffix".  Returns 0, -EINVAL (bad name: empty, too long,
 * empty label, '*' anywhere but a whole leftmost label), -EEXIST (already
 * there; value unchanged) or -ENOSPC. */
int xr_hosttab_add(struct xr_hosttab *t, const char *name, void *value);
/* Value for host: exact entry first, then the wildcard; NULL if none
 * (or host is not a valid name).  If found is non-NULL it is set to 1 when
 * an entry matched (so a NULL value can be stored). */
void *xr_hosttab_lookup(const struct xr_hosttab *t, const char *host, int *found);

#endif /* XR_HOSTMATCH_H */
