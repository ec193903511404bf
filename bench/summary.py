#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-only
"""summary.py RESULTS_DIR - the markdown tables of one bench/run.sh run.

Reads runs.tsv, iperf.tsv, xdp_cost.txt and env.txt from RESULTS_DIR and
prints medians (with the min-max spread) per path and payload size, the
ratios against the targets, the XDP per-packet cost and the iperf3 figures.
"""
import csv
import os
import re
import statistics
import sys

NAMES = {"xdp": "relay, XDP", "dnat": "kernel DNAT+SNAT", "socat": "socat",
         "direct": "direct (no relay, ceiling)"}


def rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_pps(x):
    return "{:,.0f}".format(x)


def cell(xs, f="{:.2f}"):
    if not xs:
        return "-"
    if len(xs) == 1:
        return f.format(xs[0])
    return "{} ({}-{})".format(f.format(med(xs)), f.format(min(xs)), f.format(max(xs)))


def pps_cell(xs):
    if not xs:
        return "-"
    return "{} ({}-{})".format(fmt_pps(med(xs)), fmt_pps(min(xs)), fmt_pps(max(xs)))


def main():
    d = sys.argv[1]
    runs = rows(os.path.join(d, "runs.tsv"))
    env = {}
    with open(os.path.join(d, "env.txt")) as f:
        for line in f:
            sep = "=" if re.match(r"^[a-z_]+=", line) else ":"
            k, _, v = line.partition(sep)
            env[k.strip()] = v.strip()
    out = []
    w = out.append
    w("Run of {} on kernel {}, {}; {}; load average at start {}, at end {}; {}.".format(
        env.get("date", "?"), env.get("kernel", "?"), env.get("cpu", "?"), env.get("duration", "?"),
        env.get("load at start", "?"), env.get("load at end", "?"), env.get("elapsed", "?")))
    w("")

    def sel(phase, path, size):
        return [r for r in runs if r["phase"] == phase and r["path"] == path and r["size"] == size]

    sizes = sorted({r["size"] for r in runs}, key=int)
    paths = [p for p in ("xdp", "dnat", "socat", "direct") if any(r["path"] == p for r in runs)]
    for size in sizes:
        a = {p: sel("A", p, size) for p in paths}
        if not any(a.values()):
            continue
        w("### {}-byte payload (UDP payload {} bytes), saturation: udpgen at full speed".format(
            size, int(size) + 16))
        w("")
        w("| path | delivered pkt/s, median (min-max) | offered pkt/s | loss % | machine CPU-s per Mpkt | background CPUs |")
        w("|---|---:|---:|---:|---:|---:|")
        m = {}
        for p in paths:
            rs = a[p]
            if not rs:
                continue
            dl = [float(r["delivered_pps"]) for r in rs]
            m[p] = med(dl)
            w("| {} | {} | {} | {} | {} | {} |".format(
                NAMES[p], pps_cell(dl), fmt_pps(med([float(r["offered_pps"]) for r in rs])),
                cell([float(r["loss_pct"]) for r in rs], "{:.1f}"),
                cell([float(r["cpu_s_per_mpkt"]) for r in rs], "{:.2f}"),
                cell([float(r["bg_cpus"]) for r in rs], "{:.2f}")))
        w("")
        if "xdp" in m:
            parts = []
            if "dnat" in m:
                parts.append("relay/DNAT **{:.2f}x** (target >= 1.5x)".format(m["xdp"] / m["dnat"]))
            if "socat" in m:
                parts.append("relay/socat **{:.2f}x** (target >= 5x)".format(m["xdp"] / m["socat"]))
            if "direct" in m:
                parts.append("relay/direct {:.2f}x".format(m["xdp"] / m["direct"]))
            w("Ratios of medians: " + "; ".join(parts) + ".")
            w("")
            # what each path adds to the machine's CPU time per packet over
            # the direct path (same generator, sink, router, one bridge pass less)
            cpu = {p: med([float(r["cpu_s_per_mpkt"]) for r in a[p]]) for p in paths if a[p]}
            if "direct" in cpu:
                w("Machine CPU-us per packet added over the direct path: " + "; ".join(
                    "{} {:+.2f}".format(NAMES[p], cpu[p] - cpu["direct"]) for p in paths
                    if p != "direct" and p in cpu) + ".")
                w("")
        b = {p: sel("B", p, size) for p in ("xdp", "dnat", "direct")}
        if any(b.values()):
            rate = next(r["rate"] for rs in b.values() for r in rs)
            w("Paced at {} pkt/s requested (1.5x the DNAT median above); offered = what "
              "udpgen achieved:".format(fmt_pps(float(rate))))
            w("")
            w("| path | offered pkt/s | delivered pkt/s | loss %, median (min-max) | machine CPU-s per Mpkt |")
            w("|---|---:|---:|---:|---:|")
            for p, rs in b.items():
                if rs:
                    w("| {} | {} | {} | {} | {} |".format(
                        NAMES[p], pps_cell([float(r["offered_pps"]) for r in rs]),
                        pps_cell([float(r["delivered_pps"]) for r in rs]),
                        cell([float(r["loss_pct"]) for r in rs], "{:.3f}"),
                        cell([float(r["cpu_s_per_mpkt"]) for r in rs], "{:.2f}")))
            w("")

    for size in sizes:
        e = {p: sel("E", p, size) for p in paths}
        if not any(e.values()):
            continue
        rate = next(r["rate"] for rs in e.values() for r in rs)
        w("### {}-byte payload, equal load: every path paced to {} pkt/s".format(size, fmt_pps(float(rate))))
        w("")
        w("| path | delivered pkt/s | loss %, median (min-max) | machine CPU-us per packet | added over direct |")
        w("|---|---:|---:|---:|---:|")
        cpu = {p: med([float(r["cpu_s_per_mpkt"]) for r in rs]) for p, rs in e.items() if rs}
        for p, rs in e.items():
            if rs:
                w("| {} | {} | {} | {} | {} |".format(
                    NAMES[p], pps_cell([float(r["delivered_pps"]) for r in rs]),
                    cell([float(r["loss_pct"]) for r in rs], "{:.3f}"),
                    cell([float(r["cpu_s_per_mpkt"]) for r in rs], "{:.2f}"),
                    "{:+.2f}".format(cpu[p] - cpu["direct"]) if "direct" in cpu and p != "direct" else "-"))
        w("")

    cost = os.path.join(d, "xdp_cost.txt")
    if os.path.exists(cost):
        kv = {}
        per = []
        with open(cost) as f:
            for line in f:
                if line.startswith("run="):
                    per.append(line.strip())
                elif "=" in line and " " not in line.strip():
                    k, v = line.strip().split("=")
                    kv[k] = float(v)
                elif line.startswith("packets="):
                    kv["packets"] = float(line.split()[0].split("=")[1])
        w("### Per-packet XDP cost (BPF_PROG_TEST_RUN, 122-byte frame, median of {} x {:,} packets)".format(
            len(per), int(kv.get("packets", 0))))
        w("")
        w("| program / verdict | ns per packet | vs drop-only |")
        w("|---|---:|---:|")
        drop = kv.get("drop_only_ns", float("nan"))
        for k, label in (("forward_nexthop_ns", "relay forward (XDP_TX), forwarding off on the NIC (the default; next hop from xr_nexthop, cached per session)"),
                         ("forward_fib_ns", "relay forward (XDP_TX), forwarding on (next hop from bpf_fib_lookup, cached per session)"),
                         ("unknown_index_ns", "relay drop, unknown receiver index"),
                         ("drop_only_ns", "drop-only program (bench/xdp_drop.bpf.c)")):
            if k in kv:
                w("| {} | {:.1f} | {:.2f}x |".format(label, kv[k], kv[k] / drop))
        if "live_ns" in kv:
            w("| relay forward in the live path (BPF_ENABLE_STATS run time, {:,} packets of the 64-byte load) | {:.1f} | {:.2f}x |".format(
                int(kv.get("live_runs", 0)), kv["live_ns"], kv["live_ns"] / drop))
        w("")
        w("Target: forward within 2x of drop-only.  Per run: " + "; ".join(
            p.replace("run=", "#").replace("_ns=", " ") for p in per))
        w("")

    ip = rows(os.path.join(d, "iperf.tsv"))
    if ip:
        w("### iperf3 (TCP, one stream) between wireguard-go peers pub1 and priv")
        w("")
        w("| direction | through the relay, Mbit/s median (min-max) | direct, Mbit/s | relay/direct |")
        w("|---|---:|---:|---:|")
        for lab, name in (("up", "pub1 -> priv"), ("down", "priv -> pub1 (-R)")):
            r = [float(x["mbit_s"]) for x in ip if x["label"] == "relay-" + lab]
            dd = [float(x["mbit_s"]) for x in ip if x["label"] == "direct-" + lab]
            if r and dd:
                w("| {} | {} | {} | {:.2f} |".format(name, cell(r, "{:.0f}"), cell(dd, "{:.0f}"),
                                                    med(r) / med(dd)))
        w("")
        for k in ("relay_xdp_tx_relayed", "relay_drops_relayed", "relay_slowpath_relayed",
                  "relay_xdp_tx_direct", "direct_endpoint"):
            if k in env:
                w("- {}: {}".format(k, env[k]))
        w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
