// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * CUnit runner: one suite per pure part of user/lib.  Each test file
 * exports `int xr_register_<part>(void)` (CU_add_suite + CU_add_test;
 * returns 0 or -1).  Missing parts are weak so a partial tree still links.
 */
#include <stdio.h>
#include <string.h>
#include <CUnit/Basic.h>

#define PART(x) int xr_register_##x(void) __attribute__((weak));
#define PARTS(X) X(config) X(identity) X(wg) X(gcra) X(wgstate) X(clienthello) X(proto) X(hostmatch) X(proxyv2) X(health)
PARTS(PART)

int main(int argc, char **argv)
{
	unsigned failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
#define REG(x) if (xr_register_##x && xr_register_##x()) { fprintf(stderr, "register " #x " failed\n"); return 1; }
	PARTS(REG)
	CU_basic_set_mode(argc > 1 && !strcmp(argv[1], "-v") ? CU_BRM_VERBOSE : CU_BRM_NORMAL);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	printf("unit: %u passed, %u failed\n",
	       CU_get_number_of_tests_run() - CU_get_number_of_tests_failed(),
	       CU_get_number_of_tests_failed());
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
