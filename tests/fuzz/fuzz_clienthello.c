// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target for user/lib/clienthello.c.  The input is the byte
 * stream a client sends.  It is fed three ways - whole, one byte at a time,
 * and in chunks of 1 + len % 97 bytes - and all three must agree on the
 * result, the SNI, the ALPN list and the bytes consumed.  Invariants: the
 * consumed count never exceeds the input or max_bytes; a DONE SNI is
 * lower-case [a-z0-9._-], <= 253 bytes; ALPN names are non-empty.  A fourth
 * run with max_bytes 512 must never consume more than 512 bytes.
 * Built and run by tests/fuzz/run.sh.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clienthello.h"

static struct xr_chello st[3], small; /* 16.5 KiB each: off the stack */

static int feed(struct xr_chello *s, const uint8_t *d, size_t n, size_t step)
{
	size_t off = 0, k;
	int rc = XR_CH_NEED_MORE;

	while (off < n && rc == XR_CH_NEED_MORE) {
		k = n - off < step ? n - off : step;
		rc = xr_chello_feed(s, d + off, k);
		off += k;
	}
	return rc;
}

static void check_done(const struct xr_chello *s)
{
	const char *sni = xr_chello_sni(s);
	size_t i, n = strlen(sni), l;

	if (n > XR_CH_SNI_MAX)
		abort();
	for (i = 0; i < n; i++)
		if (!((sni[i] >= 'a' && sni[i] <= 'z') || (sni[i] >= '0' && sni[i] <= '9') ||
		      sni[i] == '.' || sni[i] == '-' || sni[i] == '_'))
			abort();
	for (i = 0; i < xr_chello_alpn_count(s); i++)
		if (!xr_chello_alpn(s, i, &l) || l == 0)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t steps[3] = { size ? size : 1, 1, 1 + size % 97 }, i, l0, l1;
	int rc[3];

	for (i = 0; i < 3; i++) {
		xr_chello_init(&st[i], 0);
		rc[i] = feed(&st[i], data, size, steps[i]);
		if (xr_chello_consumed(&st[i]) > size || xr_chello_consumed(&st[i]) > XR_CH_DEFAULT_MAX)
			abort();
		if (rc[i] == XR_CH_DONE)
			check_done(&st[i]);
	}
	for (i = 1; i < 3; i++) {
		if (rc[i] != rc[0] || xr_chello_consumed(&st[i]) != xr_chello_consumed(&st[0]) ||
		    strcmp(xr_chello_sni(&st[i]), xr_chello_sni(&st[0])) ||
		    xr_chello_alpn_count(&st[i]) != xr_chello_alpn_count(&st[0]))
			abort();
		for (size_t a = 0; a < xr_chello_alpn_count(&st[0]); a++) {
			const uint8_t *p0 = xr_chello_alpn(&st[0], a, &l0), *p1 = xr_chello_alpn(&st[i], a, &l1);

			if (l0 != l1 || memcmp(p0, p1, l0))
				abort();
		}
	}
	xr_chello_init(&small, 512);
	feed(&small, data, size, 1 + size % 13);
	if (xr_chello_consumed(&small) > 512)
		abort();
	return 0;
}
