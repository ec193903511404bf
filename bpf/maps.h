/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Map definitions of the XDP relay.  All pinned by name under the pin root
 * (bpf_object_open_opts.pin_root_path), all BTF-typed so that
 * `bpftool map dump pinned <root>/<name>` prints field names. */
#ifndef XR_BPF_MAPS_H
#define XR_BPF_MAPS_H

#include "xrelay_abi.h"

/* enum xr_reason -> {packets, bytes}, per CPU: every verdict is counted here.
 * The key is a plain __u32: array maps refuse a BTF enum key (EINVAL, and
 * libbpf would silently retry without BTF); `xrelayctl stats` names them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XR_R_MAX);
	__type(key, __u32);
	__type(value, struct xr_counter);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_stats SEC(".maps");

/* tenant id -> rx/tx/drops of that tenant, per CPU.  Slot 0 is unused. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XR_MAX_TENANTS);
	__type(key, __u32);
	__type(value, struct xr_tenant_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_tstats SEC(".maps");

/* tenant id -> policy (name, flags, limits), written by xrelayd on (re)load.
 * A hash, not an array: a hash update swaps the whole element under RCU, so
 * the data plane sees the old policy or the new one, never a torn mix. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XR_MAX_TENANTS);
	__type(key, __u32);
	__type(value, struct xr_tenant);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_tenants SEC(".maps");

/* tenant id -> GCRA bucket state, shared by all CPUs (updated by cmpxchg). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XR_MAX_TENANTS);
	__type(key, __u32);
	__type(value, struct xr_police);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_police SEC(".maps");

/* receiver index (as on the wire, little endian) -> session direction. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XR_MAX_SESSIONS);
	__type(key, __u32);
	__type(value, struct xr_session);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_sessions SEC(".maps");

/* WireGuard listen addresses; an all-zero address matches any address. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 32);
	__type(key, struct xr_listen_key);
	__type(value, struct xr_listen_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_listen SEC(".maps");

/* UDP port (host order) -> XR_PORT_* flags. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_ports SEC(".maps");

/* (tenant id, source prefix) -> 1 for tenants with an allow list. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, XR_MAX_ALLOW);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct xr_allow_key);
	__type(value, __u8);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_allow SEC(".maps");

/* source address -> handshake GCRA: keeps floods of types 1-3 from userspace. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XR_HS_SOURCES);
	__type(key, struct xr_addr);
	__type(value, struct xr_gcra);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_hsrate SEC(".maps");

/* peer address -> reverse-path next hop (see struct xr_nexthop). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XR_HS_SOURCES);
	__type(key, struct xr_addr);
	__type(value, struct xr_nexthop);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_nexthop SEC(".maps");

/* egress ifindex -> ifindex, for XDP_REDIRECT when the route leaves by
 * another attached NIC (that NIC must run XDP too, e.g. this program).
 * Pinned by bpfobj.c, not by libbpf: the kernel adds BPF_F_RDONLY_PROG to
 * every devmap, so libbpf's reuse check always reports "parameter mismatch". */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u32);
} xr_txports SEC(".maps");

/* TLS passthrough accounting: userspace moves TCP bytes, so only xrelayd
 * writes these; they live here to be created, pinned and BTF-typed with the
 * rest.  tenant id -> counters (enum xr_tcp_counter); slot 0 is relay-wide. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XR_MAX_TENANTS);
	__type(key, __u32);
	__type(value, struct xr_tcp_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_tcpstats SEC(".maps");

/* flow id -> open TLS flow, refreshed by xrelayd once a second. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XR_MAX_FLOWS);
	__type(key, __u64);
	__type(value, struct xr_flow);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_flows SEC(".maps");

/* tenant id -> health (routes, WireGuard), written by xrelayd on changes. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XR_MAX_TENANTS);
	__type(key, __u32);
	__type(value, struct xr_tenant_health);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_health SEC(".maps");

/* [0] -> ABI version of the pinned layout. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xr_meta);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xr_meta SEC(".maps");

#endif
