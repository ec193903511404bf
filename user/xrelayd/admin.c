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

#include "json.h"
#include "log.h"
#include "xrelayd.h"

static void admin_accept_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

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
	snprintf(r->admin_path, sizeof(r->admin_path), "%s", path);   /* a reload may change cfg */
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
		unlink(r->admin_path);
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

/* Replies are built with the shared JSON writer into memory, then sent. */
static FILE *reply_open(struct xr_json *j, char **buf, size_t *len)
{
	FILE *f = open_memstream(buf, len);

	if (f)
		xr_json_init(j, f, false);
	return f;
}

/* open_memstream sets *buf only at fflush/fclose (and may move it while
 * growing): read it after fclose, never before. */
static void reply_send(struct admin_conn *c, struct xr_json *j, FILE *f, char **buf)
{
	int bad = xr_json_finish(j);

	fputc('\n', f);
	bad |= fclose(f) != 0;
	reply(c, bad || !*buf ? "{\"ok\":false,\"error\":\"could not build the reply\"}\n" : *buf);
	free(*buf);
	*buf = NULL;
}

static void do_status(struct admin_conn *c)
{
	struct relay *r = c->r;
	const struct xr_wgs_stats *w = xr_wgs_stats(r->wgs);
	struct xr_json j;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = reply_open(&j, &buf, &len);

	if (!f)
		return;
	xr_json_obj(&j);
	xr_json_kbool(&j, "ok", true);
	xr_json_kstr(&j, "version", XRELAYD_VERSION);
	xr_json_ku64(&j, "pid", (uint64_t)getpid());
	xr_json_ku64(&j, "uptime_s", (now_ns() - r->start_ns) / 1000000000ull);
	xr_json_kstr(&j, "config", r->cfg_path);
	xr_json_ku64(&j, "tenants", (uint64_t)r->cfg.n_tenants);
	xr_json_ku64(&j, "wireguard_sockets", (uint64_t)r->n_wg);
	xr_json_key(&j, "handshakes");
	xr_json_obj(&j);
	xr_json_ku64(&j, "initiations", w->init);
	xr_json_ku64(&j, "responses", w->resp);
	xr_json_ku64(&j, "cookies", w->cookie);
	xr_json_ku64(&j, "forwarded", w->forwarded);
	xr_json_ku64(&j, "sessions_installed", w->sessions_installed);
	xr_json_ku64(&j, "dropped_no_key", w->no_key);
	xr_json_ku64(&j, "dropped_no_endpoint", w->no_endpoint);
	xr_json_ku64(&j, "dropped_no_pending", w->no_pending);
	xr_json_ku64(&j, "dropped_bad_source", w->bad_source);
	xr_json_ku64(&j, "dropped_not_allowed", w->not_allowed);
	xr_json_ku64(&j, "dropped_malformed", w->malformed);
	xr_json_end(&j);
	xr_json_key(&j, "slowpath");
	xr_json_obj(&j);
	xr_json_ku64(&j, "forwarded", r->st.slowpath_fwd);
	xr_json_ku64(&j, "dropped", r->st.slowpath_drop);
	xr_json_end(&j);
	xr_json_ku64(&j, "send_errors", r->st.send_errors);
	xr_json_ku64(&j, "sessions_expired", r->st.sessions_expired);
	xr_json_ku64(&j, "reloads", r->st.reloads);
	xr_json_ku64(&j, "reload_failures", r->st.reload_failures);
	xr_json_ku64(&j, "accept_errors", r->st.accept_errors);
	{
		struct agent_sess *a;
		unsigned n = 0;
		uint64_t now = now_ns();

		for (a = r->sessions; a; a = a->next)
			n += a->state == AS_READY;
		xr_json_key(&j, "tls");
		xr_json_obj(&j);
		xr_json_kstr(&j, "mover", xr_mover_name((enum xr_mover)r->cfg.tls_mover));
		xr_json_ku64(&j, "agents_connected", n);
		xr_json_ku64(&j, "connections", r->n_pconns);
		xr_json_ku64(&j, "hello_slots_used", r->slots_used);
		xr_json_ku64(&j, "tokens_outstanding", r->n_tokens);
		xr_json_ku64(&j, "buffer_waits", r->pumps.starved_events);
		xr_json_end(&j);
		xr_json_key(&j, "agents");
		xr_json_arr(&j);
		for (a = r->sessions; a; a = a->next) {
			if (a->state != AS_READY)
				continue;
			xr_json_obj(&j);
			xr_json_kstr(&j, "tenant", a->tenant);
			xr_json_kstr(&j, "agent", a->name);
			xr_json_kstr(&j, "peer", a->peer);
			xr_json_ku64(&j, "session", a->id);
			xr_json_ku64(&j, "age_s", (now - a->since_ns) / 1000000000ull);
			xr_json_ku64(&j, "heartbeat_ms", a->heartbeat_ms);
			xr_json_ku64(&j, "pool", a->pool_n);
			xr_json_ku64(&j, "pool_target", a->pool_target);
			xr_json_key(&j, "hostnames");
			xr_json_arr(&j);
			for (unsigned h = 0; h < a->n_hosts; h++)
				xr_json_str(&j, a->routes[h].host);
			xr_json_end(&j);
			xr_json_kstr(&j, "state", xr_health_name(a->h.state));
			xr_json_kstr(&j, "reason", a->h.reason);
			xr_json_ku64(&j, "rtt_us", a->rtt_us);
			xr_json_end(&j);
		}
		xr_json_end(&j);
	}
	health_json(r, &j);
	xr_json_end(&j);
	reply_send(c, &j, f, &buf);
}

static void do_reload(struct admin_conn *c)
{
	char err[XR_CFG_ERR_LEN];
	struct xr_json j;
	char *buf = NULL;
	size_t len = 0;
	bool ok = !relay_reload(c->r, err, sizeof(err));
	FILE *f = reply_open(&j, &buf, &len);

	if (!f)
		return;
	xr_json_obj(&j);
	xr_json_kbool(&j, "ok", ok);
	if (!ok)
		xr_json_kstr(&j, "error", err);
	xr_json_end(&j);
	reply_send(c, &j, f, &buf);
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
