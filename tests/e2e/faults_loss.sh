#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# faults_loss.sh - random packet loss on the private host's uplink: nftables
# `numgen random mod 100 < N drop` for every packet to or from priv, in a
# table this test creates and removes in the NAT router's forward hook, with
# offloads off so that it sees wire-sized packets (scripts/lib/faults.sh
# loss_on explains why not in priv's own output hook).
#   5 %   a 16 MiB download through agent vm1 completes byte-exact within
#         60 s; tunnel ping success rate reported (>= 75 % expected:
#         (1 - 0.05)^2 of the round trips survive)
#   30 %  the agents' sessions survive or come back: a request to each name,
#         retried, succeeds within 30 s; a 64 KiB download (20 s, two
#         retries) arrives byte-exact, no attempt corrupt; tunnel ping rate
#         reported
#   after the loss is removed: both names served within 10 s, 64 MiB exact
#         through the agent and over the tunnel, nothing crashed
# vm1 has the default heartbeat (5 s), vm2 a 1 s heartbeat.  Times and rates:
# "# measured: NAME VALUE ms|%" (docs/RELIABILITY.md).
#
# Topology: scripts/lib/netns.sh; fixtures: scripts/lib/tls.sh, faults.sh.
set -u
XR_PREFIX=${XR_PREFIX:-xt-f4-$$}
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/faults.sh"

if ! tls_have_bins; then
	xr_notok "relay binaries built ($XRELAYD, $XRELAYCTL, $XR_AGENT)"
	exit 1
fi
# shellcheck disable=SC2034 # read by fault_std_up
FAULT_VM1_HB_MS=5000 FAULT_VM2=1
if ! fault_std_up; then
	xr_notok "relay, XDP, WireGuard tunnel and agents up"
	exit 1
fi
xr_ok "relay, XDP, WireGuard tunnel and agents up"
BIG=$TLS_WWW/big.bin
head -c 16M "$BIG" >"$TLS_WWW/16m.bin"
head -c 64K "$BIG" >"$TLS_WWW/64k.bin"
# wire-sized packets on both ends of priv's uplink: loss per packet, as on a
# real link, not per 64 KiB GSO aggregate
loss_prepare

# log the agents' sessions as the relay lists them, and what they logged
sessions_note() {
	xr_log "$1: sessions vm1 $(agent_session vm1 || true), vm2 $(agent_session vm2 || true)"
}

t_loss5() {
	local rc=0 t0 t pct a0 b0 d
	a0=$(agent_session vm1); b0=$(agent_session vm2)
	loss_on 5 || { xr_log "nft: cannot add the loss table"; return 1; }
	t0=$(ms_now)
	DL_MAX=60 dl_start loss5 "$NS_PUB1" a.example.test /16m.bin
	dl_wait loss5 70
	t=$(( ${DL_T1[loss5]} - t0 ))
	dl_verdict loss5 "$TLS_WWW/16m.bin" || rc=1
	measured loss5_download_16m "$t"
	[ "${DL_V[loss5]}" = exact ] || { xr_log "want the 16 MiB download exact at 5 % loss"; rc=1; }
	pct=$(ping_rate "$NS_PUB1" "$T_PRIV" 100 0.05)
	echo "# measured: loss5_wg_ping_success ${pct} %"
	[ "$pct" -ge 75 ] || { xr_log "tunnel pings: $pct % answered at 5 % loss"; rc=1; }
	d=$(loss_dropped)
	xr_log "5 % loss: $d packets dropped by nft; 16 MiB in $t ms; tunnel pings $pct %"
	xr_log "sessions vm1 $a0 -> $(agent_session vm1), vm2 $b0 -> $(agent_session vm2)"
	# 16 MiB are ~11600 wire-sized segments: 5 % of them and of the ACKs is
	# several hundred; a few dozen would mean 64 KiB aggregates were dropped
	[ "$d" -ge 300 ] || { xr_log "only $d packets dropped: the loss does not act on wire-sized packets"; rc=1; }
	dl_clean loss5
	both_alive || rc=1
	[ $rc = 0 ] || tls_diag "5 % loss"
	return $rc
}

# retry_name NAME LIMIT_S : /name retried (5 s each) until it answers; prints
# "MS TRIES" and fails when LIMIT_S passes first
retry_name() {
	local name=$1 lim=$2 t0 n=0
	t0=$(ms_now)
	while :; do
		n=$((n + 1))
		NAME_IS_QUIET=1 TLS_CURL_MAX=5 name_is "$NS_PUB1" "$name" priv && { echo "$(( $(ms_now) - t0 )) $n"; return 0; }
		[ $(( $(ms_now) - t0 )) -ge $((lim * 1000)) ] && { echo "$(( $(ms_now) - t0 )) $n"; return 1; }
		sleep 0.2
	done
}

t_loss30() {
	local rc=0 a0 b0 pct out m1 m2 d k
	a0=$(agent_session vm1); b0=$(agent_session vm2)
	m1=$(log_mark "${AGENT_LOG[vm1]}"); m2=$(log_mark "${AGENT_LOG[vm2]}")
	loss_on 30 || { xr_log "nft: cannot add the loss table"; return 1; }
	# let the loss work on the sessions for a while (heartbeats, pools)
	pct=$(ping_rate "$NS_PUB1" "$T_PRIV" 100 0.1)
	echo "# measured: loss30_wg_ping_success ${pct} %"
	[ "$pct" -gt 0 ] || { xr_log "no tunnel ping answered at 30 % loss"; rc=1; }
	for k in a.example.test:vm1 b.example.test:vm2; do
		if out=$(retry_name "${k%%:*}" 30); then
			measured "loss30_${k##*:}_request" "${out% *}"
			xr_log "30 % loss: ${k%%:*} answered after ${out% *} ms, attempt ${out#* }"
		else
			xr_log "30 % loss: ${k%%:*} not answered in ${out% *} ms, ${out#* } attempts"; rc=1
		fi
	done
	# and data: 64 KiB through vm1, retried (20 s each, 3 attempts) until
	# one is complete; every attempt must be exact or a clean prefix (at 30 %
	# TCP's retransmission timer backs off: 256 KiB took 0.8 to over 30 s)
	local i t0
	t0=$(ms_now)
	for i in 1 2 3; do
		DL_MAX=20 dl_start "loss30-$i" "$NS_PUB1" a.example.test /64k.bin
		dl_wait "loss30-$i" 25
		dl_verdict "loss30-$i" "$TLS_WWW/64k.bin" || rc=1
		dl_clean "loss30-$i"
		[ "${DL_V[loss30-$i]}" = exact ] && break
	done
	if [ "${DL_V[loss30-$i]}" = exact ]; then
		measured loss30_download_64k $(( $(ms_now) - t0 ))
	else
		xr_log "30 % loss: no complete 64 KiB download in $i attempts"; rc=1
	fi
	d=$(loss_dropped)
	xr_log "30 % loss: $d packets dropped by nft; tunnel pings $pct %"
	xr_log "sessions vm1 $a0 -> $(agent_session vm1), vm2 $b0 -> $(agent_session vm2)"
	log_show "${AGENT_LOG[vm1]}" "$m1" 'relay session'
	log_show "${AGENT_LOG[vm2]}" "$m2" 'relay session'
	both_alive || rc=1
	[ $rc = 0 ] || tls_diag "30 % loss"
	return $rc
}

t_loss_off() {
	local rc=0 t
	loss_off
	for k in a.example.test:vm1 b.example.test:vm2; do
		t=$(ms_wait 10000 name_is "$NS_PUB1" "${k%%:*}" priv) ||
			{ xr_log "${k%%:*} not served 10 s after the loss was removed"; rc=1; }
		measured "loss_off_${k##*:}_served" "$t"
	done
	wait_for 10 agent_listed vm1 && wait_for 10 agent_listed vm2 || { xr_log "agents not listed"; rc=1; }
	ping_ok "$NS_PUB1" "$T_PRIV" 5 || { xr_log "tunnel pings fail without loss"; rc=1; }
	big_exact_tls || rc=1
	big_exact_wg || rc=1
	both_alive || rc=1
	[ $rc = 0 ] || tls_diag "loss removed"
	return $rc
}

xr_check "5 % loss on priv's uplink: 16 MiB through the agent byte-exact, tunnel pings mostly answered" t_loss5
xr_check "30 % loss on priv's uplink: a retried request to each agent's name and 64 KiB succeed, nothing crashes" t_loss30
xr_check "loss removed: names served within 10 s, 64 MiB exact through the agent and over the tunnel" t_loss_off

xr_result
