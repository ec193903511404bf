/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * systemd readiness notification (Type=notify): "READY=1", "RELOADING=1",
 * "STOPPING=1", "STATUS=...".  Does nothing when $NOTIFY_SOCKET is unset.
 */
#ifndef XR_SDNOTIFY_H
#define XR_SDNOTIFY_H

void xr_sd_notify(const char *state);

#endif
