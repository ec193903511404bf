#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# man_pages.sh - the manual pages agree with the programs:
#   - each page in docs/man renders without a single groff warning (-ww) and
#     its NAME line is what apropos/whatis read (lexgrog, from man-db);
#   - each page has the sections an operator looks for;
#   - every option `PROG --help` prints is in that program's OPTIONS section,
#     and every option there is in --help (both directions, long and short);
#   - every xrelayctl verb of --help has an entry under COMMANDS, and back;
#   - every config key the parser accepts (extracted from user/lib/config.c
#     itself, so a key added there without documentation fails here) has an
#     entry in xrelay.yaml(5) under RELAY or AGENT CONFIGURATION, and every
#     entry there is a key the parser accepts;
#   - the example files in xrelay.yaml(5) pass `--check`.
# No namespaces, no BPF: files in a temporary directory this script removes.
# Needs groff-base and man-db.  XRELAYD, AGENT, CTL override the binaries,
# MAN the page directory, CONFIG_C the parser source.
set -u
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
MAN=${MAN:-$ROOT/docs/man}
CONFIG_C=${CONFIG_C:-$ROOT/user/lib/config.c}
XRELAYD=${XRELAYD:-$ROOT/build/xrelayd}
AGENT=${AGENT:-$ROOT/build/xrelay-agent}
CTL=${CTL:-$ROOT/build/xrelayctl}
T=$(mktemp -d /tmp/xr-man.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok()    { pass=$((pass + 1)); echo "ok - $*"; }
notok() { fail=$((fail + 1)); echo "not ok - $*"; }
# check NAME FILE_OF_PROBLEMS: ok when the file is empty, else the first lines
check() {
	if [ ! -s "$2" ]; then ok "$1"; else notok "$1: $(head -n 8 "$2" | tr '\n' ' ' | cut -c1-400)"; fi
}

PAGES="xrelayd.8 xrelay-agent.8 xrelayctl.8 xrelay.yaml.5"

# ---- roff helpers -----------------------------------------------------------------
# unroff: the text of roff source lines, escapes and font changes removed.
unroff() {
	sed -e 's/\\-/-/g' -e 's/\\(dq/"/g' -e 's/\\(aq/'"'"'/g' -e 's/\\e/\\/g' \
	    -e 's/\\f[BIRP]//g' -e 's/\\f(CW//g' -e 's/\\&//g' -e 's/\\ / /g'
}
# tags PAGE SECTION: the tag line of every .TP entry under .SH SECTION, as text
# (macro name and quotes removed).
tags() {
	awk -v want="$2" '
		/^\.SH / { s = substr($0, 5); gsub(/"/, "", s); sec = s; next }
		/^\.\\"/ { next }
		/^\.TP/  { tp = 1; next }
		tp && sec == want {
			tp = 0; line = $0
			sub(/^\.(B|I|BI|BR|IB|IR|RB|RI) */, "", line); gsub(/"/, "", line)
			print line; next }
		{ tp = 0 }
	' "$1" | unroff
}
# section_names PAGE: the .SH headings
section_names() { awk '/^\.SH / { s = substr($0, 5); gsub(/"/, "", s); print s }' "$1"; }

# ---- 1. every page renders cleanly, with a NAME line whatis can read -------------------
have_groff=1
command -v groff >/dev/null || { have_groff=0; notok "groff not installed (Debian package groff-base)"; }
for p in $PAGES; do
	f=$MAN/$p
	if [ ! -f "$f" ]; then
		notok "$p exists in docs/man"
		continue
	fi
	if [ $have_groff = 1 ]; then
		# -ww: all warnings; -z: no output, only diagnostics
		groff -man -ww -z -Tutf8 "$f" >"$T/warn" 2>&1
		check "$p renders without groff warnings" "$T/warn"
	fi
	if command -v lexgrog >/dev/null; then
		if out=$(lexgrog "$f" 2>&1) && echo "$out" | grep -q ' - '; then
			ok "$p: NAME line parsed by lexgrog ($(echo "$out" | cut -d'"' -f2 | cut -c1-60)...)"
		else
			notok "$p: lexgrog cannot parse the NAME section: $out"
		fi
	else
		notok "lexgrog not installed (Debian package man-db)"
	fi
	# the page names the version the programs print
	want=$("$XRELAYD" --version 2>/dev/null | awk '{ print $2 }')
	if grep -q "^\.TH .*\"xrelay $want\"" "$f"; then
		ok "$p: .TH names xrelay $want, as xrelayd --version does"
	else
		notok "$p: .TH does not name xrelay $want ($(grep '^\.TH' "$f"))"
	fi
done

# ---- 2. the sections an operator looks for ------------------------------------------------
need_sections() { # PAGE SECTION...
	local p=$1 s; shift
	[ -f "$MAN/$p" ] || return
	: >"$T/miss"
	for s in "$@"; do
		section_names "$MAN/$p" | grep -qx "$s" || echo "$s" >>"$T/miss"
	done
	check "$p has the sections $*" "$T/miss"
}
need_sections xrelayd.8 NAME SYNOPSIS DESCRIPTION OPTIONS FILES ENVIRONMENT SIGNALS "EXIT STATUS" EXAMPLES "SEE ALSO"
need_sections xrelay-agent.8 NAME SYNOPSIS DESCRIPTION OPTIONS FILES ENVIRONMENT SIGNALS "EXIT STATUS" EXAMPLES "SEE ALSO"
need_sections xrelayctl.8 NAME SYNOPSIS DESCRIPTION OPTIONS COMMANDS FILES ENVIRONMENT "EXIT STATUS" EXAMPLES "SEE ALSO"
need_sections xrelay.yaml.5 NAME SYNOPSIS DESCRIPTION VALUES "RELAY CONFIGURATION" "AGENT CONFIGURATION" EXAMPLES "SEE ALSO"

# ---- 3. options: --help and OPTIONS agree, both ways ----------------------------------------------
# help_opts FILE: long options anywhere in the help text, short ones where a
# line introduces an option ("  -c, --config", "  -j, --json")
help_opts() {
	{ grep -oE -- '--[a-z][a-z0-9-]+' "$1"; grep -oE '^ +-[A-Za-z]\b' "$1" | tr -d ' '; } | sort -u
}
# page_opts PAGE: the options named in the tags of its OPTIONS section
page_opts() {
	tags "$1" OPTIONS >"$T/tags"
	{ grep -oE -- '--[a-z][a-z0-9-]+' "$T/tags"; grep -oE '(^|[ ,|])-[A-Za-z]\b' "$T/tags" | tr -d ' ,|'; } | sort -u
}
for prog in xrelayd xrelay-agent xrelayctl; do
	case $prog in xrelayd) bin=$XRELAYD ;; xrelay-agent) bin=$AGENT ;; xrelayctl) bin=$CTL ;; esac
	page=$MAN/$prog.8
	if [ ! -x "$bin" ]; then
		notok "$prog: $bin not built (make)"
		continue
	fi
	[ -f "$page" ] || continue
	if ! "$bin" --help >"$T/help" 2>"$T/help.err"; then
		notok "$prog --help exits 0"
		continue
	fi
	help_opts "$T/help" >"$T/help.opts"
	page_opts "$page" >"$T/page.opts"
	if [ "$(wc -l <"$T/help.opts")" -lt 4 ]; then
		notok "$prog: found only $(wc -l <"$T/help.opts") options in --help (extractor broken?)"
		continue
	fi
	comm -23 "$T/help.opts" "$T/page.opts" >"$T/miss"
	check "$prog: every option of --help is in $prog(8) OPTIONS" "$T/miss"
	comm -13 "$T/help.opts" "$T/page.opts" >"$T/extra"
	check "$prog: every option in $prog(8) OPTIONS is in --help" "$T/extra"
done

# ---- 4. xrelayctl verbs ---------------------------------------------------------------------------
if [ -x "$CTL" ] && [ -f "$MAN/xrelayctl.8" ]; then
	"$CTL" --help 2>/dev/null | awk '/^Verbs:/ { f = 1; next } /^[^ ]/ { f = 0 } f && /^  [a-z]/ { print $1 }' |
		sort -u >"$T/verbs.help"
	tags "$MAN/xrelayctl.8" COMMANDS | awk '{ print $1 }' | sort -u >"$T/verbs.page"
	if [ "$(wc -l <"$T/verbs.help")" -lt 8 ]; then
		notok "xrelayctl: found only $(wc -l <"$T/verbs.help") verbs in --help (extractor broken?)"
	else
		comm -23 "$T/verbs.help" "$T/verbs.page" >"$T/miss"
		check "xrelayctl: every verb of --help ($(wc -l <"$T/verbs.help")) has an entry in COMMANDS" "$T/miss"
		comm -13 "$T/verbs.help" "$T/verbs.page" >"$T/extra"
		check "xrelayctl: every entry in COMMANDS is a verb of --help" "$T/extra"
	fi
fi

# ---- 5. config keys: the parser and xrelay.yaml(5) agree -----------------------------------------
# The parser dispatches on `!strcmp(key, "NAME")` inside one function per
# mapping and rejects the rest with `unknown(c, k, key, "SECTION")`, where
# SECTION is the mapping's dotted path ("tenants.limits") or "relay config" /
# "agent config" for the two top levels.  So the keys of a function belong to
# the SECTION of its unknown() call, and a SECTION belongs to the relay and/or
# the agent according to its first component being a top-level key of either
# ("health" of both, "services" of the agent, "tls" of the relay).  A function
# shared by both may accept a key for one side only: `relay && !strcmp(key, ..)`
# or `!relay && !strcmp(key, ..)`.  Keys in a function without a literal
# SECTION are printed as "any:?.KEY" and only need an entry ending in KEY.
# Output lines: "relay:tenants.limits.bandwidth", "agent:services.tls.alpn".
extract_keys() {
	awk '
		function flush(sec,   i) {
			for (i = 1; i <= n; i++) { ns++; S[ns] = sec; K[ns] = keys[i]; F[ns] = only[i] }
			n = 0
		}
		/^(static )?[a-z].*\(/ && !/;[ \t]*$/ { flush("?") }
		/^}/ { flush("?") }
		{
			line = $0
			while (match(line, /(!relay && |relay && )?!strcmp\(key, "[A-Za-z_][A-Za-z0-9_]*"\)/)) {
				m = substr(line, RSTART, RLENGTH)
				keys[++n] = m; sub(/^.*strcmp\(key, "/, "", keys[n]); sub(/"\)$/, "", keys[n])
				only[n] = m ~ /^!relay/ ? "agent" : m ~ /^relay/ ? "relay" : ""
				line = substr(line, RSTART + RLENGTH)
			}
			if (match($0, /unknown\(c, k, key, "[^"]*"\)/))
				flush(substr($0, RSTART + 20, RLENGTH - 22))
		}
		END {
			for (i = 1; i <= ns; i++) {
				if (S[i] == "relay config") top["relay", K[i]] = 1
				if (S[i] == "agent config") top["agent", K[i]] = 1
			}
			for (i = 1; i <= ns; i++) {
				if (S[i] == "?") { print "any:?." K[i]; continue }
				if (S[i] == "relay config" || S[i] == "agent config") {
					print substr(S[i], 1, 5) ":" K[i]; continue
				}
				first = S[i]; sub(/\..*/, "", first); sides = 0
				if (top["relay", first] && F[i] != "agent") { print "relay:" S[i] "." K[i]; sides++ }
				if (top["agent", first] && F[i] != "relay") { print "agent:" S[i] "." K[i]; sides++ }
				if (!sides) print "ERROR:no top-level key owns section " S[i] " of key " K[i]
			}
		}
	' "$CONFIG_C" | sort -u
}
if [ ! -f "$CONFIG_C" ]; then
	notok "config keys: $CONFIG_C missing"
elif [ -f "$MAN/xrelay.yaml.5" ]; then
	extract_keys >"$T/keys.parser"
	nkeys=$(wc -l <"$T/keys.parser")
	if grep -q '^ERROR' "$T/keys.parser" || [ "$nkeys" -lt 45 ] ||
	   ! grep -qx 'relay:tenants.limits.bandwidth' "$T/keys.parser" ||
	   ! grep -qx 'agent:services.tls.alpn' "$T/keys.parser" ||
	   ! grep -qx 'relay:control' "$T/keys.parser" || ! grep -qx 'agent:name' "$T/keys.parser"; then
		notok "config keys: the extractor no longer understands user/lib/config.c ($nkeys keys: $(head -c 200 "$T/keys.parser" | tr '\n' ' ')); update extract_keys in $0"
	else
		ok "config keys: $nkeys keys extracted from user/lib/config.c"
		{ tags "$MAN/xrelay.yaml.5" "RELAY CONFIGURATION" | awk '{ sub(/:$/, "", $1); print "relay:" $1 }'
		  tags "$MAN/xrelay.yaml.5" "AGENT CONFIGURATION" | awk '{ sub(/:$/, "", $1); print "agent:" $1 }'
		} | sed 's/\[\]//g' | sort -u >"$T/keys.page"
		for side in relay agent any; do
			: >"$T/miss"
			while IFS= read -r k; do
				case $k in
				"any:?."*)      # section unknown: any entry ending in the key will do
					grep -Eq "^[a-z]+:([a-z0-9_.]+\\.)?${k#any:?.}\$" "$T/keys.page" || echo "$k" >>"$T/miss" ;;
				*)	grep -qxF "$k" "$T/keys.page" || echo "$k" >>"$T/miss" ;;
				esac
			done < <(grep "^$side:" "$T/keys.parser")
			[ $side = any ] && [ ! -s "$T/miss" ] && continue
			check "every $side config key the parser accepts ($(grep -c "^$side:" "$T/keys.parser")) is documented in xrelay.yaml(5)" "$T/miss"
		done
		: >"$T/extra"
		while IFS= read -r k; do
			grep -qxF "$k" "$T/keys.parser" || grep -qxF "any:?.${k##*.}" "$T/keys.parser" || echo "$k" >>"$T/extra"
		done <"$T/keys.page"
		check "every key documented in xrelay.yaml(5) ($(wc -l <"$T/keys.page")) is accepted by the parser" "$T/extra"
	fi
fi

# ---- 6. the example files of xrelay.yaml(5) are valid --------------------------------------------
# between the roff comments `.\" BEGIN relay.yaml` and `.\" END relay.yaml`
example() { # NAME -> stdout
	awk -v n="$1" '$0 == ".\\\" BEGIN " n { f = 1; next } $0 == ".\\\" END " n { f = 0 } f' \
		"$MAN/xrelay.yaml.5" | unroff
}
if [ -f "$MAN/xrelay.yaml.5" ] && [ -x "$XRELAYD" ] && [ -x "$AGENT" ] && [ -x "$CTL" ]; then
	"$CTL" keygen "$T/relay.key" >/dev/null 2>&1
	"$CTL" keygen "$T/agent.key" >/dev/null 2>&1
	example relay.yaml | sed "s|/etc/xrelay/relay.key|$T/relay.key|" >"$T/relay.yaml"
	# --check loads TLS pairs: a throwaway one for the example's paths
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj /CN=notebook.lab.example.com -keyout "$T/tls.key" -out "$T/tls.pem" >/dev/null 2>&1
	example agent.yaml | sed -e "s|/etc/xrelay/agent.key|$T/agent.key|" \
		-e "s|/etc/xrelay/[a-z.]*\.pem|$T/tls.pem|" -e "s|/etc/xrelay/[a-z.]*\.key|$T/tls.key|" \
		>"$T/agent.yaml"
	if [ "$(wc -l <"$T/relay.yaml")" -lt 10 ]; then
		notok "xrelay.yaml(5) has a relay example between BEGIN/END relay.yaml markers"
	elif out=$("$XRELAYD" -c "$T/relay.yaml" --check 2>&1); then
		ok "the relay example of xrelay.yaml(5) passes xrelayd --check ($out)"
	else
		notok "the relay example of xrelay.yaml(5) passes xrelayd --check: $out"
	fi
	if [ "$(wc -l <"$T/agent.yaml")" -lt 5 ]; then
		notok "xrelay.yaml(5) has an agent example between BEGIN/END agent.yaml markers"
	elif out=$("$AGENT" -c "$T/agent.yaml" --check 2>&1); then
		ok "the agent example of xrelay.yaml(5) passes xrelay-agent --check ($out)"
	else
		notok "the agent example of xrelay.yaml(5) passes xrelay-agent --check: $out"
	fi
fi

echo "# man_pages: $pass passed, $fail failed"
[ "$fail" = 0 ]
