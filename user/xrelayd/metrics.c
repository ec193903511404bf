// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Stub: Prometheus exposition on admin.metrics; filled in by its own change. */
#include "xrelayd.h"

int metrics_open(struct relay *r)
{
	(void)r;
	return 0;
}

void metrics_close(struct relay *r)
{
	(void)r;
}
