#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# systemd_units.sh - the systemd side of xrelay without systemd as PID 1:
#   - `make install` (DESTDIR, PREFIX=/usr and /usr/local) puts the units and
#     the sysusers.d file where systemd looks; `systemd-analyze verify` passes
#     on the installed units (program paths pointed into the DESTDIR tree)
#   - systemd-sysusers creates the users from the installed file
#   - readiness: xrelayd and xrelay-agent send READY=1 to $NOTIFY_SOCKET (a
#     path socket and an abstract '@' one), xrelayd RELOADING=1 then READY=1
#     around a reload by SIGHUP and by `xrelayctl reload`
#   - privileges, as the unit grants them: xrelayd runs as an unprivileged
#     uid with exactly the unit's AmbientCapabilities, after the unit's
#     privileged ExecStartPre lines, on a bpffs mounted 0700 as systemd
#     mounts /sys/fs/bpf, over pins a root `xrelayctl attach` left, attaching
#     XDP to a veth; and fails to start with any one of those capabilities
#     missing.  xrelay-agent starts as another uid with no capability at all.
#
# Everything lives in /run/xrsysd.<pid> (bpffs unmounted at the end), the
# namespace xrsysd<pid>, and processes killed by PID in the EXIT trap.  The
# uids are numbers without a passwd entry (setpriv needs none).  Needs root.
set -u
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
BUILD=${XR_BUILD:-$ROOT/build}
T=/run/xrsysd.$$
NS=xrsysd$$
PIN=$T/bpf/xrelay
PIDS=()
pass=0 fail=0
ok()    { pass=$((pass + 1)); echo "ok - $*"; }
notok() { fail=$((fail + 1)); echo "not ok - $*"; }
log()   { printf '# %s\n' "$*"; }

cleanup() {
	set +e
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	mountpoint -q "$T/bpf" && umount "$T/bpf"
	rm -rf "$T"
}
if [ "$(id -u)" != 0 ]; then echo "# SKIP systemd_units.sh: needs root"; exit 0; fi
for b in xrelayd xrelay-agent xrelayctl; do
	[ -x "$BUILD/$b" ] || { notok "$b built ($BUILD/$b)"; exit 1; }
done
for t in systemd-analyze systemd-sysusers setpriv python3; do
	command -v $t >/dev/null || { notok "$t installed"; exit 1; }
done
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$T" && chmod 0755 "$T" || exit 1

# two uids no account has: the relay's and the agent's
free_uid() { local u=$1; while getent passwd $u >/dev/null || getent group $u >/dev/null; do u=$((u + 1)); done; echo $u; }
RU=$(free_uid 61900)
AU=$(free_uid $((RU + 1)))

# ---- make install -----------------------------------------------------------
# -o all: install what is built, never rebuild from a tree others edit
inst() { make -s --no-print-directory -C "$ROOT" -o all BUILD="$BUILD" "$@" install >"$T/make.log" 2>&1; }
D=$T/dest
if inst DESTDIR="$D" PREFIX=/usr; then ok "make install DESTDIR PREFIX=/usr"; else
	notok "make install DESTDIR PREFIX=/usr"; sed 's/^/#   /' "$T/make.log"; fi
UNITS=$D/usr/lib/systemd/system
missing=
for f in $UNITS/xrelayd.service $UNITS/xrelay-agent.service $D/usr/lib/sysusers.d/xrelay.conf \
	$D/usr/sbin/xrelayd $D/usr/bin/xrelay-agent $D/usr/sbin/xrelayctl; do
	[ -f "$f" ] || missing="$missing ${f#$D}"
done
[ -z "$missing" ] && ok "units, sysusers.d/xrelay.conf and programs installed under /usr" ||
	notok "missing after make install:$missing"

# verify UNIT...: systemd-analyze verify with the units' program paths pointed
# into the DESTDIR tree (verify insists that ExecStart= paths exist); any output
# (warnings included) counts as a failure
verify() {
	local prefix=$1 dest=$2 out u v=()
	shift 2
	mkdir -p "$T/verify"
	for u in "$@"; do
		sed -e "s|=\([-+!@]*\)$prefix/sbin/xr|=\1$dest$prefix/sbin/xr|" \
		    -e "s|=\([-+!@]*\)$prefix/bin/xr|=\1$dest$prefix/bin/xr|" "$u" >"$T/verify/${u##*/}"
		v+=("$T/verify/${u##*/}")
	done
	out=$(systemd-analyze verify --man=no "${v[@]}" 2>&1)
	local rc=$?
	[ $rc = 0 ] && [ -z "$out" ] || { echo "exit $rc"; printf '%s\n' "$out"; return 1; }
}
if out=$(verify /usr "$D" $UNITS/xrelayd.service $UNITS/xrelay-agent.service); then
	ok "systemd-analyze verify: no error, no warning"
else notok "systemd-analyze verify"; printf '%s\n' "$out" | sed 's/^/#   /'; fi

# every man page a unit names exists in docs/man
nomans=
for m in $(grep -ho 'man:[^ ]*' $UNITS/*.service | sort -u); do
	p=${m#man:}; f=$ROOT/docs/man/${p%(*}.$(sed 's/.*(\(.*\))/\1/' <<<"$p")
	[ -f "$f" ] || nomans="$nomans $p"
done
[ -z "$nomans" ] && ok "every Documentation=man: page of the units is in docs/man" ||
	notok "units name man pages docs/man lacks:$nomans"

D2=$T/dest-local
if inst DESTDIR="$D2" PREFIX=/usr/local; then
	U2=$D2/usr/local/lib/systemd/system
	if grep -q '^ExecStart=/usr/local/sbin/xrelayd ' $U2/xrelayd.service &&
	   grep -q '^ExecStart=/usr/local/bin/xrelay-agent ' $U2/xrelay-agent.service &&
	   ! grep -q '/usr/s\?bin/xr' $U2/*.service && [ -f $D2/usr/local/lib/sysusers.d/xrelay.conf ] &&
	   out=$(verify /usr/local "$D2" $U2/xrelayd.service $U2/xrelay-agent.service); then
		ok "PREFIX=/usr/local: units under /usr/local/lib with /usr/local program paths, verified"
	else notok "PREFIX=/usr/local install: $(grep -h '^ExecStart=' $U2/*.service 2>&1 | tr '\n' ' ') ${out:-}"; fi
else notok "make install PREFIX=/usr/local"; sed 's/^/#   /' "$T/make.log"; fi

# ---- the users ------------------------------------------------------------------
mkdir -p "$T/sysroot/etc"
if systemd-sysusers --root="$T/sysroot" "$D/usr/lib/sysusers.d/xrelay.conf" >"$T/sysusers.log" 2>&1 &&
   grep -Eq '^xrelay:x:[0-9]+:[0-9]+:.*:/nonexistent:/usr/sbin/nologin$' "$T/sysroot/etc/passwd" &&
   grep -Eq '^xrelay-agent:x:[0-9]+:[0-9]+:.*:/nonexistent:/usr/sbin/nologin$' "$T/sysroot/etc/passwd" &&
   grep -Eq '^xrelay:x:[0-9]+:(.*,)?xrelay-agent(,|$)' "$T/sysroot/etc/group"; then
	ok "systemd-sysusers: users xrelay and xrelay-agent (member of group xrelay), no login"
else
	notok "systemd-sysusers on xrelay.conf"; cat "$T/sysusers.log" "$T/sysroot/etc/passwd" "$T/sysroot/etc/group" 2>&1 | sed 's/^/#   /'
fi

# ---- what the units say -------------------------------------------------------------
# has UNIT LINE...: each exact line is in the unit
has() {
	local u=$1 l miss=; shift
	for l in "$@"; do grep -qxF -- "$l" "$u" || miss="$miss [$l]"; done
	[ -z "$miss" ] || { echo "${u##*/} lacks:$miss"; return 1; }
}
common=("Type=notify" "Restart=always" 'RestartSec=1s'
	"NoNewPrivileges=yes" "ProtectSystem=strict" "ProtectHome=yes" "PrivateTmp=yes")
# the agent has no config reload (it ignores SIGHUP): no ExecReload for it
if grep -q '^ExecReload' $UNITS/xrelay-agent.service; then
	notok "xrelay-agent.service has an ExecReload, but the agent has no reload"
else
	ok "xrelay-agent.service: no ExecReload (restart applies a new config)"
fi
if out=$(has $UNITS/xrelayd.service "${common[@]}" 'ExecReload=/bin/kill -HUP $MAINPID' \
	"User=xrelay" "RuntimeDirectory=xrelay" \
	"ReadWritePaths=/sys/fs/bpf" "LimitNOFILE=1048576" \
	"ExecStartPre=/usr/sbin/xrelayd --check -c /etc/xrelay/relay.yaml" \
	"ExecStart=/usr/sbin/xrelayd -c /etc/xrelay/relay.yaml") &&
   out=$(has $UNITS/xrelay-agent.service "${common[@]}" "User=xrelay-agent" \
	"AmbientCapabilities=" "CapabilityBoundingSet=" \
	"ExecStartPre=/usr/bin/xrelay-agent --check -c /etc/xrelay/agent.yaml" \
	"ExecStart=/usr/bin/xrelay-agent -c /etc/xrelay/agent.yaml"); then
	ok "units: notify, restart 1 s, reload by SIGHUP, hardening, users, configs; agent has no capability"
else notok "unit settings: $out"; fi
grep -Eq '^ +socket: /run/xrelay/xrelayd.sock' "$ROOT/configs/relay.example.yaml" &&
	ok "the example config's admin socket is in the unit's RuntimeDirectory" ||
	notok "configs/relay.example.yaml admin.socket is not /run/xrelay/xrelayd.sock"

# ---- readiness and privileges, run as the units run them -------------------------------
CAPS=$(sed -n 's/^AmbientCapabilities=//p' $UNITS/xrelayd.service)
BOUND=$(sed -n 's/^CapabilityBoundingSet=//p' $UNITS/xrelayd.service)
[ -n "$CAPS" ] && [ "$CAPS" = "$BOUND" ] && ok "xrelayd: ambient capabilities = bounding set ($CAPS)" ||
	notok "xrelayd: AmbientCapabilities '$CAPS' vs CapabilityBoundingSet '$BOUND'"
# setpriv's spelling: CAP_NET_ADMIN -> +net_admin
capargs() { local c l=; for c in "$@"; do c=${c#CAP_}; l="$l,+${c,,}"; done; echo "${l#,}"; }

ip netns add "$NS" && ip -n "$NS" link set lo up &&
	ip -n "$NS" link add veth0 type veth peer name veth1 &&
	ip -n "$NS" link set veth0 up && ip -n "$NS" link set veth1 up || { notok "namespace $NS"; exit 1; }
mkdir -p "$T/bpf" "$T/run" "$T/etc"
# systemd mounts /sys/fs/bpf with mode=0700: so does this test, root's
mount -t bpf -o mode=0700 bpf "$T/bpf" || { notok "mount bpffs at $T/bpf"; exit 1; }
chmod 0755 "$T/etc"
"$BUILD/xrelayctl" keygen "$T/etc/relay.key" >"$T/relay.id" 2>/dev/null && chown "$RU:$RU" "$T/etc/relay.key"
chown "$RU:$RU" "$T/run"
cat >"$T/etc/relay.yaml" <<Y
control:
  listen: ["127.0.0.1:7443"]
  key: $T/etc/relay.key
tls:
  listen: ["127.0.0.1:443"]
wireguard:
  listen: ["127.0.0.1:51820"]
admin:
  socket: $T/run/xrelayd.sock
bpf:
  pin_root: $PIN
  interfaces: [veth0]
  mode: generic
tenants:
  - name: lab
    wireguard:
      - pubkey: "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw="
Y
chmod 0644 "$T/etc/relay.yaml"

# the admin attached XDP as root first: root-owned pins the service must adopt
nsenter --net="/run/netns/$NS" "$BUILD/xrelayctl" --pin-root "$PIN" attach veth0 --mode generic >/dev/null 2>&1 &&
	[ "$(stat -c %u "$PIN/xr_stats")" = 0 ] && ok "setup: root's xrelayctl attach left root-owned pins" ||
	notok "setup: xrelayctl attach as root"

# the unit's privileged ExecStartPre= lines ('+'), with this test's paths and uid
pre_ok=1
while IFS= read -r cmd; do
	cmd=${cmd//\/sys\/fs\/bpf\/xrelay/$PIN}
	cmd=${cmd//xrelay:xrelay/$RU:$RU}
	cmd=${cmd//-o xrelay -g xrelay/-o $RU -g $RU}
	bash -c "$cmd" || { pre_ok=0; log "failed: $cmd"; }
done < <(sed -n 's/^ExecStartPre=+//p' $UNITS/xrelayd.service)
[ $pre_ok = 1 ] && [ "$(stat -c %u "$PIN/xr_stats")" = "$RU" ] && [ "$(stat -c %u "$PIN/links/veth0")" = "$RU" ] &&
	ok "privileged ExecStartPre: the pin root and root's pins now belong to the service user" ||
	notok "privileged ExecStartPre lines ($(stat -c '%U %a' "$PIN" "$PIN/xr_stats" 2>&1 | tr '\n' ' '))"

# a notify socket that writes each datagram as one line to FILE
# (in the namespace: abstract socket names are per network namespace)
notify_listen() { # ADDR FILE
	nsenter --net="/run/netns/$NS" python3 -c '
import socket, sys
a, out = sys.argv[1], open(sys.argv[2], "a", buffering=1)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + a[1:] if a[0] == "@" else a)
if a[0] != "@":
    import os; os.chmod(a, 0o666)
out.write("LISTENING\n")
while True:
    out.write(s.recv(4096).decode(errors="replace") + "\n")
' "$1" "$2" &
	PIDS+=($!)
}
# wait_lines FILE N: FILE has at least N lines (5 s at most)
wait_lines() { local i; for i in $(seq 50); do [ "$({ wc -l <"$1"; } 2>/dev/null || echo 0)" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }
# as_user UID CAPS: set UC to the command prefix that runs a program in the
# namespace as UID with CAPS (comma list, setpriv spelling, may be empty)
# ambient and bounding, like User= + AmbientCapabilities= +
# CapabilityBoundingSet= + NoNewPrivileges=.  nsenter and setpriv exec, so
# "${UC[@]}" prog & leaves the program itself at $!.
as_user() {
	local uid=$1 caps=$2
	UC=(nsenter --net="/run/netns/$NS" setpriv --reuid="$uid" --regid="$uid" --clear-groups --no-new-privs)
	if [ -n "$caps" ]; then
		UC+=(--inh-caps=-all,"$caps" --ambient-caps=-all,"$caps" --bounding-set=-all,"$caps")
	else
		UC+=(--inh-caps=-all --bounding-set=-all)
	fi
}

RCAPS=$(capargs $CAPS)
as_user "$RU" "$RCAPS"
if "${UC[@]}" "$BUILD/xrelayd" --check -c "$T/etc/relay.yaml" >"$T/check.log" 2>&1; then
	ok "ExecStartPre --check passes as the service user"
else notok "xrelayd --check as uid $RU"; sed 's/^/#   /' "$T/check.log"; fi

N1=$T/notify-relay
notify_listen "$T/notify.sock" "$N1"
wait_lines "$N1" 1 || notok "notify listener did not start"
NOTIFY_SOCKET=$T/notify.sock "${UC[@]}" "$BUILD/xrelayd" -c "$T/etc/relay.yaml" >"$T/xrelayd.log" 2>&1 &
RPID=$!
PIDS+=($RPID)
if wait_lines "$N1" 2 && [ "$(sed -n 2p "$N1")" = READY=1 ]; then
	ok "xrelayd as uid $RU with only ($CAPS): READY=1 on a path NOTIFY_SOCKET"
else notok "xrelayd READY=1 (got: $(tail -n +2 "$N1" | tr '\n' ' '))"; tail -n 5 "$T/xrelayd.log" | sed 's/^/#   /'; fi
mode=$(ip -n "$NS" -d link show dev veth0 | grep -oE '\bxdpgeneric\b' | head -n1)
[ "$mode" = xdpgeneric ] && grep -q 'XDP program replaced' "$T/xrelayd.log" &&
	ok "xrelayd (unprivileged uid) took over the root-made XDP link on veth0" ||
	notok "XDP on veth0 after start: '$mode'; $(grep -o 'msg="XDP[^"]*"' "$T/xrelayd.log")"
[ "$(stat -c %u "$T/run/xrelayd.sock" 2>/dev/null)" = "$RU" ] &&
	ok "admin socket created by the service user in its runtime directory" ||
	notok "admin socket $T/run/xrelayd.sock: $(stat -c '%u %a' "$T/run/xrelayd.sock" 2>&1)"

kill -HUP $RPID
if wait_lines "$N1" 4 && [ "$(sed -n 3,4p "$N1" | tr '\n' ' ')" = "RELOADING=1 READY=1 " ]; then
	ok "SIGHUP: RELOADING=1 then READY=1"
else notok "SIGHUP notifications: $(tail -n +3 "$N1" | tr '\n' ' ')"; fi
if timeout 10 "$BUILD/xrelayctl" -s "$T/run/xrelayd.sock" reload >/dev/null 2>&1 && wait_lines "$N1" 6 &&
   [ "$(sed -n 5,6p "$N1" | tr '\n' ' ')" = "RELOADING=1 READY=1 " ]; then
	ok "xrelayctl reload: RELOADING=1 then READY=1"
else notok "xrelayctl reload notifications: $(tail -n +5 "$N1" | tr '\n' ' ')"; fi
kill -TERM $RPID
wait $RPID; rc=$?
[ $rc = 0 ] && ok "xrelayd stops on SIGTERM with exit 0" || notok "xrelayd exit $rc on SIGTERM"

# each capability is needed: without any one of them xrelayd must not start
for drop in $CAPS; do
	rest=()
	for c in $CAPS; do [ "$c" = "$drop" ] || rest+=("$c"); done
	as_user "$RU" "$(capargs "${rest[@]}")"
	NOTIFY_SOCKET=$T/notify.sock timeout 10 "${UC[@]}" "$BUILD/xrelayd" -c "$T/etc/relay.yaml" >"$T/drop.log" 2>&1
	rc=$?
	if [ $rc = 1 ] && [ "$(wc -l <"$N1")" = 6 ]; then
		ok "without $drop xrelayd refuses to start (exit 1, no READY=1): $(grep -o 'msg="[^"]*"' "$T/drop.log" | tail -n1)"
	else
		notok "without $drop: exit $rc, notifications $(tail -n +7 "$N1" | tr '\n' ' ')"
		tail -n 3 "$T/drop.log" | sed 's/^/#   /'
	fi
	head -n 6 "$N1" >"$N1.tmp" && cat "$N1.tmp" >"$N1"
done

# ---- the agent: another uid, no capability, abstract notify socket -----------------------
"$BUILD/xrelayctl" keygen "$T/etc/agent.key" >/dev/null 2>&1 && chown "$AU:$AU" "$T/etc/agent.key"
cat >"$T/etc/agent.yaml" <<Y
name: vm1
key: $T/etc/agent.key
relays:
  - address: "127.0.0.1:7443"
    identity: "$(cat "$T/relay.id")"
services:
  - hostname: dev.example.com
    target: "127.0.0.1:8443"
Y
chmod 0644 "$T/etc/agent.yaml"
N2=$T/notify-agent
ABS=@xrsysd-$$-agent
notify_listen "$ABS" "$N2"
wait_lines "$N2" 1 || notok "abstract notify listener did not start"
as_user "$AU" ""
NOTIFY_SOCKET=$ABS "${UC[@]}" "$BUILD/xrelay-agent" -c "$T/etc/agent.yaml" >"$T/agent.log" 2>&1 &
APID=$!
PIDS+=($APID)
if wait_lines "$N2" 2 && [ "$(sed -n 2p "$N2")" = READY=1 ]; then
	ok "xrelay-agent as uid $AU with no capability: READY=1 on an abstract NOTIFY_SOCKET"
else notok "xrelay-agent READY=1 (got: $(tail -n +2 "$N2" | tr '\n' ' '))"; tail -n 5 "$T/agent.log" | sed 's/^/#   /'; fi
eff=$(awk '/^CapEff:/ { print $2 }' /proc/$APID/status 2>/dev/null)
[ "$eff" = 0000000000000000 ] && ok "xrelay-agent runs with no effective capability" ||
	notok "xrelay-agent CapEff=$eff"
kill -TERM $APID; wait $APID; rc=$?
[ $rc = 0 ] && ok "xrelay-agent stops on SIGTERM with exit 0" || notok "xrelay-agent exit $rc on SIGTERM"

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
