/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The relay's BPF objects, shared by xrelayd and xrelayctl: open the
 * embedded skeleton with its maps pinned by name under the pin root (re-
 * adopting pinned maps when they exist), attach/detach the XDP program
 * through pinned bpf_links, and read the maps.
 *
 * Pin layout (see include/xrelay_abi.h):
 *   <root>/xr_*            maps
 *   <root>/links/<ifname>  XDP bpf_link of that interface
 */
#ifndef XR_BPFOBJ_H
#define XR_BPFOBJ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xrelay_abi.h"

struct xrelay_bpf;  /* the generated skeleton */

struct xr_bpf {
	struct xrelay_bpf *skel;
	char pin_root[4096];
	int ncpus;              /* libbpf_num_possible_cpus() */
	bool pinned_only;       /* opened by xr_bpf_open_pinned: fds only */
	/* map fds, valid after xr_bpf_open() */
	int stats_fd, tstats_fd, tenants_fd, police_fd, sessions_fd;
	int listen_fd, allow_fd, hsrate_fd, txports_fd, meta_fd, ports_fd, nexthop_fd;
	int tcpstats_fd, flows_fd;  /* TLS passthrough accounting, written by xrelayd */
	int health_fd;              /* tenants' health, written by xrelayd */
};

enum xr_xdp_mode { XR_XDP_NATIVE = 0, XR_XDP_GENERIC = 1 };

/* Pin root by precedence: `cli` (non-NULL, non-empty) > $XRELAY_PIN_ROOT >
 * `cfg` (non-NULL, non-empty) > XR_PIN_ROOT_DEFAULT. */
const char *xr_pin_root_pick(const char *cli, const char *cfg);

/* Make sure a bpffs is mounted at the pin root's parent (mounting one, as
 * bpftool does, when the parent is not on bpffs), then create the root and
 * its links/ directory.  0 or -errno (err filled). */
int xr_pin_root_prepare(const char *root, char *err, size_t errlen);

/* Open and load the skeleton with maps pinned under `root`.  With
 * `with_prog` false the XDP program is not loaded (xrelayd only needs the
 * maps).  Refuses pinned maps of another ABI version.  0 or -errno. */
int xr_bpf_open(struct xr_bpf *b, const char *root, bool with_prog, char *err, size_t errlen);
void xr_bpf_close(struct xr_bpf *b);

/* Open the pinned maps without loading or creating anything (xrelayctl
 * listings, whether or not xrelayd runs): 0, or -ENOENT when nothing is
 * pinned at root. */
int xr_bpf_open_pinned(struct xr_bpf *b, const char *root, char *err, size_t errlen);

/* Attach the XDP program to ifname through a bpf_link pinned at
 * <root>/links/<ifname>.  Idempotent: an existing link on the same ifindex
 * has its program atomically replaced by this build's (bpf_link_update).
 * Adds the ifindex to xr_txports.  Sets *already when a link existed. */
int xr_xdp_attach(struct xr_bpf *b, const char *ifname, enum xr_xdp_mode mode,
		  bool *already, char *err, size_t errlen);
/* Remove the pinned link (detaches when no one else holds it). */
int xr_xdp_detach(const char *root, const char *ifname, char *err, size_t errlen);

struct xr_link_info {
	char ifname[16];
	uint32_t ifindex;
	uint32_t link_id;
	uint32_t prog_id;
	char prog_name[16];
	char mode[8];           /* "native", "generic", "?" */
	bool defunct;           /* interface gone */
};
/* List <root>/links/.  Returns count (<= max) or -errno. */
int xr_xdp_links(const char *root, struct xr_link_info *out, int max);

/* Sum a per-CPU counter slot. */
int xr_stats_read(struct xr_bpf *b, enum xr_reason r, struct xr_counter *out);
int xr_tstats_read(struct xr_bpf *b, uint32_t tid, struct xr_tenant_stats *out);
/* Every entry of xr_sessions, read in batches of 256 (bpf_map_lookup_batch:
 * one syscall per batch rather than two per entry; key by key where the
 * kernel has no batch ops).  Returns the entries visited, -1 on error. */
typedef void (*xr_session_fn)(uint32_t idx, const struct xr_session *s, void *ctx);
long xr_sessions_each(struct xr_bpf *b, xr_session_fn fn, void *ctx);
/* Number of entries in a hash/LPM map (walks keys). */
long xr_map_count(int fd);
/* max_entries of a map, -1 on error. */
long xr_map_max(int fd);
/* Short names of reasons for JSON/text: "tx", "drop_unknown_index", ... */
const char *xr_reason_name(enum xr_reason r);
/* Names of the TLS counters (xr_tcpstats): "accepted", "unknown_sni", ... */
const char *xr_tcp_counter_name(enum xr_tcp_counter c);

#endif
