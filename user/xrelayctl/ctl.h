/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xrelayctl internals shared by its files:
 *   main.c   verbs, options, usage, exit codes, keygen/pubkey
 *   attach.c attach/detach of the XDP program through pinned links
 *   show.c   status, tenants, sessions, flows, stats (text and JSON)
 *   admin.c  xrelayd's admin socket: one request line, a JSON reply (status, reload)
 */
#ifndef XR_CTL_H
#define XR_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xrelay_version.h"
#define XR_VERSION XRELAY_VERSION

#define XR_SOCKET_DEFAULT "/run/xrelay/xrelayd.sock"

/* Exit codes everywhere (CONTRACT.md). */
enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

struct ctl {
	const char *pin_root;   /* resolved: --pin-root > $XRELAY_PIN_ROOT > default */
	const char *socket;     /* resolved: -s > $XRELAY_SOCKET > default */
	bool json;
	bool pretty;            /* implies json, as in bpftool */
};

/* "xrelayctl: <message>" on stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* attach.c; mode is "native" (default when NULL), "generic" (or "skb", "drv"). */
int ctl_attach(const struct ctl *c, const char *ifname, const char *mode);
int ctl_detach(const struct ctl *c, const char *ifname);

/* show.c */
int ctl_status(const struct ctl *c);
int ctl_tenants(const struct ctl *c);
int ctl_sessions(const struct ctl *c);
int ctl_flows(const struct ctl *c);
int ctl_stats(const struct ctl *c);

/* admin.c */
#define CTL_ADMIN_TIMEOUT_MS 1000
#define CTL_ADMIN_MAX_REPLY  (1u << 20)
/* Connect to xrelayd's admin socket, send `cmd` and a newline, read until EOF
 * (all within CTL_ADMIN_TIMEOUT_MS).  0 with *reply (NUL-terminated, malloc'd,
 * checked to be one JSON value), or -1 with err: the reason, e.g.
 * "No such file or directory", "timed out", "reply is not JSON". */
int ctl_admin_call(const char *path, const char *cmd, char **reply, size_t *len,
		   char *err, size_t errlen);
/* Tiny scans of a flat JSON reply: the first member named `key`.  true when
 * found with the right type. */
bool ctl_json_get_u64(const char *json, const char *key, uint64_t *out);
bool ctl_json_get_bool(const char *json, const char *key, bool *out);
bool ctl_json_get_str(const char *json, const char *key, char *out, size_t outlen);
int ctl_reload(const struct ctl *c);

#endif
