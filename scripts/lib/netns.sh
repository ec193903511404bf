# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# netns.sh - the one namespace topology shared by tests/e2e/*.sh,
# scripts/demo.sh and bench/.  Source it; it defines functions and variables
# and changes nothing until topo_up is called.
#
# Modeled on the kernel's tools/testing/selftests/wireguard/netns.sh: one
# namespace per role, a trap that tears everything down, polling instead of
# sleeps.
#
#                        switch ns "$NS_SW": bridge br0
#          198.18.0.0/24, 2001:db8:18::/64 ("the internet")
#     rly (xdp_pass)   pub1        pub2        rtr
#      |                |           |           |
#   relay eth0        pub1 eth0   pub2 eth0   router wan 198.18.0.2
#   198.18.0.1        .11 / ::11  .12 / ::12  MASQUERADE, no inbound
#   2001:db8:18::1                             router lan (bridge) 192.168.77.1, fd77::1
#                                                |              |
#                                           priv eth0       priv2 eth0
#                                           192.168.77.2    192.168.77.3
#                                           fd77::2         fd77::3
#
# Every run has a unique prefix ($XR_PREFIX, "xr<pid>") and a state dir
# /run/xrelay-test/<prefix>/ that records the owner, every namespace, every
# process and every mount it created.  topo_down (installed as an EXIT trap by
# topo_up) kills those processes by PID, deletes the namespaces and unmounts
# the bpffs.  xr_sweep_stale, run by topo_up, does the same for state dirs of
# earlier runs whose owner is dead, so a run after a crash starts clean.
#
# Relay-side programs run under `nsenter --net=` (not `ip netns exec`, which
# remounts /sys in a private mount namespace where a bpffs mount vanishes);
# the pin root lives in the state dir, outside /sys.

XR_ROOT=${XR_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
XR_BUILD=${XR_BUILD:-$XR_ROOT/build}
XRELAYD=${XRELAYD:-$XR_BUILD/xrelayd}
XRELAYCTL=${XRELAYCTL:-$XR_BUILD/xrelayctl}
XR_STATE_BASE=${XR_STATE_BASE:-/run/xrelay-test}

XR_PREFIX=${XR_PREFIX:-xr$$}
XR_STATE=$XR_STATE_BASE/$XR_PREFIX
XR_PIN=$XR_STATE/bpf/xrelay
XR_SOCK=$XR_STATE/xrelayd.sock
XR_RELAY_CONF=$XR_STATE/relay.yaml
XR_VERBOSE=${XR_VERBOSE:-0}

NS_SW=$XR_PREFIX-sw
NS_RELAY=$XR_PREFIX-relay
NS_PUB1=$XR_PREFIX-pub1
NS_PUB2=$XR_PREFIX-pub2
NS_RTR=$XR_PREFIX-rtr
NS_PRIV=$XR_PREFIX-priv
NS_PRIV2=$XR_PREFIX-priv2

RELAY4=198.18.0.1
RELAY6=2001:db8:18::1
RTR_WAN4=198.18.0.2
RTR_WAN6=2001:db8:18::2
PUB1_4=198.18.0.11
PUB1_6=2001:db8:18::11
PUB2_4=198.18.0.12
PUB2_6=2001:db8:18::12
PRIV_4=192.168.77.2
PRIV2_4=192.168.77.3
WG_PORT=51820

# Set to 1 before topo_up to make the NAT pick a random source port for every
# new mapping (MASQUERADE --random): a conntrack flush then really rebinds.
NAT_RANDOM=${NAT_RANDOM:-0}

XR_PASS_COUNT=0
XR_FAIL_COUNT=0
XR_LAST_PID=

# ---- output ------------------------------------------------------------------
xr_log()  { printf '# %s\n' "$*" >&2; }
xr_die()  { printf '# FATAL: %s\n' "$*" >&2; exit 1; }
xr_ok()   { XR_PASS_COUNT=$((XR_PASS_COUNT + 1)); printf 'ok - %s\n' "$*"; }
xr_notok() { XR_FAIL_COUNT=$((XR_FAIL_COUNT + 1)); printf 'not ok - %s\n' "$*"; }
# xr_check NAME CMD... : one assertion, one TAP-like line
xr_check() {
	local name=$1; shift
	if "$@"; then xr_ok "$name"; else xr_notok "$name"; fi
}
# xr_result: exit status for the end of a test file
xr_result() {
	xr_log "$XR_PASS_COUNT passed, $XR_FAIL_COUNT failed"
	[ "$XR_FAIL_COUNT" -eq 0 ]
}

# ---- running things inside namespaces ---------------------------------------
# nsx NS CMD... : run CMD in the network namespace NS (mount namespace shared)
nsx() {
	local ns=$1; shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# wait_for TIMEOUT_S CMD... : poll CMD every 0.1 s until it succeeds
wait_for() {
	local timeout=$1; shift
	local deadline=$((SECONDS + timeout))
	while :; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}

# Field 22 of /proc/PID/stat: start time in clock ticks since boot.  Recorded
# with every PID so that a recycled PID is never killed by mistake.
xr_starttime() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	# after "comm) " the fields start at #3; starttime is #22
	set -- $stat
	echo "${20}"
}

# xr_alive PID STARTTIME : the very process we started, and not a zombie
xr_alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	set -- "$2" $stat
	[ "$2" != Z ] && [ "$2" != X ] && [ "${21}" = "$1" ]
}

# xr_spawn NAME NS CMD... : start CMD in the background inside NS, output to
# $XR_STATE/NAME.log; records and sets XR_LAST_PID.  NS "-" = this namespace.
xr_spawn() {
	local name=$1 ns=$2; shift 2
	if [ "$ns" = - ]; then
		"$@" >"$XR_STATE/$name.log" 2>&1 </dev/null &
	else
		nsenter --net="/run/netns/$ns" -- "$@" >"$XR_STATE/$name.log" 2>&1 </dev/null &
	fi
	XR_LAST_PID=$!
	local st
	st=$(xr_starttime "$XR_LAST_PID") || st=0
	echo "$XR_LAST_PID $st $name" >>"$XR_STATE/pids"
}

# xr_kill PID [SIGNAL] : signal a process this run started (checked against
# the recorded start time), then reap it
xr_kill() {
	local pid=$1 sig=${2:-TERM} line st
	line=$(awk -v p="$pid" '$1 == p { print $2 }' "$XR_STATE/pids" 2>/dev/null | tail -n1)
	[ -n "$line" ] || { xr_log "xr_kill: $pid was not started by this run"; return 1; }
	st=$line
	xr_alive "$pid" "$st" || return 0
	kill -s "$sig" "$pid" 2>/dev/null
	# our own child: reap it so that it does not linger as a zombie
	wait "$pid" 2>/dev/null
	return 0
}

# xr_stop_pid PID: TERM, up to 3 s grace, then KILL
xr_stop_pid() {
	local pid=$1 st=$2
	xr_alive "$pid" "$st" || return 0
	kill -TERM "$pid" 2>/dev/null
	for _ in $(seq 30); do
		xr_alive "$pid" "$st" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

# ---- teardown ------------------------------------------------------------------
# xr_teardown_dir DIR : undo everything recorded in one state dir
xr_teardown_dir() {
	local dir=$1 pid st name ns mnt
	[ -d "$dir" ] || return 0
	# 1. processes, newest first
	if [ -f "$dir/pids" ]; then
		while read -r pid st name; do
			[ -n "$pid" ] && [ "$st" != 0 ] && xr_stop_pid "$pid" "$st"
		done < <(tac "$dir/pids")
	fi
	# 2. anything else still living in our namespaces (e.g. a grandchild)
	if [ -f "$dir/netns" ]; then
		while read -r ns; do
			[ -e "/run/netns/$ns" ] || continue
			for pid in $(ip netns pids "$ns" 2>/dev/null); do
				kill -KILL "$pid" 2>/dev/null
			done
		done <"$dir/netns"
		# 3. namespaces (a netns dies with its last reference)
		while read -r ns; do
			[ -e "/run/netns/$ns" ] && ip netns del "$ns" 2>/dev/null
		done < <(tac "$dir/netns")
	fi
	# 4. wireguard-go UAPI sockets left behind by a SIGKILLed wireguard-go
	if [ -f "$dir/wgifs" ]; then
		while read -r name; do
			rm -f "/var/run/wireguard/$name.sock"
		done <"$dir/wgifs"
	fi
	# 5. mounts below the state dir (the bpffs at the pin root's parent,
	#    whether we or the programs mounted it), deepest first
	while read -r mnt; do
		umount -l "$mnt" 2>/dev/null
	done < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' \
		/proc/self/mountinfo | sort -r)
	rm -rf "$dir"
}

# Tear down state dirs of earlier runs whose owner process is dead.
xr_sweep_stale() {
	local dir opid ost
	[ -d "$XR_STATE_BASE" ] || return 0
	for dir in "$XR_STATE_BASE"/*/; do
		dir=${dir%/}
		[ -d "$dir" ] || continue
		[ "$dir" = "$XR_STATE" ] && continue
		if [ -f "$dir/owner" ]; then
			read -r opid ost <"$dir/owner"
			xr_alive "$opid" "$ost" && continue
		fi
		xr_log "sweeping stale run $(basename "$dir")"
		xr_teardown_dir "$dir"
	done
}

topo_down() {
	local rc=$?
	trap - EXIT INT TERM HUP
	if [ "${XR_KEEP:-0}" = 1 ]; then
		xr_log "XR_KEEP=1: leaving $XR_STATE and namespaces $XR_PREFIX-* in place"
		return $rc
	fi
	# detach through the tool first where it works; deleting the namespace
	# removes the device and with it the XDP link in any case
	if [ -x "$XRELAYCTL" ] && [ -e "/run/netns/$NS_RELAY" ] && [ -f "$XR_STATE/attached" ]; then
		timeout 5 nsx "$NS_RELAY" "$XRELAYCTL" --pin-root "$XR_PIN" -s "$XR_SOCK" detach eth0 >/dev/null 2>&1
	fi
	xr_teardown_dir "$XR_STATE"
	return $rc
}

# ---- building blocks ---------------------------------------------------------
xr_netns_add() {
	ip netns add "$1" || xr_die "ip netns add $1"
	echo "$1" >>"$XR_STATE/netns"
	nsx "$1" ip link set lo up
	# no DAD: addresses usable at once; no router solicitations noise
	nsx "$1" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
		net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
}

# xr_veth NS_A IF_A NS_B IF_B : a veth pair created directly in its namespaces
# (no name ever exists in the root namespace).  Checksum offload is turned
# off on both ends: a locally generated packet carries a partial checksum
# that the relay's XDP forwarding would otherwise emit wrong.
xr_veth() {
	ip link add name "$2" netns "$1" type veth peer name "$4" netns "$3" ||
		xr_die "veth $1/$2 <-> $3/$4"
	nsx "$1" ethtool -K "$2" tx off >/dev/null 2>&1
	nsx "$3" ethtool -K "$4" tx off >/dev/null 2>&1
	nsx "$1" ip link set "$2" up
	nsx "$3" ip link set "$4" up
}

# The XDP_PASS object for the switch side of the relay's veth: the one the
# build made, else compiled here from bpf/xdp_pass.bpf.c.
xr_xdp_pass_obj() {
	local obj=$XR_BUILD/bpf/xdp_pass.bpf.o
	if [ -f "$obj" ]; then echo "$obj"; return 0; fi
	obj=$XR_STATE/xdp_pass.bpf.o
	if [ ! -f "$obj" ]; then
		clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall \
			-I"$XR_ROOT/vmlinux" -I"$XR_ROOT/include" \
			-c "$XR_ROOT/bpf/xdp_pass.bpf.c" -o "$obj" >&2 || return 1
	fi
	echo "$obj"
}

topo_up() {
	[ "$(id -u)" = 0 ] || xr_die "must run as root"
	local t
	for t in ip nsenter ethtool iptables ip6tables wireguard-go wg; do
		command -v "$t" >/dev/null || xr_die "missing tool: $t (run: make deps)"
	done
	mkdir -p "$XR_STATE_BASE"
	xr_sweep_stale
	[ -e "$XR_STATE" ] && xr_teardown_dir "$XR_STATE"
	mkdir -p "$XR_STATE/keys" "$XR_STATE/bpf"
	chmod 0700 "$XR_STATE" "$XR_STATE/keys"
	echo "$$ $(xr_starttime $$)" >"$XR_STATE/owner"
	: >"$XR_STATE/pids"; : >"$XR_STATE/netns"; : >"$XR_STATE/wgifs"
	trap topo_down EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP

	local ns
	for ns in "$NS_SW" "$NS_RELAY" "$NS_PUB1" "$NS_PUB2" "$NS_RTR" "$NS_PRIV" "$NS_PRIV2"; do
		xr_netns_add "$ns"
	done

	# -- the internet: a bridge in the switch namespace
	nsx "$NS_SW" ip link add br0 type bridge stp_state 0 forward_delay 0
	nsx "$NS_SW" ip link set br0 up
	# "the internet" is a plain switch: keep br_netfilter (built into this
	# kernel) from running iptables on every bridged frame (per netns)
	local k
	for k in iptables ip6tables arptables; do
		nsx "$NS_SW" sysctl -qw net.bridge.bridge-nf-call-$k=0 2>/dev/null || true
	done
	xr_veth "$NS_RELAY" eth0 "$NS_SW" rly
	xr_veth "$NS_PUB1" eth0 "$NS_SW" pub1
	xr_veth "$NS_PUB2" eth0 "$NS_SW" pub2
	xr_veth "$NS_RTR" wan "$NS_SW" rtr
	for t in rly pub1 pub2 rtr; do
		nsx "$NS_SW" ip link set "$t" master br0
	done

	# XDP_TX out of the relay's eth0 lands on "rly": without an XDP program
	# there the frames are dropped (veth rule, STYLE.md point 12)
	local obj
	obj=$(xr_xdp_pass_obj) || xr_die "cannot build the xdp_pass object"
	# TC_BPF_MNT: iproute2 mounts its own bpffs (and makes tc/globals)
	# there, inside the state dir that teardown unmounts, not in /sys/fs/bpf
	mkdir -p "$XR_STATE/iproute2-bpf"
	TC_BPF_MNT=$XR_STATE/iproute2-bpf nsx "$NS_SW" ip link set dev rly xdp obj "$obj" sec xdp ||
		xr_die "cannot attach $obj to $NS_SW/rly"

	nsx "$NS_RELAY" ip addr add $RELAY4/24 dev eth0
	nsx "$NS_RELAY" ip addr add $RELAY6/64 dev eth0 nodad
	nsx "$NS_PUB1" ip addr add $PUB1_4/24 dev eth0
	nsx "$NS_PUB1" ip addr add $PUB1_6/64 dev eth0 nodad
	nsx "$NS_PUB2" ip addr add $PUB2_4/24 dev eth0
	nsx "$NS_PUB2" ip addr add $PUB2_6/64 dev eth0 nodad

	# -- the NAT router
	nsx "$NS_RTR" ip addr add $RTR_WAN4/24 dev wan
	nsx "$NS_RTR" ip addr add $RTR_WAN6/64 dev wan nodad
	nsx "$NS_RTR" ip link add lan type bridge stp_state 0 forward_delay 0
	nsx "$NS_RTR" ip link set lan up
	nsx "$NS_RTR" ip addr add 192.168.77.1/24 dev lan
	nsx "$NS_RTR" ip addr add fd77::1/64 dev lan nodad
	xr_veth "$NS_PRIV" eth0 "$NS_RTR" lp1
	xr_veth "$NS_PRIV2" eth0 "$NS_RTR" lp2
	nsx "$NS_RTR" ip link set lp1 master lan
	nsx "$NS_RTR" ip link set lp2 master lan
	nsx "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	topo_nat_rules

	nsx "$NS_PRIV" ip addr add $PRIV_4/24 dev eth0
	nsx "$NS_PRIV" ip addr add fd77::2/64 dev eth0 nodad
	nsx "$NS_PRIV" ip route add default via 192.168.77.1
	nsx "$NS_PRIV" ip -6 route add default via fd77::1
	nsx "$NS_PRIV2" ip addr add $PRIV2_4/24 dev eth0
	nsx "$NS_PRIV2" ip addr add fd77::3/64 dev eth0 nodad
	nsx "$NS_PRIV2" ip route add default via 192.168.77.1
	nsx "$NS_PRIV2" ip -6 route add default via fd77::1

	wait_for 10 nsx "$NS_PUB1" ping -c1 -W1 $RELAY4 || xr_die "topology: pub1 cannot reach the relay"
	wait_for 10 nsx "$NS_PRIV" ping -c1 -W1 $RELAY4 || xr_die "topology: priv cannot reach the relay through NAT"
	wait_for 10 nsx "$NS_PUB1" ping -6 -c1 -W1 $RELAY6 || xr_die "topology: pub1 cannot reach the relay over IPv6"
	wait_for 10 nsx "$NS_PRIV" ping -6 -c1 -W1 $RELAY6 || xr_die "topology: priv cannot reach the relay over IPv6 NAT"
	xr_log "topology $XR_PREFIX up (state $XR_STATE)"
}

# MASQUERADE on wan (v4 and v6), and no inbound path: the FORWARD policy drops
# what is not an answer to something the LAN started.
topo_nat_rules() {
	local ipt rnd=
	[ "$NAT_RANDOM" = 1 ] && rnd=--random
	for ipt in iptables ip6tables; do
		nsx "$NS_RTR" $ipt -t nat -F POSTROUTING
		nsx "$NS_RTR" $ipt -t nat -A POSTROUTING -o wan -j MASQUERADE $rnd
		nsx "$NS_RTR" $ipt -F FORWARD
		nsx "$NS_RTR" $ipt -P FORWARD DROP
		nsx "$NS_RTR" $ipt -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
		nsx "$NS_RTR" $ipt -A FORWARD -i lan -o wan -j ACCEPT
		nsx "$NS_RTR" $ipt -A FORWARD -i wan -j DROP
	done
}

# ---- WireGuard (wireguard-go) --------------------------------------------------
# wg_key NAME : make $XR_STATE/keys/NAME.key (0600) and NAME.pub
wg_key() {
	local k=$XR_STATE/keys/$1
	[ -f "$k.key" ] && return 0
	(umask 077; wg genkey >"$k.key")
	wg pubkey <"$k.key" >"$k.pub"
}
wg_pub() { cat "$XR_STATE/keys/$1.pub"; }
wg_keyfile() { echo "$XR_STATE/keys/$1.key"; }

# wg_up NS IFNAME ADDR PRIVKEYFILE LISTENPORT
# IFNAME must be unique on the machine: wireguard-go's UAPI socket
# /var/run/wireguard/IFNAME.sock is global.  Use a name with $XR_PREFIX.
wg_up() {
	local ns=$1 ifn=$2 addr=$3 key=$4 port=$5
	[ ${#ifn} -le 15 ] || xr_die "interface name too long: $ifn"
	[ -e "/var/run/wireguard/$ifn.sock" ] && xr_die "wireguard UAPI socket for $ifn exists"
	echo "$ifn" >>"$XR_STATE/wgifs"
	WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 LOG_LEVEL=${WG_LOG_LEVEL:-error} \
		xr_spawn "wg-$ifn" "$ns" wireguard-go -f "$ifn"
	wait_for 10 test -S "/var/run/wireguard/$ifn.sock" || xr_die "wireguard-go $ifn did not start: $(cat "$XR_STATE/wg-$ifn.log")"
	nsx "$ns" wg set "$ifn" private-key "$key" listen-port "$port" || xr_die "wg set $ifn"
	nsx "$ns" ip addr add "$addr" dev "$ifn"
	nsx "$ns" ethtool -K "$ifn" tx off >/dev/null 2>&1
	nsx "$ns" ip link set "$ifn" up
}

# wg_peer NS IFNAME PUBKEY ALLOWED_IPS [ENDPOINT [KEEPALIVE]]
wg_peer() {
	local ns=$1 ifn=$2 pub=$3 allowed=$4 ep=${5:-} ka=${6:-}
	local args=(peer "$pub" allowed-ips "$allowed")
	[ -n "$ep" ] && args+=(endpoint "$ep")
	[ -n "$ka" ] && args+=(persistent-keepalive "$ka")
	nsx "$ns" wg set "$ifn" "${args[@]}"
}

# wg_handshake_age NS IFNAME PUBKEY : seconds since the latest handshake with
# that peer; fails when there was none
wg_handshake_age() {
	local t
	t=$(nsx "$1" wg show "$2" latest-handshakes | awk -v k="$3" '$1 == k { print $2 }')
	[ -n "$t" ] && [ "$t" != 0 ] || return 1
	echo $(( $(date +%s) - t ))
}

# ---- the relay ------------------------------------------------------------------
xr_have_relay() { [ -x "$XRELAYD" ] && [ -x "$XRELAYCTL" ]; }

# xrctl ARGS... : xrelayctl inside the relay namespace, this run's pin root and socket
xrctl() {
	nsx "$NS_RELAY" "$XRELAYCTL" --pin-root "$XR_PIN" -s "$XR_SOCK" "$@"
}

# xr_pin_path NAME : the pinned map NAME (the pin root may be versioned: v1/)
xr_pin_path() {
	local p
	for p in "$XR_PIN/$1" "$XR_PIN"/v*/"$1"; do
		[ -e "$p" ] && { echo "$p"; return 0; }
	done
	return 1
}

# relay_config [TENANT_BLOCKS] : write $XR_RELAY_CONF; tenants as YAML lines
relay_config() {
	cat >"$XR_RELAY_CONF" <<-EOF
	# written by scripts/lib/netns.sh for run $XR_PREFIX
	wireguard:
	  listen: ["$RELAY4:$WG_PORT", "[$RELAY6]:$WG_PORT"]
	admin:
	  socket: $XR_SOCK
	bpf:
	  pin_root: $XR_PIN
	tenants:
	EOF
	printf '%s\n' "$@" >>"$XR_RELAY_CONF"
}

# relay_tenant NAME PRIV_PUBKEY PEER_PUBKEY... : one tenant's YAML block
relay_tenant() {
	local name=$1 priv=$2; shift 2
	local peers="" p
	for p in "$@"; do peers+="${peers:+, }\"$p\""; done
	printf '  - name: %s\n    wireguard:\n      - pubkey: "%s"\n        peers: [%s]\n' \
		"$name" "$priv" "$peers"
}

# relay_start : xrelayd in the relay namespace; waits until its admin socket
# accepts connections.  A stale socket file (xrelayd killed) is left for
# xrelayd to replace, as after a crash in production.
relay_start() {
	xr_have_relay || { xr_log "relay_start: $XRELAYD or $XRELAYCTL missing"; return 1; }
	local n=${XR_RELAYD_STARTS:-0}
	XR_RELAYD_STARTS=$((n + 1))
	xr_spawn "xrelayd.$n" "$NS_RELAY" "$XRELAYD" -c "$XR_RELAY_CONF"
	XR_RELAYD_PID=$XR_LAST_PID
	XR_RELAYD_LOG=$XR_STATE/xrelayd.$n.log
	local deadline=$((SECONDS + 10)) st
	st=$(awk -v p="$XR_RELAYD_PID" '$1 == p { print $2 }' "$XR_STATE/pids" | tail -n1)
	until xr_sock_ready 2>/dev/null; do
		if ! xr_alive "$XR_RELAYD_PID" "$st"; then
			wait "$XR_RELAYD_PID"
			xr_log "xrelayd exited (status $?) at start; its log:"
			sed 's/^/#   /' "$XR_RELAYD_LOG" >&2
			XR_RELAYD_PID=
			return 1
		fi
		if [ $SECONDS -ge $deadline ]; then
			xr_log "xrelayd does not accept connections on $XR_SOCK after 10 s; its log:"
			sed 's/^/#   /' "$XR_RELAYD_LOG" >&2
			return 1
		fi
		sleep 0.1
	done
}

# relay_kill [SIGNAL] : stop this run's xrelayd
relay_kill() {
	[ -n "${XR_RELAYD_PID:-}" ] || return 0
	xr_kill "$XR_RELAYD_PID" "${1:-TERM}"
	XR_RELAYD_PID=
}

# relay_attach [MODE] : the relay's XDP program on its eth0
# shellcheck disable=SC2120 # MODE is optional; XR_ATTACH_MODE sets it too
relay_attach() {
	local out mode=${1:-${XR_ATTACH_MODE:-}}
	out=$(xrctl attach eth0 ${mode:+--mode "$mode"} 2>&1) || {
		xr_log "xrelayctl attach eth0 failed: $out"; return 1; }
	touch "$XR_STATE/attached"
}

# stats_get PATH : one number from `xrelayctl -j stats`, e.g.
#   stats_get reasons.tx.packets     stats_get tenant.lab.tx_packets
# missing fields read as 0
stats_get() {
	xrctl -j stats | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin); path = sys.argv[1].split(".")
if path[0] == "tenant":
    d = {t["name"]: t for t in d.get("tenants", [])}; path = path[1:]
for p in path:
    if isinstance(d, dict) and p in d: d = d[p]
    else: d = 0; break
print(int(d) if isinstance(d, (int, float)) else 0)' "$1"
}

# xr_sock_ready : xrelayd accepts connections on its admin socket (a stale
# socket file left by a killed xrelayd refuses them)
xr_sock_ready() {
	/usr/bin/python3 -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(1); s.connect(sys.argv[1])' "$XR_SOCK"
}

# ---- the WireGuard-through-the-relay scenario ------------------------------------
# Interface names carry the prefix: wireguard-go's UAPI socket path is global.
WG_PRIV=${XR_PREFIX}pv      # on priv,  tenant lab,  10.200.1.2
WG_PUB1=${XR_PREFIX}p1      # on pub1,  tenant lab,  10.200.1.11
WG_PRIV2=${XR_PREFIX}pv2    # on priv2, tenant lab2, 10.200.2.3
WG_PUB2=${XR_PREFIX}p2      # on pub2,  tenant lab2, 10.200.2.12
WG_PRIV6=${XR_PREFIX}pv6    # on priv,  tenant lab6, 10.200.3.2, relay over IPv6
WG_PUB16=${XR_PREFIX}p16    # on pub1,  tenant lab6, 10.200.3.11, relay over IPv6
T_PRIV=10.200.1.2  T_PUB1=10.200.1.11
T_PRIV2=10.200.2.3 T_PUB2=10.200.2.12
T_PRIV6=10.200.3.2 T_PUB16=10.200.3.11
RELAY_EP4=$RELAY4:$WG_PORT
RELAY_EP6=[$RELAY6]:$WG_PORT

# wg_relay_config : keys for every peer, relay.yaml with tenants lab, lab2, lab6
wg_relay_config() {
	local k
	for k in priv pub1 priv2 pub2 priv6 pub16; do wg_key $k; done
	relay_config \
		"$(relay_tenant lab "$(wg_pub priv)" "$(wg_pub pub1)")" \
		"$(relay_tenant lab2 "$(wg_pub priv2)" "$(wg_pub pub2)")" \
		"$(relay_tenant lab6 "$(wg_pub priv6)" "$(wg_pub pub16)")"
}

# wg_relay_peers [lab|lab2|lab6]... : bring up the WireGuard peers of those
# tenants, every Endpoint the relay; the private hosts first (their
# keepalive tells the relay where they are), with PersistentKeepalive 25
wg_relay_peers() {
	local t
	for t in "$@"; do
		case $t in
		lab)
			wg_up "$NS_PRIV" "$WG_PRIV" $T_PRIV/24 "$(wg_keyfile priv)" 51820
			wg_up "$NS_PUB1" "$WG_PUB1" $T_PUB1/24 "$(wg_keyfile pub1)" 51820
			wg_peer "$NS_PRIV" "$WG_PRIV" "$(wg_pub pub1)" $T_PUB1/32 "$RELAY_EP4" 25
			wg_peer "$NS_PUB1" "$WG_PUB1" "$(wg_pub priv)" $T_PRIV/32 "$RELAY_EP4" ;;
		lab2)
			wg_up "$NS_PRIV2" "$WG_PRIV2" $T_PRIV2/24 "$(wg_keyfile priv2)" 51820
			wg_up "$NS_PUB2" "$WG_PUB2" $T_PUB2/24 "$(wg_keyfile pub2)" 51820
			wg_peer "$NS_PRIV2" "$WG_PRIV2" "$(wg_pub pub2)" $T_PUB2/32 "$RELAY_EP4" 25
			wg_peer "$NS_PUB2" "$WG_PUB2" "$(wg_pub priv2)" $T_PRIV2/32 "$RELAY_EP4" ;;
		lab6)
			wg_up "$NS_PRIV" "$WG_PRIV6" $T_PRIV6/24 "$(wg_keyfile priv6)" 51821
			wg_up "$NS_PUB1" "$WG_PUB16" $T_PUB16/24 "$(wg_keyfile pub16)" 51821
			wg_peer "$NS_PRIV" "$WG_PRIV6" "$(wg_pub pub16)" $T_PUB16/32 "$RELAY_EP6" 25
			wg_peer "$NS_PUB1" "$WG_PUB16" "$(wg_pub priv6)" $T_PRIV6/32 "$RELAY_EP6" ;;
		*) xr_die "wg_relay_peers: unknown tenant $t" ;;
		esac
	done
}

# wg_relay_up TENANT... : relay config, xrelayd, XDP on the relay's eth0,
# then the peers.  Fails (with a log line) at the first step that fails.
wg_relay_up() {
	wg_relay_config
	if ! nsx "$NS_RELAY" "$XRELAYD" -c "$XR_RELAY_CONF" --check >"$XR_STATE/check.log" 2>&1; then
		xr_log "xrelayd --check rejects $XR_RELAY_CONF:"; sed 's/^/#   /' "$XR_STATE/check.log" >&2
		return 1
	fi
	relay_start || return 1
	relay_attach || return 1
	wg_relay_peers "$@"
}

# ping_ok NS DST [COUNT] : COUNT (default 3) echo replies out of COUNT
ping_ok() {
	local ns=$1 dst=$2 n=${3:-3} out
	out=$(nsx "$ns" ping -n -q -c "$n" -i 0.2 -W 2 "$dst" 2>&1)
	echo "$out" | grep -q " $n received"
}

# sessions_has TENANT DST_SUBSTRING : `xrelayctl -j sessions` lists a session
# of TENANT whose dst contains the string
sessions_has() {
	xrctl -j sessions | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)
if isinstance(d, dict): d = d.get("sessions", [])
sys.exit(0 if any(s.get("tenant") == sys.argv[1] and sys.argv[2] in str(s.get("dst", ""))
                  for s in d) else 1)' "$1" "$2"
}
