#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# demo.sh - xrelay working in a namespace sandbox: the WireGuard relay (XDP),
# then a TLS service on the private host published by name through the relay.
# `sudo make demo` builds first, then runs this.  Everything it creates is
# torn down on exit (Ctrl-C included); XR_KEEP=1 leaves it up to explore.
set -u
. "$(dirname "$(readlink -f "$0")")/lib/tls.sh"

say() { printf '\n==> %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }
ctl() { printf '[relay]$ xrelayctl %s\n' "$*"; xrctl "$@"; }
on() { local label=$1 ns=$2; shift 2; printf '[%s]$ %s\n' "$label" "$*"; nsx "$ns" "$@"; }

[ "$(id -u)" = 0 ] || { echo "demo.sh: must run as root: sudo make demo" >&2; exit 2; }
tls_have_bins || { echo "demo.sh: $XRELAYD, $XRELAYCTL or $XR_AGENT not built: run make" >&2; exit 1; }
for t in iperf3 bpftool nginx curl openssl setpriv; do
	command -v $t >/dev/null || { echo "demo.sh: $t missing: run make deps" >&2; exit 1; }
done

say "Building the sandbox: an 'internet' bridge, a relay, two public peers, a NAT router with two private hosts behind it"
topo_up
echo "   relay $RELAY4 / $RELAY6, pub1 $PUB1_4, pub2 $PUB2_4, NAT $RTR_WAN4 (no inbound), priv $PRIV_4, priv2 $PRIV2_4"
echo "   from pub1, priv's LAN address is unreachable:"
if nsx "$NS_PUB1" ping -n -q -c1 -W1 $PRIV_4 >/dev/null 2>&1; then echo "   (unexpected: it answered)"; else echo "   ping $PRIV_4: no answer, as behind any NAT"; fi

say "Relay config: two tenants sharing UDP port $WG_PORT, identified by their WireGuard public keys"
wg_relay_config
sed 's/^/   /' "$XR_RELAY_CONF"

say "Starting xrelayd and attaching the XDP program to the relay's eth0"
relay_start || exit 1
relay_attach || exit 1
ctl status

say "WireGuard peers (wireguard-go): every Endpoint is the relay, $RELAY_EP4; the private hosts keep the NAT open (PersistentKeepalive 25)"
wg_relay_peers lab lab2
if ! wait_for 30 ping_ok "$NS_PUB1" $T_PRIV 1; then
	echo "   the tunnel pub1 -> priv did not come up in 30 s; xrelayd says:"
	tail -n 20 "$XR_RELAYD_LOG"
	exit 1
fi
nsx "$NS_PUB1" wg show "$WG_PUB1" | sed 's/^/   /'

say "Ping through the relay: pub1 -> priv ($T_PRIV) and priv -> pub1 ($T_PUB1)"
on pub1 "$NS_PUB1" ping -n -c 3 -i 0.2 $T_PRIV
on priv "$NS_PRIV" ping -n -c 3 -i 0.2 $T_PUB1
say "Second tenant: pub2 -> priv2 ($T_PRIV2)"
wait_for 30 ping_ok "$NS_PUB2" $T_PRIV2 1
on pub2 "$NS_PUB2" ping -n -c 3 -i 0.2 $T_PRIV2

say "iperf3 through the relay, 3 s: data messages are forwarded by XDP (XDP_TX), not by xrelayd"
xr_spawn iperf3-server "$NS_PRIV" iperf3 -s -B $T_PRIV
wait_for 5 nsx "$NS_PRIV" sh -c "ss -ltnH 'sport = :5201' | grep -q ."
nsx "$NS_PUB1" timeout 20 iperf3 -c $T_PRIV -t 3 -f m | grep -E 'sender|receiver' | sed 's/^/   /'

say "Sessions installed by xrelayd from the handshakes it saw"
ctl sessions
say "Counters, per reason and per tenant"
ctl stats
say "The same counters straight from the pinned map (bpftool, BTF field names)"
if sess_map=$(xr_pin_path xr_sessions); then
	show bpftool map dump pinned "$sess_map" | head -n 24
	echo "   ..."
fi
if stats_map=$(xr_pin_path xr_stats); then
	show bpftool map dump pinned "$stats_map" | head -n 18
	echo "   ... (one entry per reason, one value per CPU; xrelayctl sums them)"
fi

say "TLS by name: nginx serves demo.example.test on priv's 127.0.0.1:8443, behind the NAT"
chmod 0711 "$XR_STATE"; mkdir -p "$TLS_PKI" "$TLS_WWW/up"; chmod 0700 "$TLS_PKI"
tls_leaf demo demo.example.test
tls_www
nginx_start demo "$NS_PRIV" 8443 "$(nginx_tls_server priv 8443 demo demo.example.test)"
echo "   the relay holds no key of it; identities for the control channel come from xrelayctl keygen"
tls_relay_key
tls_agent_key vm1
cat >>"$XR_RELAY_CONF" <<EOF
  - name: web
    agents: [{name: vm1, identity: "$(agent_id vm1)"}]
    hostnames: ["demo.example.test", "*.demo.example.test"]
control:
  listen: ["$RELAY4:$CTRL_PORT"]
  key: $XR_STATE/keys/relay.key
tls:
  listen: ["$RELAY4:443", "[$RELAY6]:443"]
EOF
sed -n '/name: web/,$p' "$XR_RELAY_CONF" | sed 's/^/   /'
say "Restarting xrelayd with TLS listeners (WireGuard keeps flowing meanwhile: XDP does not need it)"
relay_kill TERM
tls_relay_up || exit 1
on pub1 "$NS_PUB1" ping -n -c 2 -i 0.2 $T_PRIV

say "xrelay-agent on priv, as user nobody: dials out to $RELAY4:$CTRL_PORT, listens nowhere"
tls_agent_config vm1 "$RELAY4:$CTRL_PORT" "$(tls_service demo.example.test 127.0.0.1:8443 "health: {interval: 1s}")"
sed 's/^/   /' "$(agent_dir vm1)/agent.yaml"
tls_agent_start vm1 "$NS_PRIV" || exit 1
wait_route "$NS_PUB1" demo.example.test priv || { tail -n 20 "${AGENT_LOG[vm1]}"; exit 1; }
sed 's/^/   /' "${AGENT_LOG[vm1]}"

say "curl from pub1 to https://demo.example.test (the name resolves to the relay)"
on pub1 "$NS_PUB1" curl -sS --resolve demo.example.test:443:$RELAY4 --cacert "$TLS_CA" https://demo.example.test/name
printf '[pub1]$ curl https://demo.example.test/big.bin (64 MiB) | sha256sum\n'
tls_curl "$NS_PUB1" demo.example.test /big.bin -w '   %{size_download} bytes at %{speed_download} bytes/s\n' -o "$XR_STATE/big.dl"
echo "   sha256 $(sha256sum <"$XR_STATE/big.dl" | cut -c1-16)... (served: ${BIG_SHA:0:16}...)"
rm -f "$XR_STATE/big.dl"
say "A download in flight, as the relay lists it"
tls_curl "$NS_PUB1" demo.example.test /big.bin --limit-rate 8M -o /dev/null &
dl=$!
sleep 2
ctl flows
wait "$dl"
say "TLS counters (a name nobody owns is closed at once and counted)"
nsx "$NS_PUB1" curl -sS --max-time 5 --resolve nobody.example.test:443:$RELAY4 -k https://nobody.example.test/ 2>&1 | sed 's/^/   /'
sleep 1.2
ctl stats | sed -n '/^TLS/,$p'

say "Health: the agent probes its target; when it stops, the name goes down and is refused at once"
ctl tenants
nginx_pid=$(awk '$3 == "nginx-demo" { print $1 }' "$XR_STATE/pids" | tail -n1)
printf '[priv]$ kill nginx\n'
xr_kill "$nginx_pid" TERM
route_state() {
	xrctl -j status | "$XR_PY" -c '
import json, sys
for r in json.load(sys.stdin)["xrelayd"]["routes"]:
    if r["hostname"] == "demo.example.test":
        print(r["state"], "-", r["reason"])'
}
wait_for 15 eval '[ "$(route_state | cut -d" " -f1)" = down ]'
printf '[relay]$ xrelayctl -j status | (routes: demo.example.test)\n   %s\n' "$(route_state)"
on pub1 "$NS_PUB1" curl -sS --max-time 5 --resolve demo.example.test:443:$RELAY4 --cacert "$TLS_CA" \
	https://demo.example.test/name 2>&1 | sed 's/^/   /'
grep -E 'state changed' "${AGENT_LOG[vm1]}" "$XR_RELAYD_LOG" | sed 's/^[^:]*://; s/^/   /' | cut -c1-200

say "Done; tearing everything down"
