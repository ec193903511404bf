/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Logging: one line per event on stderr, logfmt (key=value), with levels.
 *   xr_info("session installed", "tenant=%s index=%u", name, idx);
 * prints
 *   ts=2026-11-24T22:40:00.123Z level=info prog=xrelayd msg="session installed" tenant=lab index=7
 * Never pass secrets (private keys, tokens) to these functions.
 */
#ifndef XR_LOG_H
#define XR_LOG_H

#include <stdarg.h>

enum xr_log_level { XR_LOG_ERROR = 0, XR_LOG_WARN, XR_LOG_INFO, XR_LOG_DEBUG };

void xr_log_init(const char *prog, enum xr_log_level level);
void xr_log_set_level(enum xr_log_level level);
enum xr_log_level xr_log_get_level(void);
/* "error", "warn", "info", "debug" -> level; -1 if unknown */
int xr_log_parse_level(const char *s);
/* Route libbpf's own messages through xr_log (warn and info only). */
void xr_log_hook_libbpf(void);

void xr_log(enum xr_log_level lvl, const char *msg, const char *kvfmt, ...)
	__attribute__((format(printf, 3, 4)));

#define xr_err(msg, ...)   xr_log(XR_LOG_ERROR, msg, __VA_ARGS__)
#define xr_warn(msg, ...)  xr_log(XR_LOG_WARN, msg, __VA_ARGS__)
#define xr_info(msg, ...)  xr_log(XR_LOG_INFO, msg, __VA_ARGS__)
#define xr_dbg(msg, ...)   do { if (xr_log_get_level() >= XR_LOG_DEBUG) \
		xr_log(XR_LOG_DEBUG, msg, __VA_ARGS__); } while (0)

#endif
