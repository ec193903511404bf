// SPDX-License-Identifier: GPL-2.0-only
/*
 * xdp_cost - per-packet cost of the relay's XDP program, measured with
 * BPF_PROG_TEST_RUN, against a program that only drops.
 *
 *   xdp_cost [-n PACKETS] [-k RUNS] DROP_OBJ
 *
 * Runs in a private network namespace (bpf_fib_lookup needs a real device,
 * address, route and neighbour, and test_run resolves ingress_ifindex in the
 * caller's netns) and a private mount namespace holding a bpffs as pin root,
 * so nothing touches /sys/fs/bpf or the host's interfaces.  This kernel has
 * no dummy driver: the device is a veth pair, as in tests/bpf/env.c.
 *
 *   xc0 02:00:00:00:00:01 198.18.0.1/24, neighbour 198.18.0.2 permanent
 *
 * The packet is what bench/udpgen sends with -l 64: Ethernet + IPv4 + UDP +
 * a WireGuard type-4 message (16-byte header, 64-byte payload), 122 bytes,
 * from 198.18.0.11:51820 to 198.18.0.1:51820, TTL 255, full UDP checksum.
 *
 * Measured, each the median of RUNS (default 3) measurements of PACKETS
 * (default 1e6) packets:
 *   forward          the forward verdict (XDP_TX).  The program resolves a
 *                    session's next hop once per XR_NH_CACHE_NS (1 s) and
 *                    caches it in the session, so this is the cached path:
 *                    the one FIB / xr_nexthop resolution per second is lost
 *                    in the million.  Measured twice, with forwarding
 *                    enabled on xc0 (bpf_fib_lookup() succeeds:
 *                    forward_fib) and disabled, the default on a relay host
 *                    (FWD_DISABLED, next hop from xr_nexthop: forward_nexthop)
 *   unknown_index    xrelay's own drop of a type-4 message for no session
 *                    (parse, port and listen lookups, session miss, counters)
 *   drop_only        DROP_OBJ's program, XDP_DROP and nothing else
 *
 * Why a forward is not one test run with repeat = PACKETS: without
 * BPF_F_TEST_XDP_LIVE_FRAMES the kernel runs the program `repeat` times on
 * the same buffer, which the program rewrites in place.  The session's
 * endpoint here is 198.18.0.2:51820 -- an address:port the relay also
 * listens on -- so every rewritten frame is again a full forward to the
 * same session (tests/bpf/bench.c does the same), until the TTL runs
 * out: 250 repeats from TTL 255 are 250 forwards, and PACKETS/250 runs make
 * the total.  Every run's verdict is checked to be XDP_TX and xr_stats' tx
 * slot must grow by exactly PACKETS.  (Live-frame mode would transmit every
 * frame through the veth and time that too.)  The kernel reports an integer
 * ns average per run, so each figure may read up to 1 ns low.
 *
 * Both programs are also attached (native mode) to the veth pair, idle:
 * a test run with repeat > 1 otherwise adds the program to the kernel's XDP
 * dispatcher and removes it afterwards, and each change waits for an RCU
 * grace period -- thousands of short runs then take many minutes.  Attached,
 * the program stays in the dispatcher, as on a relay in production, and is
 * called through it exactly as from a driver.
 *
 * Prints key=value lines (ns per packet) for bench/run.sh.
 *
 *   xdp_cost -l PROG_ID -t SECONDS
 *
 * The same figure in the live path: enables run-time statistics through
 * BPF_ENABLE_STATS (an fd: they switch off again when this process exits,
 * however it exits), samples run_time_ns and run_cnt of program PROG_ID
 * SECONDS apart and prints live_runs=N live_ns=NS (per run).  No namespace
 * of its own: run it while traffic flows through the attached program.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_link.h>

#include "xrelay_abi.h"
#include "xrelay.skel.h"

#define IFN        "xc0"
#define WG_PORT    51820
#define FWD_REPEAT 250u
#define MAX_RUNS   15
#define SESSION_IDX 0x0badcafeu

static char pin_root[64];
static int pin_mounted;
static struct xrelay_bpf *skel;
static struct bpf_object *drop_obj;
static int ifindex;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc)) {
		fprintf(stderr, "xdp_cost: `%s` failed (status %d)\n", cmd, rc);
		return -1;
	}
	return 0;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static void cleanup(void)
{
	if (skel) {
		bpf_object__unpin_maps(skel->obj, NULL);
		xrelay_bpf__destroy(skel);
	}
	bpf_object__close(drop_obj);
	if (pin_mounted && umount2(pin_root, MNT_DETACH))
		fprintf(stderr, "xdp_cost: umount(%s): %s\n", pin_root, strerror(errno));
	if (pin_root[0])
		rmdir(pin_root);
	/* the netns, its veth and the mount namespace die with the process */
}

static int setup_world(void)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWNS)) {
		perror("xdp_cost: unshare(CLONE_NEWNET|CLONE_NEWNS) (run as root)");
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		perror("xdp_cost: mount(/, MS_REC|MS_PRIVATE)");
		return -1;
	}
	if (sh("ip link set lo up") ||
	    sh("ip link add " IFN " address 02:00:00:00:00:01 type veth peer name " IFN
	       "p address 02:00:00:00:00:0a") ||
	    sh("ip link set " IFN " up") || sh("ip link set " IFN "p up") ||
	    sh("ip addr add 198.18.0.1/24 dev " IFN) ||
	    sh("ip neigh add 198.18.0.2 lladdr 02:00:00:00:00:02 dev " IFN " nud permanent"))
		return -1;
	ifindex = if_nametoindex(IFN);
	if (!ifindex) {
		perror("xdp_cost: if_nametoindex");
		return -1;
	}
	snprintf(pin_root, sizeof(pin_root), "/tmp/xrelay-xdpcost.XXXXXX");
	if (!mkdtemp(pin_root)) {
		perror("xdp_cost: mkdtemp");
		pin_root[0] = '\0';
		return -1;
	}
	if (mount("bpf", pin_root, "bpf", 0, "mode=0700")) {
		fprintf(stderr, "xdp_cost: mount(bpffs at %s): %s\n", pin_root, strerror(errno));
		return -1;
	}
	pin_mounted = 1;
	return 0;
}

/* Keep `prog_fd` in the XDP dispatcher: attach it, idle, to `ifn`. */
static int attach_idle(const char *ifn, int prog_fd)
{
	int rc = bpf_xdp_attach(if_nametoindex(ifn), prog_fd, XDP_FLAGS_DRV_MODE, NULL);

	if (rc)
		fprintf(stderr, "xdp_cost: bpf_xdp_attach(%s): %s\n", ifn, strerror(-rc));
	return rc;
}

static int set_forwarding(int on)
{
	return sh("echo %d > /proc/sys/net/ipv4/conf/" IFN "/forwarding", on);
}

static void v4_mapped(struct xr_addr *a, const char *v4)
{
	memset(a, 0, sizeof(*a));
	a->a[10] = a->a[11] = 0xff;
	inet_pton(AF_INET, v4, &a->a[12]);
}

static __u32 wire_key(__u32 idx)
{
	__u8 w[4] = { idx, idx >> 8, idx >> 16, idx >> 24 };  /* little endian on the wire */
	__u32 k;

	memcpy(&k, w, 4);
	return k;
}

static int load_relay(void)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_root);
	struct xr_listen_key lk = { .port = htons(WG_PORT), .family = XR_AF_INET };
	struct xr_listen_val lv = {};
	struct xr_tenant t = { .flags = XR_TENANT_F_ACTIVE };
	struct xr_session s = {};
	struct xr_nexthop nh = { .mac = { 2, 0, 0, 0, 0, 2 }, .our_mac = { 2, 0, 0, 0, 0, 1 } };
	__u32 tid = 1, key = wire_key(SESSION_IDX), port = WG_PORT;
	__u8 port_flags = XR_PORT_EXACT;   /* as xrelayd writes for addr:port listen entries */
	int rc;

	skel = xrelay_bpf__open_opts(&opts);
	if (!skel) {
		fprintf(stderr, "xdp_cost: xrelay_bpf__open_opts: %s\n", strerror(errno));
		return -1;
	}
	rc = xrelay_bpf__load(skel);
	if (rc) {
		fprintf(stderr, "xdp_cost: xrelay_bpf__load: %s\n", strerror(-rc));
		return -1;
	}
	snprintf(t.name, sizeof(t.name), "bench");
	s.dst.family = XR_AF_INET;
	s.dst.port = htons(WG_PORT);
	v4_mapped(&s.dst.addr, "198.18.0.2");
	s.tenant_id = tid;
	s.peer_index = 1;
	s.created_ns = 1;
	nh.ifindex = ifindex;
	/* listen on 198.18.0.1:51820 as xrelayd does for `listen: [198.18.0.1:51820]`
	 * (one lookup hits), and on 198.18.0.2:51820 where the rewritten frame
	 * of every further repeat is addressed (see the top of this file) */
	v4_mapped(&lk.addr, "198.18.0.1");
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.xr_ports), &port, &port_flags, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.xr_listen), &lk, &lv, BPF_ANY))
		goto fail;
	v4_mapped(&lk.addr, "198.18.0.2");
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.xr_listen), &lk, &lv, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.xr_tenants), &tid, &t, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.xr_sessions), &key, &s, BPF_ANY) ||
	    bpf_map_update_elem(bpf_map__fd(skel->maps.xr_nexthop), &s.dst.addr, &nh, BPF_ANY))
		goto fail;
	return 0;
fail:
	fprintf(stderr, "xdp_cost: filling the maps: %s\n", strerror(errno));
	return -1;
}

static int load_drop(const char *path)
{
	struct bpf_program *p;
	int rc;

	drop_obj = bpf_object__open_file(path, NULL);
	if (!drop_obj) {
		fprintf(stderr, "xdp_cost: bpf_object__open_file(%s): %s\n", path, strerror(errno));
		return -1;
	}
	rc = bpf_object__load(drop_obj);
	if (rc) {
		fprintf(stderr, "xdp_cost: bpf_object__load(%s): %s\n", path, strerror(-rc));
		return -1;
	}
	p = bpf_object__find_program_by_name(drop_obj, "xdp_drop");
	return p ? bpf_program__fd(p) : -1;
}

static __u16 csum_fold(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

static __u32 csum_add(__u32 sum, const __u8 *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (p[i] << 8) | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	return sum;
}

/* The frame udpgen -l 64 produces, as seen on the relay's NIC. */
static size_t build_frame(__u8 *f, __u32 idx)
{
	const size_t payload = 16 + 64, udp_len = 8 + payload, ip_len = 20 + udp_len;
	__u8 *ip = f + 14, *udp = ip + 20, *wg = udp + 8;
	__u8 pseudo[12];
	__u16 c;

	memset(f, 0, 14 + ip_len);
	memcpy(f, "\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x0b\x08\x00", 14);
	ip[0] = 0x45;
	ip[2] = ip_len >> 8;
	ip[3] = ip_len & 0xff;
	ip[6] = 0x40;                   /* DF */
	ip[8] = 255;                    /* TTL */
	ip[9] = 17;
	inet_pton(AF_INET, "198.18.0.11", ip + 12);
	inet_pton(AF_INET, "198.18.0.1", ip + 16);
	c = csum_fold(csum_add(0, ip, 20));
	ip[10] = c >> 8;
	ip[11] = c & 0xff;
	udp[0] = WG_PORT >> 8;
	udp[1] = WG_PORT & 0xff;
	udp[2] = WG_PORT >> 8;
	udp[3] = WG_PORT & 0xff;
	udp[4] = udp_len >> 8;
	udp[5] = udp_len & 0xff;
	wg[0] = 4;
	for (int i = 0; i < 4; i++)
		wg[4 + i] = idx >> (8 * i);
	for (int i = 0; i < 8; i++)
		wg[8 + i] = i;
	memset(wg + 16, 0xa5, 64);
	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 17;
	pseudo[10] = udp_len >> 8;
	pseudo[11] = udp_len & 0xff;
	c = csum_fold(csum_add(csum_add(0, pseudo, 12), udp, udp_len));
	if (!c)
		c = 0xffff;
	udp[6] = c >> 8;
	udp[7] = c & 0xff;
	return 14 + ip_len;
}

/* One test run: returns the kernel's average ns per repeat, or -1. */
static long run(int prog_fd, const __u8 *in, size_t len, __u32 repeat, __u32 *retval)
{
	__u8 out[256];
	struct xdp_md ctx = { .data = 0, .data_end = len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts,
		.data_in = in, .data_size_in = len,
		.data_out = out, .data_size_out = sizeof(out),
		.ctx_in = &ctx, .ctx_size_in = sizeof(ctx),
		.repeat = repeat,
	);
	int rc = bpf_prog_test_run_opts(prog_fd, &opts);

	if (rc) {
		fprintf(stderr, "xdp_cost: bpf_prog_test_run_opts: %s\n", strerror(-rc));
		return -1;
	}
	*retval = opts.retval;
	return opts.duration;
}

static __u64 stat_packets(enum xr_reason r)
{
	int n = libbpf_num_possible_cpus();
	struct xr_counter c[n > 0 ? n : 1];
	__u32 key = r;
	__u64 sum = 0;

	if (n <= 0 || bpf_map_lookup_elem(bpf_map__fd(skel->maps.xr_stats), &key, c))
		return 0;
	for (int i = 0; i < n; i++)
		sum += c[i].packets;
	return sum;
}

/* ns/packet of `packets` forwards, in runs of FWD_REPEAT; -1 on a wrong verdict */
static double measure_forward(__u32 packets)
{
	__u8 f[256];
	size_t len = build_frame(f, SESSION_IDX);
	__u64 tx0 = stat_packets(XR_R_TX);
	double total = 0;
	__u32 runs = packets / FWD_REPEAT, retval;

	for (__u32 i = 0; i < runs; i++) {
		long d = run(bpf_program__fd(skel->progs.xrelay_xdp), f, len, FWD_REPEAT, &retval);

		if (d < 0 || stop)
			return -1;
		if (retval != XDP_TX) {
			fprintf(stderr, "xdp_cost: forward verdict %u, not XDP_TX\n", retval);
			return -1;
		}
		total += (double)d * FWD_REPEAT;
	}
	if (stat_packets(XR_R_TX) - tx0 != (__u64)runs * FWD_REPEAT) {
		fprintf(stderr, "xdp_cost: xr_stats tx grew by %llu, not %u\n",
			(unsigned long long)(stat_packets(XR_R_TX) - tx0), runs * FWD_REPEAT);
		return -1;
	}
	return total / ((double)runs * FWD_REPEAT);
}

/* ns/packet of one run with repeat = packets, expecting `verdict` */
static double measure_one(int prog_fd, __u32 idx, __u32 packets, __u32 verdict)
{
	__u8 f[256];
	size_t len = build_frame(f, idx);
	__u32 retval;
	long d = run(prog_fd, f, len, packets, &retval);

	if (d < 0)
		return -1;
	if (retval != verdict) {
		fprintf(stderr, "xdp_cost: verdict %u, expected %u\n", retval, verdict);
		return -1;
	}
	return d;
}

static int live(__u32 id, double secs)
{
	struct bpf_prog_info a = {}, b = {};
	__u32 la = sizeof(a), lb = sizeof(b);
	struct timespec ts = { (time_t)secs, (long)((secs - (time_t)secs) * 1e9) };
	int stats_fd, fd;

	stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats_fd < 0) {
		fprintf(stderr, "xdp_cost: bpf_enable_stats: %s\n", strerror(-stats_fd));
		return 1;
	}
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0) {
		fprintf(stderr, "xdp_cost: bpf_prog_get_fd_by_id(%u): %s\n", id, strerror(errno));
		return 1;
	}
	if (bpf_obj_get_info_by_fd(fd, &a, &la))
		return 1;
	nanosleep(&ts, NULL);
	if (bpf_obj_get_info_by_fd(fd, &b, &lb))
		return 1;
	printf("live_runs=%llu\nlive_ns=%.1f\n", (unsigned long long)(b.run_cnt - a.run_cnt),
	       b.run_cnt > a.run_cnt ? (double)(b.run_time_ns - a.run_time_ns) / (b.run_cnt - a.run_cnt) : 0.0);
	close(fd);
	close(stats_fd);
	return 0;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_d);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	double fib[MAX_RUNS], nh[MAX_RUNS], unk[MAX_RUNS], drop[MAX_RUNS];
	__u32 packets = 1000000, live_id = 0;
	int runs = 3, opt, drop_fd, rc = 1;
	double live_secs = 1;
	__u64 unk0;

	while ((opt = getopt(argc, argv, "n:k:l:t:")) != -1) {
		switch (opt) {
		case 'l':
			live_id = strtoul(optarg, NULL, 0);
			break;
		case 't':
			live_secs = atof(optarg);
			break;
		case 'n':
			packets = strtoul(optarg, NULL, 0);
			break;
		case 'k':
			runs = atoi(optarg);
			break;
		default:
			goto usage;
		}
	}
	if (live_id)
		return live(live_id, live_secs);
	if (optind != argc - 1 || runs < 1 || runs > MAX_RUNS || packets < FWD_REPEAT)
		goto usage;
	packets -= packets % FWD_REPEAT;
	libbpf_set_print(libbpf_print);

	if (setup_world() || load_relay())
		goto out;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	drop_fd = load_drop(argv[optind]);
	if (drop_fd < 0)
		goto out;
	if (attach_idle(IFN "p", bpf_program__fd(skel->progs.xrelay_xdp)) ||
	    attach_idle(IFN, drop_fd))
		goto out;

	unk0 = stat_packets(XR_R_DROP_UNKNOWN_INDEX);
	/* interleave the kinds so that a burst of load elsewhere hits them all */
	for (int k = 0; k < runs; k++) {
		if (set_forwarding(1) || (fib[k] = measure_forward(packets)) < 0)
			goto out;
		if (set_forwarding(0) || (nh[k] = measure_forward(packets)) < 0)
			goto out;
		unk[k] = measure_one(bpf_program__fd(skel->progs.xrelay_xdp), SESSION_IDX + 1,
				     packets, XDP_DROP);
		drop[k] = measure_one(drop_fd, SESSION_IDX, packets, XDP_DROP);
		if (unk[k] < 0 || drop[k] < 0 || stop)
			goto out;
	}
	if (stat_packets(XR_R_DROP_UNKNOWN_INDEX) - unk0 != (__u64)runs * packets) {
		fprintf(stderr, "xdp_cost: drop_unknown_index did not count every packet\n");
		goto out;
	}
	printf("packets=%u runs=%d frame_bytes=122\n", packets, runs);
	for (int k = 0; k < runs; k++)
		printf("run=%d forward_fib_ns=%.1f forward_nexthop_ns=%.1f unknown_index_ns=%.1f "
		       "drop_only_ns=%.1f\n", k, fib[k], nh[k], unk[k], drop[k]);
	printf("forward_fib_ns=%.1f\n", median(fib, runs));
	printf("forward_nexthop_ns=%.1f\n", median(nh, runs));
	printf("unknown_index_ns=%.1f\n", median(unk, runs));
	printf("drop_only_ns=%.1f\n", median(drop, runs));
	rc = 0;
out:
	cleanup();
	return rc;
usage:
	fprintf(stderr, "usage: xdp_cost [-n PACKETS] [-k RUNS] DROP_OBJ\n"
			"       xdp_cost -l PROG_ID -t SECONDS\n");
	return 2;
}
