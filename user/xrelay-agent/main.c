// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * xrelay-agent: runs on the private host, dials out to the relays.
 * This build validates its config (--check); the sessions, registration and
 * data connections are the agent issue's work (see README, "Status").
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "identity.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xrelay-agent -c FILE [--check]\n"
		"Dials out to every configured relay; never listens on a public port.\n\n"
		"  -c, --config FILE   agent config (YAML), required\n"
		"      --check         validate the config and exit (0 valid, 2 invalid)\n"
		"  -h, --help          this help\n"
		"  -V, --version       print the version\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 }
	};
	struct xr_agent_cfg cfg;
	const char *path = NULL;
	char err[XR_CFG_ERR_LEN];
	int check = 0, c;

	while ((c = getopt_long(argc, argv, "c:hV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'C': check = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("xrelay-agent 0.1.0\n"); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	if (xr_agent_cfg_load(path, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	if (cfg.key[0] && xr_key_file_check(cfg.key, err, sizeof(err))) {
		fprintf(stderr, "xrelay-agent: %s\n", err);
		xr_agent_cfg_free(&cfg);
		return 2;
	}
	xr_agent_cfg_free(&cfg);
	if (check) {
		printf("%s: ok\n", path);
		return 0;
	}
	fprintf(stderr, "xrelay-agent: relay sessions are not implemented in this build\n");
	return 1;
}
