#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""tls_summary.py - the tables of bench/tls.sh from RESULTS_DIR/{runs,idle}.tsv.

Usage: tls_summary.py RESULTS_DIR   (prints Markdown on stdout)

Medians over the rounds, (min-max) beside them when there is more than one
run; ratios against the ssh setup and against direct (no relay).
"""
import csv
import os
import statistics
import sys

LABELS = {
    "ssh": "ssh -R + nginx stream (ssl_preread)",
    "wg": "wireguard-go + haproxy (req.ssl_sni)",
    "direct": "direct: router port forward, no relay",
    "xrelay-uring": "xrelayd + xrelay-agent, mover uring",
    "xrelay-splice": "xrelayd + xrelay-agent, mover splice",
}
ORDER = ["ssh", "wg", "direct", "xrelay-uring", "xrelay-splice"]


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, digits):
    if v is None:
        return "–"
    if digits == 0:
        return "{:,.0f}".format(v)
    return "{:,.{}f}".format(v, digits)


def cell(vals, digits, spread=True):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "–"
    m = statistics.median(vals)
    s = fmt(m, digits)
    if spread and len(vals) > 1 and min(vals) != max(vals):
        s += " ({}–{})".format(fmt(min(vals), digits), fmt(max(vals), digits))
    return s


def ratio(a, b, digits=2):
    if a is None or b is None or b == 0:
        return "–"
    return "{:.{}f}x".format(a / b, digits)


def main():
    d = sys.argv[1]
    runs = read_tsv(os.path.join(d, "runs.tsv"))
    idle = read_tsv(os.path.join(d, "idle.tsv"))
    skipped = []
    sp = os.path.join(d, "skipped.tsv")
    if os.path.exists(sp):
        with open(sp) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) >= 3:
                    skipped.append((parts[1], parts[2]))
    env = ""
    ep = os.path.join(d, "env.txt")
    if os.path.exists(ep):
        env = open(ep).read()

    setups = [s for s in ORDER if any(r["setup"] == s for r in runs)]
    setups += sorted({r["setup"] for r in runs} - set(setups))

    def col(s, key, cond=None):
        out = []
        for r in runs:
            if r["setup"] != s:
                continue
            if cond and not cond(r):
                continue
            try:
                out.append(float(r[key]))
            except (KeyError, ValueError):
                pass
        return out

    out = []
    p = out.append
    p("# TLS passthrough benchmark (bench/tls.sh)")
    p("")
    for line in env.strip().splitlines():
        p("    " + line)
    p("")
    p("Everything -- clients, relay, NAT router, backend -- shares the same CPUs: the figures compare")
    p("the setups with each other on this machine, not with what a dedicated relay would do.")
    p("Medians over the rounds, (min–max) when they differ. MB = 10^6 bytes, GB = 10^9 bytes.")
    p("")
    if skipped:
        p("Skipped (did not come up):")
        p("")
        for s, why in skipped:
            p("* **{}**: {}".format(s, why))
        p("")

    n = {s: len(col(s, "bulk1_MBps")) for s in setups}
    streams = "N"
    m = [line for line in env.splitlines() if line.startswith("parameters:")]
    if m:
        for x in m[0].split():
            if x.startswith("STREAMS="):
                streams = x.split("=", 1)[1]

    p("## Throughput and connection rates")
    p("")
    p("| setup | runs | bulk 1 stream MB/s | bulk {} streams MB/s | relay CPU-s per GB | machine CPU-s per GB "
      "| new TLS conn/s (Connection: close) | errors | relay CPU-ms per 1000 conns "
      "| keep-alive req/s | p50 ms | p99 ms |".format(streams))
    p("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    M = {}
    for s in setups:
        rcpu = col(s, "relay_cpu_s_per_GB")
        kms = col(s, "relay_cpu_ms_per_kconn")
        if s == "direct":
            rcpu = kms = []
        M[s] = {
            "bulk1": med(col(s, "bulk1_MBps")),
            "bulkN": med(col(s, "bulkN_MBps")),
            "rcpu": med(rcpu),
            "mcpu": med(col(s, "machine_cpu_s_per_GB")),
            "cps": med(col(s, "close_cps")),
            "kms": med(kms),
            "rps": med(col(s, "ka_rps")),
            "p50": med(col(s, "ka_p50_ms")),
            "p99": med(col(s, "ka_p99_ms")),
        }
        errs = sum(int(float(x)) for x in col(s, "close_errors"))
        kerrs = sum(int(float(x)) for x in col(s, "ka_errors"))
        p("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {}{} | {} | {} |".format(
            LABELS.get(s, s), n[s],
            cell(col(s, "bulk1_MBps"), 1), cell(col(s, "bulkN_MBps"), 1),
            cell(rcpu, 2) if rcpu else "– (no relay)", cell(col(s, "machine_cpu_s_per_GB"), 2),
            cell(col(s, "close_cps"), 0), errs,
            cell(kms, 1) if kms else "–",
            cell(col(s, "ka_rps"), 0), " ({} err)".format(kerrs) if kerrs else "",
            cell(col(s, "ka_p50_ms"), 2), cell(col(s, "ka_p99_ms"), 2)))
    p("")

    busy = ["{} r{} ({})".format(r["setup"], r["round"], r["other_runs"])
            for r in runs if r.get("other_runs") not in (None, "", "-")]
    if busy:
        p("Measured while other runs of the test topology were active (their load shares the CPUs): "
          + ", ".join(busy) + ".")
        p("")

    # idle connections
    I = {}
    if idle:
        p("## Relay memory with idle TLS connections held open")
        p("")
        p("| setup | connections ok / failed / still open | handshakes took s | relay RSS before, MB "
          "| relay RSS held, MB | per connection, KB (RSS) | relay PSS held, MB | per connection, KB (PSS) | processes (RSS held) |")
        p("|---|---|---:|---:|---:|---:|---:|---:|---|")
        notes = []
        isetups = [s for s in ORDER if any(r["setup"] == s for r in idle)]
        isetups += sorted({r["setup"] for r in idle} - set(isetups))
        for s in isetups:
            rows = [r for r in idle if r["setup"] == s]

            def f(r, k):
                try:
                    return float(r[k])
                except (KeyError, ValueError):
                    return None
            ok = [f(r, "ok") for r in rows]
            per_rss = [(f(r, "relay_rss_kB") - f(r, "relay_rss_base_kB")) / f(r, "ok") * 1.024
                       for r in rows if f(r, "ok")]
            per_pss = [(f(r, "relay_pss_kB") - f(r, "relay_pss_base_kB")) / f(r, "ok") * 1.024
                       for r in rows if f(r, "ok")]
            I[s] = {"rss": med([f(r, "relay_rss_kB") for r in rows]),
                    "per": med(per_rss)}
            procs = rows[-1].get("processes", "")
            for r in rows:
                if r.get("note"):
                    notes.append("{} round {}: {} of {} connections failed; {}".format(
                        LABELS.get(s, s), r["round"], r["failed"], r["n"], r["note"]))
            p("| {} | {} / {} / {} | {} | {} | {} | {} | {} | {} | {} |".format(
                LABELS.get(s, s),
                "/".join(r["ok"] for r in rows), "/".join(r["failed"] for r in rows),
                "/".join(r["open"] for r in rows),
                cell([f(r, "handshake_secs") for r in rows], 1),
                cell([f(r, "relay_rss_base_kB") / 1024 for r in rows], 1),
                cell([f(r, "relay_rss_kB") / 1024 for r in rows], 1),
                cell(per_rss, 2),
                cell([f(r, "relay_pss_kB") / 1024 for r in rows], 1),
                cell(per_pss, 2),
                " ".join(x.split("(")[0] for x in procs.split())))
        p("")
        for x in notes:
            p("* " + x)
        if notes:
            p("")
        p("RSS sums resident pages of every relay-side process (pages shared between nginx workers,")
        p("or sshd's processes, count once per process); PSS divides shared pages among them. Kernel")
        p("socket memory is in neither. KB = 1000 bytes.")
        p("")

    # ratios
    def ratios(base, title):
        if base not in M:
            return
        p("## Ratios against {}".format(title))
        p("")
        p("| setup | bulk 1 stream | bulk {} streams | relay CPU per GB | new conn/s | keep-alive req/s | p99 latency | relay RSS with idle conns |".format(streams))
        p("|---|---:|---:|---:|---:|---:|---:|---:|")
        b = M[base]
        for s in setups:
            if s == base:
                continue
            x = M[s]
            mem = ratio(I.get(s, {}).get("rss"), I.get(base, {}).get("rss")) if base != "direct" else "–"
            p("| {} | {} | {} | {} | {} | {} | {} | {} |".format(
                LABELS.get(s, s), ratio(x["bulk1"], b["bulk1"]), ratio(x["bulkN"], b["bulkN"]),
                ratio(x["rcpu"], b["rcpu"]), ratio(x["cps"], b["cps"]), ratio(x["rps"], b["rps"]),
                ratio(x["p99"], b["p99"]), mem))
        p("")

    ratios("ssh", "ssh -R + nginx stream (a)")
    ratios("direct", "direct, no relay (c)")
    p("Relay CPU: utime+stime (all threads) of every process in the relay namespace over the bulk")
    p("transfers, per GB delivered; softirq work outside their context is not in it. Machine CPU:")
    p("busy time of all CPUs over the same interval (client, router, backend included), per GB.")
    print("\n".join(out))


if __name__ == "__main__":
    main()
