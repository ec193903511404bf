/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Relay and agent configuration: YAML (libyaml) -> validated structs.
 * Pure: no global state; errors are returned as "FILE:LINE: message".
 */
#ifndef XR_CONFIG_H
#define XR_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "health.h"

#define XR_CFG_MAX_LISTEN    8
#define XR_CFG_NAME_LEN      32   /* tenant and agent names: [A-Za-z0-9_.-]{1,31} */
#define XR_CFG_HOST_LEN      254
#define XR_CFG_PATH_LEN      4096
#define XR_CFG_ERR_LEN       512
#define XR_IDENTITY_LEN      32   /* raw Ed25519 public key */

/* A socket address from "0.0.0.0:443", "[::]:443", "relay.example.com:7443"
 * (host names only where allowed: agent relays). */
struct xr_sockaddr {
	struct sockaddr_storage ss;
	socklen_t len;
	int line;                   /* line in the config, for later messages */
};

struct xr_cidr {
	uint8_t addr[16];           /* IPv4 stored IPv4-mapped (::ffff:a.b.c.d) */
	uint8_t prefixlen;          /* 0..128, in the mapped space (IPv4 /24 -> 120) */
	uint8_t family;             /* 4 or 6 */
	int line;
};

struct xr_cfg_agent {
	char name[XR_CFG_NAME_LEN];
	uint8_t identity[XR_IDENTITY_LEN];  /* decoded "xrelay-ed25519 <base64>" */
	int line;
};

struct xr_cfg_wg {
	uint8_t pubkey[32];         /* private WireGuard host behind NAT */
	uint8_t (*peers)[32];       /* its public peers (optional) */
	int n_peers;
	int line;
};

struct xr_cfg_limits {
	uint64_t bandwidth_bps;     /* bits per second, 0 = unlimited ("100mbit", "1gbit", "500kbit", "10mbps"=bytes) */
	uint64_t packets_pps;       /* packets per second, 0 = unlimited ("200kpps", "1mpps", "5000pps") */
	uint64_t connections_ps;    /* new connections per second, 0 = unlimited ("500/s", "10/s") */
};

struct xr_cfg_tenant {
	char name[XR_CFG_NAME_LEN];
	struct xr_cfg_agent *agents;
	int n_agents;
	char (*hostnames)[XR_CFG_HOST_LEN];  /* lower-case; "*.example.com" wildcards allowed */
	int n_hostnames;
	struct xr_cfg_wg *wg;
	int n_wg;
	struct xr_cfg_limits limits;
	struct xr_cidr *allow;      /* NULL/0 = every source allowed */
	int n_allow;
	int line;
};

/* health: thresholds of the state machine (health.h), relay and agent;
 * interval and wireguard_idle are the relay's WireGuard tenant probe. */
struct xr_cfg_health {
	struct xr_health_params p;
	uint32_t interval_ms;                 /* health.interval (relay): WireGuard probe, 5 s */
	uint32_t wg_idle_ms;                  /* health.wireguard_idle (relay): 60 s */
};
#define XR_HEALTH_INTERVAL_MS  5000
#define XR_HEALTH_WG_IDLE_MS   60000

struct xr_relay_cfg {
	char path[XR_CFG_PATH_LEN];           /* file it was read from */
	struct xr_sockaddr control_listen[XR_CFG_MAX_LISTEN];
	int n_control_listen;
	char control_key[XR_CFG_PATH_LEN];    /* "" if absent */
	struct xr_sockaddr tls_listen[XR_CFG_MAX_LISTEN];
	int n_tls_listen;
	char tls_fallback[XR_CFG_HOST_LEN];   /* tls.fallback "host:port", "" if none */
	uint32_t tls_hello_timeout_ms;        /* tls.hello_timeout, default 5 s */
	int tls_mover;                        /* tls.mover: enum xr_mover (0 uring, 1 splice) */
	char control_hostname[XR_CFG_HOST_LEN]; /* control.hostname: SNI of the control service on tls.listen */
	struct xr_sockaddr wg_listen[XR_CFG_MAX_LISTEN];
	int n_wg_listen;
	char admin_socket[XR_CFG_PATH_LEN];   /* default "/run/xrelay/xrelayd.sock" */
	struct xr_sockaddr admin_metrics;     /* len 0 if absent */
	char pin_root[XR_CFG_PATH_LEN];       /* bpf.pin_root, "" = default */
	char xdp_ifaces[XR_CFG_MAX_LISTEN][16]; /* bpf.interfaces: attach at start (optional) */
	int n_xdp_ifaces;
	int xdp_mode;                         /* bpf.mode: 0 native (default), 1 generic ("skb" too) */
	int log_level;                        /* log.level: enum xr_log_level, default info */
	struct xr_cfg_health health;          /* health: */
	struct xr_cfg_tenant *tenants;
	int n_tenants;
};

/* Parse a relay config file.  Returns 0 and fills *cfg, or -1 with err set
 * to "FILE:LINE: message" (LINE is 1-based, the line of the offending key
 * or value).  Validates: YAML syntax, unknown keys (at every level), types,
 * addresses, ports, CIDRs, limits, tenant/agent names, duplicate tenant
 * names, duplicate hostnames (also across tenants), malformed identities
 * and WireGuard keys (base64 of 32 bytes), duplicate WireGuard keys. */
int xr_relay_cfg_load(const char *path, struct xr_relay_cfg *cfg, char *err, size_t errlen);
/* Same, from a string (unit tests); `name` is used in messages. */
int xr_relay_cfg_parse(const char *name, const char *yaml, size_t len,
		       struct xr_relay_cfg *cfg, char *err, size_t errlen);
void xr_relay_cfg_free(struct xr_relay_cfg *cfg);

/* Helpers, exported for tests and for other parsers. */
int xr_parse_sockaddr(const char *s, struct xr_sockaddr *out);     /* numeric only; 0 / -1 */
int xr_parse_cidr(const char *s, struct xr_cidr *out);             /* 0 / -1 */
int xr_parse_bandwidth(const char *s, uint64_t *bps);              /* 0 / -1 */
int xr_parse_pps(const char *s, uint64_t *pps);                    /* 0 / -1 */
int xr_parse_rate(const char *s, uint64_t *per_sec);               /* "500/s"; 0 / -1 */
int xr_parse_wg_key(const char *s, uint8_t out[32]);               /* base64, 0 / -1 */
/* Format an address as "1.2.3.4:5" or "[::1]:5". */
const char *xr_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len);

/* ---- agent config --------------------------------------------------------- */

#define XR_AGENT_HEARTBEAT_MS 5000  /* default `heartbeat:` */
#define XR_AGENT_POOL         4     /* default `pool:` */
#define XR_AGENT_POOL_MAX     64
#define XR_CFG_MAX_ALPN       4
#define XR_TLS_HELLO_TIMEOUT_MS 5000

/* relays[]: a relay the agent dials out to. */
struct xr_agent_relay {
	char address[XR_CFG_HOST_LEN];      /* as written: "relay.example.com:7443", "[2001:db8::1]:7443" */
	char host[XR_CFG_HOST_LEN];         /* host part, lower-cased, brackets stripped (for getaddrinfo) */
	uint16_t port;
	uint8_t identity[XR_IDENTITY_LEN];  /* the relay's pinned "xrelay-ed25519 <base64>" */
	char sni[XR_CFG_HOST_LEN];          /* sni: name sent in the control TLS handshake ("" =
					     * the address's host when it is a name) */
	int line;
};

/* services[].health: how the agent probes the target */
enum xr_probe_kind { XR_PROBE_TCP = 0, XR_PROBE_TLS, XR_PROBE_HTTP, XR_PROBE_NONE };
#define XR_PROBE_INTERVAL_MS 5000
#define XR_PROBE_TIMEOUT_MS  2000

struct xr_cfg_probe {
	int kind;                           /* enum xr_probe_kind; default tcp */
	char path[256];                     /* http: request path, default "/" */
	uint32_t interval_ms;               /* default 5 s, 100 ms..1 h */
	uint32_t timeout_ms;                /* default 2 s, < interval */
};

/* services[]: a hostname the relay routes to this agent, and where it goes. */
struct xr_agent_service {
	char hostname[XR_CFG_HOST_LEN];     /* lower-case; "*.example.com" wildcards allowed */
	char target[XR_CFG_HOST_LEN];       /* as written: "127.0.0.1:8443", "[::1]:80", "backend:80" */
	char target_host[XR_CFG_HOST_LEN];  /* host part, brackets stripped */
	uint16_t target_port;
	bool proxy_protocol;                /* proxy_protocol: v2 */
	char tls_cert[XR_CFG_PATH_LEN];     /* tls.cert; "" = TLS passes through to target */
	char tls_key[XR_CFG_PATH_LEN];      /* tls.key; set iff tls_cert is */
	char alpn[XR_CFG_MAX_ALPN][16];     /* tls.alpn, preference order; none = http/1.1 */
	int n_alpn;
	struct xr_cfg_probe probe;          /* health: */
	int line;
};

struct xr_agent_cfg {
	char path[XR_CFG_PATH_LEN];         /* file it was read from */
	char name[XR_CFG_NAME_LEN];         /* required */
	char key[XR_CFG_PATH_LEN];          /* required: private key from `xrelayctl keygen` */
	struct xr_agent_relay *relays;      /* required, at least one */
	int n_relays;
	struct xr_agent_service *services;  /* optional */
	int n_services;
	uint32_t heartbeat_ms;              /* heartbeat: "5s", "500ms", "1m"; 100 ms..1 h */
	uint32_t pool;                      /* pool: warm data connections per relay, 0..64 */
	struct xr_cfg_health health;        /* health: thresholds for the services' states */
};

/* Agent config: same conventions and error format as the relay config.
 * Rejects unknown keys, missing name/key/relays, duplicate relay addresses
 * and duplicate service hostnames. */
int xr_agent_cfg_load(const char *path, struct xr_agent_cfg *cfg, char *err, size_t errlen);
int xr_agent_cfg_parse(const char *name, const char *yaml, size_t len,
		       struct xr_agent_cfg *cfg, char *err, size_t errlen);
void xr_agent_cfg_free(struct xr_agent_cfg *cfg);

/* "host:port" / "[IPv6]:port" where host may be a DNS name: fills host
 * (lower-cased, no brackets) and port.  0 / -1. */
int xr_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);
/* Validate and lower-case a TLS hostname (optional leading "*."). 0 / -1. */
int xr_parse_hostname(const char *s, char out[XR_CFG_HOST_LEN]);
/* Durations "5s", "500ms", "2m", "1h", bare number = seconds. 0 / -1. */
int xr_parse_duration_ms(const char *s, uint64_t *ms);

#endif
