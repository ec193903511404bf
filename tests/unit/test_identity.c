// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Identities: keygen into a temporary directory, file mode and refusal to
 * overwrite, pubkey reproducing the keygen line, OpenSSH-like refusal of
 * group/other-readable files, and the identity line format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CUnit/CUnit.h>

#include "identity.h"

static char dir[] = "/tmp/xr_id_XXXXXX";

static int suite_init(void)
{
	return mkdtemp(dir) ? 0 : -1;
}

static int suite_clean(void)
{
	return rmdir(dir);
}

static void file_in_dir(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static void test_keygen_pubkey(void)
{
	char path[128], line[XR_IDENTITY_STR_LEN], line2[XR_IDENTITY_STR_LEN], err[256] = "";
	uint8_t raw[32], parsed[32];
	struct stat st;
	mode_t old = umask(0);          /* keygen must not depend on the umask */

	file_in_dir(path, sizeof(path), "relay.key");
	CU_ASSERT_EQUAL_FATAL(xr_identity_keygen(path, line, sizeof(line), err, sizeof(err)), 0);
	umask(old);
	CU_ASSERT_EQUAL(strncmp(line, XR_IDENTITY_PREFIX, strlen(XR_IDENTITY_PREFIX)), 0);
	CU_ASSERT_EQUAL(strlen(line), strlen(XR_IDENTITY_PREFIX) + 44);
	CU_ASSERT_EQUAL_FATAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 07777, 0600);
	CU_ASSERT(S_ISREG(st.st_mode));
	CU_ASSERT_EQUAL(xr_key_file_check(path, err, sizeof(err)), 0);

	CU_ASSERT_EQUAL_FATAL(xr_identity_pubkey(path, line2, sizeof(line2), raw, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(line2, line);
	CU_ASSERT_EQUAL_FATAL(xr_identity_parse(line, parsed), 0);
	CU_ASSERT_EQUAL(memcmp(raw, parsed, 32), 0);
	/* line and raw are both optional */
	CU_ASSERT_EQUAL(xr_identity_pubkey(path, NULL, 0, NULL, err, sizeof(err)), 0);

	/* two keys differ */
	char path2[128];

	file_in_dir(path2, sizeof(path2), "agent.key");
	CU_ASSERT_EQUAL_FATAL(xr_identity_keygen(path2, line2, sizeof(line2), err, sizeof(err)), 0);
	CU_ASSERT_STRING_NOT_EQUAL(line2, line);
	unlink(path2);
	unlink(path);
}

static void test_keygen_refuses_overwrite(void)
{
	char path[128], line[XR_IDENTITY_STR_LEN], err[256], want[256];
	struct stat st;
	FILE *f;

	file_in_dir(path, sizeof(path), "exists.key");
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("precious\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(xr_identity_keygen(path, line, sizeof(line), err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: already exists; refusing to overwrite", path);
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 9);         /* untouched */
	unlink(path);

	/* a dangling symlink is not followed either */
	CU_ASSERT_EQUAL_FATAL(symlink("/nonexistent/xrelay-target", path), 0);
	CU_ASSERT_EQUAL(xr_identity_keygen(path, line, sizeof(line), err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, want);
	unlink(path);

	file_in_dir(path, sizeof(path), "no/such/dir.key");
	CU_ASSERT_EQUAL(xr_identity_keygen(path, line, sizeof(line), err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	CU_ASSERT_STRING_EQUAL(err, want);
}

static void test_open_permissions_refused(void)
{
	char path[128], line[XR_IDENTITY_STR_LEN], err[256], want[512];

	file_in_dir(path, sizeof(path), "open.key");
	CU_ASSERT_EQUAL_FATAL(xr_identity_keygen(path, line, sizeof(line), err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(chmod(path, 0644), 0);
	snprintf(want, sizeof(want), "%s: permissions 0644 are too open; chmod 600 %s", path, path);
	CU_ASSERT_EQUAL(xr_key_file_check(path, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, want);
	strcpy(err, "");
	CU_ASSERT_EQUAL(xr_identity_pubkey(path, line, sizeof(line), NULL, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, want);

	CU_ASSERT_EQUAL_FATAL(chmod(path, 0620), 0);   /* group-writable counts too */
	snprintf(want, sizeof(want), "%s: permissions 0620 are too open; chmod 600 %s", path, path);
	CU_ASSERT_EQUAL(xr_key_file_check(path, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, want);

	CU_ASSERT_EQUAL_FATAL(chmod(path, 0400), 0);   /* stricter than 0600 is fine */
	CU_ASSERT_EQUAL(xr_identity_pubkey(path, line, sizeof(line), NULL, err, sizeof(err)), 0);
	unlink(path);

	CU_ASSERT_EQUAL(xr_key_file_check(dir, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: not a regular file", dir);
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_EQUAL(xr_key_file_check(path, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	CU_ASSERT_STRING_EQUAL(err, want);
}

static void test_pubkey_not_a_key(void)
{
	char path[128], line[XR_IDENTITY_STR_LEN], err[256], want[256];
	FILE *f;

	file_in_dir(path, sizeof(path), "garbage.key");
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("-----BEGIN PRIVATE KEY-----\nnot base64 at all\n-----END PRIVATE KEY-----\n", f);
	fclose(f);
	chmod(path, 0600);
	CU_ASSERT_EQUAL(xr_identity_pubkey(path, line, sizeof(line), NULL, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: not a PEM private key (expected a file from xrelayctl keygen)",
		 path);
	CU_ASSERT_STRING_EQUAL(err, want);
	unlink(path);
}

static void test_parse_format(void)
{
	static const char *const bad[] = {
		"",
		"xrelay-ed25519",
		"xrelay-ed25519 ",
		"xrelay-ed25519 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ=",     /* short */
		"xrelay-ed25519 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB",    /* no pad */
		"xrelay-ed25519 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQF=",    /* non-canonical */
		"xrelay-ed25519AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
		"ssh-ed25519 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
		"xrelay-ed25519 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE= junk",
		" xrelay-ed25519 AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
		"xrelay-ed25519 !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=",
	};
	uint8_t raw[32], back[32];
	char line[XR_IDENTITY_STR_LEN], tiny[8];

	for (int i = 0; i < 32; i++)
		raw[i] = (uint8_t)(i * 7 + 3);
	xr_identity_format(raw, line, sizeof(line));
	CU_ASSERT_STRING_EQUAL(line, "xrelay-ed25519 AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dw=");
	CU_ASSERT_EQUAL_FATAL(xr_identity_parse(line, back), 0);
	CU_ASSERT_EQUAL(memcmp(raw, back, 32), 0);
	xr_identity_format(raw, tiny, sizeof(tiny));
	CU_ASSERT_STRING_EQUAL(tiny, "xrelay-");

	/* blanks between the parts and at the end (a pasted line) are fine */
	CU_ASSERT_EQUAL(xr_identity_parse("xrelay-ed25519  AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n",
					  back), 0);
	CU_ASSERT_EQUAL(back[31], 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(xr_identity_parse(bad[i], back), -1);
		if (!xr_identity_parse(bad[i], back))
			fprintf(stderr, "\n  accepted '%s'\n", bad[i]);
	}
	CU_ASSERT_EQUAL(xr_identity_parse(NULL, back), -1);
}

int xr_register_identity(void)
{
	CU_pSuite s = CU_add_suite("identity", suite_init, suite_clean);

	if (!s ||
	    !CU_add_test(s, "keygen and pubkey", test_keygen_pubkey) ||
	    !CU_add_test(s, "keygen refuses to overwrite", test_keygen_refuses_overwrite) ||
	    !CU_add_test(s, "group/other access refused", test_open_permissions_refused) ||
	    !CU_add_test(s, "pubkey of a non-key", test_pubkey_not_a_key) ||
	    !CU_add_test(s, "parse and format", test_parse_format))
		return -1;
	return 0;
}
