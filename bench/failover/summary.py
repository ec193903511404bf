#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""summary.py - the tables of bench/failover.sh from RESULTS_DIR/runs.tsv.

Usage: summary.py RESULTS_DIR   (prints Markdown on stdout)

Medians over the rounds with (min-max) beside them; -1 in a round (the
condition was not reached within the limit) is shown as "none" and left out
of the median, with the number of such rounds.
"""
import csv
import os
import statistics
import sys


def rows(d):
    with open(os.path.join(d, "runs.tsv")) as f:
        out = []
        for r in csv.DictReader(f, delimiter="\t"):
            kv = {}
            for x in r["values"].split():
                k, _, v = x.partition("=")
                kv[k] = v
            r["kv"] = kv
            out.append(r)
        return out


def num(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def vals(rs, key):
    return [num(r["kv"].get(key)) for r in rs if num(r["kv"].get(key)) is not None]


def fmt(v, digits=0):
    return "{:,.{}f}".format(v, digits)


def cell(rs, key, digits=0, scale=1.0):
    vs = vals(rs, key)
    good = [v * scale for v in vs if v >= 0]
    missing = len(vs) - len(good)
    if not good:
        return "none" if vs else "–"
    m = statistics.median(good)
    s = fmt(m, digits)
    if len(good) > 1 and min(good) != max(good):
        s += " ({}–{})".format(fmt(min(good), digits), fmt(max(good), digits))
    if missing:
        s += "; none in {} of {}".format(missing, len(vs))
    return s


def med(rs, key):
    good = [v for v in vals(rs, key) if v >= 0]
    return statistics.median(good) if good else None


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "–"
    return "{:.2f}x".format(a / b)


def main():
    d = sys.argv[1]
    rs = rows(d)
    env = open(os.path.join(d, "env.txt")).read() if os.path.exists(os.path.join(d, "env.txt")) else ""
    by = {}
    for r in rs:
        by.setdefault((r["scenario"], r["setup"]), []).append(r)
    print("# bench/failover.sh results\n")
    print("```\n" + env.rstrip() + "\n```\n")
    loads = [num(r["load1"]) for r in rs if num(r["load1"]) is not None]
    others = sorted({r["others"] for r in rs if r["others"] not in ("", "-")})
    if loads:
        print("1-minute load average during the rounds: {}–{}; other runs seen: {}\n".format(
            fmt(min(loads), 2), fmt(max(loads), 2), ", ".join(others) or "none"))

    x, s = by.get(("restart", "xrelay"), []), by.get(("restart", "ssh"), [])
    if x or s:
        print("## Relay restart (SIGKILL, down {} s, started again): seconds from the start\n".format(
            (x or s)[0]["kv"].get("down_s", "?")))
        print("| setup | rounds | listener up | agent session / ssh forward back | TLS request answers again |")
        print("|---|---:|---:|---:|---:|")
        for name, g in (("xrelayd + xrelay-agent", x), ("autossh ssh -R + nginx ssl_preread", s)):
            if g:
                print("| {} | {} | {} | {} | {} |".format(name, len(g), cell(g, "listen_ms", 2, 1e-3),
                                                         cell(g, "session_ms", 2, 1e-3), cell(g, "serve_ms", 2, 1e-3)))
        print("\nssh / xrelay (time until answered): {}\n".format(ratio(med(s, "serve_ms"), med(x, "serve_ms"))))

    x, s = by.get(("deadpeer", "xrelay"), []), by.get(("deadpeer", "ssh"), [])
    if x or s:
        print("## Dead peer: far side SIGSTOPped, seconds until the relay side notices\n")
        print("| setup | rounds | interval | noticed after | after SIGCONT, answers again after |")
        print("|---|---:|---:|---:|---:|")
        for name, g in (("xrelay: relay drops the agent (heartbeat)", x),
                        ("ssh: sshd closes the forward (ClientAliveInterval 5, CountMax 3)", s)):
            if g:
                print("| {} | {} | {} s | {} | {} |".format(name, len(g), fmt(num(g[0]["kv"].get("interval_ms")) / 1000, 0),
                                                           cell(g, "detect_ms", 2, 1e-3), cell(g, "back_ms", 2, 1e-3)))
        print("\nssh / xrelay (time to notice): {}\n".format(ratio(med(s, "detect_ms"), med(x, "detect_ms"))))

    faults = sorted({sc.split("-", 1)[1] for sc, _ in by if sc.startswith("replica-")})
    for f in faults:
        x, h = by.get(("replica-" + f, "xrelay"), []), by.get(("replica-" + f, "haproxy"), [])
        what = "SIGKILL" if f == "kill" else "SIGSTOP"
        print("## Replica failover: one of two replicas gets {} under a load of new TLS connections\n".format(what))
        print("| setup | rounds | requests | failed | failed, started after the fault | failed, started after it was seen | slow (> 1 s) | seen after s | p99 ms | max ms |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for name, g in (("xrelayd, two agents (" + what + " of one agent)", x),
                        ("haproxy check inter 1s fall 3, wireguard-go (" + what + " of one wireguard-go)", h)):
            if g:
                print("| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |".format(
                    name, len(g), cell(g, "requests"), cell(g, "fail"), cell(g, "fail_after_fault"),
                    cell(g, "fail_after_detect"), cell(g, "slow"), cell(g, "detect_ms", 2, 1e-3),
                    cell(g, "p99_ms"), cell(g, "max_ms")))
        print("\nhaproxy / xrelay: failed {}, slow {}, seen after {}".format(
            ratio(med(h, "fail"), med(x, "fail")), ratio(med(h, "slow"), med(x, "slow")),
            ratio(med(h, "detect_ms"), med(x, "detect_ms"))))
        reasons = {}
        for name, g in (("xrelay", x), ("haproxy", h)):
            for r in g:
                for part in r["kv"].get("reasons", "none").split(","):
                    if ":" in part:
                        k, _, n = part.rpartition(":")
                        reasons.setdefault(name, {}).setdefault(k, 0)
                        reasons[name][k] += int(n)
        if reasons:
            print("failures by kind, all rounds: " + "; ".join(
                "{}: {}".format(n, ", ".join("{} {}".format(k, v) for k, v in sorted(d.items())))
                for n, d in sorted(reasons.items())))
        print()


if __name__ == "__main__":
    main()
