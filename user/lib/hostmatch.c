// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Host name matching and the router's host table; see hostmatch.h. */
#include <errno.h>
#include <string.h>

#include "hostmatch.h"

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
}

/* Length of s without one trailing dot, scanning at most XR_HOST_MAX + 2
 * bytes; returns XR_HOST_MAX + 1 for anything longer. */
static size_t hlen(const char *s)
{
	size_t n = strnlen(s, XR_HOST_MAX + 2);

	if (n && s[n - 1] == '.')
		n--;
	return n > XR_HOST_MAX ? XR_HOST_MAX + 1 : n;
}

static int eq_n(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower(a[i]) != lower(b[i]))
			return 0;
	return 1;
}

int xr_host_match(const char *pattern, const char *host)
{
	size_t pn = hlen(pattern), hn = hlen(host), i;

	if (!pn || !hn || pn > XR_HOST_MAX || hn > XR_HOST_MAX)
		return 0;
	if (pn >= 3 && pattern[0] == '*' && pattern[1] == '.') {
		/* host = label "." suffix, label non-empty and dot-free */
		size_t sn = pn - 2;

		if (hn < sn + 2 || host[hn - sn - 1] != '.')
			return 0;
		for (i = 0; i < hn - sn - 1; i++)
			if (host[i] == '.')
				return 0;
		return eq_n(pattern + 2, host + hn - sn, sn);
	}
	return pn == hn && eq_n(pattern, host, pn);
}

void xr_hosttab_init(struct xr_hosttab *t, struct xr_hostent *storage, size_t cap)
{
	t->ents = storage;
	t->n = 0;
	t->cap = storage ? cap : 0;
}

/* Lower-cased copy of s[0..n) into out; -1 on an empty label or '*'. */
static int norm(const char *s, size_t n, char *out)
{
	size_t i;

	if (n == 0 || n > XR_HOST_MAX || s[0] == '.' || s[n - 1] == '.')
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] == '*' || (s[i] == '.' && s[i - 1] == '.'))
			return -1;
		out[i] = lower(s[i]);
	}
	out[n] = '\0';
	return 0;
}

static int cmp(unsigned char wa, const char *ka, const struct xr_hostent *e)
{
	if (wa != e->wild)
		return wa < e->wild ? -1 : 1;
	return strcmp(ka, e->key);
}

/* Index of (wild, key) or, if absent, where it would go (*hit = 0). */
static size_t find(const struct xr_hosttab *t, unsigned char wild, const char *key, int *hit)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) { /* at most log2(n) + 1 passes */
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp(wild, key, &t->ents[mid]);

		if (c == 0) {
			*hit = 1;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	*hit = 0;
	return lo;
}

int xr_hosttab_add(struct xr_hosttab *t, const char *name, void *value)
{
	char key[XR_HOST_MAX + 1];
	unsigned char wild = 0;
	size_t n = hlen(name), at;
	int hit;

	if (n >= 2 && name[0] == '*' && name[1] == '.') {
		wild = 1;
		name += 2;
		n -= 2;
	}
	if (norm(name, n, key))
		return -EINVAL;
	at = find(t, wild, key, &hit);
	if (hit)
		return -EEXIST;
	if (t->n >= t->cap)
		return -ENOSPC;
	memmove(&t->ents[at + 1], &t->ents[at], (t->n - at) * sizeof(t->ents[0]));
	memcpy(t->ents[at].key, key, n + 1);
	t->ents[at].wild = wild;
	t->ents[at].value = value;
	t->n++;
	return 0;
}

void *xr_hosttab_lookup(const struct xr_hosttab *t, const char *host, int *found)
{
	char key[XR_HOST_MAX + 1];
	const char *dot;
	size_t n = hlen(host), at;
	int hit;

	if (found)
		*found = 0;
	if (norm(host, n, key))
		return NULL;
	at = find(t, 0, key, &hit);
	if (!hit) {
		dot = strchr(key, '.');
		if (!dot || !dot[1])
			return NULL;
		at = find(t, 1, dot + 1, &hit);
		if (!hit)
			return NULL;
	}
	if (found)
		*found = 1;
	return t->ents[at].value;
}
