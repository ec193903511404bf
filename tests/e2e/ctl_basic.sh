#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# ctl_basic.sh - xrelayctl against a real kernel, no xrelayd needed:
# attach/detach in generic and native mode on a veth pair in a throw-away
# namespace, status (text and JSON), listings, the admin socket (a stand-in
# xrelayd), bpftool reading the pinned maps, exit codes.
#
# Everything it creates is named after its PID and removed by the EXIT trap:
# the namespace "xrctl<pid>" (its veths go with it), the directory
# /run/xrctl-test.<pid> with the bpffs xrelayctl mounts at .../bpf (pins and
# the XDP links go with the unmount), the stand-in xrelayd (killed by PID).
# Every command runs under `timeout`, every wait is bounded.
#
# Prints one "ok - ..." / "not ok - ..." line per check; exits 1 if any
# failed.  Needs root.  XRELAYCTL=path overrides build/xrelayctl.
set -u

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
XRELAYCTL=${XRELAYCTL:-$HERE/../../build/xrelayctl}
NS=xrctl$$
DIR=/run/xrctl-test.$$
PIN=$DIR/bpf/xrelay
SOCK=$DIR/xrelayd.sock
FAKE_PID=
PASS=0
FAIL=0

ok()    { PASS=$((PASS + 1)); printf 'ok - %s\n' "$*"; }
notok() { FAIL=$((FAIL + 1)); printf 'not ok - %s\n' "$*"; }
log()   { printf '# %s\n' "$*" >&2; }
# check NAME CMD...: one test line from a command's status; its output is
# shown (as comments) only when it fails
check() {
	local name=$1 out; shift
	if out=$("$@" 2>&1); then ok "$name"; else
		notok "$name"; [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/#   /' >&2
	fi
	return 0
}

cleanup() {
	set +e
	if [ -n "$FAKE_PID" ]; then kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; fi
	ip netns del "$NS" 2>/dev/null
	if [ -d "$DIR" ]; then
		mountpoint -q "$DIR/bpf" && umount "$DIR/bpf"
		rm -rf "$DIR"
	fi
}

if [ "$(id -u)" != 0 ]; then echo "# SKIP ctl_basic.sh: needs root"; exit 0; fi
[ -x "$XRELAYCTL" ] || { notok "xrelayctl built ($XRELAYCTL)"; exit 1; }
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$DIR" || exit 1
ip netns add "$NS" || { notok "create namespace $NS"; exit 1; }
ip -n "$NS" link add veth0 type veth peer name veth1 &&
	ip -n "$NS" link set veth0 up && ip -n "$NS" link set veth1 up ||
	{ notok "veth pair in $NS"; exit 1; }

# ctl ARGS...: xrelayctl in the namespace with this run's pin root and socket
ctl() { timeout 20 nsenter --net="/run/netns/$NS" "$XRELAYCTL" --pin-root "$PIN" -s "$SOCK" "$@"; }
# rc WANT ARGS...: xrelayctl exits WANT
rc() { local want=$1; shift; ctl "$@" >/dev/null 2>&1; local got=$?; [ $got = "$want" ] || { echo "exit $got, want $want"; return 1; }; }
json() { /usr/bin/python3 -c "import json, sys; d = json.load(sys.stdin); $1"; }
xdp_mode() { ip -n "$NS" -d link show dev "$1" | grep -oE '\b(xdpgeneric|xdpdrv|xdp)\b' | head -n1; }

# ---- before anything is pinned ------------------------------------------------
t_nothing_pinned() {
	local err
	err=$(ctl status 2>&1 >/dev/null); local r=$?
	[ $r = 1 ] && grep -q "nothing pinned at $PIN" <<<"$err" || { echo "exit $r: $err"; return 1; }
}
check "status with nothing pinned: exit 1, clear message" t_nothing_pinned
check "no verb: exit 2" rc 2
check "unknown verb: exit 2" rc 2 frobnicate
check "unknown option: exit 2" rc 2 --bogus status
check "attach without IFACE: exit 2" rc 2 attach
check "bad --mode: exit 2" rc 2 attach veth0 --mode turbo
check "--mode on another verb: exit 2" rc 2 status --mode generic
t_help() {
	local out v
	out=$(timeout 5 "$XRELAYCTL" --help) || return 1
	for v in attach detach status tenants sessions flows stats reload keygen pubkey \
		--pin-root --socket --json --pretty --verbose --help --version --mode; do
		grep -q -- "$v" <<<"$out" || { echo "--help does not mention $v"; return 1; }
	done
}
check "--help lists every verb and option, exit 0" t_help
check "attach to a missing interface: exit 1" rc 1 attach nosuch0

# ---- generic mode ----------------------------------------------------------------
t_attach_generic() {
	local out
	out=$(ctl attach veth0 --mode generic) || return 1
	grep -qE '^veth0: attached \(generic, prog [0-9]+, link [0-9]+\)$' <<<"$out" || { echo "output: $out"; return 1; }
	[ "$(xdp_mode veth0)" = xdpgeneric ] || { echo "ip link: $(xdp_mode veth0)"; return 1; }
	[ -e "$PIN/links/veth0" ] && [ -e "$PIN/xr_stats" ] || { echo "pins: $(ls -R "$PIN")"; return 1; }
	mountpoint -q "$DIR/bpf" || { echo "no bpffs mounted at $DIR/bpf"; return 1; }
}
check "attach veth0 --mode generic (bpffs mounted at the pin root's parent)" t_attach_generic

t_attach_again() {
	local out
	out=$(ctl attach veth0) || return 1
	grep -qE '^veth0: already attached, program replaced' <<<"$out" || { echo "output: $out"; return 1; }
	[ "$(xdp_mode veth0)" = xdpgeneric ] || { echo "ip link: $(xdp_mode veth0)"; return 1; }
}
check "attach veth0 again: idempotent, program replaced" t_attach_again
check "attach veth0 --mode native while generic: exit 1" rc 1 attach veth0 --mode native

t_status_text() {
	local out
	out=$(ctl status) || return 1
	grep -qE '^  veth0 +[0-9]+ +generic +[0-9]+ xrelay_xdp +[0-9]+$' <<<"$out" &&
		grep -qE '^  sessions +0 / [0-9]+$' <<<"$out" &&
		grep -q "^xrelayd: not reachable at $SOCK (" <<<"$out" || { echo "$out"; return 1; }
}
check "status (text): veth0 generic, fill levels, xrelayd not reachable" t_status_text

t_status_json() {
	ctl -j status | json '
i = {x["ifname"]: x for x in d["interfaces"]}["veth0"]
assert i["mode"] == "generic" and i["prog_id"] > 0 and i["link_id"] > 0 and not i["defunct"], i
assert d["abi_version"] >= 1 and d["maps"]["sessions"]["max"] > 0, d
assert d["xrelayd"] is None and d["xrelayd_error"], d'
}
check "status -j: valid JSON, veth0 generic, xrelayd null" t_status_json
t_status_pretty() { ctl -p status | /usr/bin/python3 -m json.tool >/dev/null; }
check "status -p: valid JSON" t_status_pretty

t_bpftool() {
	timeout 10 bpftool map dump pinned "$PIN/xr_stats" | grep -q '"packets"' ||
		{ echo "bpftool map dump pinned $PIN/xr_stats has no \"packets\""; return 1; }
}
check "bpftool map dump pinned xr_stats shows field names" t_bpftool

t_detach() { local out; out=$(ctl detach veth0) && [ "$out" = "veth0: detached" ] || { echo "$out"; return 1; }; }
check "detach veth0" t_detach
t_detached() { [ -z "$(xdp_mode veth0)" ] && [ ! -e "$PIN/links/veth0" ] || { echo "still: $(xdp_mode veth0)"; return 1; }; }
check "veth0 has no XDP program, link unpinned" t_detached
check "detach veth0 again: exit 1" rc 1 detach veth0

# ---- native mode -------------------------------------------------------------------
t_attach_native() {
	local out
	out=$(ctl attach veth0 --mode native) || return 1
	grep -qE '^veth0: attached \(native, prog [0-9]+, link [0-9]+\)$' <<<"$out" || { echo "output: $out"; return 1; }
	[ "$(xdp_mode veth0)" = xdp ] || { echo "ip link: $(xdp_mode veth0)"; return 1; }
}
check "attach veth0 --mode native (maps re-adopted)" t_attach_native
t_attach_json() { ctl -j attach veth1 --mode generic | json 'assert d["mode"] == "generic" and d["attached"] and not d["already"], d'; }
check "attach -j veth1 --mode generic: JSON" t_attach_json
t_status_both() {
	ctl -j status | json '
i = {x["ifname"]: x["mode"] for x in d["interfaces"]}
assert i == {"veth0": "native", "veth1": "generic"}, i'
}
check "status -j: veth0 native, veth1 generic" t_status_both

# ---- listings ------------------------------------------------------------------------
t_stats_json() {
	ctl -j stats | json '
r = d["reasons"]
for k in ("pass_not_ip", "tx", "redirect", "drop_unknown_index", "drop_aborted"):
    assert isinstance(r[k]["packets"], int) and isinstance(r[k]["bytes"], int), k
assert len(r) >= 17 and d["tenants"] == [], d'
}
check "stats -j: every reason, no tenants" t_stats_json
t_stats_text() { ctl stats | grep -q '^REASON'; }
t_empty_list() { ctl -j "$1" | json 'assert d == [], d'; }
check "stats (text)" t_stats_text
check "tenants -j: []" t_empty_list tenants
check "sessions -j: []" t_empty_list sessions
check "flows -j: []" t_empty_list flows

# ---- admin socket: a stand-in xrelayd that answers status and reload ------------------
/usr/bin/python3 - "$SOCK" <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1]); s.listen(4); s.settimeout(60)
while True:
    c, _ = s.accept()
    c.settimeout(5)
    req = b""
    while not req.endswith(b"\n"):
        b = c.recv(64)
        if not b: break
        req += b
    cmd = req.strip()
    if cmd == b"status":
        c.sendall(b'{"pid": 4242, "uptime_s": 17, "note": "\\"pid\\": 1"}\n')
    elif cmd == b"reload":
        c.sendall(b'{"ok": true}\n')
    c.close()
EOF
FAKE_PID=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done
t_status_up() {
	local out
	out=$(ctl status) || return 1
	grep -qx 'xrelayd: running (pid 4242, uptime 17s)' <<<"$out" || { echo "$out"; return 1; }
	ctl -j status | json 'assert d["xrelayd"]["pid"] == 4242, d'
}
check "status with xrelayd up: pid and uptime, reply under \"xrelayd\"" t_status_up
check "reload: ok" rc 0 reload
kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; FAKE_PID=
check "reload with xrelayd down: exit 1" rc 1 reload

# ---- keys ------------------------------------------------------------------------------
t_keys() {
	local line again
	line=$(ctl keygen "$DIR/id.key") || return 1
	[[ $line == "xrelay-ed25519 "* ]] && [ "$(stat -c %a "$DIR/id.key")" = 600 ] || { echo "keygen: $line"; return 1; }
	again=$(ctl pubkey "$DIR/id.key") && [ "$again" = "$line" ] || { echo "pubkey: $again"; return 1; }
	rc 2 keygen "$DIR/id.key" || { echo "keygen over an existing file"; return 1; }
	chmod 644 "$DIR/id.key" && rc 2 pubkey "$DIR/id.key" || { echo "pubkey of a 0644 key"; return 1; }
}
check "keygen/pubkey: 0600, same line, refuses to overwrite, refuses 0644 (exit 2)" t_keys

# ---- teardown checks ------------------------------------------------------------------------
t_detach_both() { ctl detach veth0 && ctl detach veth1; }
check "detach veth0 and veth1" t_detach_both
t_all_gone() {
	[ -z "$(xdp_mode veth0)$(xdp_mode veth1)" ] || { echo "XDP still on: $(xdp_mode veth0) $(xdp_mode veth1)"; return 1; }
	ctl -j status | json 'assert d["interfaces"] == [], d'
}
check "no XDP left, status lists no interface, maps stay pinned" t_all_gone

echo "# $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
