// SPDX-License-Identifier: GPL-2.0-only
/*
 * xdp_drop.bpf.c - the floor for bench/xdp_cost: an XDP program that only
 * drops.  Its BPF_PROG_TEST_RUN ns/packet is the cost of running any XDP
 * program at all on this kernel (dispatcher, test_run loop), against which
 * the relay's forward verdict is compared.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
