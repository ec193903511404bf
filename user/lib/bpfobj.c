// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Loading and adopting the relay's pinned BPF objects.  See bpfobj.h.
 *
 * libbpf returns -errno; every failure is reported as
 * "<api>(<object>): <strerror>" plus a hint for the errnos operators meet.
 */
#include "bpfobj.h"

#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/if_link.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "xrelay.skel.h"

static const char *const reason_names[XR_R_MAX] = {
	[XR_R_PASS_NOT_IP] = "pass_not_ip",
	[XR_R_PASS_NOT_OURS] = "pass_not_ours",
	[XR_R_PASS_HANDSHAKE] = "pass_handshake",
	[XR_R_PASS_FRAGMENT] = "pass_fragment",
	[XR_R_PASS_SLOWPATH] = "pass_slowpath",
	[XR_R_TX] = "tx",
	[XR_R_REDIRECT] = "redirect",
	[XR_R_DROP_MALFORMED] = "drop_malformed",
	[XR_R_DROP_WG_BAD_TYPE] = "drop_wg_bad_type",
	[XR_R_DROP_UNKNOWN_INDEX] = "drop_unknown_index",
	[XR_R_DROP_HS_RATELIMIT] = "drop_hs_ratelimit",
	[XR_R_DROP_NOT_ALLOWED] = "drop_not_allowed",
	[XR_R_DROP_OVER_BANDWIDTH] = "drop_over_bandwidth",
	[XR_R_DROP_OVER_PACKETS] = "drop_over_packets",
	[XR_R_DROP_TTL] = "drop_ttl",
	[XR_R_DROP_NO_ROUTE] = "drop_no_route",
	[XR_R_DROP_ABORTED] = "drop_aborted",
};

const char *xr_tcp_counter_name(enum xr_tcp_counter c)
{
	static const char *const names[XR_T_MAX] = {
		[XR_T_ACCEPTED] = "accepted", [XR_T_ROUTED] = "routed",
		[XR_T_UNKNOWN_SNI] = "unknown_sni", [XR_T_BAD_HELLO] = "bad_hello",
		[XR_T_HELLO_TIMEOUT] = "hello_timeout", [XR_T_NO_AGENT] = "no_agent",
		[XR_T_REFUSED_ALLOW] = "refused_allow", [XR_T_REFUSED_RATE] = "refused_rate",
		[XR_T_DATA_TIMEOUT] = "data_timeout", [XR_T_RESETS] = "resets",
		[XR_T_ACTIVE] = "active", [XR_T_BYTES_IN] = "bytes_in", [XR_T_BYTES_OUT] = "bytes_out",
		[XR_T_THROTTLED] = "throttled", [XR_T_BUSY] = "busy",
		[XR_T_ROUTE_DOWN] = "route_down", [XR_T_REROUTED] = "rerouted",
		[XR_T_ID_CONFLICTS] = "identity_conflicts",
	};

	return c < XR_T_MAX && names[c] ? names[c] : "?";
}

const char *xr_reason_name(enum xr_reason r)
{
	return (unsigned)r < XR_R_MAX && reason_names[r] ? reason_names[r] : "unknown";
}

const char *xr_pin_root_pick(const char *cli, const char *cfg)
{
	const char *env = getenv("XRELAY_PIN_ROOT");

	if (cli && *cli)
		return cli;
	if (env && *env)
		return env;
	if (cfg && *cfg)
		return cfg;
	return XR_PIN_ROOT_DEFAULT;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

static bool on_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

int xr_pin_root_prepare(const char *root, char *err, size_t errlen)
{
	char parent[PATH_MAX], links[PATH_MAX + 16];
	char *slash;
	int rc;

	if (root[0] != '/') {
		snprintf(err, errlen, "pin root '%s' must be an absolute path", root);
		return -EINVAL;
	}
	snprintf(parent, sizeof(parent), "%s", root);
	while ((slash = strrchr(parent, '/')) && slash[1] == '\0' && slash != parent)
		*slash = '\0';             /* trailing slashes */
	slash = strrchr(parent, '/');
	if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';

	if (!on_bpffs(parent)) {
		rc = mkdir_p(parent, 0700);
		if (rc) {
			snprintf(err, errlen, "mkdir(%s): %s", parent, strerror(-rc));
			return rc;
		}
		if (!on_bpffs(parent) && mount("bpf", parent, "bpf", 0, "mode=0700")) {
			rc = -errno;
			snprintf(err, errlen, "mount(bpffs at %s): %s%s", parent, strerror(errno),
				 errno == EPERM ? " (needs CAP_SYS_ADMIN, or mount a bpffs there first)" : "");
			return rc;
		}
	}
	rc = mkdir_p(root, 0700);
	if (!rc) {
		snprintf(links, sizeof(links), "%s/%s", root, XR_PIN_LINKS_DIR);
		rc = mkdir_p(links, 0700);
	}
	if (rc)
		snprintf(err, errlen, "mkdir(%s): %s", root, strerror(-rc));
	return rc;
}

/* Every map of the relay: its pin name and where struct xr_bpf keeps its fd.
 * One table for the three ways of getting fds: skeleton, pins, close. */
static const struct {
	const char *name;
	size_t off;
} map_fds[] = {
	{ XR_MAP_STATS, offsetof(struct xr_bpf, stats_fd) },
	{ XR_MAP_TSTATS, offsetof(struct xr_bpf, tstats_fd) },
	{ XR_MAP_TENANTS, offsetof(struct xr_bpf, tenants_fd) },
	{ XR_MAP_POLICE, offsetof(struct xr_bpf, police_fd) },
	{ XR_MAP_SESSIONS, offsetof(struct xr_bpf, sessions_fd) },
	{ XR_MAP_LISTEN, offsetof(struct xr_bpf, listen_fd) },
	{ XR_MAP_ALLOW, offsetof(struct xr_bpf, allow_fd) },
	{ XR_MAP_HSRATE, offsetof(struct xr_bpf, hsrate_fd) },
	{ XR_MAP_TXPORTS, offsetof(struct xr_bpf, txports_fd) },
	{ XR_MAP_META, offsetof(struct xr_bpf, meta_fd) },
	{ XR_MAP_PORTS, offsetof(struct xr_bpf, ports_fd) },
	{ XR_MAP_NEXTHOP, offsetof(struct xr_bpf, nexthop_fd) },
	{ XR_MAP_TCPSTATS, offsetof(struct xr_bpf, tcpstats_fd) },
	{ XR_MAP_FLOWS, offsetof(struct xr_bpf, flows_fd) },
	{ XR_MAP_HEALTH, offsetof(struct xr_bpf, health_fd) },
};
#define N_MAPS (sizeof(map_fds) / sizeof(map_fds[0]))

static int *map_fd(struct xr_bpf *b, size_t i)
{
	return (int *)((char *)b + map_fds[i].off);
}

/* Refuse pinned maps of another layout before anything reuses them:
 * libbpf's own check compares sizes only and fails obscurely. */
static int pinned_abi_ok(const char *root, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	struct xr_meta m = {};
	__u32 zero = 0;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, XR_MAP_META);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;                       /* nothing pinned yet */
	if (bpf_map_lookup_elem(fd, &zero, &m))
		m.abi_version = 0;
	close(fd);
	if (m.abi_version && m.abi_version != XR_ABI_VERSION) {
		snprintf(err, errlen,
			 "maps pinned at %s have ABI v%u, this build speaks v%u: "
			 "detach every interface and remove %s to start afresh",
			 root, m.abi_version, XR_ABI_VERSION, root);
		return -EPROTO;
	}
	return 0;
}

/* Stamp freshly created maps with this build's ABI version. */
static void stamp_meta(struct xr_bpf *b)
{
	struct xr_meta m = {};
	__u32 zero = 0;
	struct timespec ts;

	if (!bpf_map_lookup_elem(b->meta_fd, &zero, &m) && m.abi_version)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	m.abi_version = XR_ABI_VERSION;
	m.loaded_ns = (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	bpf_map_update_elem(b->meta_fd, &zero, &m, BPF_ANY);
}

int xr_bpf_open(struct xr_bpf *b, const char *root, bool with_prog, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	char txpath[PATH_MAX + 32];
	int rc, txfd;

	memset(b, 0, sizeof(*b));
	snprintf(b->pin_root, sizeof(b->pin_root), "%s", root);
	b->ncpus = libbpf_num_possible_cpus();
	if (b->ncpus <= 0) {
		snprintf(err, errlen, "libbpf_num_possible_cpus: %s", strerror(-b->ncpus));
		return b->ncpus ? b->ncpus : -EINVAL;
	}
	rc = xr_pin_root_prepare(root, err, errlen);
	if (!rc)
		rc = pinned_abi_ok(root, err, errlen);
	if (rc)
		return rc;
	opts.pin_root_path = b->pin_root;
	b->skel = xrelay_bpf__open_opts(&opts);
	if (!b->skel) {
		rc = -errno;
		snprintf(err, errlen, "bpf_object__open(xrelay): %s", strerror(errno));
		return rc;
	}
	if (!with_prog)
		bpf_program__set_autoload(b->skel->progs.xrelay_xdp, false);
	/* xr_txports is adopted by hand: see its definition in bpf/maps.h */
	snprintf(txpath, sizeof(txpath), "%s/%s", root, XR_MAP_TXPORTS);
	txfd = bpf_obj_get(txpath);
	if (txfd >= 0) {
		rc = bpf_map__reuse_fd(b->skel->maps.xr_txports, txfd);
		close(txfd);
		if (rc) {
			snprintf(err, errlen, "bpf_map__reuse_fd(%s): %s", txpath, strerror(-rc));
			xr_bpf_close(b);
			return rc;
		}
	}
	rc = xrelay_bpf__load(b->skel);
	if (rc) {
		snprintf(err, errlen, "bpf_object__load(xrelay, pin root %s): %s%s", root,
			 strerror(-rc),
			 rc == -EINVAL ? " (pinned maps of another build? see the libbpf message above)" :
			 rc == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN, or root)" : "");
		xr_bpf_close(b);
		return rc;
	}
	if (txfd < 0 && bpf_obj_pin(bpf_map__fd(b->skel->maps.xr_txports), txpath) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "bpf_obj_pin(%s): %s", txpath, strerror(errno));
		xr_bpf_close(b);
		return rc;
	}
	for (size_t i = 0; i < N_MAPS; i++)
		*map_fd(b, i) = bpf_map__fd(bpf_object__find_map_by_name(b->skel->obj,
									    map_fds[i].name));
	stamp_meta(b);
	return 0;
}

int xr_bpf_open_pinned(struct xr_bpf *b, const char *root, char *err, size_t errlen)
{
	char path[PATH_MAX + 32];
	int rc;

	/* Listings only read: take the pinned maps as they are; load nothing,
	 * create nothing, so any build can read them and xrelayd need not run. */
	memset(b, 0, sizeof(*b));
	snprintf(b->pin_root, sizeof(b->pin_root), "%s", root);
	b->ncpus = libbpf_num_possible_cpus();
	b->pinned_only = true;
	for (size_t i = 0; i < N_MAPS; i++)
		*map_fd(b, i) = -1;
	rc = pinned_abi_ok(root, err, errlen);
	if (rc)
		return rc;
	for (size_t i = 0; i < N_MAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", root, map_fds[i].name);
		*map_fd(b, i) = bpf_obj_get(path);
		if (*map_fd(b, i) >= 0)
			continue;
		rc = -errno;
		if (errno == ENOENT)
			snprintf(err, errlen, "nothing pinned at %s (xrelayd never ran, "
				 "or another --pin-root?)", root);
		else
			snprintf(err, errlen, "bpf_obj_get(%s): %s", path, strerror(errno));
		xr_bpf_close(b);
		return rc;
	}
	return 0;
}

void xr_bpf_close(struct xr_bpf *b)
{
	if (b->skel)
		xrelay_bpf__destroy(b->skel);   /* owns the map fds */
	else if (b->pinned_only)
		for (size_t i = 0; i < N_MAPS; i++)
			if (*map_fd(b, i) >= 0)
				close(*map_fd(b, i));
	b->skel = NULL;
	b->pinned_only = false;
}

static void link_path(char *buf, size_t len, const char *root, const char *ifname)
{
	snprintf(buf, len, "%s/%s/%s", root, XR_PIN_LINKS_DIR, ifname);
}

int xr_xdp_attach(struct xr_bpf *b, const char *ifname, enum xr_xdp_mode mode,
		  bool *already, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_link_create_opts, lopts);
	char path[PATH_MAX + 64];
	struct bpf_link_info info;
	__u32 ilen = sizeof(info);
	unsigned ifindex = if_nametoindex(ifname);
	int prog_fd = bpf_program__fd(b->skel->progs.xrelay_xdp);
	int link_fd, rc;

	*already = false;
	if (!ifindex) {
		snprintf(err, errlen, "interface '%s': %s", ifname, strerror(errno));
		return -ENODEV;
	}
	if (prog_fd < 0) {
		snprintf(err, errlen, "XDP program not loaded");
		return -EINVAL;
	}
	link_path(path, sizeof(path), b->pin_root, ifname);
	link_fd = bpf_obj_get(path);
	if (link_fd >= 0) {
		memset(&info, 0, sizeof(info));
		if (!bpf_obj_get_info_by_fd(link_fd, &info, &ilen) &&
		    info.type == BPF_LINK_TYPE_XDP && info.xdp.ifindex == ifindex) {
			/* Same interface: swap in this build's program atomically. */
			rc = bpf_link_update(link_fd, prog_fd, NULL);
			close(link_fd);
			if (rc) {
				snprintf(err, errlen, "bpf_link_update(%s): %s", path, strerror(-rc));
				return rc;
			}
			*already = true;
			goto txports;
		}
		/* Stale pin (interface deleted and re-created): drop it. */
		close(link_fd);
		unlink(path);
	}
	lopts.flags = mode == XR_XDP_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	link_fd = bpf_link_create(prog_fd, ifindex, BPF_XDP, &lopts);
	if (link_fd < 0) {
		rc = link_fd;
		snprintf(err, errlen, "bpf_link_create(XDP on %s): %s%s", ifname, strerror(-rc),
			 rc == -EOPNOTSUPP || rc == -EINVAL ? " (driver lacks native XDP: try --mode generic)" :
			 rc == -EBUSY || rc == -EEXIST ? " (another XDP program or link owns this interface)" :
			 rc == -EPERM ? " (needs CAP_BPF and CAP_NET_ADMIN)" : "");
		return rc;
	}
	if (bpf_obj_pin(link_fd, path)) {
		rc = -errno;
		snprintf(err, errlen, "bpf_obj_pin(%s): %s", path, strerror(errno));
		close(link_fd);
		return rc;
	}
	close(link_fd);
txports:
	bpf_map_update_elem(b->txports_fd, &ifindex, &ifindex, BPF_ANY);
	return 0;
}

int xr_xdp_detach(const char *root, const char *ifname, char *err, size_t errlen)
{
	char path[PATH_MAX + 64], mpath[PATH_MAX + 32];
	struct bpf_link_info info;
	__u32 ilen = sizeof(info);
	int fd, mfd;

	link_path(path, sizeof(path), root, ifname);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		snprintf(err, errlen, "no XDP link of xrelay on '%s' (%s)", ifname, path);
		return -ENOENT;
	}
	memset(&info, 0, sizeof(info));
	if (!bpf_obj_get_info_by_fd(fd, &info, &ilen) && info.type == BPF_LINK_TYPE_XDP) {
		__u32 ifindex = info.xdp.ifindex;

		snprintf(mpath, sizeof(mpath), "%s/%s", root, XR_MAP_TXPORTS);
		mfd = bpf_obj_get(mpath);
		if (mfd >= 0) {
			bpf_map_delete_elem(mfd, &ifindex);
			close(mfd);
		}
		/* Detach now even if some process still holds the link open. */
		bpf_link_detach(fd);
	}
	close(fd);
	if (unlink(path)) {
		snprintf(err, errlen, "unlink(%s): %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

int xr_xdp_links(const char *root, struct xr_link_info *out, int max)
{
	char dir[PATH_MAX + 16], path[PATH_MAX + 300];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/%s", root, XR_PIN_LINKS_DIR);
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d)) && n < max) {
		struct bpf_link_info li;
		struct bpf_prog_info pi;
		__u32 llen = sizeof(li), plen = sizeof(pi);
		struct xr_link_info *o = &out[n];
		int fd, pfd;

		if (de->d_name[0] == '.')
			continue;
		memset(o, 0, sizeof(*o));
		snprintf(o->ifname, sizeof(o->ifname), "%.15s", de->d_name);
		snprintf(o->mode, sizeof(o->mode), "?");
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		memset(&li, 0, sizeof(li));
		if (!bpf_obj_get_info_by_fd(fd, &li, &llen)) {
			o->link_id = li.id;
			o->prog_id = li.prog_id;
			o->ifindex = li.xdp.ifindex;
			o->defunct = !li.xdp.ifindex;
		}
		close(fd);
		pfd = o->prog_id ? bpf_prog_get_fd_by_id(o->prog_id) : -1;
		if (pfd >= 0) {
			memset(&pi, 0, sizeof(pi));
			if (!bpf_obj_get_info_by_fd(pfd, &pi, &plen))
				snprintf(o->prog_name, sizeof(o->prog_name), "%s", pi.name);
			close(pfd);
		}
		if (o->ifindex) {
			LIBBPF_OPTS(bpf_xdp_query_opts, q);

			if (!bpf_xdp_query(o->ifindex, 0, &q))
				snprintf(o->mode, sizeof(o->mode), "%s",
					 q.attach_mode == XDP_ATTACHED_DRV ? "native" :
					 q.attach_mode == XDP_ATTACHED_SKB ? "generic" :
					 q.attach_mode == XDP_ATTACHED_HW ? "offload" : "?");
		}
		n++;
	}
	closedir(d);
	return n;
}

int xr_stats_read(struct xr_bpf *b, enum xr_reason r, struct xr_counter *out)
{
	struct xr_counter vals[b->ncpus];
	__u32 key = r;

	memset(out, 0, sizeof(*out));
	if (bpf_map_lookup_elem(b->stats_fd, &key, vals))
		return -errno;
	for (int i = 0; i < b->ncpus; i++) {
		out->packets += vals[i].packets;
		out->bytes += vals[i].bytes;
	}
	return 0;
}

int xr_tstats_read(struct xr_bpf *b, uint32_t tid, struct xr_tenant_stats *out)
{
	struct xr_tenant_stats *vals = calloc(b->ncpus, sizeof(*vals));

	memset(out, 0, sizeof(*out));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(b->tstats_fd, &tid, vals)) {
		free(vals);
		return -errno;
	}
	for (int i = 0; i < b->ncpus; i++) {
		out->rx_packets += vals[i].rx_packets;
		out->rx_bytes += vals[i].rx_bytes;
		out->tx_packets += vals[i].tx_packets;
		out->tx_bytes += vals[i].tx_bytes;
		for (int r = 0; r < XR_R_MAX; r++)
			out->drop[r] += vals[i].drop[r];
	}
	free(vals);
	return 0;
}

long xr_sessions_each(struct xr_bpf *b, xr_session_fn fn, void *ctx)
{
	enum { BATCH = 256 };
	static uint32_t keys[BATCH];
	static struct xr_session vals[BATCH];
	uint32_t tok = 0, key, next, *prev = NULL;
	bool first = true;
	long n = 0;

	for (;;) {
		__u32 count = BATCH;
		int err = bpf_map_lookup_batch(b->sessions_fd, first ? NULL : &tok, &tok, keys, vals,
					       &count, NULL);

		if (err && errno != ENOENT) {
			if (first)
				goto by_key;    /* no batch ops: one key at a time */
			return -1;
		}
		first = false;
		for (__u32 i = 0; i < count; i++, n++)
			fn(keys[i], &vals[i], ctx);
		if (err)
			return n;
	}
by_key:
	while (!bpf_map_get_next_key(b->sessions_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(b->sessions_fd, &key, &vals[0])) {
			fn(key, &vals[0], ctx);
			n++;
		}
	}
	return n;
}

long xr_map_max(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -1;
	return info.max_entries;
}

long xr_map_count(int fd)
{
	struct bpf_map_info info;
	__u32 ilen = sizeof(info);
	char key[256], next[256];
	void *prev = NULL;
	long n = 0;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &ilen) || info.key_size > sizeof(key))
		return -1;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, info.key_size);
		prev = key;
		if (++n > (long)info.max_entries)
			break;
	}
	return n;
}
