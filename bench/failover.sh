#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# failover.sh - recovery figures of xrelay against what a user would run
# instead, side by side in one run, in the namespace topology of
# scripts/lib/netns.sh (fixtures: scripts/lib/tls.sh, faults.sh).
#
# Everything is up at once and the rounds interleave the setups:
#
#   xrelay    xrelayd on the relay (tls :443, control :7443); agents vm1 on
#             priv (serves a.$DOM and r.$DOM) and vm2 on priv2 (r.$DOM),
#             heartbeat $HB_MS ms (the default 5 s)
#   ssh       sshd on the relay's :2222 (ClientAliveInterval 5,
#             ClientAliveCountMax 3); autossh -M 0 on priv with
#             ServerAliveInterval=5 ServerAliveCountMax=3 ExitOnForwardFailure=yes,
#             -R 127.0.0.1:9001 -> priv's backend; nginx stream ssl_preread on
#             the relay's :4443 routing a.$DOM to 127.0.0.1:9001
#   haproxy   wireguard-go on the relay (10.201.0.1), priv (.2) and priv2 (.3),
#             the private hosts dial out (keepalive 25); haproxy on the
#             relay's :5443 routing r.$DOM (req.ssl_sni) to both backends
#             through the tunnel, `check inter 1s fall 3 rise 2`, retries 3,
#             option redispatch, timeout connect 5s
#
# Backends: nginx on priv and priv2, 0.0.0.0:8443, /name answers "node=HOST".
# Clients on pub1.
#
# Scenarios, ROUNDS rounds each (medians in summary.md):
#   restart   (a) SIGKILL xrelayd, DOWN_S s later start it again -> time from
#             the start until https://a.$DOM/name through the agent answers;
#             (b) SIGKILL every sshd in the relay namespace (listener and
#             session: what dies with the host's sshd), DOWN_S s later start
#             sshd again -> time until a.$DOM answers through :4443 (autossh
#             must bring the forward back).  Also: when the listener was up
#             (xrelayd :443 / sshd :2222) and when the agent was listed / the
#             forwarded port listened.
#   deadpeer  (c) SIGSTOP the far side: agent vm1 / the ssh client under
#             autossh -> time until the relay side notices: vm1 gone from
#             `xrelayctl status -j` (the relay's "agent disconnected") / the
#             forwarded port 9001 closed by sshd's ClientAlive.  Then SIGCONT
#             and time until the name answers again.
#   replica   (d) a load of new TLS connections to r.$DOM (bench/failover/
#             tlsload.py: WORKERS threads, LOAD_S s, client timeout
#             REQ_TIMEOUT s); KILL_AT s in, the replica on priv2 gets the
#             fault: kill = SIGKILL (agent vm2 / wireguard-go on priv2),
#             stop = SIGSTOP (the same processes; a host that hangs or drops
#             off the net).  Counted: failed requests, those started after the
#             fault, slow ones (> 1 s), and when the relay side saw it
#             (xrelay: vm2 not "healthy" in status -j; haproxy: server DOWN).
#
# Knobs: ROUNDS=5 DOWN_S=5 HB_MS=5000 WORKERS=4 LOAD_S=20 KILL_AT=3
#   REQ_TIMEOUT=10 REPLICA_FAULTS="kill stop" SCENARIOS="restart deadpeer replica"
#   FO_OUT=build/bench/failover-results-<date> XR_PREFIX=xbf WAIT_OTHERS=600
# Results: $FO_OUT/{env.txt,runs.tsv,summary.md}, raw/ (per-request logs of
# the loads), logs/.  Binaries are copied from build/ to $FO_OUT/bin first:
# others rebuild build/ while this runs.  Everything it starts is torn down
# on exit (netns.sh's trap).
set -u
BENCH_DIR=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
FO_OUT=${FO_OUT:-$ROOT/build/bench/failover-results-$STAMP}
ROUNDS=${ROUNDS:-5}
DOWN_S=${DOWN_S:-5}
HB_MS=${HB_MS:-5000}
WORKERS=${WORKERS:-4}
LOAD_S=${LOAD_S:-20}
KILL_AT=${KILL_AT:-3}
REQ_TIMEOUT=${REQ_TIMEOUT:-10}
REPLICA_FAULTS=${REPLICA_FAULTS:-kill stop}
SCENARIOS=${SCENARIOS:-restart deadpeer replica}
WAIT_OTHERS=${WAIT_OTHERS:-600}
DOM=bench.xrelay.test

[ "$(id -u)" = 0 ] || { echo "failover.sh: must run as root" >&2; exit 2; }
for t in nginx haproxy sshd ssh ssh-keygen autossh curl openssl wireguard-go wg python3; do
	command -v "$t" >/dev/null || { echo "failover.sh: $t missing (make deps DEB_EXTRA=\"\$(DEB_BENCH)\")" >&2; exit 1; }
done
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] ||
	{ echo "failover.sh: ngx_stream_module missing (libnginx-mod-stream)" >&2; exit 1; }

# our own copies of the binaries: build/ changes under a long run
mkdir -p "$FO_OUT/bin" "$FO_OUT/raw" "$FO_OUT/logs"
for b in xrelayd xrelayctl xrelay-agent; do
	[ -x "$ROOT/build/$b" ] || { echo "failover.sh: build/$b missing: make" >&2; exit 1; }
	cp "$ROOT/build/$b" "$FO_OUT/bin/$b"
done
chmod 0755 "$FO_OUT/bin" "$FO_OUT/bin"/*
export XRELAYD=$FO_OUT/bin/xrelayd XRELAYCTL=$FO_OUT/bin/xrelayctl XR_AGENT=$FO_OUT/bin/xrelay-agent
export XR_PREFIX=${XR_PREFIX:-xbf}
export FAULT_HB_MS=$HB_MS
. "$ROOT/scripts/lib/faults.sh"
export AGENT_EXTRA="heartbeat: ${HB_MS}ms"

log() { printf '# [%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# others' runs of the topology, `make test`, the other benches: wait for
# them (at most WAIT_OTHERS s)
BENCH_OTHERS='tls|run|ops'
. "$ROOT/bench/lib/quiet.sh"
bench_refuse_twin
bench_wait_quiet

RUNS_TSV=$FO_OUT/runs.tsv
RAW=$FO_OUT/raw
S=$XR_STATE/fo
HAP_PORT=5443 NGS_PORT=4443 SSH_PORT=2222 SSH_FWD_PORT=9001 BE_PORT=8443
WG_R_IF=${XR_PREFIX}wr WG_V_IF=${XR_PREFIX}wv WG_V2_IF=${XR_PREFIX}wv2
WG_R_ADDR=10.201.0.1 WG_V_ADDR=10.201.0.2 WG_V2_ADDR=10.201.0.3

# row SCENARIO SETUP ROUND KEY=VALUE... : one line of runs.tsv
row() {
	local sc=$1 st=$2 r=$3; shift 3
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$sc" "$st" "$r" "$(cut -d' ' -f1 /proc/loadavg)" \
		"$(bench_busy_with | sed 's/ *$//; s/ /+/g; s/^$/-/')" "$*" >>"$RUNS_TSV"
	log "$sc $st r$r: $*"
}

# ---- the setups ----------------------------------------------------------------------
backend_block() { # NODE
	cat <<-EOF
	    server {
	        listen 0.0.0.0:$BE_PORT ssl backlog=4096;
	        server_name _;
	        ssl_certificate $TLS_PKI/srv.crt;
	        ssl_certificate_key $TLS_PKI/srv.key;
	        location = /name { default_type text/plain; return 200 "node=$1\n"; }
	    }
	EOF
}

xrelay_up() {
	for a in vm1 vm2; do tls_agent_key $a; done
	tls_relay_config "$(tls_tenant bench "vm1 vm2" "a.$DOM r.$DOM")"
	tls_agent_config vm1 "$RELAY4:$CTRL_PORT" "$(tls_service "a.$DOM" 127.0.0.1:$BE_PORT)" \
		"$(tls_service "r.$DOM" 127.0.0.1:$BE_PORT)"
	tls_agent_config vm2 "$RELAY4:$CTRL_PORT" "$(tls_service "r.$DOM" 127.0.0.1:$BE_PORT)"
	tls_relay_up && tls_agent_start vm1 "$NS_PRIV" && tls_agent_start vm2 "$NS_PRIV2" || return 1
	wait_for 20 answers a "$RELAY4" 443 priv
}
# relay_spawn : xrelayd again (relay_start without waiting)
relay_spawn() {
	local n=${XR_RELAYD_STARTS:-0}
	XR_RELAYD_STARTS=$((n + 1))
	xr_spawn "xrelayd.$n" "$NS_RELAY" "$XRELAYD" -c "$XR_RELAY_CONF"
	XR_RELAYD_PID=$XR_LAST_PID
	XR_RELAYD_LOG=$XR_STATE/xrelayd.$n.log
}

ssh_up() {
	mkdir -p "$S/ssh" "$S/ngs/logs"
	chmod 0700 "$S/ssh"
	ssh-keygen -q -t ed25519 -N '' -C xbf-host -f "$S/ssh/host_ed25519" || return 1
	ssh-keygen -q -t ed25519 -N '' -C xbf-priv -f "$S/ssh/id_ed25519" || return 1
	printf 'restrict,port-forwarding,permitlisten="127.0.0.1:%s" %s\n' "$SSH_FWD_PORT" \
		"$(cat "$S/ssh/id_ed25519.pub")" >"$S/ssh/authorized_keys"
	printf '[%s]:%s %s\n' "$RELAY4" "$SSH_PORT" "$(cut -d' ' -f1-2 "$S/ssh/host_ed25519.pub")" >"$S/ssh/known_hosts"
	cat >"$S/ssh/sshd_config" <<-EOF
	# sshd for the ssh -R setup of bench/failover.sh (relay namespace)
	Port $SSH_PORT
	ListenAddress $RELAY4
	HostKey $S/ssh/host_ed25519
	PidFile none
	AuthorizedKeysFile $S/ssh/authorized_keys
	StrictModes no
	UsePAM no
	PermitRootLogin prohibit-password
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	AllowTcpForwarding remote
	GatewayPorts no
	X11Forwarding no
	PermitTTY no
	ClientAliveInterval 5
	ClientAliveCountMax 3
	LogLevel INFO
	EOF
	cat >"$S/ngs/nginx.conf" <<-EOF
	# nginx stream on the relay's :$NGS_PORT: route by SNI to the ssh -R port
	load_module /usr/lib/nginx/modules/ngx_stream_module.so;
	daemon off;
	user root;
	worker_processes 1;
	pid $S/ngs/nginx.pid;
	error_log $S/ngs/logs/error.log warn;
	events { worker_connections 4096; }
	stream {
	    map \$ssl_preread_server_name \$up {
	        a.$DOM 127.0.0.1:$SSH_FWD_PORT;
	        default 127.0.0.1:1;
	    }
	    server {
	        listen $RELAY4:$NGS_PORT;
	        ssl_preread on;
	        preread_timeout 5s;
	        proxy_pass \$up;
	        proxy_connect_timeout 5s;
	    }
	}
	EOF
	[ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 0755 /run/sshd; }
	sshd_spawn
	wait_for 10 port_listens "$NS_RELAY" $SSH_PORT || { log "sshd: $(tail -n3 "$XR_STATE"/sshd*.log)"; return 1; }
	xr_spawn autossh "$NS_PRIV" env AUTOSSH_GATETIME=0 AUTOSSH_LOGFILE="$XR_STATE/autossh.msgs" \
		autossh -M 0 -N -T -F /dev/null -p $SSH_PORT -i "$S/ssh/id_ed25519" \
		-o BatchMode=yes -o IdentitiesOnly=yes -o UserKnownHostsFile="$S/ssh/known_hosts" \
		-o StrictHostKeyChecking=yes -o ServerAliveInterval=5 -o ServerAliveCountMax=3 \
		-o ExitOnForwardFailure=yes -o ConnectTimeout=5 \
		-R 127.0.0.1:$SSH_FWD_PORT:127.0.0.1:$BE_PORT "root@$RELAY4"
	AUTOSSH_PID=$XR_LAST_PID
	wait_for 15 port_listens "$NS_RELAY" $SSH_FWD_PORT || { log "no ssh -R forward: $(tail -n3 "$XR_STATE/autossh.msgs")"; return 1; }
	xr_spawn relay-nginx "$NS_RELAY" nginx -p "$S/ngs" -c "$S/ngs/nginx.conf" -e "$S/ngs/logs/error.log"
	wait_for 10 port_listens "$NS_RELAY" $NGS_PORT || { log "relay nginx: $(tail -n3 "$S/ngs/logs/error.log")"; return 1; }
	wait_for 20 answers a "$RELAY4" $NGS_PORT priv
}
SSHD_N=0
sshd_spawn() {
	xr_spawn "sshd.$SSHD_N" "$NS_RELAY" /usr/sbin/sshd -D -e -f "$S/ssh/sshd_config"
	SSHD_PID=$XR_LAST_PID
	SSHD_N=$((SSHD_N + 1))
}
# the relay namespace's sshd processes (listener and sessions: all ours)
sshd_pids() {
	local p
	for p in $(ip netns pids "$NS_RELAY" 2>/dev/null); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sshd ] && echo "$p"
	done
}
# the ssh client autossh runs (its child)
ssh_client_pid() { pgrep -P "$AUTOSSH_PID" -x ssh | head -n1; }

hap_up() {
	wg_key fo_relay; wg_key fo_priv; wg_key fo_priv2
	wg_up "$NS_RELAY" "$WG_R_IF" $WG_R_ADDR/24 "$(wg_keyfile fo_relay)" "$WG_PORT"
	wg_peer "$NS_RELAY" "$WG_R_IF" "$(wg_pub fo_priv)" $WG_V_ADDR/32
	wg_peer "$NS_RELAY" "$WG_R_IF" "$(wg_pub fo_priv2)" $WG_V2_ADDR/32
	wg_priv_up priv || return 1
	wg_priv_up priv2 || return 1
	cat >"$S/haproxy.cfg" <<-EOF
	# haproxy on the relay's :$HAP_PORT: r.$DOM over WireGuard to two replicas
	global
	    maxconn 4096
	    stats socket $S/haproxy.sock mode 600 level admin
	defaults
	    mode tcp
	    timeout connect 5s
	    timeout client 30s
	    timeout server 30s
	    retries 3
	    option redispatch
	frontend tls
	    bind $RELAY4:$HAP_PORT
	    tcp-request inspect-delay 5s
	    tcp-request content accept if { req.ssl_hello_type 1 }
	    use_backend rep if { req.ssl_sni -i r.$DOM }
	backend rep
	    balance roundrobin
	    default-server check inter 1s fall 3 rise 2
	    server priv $WG_V_ADDR:$BE_PORT
	    server priv2 $WG_V2_ADDR:$BE_PORT
	EOF
	xr_spawn haproxy "$NS_RELAY" haproxy -f "$S/haproxy.cfg" -db
	wait_for 10 port_listens "$NS_RELAY" $HAP_PORT || { log "haproxy: $(tail -n3 "$XR_STATE/haproxy.log")"; return 1; }
	wait_for 20 both_serve haproxy
}
declare -A WGPID=()
wg_priv_up() { # priv|priv2 : that host's wireguard-go, dialing out to the relay
	local ns=$NS_PRIV ifn=$WG_V_IF addr=$WG_V_ADDR key=fo_priv
	[ "$1" = priv2 ] && { ns=$NS_PRIV2 ifn=$WG_V2_IF addr=$WG_V2_ADDR key=fo_priv2; }
	rm -f "/var/run/wireguard/$ifn.sock"   # left by a SIGKILLed wireguard-go of ours
	wg_up "$ns" "$ifn" $addr/24 "$(wg_keyfile $key)" "$WG_PORT"
	WGPID[$1]=$XR_LAST_PID
	wg_peer "$ns" "$ifn" "$(wg_pub fo_relay)" $WG_R_ADDR/32 "$RELAY4:$WG_PORT" 25
	wait_for 15 ping_ok "$ns" $WG_R_ADDR 1
}
# hap_status SERVER : UP / DOWN / ... of the server in backend rep
hap_is() { [ "$(hap_status priv2)" = "$1" ]; }   # priv2 in backend rep
hap_not() { [ "$(hap_status priv2)" != "$1" ]; }
hap_status() {
	"$XR_PY" - "$S/haproxy.sock" "$1" <<-'EOF'
	import socket, sys
	s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
	s.sendall(b"show stat\n"); buf = b""
	while True:
	    b = s.recv(65536)
	    if not b: break
	    buf += b
	lines = buf.decode().splitlines()
	hdr = lines[0].lstrip("# ").split(",")
	for l in lines[1:]:
	    f = dict(zip(hdr, l.split(",")))
	    if f.get("pxname") == "rep" and f.get("svname") == sys.argv[2]:
	        print(f.get("status", "")); break
	EOF
}

# ---- probes ------------------------------------------------------------------------------
# answers HOST ADDR PORT NODE : https://HOST.$DOM:PORT/name via ADDR answers node=NODE
answers() {
	local out
	out=$(nsx "$NS_PUB1" curl -k -sS --max-time 2 --resolve "$1.$DOM:$3:$2" "https://$1.$DOM:$3/name" 2>/dev/null)
	[ "$out" = "node=$4" ]
}
# both_serve xrelay|haproxy : both replicas answered among 8 requests for r
both_serve() {
	local port=443 out p1=0 p2=0
	[ "$1" = haproxy ] && port=$HAP_PORT
	for _ in $(seq 8); do
		out=$(nsx "$NS_PUB1" curl -k -sS --max-time 2 --resolve "r.$DOM:$port:$RELAY4" "https://r.$DOM:$port/name" 2>/dev/null)
		case $out in node=priv) p1=1 ;; node=priv2) p2=1 ;; esac
	done
	[ $p1 = 1 ] && [ $p2 = 1 ]
}
agent_state() { agent_field "$1" state; }
agent_healthy() { [ "$(agent_state "$1")" = healthy ]; }
agent_not_healthy() { [ "$(agent_state "$1")" != healthy ]; }
not_listening() { ! port_listens "$@"; }

# poll_until LIMIT_MS T0_MS VAR CMD... : poll CMD every 50 ms until it holds;
# VAR = ms since T0 (or -1 at the limit)
poll_until() {
	local limit=$1 t0=$2 var=$3 now; shift 3
	while :; do
		now=$(ms_now)
		if "$@" >/dev/null 2>&1; then printf -v "$var" '%s' $((now - t0)); return 0; fi
		[ $((now - t0)) -ge "$limit" ] && { printf -v "$var" '%s' -1; return 1; }
		sleep 0.05
	done
}

# ---- (a)/(b) restart ---------------------------------------------------------------------------
restart_xrelay() { # ROUND
	local t0 t_l=-1 t_ag=-1 t_ok=-1 now
	relay_kill KILL
	sleep "$DOWN_S"
	t0=$(ms_now)
	relay_spawn
	while :; do
		now=$(ms_now)
		[ "$t_l" = -1 ] && port_listens "$NS_RELAY" 443 && t_l=$((now - t0))
		[ "$t_ag" = -1 ] && agent_listed vm1 && t_ag=$((now - t0))
		answers a "$RELAY4" 443 priv && { t_ok=$(($(ms_now) - t0)); break; }
		[ $((now - t0)) -ge 60000 ] && break
		sleep 0.05
	done
	[ "$t_ag" = -1 ] && agent_listed vm1 && t_ag=$t_ok
	row restart xrelay "$1" "serve_ms=$t_ok listen_ms=$t_l session_ms=$t_ag down_s=$DOWN_S"
	wait_for 20 both_serve xrelay || log "xrelay: replicas not both back after the restart"
}
restart_ssh() { # ROUND
	local t0 t_l=-1 t_f=-1 t_ok=-1 now p
	for p in $(sshd_pids); do kill -KILL "$p"; done
	wait "$SSHD_PID" 2>/dev/null
	wait_for 5 test -z "$(sshd_pids)" || log "sshd still alive after SIGKILL: $(sshd_pids)"
	sleep "$DOWN_S"
	t0=$(ms_now)
	sshd_spawn
	while :; do
		now=$(ms_now)
		[ "$t_l" = -1 ] && port_listens "$NS_RELAY" $SSH_PORT && t_l=$((now - t0))
		[ "$t_f" = -1 ] && port_listens "$NS_RELAY" $SSH_FWD_PORT && t_f=$((now - t0))
		answers a "$RELAY4" $NGS_PORT priv && { t_ok=$(($(ms_now) - t0)); break; }
		[ $((now - t0)) -ge 120000 ] && break
		sleep 0.05
	done
	[ "$t_f" = -1 ] && [ "$t_ok" != -1 ] && t_f=$t_ok
	row restart ssh "$1" "serve_ms=$t_ok listen_ms=$t_l session_ms=$t_f down_s=$DOWN_S"
}

# ---- (c) dead peer ------------------------------------------------------------------------------
deadpeer_xrelay() { # ROUND
	local t0 t_gone t_back pid=${AGENT_PID[vm1]}
	t0=$(ms_now)
	kill -STOP "$pid"
	poll_until 60000 "$t0" t_gone agent_not_listed vm1
	kill -CONT "$pid"
	t0=$(ms_now)
	poll_until 60000 "$t0" t_back answers a "$RELAY4" 443 priv
	row deadpeer xrelay "$1" "detect_ms=$t_gone back_ms=$t_back interval_ms=$HB_MS"
}
deadpeer_ssh() { # ROUND
	local t0 t_gone t_back pid
	pid=$(ssh_client_pid)
	[ -n "$pid" ] || { log "no ssh client under autossh"; row deadpeer ssh "$1" "detect_ms=-1 back_ms=-1 interval_ms=5000"; return; }
	t0=$(ms_now)
	kill -STOP "$pid"
	poll_until 90000 "$t0" t_gone not_listening "$NS_RELAY" $SSH_FWD_PORT
	kill -CONT "$pid"
	t0=$(ms_now)
	poll_until 120000 "$t0" t_back answers a "$RELAY4" $NGS_PORT priv
	row deadpeer ssh "$1" "detect_ms=$t_gone back_ms=$t_back interval_ms=5000"
}

# ---- (d) replica failover under load ----------------------------------------------------------------
replica_round() { # SETUP FAULT ROUND
	local setup=$1 fault=$2 r=$3 port=443 out lpid t_f t_d res sig=KILL pid tag
	[ "$setup" = haproxy ] && port=$HAP_PORT
	[ "$fault" = stop ] && sig=STOP
	tag=$setup-$fault-r$r
	wait_for 30 both_serve "$setup" || log "$tag: replicas not both serving before the round"
	out=$RAW/load-$tag.txt
	nsx "$NS_PUB1" timeout $((LOAD_S + REQ_TIMEOUT + 30)) "$XR_PY" "$BENCH_DIR/failover/tlsload.py" \
		--addr "$RELAY4" --port $port --sni "r.$DOM" --workers "$WORKERS" --secs "$LOAD_S" \
		--timeout "$REQ_TIMEOUT" --out "$out" >"$RAW/result-$tag.txt" 2>&1 &
	lpid=$!
	sleep "$KILL_AT"
	if [ "$setup" = xrelay ]; then pid=${AGENT_PID[vm2]}; else pid=${WGPID[priv2]}; fi
	t_f=$(ms_now)
	kill -s "$sig" "$pid"
	if [ "$setup" = xrelay ]; then
		poll_until 40000 "$t_f" t_d agent_not_healthy vm2
	else
		poll_until 40000 "$t_f" t_d hap_not UP
	fi
	wait "$lpid"
	res=$(grep '^RESULT' "$RAW/result-$tag.txt" | tail -n1)
	local after after_det
	after=$(awk -v t="$t_f" '$1 >= t && $3 == "fail"' "$out" | wc -l)
	after_det=-1
	[ "$t_d" != -1 ] && after_det=$(awk -v t=$((t_f + t_d)) '$1 >= t && $3 == "fail"' "$out" | wc -l)
	local reasons
	reasons=$(awk '$3 == "fail" { n[$4]++ } END { for (k in n) printf "%s:%d,", k, n[k]; if (!length(n)) printf "none" }' "$out")
	row "replica-$fault" "$setup" "$r" "${res#RESULT } fail_after_fault=$after fail_after_detect=$after_det detect_ms=$t_d reasons=${reasons%,}"
	# repair for the next round
	if [ "$fault" = stop ]; then
		kill -CONT "$pid"
	elif [ "$setup" = xrelay ]; then
		wait "$pid" 2>/dev/null
		tls_agent_start vm2 "$NS_PRIV2" || log "vm2 did not start again"
	else
		wait "$pid" 2>/dev/null
		wg_priv_up priv2 || log "wireguard-go on priv2 did not come back"
	fi
	if [ "$setup" = xrelay ]; then
		wait_for 40 agent_healthy vm2 || log "vm2 not healthy again: $(agent_state vm2)"
	else
		wait_for 40 hap_is UP || log "haproxy: priv2 not UP again: $(hap_status priv2)"
	fi
	wait_for 30 both_serve "$setup" || log "$tag: replicas not both serving after the repair"
}

# ---- run --------------------------------------------------------------------------------------
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "commit: $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet -- user bpf include 2>/dev/null || echo ' (source tree dirty)'); binaries copied from build/ (xrelayd built $(date -u -r "$ROOT/build/xrelayd" '+%Y-%m-%d %H:%M UTC'))"
	echo "kernel: $(uname -r)"
	echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) x $(nproc)"
	echo "versions: $(ssh -V 2>&1 | cut -d, -f1), autossh $(autossh -V 2>&1 | awk '{ print $2; exit }'), $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v 2>/dev/null | awk 'NR == 1 { print "haproxy " $3 }'), wireguard-go $(wireguard-go --version 2>&1 | awk '{ print $2; exit }')"
	echo "parameters: ROUNDS=$ROUNDS DOWN_S=$DOWN_S HB_MS=$HB_MS WORKERS=$WORKERS LOAD_S=$LOAD_S KILL_AT=$KILL_AT REQ_TIMEOUT=$REQ_TIMEOUT REPLICA_FAULTS=\"$REPLICA_FAULTS\" SCENARIOS=\"$SCENARIOS\""
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "others busy at start: ${BUSY_AT_START:-none}${BUSY_AT_START:+ (waited $waited s)}"
} >"$FO_OUT/env.txt"
sed 's/^/# /' "$FO_OUT/env.txt" >&2
printf 'scenario\tsetup\tround\tload1\tothers\tvalues\n' >"$RUNS_TSV"

save_logs() {
	local f
	for f in "$XR_STATE"/*.log "$XR_STATE"/autossh.msgs "$XR_RELAY_CONF" "$S/haproxy.cfg" "$S/ssh/sshd_config" \
		"$XR_STATE"/agent-*/agent.yaml; do
		[ -f "$f" ] || continue
		case $f in */agent-*/agent.yaml) cp "$f" "$FO_OUT/logs/$(basename "$(dirname "$f")").yaml" ;;
		*) tail -c 2000000 "$f" >"$FO_OUT/logs/${f##*/}" ;; esac
	done
	return 0
}
tls_topo_up
# shellcheck disable=SC2154 # rc is assigned inside the trap
trap 'rc=$?; save_logs; (exit $rc); topo_down' EXIT
mkdir -p "$S"
for ns in "$NS_PUB1" "$NS_RELAY" "$NS_PRIV" "$NS_PRIV2"; do
	nsx "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"
done
tls_leaf srv "a.$DOM" "r.$DOM"
nginx_start be1 "$NS_PRIV" $BE_PORT "$(backend_block priv)"
nginx_start be2 "$NS_PRIV2" $BE_PORT "$(backend_block priv2)"
xrelay_up || die "xrelay did not come up"
log "xrelay up"
ssh_up || die "ssh -R + nginx did not come up"
log "ssh -R + nginx up"
if [[ " $SCENARIOS " == *" replica "* ]]; then
	hap_up || die "wireguard-go + haproxy did not come up"
	log "wireguard-go + haproxy up"
fi
T0=$SECONDS
for r in $(seq "$ROUNDS"); do
	for sc in $SCENARIOS; do
		case $sc in
		restart) restart_xrelay "$r"; restart_ssh "$r" ;;
		deadpeer) deadpeer_xrelay "$r"; deadpeer_ssh "$r" ;;
		replica)
			for f in $REPLICA_FAULTS; do
				replica_round xrelay "$f" "$r"
				replica_round haproxy "$f" "$r"
			done ;;
		esac
	done
done
log "measured in $((SECONDS - T0)) s"
trap - EXIT
save_logs
topo_down
"$XR_PY" "$BENCH_DIR/failover/summary.py" "$FO_OUT" >"$FO_OUT/summary.md" || die "summary.py failed"
cat "$FO_OUT/summary.md"
log "results: $FO_OUT"
