/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* xrelayd's own state, shared by its job files (main, wg_handshake, reload,
 * admin).  Nothing outside user/xrelayd/ includes this. */
#ifndef XRELAYD_H
#define XRELAYD_H

#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <linux/time_types.h>

#include <openssl/ssl.h>

#include "bpfobj.h"
#include "clienthello.h"
#include "config.h"
#include "health.h"
#include "hostmatch.h"
#include "json.h"
#include "proto.h"
#include "pump.h"
#include "uring.h"
#include "wgstate.h"

#include "xrelay_version.h"
#define XRELAYD_VERSION XRELAY_VERSION

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

/* ---- TLS passthrough and agents (tls_front.c, router.c, agents.c, pairing.c) ---- */

#define HELLO_HDR_ROOM 512                        /* OPEN frame goes in front of the replay */
#define HELLO_RAW_MAX  (XR_CH_DEFAULT_MAX + 1024) /* ClientHello + what a client pipelines */

/* A ClientHello being read: taken when a connection's first bytes arrive. */
struct hello_slot {
	struct hello_slot *next_free;
	struct xr_chello ch;
	uint32_t have;                         /* raw bytes in raw[] */
	uint8_t buf[HELLO_HDR_ROOM + HELLO_RAW_MAX];
};
#define SLOT_RAW(sl) ((sl)->buf + HELLO_HDR_ROOM)

enum pconn_state {
	PC_WAIT_FIRST,   /* accepted, polling for the first bytes (no memory held) */
	PC_HELLO,        /* reading the ClientHello into a slot */
	PC_WAIT_DATA,    /* routed to an agent, waiting for its data connection */
	PC_CONNECT,      /* connecting to tls.fallback / the local control service */
	PC_REPLAY,       /* sending OPEN + the ClientHello to the other side */
	PC_AWAIT,        /* replayed to an agent: polling for its first byte back (the
			  * ClientHello is kept, to go to another replica if none comes) */
	PC_REPAIR,       /* that poll is being cancelled: then re-pair or pump */
	PC_PUMP,         /* bytes moving */
	PC_DEAD,
};

struct agent_sess;
struct token;

/* A public connection on tls.listen (or a data connection arriving there). */
struct pconn {
	struct relay *r;
	int fd, dfd;
	enum pconn_state state;
	struct xr_op op;
	uint8_t busy;
	uint8_t kind;                 /* enum route_kind once routed */
	uint8_t in_map;               /* written to xr_flows (from its first tick on) */
	uint8_t patient;              /* waited past the data patience once already */
	uint8_t repaired;             /* sent to a second replica once already */
	struct hello_slot *slot;
	uint64_t deadline_ns;
	struct xr_proto_ep client, server;
	uint32_t tenant_id;
	int tidx;                     /* config index of the tenant, -1 none */
	struct agent_sess *sess;
	struct agent_sess *repair_to; /* PC_REPAIR: the replica to go to; NULL: pump */
	struct token *tok;
	uint64_t token_ns;            /* when tok was sent / the replay ended */
	struct pconn *prev, *next;    /* r->pending (not yet pumping) or sess->pairs */
	uint64_t flow_id;
	uint64_t started_ns;
	uint64_t flushed[2];          /* bytes already written to the flow map / counters */
	uint32_t rp_off, rp_len;      /* replay: bytes of slot->buf sent / to send */
	char host[XR_FLOW_HOST_LEN];
	struct xr_pump pump;
};

/* A connection that presented "XRD1" + token; parked in a pool or paired. */
struct dconn {
	struct relay *r;
	int fd;
	struct xr_op op;
	uint8_t busy, assigned;
	struct agent_sess *sess;
	struct dconn *next;
};

/* One-time token: bound to an agent session, for a waiting public
 * connection (pc) or for the session's warm pool (pc == NULL). */
struct token {
	uint8_t tok[XR_TOKEN_LEN];
	struct agent_sess *sess;
	struct pconn *pc;
	uint64_t expires_ns;
	struct token *hnext;          /* hash chain */
};

enum sess_state { AS_ACCEPT, AS_PEEK, AS_HANDSHAKE, AS_HELLO, AS_READY, AS_CLOSING };

/* A name an agent session registered: hostname -> this agent -> its target. */
struct sess_route {
	char host[XR_PROTO_HOST_LEN];
	uint8_t tstate;               /* the target's state as the agent reports it (health.h) */
	uint8_t state;                /* the route's: the worse of the session's and the target's */
	uint64_t since_ns;
	char treason[XR_PROTO_TEXT_LEN];
};

/* A connection on control.listen: a control session once TLS is up, or a
 * data connection (first bytes "XRD1"). */
struct agent_sess {
	struct relay *r;
	int fd;
	SSL *ssl;
	enum sess_state state;
	struct xr_op rd_op, wr_op;
	uint8_t rd_busy, wr_busy;
	const char *doomed;           /* set where closing is unsafe; closed by the sweep */
	uint64_t id;
	uint64_t deadline_ns;         /* handshake/HELLO deadline, then heartbeat */
	uint64_t last_rx_ns;
	uint64_t since_ns;            /* READY since */
	uint32_t heartbeat_ms;
	uint32_t tenant_id;
	int tidx;
	char tenant[XR_CFG_NAME_LEN];
	char name[XR_CFG_NAME_LEN];
	char peer[64];
	struct sockaddr_storage peer_sa;
	struct sess_route *routes;
	unsigned n_hosts;
	char (*asked)[XR_PROTO_HOST_LEN];  /* every name its HELLO asked for: a reload may
					    * grant names refused before */
	unsigned n_asked;
	struct xr_health h;           /* the session's own health: heartbeat round trips */
	uint64_t next_ping_ns, ping_sent_ns, ping_nonce;
	uint32_t rtt_us;
	uint8_t pong_due;
	unsigned pool_target, pool_tokens, pool_n;
	unsigned od_tokens;           /* on-demand tokens outstanding */
	struct dconn *pool;
	struct pconn *pairs;          /* paired public connections (pumping) */
	uint8_t *ibuf;                /* XR_FRAME_HDR + XR_FRAME_MAX */
	size_t ilen;
	uint8_t *obuf;
	size_t olen, ocap;
	struct agent_sess *prev, *next;
};

enum route_kind {
	RT_UNKNOWN = 0,     /* nobody owns the name */
	RT_AGENT,
	RT_FALLBACK,
	RT_CONTROL,
	RT_NO_AGENT,
	RT_REFUSED_ALLOW,
	RT_REFUSED_RATE,
	RT_ROUTE_DOWN,      /* every replica's route is down */
};

struct listener {
	struct relay *r;
	int fd;
	int kind;            /* 0 tls.listen, 1 control.listen */
	struct xr_op op;
	struct xr_op retry_op;        /* accept failed (EMFILE): re-arm after a pause */
	struct __kernel_timespec retry_ts;
	struct xr_sockaddr addr;
};

#define TOKEN_BUCKETS 4096

struct relay {
	struct xr_loop loop;
	struct xr_bpf bpf;
	struct xr_relay_cfg cfg;
	const char *cfg_path;
	const char *pin_root_cli;
	const char *pin_root;
	bool verbose;             /* -v: debug logging whatever log.level says */
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
	char admin_path[108];     /* bound: removed at exit, whatever a reload says */

	uint64_t start_ns;

	/* TLS front, router, agents, pairing */
	struct listener lis[2 * XR_CFG_MAX_LISTEN];
	int n_lis;
	struct xr_pumpset pumps;
	struct hello_slot *slots_free;
	unsigned slots_used;
	struct pconn *pending;                    /* not yet pumping: deadlines */
	struct pconn *active;                     /* pumping */
	unsigned n_pconns;
	struct agent_sess *sessions;
	uint64_t next_sess_id, next_flow_id;
	struct token *tokens[TOKEN_BUCKETS];
	unsigned n_tokens;
	SSL_CTX *ctl_ctx;
	uint8_t self_id[32];
	struct xr_hosttab hosts;                  /* config hostnames -> tenant index + 1 */
	struct xr_hostent *host_ents;
	struct xr_tcp_stats *tcp;                 /* [XR_MAX_TENANTS], slot 0 relay-wide */
	struct xr_gcra *conn_gcra, *bw_gcra;      /* [XR_MAX_TENANTS] */
	struct sockaddr_storage fallback_sa, control_sa;
	socklen_t fallback_len, control_len;
	unsigned rr;
	uint64_t accept_err_logged_ns;
	struct metrics *metrics;                  /* admin.metrics HTTP endpoint (metrics.c) */
	/* health.c */
	struct xr_tenant_health *th;              /* [XR_MAX_TENANTS] as last written */
	struct xr_health *wg_health;              /* [XR_MAX_TENANTS] WireGuard probe */
	uint8_t *th_dirty;                        /* [XR_MAX_TENANTS] to recompute */
	uint64_t next_wg_probe_ns;
	unsigned tick_n;
	uint8_t health_dirty;                     /* some th_dirty set */
	struct {
		uint64_t slowpath_fwd, slowpath_drop, send_errors;
		uint64_t sessions_expired, reloads, reload_failures;
		uint64_t accept_errors;
		uint64_t sess_pings, sess_ping_failures, wg_probes, wg_probe_failures;
		uint64_t health_reports, identity_conflicts, route_transitions;
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

/* tls_front.c */
int front_open(struct relay *r);
void front_close(struct relay *r);
void front_sweep(struct relay *r);                 /* deadlines, each tick */
void pconn_close(struct pconn *pc, int counter);   /* counter: enum xr_tcp_counter or -1 */
void pconn_unlink(struct pconn *pc);
/* pc's agent was lost before its data connection came: another replica,
 * else the fallback, else a reset. */
void front_reroute(struct pconn *pc);
void slot_put(struct relay *r, struct hello_slot *s);
void tcp_count(struct relay *r, uint32_t tenant_id, enum xr_tcp_counter c, uint64_t n);

/* router.c */
int router_build(struct relay *r, char *err, size_t errlen);
enum route_kind router_route(struct relay *r, struct pconn *pc, const char *sni);
/* Only the replica choice (no allow/rate checks): for a reroute. */
enum route_kind router_pick(struct relay *r, struct pconn *pc, const char *sni);
/* The replica router_pick would choose for pc's name now, if it is not
 * pc->sess (which stays as it is); NULL otherwise. */
struct agent_sess *router_other(struct relay *r, const struct pconn *pc);
int router_owns(const struct relay *r, int tidx, const char *host, char *why, size_t whylen);

/* agents.c */
int agents_open(struct relay *r);                  /* control listeners, TLS context */
void agents_close(struct relay *r);
void agents_sweep(struct relay *r);
void agents_reload(struct relay *r);
void agents_accept(struct relay *r, int fd);        /* a connection on control.listen */
void agents_data_conn(struct relay *r, int fd, const uint8_t token[XR_TOKEN_LEN]);
/* Ask pc's session for a data connection: from the pool, else a token. */
int agents_request(struct relay *r, struct pconn *pc);
int agents_ping(struct agent_sess *s, uint64_t nonce);   /* the relay's heartbeat probe */
void token_drop(struct relay *r, struct token *t);

/* pairing.c */
void pair_with(struct pconn *pc, int dfd);          /* OPEN + replay, then pump */
void pair_connect(struct pconn *pc, const struct sockaddr *sa, socklen_t len);
void pair_op_done(struct pconn *pc, int res);       /* connect / replay / await completions */
/* PC_AWAIT past the patience: to `to` (another replica), or pump (NULL). */
void pair_repair(struct pconn *pc, struct agent_sess *to);
void flows_flush(struct relay *r);                  /* counters + flow map, each tick */
void flow_remove(struct pconn *pc);
/* Protocol endpoint -> ABI endpoint (IPv4 stored IPv4-mapped, port BE). */
void ep_abi(struct xr_endpoint *e, const struct xr_proto_ep *p);

/* health.c: sessions' heartbeat probes, routes' and tenants' states */
int health_open(struct relay *r);
void health_close(struct relay *r);
void health_sweep(struct relay *r);                 /* each tick */
void health_sess_up(struct agent_sess *s);          /* WELCOME sent (also again) */
void health_sess_down(struct agent_sess *s, const char *why);
void health_on_pong(struct agent_sess *s, uint64_t nonce);
void health_on_report(struct agent_sess *s, const struct xr_msg *m);
/* The agent did not answer in time (a token not dialled, a paired
 * connection without a byte back): a failed probe of its session. */
void health_data_miss(struct agent_sess *s, const char *why);
void health_reload(struct relay *r);                /* config changed */
void health_json(struct relay *r, struct xr_json *j);  /* "routes": [...] */
void health_metrics(struct relay *r, FILE *f);

/* admin.c */
int admin_open(struct relay *r);
void admin_close(struct relay *r);

/* metrics.c: Prometheus text exposition on admin.metrics (GET /metrics) */
int metrics_open(struct relay *r);
void metrics_close(struct relay *r);

#endif
