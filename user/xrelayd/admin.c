// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Admin socket (AF_UNIX stream, admin.socket): one request line, one JSON
 * reply, then the connection is closed.
 *   status  -> {"ok":true,"pid":..,"uptime_s":..,"config":"..",...}
 *   reload  -> {"ok":true} | {"ok":false,"error":"FILE:LINE: message"}
 * Accepts are multishot on the loop; replies are small and written with one
 * non-blocking send.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "xrelayd.h"

static void admin_accept_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

static void json_str(char *out, size_t len, const char *s)
{
	size_t n = 0;

	for (; *s && n + 7 < len; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\') {
			out[n++] = '\\';
			out[n++] = c;
		} else if (c < 0x20) {
			n += snprintf(out + n, len - n, "\\u%04x", c);
		} else {
			out[n++] = c;
		}
	}
	out[n] = '\0';
}

static void arm_accept(struct relay *r)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&r->loop, &r->admin_op);

	io_uring_prep_multishot_accept(sqe, r->admin_fd, NULL, NULL, SOCK_CLOEXEC);
}

int admin_open(struct relay *r)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = r->cfg.admin_socket;
	char dir[sizeof(sun.sun_path)], *slash;

	r->admin_fd = -1;
	if (!*path)
		return 0;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		xr_err("admin socket path too long", "path=%s", path);
		return -ENAMETOOLONG;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	strcpy(sun.sun_path, path);
	r->admin_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->admin_fd < 0)
		return -errno;
	unlink(path);   /* a stale socket of a killed xrelayd */
	if (bind(r->admin_fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(r->admin_fd, 16)) {
		int rc = -errno;

		xr_err("admin socket", "path=%s error=\"%s\"", path, strerror(errno));
		close(r->admin_fd);
		r->admin_fd = -1;
		return rc;
	}
	chmod(path, 0660);
	r->admin_op.cb = admin_accept_cb;
	r->admin_op.ctx = r;
	arm_accept(r);
	xr_info("admin socket listening", "path=%s", path);
	return 0;
}

void admin_close(struct relay *r)
{
	if (r->admin_fd >= 0) {
		close(r->admin_fd);
		unlink(r->cfg.admin_socket);
	}
	r->admin_fd = -1;
}

static void reply(struct admin_conn *c, const char *s)
{
	size_t len = strlen(s), off = 0;

	/* small replies fit the socket buffer; give up rather than block */
	while (off < len) {
		ssize_t n = send(c->fd, s + off, len - off, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n <= 0)
			break;
		off += n;
	}
}

static void do_status(struct admin_conn *c)
{
	struct relay *r = c->r;
	const struct xr_wgs_stats *w = xr_wgs_stats(r->wgs);
	char out[4096], cfg[512];

	json_str(cfg, sizeof(cfg), r->cfg_path);
	snprintf(out, sizeof(out),
		 "{\"ok\":true,\"version\":\"%s\",\"pid\":%d,\"uptime_s\":%llu,\"config\":\"%s\","
		 "\"tenants\":%d,\"wireguard_sockets\":%d,"
		 "\"handshakes\":{\"initiations\":%llu,\"responses\":%llu,\"cookies\":%llu,"
		 "\"forwarded\":%llu,\"sessions_installed\":%llu,\"dropped_no_key\":%llu,"
		 "\"dropped_no_endpoint\":%llu,\"dropped_no_pending\":%llu,\"dropped_bad_source\":%llu,"
		 "\"dropped_not_allowed\":%llu,\"dropped_malformed\":%llu},"
		 "\"slowpath\":{\"forwarded\":%llu,\"dropped\":%llu},\"send_errors\":%llu,"
		 "\"sessions_expired\":%llu,\"reloads\":%llu,\"reload_failures\":%llu}\n",
		 XRELAYD_VERSION, (int)getpid(),
		 (unsigned long long)((now_ns() - r->start_ns) / 1000000000ull), cfg,
		 r->cfg.n_tenants, r->n_wg,
		 (unsigned long long)w->init, (unsigned long long)w->resp,
		 (unsigned long long)w->cookie, (unsigned long long)w->forwarded,
		 (unsigned long long)w->sessions_installed, (unsigned long long)w->no_key,
		 (unsigned long long)w->no_endpoint, (unsigned long long)w->no_pending,
		 (unsigned long long)w->bad_source, (unsigned long long)w->not_allowed,
		 (unsigned long long)w->malformed,
		 (unsigned long long)r->st.slowpath_fwd, (unsigned long long)r->st.slowpath_drop,
		 (unsigned long long)r->st.send_errors, (unsigned long long)r->st.sessions_expired,
		 (unsigned long long)r->st.reloads, (unsigned long long)r->st.reload_failures);
	reply(c, out);
}

static void do_reload(struct admin_conn *c)
{
	char err[XR_CFG_ERR_LEN], e[2 * XR_CFG_ERR_LEN], out[3 * XR_CFG_ERR_LEN];

	if (relay_reload(c->r, err, sizeof(err))) {
		json_str(e, sizeof(e), err);
		snprintf(out, sizeof(out), "{\"ok\":false,\"error\":\"%s\"}\n", e);
		reply(c, out);
		return;
	}
	reply(c, "{\"ok\":true}\n");
}

static void conn_recv_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct admin_conn *c = op->ctx;
	char *nl;

	if (cqe->res > 0) {
		c->buf[cqe->res < (int)sizeof(c->buf) ? cqe->res : (int)sizeof(c->buf) - 1] = '\0';
		nl = strpbrk(c->buf, "\r\n");
		if (nl)
			*nl = '\0';
		if (!strcmp(c->buf, "status"))
			do_status(c);
		else if (!strcmp(c->buf, "reload"))
			do_reload(c);
		else
			reply(c, "{\"ok\":false,\"error\":\"unknown request (status, reload)\"}\n");
	}
	close(c->fd);
	free(c);
}

static void admin_accept_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct relay *r = op->ctx;

	if (cqe->res >= 0) {
		struct admin_conn *c = calloc(1, sizeof(*c));

		if (!c) {
			close(cqe->res);
		} else {
			struct io_uring_sqe *sqe;

			c->r = r;
			c->fd = cqe->res;
			c->op.cb = conn_recv_cb;
			c->op.ctx = c;
			static struct __kernel_timespec deadline = { .tv_sec = 2 };

			sqe = xr_loop_sqe(loop, &c->op);
			io_uring_prep_recv(sqe, c->fd, c->buf, sizeof(c->buf) - 1, 0);
			/* a client that never sends is cut off after 2 s */
			sqe->flags |= IOSQE_IO_LINK;
			sqe = xr_loop_sqe(loop, NULL);
			io_uring_prep_link_timeout(sqe, &deadline, 0);
		}
	}
	if (!(cqe->flags & IORING_CQE_F_MORE) && r->admin_fd >= 0 && !loop->stop)
		arm_accept(r);
}
