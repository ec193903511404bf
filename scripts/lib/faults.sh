# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
#
# faults.sh - fixtures for the fault-injection tests (tests/e2e/faults_*.sh).
# Sources tls.sh (and through it netns.sh) and adds:
#
#   config     one relay.yaml with WireGuard, control and public TLS, whose
#              tenants own both WireGuard keys and agents; agents with a
#              short heartbeat (FAULT_HB, 1s) so that detection is quick
#   timing     ms_wait: poll a condition every 50 ms and report how long it
#              took; measured NAME MS prints "# measured: NAME MS ms" (the
#              figures docs/RELIABILITY.md quotes)
#   agents     the session id of an agent in `xrelayctl status -j`, and the
#              relay log lines written after a given point
#   transfers  downloads through the agent (curl) and over the WireGuard
#              tunnel (python http.server on the tunnel address) written to
#              a file; dl_verdict tells exact / cut short cleanly / corrupt:
#              a cut transfer must hold a byte-exact prefix of the source
#   faults     packet loss with nftables numgen on the private host's
#              uplink, in a table this run creates (xrf_<pid>) in the
#              router's namespace, removed by loss_off and by teardown with
#              the namespace; conntrack flush
#
# Like the others it changes nothing until called.

. "$(dirname "${BASH_SOURCE[0]}")/tls.sh"

# heartbeat of every agent in the fault tests (agent.yaml `heartbeat:`)
FAULT_HB_MS=${FAULT_HB_MS:-1000}
# shellcheck disable=SC2034 # read by tls_agent_config
AGENT_EXTRA="heartbeat: ${FAULT_HB_MS}ms"
# the WireGuard tunnel's HTTP server (on priv, bound to the tunnel address)
WG_HTTP_PORT=8080

# ---- output ------------------------------------------------------------------
# measured NAME MS : the comment line the docs quote
measured() { printf '# measured: %s %s ms\n' "$1" "$2"; }

# ---- config ------------------------------------------------------------------
# fault_tenant NAME "AGENT..." "HOSTNAME..." WG_PRIV_PUB WG_PEER_PUB [YAML_LINE...] :
# a tenant that owns hostnames (served by its agents) and one WireGuard host
fault_tenant() {
	local name=$1 agents=$2 hosts=$3 wpriv=$4 wpeer=$5
	shift 5
	tls_tenant "$name" "$agents" "$hosts" \
		"wireguard:" "  - pubkey: \"$wpriv\"" "    peers: [\"$wpeer\"]" "$@"
}

# fault_relay_config TENANT_BLOCK... : tls_relay_config plus wireguard.listen
fault_relay_config() {
	tls_relay_config "$@"
	cat >>"$XR_RELAY_CONF" <<-EOF
	wireguard:
	  listen: ["$RELAY4:$WG_PORT", "[$RELAY6]:$WG_PORT"]
	EOF
}

# ---- timing -------------------------------------------------------------------
# ms_wait TIMEOUT_MS CMD... : poll CMD every 50 ms from now; prints the ms it
# took (or the timeout) and fails on timeout
ms_wait() {
	local limit=$1 t0 t; shift
	t0=$(ms_now)
	while :; do
		if "$@" >/dev/null 2>&1; then
			echo $(( $(ms_now) - t0 )); return 0
		fi
		t=$(( $(ms_now) - t0 ))
		[ "$t" -ge "$limit" ] && { echo "$t"; return 1; }
		sleep 0.05
	done
}

# ---- agents as the relay sees them --------------------------------------------
# agent_session NAME : the session id `xrelayctl status -j` lists for agent
# NAME (empty when the relay lists none)
agent_session() { agent_field "$1" session; }
agent_listed() { [ -n "$(agent_session "$1")" ]; }
agent_not_listed() { [ -z "$(agent_session "$1")" ]; }
# agent_session_is NAME ID / agent_session_not NAME ID
agent_session_is() { [ "$(agent_session "$1")" = "$2" ]; }
agent_session_new() { local s; s=$(agent_session "$1"); [ -n "$s" ] && [ "$s" != "$2" ]; }

# log_mark FILE : the current line count (a point to search from)
log_mark() { local n; n=$(wc -l <"$1" 2>/dev/null) || n=0; echo "${n:-0}"; }
# log_after FILE MARK REGEX... : a line after MARK matches every REGEX (grep -E)
log_after() {
	local f=$1 m=$2 lines re; shift 2
	lines=$(tail -n +"$((m + 1))" "$f" 2>/dev/null)
	for re in "$@"; do
		lines=$(grep -E -- "$re" <<<"$lines") || return 1
	done
	[ -n "$lines" ]
}
# log_show FILE MARK REGEX : print the matching lines after MARK as comments
log_show() {
	tail -n +"$(($2 + 1))" "$1" 2>/dev/null | grep -E -- "$3" | sed 's/^/#   /' >&2
}

# ---- transfers --------------------------------------------------------------------
# dl_start TAG NS HOST PATH [CURL_ARGS...] : curl https://HOST/PATH through the
# relay into $XR_STATE/dl-TAG.bin in the background (DL_PID[TAG]); bounded by
# DL_MAX seconds (default 60)
declare -A DL_PID=() DL_T0=()
dl_start() {
	local tag=$1 ns=$2 host=$3 path=$4; shift 4
	rm -f "$XR_STATE/dl-$tag.bin"
	# shellcheck disable=SC2034 # read by the callers
	DL_T0[$tag]=$(ms_now)
	xr_spawn "dl-$tag" "$ns" curl -sS --max-time "${DL_MAX:-60}" \
		--resolve "$host:443:$RELAY4" --cacert "$TLS_CA" -o "$XR_STATE/dl-$tag.bin" \
		-w '%{size_download} %{local_port} %{exitcode}\n' "$@" "https://$host$path"
	DL_PID[$tag]=$XR_LAST_PID
}
# wg_dl_start TAG NS URL [CURL_ARGS...] : plain HTTP download (over the tunnel)
wg_dl_start() {
	local tag=$1 ns=$2 url=$3; shift 3
	rm -f "$XR_STATE/dl-$tag.bin"
	# shellcheck disable=SC2034 # read by the callers
	DL_T0[$tag]=$(ms_now)
	xr_spawn "dl-$tag" "$ns" curl -sS --max-time "${DL_MAX:-60}" -o "$XR_STATE/dl-$tag.bin" \
		-w '%{size_download} %{local_port} %{exitcode}\n' "$@" "$url"
	DL_PID[$tag]=$XR_LAST_PID
}
# dl_running TAG
dl_running() { pid_alive "${DL_PID[$1]}"; }
# dl_bytes TAG : bytes written so far
dl_bytes() { stat -c %s "$XR_STATE/dl-$1.bin" 2>/dev/null || echo 0; }
# dl_wait TAG [TIMEOUT_S] : reap the download, DL_RC[TAG] its exit status
# (124 if it was still running at the timeout and had to be killed)
declare -A DL_RC=() DL_T1=()
dl_done() { ! pid_alive "${DL_PID[$1]}"; }
dl_wait() {
	local tag=$1 t=${2:-90}
	if ! wait_for "$t" dl_done "$tag"; then
		xr_kill "${DL_PID[$tag]}" KILL
		DL_RC[$tag]=124; DL_T1[$tag]=$(ms_now); return 1
	fi
	wait "${DL_PID[$tag]}" 2>/dev/null; DL_RC[$tag]=$?
	# curl's own word (-w %{exitcode}) where it wrote one: bash's wait may
	# have lost the status of a child it reaped long ago
	local last
	last=$(tail -n1 "$XR_STATE/dl-$tag.log" 2>/dev/null)
	[[ $last =~ ^[0-9]+\ [0-9]+\ ([0-9]+)$ ]] && DL_RC[$tag]=${BASH_REMATCH[1]}
	# shellcheck disable=SC2034 # read by the callers
	DL_T1[$tag]=$(ms_now)
	return 0
}
# dl_verdict TAG SOURCE_FILE [OFFSET] : sets DL_V[TAG] to
#   exact    curl exit 0 and the file equals SOURCE (from OFFSET)
#   cut      curl failed, and what arrived is a byte-exact prefix
#   corrupt  anything else (wrong bytes, or success with a short file)
# and logs it; returns 0 unless corrupt
declare -A DL_V=()
dl_verdict() {
	local tag=$1 src=$2 off=${3:-0} f=$XR_STATE/dl-$1.bin n rc=${DL_RC[$1]:-?} total
	n=$(dl_bytes "$tag")
	total=$(( $(stat -c %s "$src") - off ))
	if [ "$rc" = 0 ] && [ "$n" = "$total" ] && cmp -s -i "0:$off" -n "$n" "$f" "$src"; then
		DL_V[$tag]="exact"
	elif [ "$rc" != 0 ] && { [ "$n" = 0 ] || cmp -s -i "0:$off" -n "$n" "$f" "$src"; }; then
		DL_V[$tag]="cut"
	else
		DL_V[$tag]="corrupt"
	fi
	xr_log "download $tag: curl exit $rc, $n of $total bytes, ${DL_V[$tag]} ($(tail -n1 "$XR_STATE/dl-$tag.log" 2>/dev/null))"
	[ "${DL_V[$tag]}" != corrupt ]
}
dl_clean() { rm -f "$XR_STATE/dl-$1.bin"; }

# wg_http_start : python http.server on priv bound to the tunnel address,
# serving $TLS_WWW (big.bin etc) over WireGuard
wg_http_start() {
	xr_spawn wg-http "$NS_PRIV" "$XR_PY" -m http.server --bind "$T_PRIV" --directory "$TLS_WWW" "$WG_HTTP_PORT"
	wait_for 10 port_listens "$NS_PRIV" "$WG_HTTP_PORT"
}

# ping_rate NS DST COUNT INTERVAL : percentage of echo replies (integer)
ping_rate() {
	local out
	out=$(nsx "$1" ping -n -q -c "$3" -i "$4" -W 1 "$2" 2>&1)
	sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out" | awk -v n="$3" '{ printf "%d\n", $1 * 100 / n } END { if (NR == 0) print 0 }'
}

# ---- faults ---------------------------------------------------------------------
LOSS_TABLE=xrf_$$
# no_offload NS IFACE : no TSO/GSO/GRO on IFACE: what it sends is cut into
# wire-sized packets as it leaves, what it receives is not merged again
no_offload() {
	nsx "$1" ethtool -K "$2" tso off gso off gro off >/dev/null 2>&1
}
# loss_on PERCENT : drop PERCENT % of the packets to and from the private
# host priv at random (nftables numgen), on its uplink: the router's forward
# hook, in a table of this run (replaces an earlier one).  Not in priv's own
# output hook: TCP hands netfilter 64 KiB GSO aggregates there (measured: a
# 16 MiB upload left in 263 packets > 1500 bytes), so "5 %" would drop
# bursts of up to 44 segments.  With offloads off on priv's eth0 and the
# router's lp1 (loss_prepare) the router sees wire-sized packets both ways.
loss_prepare() {
	no_offload "$NS_PRIV" eth0
	no_offload "$NS_RTR" lp1
}
loss_on() {
	local pct=$1
	nsx "$NS_RTR" nft delete table inet "$LOSS_TABLE" 2>/dev/null
	nsx "$NS_RTR" nft -f - <<-EOF
	table inet $LOSS_TABLE {
	    chain forward {
	        type filter hook forward priority -10; policy accept;
	        ip saddr $PRIV_4 numgen random mod 100 < $pct counter drop
	        ip daddr $PRIV_4 numgen random mod 100 < $pct counter drop
	        ip6 saddr fd77::2 numgen random mod 100 < $pct counter drop
	        ip6 daddr fd77::2 numgen random mod 100 < $pct counter drop
	    }
	}
	EOF
}
# loss_dropped : packets the loss table dropped so far
loss_dropped() {
	nsx "$NS_RTR" nft list table inet "$LOSS_TABLE" 2>/dev/null |
		sed -n 's/.*counter packets \([0-9]*\) .*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}
loss_off() { nsx "$NS_RTR" nft delete table inet "$LOSS_TABLE" 2>/dev/null; return 0; }

# nat_flush : forget every NAT mapping of the router
nat_flush() { nsx "$NS_RTR" conntrack -F >/dev/null 2>&1; }

# both_alive : xrelayd and every agent this run started still run
both_alive() {
	local n rc=0
	pid_alive "$XR_RELAYD_PID" || { xr_log "xrelayd (pid $XR_RELAYD_PID) is gone; log ends:"
		tail -n 5 "$XR_RELAYD_LOG" | sed 's/^/#   /' >&2; rc=1; }
	for n in "${!AGENT_PID[@]}"; do
		[ -n "${AGENT_PID[$n]}" ] || continue
		pid_alive "${AGENT_PID[$n]}" || { xr_log "agent $n (pid ${AGENT_PID[$n]}) is gone; log ends:"
			tail -n 5 "${AGENT_LOG[$n]}" | sed 's/^/#   /' >&2; rc=1; }
	done
	return $rc
}

# ---- the standard fault topology -------------------------------------------------------
# fault_std_up : tenant lab owns a.example.test (agent vm1 on priv, nginx
# :8443 there, heartbeat FAULT_VM1_HB_MS, default FAULT_HB_MS) and the
# WireGuard host priv (tunnel to pub1, priv's PersistentKeepalive FAULT_WG_KA,
# 25 s by default); the python HTTP server on the tunnel address; XDP attached.
# FAULT_VM2=1 adds agent vm2 (also on priv, heartbeat FAULT_HB_MS) serving
# b.example.test for lab.  Fails with a log line at the first step that fails.
FAULT_WG_KA=${FAULT_WG_KA:-25}
FAULT_VM1_HB_MS=${FAULT_VM1_HB_MS:-$FAULT_HB_MS}
FAULT_VM2=${FAULT_VM2:-0}
fault_std_up() {
	local agents=vm1 hosts=a.example.test
	[ "$FAULT_VM2" = 1 ] && { agents="vm1 vm2"; hosts="a.example.test b.example.test"; }
	tls_topo_up
	tls_www
	tls_leaf a a.example.test
	tls_leaf b b.example.test
	nginx_start priv "$NS_PRIV" 8443 "$(nginx_tls_server priv 8443 a a.example.test default_server)" \
		"$(nginx_tls_server priv 8443 b b.example.test)"
	wg_key priv; wg_key pub1
	for a in $agents; do tls_agent_key "$a"; done
	fault_relay_config "$(fault_tenant lab "$agents" "$hosts" "$(wg_pub priv)" "$(wg_pub pub1)")"
	AGENT_EXTRA="heartbeat: ${FAULT_VM1_HB_MS}ms" \
		tls_agent_config vm1 "$RELAY4:$CTRL_PORT" "$(tls_service a.example.test 127.0.0.1:8443)"
	[ "$FAULT_VM2" = 1 ] &&
		tls_agent_config vm2 "$RELAY4:$CTRL_PORT" "$(tls_service b.example.test 127.0.0.1:8443)"
	tls_relay_up || return 1
	relay_attach || return 1
	wg_relay_peers lab
	[ "$FAULT_WG_KA" = 25 ] ||
		wg_peer "$NS_PRIV" "$WG_PRIV" "$(wg_pub pub1)" "$T_PUB1/32" "$RELAY_EP4" "$FAULT_WG_KA"
	wg_http_start || { xr_log "http.server on $T_PRIV:$WG_HTTP_PORT did not start"; return 1; }
	for a in $agents; do tls_agent_start "$a" "$NS_PRIV" || return 1; done
	wait_for 30 ping_ok "$NS_PUB1" "$T_PRIV" 1 || { xr_log "no WireGuard tunnel pub1 -> priv"; return 1; }
	wait_route "$NS_PUB1" a.example.test priv 20 || { tls_diag "first route"; return 1; }
	if [ "$FAULT_VM2" = 1 ]; then
		wait_route "$NS_PUB1" b.example.test priv 20 || { tls_diag "first route"; return 1; }
	fi
	for a in $agents; do
		wait_for 5 agent_listed "$a" || { xr_log "$a not in xrelayctl status -j"; return 1; }
	done
}

# big_exact_tls / big_exact_wg : a 64 MiB download through the agent / over the
# tunnel, byte-exact (sha256)
big_exact_tls() {
	local sum
	sum=$(tls_curl "$NS_PUB1" a.example.test /big.bin --max-time 60 | sha256sum | cut -d' ' -f1)
	[ "$sum" = "$BIG_SHA" ] || { xr_log "64 MiB through the agent: sha256 ${sum:0:16}..., want ${BIG_SHA:0:16}..."; return 1; }
}
big_exact_wg() {
	local sum
	sum=$(nsx "$NS_PUB1" curl -sS --max-time 60 "http://$T_PRIV:$WG_HTTP_PORT/big.bin" | sha256sum | cut -d' ' -f1)
	[ "$sum" = "$BIG_SHA" ] || { xr_log "64 MiB over WireGuard: sha256 ${sum:0:16}..., want ${BIG_SHA:0:16}..."; return 1; }
}
