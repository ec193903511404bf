/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xrelayd's own state, shared by its job files (main, wg_handshake, reload,
 * admin).  Nothing outside user/xrelayd/ includes this. */
#ifndef XRELAYD_H
#define XRELAYD_H

#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <linux/time_types.h>

#include "bpfobj.h"
#include "config.h"
#include "uring.h"
#include "wgstate.h"

#define XRELAYD_VERSION "0.1.0"

struct relay;

struct wg_sock {
	struct relay *r;
	int fd;
	int family;               /* AF_INET / AF_INET6 */
	struct xr_sockaddr addr;
	struct xr_op op;
	struct msghdr msgh;       /* template for multishot recvmsg */
};

struct admin_conn {
	struct relay *r;
	int fd;
	struct xr_op op;
	char buf[512];
};

struct relay {
	struct xr_loop loop;
	struct xr_bpf bpf;
	struct xr_relay_cfg cfg;
	const char *cfg_path;
	const char *pin_root_cli;
	const char *pin_root;
	uint32_t *tenant_ids;     /* tenant_ids[i]: id of cfg.tenants[i] */
	struct xr_wgs *wgs;

	struct wg_sock wg[XR_CFG_MAX_LISTEN];
	int n_wg;
	struct xr_bufring wg_br;

	int sig_fd;
	struct xr_op sig_op;
	struct signalfd_siginfo si;

	struct xr_op tick_op;
	struct __kernel_timespec tick_ts;

	int admin_fd;
	struct xr_op admin_op;

	uint64_t start_ns;
	struct {
		uint64_t slowpath_fwd, slowpath_drop, send_errors;
		uint64_t sessions_expired, reloads, reload_failures;
	} st;
};

uint64_t now_ns(void);

/* wg_handshake.c */
int wg_open(struct relay *r);
void wg_close(struct relay *r);
void wg_sweep(struct relay *r);
void wg_adopt_sessions(struct relay *r);

/* reload.c */
int relay_apply_config(struct relay *r, struct xr_relay_cfg *newcfg, char *err, size_t errlen);
int relay_reload(struct relay *r, char *err, size_t errlen);

/* admin.c */
int admin_open(struct relay *r);
void admin_close(struct relay *r);

#endif
