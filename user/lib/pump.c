// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The byte mover; see pump.h for the contract. */
#include "pump.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define SPLICE_ROUNDS 8   /* pipe fills per wake-up before yielding to others */

const char *xr_mover_name(enum xr_mover m)
{
	return m == XR_MOVER_SPLICE ? "splice" : "uring";
}

int xr_pumpset_init(struct xr_pumpset *s, struct xr_loop *loop, enum xr_mover mover,
		    int bgid, unsigned nbufs, unsigned size)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	s->mover = mover;
	s->pipe_size = size;
	if (mover == XR_MOVER_URING)
		return xr_bufring_init(loop, &s->br, bgid, nbufs, size);
	return 0;
}

void xr_pumpset_fini(struct xr_pumpset *s)
{
	if (s->mover == XR_MOVER_URING)
		xr_bufring_fini(s->loop, &s->br);
}

static int dir_idx(const struct xr_pump_dir *d) { return d == &d->p->d[1]; }
static int src_fd(const struct xr_pump_dir *d) { return d->p->fd[dir_idx(d)]; }
static int dst_fd(const struct xr_pump_dir *d) { return d->p->fd[!dir_idx(d)]; }

/* ---- starvation: a recv found the buffer ring empty ----------------------- */

static void starve(struct xr_pump_dir *d)
{
	struct xr_pumpset *s = d->p->set;

	d->starved = 1;
	d->snext = NULL;
	d->sprev = s->starved_tail;
	if (s->starved_tail)
		s->starved_tail->snext = d;
	else
		s->starved_head = d;
	s->starved_tail = d;
	s->starved_events++;
}

static void unstarve(struct xr_pump_dir *d)
{
	struct xr_pumpset *s = d->p->set;

	if (!d->starved)
		return;
	if (d->sprev)
		d->sprev->snext = d->snext;
	else
		s->starved_head = d->snext;
	if (d->snext)
		d->snext->sprev = d->sprev;
	else
		s->starved_tail = d->sprev;
	d->starved = 0;
	d->snext = d->sprev = NULL;
}

static void arm_recv(struct xr_pump_dir *d);

static void put_buf(struct xr_pump_dir *d)
{
	struct xr_pumpset *s = d->p->set;
	struct xr_pump_dir *w;

	if (d->bid < 0)
		return;
	xr_bufring_put(&s->br, (unsigned)d->bid);
	d->bid = -1;
	/* one buffer back: one starved direction may try again */
	w = s->starved_head;
	if (w) {
		unstarve(w);
		arm_recv(w);
	}
}

/* ---- ending ------------------------------------------------------------------ */

static void linger0(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

static void maybe_done(struct xr_pump *p)
{
	if (p->done)
		return;
	for (int i = 0; i < 2; i++)
		if (p->d[i].busy || p->d[i].tbusy)
			return;
	if (!p->closing && !(p->d[0].eof && p->d[1].eof))
		return;
	p->done = 1;
	for (int i = 0; i < 2; i++) {
		struct xr_pump_dir *d = &p->d[i];

		unstarve(d);
		if (p->set->mover == XR_MOVER_URING)
			put_buf(d);
		for (int k = 0; k < 2; k++)
			if (d->pipe[k] >= 0)
				close(d->pipe[k]);
	}
	for (int i = 0; i < 2; i++) {
		if (p->reset && p->fin_side == i) {
			/* a FIN the kernel retransmits (an orphan socket) rather
			 * than one RST that a link down at this moment loses;
			 * unread bytes would turn close() into a reset: drop them */
			shutdown(p->fd[i], SHUT_WR);
			while (recv(p->fd[i], NULL, 1u << 20, MSG_DONTWAIT | MSG_TRUNC) > 0)
				;
		} else if (p->reset) {
			linger0(p->fd[i]);
		}
		close(p->fd[i]);
	}
	p->set->active--;
	p->ops->closed(p, p->reset);
}

static void cancel(struct xr_loop *loop, struct xr_op *op)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(loop, NULL);

	io_uring_prep_cancel(sqe, op, 0);
}

void xr_pump_cut(struct xr_pump *p, int fin_side)
{
	if (p->closing || p->done)
		return;
	p->fin_side = (int8_t)fin_side;
	xr_pump_abort(p);
}

void xr_pump_abort(struct xr_pump *p)
{
	if (p->closing || p->done)
		return;
	p->closing = 1;
	p->reset = 1;
	p->set->resets++;
	for (int i = 0; i < 2; i++) {
		struct xr_pump_dir *d = &p->d[i];

		unstarve(d);
		if (d->busy)
			cancel(p->set->loop, &d->op);
		if (d->tbusy)
			cancel(p->set->loop, &d->top);
	}
	maybe_done(p);
}

/* The source said FIN: pass it on once the bytes before it are delivered
 * (they are: a direction reads again only after sending everything). */
static void src_eof(struct xr_pump_dir *d)
{
	d->eof = 1;
	shutdown(dst_fd(d), SHUT_WR);
	maybe_done(d->p);
}

static void after_move(struct xr_pump_dir *d, uint32_t bytes);

/* ---- io_uring recv/send --------------------------------------------------- */

static void arm_recv(struct xr_pump_dir *d)
{
	struct xr_pumpset *s = d->p->set;
	struct io_uring_sqe *sqe = xr_loop_sqe(s->loop, &d->op);

	io_uring_prep_recv(sqe, src_fd(d), NULL, s->br.size, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = (__u16)s->br.bgid;
	d->busy = 1;
	d->len = 0;
}

static void arm_send(struct xr_pump_dir *d)
{
	struct xr_pumpset *s = d->p->set;
	struct io_uring_sqe *sqe = xr_loop_sqe(s->loop, &d->op);

	io_uring_prep_send(sqe, dst_fd(d), xr_bufring_buf(&s->br, (unsigned)d->bid) + d->off,
			   d->len - d->off, MSG_NOSIGNAL);
	d->busy = 1;
}

static void uring_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct xr_pump_dir *d = op->ctx;
	struct xr_pump *p = d->p;
	int res = cqe->res;

	(void)loop;
	d->busy = 0;
	if (d->len == 0) {                       /* a recv completed */
		if (cqe->flags & IORING_CQE_F_BUFFER)
			d->bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		if (p->closing) {
			put_buf(d);
			maybe_done(p);
			return;
		}
		if (res > 0 && d->bid >= 0) {
			d->len = (uint32_t)res;
			d->off = 0;
			arm_send(d);
		} else if (res == 0) {
			put_buf(d);
			src_eof(d);
		} else if (res == -ENOBUFS) {
			starve(d);
		} else if (res == -EINTR || res == -EAGAIN) {
			arm_recv(d);
		} else {
			put_buf(d);
			xr_pump_abort(p);
		}
		return;
	}
	/* a send completed */
	if (p->closing) {
		put_buf(d);
		maybe_done(p);
		return;
	}
	if (res > 0) {
		uint32_t len = d->len;

		d->off += (uint32_t)res;
		if (d->off < d->len) {
			arm_send(d);
			return;
		}
		put_buf(d);
		d->len = 0;
		after_move(d, len);
	} else if (res == -EINTR || res == -EAGAIN) {
		arm_send(d);
	} else {
		put_buf(d);
		d->len = 0;
		xr_pump_abort(p);
	}
}

/* ---- splice(2) through a pipe ------------------------------------------------ */

static void arm_poll(struct xr_pump_dir *d, int fd, unsigned events)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(d->p->set->loop, &d->op);

	io_uring_prep_poll_add(sqe, fd, events);
	d->busy = 1;
}

static void splice_step(struct xr_pump_dir *d)
{
	struct xr_pump *p = d->p;
	unsigned flags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;

	for (int round = 0; round < SPLICE_ROUNDS; round++) {
		ssize_t n;

		if (d->inpipe == 0) {
			n = splice(src_fd(d), NULL, d->pipe[1], NULL, p->set->pipe_size, flags);
			if (n > 0) {
				d->inpipe = (uint32_t)n;
			} else if (n == 0) {
				src_eof(d);
				return;
			} else if (errno == EAGAIN) {
				arm_poll(d, src_fd(d), POLLIN | POLLRDHUP);
				return;
			} else if (errno != EINTR) {
				xr_pump_abort(p);
				return;
			}
			continue;
		}
		n = splice(d->pipe[0], NULL, dst_fd(d), NULL, d->inpipe, flags);
		if (n > 0) {
			d->inpipe -= (uint32_t)n;
			d->off += (uint32_t)n;
			p->bytes[dir_idx(d)] += (uint64_t)n;
			if (d->inpipe == 0) {
				uint32_t batch = d->off;

				d->off = 0;
				after_move(d, batch);
				return;
			}
		} else if (n < 0 && errno == EAGAIN) {
			d->waiting_out = 1;
			arm_poll(d, dst_fd(d), POLLOUT);
			return;
		} else if (n == 0 || errno != EINTR) {
			xr_pump_abort(p);
			return;
		}
	}
	arm_poll(d, src_fd(d), POLLIN | POLLRDHUP);  /* yield; usually completes at once */
}

static void splice_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct xr_pump_dir *d = op->ctx;

	(void)loop;
	(void)cqe;
	d->busy = 0;
	d->waiting_out = 0;
	if (d->p->closing) {
		maybe_done(d->p);
		return;
	}
	splice_step(d);
}

/* ---- common ------------------------------------------------------------------- */

static void go(struct xr_pump_dir *d)
{
	if (d->p->set->mover == XR_MOVER_SPLICE)
		splice_step(d);
	else
		arm_recv(d);
}

static void timeout_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct xr_pump_dir *d = op->ctx;

	(void)loop;
	(void)cqe;
	d->tbusy = 0;
	if (d->p->closing) {
		maybe_done(d->p);
		return;
	}
	go(d);
}

/* `bytes` reached the destination: count, ask the owner whether to pause. */
static void after_move(struct xr_pump_dir *d, uint32_t bytes)
{
	struct xr_pump *p = d->p;
	uint64_t wait_ns = 0;

	if (p->set->mover == XR_MOVER_URING)
		p->bytes[dir_idx(d)] += bytes;   /* splice_step counts as it goes */
	if (p->ops->moved)
		wait_ns = p->ops->moved(p, dir_idx(d), bytes);
	if (p->closing) {       /* the owner may have aborted in moved() */
		maybe_done(p);
		return;
	}
	if (wait_ns) {
		struct io_uring_sqe *sqe = xr_loop_sqe(p->set->loop, &d->top);

		d->ts.tv_sec = (long long)(wait_ns / 1000000000ull);
		d->ts.tv_nsec = (long long)(wait_ns % 1000000000ull);
		io_uring_prep_timeout(sqe, &d->ts, 0, 0);
		d->tbusy = 1;
		return;
	}
	go(d);
}

static int set_nonblock(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -errno;
	fl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	return fcntl(fd, F_SETFL, fl) < 0 ? -errno : 0;
}

int xr_pump_start(struct xr_pumpset *s, struct xr_pump *p, int fd0, int fd1,
		  const struct xr_pump_ops *ops, void *owner)
{
	bool splice_mode = s->mover == XR_MOVER_SPLICE;

	memset(p, 0, sizeof(*p));
	p->fin_side = -1;
	p->set = s;
	p->ops = ops;
	p->owner = owner;
	p->fd[0] = fd0;
	p->fd[1] = fd1;
	for (int i = 0; i < 2; i++) {
		struct xr_pump_dir *d = &p->d[i];

		d->p = p;
		d->bid = -1;
		d->pipe[0] = d->pipe[1] = -1;
		d->op.cb = splice_mode ? splice_cb : uring_cb;
		d->op.ctx = d;
		d->top.cb = timeout_cb;
		d->top.ctx = d;
		/* io_uring waits by poll itself and takes sockets as they come;
		 * splice needs O_NONBLOCK ones */
		if (splice_mode)
			set_nonblock(p->fd[i], true);
	}
	if (splice_mode) {
		for (int i = 0; i < 2; i++) {
			if (pipe2(p->d[i].pipe, O_CLOEXEC | O_NONBLOCK)) {
				int e = -errno;

				for (int k = 0; k <= i; k++)
					for (int j = 0; j < 2; j++)
						if (p->d[k].pipe[j] >= 0)
							close(p->d[k].pipe[j]);
				return e;
			}
			if (s->pipe_size)
				fcntl(p->d[i].pipe[1], F_SETPIPE_SZ, (int)s->pipe_size);
		}
	}
	s->active++;
	/* Only arm here: closed() must never run before the owner has seen
	 * this return (a synchronous splice could fail and free p). */
	for (int i = 0; i < 2; i++) {
		if (splice_mode)
			arm_poll(&p->d[i], p->fd[i], POLLIN | POLLRDHUP);
		else
			arm_recv(&p->d[i]);
	}
	return 0;
}
