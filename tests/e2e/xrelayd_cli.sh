#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# xrelayd and xrelay-agent as an operator meets them: --check, config errors
# as FILE:LINE with exit 2, private keys readable by others refused with
# exit 2 (as OpenSSH does), keygen/pubkey.  No namespaces, no BPF: only
# files in a temporary directory this script removes.
set -u
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
XRELAYD=${XRELAYD:-$ROOT/build/xrelayd}
AGENT=${AGENT:-$ROOT/build/xrelay-agent}
CTL=${CTL:-$ROOT/build/xrelayctl}
T=$(mktemp -d /tmp/xrelayd-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok()    { pass=$((pass + 1)); echo "ok - $*"; }
notok() { fail=$((fail + 1)); echo "not ok - $*"; }
# expect NAME WANT_RC WANT_STDERR_REGEX CMD...
expect() {
	local name=$1 want=$2 re=$3 rc; shift 3
	"$@" >"$T/out" 2>"$T/err"; rc=$?
	if [ "$rc" = "$want" ] && { [ -z "$re" ] || grep -Eq "$re" "$T/err" "$T/out"; }; then
		ok "$name"
	else
		notok "$name (exit $rc, want $want; stderr: $(head -c 300 "$T/err"))"
	fi
}

WGKEY=HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=
cat >"$T/good.yaml" <<Y
wireguard:
  listen: ["0.0.0.0:51820", "[::]:51820"]
tenants:
  - name: lab
    wireguard:
      - pubkey: "$WGKEY"
    limits: {bandwidth: 100mbit, packets: 200kpps, connections: 500/s}
    allow: ["0.0.0.0/0", "::/0"]
Y
expect "xrelayd --check accepts a valid config" 0 "ok" "$XRELAYD" -c "$T/good.yaml" --check

printf 'tenants:\n  - name: lab\n    limits:\n      bandwidth: fast\n' >"$T/bad1.yaml"
expect "bad limit: FILE:LINE names the key, exit 2" 2 "bad1.yaml:4: .*bandwidth" \
	"$XRELAYD" -c "$T/bad1.yaml" --check
printf 'tenants:\n  - name: lab\n    allow: ["10.0.0.1/8"]\n' >"$T/bad2.yaml"
expect "CIDR with host bits: FILE:LINE, exit 2" 2 "bad2.yaml:3: .*host bits" \
	"$XRELAYD" -c "$T/bad2.yaml" --check
printf 'wireguard:\n  listen: ["1.2.3.4:99999"]\n' >"$T/bad3.yaml"
expect "bad port: FILE:LINE, exit 2" 2 "bad3.yaml:2:" "$XRELAYD" -c "$T/bad3.yaml" --check
printf 'tenants:\n  - name: lab\n    wireguard:\n      - pubkey: "not-a-key"\n' >"$T/bad4.yaml"
expect "malformed WireGuard key: FILE:LINE, exit 2" 2 "bad4.yaml:4:" "$XRELAYD" -c "$T/bad4.yaml" --check
printf 'tenants: [\n' >"$T/bad5.yaml"
expect "YAML syntax error: FILE:LINE, exit 2" 2 "bad5.yaml:[0-9]+:" "$XRELAYD" -c "$T/bad5.yaml" --check
expect "missing config file: exit 2 with its name" 2 "nonexistent.yaml" \
	"$XRELAYD" -c "$T/nonexistent.yaml" --check
expect "no -c: usage, exit 2" 2 "Usage" "$XRELAYD"

# identities and key-file permissions
expect "keygen writes a 0600 key and prints the identity" 0 "^xrelay-ed25519 " "$CTL" keygen "$T/relay.key"
[ "$(stat -c %a "$T/relay.key")" = 600 ] && ok "key file mode 0600" || notok "key file mode $(stat -c %a "$T/relay.key")"
expect "keygen refuses to overwrite (exit 2)" 2 "" "$CTL" keygen "$T/relay.key"
id1=$("$CTL" keygen "$T/relay2.key" 2>/dev/null); id2=$("$CTL" pubkey "$T/relay2.key" 2>/dev/null)
[ -n "$id1" ] && [ "$id1" = "$id2" ] && ok "pubkey prints keygen's line again" || notok "pubkey differs from keygen"
sed "1i control:\n  listen: [\"127.0.0.1:7443\"]\n  key: $T/relay.key" "$T/good.yaml" >"$T/withkey.yaml"
expect "a 0600 control key is accepted" 0 "ok" "$XRELAYD" -c "$T/withkey.yaml" --check
chmod 0640 "$T/relay.key"
expect "xrelayd refuses a key readable by group (exit 2)" 2 "relay.key.*(permissions|too open)" \
	"$XRELAYD" -c "$T/withkey.yaml" --check
chmod 0600 "$T/relay.key"

"$CTL" keygen "$T/agent.key" >/dev/null 2>&1
cat >"$T/agent.yaml" <<Y
name: vm1
key: $T/agent.key
relays:
  - address: "relay.example.com:7443"
    identity: "$id1"
services:
  - hostname: dev.example.com
    target: "127.0.0.1:8443"
Y
expect "xrelay-agent --check accepts a valid config" 0 "ok" "$AGENT" -c "$T/agent.yaml" --check
chmod 0644 "$T/agent.key"
expect "xrelay-agent refuses a world-readable key (exit 2)" 2 "agent.key" "$AGENT" -c "$T/agent.yaml" --check

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
