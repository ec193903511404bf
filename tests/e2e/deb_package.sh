#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# deb_package.sh - `make deb`, then install, remove and purge the package in a
# throwaway root, never in this machine's /usr:
#   dpkg --root=DIR --force-script-chrootless
# installs under DIR with an admin dir DIR/var/lib/dpkg and runs the
# maintainer scripts on the host with DPKG_ROOT=DIR (they prefix every path
# with it, and create the users with `systemd-sysusers --root`).  DIR's
# status file holds the host's own entries for the packages xrelay depends
# on, so dpkg checks Depends (versions included) without --force-depends.
# The useradd fallback of postinst (no systemd-sysusers) runs too, on a
# second throwaway root.  The host's passwd, group and dpkg database are
# compared before and after.
#
# XR_DEB=path tests that package instead of building one.  Needs root.
set -u
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
BUILD=${XR_BUILD:-$ROOT/build}
T=$(mktemp -d /tmp/xrdeb.XXXXXX)
R=$T/root
pass=0 fail=0
ok()    { pass=$((pass + 1)); echo "ok - $*"; }
notok() { fail=$((fail + 1)); echo "not ok - $*"; }
trap 'rm -rf "$T"' EXIT
trap 'exit 130' INT TERM

if [ "$(id -u)" != 0 ]; then echo "# SKIP deb_package.sh: needs root"; exit 0; fi
host_state() { md5sum /etc/passwd /etc/group /etc/shadow /var/lib/dpkg/status 2>&1; }
host_before=$(host_state)

# ---- build -------------------------------------------------------------------------------
DEB=${XR_DEB:-}
if [ -z "$DEB" ]; then
	# -o all: package what is built, never rebuild from a tree others edit
	DEB=$(make -s --no-print-directory -C "$ROOT" -o all BUILD="$BUILD" deb 2>"$T/build.log" | tail -n1)
fi
if [ -f "$DEB" ] && [[ $DEB =~ /xrelay_[0-9][^_]*_amd64\.deb$ ]]; then
	ok "make deb: ${DEB##*/}"
else
	notok "make deb ($DEB)"; sed 's/^/#   /' "$T/build.log"; exit 1
fi
version=$(dpkg-deb -f "$DEB" Version)
depends=$(dpkg-deb -f "$DEB" Depends)
missing=
for lib in libbpf1 liburing2 libyaml-0-2 libssl3 libc6; do
	grep -qE "(^|, )$lib( |,|$)" <<<"$depends" || missing="$missing $lib"
done
[ -z "$missing" ] && ok "Depends from dpkg-shlibdeps: $depends" || notok "Depends lacks$missing: $depends"
contents=$(dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\./|/|')
missing=
for f in /usr/sbin/xrelayd /usr/bin/xrelay-agent /usr/sbin/xrelayctl /lib/systemd/system/xrelayd.service \
	/lib/systemd/system/xrelay-agent.service /usr/lib/sysusers.d/xrelay.conf \
	/usr/share/doc/xrelay/copyright /usr/share/doc/xrelay/changelog.gz \
	/usr/share/doc/xrelay/examples/relay.example.yaml /usr/share/doc/xrelay/examples/agent.example.yaml \
	/usr/share/doc/xrelay/README.md; do
	grep -qxF "$f" <<<"$contents" || missing="$missing $f"
done
for m in "$ROOT"/docs/man/*.[0-9]; do
	[ -f "$m" ] || continue
	s=${m##*.}; f=/usr/share/man/man$s/${m##*/}.gz
	grep -qxF "$f" <<<"$contents" || missing="$missing $f"
done
[ -z "$missing" ] && ok "package holds programs, units, sysusers, man pages, examples, docs" ||
	notok "package lacks:$missing"
# conffiles: exactly the files under /etc (today none: configs are the operator's)
etc=$(grep '^/etc/.*[^/]$' <<<"$contents" | sort)
conf=$(dpkg-deb --ctrl-tarfile "$DEB" | tar -xO ./conffiles 2>/dev/null | sort)
[ "$etc" = "$conf" ] && ok "conffiles list every file under /etc (${conf:-none})" ||
	notok "conffiles '$conf' vs files under /etc '$etc'"

# ---- a throwaway root ------------------------------------------------------------------------
mkroot() { # DIR: an empty system that dpkg and the user tools accept
	local d=$1 p
	mkdir -p "$d/etc" "$d/var/lib/dpkg/info" "$d/var/lib/dpkg/updates"
	printf 'root:x:0:0:root:/root:/bin/sh\n' >"$d/etc/passwd"
	printf 'root:x:0:\n' >"$d/etc/group"
	printf 'root:*:19000:0:99999:7:::\n' >"$d/etc/shadow"
	printf 'root:*::\n' >"$d/etc/gshadow"
	chmod 0640 "$d/etc/shadow" "$d/etc/gshadow"
	: >"$d/var/lib/dpkg/available"
	# the host's entries for what xrelay depends on (no file lists: nothing
	# of theirs is in this root, and dpkg need not know)
	: >"$d/var/lib/dpkg/status"
	for p in $(sed 's/([^)]*)//g; s/[,|]/ /g' <<<"$depends"); do
		dpkg-query -s "$p" >>"$d/var/lib/dpkg/status" 2>/dev/null && echo >>"$d/var/lib/dpkg/status"
		: >"$d/var/lib/dpkg/info/$p.list"
	done
}
mkroot "$R"
snapshot() { (cd "$R" && find . ! -path './var/lib/dpkg*' ! -path './etc/passwd*' ! -path './etc/group*' \
	! -path './etc/shadow*' ! -path './etc/gshadow*' ! -path './etc/.pwd.lock' | sort); }
before=$(snapshot)
D() { dpkg --root="$R" --force-script-chrootless --log=/dev/null "$@"; }

if D -i "$DEB" >"$T/install.log" 2>&1; then ok "dpkg --root -i: installed"; else
	notok "dpkg --root -i"; sed 's/^/#   /' "$T/install.log"; fi
st=$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status} ${Version}' xrelay 2>&1)
[ "$st" = "install ok installed $version" ] && ok "dpkg database: $st" || notok "status: $st"
out=$("$R/usr/sbin/xrelayd" --version 2>&1)
[ "$out" = "xrelayd $version" ] && ok "installed xrelayd --version: $out" || notok "installed xrelayd --version: $out"
out=$("$R/usr/bin/xrelay-agent" --version 2>&1) && ok "installed xrelay-agent --version: $out" ||
	notok "installed xrelay-agent --version: $out"
grep -q '^ExecStart=/usr/sbin/xrelayd -c /etc/xrelay/relay.yaml$' "$R/lib/systemd/system/xrelayd.service" &&
	ok "installed unit runs /usr/sbin/xrelayd" || notok "installed unit: $(grep ExecStart= "$R/lib/systemd/system/xrelayd.service")"

# users and /etc/xrelay, made by postinst in the throwaway root only
users_ok() { # DIR
	local d=$1 gid
	grep -Eq '^xrelay:x:[0-9]+:[0-9]+:[^:]*:/nonexistent:/usr/sbin/nologin$' "$d/etc/passwd" &&
	grep -Eq '^xrelay-agent:x:[0-9]+:[0-9]+:[^:]*:/nonexistent:/usr/sbin/nologin$' "$d/etc/passwd" &&
	grep -Eq '^xrelay:x:[0-9]+:(.*,)?xrelay-agent(,|$)' "$d/etc/group" || return 1
	gid=$(awk -F: '$1 == "xrelay" { print $3 }' "$d/etc/group")
	[ "$(stat -c '%a %u %g' "$d/etc/xrelay")" = "750 0 $gid" ]
}
users_ok "$R" && ok "postinst: users xrelay, xrelay-agent (in group xrelay), /etc/xrelay 0750 root:xrelay" ||
	notok "postinst users/dir: $(grep xrelay "$R/etc/passwd" "$R/etc/group" | tr '\n' ' ') $(stat -c '%a %u %g' "$R/etc/xrelay" 2>&1)"
cp -a "$R/etc/passwd" "$T/passwd.1"
D --configure xrelay >/dev/null 2>&1 || true
D -i "$DEB" >"$T/reinstall.log" 2>&1 && cmp -s "$R/etc/passwd" "$T/passwd.1" &&
	ok "reinstall (upgrade path): succeeds, users unchanged" || { notok "reinstall"; sed 's/^/#   /' "$T/reinstall.log"; }

# an operator's config and key survive remove, go with purge
printf 'tenants: []\n' >"$R/etc/xrelay/relay.yaml"
if D -r xrelay >"$T/remove.log" 2>&1 &&
   [ ! -e "$R/usr/sbin/xrelayd" ] && [ ! -e "$R/lib/systemd/system/xrelayd.service" ] &&
   [ -f "$R/etc/xrelay/relay.yaml" ] &&
   [ "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status}' xrelay 2>&1)" = "deinstall ok config-files" ]; then
	ok "dpkg -r: programs and units gone, /etc/xrelay kept (config-files)"
else notok "dpkg -r"; sed 's/^/#   /' "$T/remove.log"; fi
if D -P xrelay >"$T/purge.log" 2>&1 && [ ! -e "$R/etc/xrelay" ] &&
   ! dpkg-query --admindir="$R/var/lib/dpkg" -W xrelay >/dev/null 2>&1; then
	ok "dpkg -P: /etc/xrelay gone, package unknown"
else notok "dpkg -P"; sed 's/^/#   /' "$T/purge.log"; fi
after=$(snapshot)
[ "$before" = "$after" ] && ok "after purge no file of xrelay is left in the root" ||
	notok "left after purge: $(diff <(echo "$before") <(echo "$after") | grep '^>' | tr '\n' ' ')"
grep -q '^xrelay:' "$R/etc/passwd" && ok "the users stay after purge (Debian practice: files they own may remain)" ||
	notok "users removed on purge"

# ---- postinst without systemd-sysusers: the useradd fallback ------------------------------------
R2=$T/root2
mkroot "$R2"
mkdir -p "$T/ctl" "$T/path"
dpkg-deb -e "$DEB" "$T/ctl"
for d in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
	for f in "$d"/*; do [ -e "$T/path/${f##*/}" ] || ln -s "$f" "$T/path/${f##*/}"; done
done
rm -f "$T/path/systemd-sysusers"
if env PATH="$T/path" DPKG_ROOT="$R2" sh "$T/ctl/postinst" configure >"$T/fallback.log" 2>&1 && users_ok "$R2"; then
	ok "postinst without systemd-sysusers (useradd --prefix): same users and /etc/xrelay"
else notok "postinst useradd fallback"; cat "$T/fallback.log" "$R2/etc/passwd" "$R2/etc/group" | sed 's/^/#   /'; fi
env PATH="$T/path" DPKG_ROOT="$R2" sh "$T/ctl/postinst" configure >/dev/null 2>&1 &&
	[ "$(grep -c '^xrelay' "$R2/etc/passwd")" = 2 ] && ok "postinst twice: no duplicate user" ||
	notok "second postinst: $(grep '^xrelay' "$R2/etc/passwd" | tr '\n' ' ')"

[ "$(host_state)" = "$host_before" ] && ok "this machine's passwd, group, shadow and dpkg status untouched" ||
	notok "the host changed: $(diff <(echo "$host_before") <(host_state) | tr '\n' ' ')"

echo "# $pass passed, $fail failed"
[ "$fail" = 0 ]
