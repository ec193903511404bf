/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xrelay-agent's own state, shared by its job files (main, session,
 * dataconn).  Nothing outside user/xrelay-agent/ includes this. */
#ifndef XR_AGENT_H
#define XR_AGENT_H

#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <linux/time_types.h>
#include <openssl/ssl.h>

#include "config.h"
#include "health.h"
#include "proto.h"
#include "pump.h"
#include "tlsctx.h"
#include "uring.h"

#include "xrelay_version.h"
#define AGENT_VERSION XRELAY_VERSION

struct agent;

enum rs_state { RS_WAIT, RS_CONNECT, RS_HANDSHAKE, RS_WELCOME, RS_READY, RS_CLOSING };

/* One control session per configured relay. */
struct relay_sess {
	struct agent *a;
	const struct xr_agent_relay *cfg;
	enum rs_state state;
	int fd;
	SSL *ssl;
	struct xr_op rd_op, wr_op, conn_op;
	uint8_t rd_busy, wr_busy, conn_busy;
	struct sockaddr_storage addr;      /* resolved at each attempt; data connections too */
	socklen_t alen;
	uint64_t next_try_ns, deadline_ns, last_rx_ns, next_ping_ns;
	uint32_t backoff_ms, failures;
	uint64_t session_id;
	uint32_t heartbeat_ms;
	uint8_t *ibuf;
	size_t ilen;
	uint8_t *obuf;
	size_t olen, ocap;
	unsigned dials;                    /* data connections being set up */
	uint64_t nonce;
	uint8_t refused;                   /* the relay refused us (ERROR): slow retries */
	uint8_t names_refused;             /* WELCOME refused names: register again */
	uint64_t rehello_ns;               /* when to register refused names again */
};

struct service {
	const struct xr_agent_service *cfg;
	struct sockaddr_storage target;
	socklen_t tlen;
	struct xr_tls_term term;           /* when tls.cert is set */
	int terminate;
};

/* A service's probe and health state (probe.c). */
struct probe {
	struct agent *a;
	struct service *s;
	int fd;
	SSL *ssl;
	int phase;
	struct xr_op op;
	uint8_t busy;
	uint64_t start_ns, deadline_ns, next_ns;
	char failed[XR_HEALTH_REASON_LEN];  /* set by the timeout; the completion ends it */
	char buf[512];
	size_t blen, boff;
	struct xr_health h;
	char reported[XR_HEALTH_REASON_LEN];   /* reason last sent to the relays */
	uint8_t dirty;                         /* reason changed since */
};

struct agent {
	struct xr_loop loop;
	struct xr_agent_cfg cfg;
	SSL_CTX *ctl_ctx;
	uint8_t self_id[32];
	struct relay_sess *rs;
	struct service *svc;
	struct xr_pumpset pumps;
	SSL_CTX *probe_ctx;
	struct probe *probes;
	uint64_t next_report_ns;           /* reason-only HEALTH updates: once a second */
	bool once;                         /* --once: exit 1 at the first refusal */
	int exit_code;

	int sig_fd;
	struct xr_op sig_op;
	struct signalfd_siginfo si;
	struct xr_op tick_op;
	struct __kernel_timespec tick_ts;

	struct {
		uint64_t dials, dial_errors, opens, target_errors, tls_errors, active, resets;
		uint64_t probes, probe_failures;
	} st;
};

uint64_t now_ns(void);

/* session.c */
void sess_start(struct agent *a, struct relay_sess *rs);
void sess_tick(struct relay_sess *rs);
void sess_stop(struct relay_sess *rs);
void sess_send_health(struct relay_sess *rs);       /* services' states, if READY */

/* probe.c */
int probes_init(struct agent *a);
void probes_tick(struct agent *a);
unsigned probes_report(struct agent *a, struct xr_msg *m);

/* dataconn.c */
void data_dial(struct relay_sess *rs, const uint8_t token[XR_TOKEN_LEN]);
int services_init(struct agent *a, bool check_only);  /* check: TLS pairs only */
void services_tick(struct agent *a);

#endif
