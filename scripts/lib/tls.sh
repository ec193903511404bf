# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# tls.sh - fixtures for the TLS end-to-end tests (tests/e2e/tls_*.sh):
# SNI passthrough through xrelayd and xrelay-agent.  Sources netns.sh (the
# namespace topology) and adds, all inside this run's state dir:
#
#   PKI      a throwaway CA and leaf certificates (openssl, P-256), 2 days
#   www      a 64 MiB random file and small files, with their SHA-256
#   nginx    instances in any namespace: `nginx -p DIR -c DIR/nginx.conf`,
#            pid, logs and temp files in DIR; server blocks from helpers here
#   python   scripts/lib/tlsfix.py: plain-HTTP/WebSocket backend, a raw TLS
#            backend (Connection: close download, echo-to-EOF, sink,
#            firehose) and the clients that drive them
#   relay    relay.yaml with control/tls sections and tenants that own
#            hostnames; identities from `xrelayctl keygen`
#   agents   xrelay-agent run unprivileged (user nobody), one dir each with
#            its key (0600, owned by nobody), config and certificates
#
# Like netns.sh it changes nothing until called.  The e2e files use their own
# XR_PREFIX ("xt1-PID"...), so a bench run (xb...) never collides with them.

. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"

XR_AGENT=${XR_AGENT:-$XR_BUILD/xrelay-agent}
XR_PY=/usr/bin/python3
TLSFIX=$XR_ROOT/scripts/lib/tlsfix.py
TLS_PKI=$XR_STATE/pki
TLS_CA=$TLS_PKI/ca.crt
TLS_WWW=$XR_STATE/www
CTRL_PORT=7443
# tls.hello_timeout written into relay.yaml (seconds); the junk test checks it
TLS_HELLO_TIMEOUT=${TLS_HELLO_TIMEOUT:-3}
# optional relay.yaml keys, set before tls_relay_config
TLS_FALLBACK=${TLS_FALLBACK:-}
TLS_CONTROL_HOSTNAME=${TLS_CONTROL_HOSTNAME:-}
TLS_MOVER=${TLS_MOVER:-}
# XR_LOG_LEVEL=debug: xrelayd's log.level, and agents run with -v (to see
# why a test failed)
XR_LOG_LEVEL=${XR_LOG_LEVEL:-}
AGENT_USER=nobody
AGENT_GROUP=nogroup

declare -A AGENT_PID=() AGENT_LOG=() AGENT_STARTS=()

tls_have_bins() { xr_have_relay && [ -x "$XR_AGENT" ]; }

# tls_topo_up : topology (netns.sh) plus the state dir layout used here.  The
# state dir becomes 0711: the agent (user nobody) must reach its own dir by
# path; it still cannot list the state dir or read anything else in it.
tls_topo_up() {
	local t
	for t in openssl nginx curl setpriv ss; do
		command -v "$t" >/dev/null || xr_die "missing tool: $t (run: make deps)"
	done
	topo_up
	chmod 0711 "$XR_STATE"
	mkdir -p "$TLS_PKI" "$TLS_WWW/up"
	chmod 0700 "$TLS_PKI"
}

# ---- PKI -----------------------------------------------------------------------
tls_ca() {
	[ -f "$TLS_CA" ] && return 0
	cat >"$TLS_PKI/ca.cnf" <<-EOF
	[req]
	distinguished_name = dn
	prompt = no
	x509_extensions = v3
	[dn]
	CN = xrelay test CA $XR_PREFIX
	[v3]
	basicConstraints = critical, CA:TRUE
	keyUsage = critical, keyCertSign, cRLSign
	subjectKeyIdentifier = hash
	EOF
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-config "$TLS_PKI/ca.cnf" -days 2 -keyout "$TLS_PKI/ca.key" -out "$TLS_CA" \
		>"$TLS_PKI/openssl.log" 2>&1 || { cat "$TLS_PKI/openssl.log" >&2; xr_die "openssl: CA"; }
}

# tls_leaf BASE NAME... : $TLS_PKI/BASE.crt/.key for the names (first = CN),
# signed by the CA; a fresh key every time (tls_leaf twice = a new cert)
tls_leaf() {
	local base=$1 n san=""; shift
	for n in "$@"; do san+="${san:+,}DNS:$n"; done
	tls_ca
	cat >"$TLS_PKI/$base.ext" <<-EOF
	basicConstraints = critical, CA:FALSE
	keyUsage = critical, digitalSignature
	extendedKeyUsage = serverAuth
	subjectAltName = $san
	subjectKeyIdentifier = hash
	authorityKeyIdentifier = keyid
	EOF
	{
		openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
			-subj "/CN=$1" -keyout "$TLS_PKI/$base.key.new" -out "$TLS_PKI/$base.csr" &&
		openssl x509 -req -in "$TLS_PKI/$base.csr" -CA "$TLS_CA" -CAkey "$TLS_PKI/ca.key" \
			-set_serial "0x$(openssl rand -hex 12)" -days 2 -extfile "$TLS_PKI/$base.ext" \
			-out "$TLS_PKI/$base.crt.new"
	} >"$TLS_PKI/openssl.log" 2>&1 || { cat "$TLS_PKI/openssl.log" >&2; xr_die "openssl: leaf $base"; }
	mv "$TLS_PKI/$base.key.new" "$TLS_PKI/$base.key"
	mv "$TLS_PKI/$base.crt.new" "$TLS_PKI/$base.crt"
}

# tls_fp CERTFILE : SHA-256 of the DER certificate, lower-case hex
tls_fp() {
	openssl x509 -in "$1" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' | tr 'A-F' 'a-f'
}

# ---- files served ----------------------------------------------------------------
# tls_www : big.bin (64 MiB, random, once per run), 256k.bin, 1k.bin; their
# SHA-256 in BIG_SHA, K256_SHA
tls_www() {
	if [ ! -f "$TLS_WWW/big.bin" ]; then
		head -c 64M /dev/urandom >"$TLS_WWW/big.bin"
		head -c 256K /dev/urandom >"$TLS_WWW/256k.bin"
		head -c 1K /dev/urandom >"$TLS_WWW/1k.bin"
		echo "hello from the private side" >"$TLS_WWW/index.html"
	fi
	BIG_SHA=$(sha256sum <"$TLS_WWW/big.bin" | cut -d' ' -f1)
	K256_SHA=$(sha256sum <"$TLS_WWW/256k.bin" | cut -d' ' -f1)
	export BIG_SHA K256_SHA
}

# ---- nginx -------------------------------------------------------------------------
# nginx_tls_server NODE PORT CERTBASE SERVER_NAME [LISTEN_PARAMS [DIRECTIVE...]] :
# one server block.  /name answers "node=NODE port=PORT sni=SNI host=HOST"; /up/ takes
# PUT uploads (into $TLS_WWW/up/); /close/ serves the files with
# keepalive_timeout 0 (the response says Connection: close).
nginx_tls_server() {
	local node=$1 port=$2 cert=$3 name=$4 params=${5:-} l
	shift 4; [ $# -gt 0 ] && shift
	cat <<-EOF
	    server {
	        listen 127.0.0.1:$port ssl $params;
	        server_name $name;
	        ssl_certificate $TLS_PKI/$cert.crt;
	        ssl_certificate_key $TLS_PKI/$cert.key;
	        root $TLS_WWW;
	EOF
	for l in "$@"; do printf '        %s\n' "$l"; done
	cat <<-EOF
	        location = /name {
	            default_type text/plain;
	            return 200 "node=$node port=$port sni=\$ssl_server_name host=\$host\n";
	        }
	        location /up/ {
	            dav_methods PUT;
	            create_full_put_path on;
	            client_max_body_size 0;
	        }
	        location /close/ {
	            keepalive_timeout 0;
	            alias $TLS_WWW/;
	        }
	    }
	EOF
}

# nginx_start TAG NS PORT_LIST SERVER_BLOCK... : an nginx in NS with those
# server blocks; waits until every port in PORT_LIST ("8443 8445") listens.
# Logs: $XR_STATE/nginx-TAG/{error,access,pp}.log.  pp.log records the
# PROXY protocol source of every request ($proxy_protocol_addr:port).
nginx_start() {
	local tag=$1 ns=$2 ports=$3; shift 3
	local d=$XR_STATE/nginx-$tag p
	mkdir -p "$d/tmp"
	{
		cat <<-EOF
		# written by scripts/lib/tls.sh for run $XR_PREFIX
		user root root;
		worker_processes 2;
		worker_rlimit_nofile 16384;
		pid $d/nginx.pid;
		lock_file $d/nginx.lock;
		error_log $d/error.log info;
		events { worker_connections 8192; }
		http {
		    default_type application/octet-stream;
		    types { text/html html; text/plain txt; }
		    log_format pp '\$proxy_protocol_addr:\$proxy_protocol_port client=\$remote_addr sni=\$ssl_server_name "\$request" \$status';
		    access_log $d/access.log;
		    client_body_temp_path $d/tmp/body;
		    proxy_temp_path $d/tmp/proxy;
		    fastcgi_temp_path $d/tmp/fastcgi;
		    uwsgi_temp_path $d/tmp/uwsgi;
		    scgi_temp_path $d/tmp/scgi;
		    keepalive_timeout 30s;
		    sendfile on;
		    ssl_protocols TLSv1.2 TLSv1.3;
		EOF
		printf '%s\n' "$@"
		echo "}"
	} >"$d/nginx.conf"
	nsx "$ns" nginx -t -p "$d" -c "$d/nginx.conf" -g 'daemon off;' >"$d/check.log" 2>&1 ||
		{ sed 's/^/#   /' "$d/check.log" >&2; xr_die "nginx -t rejects $d/nginx.conf"; }
	xr_spawn "nginx-$tag" "$ns" nginx -p "$d" -c "$d/nginx.conf" -g 'daemon off;'
	for p in $ports; do
		wait_for 10 port_listens "$ns" "$p" ||
			{ sed 's/^/#   /' "$XR_STATE/nginx-$tag.log" "$d/error.log" >&2; xr_die "nginx $tag: no listener on $p"; }
	done
}

# port_listens NS PORT : a TCP listener on PORT in NS
port_listens() {
	[ -n "$(nsx "$1" ss -ltnH "sport = :$2" 2>/dev/null)" ]
}

# ---- python backends ------------------------------------------------------------
# tls_httpws NS [PORT] : plain HTTP + WebSocket echo on 127.0.0.1:PORT (8888)
tls_httpws() {
	local ns=$1 port=${2:-8888}
	xr_spawn "httpws-$port" "$ns" "$XR_PY" "$TLSFIX" httpws --port "$port"
	wait_for 10 port_listens "$ns" "$port" || xr_die "httpws: no listener on $port"
}

# tls_rawtls NS PORT CERTBASE : the raw TLS backend on 127.0.0.1:PORT
tls_rawtls() {
	local ns=$1 port=$2 cert=$3
	xr_spawn "rawtls-$port" "$ns" "$XR_PY" "$TLSFIX" rawtls --port "$port" \
		--cert "$TLS_PKI/$cert.crt" --key "$TLS_PKI/$cert.key" --file "$TLS_WWW/big.bin"
	wait_for 10 port_listens "$ns" "$port" || xr_die "rawtls: no listener on $port"
}

# tlsfix NS SUBCOMMAND ARGS... : a tlsfix.py client in NS (bounded by timeout 120)
tlsfix() {
	local ns=$1; shift
	nsx "$ns" timeout -k 5 120 "$XR_PY" "$TLSFIX" "$@"
}

# ---- relay and agent identities and configs ------------------------------------------
# tls_relay_key : the relay's control key; RELAY_ID its identity line
tls_relay_key() {
	local k=$XR_STATE/keys/relay.key
	if [ ! -f "$k" ]; then
		"$XRELAYCTL" keygen "$k" >"$XR_STATE/keys/relay.id" 2>"$XR_STATE/keys/keygen.log" ||
			{ cat "$XR_STATE/keys/keygen.log" >&2; xr_die "xrelayctl keygen $k"; }
	fi
	RELAY_ID=$(cat "$XR_STATE/keys/relay.id")
	[ -n "$RELAY_ID" ] || xr_die "xrelayctl keygen printed no identity"
}

agent_dir() { echo "$XR_STATE/agent-$1"; }

# tls_agent_key NAME : the agent's dir (owned by nobody, 0700) and key (0600)
tls_agent_key() {
	local d
	d=$(agent_dir "$1")
	mkdir -p "$d"
	if [ ! -f "$d/agent.key" ]; then
		"$XRELAYCTL" keygen "$d/agent.key" >"$d/identity" 2>"$d/keygen.log" ||
			{ cat "$d/keygen.log" >&2; xr_die "xrelayctl keygen $d/agent.key"; }
	fi
	chown -R "$AGENT_USER:$AGENT_GROUP" "$d"
	chmod 0700 "$d"
}
agent_id() { cat "$(agent_dir "$1")/identity"; }

# tls_agent_cert NAME CERTBASE [DSTBASE] : copy a leaf cert and key into the
# agent's dir as DSTBASE.pem and DSTBASE.key (default CERTBASE; owned by
# nobody, key 0600), each by rename, so the agent never reads a half-written
# file; the key first, then the certificate
tls_agent_cert() {
	local d dst=${3:-$2}
	d=$(agent_dir "$1")
	install -o "$AGENT_USER" -g "$AGENT_GROUP" -m 0600 "$TLS_PKI/$2.key" "$d/.$dst.key.new"
	install -o "$AGENT_USER" -g "$AGENT_GROUP" -m 0644 "$TLS_PKI/$2.crt" "$d/.$dst.pem.new"
	mv "$d/.$dst.key.new" "$d/$dst.key"
	mv "$d/.$dst.pem.new" "$d/$dst.pem"
}

# tls_tenant NAME "AGENT..." "HOSTNAME..." [YAML_LINE...] : one tenant block;
# extra lines are tenant keys, e.g. "limits: {connections: 5/s}"
tls_tenant() {
	local name=$1 agents=$2 hosts=$3 a h hl=""; shift 3
	printf '  - name: %s\n    agents:\n' "$name"
	for a in $agents; do
		printf '      - name: %s\n        identity: "%s"\n' "$a" "$(agent_id "$a")"
	done
	for h in $hosts; do hl+="${hl:+, }\"$h\""; done
	printf '    hostnames: [%s]\n' "$hl"
	for a in "$@"; do printf '    %s\n' "$a"; done
}

# tls_relay_config TENANT_BLOCK... : $XR_RELAY_CONF with control on :7443 and
# public TLS on :443 (both families), TLS_FALLBACK / TLS_CONTROL_HOSTNAME /
# TLS_HELLO_TIMEOUT / TLS_MOVER when set
tls_relay_config() {
	tls_relay_key
	{
		echo "# written by scripts/lib/tls.sh for run $XR_PREFIX"
		echo "control:"
		echo "  listen: [\"$RELAY4:$CTRL_PORT\", \"[$RELAY6]:$CTRL_PORT\"]"
		echo "  key: $XR_STATE/keys/relay.key"
		[ -n "$TLS_CONTROL_HOSTNAME" ] && echo "  hostname: $TLS_CONTROL_HOSTNAME"
		echo "tls:"
		echo "  listen: [\"$RELAY4:443\", \"[$RELAY6]:443\"]"
		echo "  hello_timeout: ${TLS_HELLO_TIMEOUT}s"
		[ -n "$TLS_FALLBACK" ] && echo "  fallback: \"$TLS_FALLBACK\""
		[ -n "$TLS_MOVER" ] && echo "  mover: $TLS_MOVER"
		echo "admin:"
		echo "  socket: $XR_SOCK"
		echo "bpf:"
		echo "  pin_root: $XR_PIN"
		[ -n "$XR_LOG_LEVEL" ] && printf 'log:\n  level: %s\n' "$XR_LOG_LEVEL"
		echo "tenants:"
		printf '%s\n' "$@"
	} >"$XR_RELAY_CONF"
}

# tls_relay_up : --check, then xrelayd (relay_start); logs the reason on failure
tls_relay_up() {
	if ! nsx "$NS_RELAY" "$XRELAYD" -c "$XR_RELAY_CONF" --check >"$XR_STATE/check.log" 2>&1; then
		xr_log "xrelayd --check rejects $XR_RELAY_CONF:"
		sed 's/^/#   /' "$XR_STATE/check.log" >&2
		return 1
	fi
	relay_start || return 1
	wait_for 10 port_listens "$NS_RELAY" 443 && wait_for 10 port_listens "$NS_RELAY" "$CTRL_PORT" ||
		{ xr_log "xrelayd does not listen on :443 and :$CTRL_PORT"; return 1; }
}

# relay_reload : SIGHUP xrelayd, then give it a moment (the admin socket
# answers again once the loop is back)
relay_reload() {
	kill -HUP "$XR_RELAYD_PID" || return 1
	sleep 0.5
	wait_for 5 xr_sock_ready
}

# tls_service HOSTNAME TARGET [YAML_LINE...] : one agent service entry
tls_service() {
	local host=$1 target=$2 l; shift 2
	printf '  - hostname: "%s"\n    target: "%s"\n' "$host" "$target"
	for l in "$@"; do printf '    %s\n' "$l"; done
}

# tls_agent_config NAME RELAY_ADDRESS SERVICE_BLOCK... : the agent's agent.yaml
# (AGENT_EXTRA: extra top-level lines, e.g. "heartbeat: 1s")
tls_agent_config() {
	local name=$1 addr=$2 d; shift 2
	d=$(agent_dir "$name")
	{
		echo "# written by scripts/lib/tls.sh for run $XR_PREFIX"
		echo "name: $name"
		echo "key: $d/agent.key"
		[ -n "${AGENT_EXTRA:-}" ] && printf '%s\n' "$AGENT_EXTRA"
		echo "relays:"
		echo "  - address: \"$addr\""
		echo "    identity: \"$RELAY_ID\""
		echo "services:"
		printf '%s\n' "$@"
	} >"$d/agent.yaml"
	chown "$AGENT_USER:$AGENT_GROUP" "$d/agent.yaml"
}

# tls_agent_start NAME NS : xrelay-agent as user nobody in NS (its PID in
# AGENT_PID[NAME], log in AGENT_LOG[NAME]); fails if it exits at once.
# AGENT_HOSTS=FILE: the agent sees FILE as /etc/hosts (a private mount
# namespace; the PID is still the agent's: unshare and sh exec it)
tls_agent_start() {
	local name=$1 ns=$2 d n st
	local run=(setpriv --reuid="$AGENT_USER" --regid="$AGENT_GROUP" --clear-groups "$XR_AGENT")
	[ "$XR_LOG_LEVEL" = debug ] && run+=(-v)
	d=$(agent_dir "$name")
	if [ -n "${AGENT_HOSTS:-}" ]; then
		# shellcheck disable=SC2016 # expanded by the inner sh
		run=(unshare -m --propagation private sh -c 'mount --bind "$0" /etc/hosts && exec "$@"'
			"$AGENT_HOSTS" "${run[@]}")
	fi
	if ! nsx "$ns" "${run[@]}" -c "$d/agent.yaml" --check >"$d/check.log" 2>&1; then
		xr_log "xrelay-agent --check rejects $d/agent.yaml:"
		sed 's/^/#   /' "$d/check.log" >&2
		return 1
	fi
	n=${AGENT_STARTS[$name]:-0}
	AGENT_STARTS[$name]=$((n + 1))
	xr_spawn "agent-$name.$n" "$ns" "${run[@]}" -c "$d/agent.yaml"
	AGENT_PID[$name]=$XR_LAST_PID
	AGENT_LOG[$name]=$XR_STATE/agent-$name.$n.log
	st=$(awk -v p="$XR_LAST_PID" '$1 == p { print $2 }' "$XR_STATE/pids" | tail -n1)
	sleep 0.3
	if ! xr_alive "$XR_LAST_PID" "$st"; then
		wait "$XR_LAST_PID"
		xr_log "xrelay-agent $name exited (status $?) at start; its log:"
		sed 's/^/#   /' "${AGENT_LOG[$name]}" >&2
		return 1
	fi
}

# pid_alive PID : the process this run started with that PID still runs
pid_alive() {
	local st
	st=$(awk -v p="$1" '$1 == p { print $2 }' "$XR_STATE/pids" | tail -n1)
	[ -n "$st" ] && xr_alive "$1" "$st"
}

# tls_agent_stop NAME [SIGNAL]
tls_agent_stop() {
	[ -n "${AGENT_PID[$1]:-}" ] || return 0
	xr_kill "${AGENT_PID[$1]}" "${2:-TERM}"
	AGENT_PID[$1]=
}

# ---- clients ---------------------------------------------------------------------
# tls_curl NS NAME PATH [CURL_ARGS...] : https://NAME/PATH through the relay's
# IPv4 :443 (TLS_RELAY_IP to override, e.g. "[$RELAY6]"); TLS_CURL_MAX
# bounds it (default 20 s)
tls_curl() {
	local ns=$1 name=$2 path=$3; shift 3
	nsx "$ns" curl -sS --max-time "${TLS_CURL_MAX:-20}" \
		--resolve "$name:443:${TLS_RELAY_IP:-$RELAY4}" --cacert "$TLS_CA" "$@" "https://$name$path"
}

# name_is NS NAME NODE : /name through the relay answers from NODE for NAME
name_is() {
	local body
	body=$(TLS_CURL_MAX=${TLS_CURL_MAX:-5} tls_curl "$1" "$2" /name 2>&1)
	case $body in
	"node=$3 "*"sni=$2 "*) return 0 ;;
	*) [ "${NAME_IS_QUIET:-0}" = 1 ] || xr_log "https://$2/name from $1: ${body:-(nothing)}"; return 1 ;;
	esac
}

# wait_route NS NAME NODE [TIMEOUT] : poll until NAME is served by NODE
wait_route() {
	local t=${4:-20}
	NAME_IS_QUIET=1 wait_for "$t" name_is "$1" "$2" "$3" && return 0
	name_is "$1" "$2" "$3"   # once more, loudly
}

# out_is WANT CMD... : CMD prints exactly WANT (for wait_for, which would
# otherwise see a $(...) expanded once)
out_is() { [ "$("${@:2}")" = "$1" ]; }

# ms_now : monotonic-enough milliseconds
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }

# rss_kb PID : resident set size in kB
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

num() { [[ ${1:-} =~ ^[0-9]+$ ]] && echo "$1" || echo 0; }
stat_n() { num "$(stats_get "$1" 2>/dev/null)"; }
# tcp_n KEY [TENANT] : relay-wide (or the tenant's) "tcp" counter
tcp_n() {
	if [ -n "${2:-}" ]; then stat_n "tenant.$2.tcp.$1"; else stat_n "tcp.$1"; fi
}

# xrelayd writes the tcp counters and the flows to their pinned maps once a
# second (user/xrelayd/pairing.c): a reading lags by up to a second.
# tcp_settle : wait out one write, so that what happened before is counted
tcp_settle() { sleep 1.2; }
# tcp_wait KEY TENANT MIN [TIMEOUT] : poll until the counter (TENANT "" =
# relay-wide) reaches MIN, 5 s at most; prints the last value read
tcp_wait() {
	local v deadline=$((SECONDS + ${4:-5}))
	while :; do
		v=$(tcp_n "$1" "$2")
		[ "$v" -ge "$3" ] && { echo "$v"; return 0; }
		[ $SECONDS -ge $deadline ] && { echo "$v"; return 1; }
		sleep 0.2
	done
}

# flows_count [HOSTNAME [CLIENT_SUBSTRING]] : open flows in `xrelayctl -j
# flows` (optionally of HOSTNAME, from a client address containing the string)
flows_count() {
	xrctl -j flows 2>/dev/null | "$XR_PY" -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    print(0); sys.exit(0)
if isinstance(d, dict):
    d = d.get("flows", [])
host = sys.argv[1] if len(sys.argv) > 1 else ""
cli = sys.argv[2] if len(sys.argv) > 2 else ""
n = 0
for f in d:
    if host and f.get("hostname") != host: continue
    if cli and cli not in str(f.get("client", f.get("src", ""))): continue
    n += 1
print(n)' "$@"
}
flows_has() { [ "$(flows_count "$@")" -ge 1 ]; }
# flow_field HOSTNAME FIELD : the largest FIELD (a number) among the open
# flows of HOSTNAME, 0 if none
flow_field() {
	xrctl -j flows 2>/dev/null | "$XR_PY" -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError:
    d = []
if isinstance(d, dict):
    d = d.get("flows", [])
print(max([int(f.get(sys.argv[2], 0)) for f in d if f.get("hostname") == sys.argv[1]] or [0]))' "$1" "$2"
}
# flow_field_ge HOSTNAME FIELD MIN
flow_field_ge() { [ "$(flow_field "$1" "$2")" -ge "$3" ]; }
# flows_at_least N [HOSTNAME [CLIENT_SUBSTRING]]
flows_at_least() { [ "$(flows_count "${@:2}")" -ge "$1" ]; }

# agent_field NAME FIELD : a field of agent NAME's READY session as `xrelayctl
# status -j` lists it ("" if not listed); AGENT_FIELD_CTL names another
# xrelayctl wrapper (a second relay)
agent_field() {
	"${AGENT_FIELD_CTL:-xrctl}" -j status 2>/dev/null | "$XR_PY" -c '
import json, sys
try:
    d = json.load(sys.stdin).get("xrelayd") or {}
except ValueError:
    sys.exit(0)
for a in d.get("agents", []):
    if a.get("agent") == sys.argv[1]:
        print(a.get(sys.argv[2], "")); break' "$1" "$2"
}

# log_says FILE REGEX... : FILE has a line matching every REGEX (grep -Ei)
log_says() {
	local f=$1 re; shift
	local lines
	lines=$(cat "$f" 2>/dev/null)
	for re in "$@"; do
		lines=$(grep -Ei -- "$re" <<<"$lines") || return 1
	done
	[ -n "$lines" ]
}

# tls_diag WHAT : what helps to see why an assertion failed
tls_diag() {
	local n
	xr_log "--- $1"
	{
		echo "\$ xrelayctl -j stats (tcp)"
		xrctl -j stats 2>&1 | "$XR_PY" -c '
import json, sys
try:
    d = json.load(sys.stdin)
except ValueError as e:
    print("not JSON:", e); sys.exit(0)
print("tcp", json.dumps(d.get("tcp")))
for t in d.get("tenants", []):
    print(t.get("name"), "tcp", json.dumps(t.get("tcp")))'
		echo "\$ xrelayctl -j flows (first 5)"
		xrctl -j flows 2>&1 | head -c 1500; echo
		echo "\$ xrelayd log (tail)"; tail -n 15 "${XR_RELAYD_LOG:-/dev/null}" 2>/dev/null
		for n in "${!AGENT_LOG[@]}"; do
			echo "\$ agent $n log (tail)"; tail -n 8 "${AGENT_LOG[$n]}" 2>/dev/null
		done
	} | sed 's/^/#   /' >&2
}
