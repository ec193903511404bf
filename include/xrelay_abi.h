/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xrelay_abi.h - the one ABI shared by the BPF data plane and userspace.
 *
 * Every map key and value, every verdict and drop reason, every pin name
 * lives here exactly once.  Fixed-width types, explicit padding; the
 * userspace side checks sizes with _Static_assert (see the bottom).
 *
 * Layout rule: libbpf re-uses a pinned map whenever type, key size, value
 * size and max_entries match -- it never compares field layouts.  Any change
 * to a struct below MUST bump XR_ABI_VERSION; xrelayd and xrelayctl refuse
 * to adopt pinned maps whose xr_meta says otherwise.
 */
#ifndef XRELAY_ABI_H
#define XRELAY_ABI_H

#include "xrelay_config.h"

#ifdef __bpf__
/* vmlinux.h already provides __u8..__u64 and __be16/__be32 */
#else
#include <linux/types.h>
#endif

#define XR_ABI_VERSION 3

/* ---- pin layout --------------------------------------------------------- */
#define XR_PIN_ROOT_DEFAULT "/sys/fs/bpf/xrelay"
#define XR_PIN_LINKS_DIR    "links"     /* <root>/links/<ifname>: XDP bpf_link */

/* ---- WireGuard wire constants (see the WireGuard paper, section 5.4) ---- */
#define XR_WG_TYPE_INITIATION 1
#define XR_WG_TYPE_RESPONSE   2
#define XR_WG_TYPE_COOKIE     3
#define XR_WG_TYPE_DATA       4
#define XR_WG_INIT_LEN        148
#define XR_WG_RESP_LEN        92
#define XR_WG_COOKIE_LEN      64
#define XR_WG_DATA_MIN_LEN    32 /* header 16 + empty payload's 16-byte tag */
#define XR_WG_KEY_LEN         32
#define XR_WG_TAG_LEN         8  /* bytes of a public key kept in maps */

/* WireGuard rejects a keypair REJECT_AFTER_TIME (180 s) after it was made;
 * the relay keeps a session slightly longer so that a late packet of a
 * still-valid keypair is never dropped by us first. */
#define XR_WG_REJECT_AFTER_S  180

/* ---- address families as stored in maps --------------------------------- */
enum xr_family {
	XR_AF_NONE = 0,
	XR_AF_INET = 4,
	XR_AF_INET6 = 6,
};

/*
 * An address as stored in maps: IPv4 is stored IPv4-mapped (::ffff:a.b.c.d)
 * so that one LPM trie and one endpoint type serve both families.
 */
struct xr_addr {
	__u8 a[16];
};

struct xr_endpoint {
	struct xr_addr addr;
	__be16 port;   /* network byte order */
	__u8 family;   /* enum xr_family */
	__u8 pad;
};

/* ---- verdicts and reasons: every packet the XDP program sees gets one ---- */
enum xr_reason {
	/* forwarded or handed on */
	XR_R_PASS_NOT_IP = 0,      /* not IPv4/IPv6: left to the stack */
	XR_R_PASS_NOT_OURS,        /* IP, but not to a WireGuard listen port */
	XR_R_PASS_HANDSHAKE,       /* WG types 1-3 handed to xrelayd */
	XR_R_PASS_FRAGMENT,        /* IP fragment: stack reassembles, xrelayd forwards */
	XR_R_PASS_SLOWPATH,        /* session needs userspace (no neighbour, other NIC, family change) */
	XR_R_TX,                   /* type 4 forwarded, XDP_TX */
	XR_R_REDIRECT,             /* type 4 forwarded, XDP_REDIRECT via devmap */
	/* drops: each one counted, globally and per tenant where known */
	XR_R_DROP_MALFORMED,       /* truncated or inconsistent headers */
	XR_R_DROP_WG_BAD_TYPE,     /* to a WG port but not a WireGuard message */
	XR_R_DROP_UNKNOWN_INDEX,   /* type 4 with a receiver index we have no session for */
	XR_R_DROP_HS_RATELIMIT,    /* too many handshakes from one source */
	XR_R_DROP_NOT_ALLOWED,     /* source not in the tenant's allow list */
	XR_R_DROP_OVER_BANDWIDTH,  /* tenant's limits.bandwidth exceeded */
	XR_R_DROP_OVER_PACKETS,    /* tenant's limits.packets exceeded */
	XR_R_DROP_TTL,             /* TTL / hop limit exhausted (relay loop guard) */
	XR_R_DROP_NO_ROUTE,        /* fib lookup found no route to the endpoint */
	XR_R_DROP_ABORTED,         /* helper failure (adjust_head etc.) */
	XR_R_MAX,
};

/* ---- maps (names as pinned under the pin root) --------------------------- */
#define XR_MAP_STATS     "xr_stats"     /* percpu array: enum xr_reason -> xr_counter */
#define XR_MAP_TSTATS    "xr_tstats"    /* percpu array: tenant id -> xr_tenant_stats */
#define XR_MAP_TENANTS   "xr_tenants"   /* hash: tenant id -> xr_tenant (policy) */
#define XR_MAP_POLICE    "xr_police"    /* array: tenant id -> xr_police (bucket state) */
#define XR_MAP_SESSIONS  "xr_sessions"  /* hash: receiver index -> xr_session */
#define XR_MAP_LISTEN    "xr_listen"    /* hash: xr_listen_key -> xr_listen_val */
#define XR_MAP_PORTS     "xr_ports"     /* array: UDP port (host order) -> XR_PORT_* flags */
#define XR_MAP_ALLOW     "xr_allow"     /* lpm trie: xr_allow_key -> u8 */
#define XR_MAP_HSRATE    "xr_hsrate"    /* lru hash: source addr -> xr_gcra */
#define XR_MAP_TXPORTS   "xr_txports"   /* devmap hash: ifindex -> ifindex */
#define XR_MAP_META      "xr_meta"      /* array[1]: xr_meta */
#define XR_MAP_NEXTHOP   "xr_nexthop"   /* lru hash: peer addr -> xr_nexthop */
#define XR_MAP_TCPSTATS  "xr_tcpstats"  /* array: tenant id -> xr_tcp_stats (0: relay-wide) */
#define XR_MAP_FLOWS     "xr_flows"     /* hash: flow id -> xr_flow (open TLS flows) */
#define XR_MAP_HEALTH    "xr_health"    /* array: tenant id -> xr_tenant_health */

struct xr_counter {
	__u64 packets;
	__u64 bytes;
};

/* Per tenant, per CPU.  rx = arrived for one of the tenant's sessions,
 * tx = forwarded; drop[] indexed by enum xr_reason. */
struct xr_tenant_stats {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 drop[XR_R_MAX];
};

#define XR_TENANT_NAME_LEN 32
#define XR_TENANT_F_ACTIVE    (1u << 0)  /* slot in use */
#define XR_TENANT_F_ALLOWLIST (1u << 1)  /* sources must match xr_allow */

/*
 * Policy of one tenant, written by xrelayd from the config.  Rates are
 * pre-computed as a GCRA emission interval so the data plane never divides:
 *   cost_ns = (bytes * ns_per_mib) >> 20            for bandwidth
 * (ns per 2^20 bytes: 20 fractional bits keep 100 Gbit/s exact to 0.01 %;
 * the config refuses rates under 1 kbit/s, so 64 KiB never overflows)
 *   cost_ns = ns_per_packet                         for packets
 * A zero interval means "unlimited".
 */
struct xr_tenant {
	char name[XR_TENANT_NAME_LEN];
	__u32 flags;
	__u32 pad;
	__u64 bw_ns_per_mib;     /* 0 = unlimited */
	__u64 bw_burst_ns;       /* tolerated burst, as time */
	__u64 pkt_ns_per_packet; /* 0 = unlimited */
	__u64 pkt_burst_ns;
	__u64 conn_per_sec;      /* limits.connections, enforced by xrelayd */
	__u64 bw_bits_per_sec;   /* as configured, for display */
	__u64 pkt_per_sec;       /* as configured, for display */
};

/* GCRA state: theoretical arrival time, CLOCK_MONOTONIC ns. */
struct xr_gcra {
	__u64 tat;
};

/* Bucket state of one tenant; separate from xr_tenant so that a reload
 * rewriting the policy never resets the buckets of an unchanged tenant. */
struct xr_police {
	struct xr_gcra bw;
	struct xr_gcra pkt;
};

/*
 * One direction of a relayed WireGuard session, keyed by the receiver
 * index that the *destination* peer chose (type-4 messages carry it).
 *
 * `src` is where the opposite peer was when the handshake completed.  The
 * first data packet that arrives from there sets XR_SESS_F_CONFIRMED: only
 * the genuine peer sends data on a keypair, after it authenticated the
 * handshake, so this is how xrelayd learns which endpoints to trust
 * (docs/SECURITY.md).  Packets from elsewhere are still forwarded.
 */
#define XR_SESS_F_CONFIRMED (1u << 0)

/* Next hop of a session as last resolved by the data plane, so that a FIB
 * lookup is made once per XR_NH_CACHE_NS, not per packet. */
#define XR_NH_CACHE_NS (1000ull * 1000 * 1000)
struct xr_nh_cache {
	__u8 dmac[6];
	__u8 smac[6];
	__u32 ifindex;
	__u32 ok_len;              /* largest IP packet the route was checked for */
	__u32 pad;
	__u64 ns;                  /* when resolved; 0 = never */
};

struct xr_session {
	struct xr_endpoint dst;    /* where packets with this index go */
	struct xr_endpoint src;    /* where the opposite peer was at handshake time */
	__u32 tenant_id;
	__u32 peer_index;          /* index of the opposite direction */
	__u32 flags;               /* XR_SESS_F_*, set by the data plane */
	__u32 pad;
	__u64 created_ns;          /* CLOCK_MONOTONIC, from the completing handshake */
	__u64 last_ns;             /* last packet forwarded */
	__u64 packets;             /* forwarded, updated atomically */
	__u64 bytes;
	__u8 key_tag[XR_WG_TAG_LEN]; /* first bytes of dst's public key, 0 if unknown */
	struct xr_nh_cache nh;     /* data plane's cache; userspace writes zeros */
};

/*
 * Reverse-path next hop, learned from the Ethernet header of the handshakes
 * a peer sends: where frames for that address go when the FIB cannot be
 * asked (bpf_fib_lookup refuses with FWD_DISABLED unless forwarding is on
 * for the NIC, which a relay host does not need otherwise).
 */
struct xr_nexthop {
	__u8 mac[6];               /* next hop's MAC (the frame's source) */
	__u8 our_mac[6];           /* our MAC on that link (the frame's destination) */
	__u32 ifindex;             /* where it arrived */
	__u32 pad;
	__u64 seen_ns;
};

/* xr_ports flags: which listen entries use a UDP port, so the data plane
 * answers "is this ours?" with one array lookup and reaches for the
 * xr_listen hash only for address-specific entries. */
#define XR_PORT_ANY4  (1u << 0)   /* 0.0.0.0:port */
#define XR_PORT_ANY6  (1u << 1)   /* [::]:port */
#define XR_PORT_EXACT (1u << 2)   /* some addr:port, see xr_listen */

struct xr_listen_key {
	struct xr_addr addr;       /* all-zero = any address of that family */
	__be16 port;
	__u8 family;
	__u8 pad;
};

struct xr_listen_val {
	__u32 flags;               /* reserved */
};

/* LPM key: prefixlen counts tenant id (32 bits) + address bits (IPv4 as
 * ::ffff:0:0/96 + 32). */
struct xr_allow_key {
	__u32 prefixlen;
	__u32 tenant_id;           /* big endian so that it forms a prefix */
	struct xr_addr addr;
};

/* ---- TLS passthrough accounting (written by xrelayd, read by xrelayctl) --
 * Userspace owns the TCP path, so these maps are plain stores that the BPF
 * object declares only so that they are created, pinned and BTF-typed with
 * the rest: `bpftool map dump pinned <root>/xr_flows` names every field. */
enum xr_tcp_counter {
	XR_T_ACCEPTED = 0,   /* public TCP connections accepted */
	XR_T_ROUTED,         /* joined with a data connection / fallback / control */
	XR_T_UNKNOWN_SNI,    /* no tenant owns the name, no fallback */
	XR_T_BAD_HELLO,      /* not TLS, malformed or oversize ClientHello */
	XR_T_HELLO_TIMEOUT,  /* ClientHello incomplete at tls.hello_timeout */
	XR_T_NO_AGENT,       /* owned name, no agent registered it */
	XR_T_REFUSED_ALLOW,  /* source not in the tenant's allow list */
	XR_T_REFUSED_RATE,   /* over limits.connections */
	XR_T_DATA_TIMEOUT,   /* the agent brought no data connection in time */
	XR_T_RESETS,         /* ended by a reset (either side, or agent lost) */
	XR_T_ACTIVE,         /* open now (gauge) */
	XR_T_BYTES_IN,       /* client -> service */
	XR_T_BYTES_OUT,      /* service -> client */
	XR_T_THROTTLED,      /* times a direction waited for limits.bandwidth */
	XR_T_BUSY,           /* no ClientHello slot free (Kconfig XR_HELLO_SLOTS) */
	XR_T_ROUTE_DOWN,     /* every replica of the name is down: refused at once */
	XR_T_REROUTED,       /* waiting for an agent that was lost; sent to another replica */
	XR_T_ID_CONFLICTS,   /* an agent identity connected from a second address: refused */
	XR_T_MAX,
};

struct xr_tcp_stats {
	__u64 c[XR_T_MAX];
};

#define XR_FLOW_HOST_LEN 64   /* hostname as shown; longer names are cut */
#define XR_AGENT_NAME_LEN 32

struct xr_flow {
	struct xr_endpoint client; /* public client */
	__u32 tenant_id;
	__u32 flags;               /* XR_FLOW_F_* */
	__u32 pad;
	__u64 started_ns;          /* CLOCK_MONOTONIC */
	__u64 bytes_in;            /* client -> service */
	__u64 bytes_out;           /* service -> client */
	char host[XR_FLOW_HOST_LEN];
	char agent[XR_AGENT_NAME_LEN];
};
#define XR_FLOW_F_HALF_IN   (1u << 0) /* client sent FIN */
#define XR_FLOW_F_HALF_OUT  (1u << 1) /* service sent FIN */
#define XR_FLOW_F_FALLBACK  (1u << 2) /* to tls.fallback */
#define XR_FLOW_F_CONTROL   (1u << 3) /* agent control through :443 */

/*
 * Health of a tenant as xrelayd sees it (written by xrelayd on every change,
 * like xr_tcpstats; read by xrelayctl and bpftool).  States: 0 unknown,
 * 1 healthy, 2 degraded, 3 down (user/lib/health.h).  `routes` is the worst
 * of its served hostnames, each hostname the best of its replicas (hostname
 * -> agent -> target), or down when no agent serves any; `wg` is its
 * WireGuard private hosts' state.
 */
#define XR_HEALTH_TEXT_LEN 96
struct xr_tenant_health {
	__u8 state;                /* worst of routes and wg, of those the tenant has */
	__u8 routes;
	__u8 wg;
	__u8 pad;
	__u32 names_healthy;       /* configured hostnames by their best replica */
	__u32 names_degraded;
	__u32 names_down;          /* every replica down */
	__u32 replicas;            /* agent sessions serving the tenant */
	__u32 names_unserved;      /* no agent registered them (not counted in `routes`
				    * unless no name is served at all) */
	__u64 since_ns;            /* `state` since (CLOCK_MONOTONIC) */
	char reason[XR_HEALTH_TEXT_LEN];
	char wg_reason[XR_HEALTH_TEXT_LEN];
};

struct xr_meta {
	__u32 abi_version;
	__u32 flags;
	__u64 loaded_ns;
};

/* ---- GCRA: the one token-bucket arithmetic, shared with unit tests ------ */
/*
 * Generic cell rate algorithm (a token bucket written as one timestamp):
 * admit when the theoretical arrival time is at most `burst` ahead of now;
 * on admit the new TAT is max(tat, now) + cost.  Returns the new TAT, or 0
 * when the packet must be dropped (TAT itself is never 0 after an admit
 * because now > 0 on a running system).
 */
static inline __u64 xr_gcra_next(__u64 tat, __u64 now, __u64 cost, __u64 burst)
{
	__u64 base = tat > now ? tat : now;

	if (base - now > burst)
		return 0;
	return base + cost;
}

static inline __u64 xr_bw_cost(__u64 bytes, __u64 ns_per_mib)
{
	return (bytes * ns_per_mib) >> 20;
}

/* Userspace: the emission interval for `bps` bits per second. */
static inline __u64 xr_bw_ns_per_mib(__u64 bps)
{
	return bps ? (__u64)((8000000000.0 * (1 << 20)) / (double)bps) : 0;
}

#ifndef __bpf__
_Static_assert(sizeof(struct xr_addr) == 16, "xr_addr");
_Static_assert(sizeof(struct xr_endpoint) == 20, "xr_endpoint");
_Static_assert(sizeof(struct xr_nh_cache) == 32, "xr_nh_cache");
_Static_assert(sizeof(struct xr_session) == 128, "xr_session");
_Static_assert(sizeof(struct xr_nexthop) == 32, "xr_nexthop");
_Static_assert(sizeof(struct xr_listen_key) == 20, "xr_listen_key");
_Static_assert(sizeof(struct xr_allow_key) == 24, "xr_allow_key");
_Static_assert(sizeof(struct xr_tenant) == 96, "xr_tenant");
_Static_assert(sizeof(struct xr_police) == 16, "xr_police");
_Static_assert(sizeof(struct xr_meta) == 16, "xr_meta");
_Static_assert(sizeof(struct xr_tenant_stats) == 32 + 8 * XR_R_MAX, "xr_tenant_stats");
_Static_assert(sizeof(struct xr_tcp_stats) == 8 * XR_T_MAX, "xr_tcp_stats");
_Static_assert(sizeof(struct xr_flow) == 152, "xr_flow");
#endif

#endif /* XRELAY_ABI_H */
