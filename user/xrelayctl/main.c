// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xrelayctl - the operator CLI: verbs, options, usage, exit codes.
 *
 *   xrelayctl [OPTIONS] VERB [ARGS]      options may also follow the verb
 *
 * Exit codes (CONTRACT.md): 0 success, 1 runtime failure, 2 usage or
 * configuration error.  Errors go to stderr as "xrelayctl: <message>";
 * results go to stdout, as text tables or, with -j, as JSON.
 */
#include "ctl.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bpfobj.h"
#include "identity.h"
#include "json.h"
#include "log.h"

void ctl_err(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("xrelayctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- keys ------------------------------------------------------------------------ */

static int print_identity(const struct ctl *c, const char *line)
{
	if (c->json) {
		struct xr_json j;

		xr_json_init(&j, stdout, c->pretty);
		xr_json_obj(&j);
		xr_json_kstr(&j, "identity", line);
		xr_json_end(&j);
		return xr_json_finish(&j) ? CTL_FAIL : CTL_OK;
	}
	printf("%s\n", line);
	return fflush(stdout) ? CTL_FAIL : CTL_OK;
}

static int do_keygen(const struct ctl *c, const char *path)
{
	char line[XR_IDENTITY_STR_LEN], err[512];
	struct stat st;

	/* Refusing to overwrite is a usage error (2), decided before any work;
	 * identity.c's O_EXCL still closes the race. */
	if (!lstat(path, &st)) {
		ctl_err("%s: exists, refusing to overwrite it", path);
		return CTL_USAGE;
	}
	if (xr_identity_keygen(path, line, sizeof(line), err, sizeof(err))) {
		ctl_err("%s", err);
		return errno == EEXIST ? CTL_USAGE : CTL_FAIL;
	}
	return print_identity(c, line);
}

static int do_pubkey(const struct ctl *c, const char *path)
{
	char line[XR_IDENTITY_STR_LEN], err[512];
	uint8_t raw[32];
	struct stat st;

	if (stat(path, &st)) {
		ctl_err("%s: %s", path, strerror(errno));
		return CTL_FAIL;
	}
	/* A key others can read is a configuration error, as for OpenSSH. */
	if (xr_key_file_check(path, err, sizeof(err))) {
		ctl_err("%s", err);
		return CTL_USAGE;
	}
	if (xr_identity_pubkey(path, line, sizeof(line), raw, err, sizeof(err))) {
		ctl_err("%s", err);
		return CTL_FAIL;
	}
	return print_identity(c, line);
}

/* ---- verbs and usage --------------------------------------------------------------- */

enum verb_id { V_ATTACH, V_DETACH, V_STATUS, V_TENANTS, V_SESSIONS, V_FLOWS, V_STATS,
	       V_RELOAD, V_KEYGEN, V_PUBKEY };

static const struct verb {
	const char *name;
	enum verb_id id;
	const char *args;
	int nargs;              /* positional arguments after the verb */
	bool maps;              /* works on the pin root */
	const char *help;
} verbs[] = {
	{ "attach", V_ATTACH, "IFACE [--mode native|generic]", 1, true,
	  "attach the relay's XDP program to IFACE\n"
	  "(pinned link; again: program replaced\n"
	  "atomically); xrelayd need not run" },
	{ "detach", V_DETACH, "IFACE", 1, true, "remove it from IFACE" },
	{ "status", V_STATUS, "", 0, true,
	  "attached interfaces, program ids, modes,\n"
	  "map fill levels, xrelayd reachability" },
	{ "tenants", V_TENANTS, "", 0, true, "limits, allow list, traffic, drops" },
	{ "sessions", V_SESSIONS, "", 0, true, "WireGuard sessions, one per direction" },
	{ "flows", V_FLOWS, "", 0, false, "relayed TLS flows" },
	{ "stats", V_STATS, "", 0, true, "packets and bytes by reason, per tenant" },
	{ "reload", V_RELOAD, "", 0, false, "ask xrelayd to reload its config" },
	{ "keygen", V_KEYGEN, "FILE", 1, false,
	  "new private key in FILE (0600, never\n"
	  "overwrites); prints its identity line" },
	{ "pubkey", V_PUBKEY, "FILE", 1, false, "print the identity line of FILE's key" },
};

static void usage(FILE *f)
{
	fprintf(f, "Usage: xrelayctl [OPTIONS] VERB [ARGS]   (options may also follow the verb)\n\n"
		   "Verbs:\n");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		char head[64];
		const char *h = verbs[i].help, *nl;

		snprintf(head, sizeof(head), "%s%s%s", verbs[i].name, verbs[i].args[0] ? " " : "",
			 verbs[i].args);
		fprintf(f, "  %-36s ", head);
		while ((nl = strchr(h, '\n'))) {
			fprintf(f, "%.*s\n  %-36s ", (int)(nl - h), h, "");
			h = nl + 1;
		}
		fprintf(f, "%s\n", h);
	}
	fprintf(f,
		"\nOptions:\n"
		"  --pin-root DIR       BPF pin root (else $XRELAY_PIN_ROOT, else\n"
		"                       %s)\n"
		"  -s, --socket PATH    xrelayd admin socket (else $XRELAY_SOCKET, else\n"
		"                       %s)\n"
		"  -j, --json           JSON output\n"
		"  -p, --pretty         indented JSON output (implies -j)\n"
		"  -v, --verbose        debug messages on stderr, libbpf's included\n"
		"  -h, --help           this text\n"
		"  -V, --version        print the version\n"
		"  --mode MODE          attach: native (default; \"drv\") or generic (\"skb\")\n"
		"\nExit status: 0 success, 1 runtime failure, 2 usage or configuration error.\n",
		XR_PIN_ROOT_DEFAULT, XR_SOCKET_DEFAULT);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("xrelayctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'xrelayctl --help'.\n", stderr);
	return CTL_USAGE;
}

enum { OPT_PIN_ROOT = 0x100, OPT_MODE };

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-root", required_argument, NULL, OPT_PIN_ROOT },
		{ "socket", required_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ NULL, 0, NULL, 0 },
	};
	const char *pin_cli = NULL, *sock = NULL, *mode = NULL, *env;
	struct ctl c = {};
	const struct verb *v = NULL;
	bool verbose = false;
	char **args;
	int opt, nargs;

	opterr = 0;
	/* GNU getopt permutes: options after the verb are parsed too. */
	while ((opt = getopt_long(argc, argv, ":s:jpvhV", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_PIN_ROOT: pin_cli = optarg; break;
		case 's': sock = optarg; break;
		case 'j': c.json = true; break;
		case 'p': c.json = c.pretty = true; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return CTL_OK;
		case 'V': printf("xrelayctl %s (ABI v%d)\n", XR_VERSION, XR_ABI_VERSION); return CTL_OK;
		case OPT_MODE: mode = optarg; break;
		case ':':
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("unknown option '-%c'", optopt);
			return usage_error("unknown option '%s'", argv[optind - 1]);
		}
	}
	args = argv + optind;
	nargs = argc - optind;
	if (nargs == 0)
		return usage_error("no verb given");
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (!strcmp(args[0], verbs[i].name))
			v = &verbs[i];
	if (!v)
		return usage_error("unknown verb '%s'", args[0]);
	if (nargs - 1 != v->nargs)
		return usage_error("usage: xrelayctl %s%s%s", v->name, v->args[0] ? " " : "", v->args);
	if (mode && v->id != V_ATTACH)
		return usage_error("--mode only applies to attach");

	xr_log_init("xrelayctl", verbose ? XR_LOG_DEBUG : XR_LOG_WARN);
	xr_log_hook_libbpf();

	c.pin_root = xr_pin_root_pick(pin_cli, NULL);
	if (v->maps && c.pin_root[0] != '/')
		return usage_error("pin root '%s' must be an absolute path", c.pin_root);
	env = getenv("XRELAY_SOCKET");
	c.socket = sock && *sock ? sock : env && *env ? env : XR_SOCKET_DEFAULT;

	switch (v->id) {
	case V_ATTACH:   return ctl_attach(&c, args[1], mode);
	case V_DETACH:   return ctl_detach(&c, args[1]);
	case V_STATUS:   return ctl_status(&c);
	case V_TENANTS:  return ctl_tenants(&c);
	case V_SESSIONS: return ctl_sessions(&c);
	case V_FLOWS:    return ctl_flows(&c);
	case V_STATS:    return ctl_stats(&c);
	case V_RELOAD:   return ctl_reload(&c);
	case V_KEYGEN:   return do_keygen(&c, args[1]);
	case V_PUBKEY:   return do_pubkey(&c, args[1]);
	}
	return CTL_USAGE;
}
