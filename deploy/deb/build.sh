#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# build.sh BUILD_DIR - `make deb`: build BUILD_DIR/xrelay_<version>_<arch>.deb
# with dpkg-deb from `make install` into a staging tree (PREFIX=/usr, units
# in /lib/systemd/system as Debian 12 has them).  The version is the one the
# binaries print; Depends come from dpkg-shlibdeps on the staged binaries.
# Offline, no debian/ tree, no root needed (--root-owner-group).
set -euo pipefail
ROOT=$(cd "$(dirname "$(readlink -f "$0")")/../.." && pwd)
BUILD=$(readlink -f "${1:-$ROOT/build}")
HERE=$ROOT/deploy/deb
cd "$ROOT"

version=$("$BUILD/xrelayd" --version | awk '{ print $2 }')
arch=$(dpkg --print-architecture)
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || { echo "build.sh: bad version '$version'" >&2; exit 1; }
out=$BUILD/xrelay_${version}_${arch}.deb
# staged outside BUILD: the Makefile includes every '*.d' under BUILD, and
# the staging tree has usr/lib/sysusers.d
work=$(mktemp -d "${TMPDIR:-/tmp}/xrelay-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
stage=$work/xrelay
mkdir -p "$stage/DEBIAN"

# `make deb` built them already (deb: all); -o all: install just those
make -s --no-print-directory -o all BUILD="$BUILD" DESTDIR="$stage" PREFIX=/usr \
	UNITDIR=/lib/systemd/system install >/dev/null

doc=$stage/usr/share/doc/xrelay
strip --strip-unneeded "$stage"/usr/sbin/* "$stage"/usr/bin/*
find "$stage/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} + 2>/dev/null || true
install -m 0644 README.md "$doc/"
for f in docs/*.md; do install -m 0644 "$f" "$doc/"; done
# Debian wants the licence and a changelog in every package
cat >"$doc/copyright" <<C
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: xrelay

Files: *
Copyright: 2025-2026 the xrelay authors
License: GPL-2.0-only or BSD-2-Clause
 The BPF programs are GPL-2.0-only; the userspace is dual-licensed
 GPL-2.0-only or BSD-2-Clause (see the SPDX line of each file).

License: GPL-2.0-only
 On Debian systems the full text of the GNU General Public License version 2
 is in /usr/share/common-licenses/GPL-2.

License: BSD-2-Clause
 Redistribution and use in source and binary forms, with or without
 modification, are permitted provided that the following conditions are met:
 1. Redistributions of source code must retain the above copyright notice,
    this list of conditions and the following disclaimer.
 2. Redistributions in binary form must reproduce the above copyright notice,
    this list of conditions and the following disclaimer in the documentation
    and/or other materials provided with the distribution.
 .
 THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS"
 AND ANY EXPRESS OR IMPLIED WARRANTIES ARE DISCLAIMED.  IN NO EVENT SHALL THE
 COPYRIGHT HOLDERS OR CONTRIBUTORS BE LIABLE FOR ANY DAMAGES ARISING IN ANY
 WAY OUT OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF
 SUCH DAMAGE.
C
{
	echo "xrelay ($version) unstable; urgency=medium"
	echo
	echo "  * Built from $(git rev-parse --short HEAD 2>/dev/null || echo 'a source tree') by make deb."
	echo
	echo " -- xrelay maintainers <maintainers@users.noreply.r-seed-62b3e0e6.example>  $(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")"
} | gzip -9n >"$doc/changelog.gz"    # a native version: changelog, not changelog.Debian
find "$stage" -type d -exec chmod 0755 {} +

install -m 0755 "$HERE/postinst" "$HERE/prerm" "$HERE/postrm" "$stage/DEBIAN/"
# every file the package puts under /etc is a conffile (today: none; the
# configs are the operator's, examples are under /usr/share/doc)
if [ -d "$stage/etc" ]; then
	(cd "$stage" && find etc -type f | sed 's|^|/|' | sort) >"$stage/DEBIAN/conffiles"
fi

# Depends from the ELF NEEDED entries; dpkg-shlibdeps wants a debian/control
mkdir -p "$work/src/debian"
printf 'Source: xrelay\n\nPackage: xrelay\nArchitecture: any\n' >"$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O "$stage"/usr/sbin/* "$stage"/usr/bin/* 2>/dev/null |
	sed -n 's/^shlibs:Depends=//p')
[ -n "$shlibs" ] || { echo "build.sh: dpkg-shlibdeps found no dependency" >&2; exit 1; }

(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z |
	xargs -0 md5sum) >"$stage/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" \
	-e "s|@SHLIBS@|$shlibs|" "$HERE/control.in" >"$stage/DEBIAN/control"

dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "$out"
