#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""summary.py - the tables of bench/ops.sh from RESULTS_DIR/runs.tsv.

Usage: summary.py RESULTS_DIR   (prints Markdown on stdout)
Medians over the rounds, (min-max) beside them; old/new ratios.
"""
import csv
import os
import statistics
import sys

LABEL = {"new": "current build", "old": "before batched reads"}


def main():
    d = sys.argv[1]
    with open(os.path.join(d, "runs.tsv")) as f:
        rs = list(csv.DictReader(f, delimiter="\t"))
    for r in rs:
        for x in r["scrape"].split():
            k, _, v = x.partition("=")
            r[k] = v
    env = open(os.path.join(d, "env.txt")).read()
    print("# bench/ops.sh results\n\n```\n" + env.rstrip() + "\n```\n")
    loads = [float(r["load1"]) for r in rs]
    print("1-minute load average during the rounds: {:.2f}–{:.2f}\n".format(min(loads), max(loads)))

    def vals(g, k):
        return [float(r[k]) for r in g if r.get(k) not in (None, "", "?")]

    def cell(g, k, digits):
        v = vals(g, k)
        if not v:
            return "–"
        s = "{:,.{}f}".format(statistics.median(v), digits)
        if len(v) > 1 and min(v) != max(v):
            s += " ({:,.{}f}–{:,.{}f})".format(min(v), digits, max(v), digits)
        return s

    def med(g, k):
        v = vals(g, k)
        return statistics.median(v) if v else None

    groups = {}
    for r in rs:
        groups.setdefault((r["variant"], int(r["sessions"])), []).append(r)
    print("| xrelayd | sessions in xr_sessions | rounds | idle CPU ms per s | scrape p50 ms | p99 ms | max ms | failed | body bytes | CPU ms per scrape (raw) | CPU ms per scrape (net of idle) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for (v, n), g in sorted(groups.items(), key=lambda x: (x[0][0] != "new", x[0][1])):
        print("| {} | {:,} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
            LABEL.get(v, v), n, len(g), cell(g, "idle_cpu_ms_per_s", 1), cell(g, "p50_ms", 2),
            cell(g, "p99_ms", 2), cell(g, "max_ms", 2), cell(g, "fail", 0), cell(g, "bytes", 0),
            cell(g, "cpu_ms_per_scrape_raw", 2), cell(g, "cpu_ms_per_scrape_net", 2)))
    print()
    ns = sorted({n for _, n in groups})
    for n in ns:
        o, w = groups.get(("old", n)), groups.get(("new", n))
        if not o or not w:
            continue
        parts = []
        for k, name in (("idle_cpu_ms_per_s", "idle CPU"), ("p50_ms", "scrape p50"), ("p99_ms", "scrape p99"),
                        ("cpu_ms_per_scrape_net", "CPU per scrape (net)")):
            a, b = med(o, k), med(w, k)
            parts.append("{} {}".format(name, "{:.2f}x".format(a / b) if a is not None and b else "–"))
        print("old / new with {:,} sessions: {}\n".format(n, ", ".join(parts)))


if __name__ == "__main__":
    main()
