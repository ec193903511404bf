// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xrelayd's admin socket, client side: AF_UNIX stream, one request line
 * ("status\n", "reload\n"), the reply is one JSON object and ends at EOF.
 * Everything -- connect, write, read -- shares one CTL_ADMIN_TIMEOUT_MS
 * deadline so that a wedged xrelayd never hangs the CLI.
 */
#include "ctl.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "json.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int ctl_admin_call(const char *path, const char *cmd, char **reply, size_t *len,
		   char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = CTL_ADMIN_TIMEOUT_MS / 1000,
			      .tv_usec = (CTL_ADMIN_TIMEOUT_MS % 1000) * 1000 };
	int64_t deadline = now_ms() + CTL_ADMIN_TIMEOUT_MS;
	char req[64], *buf = NULL;
	size_t n = 0, cap = 0, reqlen;
	int fd = -1, rc = -1;

	*reply = NULL;
	*len = 0;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "socket path longer than %zu bytes", sizeof(sa.sun_path) - 1);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	reqlen = (size_t)snprintf(req, sizeof(req), "%s\n", cmd);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	/* SO_SNDTIMEO bounds a connect to a listener whose backlog is full. */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(err, errlen, "%s", errno == EAGAIN || errno == EINPROGRESS ?
			 "connect timed out" : strerror(errno));
		goto cleanup;
	}
	if (send(fd, req, reqlen, MSG_NOSIGNAL) != (ssize_t)reqlen) {
		snprintf(err, errlen, "send: %s", errno == EAGAIN ? "timed out" : strerror(errno));
		goto cleanup;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t r;
		int pr;

		if (left <= 0) {
			snprintf(err, errlen, "no complete reply within %d ms", CTL_ADMIN_TIMEOUT_MS);
			goto cleanup;
		}
		pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			goto cleanup;
		}
		if (pr == 0)
			continue;           /* the deadline check above reports it */
		if (cap - n < 4096) {
			char *nb;

			if (cap >= CTL_ADMIN_MAX_REPLY) {
				snprintf(err, errlen, "reply longer than %u bytes", CTL_ADMIN_MAX_REPLY);
				goto cleanup;
			}
			cap = cap ? cap * 2 : 8192;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				snprintf(err, errlen, "out of memory");
				goto cleanup;
			}
			buf = nb;
		}
		r = recv(fd, buf + n, cap - n, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0) {
			snprintf(err, errlen, "recv: %s", strerror(errno));
			goto cleanup;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (!buf || !n) {
		snprintf(err, errlen, "empty reply");
		goto cleanup;
	}
	buf[n] = '\0';
	if (!xr_json_valid(buf, n)) {
		snprintf(err, errlen, "reply is not JSON");
		goto cleanup;
	}
	*reply = buf;
	*len = n;
	buf = NULL;
	rc = 0;
cleanup:
	free(buf);
	close(fd);
	return rc;
}

/* ---- tiny scans of a flat reply ---------------------------------------------- */

/* The value after the first `"key"` that is followed by a colon, or NULL. */
static const char *find_member(const char *json, const char *key)
{
	size_t kl = strlen(key);
	const char *p = json;

	while ((p = strchr(p, '"'))) {
		const char *q = p + 1;

		if (!strncmp(q, key, kl) && q[kl] == '"') {
			q += kl + 1;
			while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
				q++;
			if (*q == ':') {
				q++;
				while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')
					q++;
				return q;
			}
		}
		/* skip this string (it may be a value that looks like the key) */
		for (q = p + 1; *q && *q != '"'; q++)
			if (*q == '\\' && q[1])
				q++;
		if (!*q)
			return NULL;
		p = q + 1;
	}
	return NULL;
}

bool ctl_json_get_u64(const char *json, const char *key, uint64_t *out)
{
	const char *v = find_member(json, key);
	char *end;

	if (!v || *v < '0' || *v > '9')
		return false;
	errno = 0;
	*out = strtoull(v, &end, 10);
	return !errno;
}

bool ctl_json_get_bool(const char *json, const char *key, bool *out)
{
	const char *v = find_member(json, key);

	if (v && !strncmp(v, "true", 4)) {
		*out = true;
		return true;
	}
	if (v && !strncmp(v, "false", 5)) {
		*out = false;
		return true;
	}
	return false;
}

bool ctl_json_get_str(const char *json, const char *key, char *out, size_t outlen)
{
	const char *v = find_member(json, key);
	size_t n = 0;

	if (!v || *v != '"' || !outlen)
		return false;
	for (v++; *v && *v != '"'; v++) {
		char c = *v;

		if (c == '\\') {
			v++;
			switch (*v) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u':
				/* keep ASCII, show anything else as '?' */
				c = '?';
				if (strlen(v) >= 5) {
					char hex[5] = { v[1], v[2], v[3], v[4], '\0' };
					unsigned long cp = strtoul(hex, NULL, 16);

					if (cp >= 0x20 && cp < 0x7f)
						c = (char)cp;
					v += 4;
				}
				break;
			case '\0': v--; continue;
			default: c = *v; break;       /* \" \\ \/ */
			}
		}
		if (n + 1 < outlen)
			out[n++] = c;
	}
	out[n] = '\0';
	return *v == '"';
}

int ctl_reload(const struct ctl *c)
{
	char err[256], msg[512];
	char *reply;
	size_t len;
	bool ok = false;

	if (ctl_admin_call(c->socket, "reload", &reply, &len, err, sizeof(err))) {
		ctl_err("xrelayd not reachable at %s (%s)", c->socket, err);
		return CTL_FAIL;
	}
	if (!ctl_json_get_bool(reply, "ok", &ok)) {
		ctl_err("unexpected reply from xrelayd: %s", reply);
		free(reply);
		return CTL_FAIL;
	}
	if (c->json) {
		struct xr_json j;

		xr_json_init(&j, stdout, c->pretty);
		xr_json_raw(&j, reply, len);
		xr_json_finish(&j);
	}
	if (!ok) {
		if (!ctl_json_get_str(reply, "error", msg, sizeof(msg)))
			snprintf(msg, sizeof(msg), "no reason given");
		ctl_err("reload rejected: %s (the running configuration stays)", msg);
	} else if (!c->json) {
		printf("xrelayd: configuration reloaded\n");
	}
	free(reply);
	return ok ? CTL_OK : CTL_FAIL;
}
