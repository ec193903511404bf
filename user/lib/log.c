// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/libbpf.h>

static const char *g_prog = "xrelay";
static enum xr_log_level g_level = XR_LOG_INFO;
static const char *const names[] = { "error", "warn", "info", "debug" };

void xr_log_init(const char *prog, enum xr_log_level level)
{
	g_prog = prog;
	g_level = level;
}

void xr_log_set_level(enum xr_log_level level) { g_level = level; }
enum xr_log_level xr_log_get_level(void) { return g_level; }

int xr_log_parse_level(const char *s)
{
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(s, names[i]))
			return (int)i;
	return -1;
}

static void vlog(enum xr_log_level lvl, const char *msg, const char *kvfmt, va_list ap)
{
	char ts[32], line[2048];
	struct timespec now;
	struct tm tm;
	int n;

	if (lvl > g_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "ts=%s.%03ldZ level=%s prog=%s msg=\"", ts,
		     now.tv_nsec / 1000000, names[lvl], g_prog);
	/* msg is quoted: escape quotes and backslashes, drop control bytes */
	for (const char *p = msg; *p && n < (int)sizeof(line) - 8; p++) {
		if (*p == '"' || *p == '\\')
			line[n++] = '\\';
		line[n++] = (*p >= 0x20) ? *p : ' ';
	}
	line[n++] = '"';
	if (kvfmt && *kvfmt && n < (int)sizeof(line) - 2) {
		line[n++] = ' ';
		n += vsnprintf(line + n, sizeof(line) - n, kvfmt, ap);
		if (n >= (int)sizeof(line))
			n = sizeof(line) - 1;
	}
	line[n] = '\0';
	fprintf(stderr, "%s\n", line);
}

void xr_log(enum xr_log_level lvl, const char *msg, const char *kvfmt, ...)
{
	va_list ap;

	va_start(ap, kvfmt);
	vlog(lvl, msg, kvfmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[1024];
	size_t n;

	/* libbpf's debug output is a loader trace: only on explicit request */
	if (level == LIBBPF_DEBUG && !getenv("XRELAY_LIBBPF_DEBUG"))
		return 0;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	xr_log(level == LIBBPF_WARN ? XR_LOG_WARN : XR_LOG_DEBUG, buf, "src=libbpf");
	return 0;
}

void xr_log_hook_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
