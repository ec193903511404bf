/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The io_uring event loop shared by xrelayd and xrelay-agent.
 *
 * How it works (read this before touching a callback):
 *  - Every request in flight carries `user_data` = a pointer to a
 *    `struct xr_op` that its owner embeds in its own state (a socket, a
 *    connection, a timer).  The op must stay alive until its last CQE: for a
 *    multishot request that is the CQE *without* IORING_CQE_F_MORE.
 *  - Completions are dispatched to op->cb in arrival order, on the one thread
 *    that owns the ring (IORING_SETUP_SINGLE_ISSUER): callbacks never block.
 *  - Provided buffers (xr_bufring): a multishot receive picks a buffer from
 *    the ring itself; the CQE names it (IORING_CQE_F_BUFFER, bid in the high
 *    bits).  The callback owns that buffer until it hands it back with
 *    xr_bufring_put().  -ENOBUFS means the ring ran dry: the kernel ended the
 *    multishot, so recycle and re-arm.  Neither is an error.
 *  - A multishot CQE without IORING_CQE_F_MORE means "re-arm me".
 */
#ifndef XR_URING_H
#define XR_URING_H

#include <stdbool.h>
#include <stdint.h>
#include <liburing.h>

struct xr_loop;
struct xr_op;

typedef void (*xr_op_cb)(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

struct xr_op {
	xr_op_cb cb;
	void *ctx;
};

struct xr_loop {
	struct io_uring ring;
	bool stop;
};

int xr_loop_init(struct xr_loop *loop, unsigned entries);
void xr_loop_fini(struct xr_loop *loop);
/* An SQE, flushing the submission queue first when it is full; never NULL. */
struct io_uring_sqe *xr_loop_sqe(struct xr_loop *loop, struct xr_op *op);
/* Run until loop->stop; returns 0 or -errno from io_uring_submit_and_wait. */
int xr_loop_run(struct xr_loop *loop);

struct xr_bufring {
	struct io_uring_buf_ring *br;
	uint8_t *bufs;
	unsigned nbufs;     /* power of two */
	unsigned size;
	int bgid;
};

/* Register a ring of `nbufs` buffers of `size` bytes as buffer group bgid
 * (by hand: liburing 2.3 lacks io_uring_setup_buf_ring). */
int xr_bufring_init(struct xr_loop *loop, struct xr_bufring *br, int bgid, unsigned nbufs, unsigned size);
void xr_bufring_fini(struct xr_loop *loop, struct xr_bufring *br);
static inline uint8_t *xr_bufring_buf(struct xr_bufring *br, unsigned bid)
{
	return br->bufs + (size_t)bid * br->size;
}
void xr_bufring_put(struct xr_bufring *br, unsigned bid);

#endif
