#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Every relay and agent config the documentation shows must be accepted by
# the programs it is written for.
#
#   README.md, docs/*.md  a ```yaml block preceded (blank lines allowed) by
#                         <!-- xrelay:relay -->  -> xrelayd --check -c F
#                         <!-- xrelay:agent -->  -> xrelay-agent --check -c F
#                         <!-- xrelay:skip -->   -> not a whole config (fragment,
#                                                   inventory, ...), not checked
#                         An UNMARKED block that looks like a config (a top-level
#                         tenants:, relays:, control:, services: or name:) is a
#                         failure: mark it, so that it is either checked or
#                         knowingly skipped.
#   configs/*.yaml        *relay*.yaml as relay, *agent*.yaml as agent.
#
# Placeholders are filled line for line (so an error's line maps back to the
# document): every identity: value gets a fresh identity from
# `xrelayctl keygen`; WireGuard keys written as "<...>" or with "..." get fresh
# base64 keys; the identity key path (agent top-level key:, control.key) points
# at a 0600 key file made here; tls.cert/tls.key at a self-signed pair made
# here with openssl.  Everything else (names, addresses, limits, real-looking
# keys) is checked exactly as written.
#
# Prints one "ok"/"not ok" line per block naming FILE:LINE (the line of the
# ```yaml fence), and a self-test proving that a broken and an unmarked block
# are reported.  No root, no network: files in a temporary directory only.
set -u
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
XRELAYD=${XRELAYD:-$ROOT/build/xrelayd}
AGENT=${AGENT:-$ROOT/build/xrelay-agent}
CTL=${CTL:-$ROOT/build/xrelayctl}
T=$(mktemp -d /tmp/xrelay-docs.XXXXXX)
trap '[ -n "${XR_KEEP:-}" ] && echo "# kept $T" || rm -rf "$T"' EXIT
pass=0 fail=0
ok()    { pass=$((pass + 1)); echo "ok - $*"; }
notok() { fail=$((fail + 1)); echo "not ok - $*"; }

for b in "$XRELAYD" "$AGENT" "$CTL"; do
	if [ ! -x "$b" ]; then
		notok "$b not built (make)"
		exit 1
	fi
done

# ---- material for the placeholders ---------------------------------------------
mkdir -p "$T/keys" "$T/blocks"
: >"$T/ids"
for i in $(seq 1 40); do
	"$CTL" keygen "$T/keys/k$i" >>"$T/ids" 2>"$T/err" || { notok "xrelayctl keygen: $(cat "$T/err")"; exit 1; }
done
# the base64 half of an identity is 32 bytes, as a WireGuard key is
awk '{ print $2 }' "$T/ids" >"$T/wgkeys"
if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
	-subj /CN=docs.example.com -keyout "$T/tls.key" -out "$T/tls.pem" >/dev/null 2>&1; then
	notok "openssl could not make a test certificate"
	exit 1
fi
chmod 600 "$T/tls.key"

# ---- extraction -------------------------------------------------------------------
# extract MD: writes $T/blocks/N.yaml and appends "N KIND MD LINE" to $T/index,
# KIND one of relay, agent, skip, unmarked (looks like a config), other.
n=0
extract() {
	awk -v out="$T/blocks" -v md="$1" -v start="$n" '
		BEGIN { n = start; inb = 0; mark = "" }
		inb && /^[ \t]*```[ \t]*$/ {
			close(f); inb = 0
			k = mark != "" ? mark : (cfg ? "unmarked" : "other")
			print n, k, md, fence
			mark = ""; next
		}
		inb { print > f; if ($0 ~ /^(tenants|relays|control|services|name):/) cfg = 1; next }
		/^[ \t]*```[ \t]*(yaml|yml)[ \t]*$/ {
			n++; f = out "/" n ".yaml"; printf "" > f
			inb = 1; fence = NR; cfg = 0; next
		}
		/^[ \t]*<!--[ \t]*xrelay:(relay|agent|skip)[ \t]*-->[ \t]*$/ {
			mark = $0; sub(/^.*xrelay:/, "", mark); sub(/[ \t]*-->.*$/, "", mark); next
		}
		/^[ \t]*$/ { next }
		{ mark = "" }      # a marker holds only up to the next fence
		END { if (inb) print n, "unterminated", md, fence }
	' "$1" >>"$T/index"
	n=$(awk 'END { print NR ? $1 : 0 }' "$T/index")
	[ -n "$n" ] || n=0
}

# fill BLOCK KIND -> BLOCK.filled (same number of lines)
fill() {
	awk -v ids="$T/ids" -v wgk="$T/wgkeys" -v idkey="$T/keys/k1" \
	    -v tlskey="$T/tls.key" -v tlscert="$T/tls.pem" -v seed="$2$1" '
		BEGIN {
			while ((getline l < ids) > 0) id[++nid] = l
			while ((getline l < wgk) > 0) wg[++nwg] = l
			ii = 0; wi = 0
		}
		function next_id() { ii = ii % nid + 1; return id[ii] }
		function next_wg() { wi = wi % nwg + 1; return wg[wi] }
		function is_placeholder(v) { return v ~ /<[^>]*>/ || v ~ /\.\.\./ }
		# the value after "KEY:" at position p of s, up to , } ] # or the end
		function val_end(s, p,   q, c) {
			c = substr(s, p, 1)
			if (c == "\"" || c == "'\''") {
				q = index(substr(s, p + 1), c)
				return q ? p + q : length(s)
			}
			q = p
			while (q <= length(s) && substr(s, q, 1) !~ /[,}\]#]/) q++
			while (q > p && substr(s, q - 1, 1) == " ") q--
			return q - 1
		}
		# replace the value of "KEY:" in line s by r (first occurrence after p0)
		function subval(s, key, r,   p, e, m) {
			if (!match(s, "(^|[ {,-])" key ":[ ]*")) return s
			p = RSTART + RLENGTH
			if (p > length(s)) return s          # "key:" opening a block
			e = val_end(s, p)
			return substr(s, 1, p - 1) r substr(s, e + 1)
		}
		function valof(s, key,   p, e) {
			if (!match(s, "(^|[ {,-])" key ":[ ]*")) return ""
			p = RSTART + RLENGTH
			e = val_end(s, p)
			return substr(s, p, e - p + 1)
		}
		{
			line = $0
			# the mapping key of this line and its column, for the parent of key:
			if (match(line, /^[ ]*(- )?[a-z_]+:/)) {
				m = substr(line, 1, RLENGTH - 1); k = m
				sub(/^[ ]*(- )?/, "", k)
				col = length(m) - length(k)
				for (c in lvl) if (c + 0 >= col) delete lvl[c]
				parent = ""; best = -1
				for (c in lvl) if (c + 0 < col && c + 0 > best) { best = c + 0; parent = lvl[c] }
				lvl[col] = k
			} else {
				k = ""
			}
			if (line ~ /identity:/)
				line = subval(line, "identity", "\"" next_id() "\"")
			if (line ~ /pubkey:/ && is_placeholder(valof(line, "pubkey")))
				line = subval(line, "pubkey", "\"" next_wg() "\"")
			# peers: [...] or "- <...>" items under peers:
			if (line ~ /peers:/ || (k == "" && parent_list == "peers")) {
				while (match(line, /"<[^"]*>"|"[^"]*\.\.\.[^"]*"|<[^,\]>]*>/))
					line = substr(line, 1, RSTART - 1) "\"" next_wg() "\"" substr(line, RSTART + RLENGTH)
			}
			if (k == "peers") parent_list = "peers"; else if (k != "") parent_list = ""
			# flow mapping tls: {cert: X, key: Y}
			if (line ~ /tls:[ ]*\{/) {
				line = subval(line, "cert", tlscert)
				t = line; sub(/^.*tls:[ ]*\{/, "", t); h = substr(line, 1, length(line) - length(t))
				line = h subval(t, "key", tlskey)
			} else if (k == "cert") {
				line = subval(line, "cert", tlscert)
			} else if (k == "key") {
				if (parent == "tls")
					line = subval(line, "key", tlskey)
				else if (parent == "" || parent == "control")
					line = subval(line, "key", idkey)
			}
			print line
		}
	' "$1" >"$1.filled"
}

# check KIND FILE DOC LINE: run the program, report FILE:LINE
check() {
	local kind=$1 f=$2 doc=$3 at=$4 out rc prog msg
	case $kind in relay) prog=$XRELAYD ;; agent) prog=$AGENT ;; esac
	out=$("$prog" --check -c "$f" 2>&1); rc=$?
	if [ $rc = 0 ]; then
		ok "$doc:$at: $kind config accepted by $(basename "$prog") --check"
	else
		# FILE:L: message -> the document's line (the block starts after the fence)
		msg=$(printf '%s\n' "$out" | head -n 3 | awk -v f="$f" -v doc="$doc" -v at="$at" '{
			if (index($0, f ":") == 1) {
				r = substr($0, length(f) + 2); l = r; sub(/:.*/, "", l)
				if (l ~ /^[0-9]+$/) { sub(/^[0-9]+:/, "", r); $0 = doc ":" (at + l) ":" r }
			}
			printf "%s%s", (NR > 1 ? " | " : ""), $0 }')
		notok "$doc:$at: $kind config rejected by $(basename "$prog") --check (exit $rc): $msg"
	fi
}

run_index() { # from the first index line number $1
	local idx kind doc at
	while read -r idx kind doc at; do
		case $kind in
		relay|agent)
			fill "$T/blocks/$idx.yaml" "$kind"
			check "$kind" "$T/blocks/$idx.yaml.filled" "$doc" "$at" ;;
		unmarked)
			notok "$doc:$at: yaml block looks like a relay or agent config but has no <!-- xrelay:relay|agent|skip --> marker" ;;
		unterminated)
			notok "$doc:$at: yaml block without a closing fence" ;;
		skip|other)
			echo "# $doc:$at: $kind, not checked" ;;
		esac
	done < <(tail -n +"$1" "$T/index")
}

# ---- the documents ----------------------------------------------------------------
: >"$T/index"
cd "$ROOT" || exit 1
for md in README.md docs/*.md; do
	[ -f "$md" ] && extract "$md"
done
checked=$(awk '$2 == "relay" || $2 == "agent"' "$T/index" | wc -l)
if [ "$checked" -ge 2 ]; then
	ok "found $checked marked config blocks in README.md and docs/"
else
	notok "found only $checked marked config blocks in README.md and docs/ (docs/TLS.md alone has 2)"
fi
run_index 1

for f in configs/*.yaml; do
	[ -f "$f" ] || continue
	n=$((n + 1))
	cp "$f" "$T/blocks/$n.yaml"
	case $(basename "$f") in
	*relay*) kind=relay ;;
	*agent*) kind=agent ;;
	*) echo "# $f: neither relay nor agent by its name, not checked"; continue ;;
	esac
	fill "$T/blocks/$n.yaml" "$kind"
	check "$kind" "$T/blocks/$n.yaml.filled" "$f" 1
done

# ---- self-test: the checks above can fail ----------------------------------------
mkdir -p "$T/self"
cat >"$T/self/bad.md" <<'EOF'
A relay config with a misspelt key:

<!-- xrelay:relay -->
```yaml
control:
  listen: ["0.0.0.0:7443"]
  key: /etc/xrelay/relay.key
tenants:
  - name: lab
    agents: [{name: vm1, identity: "xrelay-ed25519 ..."}]
    hostname: ["dev.example.com"]
```

An agent config whose service has no target:

<!-- xrelay:agent -->
```yaml
name: vm1
key: ~/agent.key
relays:
  - address: "relay.example.com:7443"
    identity: "<the relay's identity line>"
services:
  - hostname: dev.example.com
```

An unmarked config:

```yaml
tenants:
  - name: lab
```

A good one, so the placeholders are known to be filled:

<!-- xrelay:agent -->
```yaml
name: vm1
key: /etc/xrelay/agent.key
relays:
  - address: "relay.example.com:7443"
    identity: "xrelay-ed25519 <relay>"
services:
  - hostname: notebook.example.com
    target: "127.0.0.1:8888"
    tls: {cert: /etc/xrelay/nb.pem, key: /etc/xrelay/nb.key, alpn: ["http/1.1"]}
```
EOF
first=$(($(wc -l <"$T/index") + 1))
extract "$T/self/bad.md"
self=$(run_index "$first" 2>&1)
want_re=(
	"^not ok - $T/self/bad.md:4: relay config rejected .*bad.md:11: unknown key 'hostname' in tenants"
	"^not ok - $T/self/bad.md:17: agent config rejected .*bad.md:24: service 'dev.example.com' has no 'target'"
	"^not ok - $T/self/bad.md:29: yaml block looks like a relay or agent config but has no"
	"^ok - $T/self/bad.md:37: agent config accepted"
)
good=1
for re in "${want_re[@]}"; do
	grep -Eq -- "$re" <<<"$self" || good=0
done
if [ $good = 1 ] && [ "$(grep -c '^ok\|^not ok' <<<"$self")" = 4 ]; then
	ok "self-test: a misspelt key, a missing target and an unmarked config are reported at their lines"
else
	notok "self-test: unexpected report:"
	sed 's/^/#   /' <<<"$self"
fi

echo "# $pass passed, $fail failed"
[ $fail = 0 ]
