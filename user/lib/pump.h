/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The byte mover: joins two connected TCP sockets and moves bytes both ways
 * until both directions have ended, on the shared io_uring loop.  Used by
 * the relay (public client <-> agent data connection) and by the agent
 * (data connection <-> target).
 *
 * Backpressure is TCP's own: a direction holds at most ONE buffer, and it
 * receives again only when that buffer has been sent completely.  A receiver
 * that stops reading fills its socket buffer, the send stalls, the mover
 * stops receiving, the sender's window closes.  Nothing queues in between.
 *
 * Two movers, same contract:
 *   XR_MOVER_URING   recv with a provided buffer (IOSQE_BUFFER_SELECT from a
 *                    shared buffer ring: an idle connection holds no
 *                    buffer), then send; the default.
 *   XR_MOVER_SPLICE  splice(2) socket -> pipe -> socket, non-blocking, driven
 *                    by io_uring poll; a pipe per direction (4 fds per pair)
 *                    made when the pump starts.
 *
 * Ends:
 *   FIN on one side  -> after the bytes before it are delivered, shutdown
 *                       (SHUT_WR) of the other side; the other direction
 *                       keeps flowing (half-close).
 *   both FINs        -> both sockets closed, ops->closed(p, 0).
 *   error or reset   -> both sockets closed with SO_LINGER 0 (a reset on the
 *                       wire), ops->closed(p, 1).
 *   xr_pump_abort()  -> the same, from the owner.
 *   xr_pump_cut()    -> the same, except that one side gets a FIN instead of
 *                       the reset (e.g. the client when its agent is gone: a
 *                       FIN is retransmitted until it arrives, a reset is
 *                       sent once and lost if a link is down then; a TLS
 *                       client still sees the stream cut, without
 *                       close_notify).
 * ops->closed is called exactly once, when no operation is in flight; the
 * owner frees the pump then, not before.  It never runs inside
 * xr_pump_start(); it may run inside xr_pump_abort() (the caller must not
 * touch the pump after aborting it).
 */
#ifndef XR_PUMP_H
#define XR_PUMP_H

#include <stdbool.h>
#include <stdint.h>
#include <linux/time_types.h>

#include "uring.h"

enum xr_mover { XR_MOVER_URING = 0, XR_MOVER_SPLICE = 1 };

struct xr_pump;

struct xr_pump_ops {
	/* Both sockets are closed; reset: 1 when it ended by an error/reset. */
	void (*closed)(struct xr_pump *p, int reset);
	/* Optional: `bytes` just moved in direction dir (0: fd[0] -> fd[1]).
	 * Return nanoseconds to wait before receiving again in that direction
	 * (bandwidth limits), 0 to go on at once. */
	uint64_t (*moved)(struct xr_pump *p, int dir, uint32_t bytes);
};

struct xr_pumpset {
	struct xr_loop *loop;
	struct xr_bufring br;     /* XR_MOVER_URING */
	enum xr_mover mover;
	unsigned pipe_size;       /* XR_MOVER_SPLICE: bytes per pipe */
	struct xr_pump_dir *starved_head, *starved_tail; /* waiting for a buffer */
	uint64_t active, starved_events, resets;
};

struct xr_pump_dir {
	struct xr_pump *p;
	struct xr_op op;          /* recv / send / poll in flight */
	struct xr_op top;         /* throttle timeout */
	struct __kernel_timespec ts;
	struct xr_pump_dir *snext, *sprev;
	int bid;                  /* buffer held, -1 none */
	uint32_t len, off;        /* bytes in it, bytes sent */
	int pipe[2];              /* XR_MOVER_SPLICE */
	uint32_t inpipe;
	uint8_t busy;             /* op in flight */
	uint8_t tbusy;            /* timeout in flight */
	uint8_t eof;              /* source ended, FIN passed on */
	uint8_t starved;
	uint8_t waiting_out;      /* splice: polling the destination */
};

struct xr_pump {
	struct xr_pumpset *set;
	const struct xr_pump_ops *ops;
	void *owner;
	int fd[2];
	struct xr_pump_dir d[2];  /* d[0]: fd[0] -> fd[1]; d[1]: fd[1] -> fd[0] */
	uint64_t bytes[2];
	uint8_t closing, reset, done;
	int8_t fin_side;          /* xr_pump_cut: the fd index that gets a FIN; -1 none */
};

/* Buffer ring (group bgid) of nbufs x size for XR_MOVER_URING; for
 * XR_MOVER_SPLICE only pipe_size matters.  0 or -errno. */
int xr_pumpset_init(struct xr_pumpset *s, struct xr_loop *loop, enum xr_mover mover,
		    int bgid, unsigned nbufs, unsigned size);
void xr_pumpset_fini(struct xr_pumpset *s);

/* Start moving between fd0 and fd1 (the pump owns both from now on).
 * XR_MOVER_URING expects blocking sockets (io_uring polls for them; an
 * O_NONBLOCK socket would turn each empty read into -EAGAIN and a retry);
 * XR_MOVER_SPLICE sets O_NONBLOCK itself.
 * 0, or -errno (nothing started; the caller still owns the fds). */
int xr_pump_start(struct xr_pumpset *s, struct xr_pump *p, int fd0, int fd1,
		  const struct xr_pump_ops *ops, void *owner);
/* End both sides with a reset; closed() follows once ops are drained. */
void xr_pump_abort(struct xr_pump *p);
/* The same, but fd[fin_side] is closed with a FIN (unread input dropped). */
void xr_pump_cut(struct xr_pump *p, int fin_side);

const char *xr_mover_name(enum xr_mover m);

#endif
