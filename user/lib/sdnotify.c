// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sd_notify(3) without libsystemd: one datagram with the state text to the
 * AF_UNIX socket named by $NOTIFY_SOCKET ("/path", or "@name" for the
 * abstract namespace).  This is the protocol systemd documents as stable
 * (sd_notify(3), "Notes", ships the same ~30 lines as a reference); it saves
 * a library and lets the programs run unchanged where systemd is absent.
 * Errors are ignored on purpose: a relay must never stop for want of a
 * service manager, and systemd notices a missing READY=1 by its timeout.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "sdnotify.h"

void xr_sd_notify(const char *state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = getenv("NOTIFY_SOCKET");
	size_t n, len = strlen(state);
	socklen_t alen;
	ssize_t w;
	int fd;

	if (!path || (path[0] != '/' && path[0] != '@'))
		return;                 /* unset, or a vsock address we do not speak */
	n = strlen(path);
	if (n < 2 || n >= sizeof(sun.sun_path))
		return;
	memcpy(sun.sun_path, path, n);
	if (sun.sun_path[0] == '@')
		sun.sun_path[0] = '\0'; /* abstract: no trailing NUL, length counts */
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	do
		w = sendto(fd, state, len, MSG_NOSIGNAL, (struct sockaddr *)&sun, alen);
	while (w < 0 && errno == EINTR);
	close(fd);
}
