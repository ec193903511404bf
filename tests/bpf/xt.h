/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * xt.h - packet-fixture tests of bpf/xrelay.bpf.c (STYLE habit 11).
 *
 * The process moves itself into a private network and mount namespace
 * (env.c), builds a veth with addresses, routes and PERMANENT neighbours so
 * that bpf_fib_lookup() has something real to find, mounts a private bpffs
 * as the pin root, loads the skeleton and fills the maps with the fixtures
 * below.  Every test then feeds hand-built frames (pkt.c) through
 * bpf_prog_test_run_opts() and checks verdict, output bytes and the exact
 * counter deltas of every reason and every tenant (run.c).
 *
 * Files: env.c (namespace, bpffs, skeleton, map fixtures), pkt.c (frame
 * builder, checksums from scratch), run.c (run + assertions), test_*.c
 * (suites), bench.c, main.c.
 */
#ifndef XT_H
#define XT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/types.h>
#include <CUnit/CUnit.h>

#include "xrelay_abi.h"

/* ---- topology (all inside the test's own netns) ------------------------- */
#define XT_IF0        "xr0"      /* ingress; peer xr0p */
#define XT_IF1        "xr1"      /* a second NIC; peer xr1p */
#define XT_MAC_IF0    "\x02\x00\x00\x00\x00\x01"
#define XT_MAC_IF1    "\x02\x00\x00\x00\x01\x01"
#define XT_MAC_CLIENT "\x02\x00\x00\x00\x00\x99"  /* sender of test frames */
#define XT_MAC_EP     "\x02\x00\x00\x00\x00\x02"  /* 198.18.0.2, 2001:db8:18::2 */
#define XT_MAC_EP_B   "\x02\x00\x00\x00\x00\x03"  /* 198.18.0.3, 2001:db8:18::3 */
#define XT_MAC_GW     "\x02\x00\x00\x00\x00\xfe"  /* 198.18.0.254, 2001:db8:18::fe */
#define XT_MAC_EP_IF1 "\x02\x00\x00\x00\x01\x02"  /* 198.19.0.2, 2001:db8:19::2 */
#define XT_MAC_EP_MTU "\x02\x00\x00\x00\x00\x04"  /* 198.18.0.4, 2001:db8:18::4 */

#define XT_RELAY4     "198.18.0.1"
#define XT_RELAY6     "2001:db8:18::1"
#define XT_CLIENT4    "198.51.100.10"
#define XT_CLIENT6    "2001:db8:51::10"
#define XT_WG_PORT    51820

/* ---- map fixtures ---------------------------------------------------------- */
enum xt_tenant_id {
	T_ONE = 1,     /* plain */
	T_TWO,         /* plain: the isolation witness */
	T_PKT,         /* packet limit */
	T_BW,          /* bandwidth limit */
	T_ALLOW,       /* allow list */
	T_GONE,        /* deleted from xr_tenants by a test */
	T_IDLE,        /* present without XR_TENANT_F_ACTIVE */
	XT_NTENANTS,   /* tenants 1..XT_NTENANTS-1 are checked on every run */
};

/* xr_tenants limits of T_PKT and T_BW */
#define XT_PKT_NS       1000000000ull   /* 1 packet/s ... */
#define XT_PKT_BURST_NS 2000000000ull   /* ... 2 s of burst: 3 back to back */
#define XT_BW_BPS       1000ull          /* the config's minimum: 8 ms per byte ... */
#define XT_BW_BURST_NS  1600000000ull    /* ... 1.6 s of burst */

enum xt_session {
	S_V4 = 1,      /* T_ONE, 198.18.0.2:51821 */
	S_V6,          /* T_ONE, [2001:db8:18::2]:51822 */
	S_T2_V4,       /* T_TWO, 198.18.0.3:51824 */
	S_T2_V6,       /* T_TWO, [2001:db8:18::3]:51824 */
	S_PKT,         /* T_PKT, 198.18.0.2:51825 */
	S_BW,          /* T_BW,  198.18.0.2:51826 */
	S_ALLOW4,      /* T_ALLOW, 198.18.0.2:51827 */
	S_ALLOW6,      /* T_ALLOW, [2001:db8:18::2]:51827 */
	S_GONE,        /* T_GONE, 198.18.0.2:51828 */
	S_IDLE,        /* T_IDLE, 198.18.0.2:51829 */
	S_NONEIGH4,    /* T_ONE, 198.18.0.9 (on link, no neighbour) */
	S_NONEIGH6,    /* T_ONE, 2001:db8:18::9 */
	S_NOROUTE4,    /* T_ONE, 192.0.2.1 (no route in the netns) */
	S_NOROUTE6,    /* T_ONE, 2001:db8:ff::1 */
	S_GW4,         /* T_ONE, 203.0.113.7 via 198.18.0.254 */
	S_GW6,         /* T_ONE, 2001:db8:99::7 via 2001:db8:18::fe */
	S_IF1_V4,      /* T_ONE, 198.19.0.2 behind xr1 */
	S_IF1_V6,      /* T_ONE, 2001:db8:19::2 behind xr1 */
	S_BENCH,       /* T_ONE, 198.18.0.2:51820 (same port as ours: see bench.c) */
	S_NH4,         /* T_ONE, 198.18.0.50:51840 (no neighbour: reverse path only) */
	S_NH6,         /* T_ONE, [2001:db8:18::50]:51840 */
	S_NH_GW4,      /* T_ONE, 203.0.113.50:51841 (off link) */
	S_NH_IF1,      /* T_ONE, 198.19.0.50:51842 (its handshakes come in on xr1) */
	S_CONF4,       /* T_ONE, 198.18.0.2:51843, src = XT_CLIENT4:40000 */
	S_CONF6,       /* T_ONE, [2001:db8:18::2]:51843, src = [XT_CLIENT6]:40000 */
	S_MTU4,        /* T_ONE, 198.18.0.4:51844, route MTU 1000 */
	S_MTU6,        /* T_ONE, [2001:db8:18::4]:51844, route MTU 1280 */
	S_MAX,
};

/* The receiver index of session n as a host number; on the wire it is sent
 * little-endian (xt_wg_data), and the map key is those 4 bytes read as a
 * host u32 (xt_session_key). Bytes chosen asymmetric on purpose. */
#define XT_IDX(n)     (0x5ca1ab00u + (n))
#define XT_IDX_UNKNOWN 0xdeadbeefu

struct xt_env {
	int ifindex0, ifindex1;
	int ncpus;
	int prog_fd;
	int stats_fd, tstats_fd, tenants_fd, police_fd, sessions_fd;
	int listen_fd, allow_fd, hsrate_fd, txports_fd, nexthop_fd;
	struct xr_endpoint ep[S_MAX];      /* endpoint of each session */
	struct xr_tenant tenant[XT_NTENANTS];
	bool verbose;
};
extern struct xt_env xt;

/* env.c */
int xt_env_setup(void);              /* 0, or -1 after printing why */
void xt_env_teardown(void);
void xt_env_signal_cleanup(void);  /* from a signal handler */
__u32 xt_session_key(__u32 idx);
int xt_tenant_put(__u32 tid);        /* (re)write xt.tenant[tid] */
int xt_tenant_del(__u32 tid);
int xt_session_get(enum xt_session s, struct xr_session *out);
/* net.ipv{4,6}.conf.<ifname>.forwarding; bpf_fib_lookup() answers
 * FWD_DISABLED on an interface without it (the reverse-path suite). */
int xt_forwarding(const char *ifname, bool on);   /* also flushes next-hop caches */
void xt_nh_flush(void);
int xt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- pkt.c: frame builder ------------------------------------------------ */
#define XT_FRAME_MAX 2048

struct xt_pkt {
	__u8 dmac[6], smac[6];
	int nvlan;                  /* 0..3 tags */
	__u16 tpid[3], tci[3];
	__u16 ethertype;            /* 0: from family */
	int family;                 /* 4 or 6; 0: raw payload after Ethernet */
	__u8 src[16], dst[16];      /* IPv4 in the first 4 bytes */
	__u8 ttl, tos;
	__u16 id;
	__u16 frag;                 /* IPv4 flags+offset (host order); IPv6: offset<<3|M */
	__u8 opts[40];              /* IPv4 options */
	int optlen;                 /* multiple of 4 */
	__u8 proto;                 /* L4 protocol */
	bool v6_frag;               /* put an IPv6 fragment header before L4 */
	__u16 sport, dport;         /* host order */
	bool no_udp_csum;           /* IPv4: send checksum 0 */
	__u8 payload[1600];         /* UDP payload, or raw L4 / raw L3 bytes */
	size_t plen;
	int ip_len_adj;             /* added to tot_len / payload_len */
	int udp_len_adj;            /* added to the UDP length field */
	int ihl_override;           /* nonzero: write this ihl instead */
	int version_override;       /* nonzero: write this IP version */
	size_t truncate;            /* nonzero: frame cut to this length */
	size_t trailer;             /* bytes after the IP packet (padding, trailers) */
};

/* A UDP datagram from src:sport to dst:dport, Ethernet client -> relay. */
void xt_pkt_udp(struct xt_pkt *p, int family, const char *src, __u16 sport,
		const char *dst, __u16 dport);
/* Same, to the relay's WireGuard port, from the usual client address. */
void xt_pkt_wg(struct xt_pkt *p, int family);
size_t xt_build(const struct xt_pkt *p, __u8 *frame);
/* 4 bytes for IPv4, 16 for IPv6 */
void xt_addr(int family, const char *s, __u8 *out);

/* UDP payloads; return their length */
size_t xt_wg_data(__u8 *pl, __u32 idx, size_t len);     /* type 4 */
size_t xt_wg_hs(__u8 *pl, int type, size_t len);        /* types 1-3 */

/* Recompute the IPv4 header and UDP checksums of a frame from scratch.
 * Returns NULL when both are valid, else what is wrong. */
const char *xt_csum_problem(const __u8 *f, size_t len);
/* Offset of the L3 header (after VLAN tags), -1 if not IP. */
int xt_l3_offset(const __u8 *f, size_t len);
/* IP length from the IP header (tot_len, or payload_len + 40). */
__u32 xt_l3len(const __u8 *f, size_t len);
void xt_hexdump(const char *tag, const __u8 *b, size_t len);

/* ---- run.c ---------------------------------------------------------------- */
struct xt_expect {
	int action;                 /* XDP_* */
	int reason;                 /* enum xr_reason, counted once per run */
	__u32 tid;                  /* tenant whose counters move, 0: none */
	const __u8 *out;            /* expected output; NULL: the input, unmodified */
	size_t out_len;
	__u32 repeat;               /* 0/1: one run */
	int ifindex;                /* 0: xt.ifindex0 */
};

/* Runs frame through the program and checks everything; returns true when
 * all matched.  The output lands in out (XT_FRAME_MAX) when non-NULL. */
bool xt_run_check(const __u8 *in, size_t len, const struct xt_expect *e,
		  __u8 *out, const char *file, int line);
#define XT_RUN(in, len, out, ...) \
	xt_run_check(in, len, &(struct xt_expect){ __VA_ARGS__ }, out, __FILE__, __LINE__)

/* Raw run on ingress xt.ifindex0: returns the bpf_prog_test_run_opts() result. */
int xt_run_raw(const __u8 *in, size_t len, __u32 repeat, __u8 *out, __u32 *out_len,
	       __u32 *retval, __u32 *duration);
int xt_run_raw_if(int ifindex, const __u8 *in, size_t len, __u32 repeat, __u8 *out,
		  __u32 *out_len, __u32 *retval, __u32 *duration);

/* The handshake limiter of one source, exactly: `burst` sent XR_HS_BURST + 1
 * times back to back must all pass (and leave TAT = first arrival +
 * (XR_HS_BURST + 1) / XR_HS_RATE_PPS), then `last` (same source) must be
 * dropped.  The drop is judged only when all of it took less than one
 * emission interval (20 ms by default), else a token legitimately came back:
 * returns 1 when judged, 0 when the caller should retry with a fresh
 * source, -1 on failure. */
int xt_hs_exhaust(const struct xt_pkt *burst, const struct xt_pkt *last, const char *file,
		  int line);

/* Counter reads summed over CPUs. */
void xt_stats_snap(struct xr_counter out[XR_R_MAX]);
void xt_tstats_snap(__u32 tid, struct xr_tenant_stats *out);

/* A CUnit assertion that reports the caller's file:line. */
#define XT_CHECK(cond, file, line, ...) \
	xt_check(!!(cond), #cond, file, line, __VA_ARGS__)
bool xt_check(bool ok, const char *expr, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* Builds the frame the relay must emit for input p forwarded to session s:
 * src IP = p's destination, dst = the endpoint, sport = p's dport, TTL - 1,
 * MACs dmac/smac; every checksum computed from scratch. */
size_t xt_expect_fwd(const struct xt_pkt *p, enum xt_session s, const char *dmac,
		     const char *smac, __u8 *frame);

/* Forward p (to session s) and expect the xt_expect_fwd() frame with these
 * MACs, valid checksums, and the session's counters +1 packet +IP length. */
void xt_fwd_check(const struct xt_pkt *p, enum xt_session s, int action, int reason,
		  const char *dmac, const char *smac, const char *file, int line);
#define XT_FWD(p, s, dmac) \
	xt_fwd_check(p, s, XDP_TX, XR_R_TX, dmac, XT_MAC_IF0, __FILE__, __LINE__)
/* p must come out untouched with this verdict/reason, session counters still. */
void xt_keep_check(const struct xt_pkt *p, enum xt_session s, int action, int reason,
		   const char *file, int line);
#define XT_KEEP(p, s, action, reason) xt_keep_check(p, s, action, reason, __FILE__, __LINE__)
/* A type-4 packet of session s from the usual client. */
void xt_data_pkt(struct xt_pkt *p, int family, enum xt_session s, size_t len);

/* suites */
int xt_register_forward(void);
int xt_register_classify(void);
int xt_register_police(void);
int xt_register_nexthop(void);
int xt_register_bench(void);

#endif
