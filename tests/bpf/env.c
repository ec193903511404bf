// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The test's world: a private network namespace (bpf_fib_lookup needs real
 * routes and neighbours, and test_run's ingress_ifindex is resolved in the
 * caller's netns), a private mount namespace holding a bpffs as pin root
 * (nothing leaks to /sys/fs/bpf, and the mount dies with the process even if
 * it crashes), the skeleton loaded with every map pinned there, and the map
 * fixtures of xt.h.
 *
 * Topology (veth, because this kernel has no dummy driver):
 *   xr0 02:..:00:01  198.18.0.1/24  2001:db8:18::1/64   <- ingress of all tests
 *     neighbours .2/::2 (EP), .3/::3 (EP_B), .254/::fe (GW); none for .9/::9
 *     203.0.113.0/24 and 2001:db8:99::/64 via the GW
 *   xr1 02:..:01:01  198.19.0.1/24  2001:db8:19::1/64   <- "another NIC"
 *     neighbour .2/::2
 *   nothing routes 192.0.2.0/24 or 2001:db8:ff::/64
 *   forwarding on (bpf_fib_lookup refuses without it; see test_nexthop.c)
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/if_link.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xrelay.skel.h"
#include "xt.h"

struct xt_env xt;

static struct xrelay_bpf *skel;
static char pin_root[64];
static bool pin_mounted;

int xt_sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc)) {
		fprintf(stderr, "bpf_tests: `%s` failed (status %d)\n", cmd, rc);
		return -1;
	}
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !xt.verbose))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int make_namespaces(void)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWNS)) {
		perror("bpf_tests: unshare(CLONE_NEWNET|CLONE_NEWNS) (run as root)");
		return -1;
	}
	/* Keep our bpffs mount from propagating into the host's namespace. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		perror("bpf_tests: mount(/, MS_REC|MS_PRIVATE)");
		return -1;
	}
	return 0;
}

static int make_topology(void)
{
	static const char *const cmds[] = {
		"ip link set lo up",
		"ip link add " XT_IF0 " address 02:00:00:00:00:01 type veth peer name "
			XT_IF0 "p address 02:00:00:00:00:0a",
		"ip link add " XT_IF1 " address 02:00:00:00:01:01 type veth peer name "
			XT_IF1 "p address 02:00:00:00:01:0a",
		"ip link add xrpin type veth peer name xrpinp",   /* stays down: see pin_dispatcher() */
		"ip link set " XT_IF0 " up", "ip link set " XT_IF0 "p up",
		"ip link set " XT_IF1 " up", "ip link set " XT_IF1 "p up",
		"ip addr add 198.18.0.1/24 dev " XT_IF0,
		"ip -6 addr add 2001:db8:18::1/64 dev " XT_IF0 " nodad",
		"ip addr add 198.19.0.1/24 dev " XT_IF1,
		"ip -6 addr add 2001:db8:19::1/64 dev " XT_IF1 " nodad",
		"ip neigh add 198.18.0.2 lladdr 02:00:00:00:00:02 dev " XT_IF0 " nud permanent",
		"ip neigh add 198.18.0.3 lladdr 02:00:00:00:00:03 dev " XT_IF0 " nud permanent",
		"ip neigh add 198.18.0.254 lladdr 02:00:00:00:00:fe dev " XT_IF0 " nud permanent",
		"ip -6 neigh add 2001:db8:18::2 lladdr 02:00:00:00:00:02 dev " XT_IF0 " nud permanent",
		"ip -6 neigh add 2001:db8:18::3 lladdr 02:00:00:00:00:03 dev " XT_IF0 " nud permanent",
		"ip -6 neigh add 2001:db8:18::fe lladdr 02:00:00:00:00:fe dev " XT_IF0 " nud permanent",
		"ip neigh add 198.19.0.2 lladdr 02:00:00:00:01:02 dev " XT_IF1 " nud permanent",
		"ip -6 neigh add 2001:db8:19::2 lladdr 02:00:00:00:01:02 dev " XT_IF1 " nud permanent",
		"ip route add 203.0.113.0/24 via 198.18.0.254 dev " XT_IF0,
		"ip -6 route add 2001:db8:99::/64 via 2001:db8:18::fe dev " XT_IF0,
		"ip neigh add 198.18.0.4 lladdr 02:00:00:00:00:04 dev " XT_IF0 " nud permanent",
		"ip -6 neigh add 2001:db8:18::4 lladdr 02:00:00:00:00:04 dev " XT_IF0 " nud permanent",
		"ip route add 198.18.0.4/32 dev " XT_IF0 " mtu lock 1000",
		"ip -6 route add 2001:db8:18::4/128 dev " XT_IF0 " mtu lock 1280",  /* unlocked: the helper ignores it */
		/* bpf_fib_lookup() answers FWD_DISABLED without it, even with
		 * BPF_FIB_LOOKUP_OUTPUT; the reverse-path suite turns it off. */
		"sysctl -qw net.ipv4.conf.all.forwarding=1",
		"sysctl -qw net.ipv6.conf.all.forwarding=1",
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (xt_sh("%s", cmds[i]))
			return -1;
	xt.ifindex0 = if_nametoindex(XT_IF0);
	xt.ifindex1 = if_nametoindex(XT_IF1);
	if (!xt.ifindex0 || !xt.ifindex1) {
		fprintf(stderr, "bpf_tests: if_nametoindex: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * bpf_prog_test_run() with repeat > 1 installs the program in the XDP
 * dispatcher before the loop and removes it after; each change patches the
 * dispatcher image and waits for an RCU grace period: 20-70 ms a call here,
 * which made the bench take minutes.  A program attached in native mode
 * holds its dispatcher slot, so those changes become refcount bumps.  The
 * veth it sits on stays down: no packet ever reaches it there (one would
 * move the counters the tests check).  Best effort: only speed depends on it.
 */
static int pin_ifindex;

static void pin_dispatcher(void)
{
	int ifx = if_nametoindex("xrpin");
	int rc = ifx ? bpf_xdp_attach(ifx, xt.prog_fd, XDP_FLAGS_DRV_MODE, NULL) : -ENODEV;

	if (rc)
		fprintf(stderr, "bpf_tests: bpf_xdp_attach(xrpin, native): %s (runs with repeat "
			"> 1 will be slow)\n", strerror(-rc));
	else
		pin_ifindex = ifx;
}

static int mount_pin_root(void)
{
	snprintf(pin_root, sizeof(pin_root), "/tmp/xrelay-bpft.XXXXXX");
	if (!mkdtemp(pin_root)) {
		perror("bpf_tests: mkdtemp");
		pin_root[0] = '\0';
		return -1;
	}
	if (mount("bpf", pin_root, "bpf", 0, "mode=0700")) {
		fprintf(stderr, "bpf_tests: mount(bpffs at %s): %s\n", pin_root, strerror(errno));
		return -1;
	}
	pin_mounted = true;
	return 0;
}

static int load_skeleton(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);
	int rc;

	skel = xrelay_bpf__open_opts(&opts);
	if (!skel) {
		fprintf(stderr, "bpf_tests: xrelay_bpf__open_opts: %s\n", strerror(errno));
		return -1;
	}
	rc = xrelay_bpf__load(skel);
	if (rc) {
		fprintf(stderr, "bpf_tests: xrelay_bpf__load(pin root %s): %s\n", pin_root,
			strerror(-rc));
		return -1;
	}
	xt.prog_fd = bpf_program__fd(skel->progs.xrelay_xdp);
	xt.stats_fd = bpf_map__fd(skel->maps.xr_stats);
	xt.tstats_fd = bpf_map__fd(skel->maps.xr_tstats);
	xt.tenants_fd = bpf_map__fd(skel->maps.xr_tenants);
	xt.police_fd = bpf_map__fd(skel->maps.xr_police);
	xt.sessions_fd = bpf_map__fd(skel->maps.xr_sessions);
	xt.listen_fd = bpf_map__fd(skel->maps.xr_listen);
	xt.allow_fd = bpf_map__fd(skel->maps.xr_allow);
	xt.hsrate_fd = bpf_map__fd(skel->maps.xr_hsrate);
	xt.txports_fd = bpf_map__fd(skel->maps.xr_txports);
	xt.nexthop_fd = bpf_map__fd(skel->maps.xr_nexthop);
	return 0;
}

__u32 xt_session_key(__u32 idx)
{
	__u8 wire[4] = { idx, idx >> 8, idx >> 16, idx >> 24 };  /* little endian */
	__u32 key;

	memcpy(&key, wire, 4);
	return key;
}

int xt_tenant_put(__u32 tid)
{
	if (bpf_map_update_elem(xt.tenants_fd, &tid, &xt.tenant[tid], BPF_ANY)) {
		fprintf(stderr, "bpf_tests: update xr_tenants[%u]: %s\n", tid, strerror(errno));
		return -1;
	}
	return 0;
}

int xt_tenant_del(__u32 tid)
{
	return bpf_map_delete_elem(xt.tenants_fd, &tid) ? -1 : 0;
}

/* Forget every session's cached next hop (struct xr_nh_cache): the data
 * plane re-resolves within XR_NH_CACHE_NS by itself; tests that change the
 * routing state do not wait for that. */
void xt_nh_flush(void)
{
	__u32 key, next, *prev = NULL;
	struct xr_session s;

	while (!bpf_map_get_next_key(xt.sessions_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(xt.sessions_fd, &key, &s))
			continue;
		memset(&s.nh, 0, sizeof(s.nh));
		bpf_map_update_elem(xt.sessions_fd, &key, &s, BPF_EXIST);
	}
}

int xt_forwarding(const char *ifname, bool on)
{
	int rc = xt_sh("sysctl -qw net.ipv4.conf.%s.forwarding=%d net.ipv6.conf.%s.forwarding=%d",
		       ifname, on, ifname, on);

	xt_nh_flush();
	return rc;
}

int xt_session_get(enum xt_session s, struct xr_session *out)
{
	__u32 key = xt_session_key(XT_IDX(s));

	return bpf_map_lookup_elem(xt.sessions_fd, &key, out) ? -1 : 0;
}

static void set_ep(enum xt_session s, int family, const char *addr, __u16 port)
{
	struct xr_endpoint *ep = &xt.ep[s];

	memset(ep, 0, sizeof(*ep));
	ep->family = family;
	ep->port = htons(port);
	if (family == 4) {
		ep->addr.a[10] = ep->addr.a[11] = 0xff;
		inet_pton(AF_INET, addr, &ep->addr.a[12]);
	} else {
		inet_pton(AF_INET6, addr, ep->addr.a);
	}
}

static const struct {
	enum xt_session s;
	__u32 tid;
	int family;
	const char *addr;
	__u16 port;
} sessions[] = {
	{ S_V4,       T_ONE,   4, "198.18.0.2",     51821 },
	{ S_V6,       T_ONE,   6, "2001:db8:18::2", 51822 },
	{ S_T2_V4,    T_TWO,   4, "198.18.0.3",     51824 },
	{ S_T2_V6,    T_TWO,   6, "2001:db8:18::3", 51824 },
	{ S_PKT,      T_PKT,   4, "198.18.0.2",     51825 },
	{ S_BW,       T_BW,    4, "198.18.0.2",     51826 },
	{ S_ALLOW4,   T_ALLOW, 4, "198.18.0.2",     51827 },
	{ S_ALLOW6,   T_ALLOW, 6, "2001:db8:18::2", 51827 },
	{ S_GONE,     T_GONE,  4, "198.18.0.2",     51828 },
	{ S_IDLE,     T_IDLE,  4, "198.18.0.2",     51829 },
	{ S_NONEIGH4, T_ONE,   4, "198.18.0.9",     51830 },
	{ S_NONEIGH6, T_ONE,   6, "2001:db8:18::9", 51830 },
	{ S_NOROUTE4, T_ONE,   4, "192.0.2.1",      51831 },
	{ S_NOROUTE6, T_ONE,   6, "2001:db8:ff::1", 51831 },
	{ S_GW4,      T_ONE,   4, "203.0.113.7",    51832 },
	{ S_GW6,      T_ONE,   6, "2001:db8:99::7", 51832 },
	{ S_IF1_V4,   T_ONE,   4, "198.19.0.2",     51833 },
	{ S_IF1_V6,   T_ONE,   6, "2001:db8:19::2", 51833 },
	{ S_BENCH,    T_ONE,   4, "198.18.0.2",     XT_WG_PORT },
	{ S_NH4,      T_ONE,   4, "198.18.0.50",    51840 },
	{ S_NH6,      T_ONE,   6, "2001:db8:18::50", 51840 },
	{ S_NH_GW4,   T_ONE,   4, "203.0.113.50",   51841 },
	{ S_NH_IF1,   T_ONE,   4, "198.19.0.50",    51842 },
	{ S_CONF4,    T_ONE,   4, "198.18.0.2",     51843 },
	{ S_CONF6,    T_ONE,   6, "2001:db8:18::2", 51843 },
	{ S_MTU4,     T_ONE,   4, "198.18.0.4",     51844 },
	{ S_MTU6,     T_ONE,   6, "2001:db8:18::4", 51844 },
};

static int allow_add(__u32 tid, int family, const char *prefix, int bits)
{
	struct xr_allow_key k = {};
	__u8 one = 1;

	k.tenant_id = htonl(tid);
	if (family == 4) {
		k.addr.a[10] = k.addr.a[11] = 0xff;
		inet_pton(AF_INET, prefix, &k.addr.a[12]);
		k.prefixlen = 32 + 96 + bits;
	} else {
		inet_pton(AF_INET6, prefix, k.addr.a);
		k.prefixlen = 32 + bits;
	}
	if (bpf_map_update_elem(xt.allow_fd, &k, &one, BPF_ANY)) {
		fprintf(stderr, "bpf_tests: xr_allow %s/%d: %s\n", prefix, bits, strerror(errno));
		return -1;
	}
	return 0;
}

static int fill_maps(void)
{
	static const char *const names[XT_NTENANTS] = {
		[T_ONE] = "one", [T_TWO] = "two", [T_PKT] = "pkt", [T_BW] = "bw",
		[T_ALLOW] = "allow", [T_GONE] = "gone", [T_IDLE] = "idle",
	};
	struct xr_listen_key lk = {};
	struct xr_listen_val lv = {};

	for (__u32 t = 1; t < XT_NTENANTS; t++) {
		struct xr_tenant *tn = &xt.tenant[t];

		snprintf(tn->name, sizeof(tn->name), "%s", names[t]);
		tn->flags = t == T_IDLE ? 0 : XR_TENANT_F_ACTIVE;
	}
	xt.tenant[T_PKT].pkt_ns_per_packet = XT_PKT_NS;
	xt.tenant[T_PKT].pkt_burst_ns = XT_PKT_BURST_NS;
	xt.tenant[T_BW].bw_ns_per_mib = xr_bw_ns_per_mib(XT_BW_BPS);
	xt.tenant[T_BW].bw_burst_ns = XT_BW_BURST_NS;
	xt.tenant[T_BW].bw_bits_per_sec = XT_BW_BPS;
	xt.tenant[T_ALLOW].flags |= XR_TENANT_F_ALLOWLIST;
	for (__u32 t = 1; t < XT_NTENANTS; t++)
		if (xt_tenant_put(t))
			return -1;

	/* T_ALLOW admits 198.51.100.0/24 and 2001:db8:51::/48; T_ONE's entry
	 * for 192.0.2.0/24 must not leak into T_ALLOW (tenant id is the prefix). */
	if (allow_add(T_ALLOW, 4, "198.51.100.0", 24) || allow_add(T_ALLOW, 6, "2001:db8:51::", 48) ||
	    allow_add(T_ONE, 4, "192.0.2.0", 24) || allow_add(T_ONE, 6, "2001:db8:52::", 48))
		return -1;

	for (size_t i = 0; i < sizeof(sessions) / sizeof(sessions[0]); i++) {
		struct xr_session s = {};
		__u32 key = xt_session_key(XT_IDX(sessions[i].s));

		set_ep(sessions[i].s, sessions[i].family, sessions[i].addr, sessions[i].port);
		s.dst = xt.ep[sessions[i].s];
		s.tenant_id = sessions[i].tid;
		s.peer_index = XT_IDX(sessions[i].s) ^ 0xffff;
		s.created_ns = 1;
		if (sessions[i].s == S_CONF4 || sessions[i].s == S_CONF6) {
			int fam = sessions[i].s == S_CONF4 ? 4 : 6;
			struct xr_endpoint tmp = xt.ep[sessions[i].s];

			set_ep(sessions[i].s, fam, fam == 4 ? XT_CLIENT4 : XT_CLIENT6, 40000);
			s.src = xt.ep[sessions[i].s];
			xt.ep[sessions[i].s] = tmp;
		}
		if (bpf_map_update_elem(xt.sessions_fd, &key, &s, BPF_NOEXIST)) {
			fprintf(stderr, "bpf_tests: xr_sessions: %s\n", strerror(errno));
			return -1;
		}
	}

	/* IPv4: any address; IPv6: only the relay's address. */
	lk.port = htons(XT_WG_PORT);
	lk.family = XR_AF_INET;
	if (bpf_map_update_elem(xt.listen_fd, &lk, &lv, BPF_ANY))
		return -1;
	lk.family = XR_AF_INET6;
	inet_pton(AF_INET6, XT_RELAY6, lk.addr.a);
	if (bpf_map_update_elem(xt.listen_fd, &lk, &lv, BPF_ANY))
		return -1;
	/* the per-port summary the data plane checks first (as xrelayd writes it) */
	{
		__u32 port = XT_WG_PORT;
		__u8 f = XR_PORT_ANY4 | XR_PORT_EXACT;

		if (bpf_map_update_elem(bpf_map__fd(skel->maps.xr_ports), &port, &f, BPF_ANY))
			return -1;
	}
	return 0;
}

int xt_env_setup(void)
{
	libbpf_set_print(libbpf_print);
	xt.ncpus = libbpf_num_possible_cpus();
	if (xt.ncpus <= 0) {
		fprintf(stderr, "bpf_tests: libbpf_num_possible_cpus: %s\n", strerror(-xt.ncpus));
		return -1;
	}
	if (make_namespaces() || make_topology() || mount_pin_root() || load_skeleton())
		return -1;
	if (fill_maps()) {
		fprintf(stderr, "bpf_tests: filling the maps failed\n");
		return -1;
	}
	pin_dispatcher();
	return 0;
}

void xt_env_signal_cleanup(void)
{
	/* async-signal-safe part only: the namespaces die with the process,
	 * the directory under /tmp would not */
	if (pin_mounted)
		umount2(pin_root, MNT_DETACH);
	if (pin_root[0])
		rmdir(pin_root);
}

void xt_env_teardown(void)
{
	if (pin_ifindex)
		bpf_xdp_detach(pin_ifindex, XDP_FLAGS_DRV_MODE, NULL);
	pin_ifindex = 0;
	if (skel) {
		bpf_object__unpin_maps(skel->obj, NULL);
		xrelay_bpf__destroy(skel);
		skel = NULL;
	}
	if (pin_mounted && umount2(pin_root, MNT_DETACH))
		fprintf(stderr, "bpf_tests: umount(%s): %s\n", pin_root, strerror(errno));
	pin_mounted = false;
	if (pin_root[0] && rmdir(pin_root))
		fprintf(stderr, "bpf_tests: rmdir(%s): %s\n", pin_root, strerror(errno));
	pin_root[0] = '\0';
	/* The netns and its veths vanish with the process. */
}
