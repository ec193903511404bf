// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bpf_tests: packet fixtures through the XDP program (see xt.h).  Needs
 * root (namespaces, bpffs, BPF).  `-v` for verbose CUnit and libbpf output.
 * Ends with exactly one line `bpf: N passed, N failed`; exit status 1 on
 * any failure.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <CUnit/Basic.h>

#include "xt.h"

static void on_signal(int sig)
{
	xt_env_signal_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

int main(int argc, char **argv)
{
	unsigned run = 0, failed = 1, passed = 0;

	xt.verbose = argc > 1 && !strcmp(argv[1], "-v");
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, on_signal);   /* `bpf_tests | head` */
	if (xt_env_setup())
		goto out;
	if (CU_initialize_registry() != CUE_SUCCESS)
		goto out;
	if (xt_register_forward() || xt_register_classify() || xt_register_police() ||
	    xt_register_nexthop() ||
	    xt_register_bench()) {
		fprintf(stderr, "bpf_tests: registering suites: %s\n", CU_get_error_msg());
		CU_cleanup_registry();
		goto out;
	}
	CU_basic_set_mode(xt.verbose ? CU_BRM_VERBOSE : CU_BRM_NORMAL);
	CU_basic_run_tests();
	run = CU_get_number_of_tests_run();
	passed = run - CU_get_number_of_tests_failed();
	/* a suite whose init failed ran none of its tests: count it too */
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_suites_failed();
	CU_cleanup_registry();
out:
	xt_env_teardown();
	printf("bpf: %u passed, %u failed\n", passed, failed);
	return failed ? 1 : 0;
}
