// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "uring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int xr_loop_init(struct xr_loop *loop, unsigned entries)
{
	struct io_uring_params p;
	int rc;

	memset(loop, 0, sizeof(*loop));
	memset(&p, 0, sizeof(p));
	/* One thread owns the ring; let the kernel defer task work to our
	 * waits (fewer interrupts of the loop).  Fall back on older kernels. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_COOP_TASKRUN;
	rc = io_uring_queue_init_params(entries, &loop->ring, &p);
	if (rc == -EINVAL) {
		memset(&p, 0, sizeof(p));
		rc = io_uring_queue_init_params(entries, &loop->ring, &p);
	}
	return rc;
}

void xr_loop_fini(struct xr_loop *loop)
{
	io_uring_queue_exit(&loop->ring);
}

struct io_uring_sqe *xr_loop_sqe(struct xr_loop *loop, struct xr_op *op)
{
	struct io_uring_sqe *sqe;

	while (!(sqe = io_uring_get_sqe(&loop->ring)))
		io_uring_submit(&loop->ring);
	io_uring_sqe_set_data(sqe, op);
	return sqe;
}

int xr_loop_run(struct xr_loop *loop)
{
	struct io_uring_cqe *cqe;
	unsigned head, n;
	int rc;

	while (!loop->stop) {
		rc = io_uring_submit_and_wait(&loop->ring, 1);
		if (rc < 0 && rc != -EINTR && rc != -ETIME && rc != -EAGAIN)
			return rc;
		n = 0;
		io_uring_for_each_cqe(&loop->ring, head, cqe) {
			struct xr_op *op = io_uring_cqe_get_data(cqe);

			if (op && op->cb)
				op->cb(loop, op, cqe);
			n++;
		}
		io_uring_cq_advance(&loop->ring, n);
	}
	return 0;
}

int xr_bufring_init(struct xr_loop *loop, struct xr_bufring *br, int bgid, unsigned nbufs, unsigned size)
{
	struct io_uring_buf_reg reg;
	size_t ring_sz = (size_t)nbufs * sizeof(struct io_uring_buf);
	int rc;

	memset(br, 0, sizeof(*br));
	if (nbufs & (nbufs - 1))
		return -EINVAL;
	br->br = mmap(NULL, ring_sz, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (br->br == MAP_FAILED)
		return -errno;
	br->bufs = malloc((size_t)nbufs * size);
	if (!br->bufs) {
		munmap(br->br, ring_sz);
		return -ENOMEM;
	}
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (unsigned long)br->br;
	reg.ring_entries = nbufs;
	reg.bgid = bgid;
	rc = io_uring_register_buf_ring(&loop->ring, &reg, 0);
	if (rc) {
		free(br->bufs);
		munmap(br->br, ring_sz);
		return rc;
	}
	br->nbufs = nbufs;
	br->size = size;
	br->bgid = bgid;
	io_uring_buf_ring_init(br->br);
	for (unsigned i = 0; i < nbufs; i++)
		io_uring_buf_ring_add(br->br, xr_bufring_buf(br, i), size, i,
				      io_uring_buf_ring_mask(nbufs), i);
	io_uring_buf_ring_advance(br->br, nbufs);
	return 0;
}

void xr_bufring_fini(struct xr_loop *loop, struct xr_bufring *br)
{
	if (!br->bufs)
		return;
	io_uring_unregister_buf_ring(&loop->ring, br->bgid);
	munmap(br->br, (size_t)br->nbufs * sizeof(struct io_uring_buf));
	free(br->bufs);
	br->bufs = NULL;
}

void xr_bufring_put(struct xr_bufring *br, unsigned bid)
{
	io_uring_buf_ring_add(br->br, xr_bufring_buf(br, bid), br->size, bid,
			      io_uring_buf_ring_mask(br->nbufs), 0);
	io_uring_buf_ring_advance(br->br, 1);
}
