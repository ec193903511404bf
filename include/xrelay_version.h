/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The one version of xrelay: all three programs, the package, the metrics'
 * build info and the agent's probe User-Agent. */
#ifndef XRELAY_VERSION_H
#define XRELAY_VERSION_H

#define XRELAY_VERSION "0.2.0"

#endif
