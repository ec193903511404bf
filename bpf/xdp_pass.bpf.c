// SPDX-License-Identifier: GPL-2.0-only
/*
 * xdp_pass.bpf.c - a trivial XDP_PASS program for test topologies.
 *
 * Frames that XDP_TX/XDP_REDIRECT push into a veth are dropped (and counted
 * as the sender's tx_dropped) unless the receiving end of the veth pair runs
 * an XDP program.  scripts/lib/netns.sh attaches this one to the switch side
 * of the relay's veth; on a real NIC nothing like it is needed.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
