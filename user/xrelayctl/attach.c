// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xrelayctl attach / detach: the relay's XDP program on an interface,
 * through a bpf_link pinned at <pin root>/links/<ifname> (see bpfobj.h).
 * The pinned link keeps the program attached when no process runs, so this
 * works the same whether or not xrelayd is up.  Attaching again replaces
 * the program atomically (bpf_link_update) and never detaches in between.
 */
#include "ctl.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>

#include "bpfobj.h"
#include "json.h"

/* An interface name becomes a file name under links/: refuse anything that
 * could not be one (the kernel forbids '/' and whitespace in names too). */
static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (const char *p = s; *p; p++)
		if (*p == '/' || *p == ':' || *p <= ' ')
			return false;
	return true;
}

static int parse_mode(const char *s, enum xr_xdp_mode *m)
{
	if (!s || !strcmp(s, "native") || !strcmp(s, "drv"))
		*m = XR_XDP_NATIVE;
	else if (!strcmp(s, "generic") || !strcmp(s, "skb"))
		*m = XR_XDP_GENERIC;
	else
		return -1;
	return 0;
}

static const char *mode_name(enum xr_xdp_mode m)
{
	return m == XR_XDP_GENERIC ? "generic" : "native";
}

/* The pinned link of ifname, if any: 1 found, 0 not, <0 error. */
static int find_link(const char *root, const char *ifname, struct xr_link_info *out)
{
	static struct xr_link_info links[256];
	int n = xr_xdp_links(root, links, 256);

	for (int i = 0; i < n; i++) {
		if (!strcmp(links[i].ifname, ifname)) {
			*out = links[i];
			return 1;
		}
	}
	return n < 0 ? n : 0;
}

int ctl_attach(const struct ctl *c, const char *ifname, const char *mode_arg)
{
	struct xr_link_info before = {}, li = {};
	enum xr_xdp_mode mode;
	struct xr_bpf b;
	char err[512];
	bool already = false;
	int rc;

	if (!ifname_ok(ifname)) {
		ctl_err("'%s' is not an interface name", ifname);
		return CTL_USAGE;
	}
	if (parse_mode(mode_arg, &mode)) {
		ctl_err("--mode: '%s' is neither native nor generic", mode_arg);
		return CTL_USAGE;
	}
	if (!if_nametoindex(ifname)) {
		ctl_err("interface '%s': %s", ifname, strerror(errno));
		return CTL_FAIL;
	}
	/* A link's mode cannot change in place: say so instead of silently
	 * keeping the old one when the operator asked for another. */
	if (mode_arg && find_link(c->pin_root, ifname, &before) == 1 && !before.defunct &&
	    (!strcmp(before.mode, "native") || !strcmp(before.mode, "generic")) &&
	    strcmp(before.mode, mode_name(mode))) {
		ctl_err("%s: attached in %s mode; run 'xrelayctl detach %s' first to switch to %s",
			ifname, before.mode, ifname, mode_name(mode));
		return CTL_FAIL;
	}

	rc = xr_bpf_open(&b, c->pin_root, true, err, sizeof(err));
	if (rc) {
		ctl_err("%s", err);
		return CTL_FAIL;
	}
	rc = xr_xdp_attach(&b, ifname, mode, &already, err, sizeof(err));
	xr_bpf_close(&b);
	if (rc) {
		ctl_err("%s", err);
		return CTL_FAIL;
	}
	if (find_link(c->pin_root, ifname, &li) != 1)
		snprintf(li.mode, sizeof(li.mode), "%s", mode_name(mode));

	if (c->json) {
		struct xr_json j;

		xr_json_init(&j, stdout, c->pretty);
		xr_json_obj(&j);
		xr_json_kstr(&j, "ifname", ifname);
		xr_json_kbool(&j, "attached", true);
		xr_json_kbool(&j, "already", already);
		xr_json_kstr(&j, "mode", li.mode);
		xr_json_ku64(&j, "prog_id", li.prog_id);
		xr_json_ku64(&j, "link_id", li.link_id);
		xr_json_end(&j);
		return xr_json_finish(&j) ? CTL_FAIL : CTL_OK;
	}
	if (already)
		printf("%s: already attached, program replaced (%s, prog %u, link %u)\n",
		       ifname, li.mode, li.prog_id, li.link_id);
	else
		printf("%s: attached (%s, prog %u, link %u)\n", ifname, li.mode, li.prog_id,
		       li.link_id);
	return CTL_OK;
}

int ctl_detach(const struct ctl *c, const char *ifname)
{
	char err[512];
	int rc;

	if (!ifname_ok(ifname)) {
		ctl_err("'%s' is not an interface name", ifname);
		return CTL_USAGE;
	}
	rc = xr_xdp_detach(c->pin_root, ifname, err, sizeof(err));
	if (rc) {
		ctl_err("%s", err);
		return CTL_FAIL;
	}
	if (c->json) {
		struct xr_json j;

		xr_json_init(&j, stdout, c->pretty);
		xr_json_obj(&j);
		xr_json_kstr(&j, "ifname", ifname);
		xr_json_kbool(&j, "detached", true);
		xr_json_end(&j);
		return xr_json_finish(&j) ? CTL_FAIL : CTL_OK;
	}
	printf("%s: detached\n", ifname);
	return CTL_OK;
}
