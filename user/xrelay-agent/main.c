// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xrelay-agent: runs on the private host, dials out to every configured
 * relay, never listens.  Arguments, config, signals, then the one io_uring
 * loop.  What runs on the loop:
 *   - a control session per relay (session.c)
 *   - data connections on the relays' request (dataconn.c)
 *   - a signalfd: SIGTERM/SIGINT stop
 *   - a 250 ms tick: heartbeats, reconnect backoff, certificate reloads
 * Needs no privilege: no CAP_NET_ADMIN, no CAP_BPF, no listening socket.
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

#include "agent.h"
#include "sdnotify.h"
#include "identity.h"
#include "log.h"
#include "xrelay_config.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xrelay-agent -c FILE [options]\n"
		"Dials out to every configured relay and publishes the configured services;\n"
		"never listens on a port.\n\n"
		"  -c, --config FILE   agent config (YAML), required\n"
		"      --check         validate the config and exit (0 valid, 2 invalid)\n"
		"      --once          exit with status 1 as soon as a relay refuses this agent or\n"
		"                      one of its hostnames (default: log an error and retry)\n"
		"  -v, --verbose       debug logging\n"
		"  -h, --help          this help\n"
		"  -V, --version       print the version\n\n"
		"Signals: SIGTERM/SIGINT stop; SIGHUP is ignored (restart to apply a new config;\n"
		"certificates reload by themselves). Exit: 0 ok, 1 failure (or a refusal with --once),\n"
		"2 config.\n");
}

static void arm_sig(struct agent *a)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&a->loop, &a->sig_op);

	io_uring_prep_read(sqe, a->sig_fd, &a->si, sizeof(a->si), 0);
}

static void arm_tick(struct agent *a)
{
	struct io_uring_sqe *sqe = xr_loop_sqe(&a->loop, &a->tick_op);

	a->tick_ts.tv_sec = 0;
	a->tick_ts.tv_nsec = 100 * 1000000;     /* probe deadlines, heartbeats, retries */
	io_uring_prep_timeout(sqe, &a->tick_ts, 0, 0);
}

static void sig_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct agent *a = op->ctx;

	if (cqe->res == (int)sizeof(a->si) && a->si.ssi_signo == SIGHUP) {
		/* certificates reload by themselves; the rest needs a restart,
		 * which costs only the agent's own sessions */
		xr_warn("SIGHUP ignored: the agent has no config reload; restart it to apply "
			"a new config (TLS certificates are reloaded automatically)", "%s", "");
	} else if (cqe->res == (int)sizeof(a->si)) {
		xr_info("stopping", "signal=%s", strsignal(a->si.ssi_signo));
		loop->stop = true;
		return;
	}
	arm_sig(a);
}

static void tick_cb(struct xr_loop *loop, struct xr_op *op, struct io_uring_cqe *cqe)
{
	struct agent *a = op->ctx;

	(void)cqe;
	for (int i = 0; i < a->cfg.n_relays; i++)
		sess_tick(&a->rs[i]);
	services_tick(a);
	probes_tick(a);
	if (!loop->stop)
		arm_tick(a);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "once", no_argument, NULL, 'O' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	static struct agent agent;
	struct agent *a = &agent;
	const char *path = NULL;
	char err[XR_CFG_ERR_LEN], line[XR_IDENTITY_STR_LEN];
	int check = 0, verbose = 0, c, rc;
	struct rlimit rl;
	sigset_t mask;

	while ((c = getopt_long(argc, argv, "c:vhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'C': check = 1; break;
		case 'O': a->once = true; break;
		case 'v': verbose = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("xrelay-agent %s\n", AGENT_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (xr_agent_cfg_load(path, &a->cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (xr_key_file_check(a->cfg.key, err, sizeof(err))) {
		fprintf(stderr, "xrelay-agent: %s\n", err);
		return 2;
	}
	if (check) {
		/* targets resolve, certificate and key load and match */
		if (services_init(a, true))
			return 2;
		printf("%s: ok (%d relays, %d services)\n", path, a->cfg.n_relays, a->cfg.n_services);
		return 0;
	}
	xr_log_init("xrelay-agent", verbose ? XR_LOG_DEBUG : XR_LOG_INFO);
	a->ctl_ctx = xr_tls_ctl_ctx(a->cfg.key, false, a->self_id, err, sizeof(err));
	if (!a->ctl_ctx) {
		fprintf(stderr, "xrelay-agent: %s\n", err);
		return 2;
	}
	if (services_init(a, false))
		return 2;
	if (probes_init(a)) {
		fprintf(stderr, "xrelay-agent: out of memory\n");
		return 1;
	}
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	rc = xr_loop_init(&a->loop, 1024);
	if (rc) {
		xr_err("io_uring_queue_init", "error=\"%s\"", strerror(-rc));
		return 1;
	}
	rc = xr_pumpset_init(&a->pumps, &a->loop, XR_MOVER_URING, 1, XR_PUMP_BUFS, XR_PUMP_BUF_SIZE);
	if (rc) {
		xr_err("cannot set up the byte mover", "error=\"%s\"", strerror(-rc));
		return 1;
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	a->sig_fd = signalfd(-1, &mask, SFD_CLOEXEC);
	a->sig_op.cb = sig_cb;
	a->sig_op.ctx = a;
	arm_sig(a);
	a->tick_op.cb = tick_cb;
	a->tick_op.ctx = a;
	arm_tick(a);
	xr_identity_format(a->self_id, line, sizeof(line));
	xr_sd_notify("READY=1");
	xr_info("xrelay-agent started", "version=%s name=%s identity=\"%s\" relays=%d services=%d "
		"pool=%u pid=%d", AGENT_VERSION, a->cfg.name, line, a->cfg.n_relays,
		a->cfg.n_services, a->cfg.pool, (int)getpid());
	a->rs = calloc((size_t)a->cfg.n_relays, sizeof(*a->rs));
	if (!a->rs)
		return 1;
	for (int i = 0; i < a->cfg.n_relays; i++) {
		a->rs[i].cfg = &a->cfg.relays[i];
		sess_start(a, &a->rs[i]);
	}
	rc = xr_loop_run(&a->loop);
	if (rc)
		xr_err("event loop", "error=\"%s\"", strerror(-rc));
	for (int i = 0; i < a->cfg.n_relays; i++)
		sess_stop(&a->rs[i]);
	return rc ? 1 : a->exit_code;
}
