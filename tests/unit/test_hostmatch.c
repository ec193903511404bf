// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Host name matching and the SNI router's host table (user/lib/hostmatch.c):
 * exact and one-label wildcard matches, case and trailing dots, and the
 * table's exact-before-wildcard lookup.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <CUnit/CUnit.h>

#include "hostmatch.h"

#define V(x) ((void *)(uintptr_t)(x))

static void test_match_exact(void)
{
	CU_ASSERT(xr_host_match("example.com", "example.com"));
	CU_ASSERT(xr_host_match("Example.COM", "eXample.com"));
	CU_ASSERT(xr_host_match("example.com.", "example.com"));
	CU_ASSERT(xr_host_match("example.com", "example.com."));
	CU_ASSERT(!xr_host_match("example.com", "example.co"));
	CU_ASSERT(!xr_host_match("example.com", "www.example.com"));
	CU_ASSERT(!xr_host_match("example.com", ""));
	CU_ASSERT(!xr_host_match("", ""));
	CU_ASSERT(!xr_host_match(".", "."));
}

static void test_match_wildcard(void)
{
	CU_ASSERT(xr_host_match("*.example.com", "a.example.com"));
	CU_ASSERT(xr_host_match("*.Example.com", "WWW.example.COM."));
	CU_ASSERT(xr_host_match("*.example.com.", "a.example.com"));
	CU_ASSERT(!xr_host_match("*.example.com", "a.b.example.com"));
	CU_ASSERT(!xr_host_match("*.example.com", "example.com"));
	CU_ASSERT(!xr_host_match("*.example.com", ".example.com"));
	CU_ASSERT(!xr_host_match("*.example.com", "aexample.com"));
	CU_ASSERT(!xr_host_match("*.example.com", "a.xexample.com"));
	CU_ASSERT(!xr_host_match("*.example.com", "a.example.org"));
	CU_ASSERT(!xr_host_match("a*.example.com", "ab.example.com"));
	CU_ASSERT(!xr_host_match("*", "a"));
}

static void test_match_long(void)
{
	char a[300], b[300];

	memset(a, 'a', sizeof(a));
	a[299] = '\0';
	CU_ASSERT(!xr_host_match(a, a)); /* longer than 253 */
	memset(b, 'b', 253);
	b[253] = '\0';
	b[63] = '.';
	CU_ASSERT(xr_host_match(b, b));
}

static void test_table(void)
{
	struct xr_hostent ents[8];
	struct xr_hosttab t;
	int found;

	xr_hosttab_init(&t, ents, 8);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "example.com", V(1)), 0);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "*.example.com", V(2)), 0);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "WWW.Example.com.", V(3)), 0);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "*.b.example.com", V(4)), 0);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "other.net", NULL), 0);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "www.example.com", V(9)), -EEXIST);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "*.EXAMPLE.com.", V(9)), -EEXIST);
	CU_ASSERT_EQUAL(t.n, 5);

	CU_ASSERT_PTR_EQUAL(xr_hosttab_lookup(&t, "example.com", NULL), V(1));
	CU_ASSERT_PTR_EQUAL(xr_hosttab_lookup(&t, "a.example.com", NULL), V(2));
	CU_ASSERT_PTR_EQUAL(xr_hosttab_lookup(&t, "www.example.com", NULL), V(3)); /* exact beats wildcard */
	CU_ASSERT_PTR_EQUAL(xr_hosttab_lookup(&t, "WWW.EXAMPLE.COM.", NULL), V(3));
	CU_ASSERT_PTR_EQUAL(xr_hosttab_lookup(&t, "x.b.example.com", NULL), V(4)); /* longest wildcard */
	CU_ASSERT_PTR_EQUAL(xr_hosttab_lookup(&t, "b.example.com", NULL), V(2));
	CU_ASSERT_PTR_NULL(xr_hosttab_lookup(&t, "x.y.b.example.com", &found));
	CU_ASSERT_EQUAL(found, 0);
	CU_ASSERT_PTR_NULL(xr_hosttab_lookup(&t, "a.c.example.com", &found));
	CU_ASSERT_EQUAL(found, 0);
	CU_ASSERT_PTR_NULL(xr_hosttab_lookup(&t, "other.net", &found));
	CU_ASSERT_EQUAL(found, 1); /* NULL value stored */
	CU_ASSERT_PTR_NULL(xr_hosttab_lookup(&t, "com", &found));
	CU_ASSERT_EQUAL(found, 0);
	CU_ASSERT_PTR_NULL(xr_hosttab_lookup(&t, "", &found));
	CU_ASSERT_PTR_NULL(xr_hosttab_lookup(&t, "a..example.com", &found));
	CU_ASSERT_EQUAL(found, 0);
}

static void test_table_bad_and_full(void)
{
	struct xr_hostent ents[2];
	struct xr_hosttab t;
	char big[300];

	xr_hosttab_init(&t, ents, 2);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "", V(1)), -EINVAL);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, ".", V(1)), -EINVAL);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "*", V(1)), -EINVAL);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "*.", V(1)), -EINVAL);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "a..b", V(1)), -EINVAL);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "a.b..", V(1)), -EINVAL);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "a.*.b", V(1)), -EINVAL);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "*.*.b", V(1)), -EINVAL);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "a*.b", V(1)), -EINVAL);
	memset(big, 'a', sizeof(big));
	big[299] = '\0';
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, big, V(1)), -EINVAL);
	CU_ASSERT_EQUAL(t.n, 0);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "a", V(1)), 0);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "*.a", V(2)), 0);
	CU_ASSERT_EQUAL(xr_hosttab_add(&t, "b", V(3)), -ENOSPC);
	CU_ASSERT_PTR_EQUAL(xr_hosttab_lookup(&t, "x.a", NULL), V(2));
}

/* many entries inserted in scrambled order stay sorted and all findable */
static void test_table_many(void)
{
	static struct xr_hostent ents[500];
	struct xr_hosttab t;
	char name[64];
	unsigned i, k, ok = 1;

	xr_hosttab_init(&t, ents, 500);
	for (i = 0; i < 500; i++) {
		k = (i * 7919) % 500;
		snprintf(name, sizeof(name), "%sh%u.example.com", k & 1 ? "*." : "", k);
		if (xr_hosttab_add(&t, name, V(k + 1)))
			ok = 0;
	}
	CU_ASSERT(ok);
	for (i = 1; i < t.n; i++)
		if (ents[i - 1].wild > ents[i].wild ||
		    (ents[i - 1].wild == ents[i].wild && strcmp(ents[i - 1].key, ents[i].key) >= 0))
			ok = 0;
	CU_ASSERT(ok);
	for (k = 0; k < 500; k++) {
		snprintf(name, sizeof(name), "%sh%u.example.com", k & 1 ? "x." : "", k);
		if (xr_hosttab_lookup(&t, name, NULL) != V(k + 1))
			ok = 0;
	}
	CU_ASSERT(ok);
}

int xr_register_hostmatch(void)
{
	CU_pSuite s = CU_add_suite("hostmatch", NULL, NULL);

	if (!s)
		return -1;
	if (!CU_add_test(s, "exact match", test_match_exact) ||
	    !CU_add_test(s, "wildcard one label", test_match_wildcard) ||
	    !CU_add_test(s, "length bounds", test_match_long) ||
	    !CU_add_test(s, "table exact then wildcard", test_table) ||
	    !CU_add_test(s, "table rejects and full", test_table_bad_and_full) ||
	    !CU_add_test(s, "table 500 entries", test_table_many))
		return -1;
	return 0;
}
