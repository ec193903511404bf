// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Stub: the systemd helper replaces this with the real notification. */
#include "sdnotify.h"

void xr_sd_notify(const char *state)
{
	(void)state;
}
