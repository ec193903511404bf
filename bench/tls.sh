#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tls.sh - the TLS passthrough benchmark: a public client reaches a TLS
# service (nginx) on a private host behind NAT, through three kinds of relay
# and without one, side by side in one run, in the namespace topology of scripts/lib/netns.sh.
#
#   ssh            ssh -R (autossh, ServerAliveInterval, ExitOnForwardFailure)
#                  from priv to an sshd in the relay namespace; nginx `stream`
#                  with ssl_preread on the relay's :443 routes by SNI to the
#                  forwarded port 127.0.0.1:$SSH_FWD_PORT
#   wg             a wireguard-go tunnel priv -> relay (priv dials out to the
#                  relay's UDP 51820, keepalive 25; a plain wireguard-go
#                  endpoint on the relay, not xrelayd) and haproxy (tcp mode,
#                  req.ssl_sni) on the relay's :443 routing to priv's tunnel
#                  address
#   direct         no relay (the ceiling): the NAT router forwards its public
#                  198.18.0.2:443 to priv:8443 (DNAT + one FORWARD accept),
#                  i.e. the port forward a host behind NAT would need without
#                  a relay; same backend nginx, one hop less
#   xrelay-uring   xrelayd (tls.listen :443, control :7443, tls.mover uring)
#   xrelay-splice  and xrelay-agent on priv (dials out to :7443) -> 127.0.0.1:8443
#                  (the same with tls.mover splice)
#
# The backend is the same for all: nginx (TLS 1.3, ECDSA P-256 self-signed
# certificate for $TLS_NAME) on priv, 0.0.0.0:8443, serving /big ($BULK_MIB MiB)
# and /tiny (16 bytes).  The clients run on pub1 and use the bench hostname
# for SNI and Host, connecting to the relay address (curl --resolve; wrk via
# bench/tls/wrk.lua) -- or to the router's address for "direct".
#
# Per setup and round (rounds interleave the setups, so that a burst of
# load elsewhere hits them alike):
#   bulk       curl -k of /big, 1 stream, then $STREAMS in parallel
#              (each at most $BULK_MAX s): MB/s (10^6 bytes); relay CPU and
#              machine CPU per GB (10^9 bytes) moved over both transfers
#   conn/s     wrk -H 'Connection: close' on /tiny, $CONNS connections,
#              $SECS s: new TLS connections (= requests) per second, errors,
#              relay CPU-ms per 1000 connections
#   keep-alive wrk --latency on /tiny, $CONNS connections, $SECS s:
#              requests/s, p50 and p99 latency
# In the first IDLE_RUNS rounds (default 1: the figure varied by under 1%
# over 3 rounds, and ssh needs a minute to open them): $IDLE_N idle TLS
# connections (bench/tls/idleconn: handshake completed with the backend,
# then silent) held open through the relay: RSS and PSS of the relay-side
# processes before and with them (not for direct: no relay process).  A
# relay process needs 2 descriptors per connection (more with pipes); when
# the hard open-files limit cannot be raised (containers without
# CAP_SYS_RESOURCE), IDLE_N shrinks to fit 2 per connection, and what fails
# beyond that is reported (idleconn gives up after 15 s without a completed
# handshake).
#
# Relay-side processes = every process in the relay namespace (the bench
# runs nothing else there): sshd (listener and session) + nginx for ssh,
# wireguard-go + haproxy for wg, xrelayd for xrelay-*.  Their CPU is
# utime+stime from /proc/PID/stat (all threads, io_uring workers included);
# softirq work the kernel does outside their context is not in it -- the
# machine CPU column (busy jiffies of /proc/stat, everything: client,
# router, backend) is.
#
# A setup that does not come up is skipped with one line saying why, in
# that round and every later one; the rest go on.
#
# Knobs (environment):
#   RUNS=3 SECS=10 CONNS=8 THREADS=2 STREAMS=4 BULK_MIB=256 BULK_MAX=20
#   IDLE_N=10000 IDLE_RUNS=1 IDLE_INFLIGHT=64 XRELAY_POOL=4 MAX_BG=0.3 (CPUs
#   busy elsewhere before a measurement waits, up to 20 s)
#   SETUPS="ssh wg direct xrelay-uring xrelay-splice" TLS_NAME=bench.xrelay.test
#   TLS_OUT=build/bench/tls-results-<date>   XR_PREFIX=xb
#   WAIT_OTHERS=600 (s to wait at start while other runs of the topology,
#   i.e. other people's tests, are active)  LOG_CAP=20000000 (bytes per log kept)
# Many short connections: tcp_tw_reuse=1 and a wide port range in pub1, the
# relay and priv (namespace sysctls).  For xrelay-* the XDP program is not
# attached (it is the WireGuard path, the TLS tests do not attach it either;
# on veth it would tax every TCP packet of every setup that had it).
# Results: $TLS_OUT/{env.txt,runs.tsv,idle.tsv,summary.md}, logs/ (capped),
# raw/ (wrk output, per-thread relay CPU around the bulk phase, xrelayctl
# stats -j after each xrelay round, idleconn output).
# Everything it starts is torn down on exit (netns.sh's trap).
set -u
BENCH_DIR=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
export XR_PREFIX=${XR_PREFIX:-xb}
. "$BENCH_DIR/../scripts/lib/netns.sh"

RUNS=${RUNS:-3}
SECS=${SECS:-10}
CONNS=${CONNS:-8}
THREADS=${THREADS:-2}
STREAMS=${STREAMS:-4}
BULK_MIB=${BULK_MIB:-256}
BULK_MAX=${BULK_MAX:-20}
IDLE_N=${IDLE_N:-10000}
IDLE_RUNS=${IDLE_RUNS:-1}
IDLE_INFLIGHT=${IDLE_INFLIGHT:-64}
XRELAY_POOL=${XRELAY_POOL:-4}
MAX_BG=${MAX_BG:-0.3}
SETUPS=${SETUPS:-ssh wg direct xrelay-uring xrelay-splice}
TLS_NAME=${TLS_NAME:-bench.xrelay.test}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
TLS_OUT=${TLS_OUT:-$XR_BUILD/bench/tls-results-$STAMP}
PY=/usr/bin/python3
HZ=$(getconf CLK_TCK)
XRELAY_AGENT=${XRELAY_AGENT:-$XR_BUILD/xrelay-agent}
IDLECONN=$XR_BUILD/bench/idleconn
WRK_LUA=$BENCH_DIR/tls/wrk.lua

SSH_PORT=2222          # sshd in the relay namespace
SSH_FWD_PORT=9001      # ssh -R lands on the relay's 127.0.0.1:9001
BACKEND_PORT=8443      # nginx on priv
WG_R_IF=${XR_PREFIX}wr WG_V_IF=${XR_PREFIX}wv   # wireguard-go interfaces (names are global)
WG_R_ADDR=10.201.0.1 WG_V_ADDR=10.201.0.2

log() { printf '# [%s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

[ "$(id -u)" = 0 ] || { echo "tls.sh: must run as root" >&2; exit 2; }
for t in nginx haproxy sshd ssh ssh-keygen autossh wrk curl openssl wireguard-go wg iptables cc $PY; do
	command -v "$t" >/dev/null || { echo "tls.sh: $t missing" >&2; exit 1; }
done
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] ||
	{ echo "tls.sh: /usr/lib/nginx/modules/ngx_stream_module.so missing (libnginx-mod-stream)" >&2; exit 1; }
[ -c /dev/net/tun ] || { echo "tls.sh: /dev/net/tun missing (wireguard-go)" >&2; exit 1; }
# another run with this prefix would be torn down by topo_up
if [ -f "$XR_STATE/owner" ]; then
	read -r opid ost <"$XR_STATE/owner"
	xr_alive "$opid" "$ost" && { echo "tls.sh: a run with prefix $XR_PREFIX is active (pid $opid); set XR_PREFIX" >&2; exit 1; }
fi

# other runs of the namespace topology (other people's tests) share the
# CPUs: wait for them (at most WAIT_OTHERS s), then measure anyway
WAIT_OTHERS=${WAIT_OTHERS:-600}
others_active() {
	local d opid ost
	for d in "$XR_STATE_BASE"/*/; do
		d=${d%/}
		if [ ! -f "$d/owner" ] || [ "$d" = "$XR_STATE" ]; then continue; fi
		read -r opid ost <"$d/owner"
		xr_alive "$opid" "$ost" && printf '%s ' "${d##*/}"
	done
}
waited=0
while [ -n "$(others_active)" ] && [ $waited -lt "$WAIT_OTHERS" ]; do
	[ $waited = 0 ] && log "other runs active ($(others_active)): waiting up to $WAIT_OTHERS s"
	sleep 5; waited=$((waited + 5))
done
[ -n "$(others_active)" ] && log "other runs still active ($(others_active)): measuring anyway"

mkdir -p "$XR_BUILD/bench" "$TLS_OUT/raw"
cc -O2 -g -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$IDLECONN" \
	"$BENCH_DIR/tls/idleconn.c" -lssl -lcrypto || die "building idleconn failed"

# IDLE_N idle connections: two sockets each in a relay process (client side
# and backend side) and in the agent; every process started from here
# inherits the limit.  Raising the hard limit needs CAP_SYS_RESOURCE: without
# it (containers), IDLE_N shrinks to what fits under the hard limit.
FD_NEED=$((2 * IDLE_N + 256))
[ "$FD_NEED" -lt 65536 ] && FD_NEED=65536
if ! ulimit -n "$FD_NEED" 2>/dev/null; then
	FD_HARD=$(ulimit -Hn)
	ulimit -n "$FD_HARD"
	if [ $((2 * IDLE_N + 256)) -gt "$FD_HARD" ]; then
		IDLE_NOTE="IDLE_N lowered from $IDLE_N to $(((FD_HARD - 256) / 2)): open files are capped at $FD_HARD (hard limit, no CAP_SYS_RESOURCE to raise it) and a relay process holds 2 sockets per connection"
		IDLE_N=$(((FD_HARD - 256) / 2))
		log "$IDLE_NOTE"
	fi
fi
IDLE_NOTE=${IDLE_NOTE:-}

RUNS_TSV=$TLS_OUT/runs.tsv
IDLE_TSV=$TLS_OUT/idle.tsv
RAW=$TLS_OUT/raw   # wrk output, per-thread CPU, xrelayctl stats, idleconn logs

# ---- machine and process CPU --------------------------------------------------
cpu_busy() { awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat; }
quiet_wait() {
	local b0 b1 waited=0
	while :; do
		b0=$(cpu_busy); sleep 0.5; b1=$(cpu_busy)
		BG=$(awk -v d=$((b1 - b0)) -v hz="$HZ" 'BEGIN { printf "%.2f", d / hz / 0.5 }')
		awk -v b="$BG" -v m="$MAX_BG" 'BEGIN { exit !(b <= m) }' && break
		[ $waited -ge 20 ] && { log "background still $BG CPUs busy after 20 s; measuring anyway"; break; }
		[ $waited = 0 ] && log "background $BG CPUs busy (others' tests?): waiting"
		sleep 2; waited=$((waited + 3))
	done
}
relay_pids() { ip netns pids "$NS_RELAY" 2>/dev/null; }
# utime+stime (ticks) of one process, all its threads
proc_ticks() {
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
	s=${s##*) }
	set -- $s
	echo $(( ${12} + ${13} ))
}
relay_ticks() {
	local t=0 p
	for p in $(relay_pids); do t=$((t + $(proc_ticks "$p"))); done
	echo $t
}
# relay_threads : "pid comm/thread-comm ticks" of every relay-side thread (for
# the record: which threads did the work, e.g. io_uring workers)
relay_threads() {
	local p t s
	for p in $(relay_pids); do
		for t in /proc/"$p"/task/*; do
			s=$(cat "$t/stat" 2>/dev/null) || continue
			s=${s##*) }
			set -- $s
			printf '%s %s/%s %s\n' "$p" "$(cat "/proc/$p/comm" 2>/dev/null)" "$(cat "$t/comm" 2>/dev/null)" $(( ${12} + ${13} ))
		done
	done
}
# RSS and PSS (kB) summed over the relay-side processes: "rss pss nprocs"
relay_mem() {
	local rss=0 pss=0 n=0 p r q
	for p in $(relay_pids); do
		r=$(awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
		q=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
		rss=$((rss + ${r:-0})); pss=$((pss + ${q:-0})); n=$((n + 1))
	done
	echo "$rss $pss $n"
}
relay_procs() {
	local p
	for p in $(relay_pids); do printf '%s(%s) ' "$(cat "/proc/$p/comm" 2>/dev/null)" "$p"; done
}
# relay_procs_mem : "comm:RSS_MB" of every relay-side process
relay_procs_mem() {
	local p r
	for p in $(relay_pids); do
		r=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$p/status" 2>/dev/null)
		printf '%s:%sMB ' "$(cat "/proc/$p/comm" 2>/dev/null)" "${r:-?}"
	done
}

# ---- processes a setup started ---------------------------------------------------
SETUP_PIDS=()
spawn() { # NAME NS CMD... : xr_spawn, remembered for this setup's teardown
	xr_spawn "$@"
	SETUP_PIDS+=("$XR_LAST_PID")
}
stop_pid() { # PID : TERM, 3 s grace, KILL, reap
	local st
	st=$(awk -v p="$1" '$1 == p { print $2 }' "$XR_STATE/pids" | tail -n1)
	[ -n "$st" ] && xr_stop_pid "$1" "$st"
	wait "$1" 2>/dev/null
	return 0
}
stop_setup_pids() {
	local i
	for ((i = ${#SETUP_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${SETUP_PIDS[$i]}"; done
	SETUP_PIDS=()
	# the relay namespace must be empty before the next setup (its CPU and
	# memory are read from whatever runs there); stragglers are ours
	if ! wait_for 5 test -z "$(relay_pids)"; then
		log "left in the relay namespace: $(relay_procs)-- killing"
		local p
		for p in $(relay_pids); do kill -KILL "$p" 2>/dev/null; done
		wait_for 3 test -z "$(relay_pids)"
	fi
}
lastlines() { # N FILE... : the last N lines of the files, on one line
	local n=$1; shift
	tail -q -n "$n" "$@" 2>/dev/null | tr '\n' ' '
}
listening() { # NS PORT : a TCP listener on PORT
	[ -n "$(nsx "$1" ss -ltnH "sport = :$2" 2>/dev/null)" ]
}

# ---- clients (pub1) ------------------------------------------------------------------
TARGET=   # the address pub1 connects to for the current setup
curl_get() { # PATH MAXTIME : prints "bytes secs http_code"
	nsx "$NS_PUB1" curl -k -sS -o /dev/null --max-time "$2" --resolve "$TLS_NAME:443:$TARGET" \
		-w '%{size_download} %{time_total} %{http_code}\n' "https://$TLS_NAME$1" 2>/dev/null ||
		true
}
reachable() { # the tiny file comes back through the current setup
	[ "$(curl_get /tiny 3 | awk '{ print $3 }')" = 200 ]
}
wrk_run() { # OUTFILE EXTRA_ARGS... : prints the RESULT line
	local out=$1; shift
	XB_WRK_ADDR=$TARGET XB_WRK_PORT=443 nsx "$NS_PUB1" timeout $((SECS + 30)) \
		wrk -t"$THREADS" -c"$CONNS" -d"${SECS}s" --timeout 5s -s "$WRK_LUA" "$@" \
		"https://$TLS_NAME/tiny" >"$out" 2>&1
	grep '^RESULT ' "$out" | tail -n1
}
kv() { # KEY LINE : the value of KEY=... in LINE
	local k=$1 x; shift
	# shellcheck disable=SC2048 # word-splits the line on purpose
	for x in $*; do [ "${x%%=*}" = "$k" ] && { echo "${x#*=}"; return; }; done
	echo 0
}

# ---- the backend (priv) ----------------------------------------------------------------
S=$XR_STATE/tls   # this bench's files under the run's state dir
backend_up() {
	mkdir -p "$S/www" "$S/backend/logs" "$S/backend/tmp"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=$TLS_NAME" -addext "subjectAltName=DNS:$TLS_NAME" \
		-keyout "$S/backend/cert.key" -out "$S/backend/cert.pem" >/dev/null 2>&1 ||
		die "openssl: cannot make the backend certificate"
	truncate -s $((BULK_MIB * 1024 * 1024)) "$S/www/big"
	printf 'tiny-0123456789\n' >"$S/www/tiny"
	cat >"$S/backend/nginx.conf" <<-EOF
	# the private service, the same for every setup
	daemon off;
	user root;   # the state dir is 0700
	worker_processes auto;
	worker_rlimit_nofile 262144;
	pid $S/backend/nginx.pid;
	error_log $S/backend/logs/error.log warn;
	events { worker_connections 65536; }
	http {
	    access_log off;
	    default_type application/octet-stream;
	    sendfile on;
	    client_body_temp_path $S/backend/tmp/body;
	    proxy_temp_path $S/backend/tmp/proxy;
	    fastcgi_temp_path $S/backend/tmp/fastcgi;
	    uwsgi_temp_path $S/backend/tmp/uwsgi;
	    scgi_temp_path $S/backend/tmp/scgi;
	    keepalive_timeout 600s;
	    keepalive_requests 100000000;
	    client_header_timeout 600s;
	    ssl_protocols TLSv1.2 TLSv1.3;
	    server {
	        listen 0.0.0.0:$BACKEND_PORT ssl backlog=4096;
	        server_name $TLS_NAME;
	        ssl_certificate $S/backend/cert.pem;
	        ssl_certificate_key $S/backend/cert.key;
	        root $S/www;
	        location / { }
	    }
	}
	EOF
	xr_spawn backend-nginx "$NS_PRIV" nginx -p "$S/backend" -c "$S/backend/nginx.conf" \
		-e "$S/backend/logs/error.log"
	wait_for 10 listening "$NS_PRIV" $BACKEND_PORT ||
		die "backend nginx did not listen: $(lastlines 5 "$S/backend/logs/error.log")"
	local got
	got=$(nsx "$NS_PRIV" curl -k -sS -o /dev/null -w '%{http_code}' --resolve "$TLS_NAME:$BACKEND_PORT:127.0.0.1" \
		"https://$TLS_NAME:$BACKEND_PORT/tiny")
	[ "$got" = 200 ] || die "backend nginx does not serve /tiny (HTTP $got)"
}

# ---- setup: ssh -R + nginx stream ssl_preread ------------------------------------------
ssh_files() {
	[ -f "$S/ssh/sshd_config" ] && return 0
	mkdir -p "$S/ssh" "$S/relay-nginx/logs"
	chmod 0700 "$S/ssh"
	ssh-keygen -q -t ed25519 -N '' -C xb-host -f "$S/ssh/host_ed25519" || return 1
	ssh-keygen -q -t ed25519 -N '' -C xb-priv -f "$S/ssh/id_ed25519" || return 1
	printf 'restrict,port-forwarding,permitlisten="127.0.0.1:%s" %s\n' "$SSH_FWD_PORT" \
		"$(cat "$S/ssh/id_ed25519.pub")" >"$S/ssh/authorized_keys"
	printf '[%s]:%s %s\n' "$RELAY4" "$SSH_PORT" "$(cut -d' ' -f1-2 "$S/ssh/host_ed25519.pub")" >"$S/ssh/known_hosts"
	cat >"$S/ssh/sshd_config" <<-EOF
	# sshd for the ssh -R setup of bench/tls.sh (relay namespace)
	Port $SSH_PORT
	ListenAddress $RELAY4
	HostKey $S/ssh/host_ed25519
	PidFile $S/ssh/sshd.pid
	AuthorizedKeysFile $S/ssh/authorized_keys
	StrictModes no
	UsePAM no
	PermitRootLogin prohibit-password
	PasswordAuthentication no
	KbdInteractiveAuthentication no
	AllowTcpForwarding remote
	GatewayPorts no
	X11Forwarding no
	AllowAgentForwarding no
	PermitTTY no
	PrintMotd no
	ClientAliveInterval 30
	LogLevel INFO
	EOF
	cat >"$S/relay-nginx/nginx.conf" <<-EOF
	# nginx stream on the relay's :443: route by SNI to the ssh -R port
	load_module /usr/lib/nginx/modules/ngx_stream_module.so;
	daemon off;
	user root;   # the state dir is 0700
	worker_processes auto;
	worker_rlimit_nofile 262144;
	pid $S/relay-nginx/nginx.pid;
	error_log $S/relay-nginx/logs/error.log warn;
	events { worker_connections 65536; }
	stream {
	    log_format basic '\$remote_addr [\$time_local] \$ssl_preread_server_name '
	                     '\$status \$bytes_sent \$bytes_received \$session_time';
	    access_log $S/relay-nginx/logs/access.log basic buffer=64k flush=5s;
	    map \$ssl_preread_server_name \$xb_upstream {
	        $TLS_NAME 127.0.0.1:$SSH_FWD_PORT;
	        default   127.0.0.1:1;
	    }
	    server {
	        listen $RELAY4:443 backlog=4096;
	        ssl_preread on;
	        preread_timeout 5s;
	        proxy_pass \$xb_upstream;
	        proxy_timeout 10m;
	    }
	}
	EOF
}
up_ssh() {
	ssh_files || { SKIP_WHY="ssh-keygen failed"; return 1; }
	# sshd refuses to start without its privilege separation directory
	# (normally made by the openssh-server unit)
	[ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 0755 /run/sshd; }
	spawn sshd "$NS_RELAY" /usr/sbin/sshd -D -e -f "$S/ssh/sshd_config"
	wait_for 10 listening "$NS_RELAY" $SSH_PORT || { SKIP_WHY="sshd: $(lastlines 3 "$XR_STATE/sshd.log")"; return 1; }
	spawn autossh "$NS_PRIV" env AUTOSSH_GATETIME=0 AUTOSSH_POLL=30 AUTOSSH_LOGFILE="$XR_STATE/autossh.msgs" \
		autossh -M 0 -N -T -F /dev/null -p $SSH_PORT -i "$S/ssh/id_ed25519" \
		-o BatchMode=yes -o IdentitiesOnly=yes -o UserKnownHostsFile="$S/ssh/known_hosts" \
		-o StrictHostKeyChecking=yes -o ServerAliveInterval=10 -o ServerAliveCountMax=3 \
		-o ExitOnForwardFailure=yes -o ConnectTimeout=5 \
		-R 127.0.0.1:$SSH_FWD_PORT:127.0.0.1:$BACKEND_PORT root@$RELAY4
	wait_for 15 listening "$NS_RELAY" $SSH_FWD_PORT ||
		{ SKIP_WHY="ssh -R did not listen on the relay's 127.0.0.1:$SSH_FWD_PORT: $(tail -n3 "$XR_STATE/autossh.msgs" "$XR_STATE/sshd.log" 2>/dev/null | tr '\n' ' ')"; return 1; }
	spawn relay-nginx "$NS_RELAY" nginx -p "$S/relay-nginx" -c "$S/relay-nginx/nginx.conf" \
		-e "$S/relay-nginx/logs/error.log"
	wait_for 10 listening "$NS_RELAY" 443 || { SKIP_WHY="relay nginx: $(lastlines 3 "$S/relay-nginx/logs/error.log")"; return 1; }
	TARGET=$RELAY4
}
down_ssh() { stop_setup_pids; }

# ---- setup: wireguard-go tunnel + haproxy req.ssl_sni ------------------------------------
wg_files() {
	[ -f "$S/haproxy.cfg" ] && return 0
	wg_key xbrelay
	wg_key xbpriv
	cat >"$S/haproxy.cfg" <<-EOF
	# haproxy on the relay's :443: route by SNI into the WireGuard tunnel
	global
	    maxconn $(( ($(ulimit -n) - 64) / 2 > 60000 ? 60000 : ($(ulimit -n) - 64) / 2 ))
	defaults
	    mode tcp
	    timeout connect 5s
	    timeout client 10m
	    timeout server 10m
	frontend tls
	    bind $RELAY4:443 backlog 4096
	    tcp-request inspect-delay 5s
	    tcp-request content accept if { req.ssl_hello_type 1 }
	    use_backend priv if { req.ssl_sni -i $TLS_NAME }
	backend priv
	    server priv $WG_V_ADDR:$BACKEND_PORT
	EOF
}
wg_stop_if() { # IFNAME : after its wireguard-go is gone, the UAPI socket too
	wait_for 5 test ! -e "/var/run/wireguard/$1.sock" || rm -f "/var/run/wireguard/$1.sock"
}
up_wg() {
	wg_files
	wg_up "$NS_RELAY" "$WG_R_IF" $WG_R_ADDR/24 "$(wg_keyfile xbrelay)" $WG_PORT
	SETUP_PIDS+=("$XR_LAST_PID")
	wg_up "$NS_PRIV" "$WG_V_IF" $WG_V_ADDR/24 "$(wg_keyfile xbpriv)" $WG_PORT
	SETUP_PIDS+=("$XR_LAST_PID")
	wg_peer "$NS_RELAY" "$WG_R_IF" "$(wg_pub xbpriv)" $WG_V_ADDR/32
	wg_peer "$NS_PRIV" "$WG_V_IF" "$(wg_pub xbrelay)" $WG_R_ADDR/32 "$RELAY4:$WG_PORT" 25
	wait_for 15 ping_ok "$NS_PRIV" $WG_R_ADDR 1 || { SKIP_WHY="no WireGuard tunnel priv -> relay"; return 1; }
	spawn haproxy "$NS_RELAY" haproxy -f "$S/haproxy.cfg" -db
	wait_for 10 listening "$NS_RELAY" 443 || { SKIP_WHY="haproxy: $(lastlines 3 "$XR_STATE/haproxy.log")"; return 1; }
	TARGET=$RELAY4
}
down_wg() { stop_setup_pids; wg_stop_if "$WG_R_IF"; wg_stop_if "$WG_V_IF"; }

# ---- setup: direct (the router's port forward) ----------------------------------------------
DIRECT_RULES=0
direct_rules() { # -A|-D
	local op=$1 ins=$1
	[ "$op" = -A ] && ins=-I
	nsx "$NS_RTR" iptables -t nat "$op" PREROUTING -i wan -d $RTR_WAN4 -p tcp --dport 443 \
		-j DNAT --to-destination $PRIV_4:$BACKEND_PORT || return 1
	nsx "$NS_RTR" iptables "$ins" FORWARD -i wan -o lan -d $PRIV_4 -p tcp --dport $BACKEND_PORT \
		-m conntrack --ctstate DNAT -j ACCEPT
}
up_direct() {
	direct_rules -A || { SKIP_WHY="iptables DNAT on the router failed"; return 1; }
	DIRECT_RULES=1
	TARGET=$RTR_WAN4
}
down_direct() {
	[ $DIRECT_RULES = 1 ] && direct_rules -D
	DIRECT_RULES=0
	stop_setup_pids
}

# ---- setup: xrelayd + xrelay-agent --------------------------------------------------------------
xrelay_keys() {
	[ -f "$S/xrelay/agent.id" ] && return 0
	mkdir -p "$S/xrelay"
	chmod 0700 "$S/xrelay"
	"$XRELAYCTL" keygen "$S/xrelay/relay.key" >"$S/xrelay/relay.keygen" 2>&1 || return 1
	"$XRELAYCTL" keygen "$S/xrelay/agent.key" >"$S/xrelay/agent.keygen" 2>&1 || return 1
	"$XRELAYCTL" pubkey "$S/xrelay/relay.key" >"$S/xrelay/relay.id" 2>/dev/null || return 1
	"$XRELAYCTL" pubkey "$S/xrelay/agent.key" >"$S/xrelay/agent.id" 2>/dev/null || return 1
}
up_xrelay() { # MOVER
	local mover=$1 conf=$S/xrelay/relay-$1.yaml aconf=$S/xrelay/agent.yaml st
	if ! [ -x "$XRELAYD" ] || ! [ -x "$XRELAYCTL" ] || ! [ -x "$XRELAY_AGENT" ]; then
		SKIP_WHY="binaries missing ($XRELAYD, $XRELAYCTL, $XRELAY_AGENT): make"; return 1
	fi
	xrelay_keys || { SKIP_WHY="xrelayctl keygen/pubkey failed: $(cat "$S/xrelay/"*.keygen 2>/dev/null | tail -n2)"; return 1; }
	cat >"$conf" <<-EOF
	# xrelayd for bench/tls.sh, tls.mover $mover
	control:
	  listen: ["$RELAY4:7443"]
	  key: $S/xrelay/relay.key
	tls:
	  listen: ["$RELAY4:443"]
	  mover: $mover
	admin:
	  socket: $XR_SOCK
	bpf:
	  pin_root: $XR_PIN
	tenants:
	  - name: bench
	    agents: [{name: priv, identity: "$(cat "$S/xrelay/agent.id")"}]
	    hostnames: ["$TLS_NAME"]
	EOF
	cat >"$aconf" <<-EOF
	# xrelay-agent on priv for bench/tls.sh
	name: priv
	key: $S/xrelay/agent.key
	pool: $XRELAY_POOL
	relays:
	  - address: "$RELAY4:7443"
	    identity: "$(cat "$S/xrelay/relay.id")"
	services:
	  - hostname: $TLS_NAME
	    target: "127.0.0.1:$BACKEND_PORT"
	EOF
	if ! nsx "$NS_RELAY" "$XRELAYD" -c "$conf" --check >"$S/xrelay/check-$mover.log" 2>&1; then
		SKIP_WHY="xrelayd --check rejects the config: $(lastlines 3 "$S/xrelay/check-$mover.log")"; return 1
	fi
	if ! nsx "$NS_PRIV" "$XRELAY_AGENT" -c "$aconf" --check >"$S/xrelay/check-agent.log" 2>&1; then
		SKIP_WHY="xrelay-agent --check rejects the config: $(lastlines 3 "$S/xrelay/check-agent.log")"; return 1
	fi
	spawn "xrelayd-$mover" "$NS_RELAY" "$XRELAYD" -c "$conf"
	XR_RELAYD_PID=$XR_LAST_PID
	st=$(awk -v p="$XR_RELAYD_PID" '$1 == p { print $2 }' "$XR_STATE/pids" | tail -n1)
	if ! wait_for 10 listening "$NS_RELAY" 443 || ! xr_alive "$XR_RELAYD_PID" "$st"; then
		SKIP_WHY="xrelayd not listening on :443: $(lastlines 3 "$XR_STATE/xrelayd-$mover.log")"; return 1
	fi
	spawn "agent-$mover" "$NS_PRIV" "$XRELAY_AGENT" -c "$aconf"
	TARGET=$RELAY4
	if ! wait_for 20 reachable; then
		SKIP_WHY="nothing comes back through the relay within 20 s; xrelayd: $(lastlines 2 "$XR_STATE/xrelayd-$mover.log") agent: $(lastlines 2 "$XR_STATE/agent-$mover.log")"
		return 1
	fi
}
down_xrelay() { # MOVER
	# the relay's own counters for this round (accepted, routed, resets...)
	[ -n "${XR_RELAYD_PID:-}" ] && timeout 5 nsenter --net="/run/netns/$NS_RELAY" -- \
		"$XRELAYCTL" --pin-root "$XR_PIN" -s "$XR_SOCK" -j stats \
		>"$RAW/xrelay-stats-$1-r$CUR_ROUND.json" 2>&1
	stop_setup_pids
	XR_RELAYD_PID=
}

setup_up() {
	SKIP_WHY=
	case $1 in
	ssh) up_ssh ;; wg) up_wg ;; direct) up_direct ;;
	xrelay-uring) up_xrelay uring ;; xrelay-splice) up_xrelay splice ;;
	*) SKIP_WHY="unknown setup"; return 1 ;;
	esac || return 1
	wait_for 10 reachable || { SKIP_WHY="the backend's /tiny does not come back through it"; return 1; }
}
setup_down() {
	case $1 in
	ssh) down_ssh ;; wg) down_wg ;; direct) down_direct ;; xrelay-*) down_xrelay "${1#xrelay-}" ;;
	esac
}

# ---- measurements ---------------------------------------------------------------------------
# measure SETUP ROUND : one line in runs.tsv
measure() {
	local setup=$1 round=$2 tag="$1-r$2"
	local r0 r1 m0 m1 t0 t1 b1 s1 bn sn i line close ka
	quiet_wait
	local others0
	others0=$(others_active)
	# bulk: one stream, then STREAMS in parallel
	relay_threads >"$RAW/threads-$tag-before-bulk.txt"
	r0=$(relay_ticks); m0=$(cpu_busy)
	read -r b1 s1 _ <<<"$(curl_get /big "$BULK_MAX")"
	t0=$(date +%s.%N)
	local cpids=()
	for i in $(seq "$STREAMS"); do
		curl_get /big "$BULK_MAX" >"$TLS_OUT/bulk-$tag-$i.txt" &
		cpids+=($!)
	done
	wait "${cpids[@]}"   # not a bare wait: the setup's daemons are children too
	t1=$(date +%s.%N)
	r1=$(relay_ticks); m1=$(cpu_busy)
	relay_threads >"$RAW/threads-$tag-after-bulk.txt"
	bn=$(cat "$TLS_OUT"/bulk-"$tag"-*.txt | awk '{ s += $1 } END { print s + 0 }')
	sn=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	rm -f "$TLS_OUT"/bulk-"$tag"-*.txt
	local bulk_ticks=$((r1 - r0)) mach_ticks=$((m1 - m0))
	# new connections: Connection: close
	r0=$(relay_ticks)
	close=$(wrk_run "$RAW/wrk-close-$tag.txt" -H 'Connection: close')
	r1=$(relay_ticks)
	local close_ticks=$((r1 - r0))
	# keep-alive
	ka=$(wrk_run "$RAW/wrk-ka-$tag.txt" --latency)
	line=$($PY - "$setup" "$round" "${b1:-0}" "${s1:-0}" "$bn" "$sn" "$bulk_ticks" "$mach_ticks" "$HZ" \
		"$close_ticks" "$close" "$ka" "$BG" "$(cut -d' ' -f1 /proc/loadavg)" \
		"$(printf '%s\n' $others0 $(others_active) | sort -u | tr '\n' ' ')" <<-'EOF'
	import sys
	(setup, rnd, b1, s1, bn, sn, bulk_t, mach_t, hz, close_t, close, ka, bg, load, others) = sys.argv[1:16]
	def kv(line):
	    d = {}
	    for x in line.split()[1:]:
	        k, _, v = x.partition("=")
	        d[k] = float(v)
	    return d
	hz = float(hz)
	b1, s1, bn, sn = float(b1), float(s1), float(bn), float(sn)
	mb1 = b1 / s1 / 1e6 if s1 > 0 else 0
	mbn = bn / sn / 1e6 if sn > 0 else 0
	gb = (b1 + bn) / 1e9
	rcpu = int(bulk_t) / hz
	mcpu = int(mach_t) / hz
	c, k = kv(close), kv(ka)
	def rate(d):
	    return d.get("requests", 0) / (d["duration_us"] / 1e6) if d.get("duration_us") else 0
	cerr = sum(int(c.get(x, 0)) for x in ("connect", "read", "write", "status", "timeout"))
	kerr = sum(int(k.get(x, 0)) for x in ("connect", "read", "write", "status", "timeout"))
	creq = c.get("requests", 0)
	kms = (int(close_t) / hz * 1000) / (creq / 1000) if creq else 0
	print("\t".join(str(x) for x in (
	    setup, rnd, "%.1f" % mb1, "%.1f" % mbn, "%.0f" % (b1 + bn),
	    "%.2f" % rcpu, "%.3f" % (rcpu / gb if gb else 0), "%.3f" % (mcpu / gb if gb else 0),
	    "%.0f" % rate(c), cerr, "%.1f" % kms,
	    "%.0f" % rate(k), "%.3f" % (k.get("p50_us", 0) / 1000), "%.3f" % (k.get("p99_us", 0) / 1000), kerr,
	    bg, load, others.strip() or "-")))
	EOF
	)
	echo "$line" >>"$RUNS_TSV"
	echo "$line" | awk -F'\t' '{ printf "# %-13s r%s  bulk %7s MB/s x1 %7s MB/s x'"$STREAMS"'  relay %6s CPU-s/GB (machine %s)  close %6s conn/s (%s err, relay %s ms/kconn)  keep-alive %6s req/s p50 %s ms p99 %s ms (%s err)  bg %s%s\n", $1, $2, $3, $4, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, ($18 == "-" ? "" : "  other runs: " $18) }' >&2
}

# idle SETUP ROUND : IDLE_N idle TLS connections through the setup
idle() {
	local setup=$1 round=$2 tag="idle-$1-r$2" base held pid ready open
	[ "$setup" = direct ] && return 0   # no relay-side process to weigh
	quiet_wait
	base=$(relay_mem)
	spawn "$tag" "$NS_PUB1" "$IDLECONN" -a "$TARGET" -p 443 -s "$TLS_NAME" -n "$IDLE_N" \
		-c "$IDLE_INFLIGHT" -t 600 -T 15
	pid=$XR_LAST_PID
	# bounded: idleconn gives up after 15 s without progress
	if ! wait_for 600 grep -q '^ready' "$XR_STATE/$tag.log"; then
		log "$setup: idleconn not ready after 600 s: $(lastlines 2 "$XR_STATE/$tag.log")"
	fi
	sleep 2   # let buffers and pools settle
	ready=$(grep '^ready' "$XR_STATE/$tag.log" | head -n1)
	held=$(relay_mem)
	open=$(grep '^open=' "$XR_STATE/$tag.log" | tail -n1)
	local procs note=
	procs=$(relay_procs_mem)
	stop_pid "$pid"
	# why connections failed, when a relay-side log says so
	local f
	for f in "$XR_STATE"/*.log "$S"/relay-nginx/logs/error.log; do
		[ -f "$f" ] && grep -q 'Too many open files' "$f" && note+="${note:+, }EMFILE in ${f##*/}"
	done
	cp "$XR_STATE/$tag.log" "$RAW/$tag.log" 2>/dev/null
	read -r rss0 pss0 _ <<<"$base"
	read -r rss1 pss1 n1 <<<"$held"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$setup" "$round" "$IDLE_N" \
		"$(kv ok "$ready")" "$(kv failed "$ready")" "${open#open=}" "$(kv secs "$ready")" \
		"$rss0" "$rss1" "$pss0" "$pss1" "$procs" "$note" >>"$IDLE_TSV"
	log "$(printf '%-13s r%s  %s idle TLS connections: %s, %s; relay RSS %s -> %s kB, PSS %s -> %s kB (%s processes: %s)' \
		"$setup" "$round" "$IDLE_N" "$ready" "${open:-open=?}" "$rss0" "$rss1" "$pss0" "$pss1" "$n1" "$procs")"
	# the relay and backend close 2 x IDLE_N sockets before the next step
	wait_for 30 pub1_quiet
}
pub1_quiet() { [ "$(nsx "$NS_PUB1" ss -tnH state established | wc -l)" -lt 10 ]; }

# ---- run -----------------------------------------------------------------------------------
{
	echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo "commit: $(git -C "$XR_ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$XR_ROOT" diff --quiet 2>/dev/null || echo ' (dirty tree)')"
	echo "kernel: $(uname -r)"
	echo "cpu: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo) x $(nproc)"
	echo "sharing: every namespace -- client (curl, wrk, idleconn on pub1), relay, NAT router, backend nginx on priv -- runs on these $(nproc) CPUs"
	echo "versions: $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v 2>/dev/null | awk 'NR == 1 { print "haproxy " $3 }'), $(ssh -V 2>&1 | cut -d, -f1), $(wrk --version 2>&1 | awk 'NR == 1 { print "wrk " $2 }'), curl $(curl --version | awk 'NR == 1 { print $2 }'), wireguard-go $(wireguard-go --version 2>&1 | awk '{ print $2; exit }'), $(openssl version | cut -d' ' -f1-2)"
	echo "parameters: RUNS=$RUNS SECS=$SECS CONNS=$CONNS THREADS=$THREADS STREAMS=$STREAMS BULK_MIB=$BULK_MIB BULK_MAX=$BULK_MAX IDLE_N=$IDLE_N IDLE_RUNS=$IDLE_RUNS XRELAY_POOL=$XRELAY_POOL"
	echo "setups: $SETUPS"
	echo "open files: $(ulimit -n) per process${IDLE_NOTE:+; $IDLE_NOTE}"
	echo "backend: nginx on priv $PRIV_4:$BACKEND_PORT, TLS 1.3, ECDSA P-256 self-signed for $TLS_NAME, /big $BULK_MIB MiB, /tiny 16 B"
	echo "direct: the NAT router forwards its public $RTR_WAN4:443 to $PRIV_4:$BACKEND_PORT (DNAT), no relay"
	echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "other runs at start: $(others_active)"
	echo "others' namespaces at start: $(ip netns list | awk '{ print $1 }' | sed -n 's/-.*//p' | sort -u | grep -vx "$XR_PREFIX" | tr '\n' ' ')"
} >"$TLS_OUT/env.txt"
sed 's/^/# /' "$TLS_OUT/env.txt" >&2
printf 'setup\tround\tbulk1_MBps\tbulkN_MBps\tbulk_bytes\trelay_cpu_s\trelay_cpu_s_per_GB\tmachine_cpu_s_per_GB\tclose_cps\tclose_errors\trelay_cpu_ms_per_kconn\tka_rps\tka_p50_ms\tka_p99_ms\tka_errors\tbg_cpus\tload1\tother_runs\n' >"$RUNS_TSV"
printf 'setup\tround\tn\tok\tfailed\topen\thandshake_secs\trelay_rss_base_kB\trelay_rss_kB\trelay_pss_base_kB\trelay_pss_kB\tprocesses\tnote\n' >"$IDLE_TSV"

topo_up
# keep the logs: the state dir goes with the topology.  A log of more than
# LOG_CAP bytes keeps its head and tail (a daemon stuck in a logging loop
# writes gigabytes).
LOG_CAP=${LOG_CAP:-20000000}
copy_capped() { # SRC DST
	local sz
	sz=$(stat -c %s "$1" 2>/dev/null) || return 0
	if [ "$sz" -gt "$LOG_CAP" ]; then
		{
			head -c $((LOG_CAP / 2)) "$1"
			printf '\n[... bench/tls.sh cut %s bytes of %s ...]\n' $((sz - LOG_CAP)) "$sz"
			tail -c $((LOG_CAP / 2)) "$1"
		} >"$2"
	else
		cp "$1" "$2"
	fi
}
# after a setup is down: logs of its (dead) daemons that grew past LOG_CAP
# are saved capped and emptied, so that the state dir cannot fill the disk
trim_logs() {
	local f
	mkdir -p "$TLS_OUT/logs"
	for f in "$XR_STATE"/*.log; do
		[ "$(stat -c %s "$f" 2>/dev/null || echo 0)" -gt "$LOG_CAP" ] || continue
		log "${f##*/}: $(stat -c %s "$f") bytes; kept capped as logs/${f##*/}.r$CUR_ROUND"
		copy_capped "$f" "$TLS_OUT/logs/${f##*/}.r$CUR_ROUND"
		: >"$f"
	done
}
save_logs() {
	local f
	mkdir -p "$TLS_OUT/logs"
	for f in "$XR_STATE"/*.log "$XR_STATE"/autossh.msgs; do
		[ -f "$f" ] && copy_capped "$f" "$TLS_OUT/logs/${f##*/}"
	done
	local d
	for d in backend relay-nginx; do
		[ -d "$S/$d/logs" ] && mkdir -p "$TLS_OUT/logs/$d" && cp "$S/$d/logs/"* "$TLS_OUT/logs/$d/" 2>/dev/null
	done
	for f in "$S"/*.cfg "$S"/xrelay/*.yaml "$S"/xrelay/*.log "$S/ssh/sshd_config"; do
		[ -f "$f" ] && copy_capped "$f" "$TLS_OUT/logs/${f##*/}"
	done
	for f in "$S"/*/nginx.conf; do   # backend/ and relay-nginx/
		[ -f "$f" ] && copy_capped "$f" "$TLS_OUT/logs/$(basename "$(dirname "$f")")-nginx.conf"
	done
	return 0
}
# shellcheck disable=SC2154 # rc is assigned inside the trap
trap 'rc=$?; save_logs; (exit $rc); topo_down' EXIT
# many short connections from few addresses: reuse TIME_WAIT ports for
# outgoing connections and widen the port range where connections start
for ns in "$NS_PUB1" "$NS_RELAY" "$NS_PRIV"; do
	nsx "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"
done
backend_up
T0=$SECONDS

declare -A SKIPPED
CUR_ROUND=0
for r in $(seq "$RUNS"); do
	CUR_ROUND=$r
	for s in $SETUPS; do
		[ -n "${SKIPPED[$s]:-}" ] && continue
		log "round $r: $s up"
		if ! setup_up "$s"; then
			SKIPPED[$s]=$SKIP_WHY
			log "SKIP $s: did not come up: $SKIP_WHY"
			printf 'SKIP\t%s\t%s\n' "$s" "$SKIP_WHY" >>"$TLS_OUT/skipped.tsv"
			setup_down "$s"
			trim_logs
			continue
		fi
		log "round $r: $s measuring; relay-side processes: $(relay_procs)"
		measure "$s" "$r"
		[ "$r" -le "$IDLE_RUNS" ] && idle "$s" "$r"
		setup_down "$s"
		trim_logs
	done
done
log "measured in $((SECONDS - T0)) s"
trap - EXIT
save_logs
T1=$SECONDS
topo_down
log "teardown took $((SECONDS - T1)) s"

$PY "$BENCH_DIR/tls_summary.py" "$TLS_OUT" >"$TLS_OUT/summary.md" || die "tls_summary.py failed"
cat "$TLS_OUT/summary.md"
log "results: $TLS_OUT"
