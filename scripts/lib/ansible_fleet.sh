# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# ansible_fleet.sh - a small fleet for tests/e2e/ansible_fleet.sh: two relay
# hosts and one private host, each a network namespace running its own sshd,
# so that ansible-playbook (run in a controller namespace) deploys over real
# SSH connections.  Sources tls.sh (PKI, nginx, curl helpers) and with it
# netns.sh (state dir, spawning and teardown by PID).
#
#            switch ns "$NS_SW"
#   br0 "the internet" 198.18.0.0/24        br1 management 10.99.0.0/24
#    |        |         |        |             |      |      |      |
#   r1 eth0  r2 eth0  rtr wan  cli eth0      ctl    r1     r2    priv
#   .1       .3       .2 NAT   .11           .100   .1     .3    .2
#                      |                     ansible-playbook; sshd on
#                   rtr lan 192.168.77.1     .1 .3 .2 (port 22)
#                      |
#                   priv eth0 192.168.77.2 (default route through the NAT)
#
# The management network stands for the operator's out-of-band path (a VPN,
# a bastion): the agent still reaches the relays only through the NAT, and
# nothing reaches the private host from the internet.
#
# The namespaces share one filesystem, so each host gets its own path prefix
# under $XR_STATE/h/HOST/ (programs, etc, run, state, units, pin root): the
# inventory sets the roles' path variables to them.

. "$(dirname "${BASH_SOURCE[0]}")/tls.sh"

ANS_DIR=$XR_ROOT/deploy/ansible
NS_R1=$XR_PREFIX-r1
NS_R2=$XR_PREFIX-r2
NS_CLI=$XR_PREFIX-cli
NS_CTL=$XR_PREFIX-ctl
# NS_SW, NS_RTR, NS_PRIV: netns.sh's names
R1_4=198.18.0.1
R2_4=198.18.0.3
CLI_4=198.18.0.11
MG_R1=10.99.0.1
MG_R2=10.99.0.3
MG_PRIV=10.99.0.2
MG_CTL=10.99.0.100
# the accounts the roles create (relay user and group, agent user and
# group), removed at teardown; recorded outside the state dir, which another
# run's sweep may remove before this run's teardown could read it
ANS_USER=${XR_PREFIX//-/}
ANS_USER=${ANS_USER:0:30}
ANS_RUSER=${ANS_USER}r
ANS_AUSER=${ANS_USER}a
ANS_USERS_DIR=$XR_STATE_BASE/.ansible-users
ANS_SSH=$XR_STATE/ssh
ANS_INV=$XR_STATE/inventory

# ans_host_dir HOST : the host's path prefix
ans_host_dir() { echo "$XR_STATE/h/$1"; }

# ans_deluser NAME : remove an account and its group (by the exact name
# this run or a dead run recorded)
ans_deluser() {
	id -u "$1" >/dev/null 2>&1 && userdel "$1" 2>/dev/null
	getent group "$1" >/dev/null && groupdel "$1" 2>/dev/null
	return 0
}

# Accounts of runs whose owner is dead (crashed, or kept with XR_KEEP=1);
# run after xr_sweep_stale has stopped their processes.  The file's first
# line is the owner "PID STARTTIME", then one account a line
ans_sweep_users() {
	local f opid ost u
	for f in "$ANS_USERS_DIR"/*; do
		[ -f "$f" ] || continue
		read -r opid ost <"$f"
		[ "$f" != "$ANS_USERS_DIR/$XR_PREFIX" ] && xr_alive "$opid" "$ost" && continue
		tail -n +2 "$f" | while read -r u; do [ -n "$u" ] && ans_deluser "$u"; done
		rm -f "$f"
	done
}

ans_down() {
	local rc=$?
	if [ "${XR_KEEP:-0}" != 1 ]; then
		ans_record_daemons
		ans_sweep_users_own
	fi
	topo_down
	return $rc
}

ans_sweep_users_own() {
	local f=$ANS_USERS_DIR/$XR_PREFIX u
	[ -f "$f" ] || return 0
	# userdel refuses while the account has processes: stop them first
	xr_teardown_procs_only
	tail -n +2 "$f" | while read -r u; do [ -n "$u" ] && ans_deluser "$u"; done
	rm -f "$f"
	rmdir "$ANS_USERS_DIR" 2>/dev/null
	return 0
}

# xr_teardown_procs_only : processes recorded in pids (newest first) and
# whatever else lives in this run's namespaces
xr_teardown_procs_only() {
	local pid st ns
	while read -r pid st _; do
		[ -n "$pid" ] && [ "$st" != 0 ] && xr_stop_pid "$pid" "$st"
	done < <(tac "$XR_STATE/pids" 2>/dev/null)
	while read -r ns; do
		[ -e "/run/netns/$ns" ] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
	done <"$XR_STATE/netns"
}

# ans_record_daemons : the daemons the playbook started (start-stop-daemon
# pidfiles) join this run's pid list, so that teardown stops them by PID
ans_record_daemons() {
	local f pid st
	for f in "$XR_STATE"/h/*/var/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		[[ $pid =~ ^[0-9]+$ ]] || continue
		grep -q "^$pid " "$XR_STATE/pids" && continue
		st=$(xr_starttime "$pid") || continue
		echo "$pid $st $(basename "$f" .pid)" >>"$XR_STATE/pids"
	done
}

# ans_topo_up : state dir, namespaces, addresses, NAT, sshd on every host
ans_topo_up() {
	[ "$(id -u)" = 0 ] || xr_die "must run as root"
	local t
	for t in ip nsenter iptables sshd ssh ssh-keygen ansible-playbook start-stop-daemon \
		openssl nginx curl useradd; do
		command -v "$t" >/dev/null || xr_die "missing tool: $t (run: make deps)"
	done
	mkdir -p "$XR_STATE_BASE"
	xr_sweep_stale
	ans_sweep_users
	[ -e "$XR_STATE" ] && xr_teardown_dir "$XR_STATE"
	mkdir -p "$XR_STATE/keys" "$ANS_SSH" "$ANS_INV/host_vars" "$ANS_INV/group_vars" \
		"$TLS_PKI" "$TLS_WWW/up"
	chmod 0711 "$XR_STATE"
	chmod 0700 "$XR_STATE/keys" "$ANS_SSH" "$TLS_PKI"
	echo "$$ $(xr_starttime $$)" >"$XR_STATE/owner"
	: >"$XR_STATE/pids"; : >"$XR_STATE/netns"; : >"$XR_STATE/wgifs"
	mkdir -p "$ANS_USERS_DIR"
	printf '%s\n' "$(cat "$XR_STATE/owner")" "$ANS_AUSER" "$ANS_RUSER" >"$ANS_USERS_DIR/$XR_PREFIX"
	trap ans_down EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM HUP

	local ns
	for ns in "$NS_SW" "$NS_R1" "$NS_R2" "$NS_RTR" "$NS_PRIV" "$NS_CLI" "$NS_CTL"; do
		xr_netns_add "$ns"
	done
	nsx "$NS_SW" ip link add br0 type bridge stp_state 0 forward_delay 0
	nsx "$NS_SW" ip link add br1 type bridge stp_state 0 forward_delay 0
	nsx "$NS_SW" ip link set br0 up
	nsx "$NS_SW" ip link set br1 up
	for t in iptables ip6tables arptables; do
		nsx "$NS_SW" sysctl -qw net.bridge.bridge-nf-call-$t=0 2>/dev/null || true
	done
	# the internet
	xr_veth "$NS_R1" eth0 "$NS_SW" r1
	xr_veth "$NS_R2" eth0 "$NS_SW" r2
	xr_veth "$NS_RTR" wan "$NS_SW" rtr
	xr_veth "$NS_CLI" eth0 "$NS_SW" cli
	for t in r1 r2 rtr cli; do nsx "$NS_SW" ip link set "$t" master br0; done
	# the management network
	xr_veth "$NS_R1" mgmt "$NS_SW" m-r1
	xr_veth "$NS_R2" mgmt "$NS_SW" m-r2
	xr_veth "$NS_PRIV" mgmt "$NS_SW" m-priv
	xr_veth "$NS_CTL" mgmt "$NS_SW" m-ctl
	for t in m-r1 m-r2 m-priv m-ctl; do nsx "$NS_SW" ip link set "$t" master br1; done

	nsx "$NS_R1" ip addr add $R1_4/24 dev eth0
	nsx "$NS_R2" ip addr add $R2_4/24 dev eth0
	nsx "$NS_CLI" ip addr add $CLI_4/24 dev eth0
	nsx "$NS_R1" ip addr add $MG_R1/24 dev mgmt
	nsx "$NS_R2" ip addr add $MG_R2/24 dev mgmt
	nsx "$NS_PRIV" ip addr add $MG_PRIV/24 dev mgmt
	nsx "$NS_CTL" ip addr add $MG_CTL/24 dev mgmt

	# the NAT router and the private host behind it
	nsx "$NS_RTR" ip addr add "$RTR_WAN4/24" dev wan
	xr_veth "$NS_PRIV" eth0 "$NS_RTR" lan
	nsx "$NS_RTR" ip addr add 192.168.77.1/24 dev lan
	nsx "$NS_PRIV" ip addr add "$PRIV_4/24" dev eth0
	nsx "$NS_PRIV" ip route add default via 192.168.77.1
	nsx "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1
	nsx "$NS_RTR" iptables -t nat -A POSTROUTING -o wan -j MASQUERADE
	nsx "$NS_RTR" iptables -P FORWARD DROP
	nsx "$NS_RTR" iptables -A FORWARD -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
	nsx "$NS_RTR" iptables -A FORWARD -i lan -o wan -j ACCEPT

	wait_for 10 nsx "$NS_PRIV" ping -c1 -W1 $R1_4 || xr_die "topology: priv cannot reach relay1 through the NAT"
	wait_for 10 nsx "$NS_PRIV" ping -c1 -W1 $R2_4 || xr_die "topology: priv cannot reach relay2 through the NAT"
	wait_for 10 nsx "$NS_CTL" ping -c1 -W1 $MG_PRIV || xr_die "topology: no management path to priv"
	nsx "$NS_CLI" ping -c1 -W1 "$PRIV_4" >/dev/null 2>&1 && xr_die "topology: the private host is reachable from the internet"

	ans_sshd_up
	xr_log "fleet $XR_PREFIX up (state $XR_STATE)"
}

# ans_sshd_up : one throwaway client key, one host key, an sshd per host
# listening on its management address only; ssh from the controller works
ans_sshd_up() {
	ssh-keygen -q -t ed25519 -N '' -C "xrelay-test-$XR_PREFIX" -f "$ANS_SSH/id" || xr_die "ssh-keygen (client)"
	ssh-keygen -q -t ed25519 -N '' -C "xrelay-test-host-$XR_PREFIX" -f "$ANS_SSH/host" || xr_die "ssh-keygen (host)"
	cp "$ANS_SSH/id.pub" "$ANS_SSH/authorized_keys"
	chmod 0600 "$ANS_SSH/authorized_keys"
	: >"$ANS_SSH/known_hosts"
	local h ns addr
	for h in relay1:$NS_R1:$MG_R1 relay2:$NS_R2:$MG_R2 priv:$NS_PRIV:$MG_PRIV; do
		IFS=: read -r h ns addr <<<"$h"
		cat >"$ANS_SSH/sshd-$h.conf" <<-EOF
		# written by scripts/lib/ansible_fleet.sh for run $XR_PREFIX
		ListenAddress $addr:22
		HostKey $ANS_SSH/host
		PidFile $ANS_SSH/sshd-$h.pid
		AuthorizedKeysFile $ANS_SSH/authorized_keys
		PermitRootLogin prohibit-password
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		MaxSessions 50
		MaxStartups 50
		Subsystem sftp internal-sftp
		EOF
		xr_spawn "sshd-$h" "$ns" /usr/sbin/sshd -D -e -f "$ANS_SSH/sshd-$h.conf"
		echo "$addr $(cut -d' ' -f1-2 "$ANS_SSH/host.pub")" >>"$ANS_SSH/known_hosts"
	done
	for addr in $MG_R1 $MG_R2 $MG_PRIV; do
		wait_for 10 ans_ssh "$addr" true || xr_die "sshd on $addr does not let the controller in"
	done
}

ANS_SSH_OPTS=()
ans_ssh_opts() {
	ANS_SSH_OPTS=(-F /dev/null -o BatchMode=yes -o IdentitiesOnly=yes -i "$ANS_SSH/id"
		-o UserKnownHostsFile="$ANS_SSH/known_hosts" -o StrictHostKeyChecking=yes
		-o ConnectTimeout=5)
}
# ans_ssh ADDR CMD... : a command on a host over SSH, from the controller
ans_ssh() {
	local addr=$1; shift
	ans_ssh_opts
	nsx "$NS_CTL" ssh "${ANS_SSH_OPTS[@]}" "root@$addr" "$@"
}

# ans_host_vars HOST : the path variables that give HOST its own prefix
ans_host_paths() {
	local d
	d=$(ans_host_dir "$1")
	cat <<-EOF
	xrelay_prefix: $d/usr
	xrelay_etc_dir: $d/etc
	xrelay_run_dir: $d/run
	xrelay_state_dir: $d/var
	xrelay_systemd_unit_dir: $d/systemd
	xrelay_relay_pin_root: $d/bpf/xrelay
	EOF
}

# ans_inventory : hosts.yml and group_vars for the fleet; host_vars/priv.yml
# (the agent's services) is written by ans_agent_services
ans_inventory() {
	cat >"$ANS_INV/hosts.yml" <<-EOF
	# written by scripts/lib/ansible_fleet.sh for run $XR_PREFIX
	xrelay_relays:
	  hosts:
	    relay1:
	      ansible_host: $MG_R1
	      xrelay_relay_public_address: $R1_4
	    relay2:
	      ansible_host: $MG_R2
	      xrelay_relay_public_address: $R2_4
	xrelay_agents:
	  hosts:
	    priv:
	      ansible_host: $MG_PRIV
	EOF
	cat >"$ANS_INV/group_vars/all.yml" <<-EOF
	ansible_user: root
	ansible_python_interpreter: /usr/bin/python3
	xrelay_install_method: prebuilt
	# the packages are there (make deps): never refresh apt's lists from a test
	xrelay_apt_cache_valid_time: 315360000
	xrelay_prebuilt_dir: $XR_STATE/dist
	# no systemd as PID 1 here: start-stop-daemon (the units are still installed)
	xrelay_service_manager: direct
	xrelay_systemd_src_dir: $ANS_DIR/../systemd
	xrelay_group: $ANS_RUSER
	xrelay_relay_user: $ANS_RUSER
	xrelay_agent_user: $ANS_AUSER
	xrelay_agent_group: $ANS_AUSER
	xrelay_agent_heartbeat: 1s
	xrelay_agent_pool: 2
	EOF
	cat >"$ANS_INV/group_vars/xrelay_relays.yml" <<-EOF
	xrelay_relay_interfaces: [eth0]
	xrelay_relay_tls_listen: ["0.0.0.0:443"]
	xrelay_relay_control_listen: ["0.0.0.0:7443"]
	xrelay_relay_wireguard_listen: ["0.0.0.0:51820"]
	xrelay_tenants:
	  - name: lab
	    agents: [priv]
	    limits:
	      connections: 500/s
	EOF
	local h
	for h in relay1 relay2 priv; do
		ans_host_paths "$h" >"$ANS_INV/host_vars/$h.yml"
	done
}

# ans_agent_services NAME... : the agent's services, each NAME -> nginx :8443
ans_agent_services() {
	local n
	{
		ans_host_paths priv
		echo "xrelay_agent_services:"
		for n in "$@"; do
			printf '  - hostname: %s\n    target: "127.0.0.1:8443"\n' "$n"
		done
	} >"$ANS_INV/host_vars/priv.yml"
}

# ans_playbook LOG ARGS... : ansible-playbook site.yml from the controller
# namespace over SSH, bounded; output in LOG (and on stderr with XR_VERBOSE=1)
ans_playbook() {
	local log=$1 rc; shift
	ans_ssh_opts
	mkdir -p "$XR_STATE/ansible-home" "$XR_STATE/ansible-tmp" "$XR_STATE/cp"
	nsx "$NS_CTL" env \
		ANSIBLE_CONFIG="$ANS_DIR/ansible.cfg" \
		ANSIBLE_HOME="$XR_STATE/ansible-home" \
		ANSIBLE_LOCAL_TEMP="$XR_STATE/ansible-tmp" \
		ANSIBLE_REMOTE_TEMP="$XR_STATE/ansible-remote-tmp" \
		ANSIBLE_SSH_CONTROL_PATH_DIR="$XR_STATE/cp" \
		ANSIBLE_SSH_ARGS="${ANS_SSH_OPTS[*]} -o ControlMaster=auto -o ControlPersist=60s" \
		ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_RETRY_FILES_ENABLED=0 \
		ANSIBLE_STDOUT_CALLBACK=default ANSIBLE_CALLBACKS_ENABLED=profile_tasks \
		timeout -k 5 150 ansible-playbook -i "$ANS_INV/hosts.yml" "$@" "$ANS_DIR/site.yml" \
		>"$log" 2>&1
	rc=$?
	ans_record_daemons
	[ "${XR_VERBOSE:-0}" = 1 ] && sed 's/^/#   /' "$log" >&2
	return $rc
}

# recap_get LOG HOST FIELD : a number from the PLAY RECAP line of HOST
recap_get() {
	awk -v h="$2" -v f="$3" '
		/^PLAY RECAP/ { r = 1; next }
		r && $1 == h { for (i = 3; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) print kv[2] } }
	' "$1" | tail -n1
}

# recap_all LOG FIELD VALUE : every host's FIELD equals VALUE (three hosts)
recap_all() {
	local h v n=0
	for h in relay1 relay2 priv; do
		v=$(recap_get "$1" "$h" "$2")
		[ "$v" = "$3" ] || { xr_log "$1: $h $2=${v:-missing}, want $3"; return 1; }
		n=$((n + 1))
	done
	[ $n = 3 ]
}

# ans_ctl HOST ARGS... : xrelayctl of a relay host, in its namespace, with its paths
ans_ctl() {
	local h=$1 d ns; shift
	d=$(ans_host_dir "$h")
	case $h in relay1) ns=$NS_R1 ;; relay2) ns=$NS_R2 ;; *) ns=$NS_PRIV ;; esac
	nsx "$ns" "$d/usr/sbin/xrelayctl" --pin-root "$d/bpf/xrelay" -s "$d/run/xrelayd.sock" "$@"
}

# status_get HOST PYEXPR : evaluate PYEXPR on `xrelayctl -j status` (as s)
status_get() {
	ans_ctl "$1" -j status 2>/dev/null | "$XR_PY" -c '
import json, sys
try:
    s = json.load(sys.stdin)
except ValueError:
    sys.exit(1)
v = eval(sys.argv[1])
print(v)' "$2"
}

# daemon_pid HOST NAME : the PID in the host's pidfile, if that process runs
daemon_pid() {
	local f pid
	f=$(ans_host_dir "$1")/var/$2.pid
	pid=$(cat "$f" 2>/dev/null) || return 1
	[[ $pid =~ ^[0-9]+$ ]] && [ -d "/proc/$pid" ] || return 1
	echo "$pid"
}

# fleet_diag WHAT : what helps to see why a route check failed
fleet_diag() {
	local h
	xr_log "--- $1"
	{
		for h in relay1 relay2; do
			echo "\$ $h: agents in xrelayctl -j status"
			status_get "$h" "s['xrelayd'] and [(a['agent'], a['peer'], a['pool'], a['hostnames']) for a in s['xrelayd']['agents']]"
			echo "\$ $h: xrelayd log (tail)"
			tail -n 8 "$(ans_host_dir "$h")/var/xrelayd.log" 2>/dev/null
		done
		echo "\$ priv: xrelay-agent log (tail)"
		tail -n 12 "$(ans_host_dir priv)/var/xrelay-agent.log" 2>/dev/null
	} | sed 's/^/#   /' >&2
}

# route_check NAME RELAY_IP HOSTNAME : an assertion that HOSTNAME, through
# the relay at RELAY_IP, is served by nginx on the private host (15 s)
route_check() {
	if TLS_RELAY_IP=$2 wait_route "$NS_CLI" "$3" priv 15; then
		xr_ok "$1"
	else
		xr_notok "$1"
		fleet_diag "$1"
	fi
}
