// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xrelayd: the relay's control plane.  Arguments, config, signals, then the
 * one io_uring loop.  What runs on the loop:
 *   - multishot recvmsg on each WireGuard listen socket  (wg_handshake.c)
 *   - multishot accept on the admin socket               (admin.c)
 *   - a read on a signalfd: SIGHUP reloads, SIGTERM/SIGINT stop
 *   - a 1 s timeout: session expiry, endpoint confirmation
 * Stopping leaves the XDP link and the maps pinned: established WireGuard
 * sessions keep flowing while xrelayd is down and are re-adopted at start.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>

#include <bpf/bpf.h>

#include "identity.h"
#include "log.h"
#include "sdnotify.h"
#include "xrelayd.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xrelayd -c FILE [options]\n"
		"The xrelay relay daemon: WireGuard relaying in XDP, TLS passthrough by SNI,\n"
		"agent sessions, health probes, metrics.\n\n"
		"  -c, --config FILE    relay config (YAML), required\n"
		"      --check          validate the config and exit (0 valid, 2 invalid)\n"
		"      --pin-root DIR   BPF pin root (else $XRELAY_PIN_ROOT, bpf.pin_root,\n"
		"                       " XR_PIN_ROOT_DEFAULT ")\n"
		"  -v, --verbose        debug logging (overrides log.level)\n"
		"  -h, --help           this help\n"
		"  -V, --version        print the version\n\n"
		"Signals: SIGHUP reloads the config; SIGTERM/SIGINT stop (the data plane\n"
		"keeps forwarding established sessions). Exit: 0 ok, 1 failure, 2 config.\n");
}

/* One socket per connection side: lift the soft fd limit to the hard one. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* TLS counters continue from the pinned map (gauges restart at zero); flows
 * of a previous process are gone with its sockets. */
static int tcp_adopt(struct relay *r)
{
	uint64_t next;

	r->tcp = calloc(XR_MAX_TENANTS, sizeof(*r->tcp));
	r->conn_gcra = calloc(XR_MAX_TENANTS, sizeof(*r->conn_gcra));
	r->bw_gcra = calloc(XR_MAX_TENANTS, sizeof(*r->bw_gcra));
	if (!r->tcp || !r->conn_gcra || !r->bw_gcra)
		return -1;
	for (uint32_t id = 0; id < XR_MAX_TENANTS; id++)
		if (!bpf_map_lookup_elem(r->bpf.tcpstats_fd, &id, &r->tcp[id]))
			r->tcp[id].c[XR_T_ACTIVE] = 0;
	while (!bpf_map_get_next_key(r->bpf.flows_fd, NULL, &next))
		if (bpf_map_delete_elem(r->bpf.flows_fd, &next))
			break;
	return 0;
}

static void sig_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);
static void tick_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe);

static void arm_sig(struct relay *r)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&r->loop, &r->sig_op);

	io_uring_prep_read(sqe, r->sig_fd, &r->si, sizeof(r->si), 0);
}

static void arm_tick(struct relay *r)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&r->loop, &r->tick_op);

	r->tick_ts.tv_sec = 0;
	r->tick_ts.tv_nsec = 250 * 1000000;
	io_uring_prep_timeout(sqe, &r->tick_ts, 0, 0);
}

static void sig_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct relay *r = op->ctx;
	char err[XR_CFG_ERR_LEN];

	if (cqe->res == (int)sizeof(r->si)) {
		if (r->si.ssi_signo == SIGHUP) {
			xr_info("SIGHUP: reloading", "path=%s", r->cfg_path);
			relay_reload(r, err, sizeof(err));
		} else {
			xr_info("stopping; the data plane keeps forwarding", "signal=%s",
				strsignal(r->si.ssi_signo));
			loop->stop = true;
			return;
		}
	}
	arm_sig(r);
}

static void tick_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct relay *r = op->ctx;

	/* heartbeats and health every 250 ms; the rest once a second */
	agents_sweep(r);
	health_sweep(r);
	front_sweep(r);
	if (r->tick_n++ % 4 == 0) {
		wg_sweep(r);
		flows_flush(r);
	}
	if (!loop->stop)
		arm_tick(r);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "pin-root", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	static struct relay relay;
	struct relay *r = &relay;
	char err[XR_CFG_ERR_LEN];
	bool check = false, verbose = false;
	sigset_t mask;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': r->cfg_path = optarg; break;
		case 'C': check = true; break;
		case 'P': r->pin_root_cli = optarg; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("xrelayd %s\n", XRELAYD_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!r->cfg_path || optind != argc) {
		usage(stderr);
		return 2;
	}
	xr_log_init("xrelayd", XR_LOG_INFO);
	if (xr_relay_cfg_load(r->cfg_path, &r->cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (r->cfg.control_key[0] && xr_key_file_check(r->cfg.control_key, err, sizeof(err))) {
		fprintf(stderr, "xrelayd: %s\n", err);
		return 2;
	}
	if (check) {
		printf("%s: ok (%d tenants)\n", r->cfg_path, r->cfg.n_tenants);
		return 0;
	}
	r->verbose = verbose;
	xr_log_set_level(verbose ? XR_LOG_DEBUG : (enum xr_log_level)r->cfg.log_level);
	xr_log_hook_libbpf();
	r->start_ns = now_ns();
	/* session and flow ids never repeat across restarts (scripts compare
	 * them): they continue from the wall clock, 65536 per second */
	r->next_sess_id = r->next_flow_id = (uint64_t)time(NULL) << 16;
	r->pin_root = xr_pin_root_pick(r->pin_root_cli, r->cfg.pin_root);

	rc = xr_bpf_open(&r->bpf, r->pin_root, r->cfg.n_xdp_ifaces > 0, err, sizeof(err));
	if (rc) {
		xr_err("cannot open the BPF maps", "error=\"%s\"", err);
		return 1;
	}
	for (int i = 0; i < r->cfg.n_xdp_ifaces; i++) {
		bool already;

		if (xr_xdp_attach(&r->bpf, r->cfg.xdp_ifaces[i],
				  r->cfg.xdp_mode ? XR_XDP_GENERIC : XR_XDP_NATIVE, &already,
				  err, sizeof(err))) {
			xr_err("XDP attach failed", "iface=%s error=\"%s\"", r->cfg.xdp_ifaces[i], err);
			return 1;
		}
		xr_info(already ? "XDP program replaced" : "XDP attached", "iface=%s",
			r->cfg.xdp_ifaces[i]);
	}
	r->wgs = xr_wgs_new();
	if (!r->wgs)
		return 1;
	if (relay_apply_config(r, &r->cfg, err, sizeof(err))) {
		xr_err("cannot apply the config", "error=\"%s\"", err);
		return 1;
	}
	wg_adopt_sessions(r);

	rc = xr_loop_init(&r->loop, 256);
	if (rc) {
		xr_err("io_uring_queue_init", "error=\"%s\"", strerror(-rc));
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	r->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	r->sig_op.cb = sig_cb;
	r->sig_op.ctx = r;
	arm_sig(r);
	r->tick_op.cb = tick_cb;
	r->tick_op.ctx = r;
	arm_tick(r);
	raise_nofile();
	if (router_build(r, err, sizeof(err))) {
		xr_err("cannot apply the config", "error=\"%s\"", err);
		return 1;
	}
	if (tcp_adopt(r) || health_open(r))
		return 1;
	if (wg_open(r) || admin_open(r) || agents_open(r) || front_open(r) || metrics_open(r))
		return 1;
	xr_sd_notify("READY=1");
	xr_info("xrelayd started", "version=%s pin_root=%s tenants=%d pid=%d", XRELAYD_VERSION,
		r->pin_root, r->cfg.n_tenants, (int)getpid());

	rc = xr_loop_run(&r->loop);
	if (rc)
		xr_err("event loop", "error=\"%s\"", strerror(-rc));
	metrics_close(r);
	front_close(r);
	agents_close(r);
	flows_flush(r);
	admin_close(r);
	health_close(r);
	wg_close(r);
	xr_loop_fini(&r->loop);
	xr_wgs_free(r->wgs);
	xr_bpf_close(&r->bpf);
	free(r->tenant_ids);
	xr_relay_cfg_free(&r->cfg);
	return rc ? 1 : 0;
}
