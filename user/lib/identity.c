// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Identities: Ed25519 keys through OpenSSL 3's EVP API.  The private key is
 * written once, as unencrypted PKCS#8 PEM, to a file created with O_EXCL and
 * mode 0600; it is never logged.  Reading refuses a file that group or others
 * may access, checked on the opened descriptor (no stat/open race).
 */
#include "identity.h"
#include "config.h"
#include "wg.h"     /* xr_parse_wg_key: the same strict 32-byte base64 */

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static void ossl_err(char *err, size_t errlen, const char *path, const char *what)
{
	char buf[256] = "unknown error";
	unsigned long e = ERR_get_error();

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	snprintf(err, errlen, "%s: %s: %s", path, what, buf);
}

/* Never prompt for a passphrase: our keys have none. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

static int mode_check(const char *path, const struct stat *st, char *err, size_t errlen)
{
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	if (st->st_mode & 077) {
		snprintf(err, errlen, "%s: permissions %04o are too open; chmod 600 %s",
			 path, (unsigned)(st->st_mode & 07777), path);
		return -1;
	}
	return 0;
}

int xr_key_file_check(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return mode_check(path, &st, err, errlen);
}

void xr_identity_format(const uint8_t raw[32], char *line, size_t linelen)
{
	char b64[45];

	xr_wg_key_to_base64(raw, b64);  /* the same 32-byte base64 as wg(8) */
	if (linelen)
		snprintf(line, linelen, "%s%s", XR_IDENTITY_PREFIX, b64);
}

/* "xrelay-ed25519", blanks, 44 characters of base64, optional trailing blanks. */
int xr_identity_parse(const char *line, uint8_t raw[32])
{
	const size_t plen = sizeof(XR_IDENTITY_PREFIX) - 2;    /* without the space */
	char key[45];
	const char *p;
	size_t n;

	if (!line || strncmp(line, XR_IDENTITY_PREFIX, plen) || (line[plen] != ' ' && line[plen] != '\t'))
		return -1;
	p = line + plen;
	p += strspn(p, " \t");
	n = strcspn(p, " \t\r\n");
	if (n != 44)
		return -1;
	memcpy(key, p, 44);
	key[44] = '\0';
	if (p[44 + strspn(p + 44, " \t\r\n")])
		return -1;
	return xr_parse_wg_key(key, raw);
}

static int raw_public(EVP_PKEY *pkey, uint8_t raw[32], const char *path, char *err, size_t errlen)
{
	size_t len = 32;

	if (EVP_PKEY_get_id(pkey) != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "%s: not an Ed25519 key", path);
		return -1;
	}
	if (EVP_PKEY_get_raw_public_key(pkey, raw, &len) != 1 || len != 32) {
		ossl_err(err, errlen, path, "EVP_PKEY_get_raw_public_key");
		return -1;
	}
	return 0;
}

int xr_identity_keygen(const char *path, char *line, size_t linelen, char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	uint8_t raw[32];
	FILE *f = NULL;
	int fd = -1, rc = -1;
	bool created = false;

	pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!pkey) {
		ossl_err(err, errlen, path, "EVP_PKEY_Q_keygen");
		goto cleanup;
	}
	if (raw_public(pkey, raw, path, err, errlen))
		goto cleanup;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			snprintf(err, errlen, "%s: already exists; refusing to overwrite", path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	created = true;
	if (fchmod(fd, 0600)) {         /* whatever the umask made of it */
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		goto cleanup;
	}
	f = fdopen(fd, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto cleanup;
	}
	fd = -1;
	if (!PEM_write_PrivateKey(f, pkey, NULL, NULL, 0, NULL, NULL)) {
		ossl_err(err, errlen, path, "PEM_write_PrivateKey");
		goto cleanup;
	}
	if (fflush(f) || fsync(fileno(f))) {
		snprintf(err, errlen, "%s: write: %s", path, strerror(errno));
		goto cleanup;
	}
	if (fclose(f)) {
		f = NULL;
		snprintf(err, errlen, "%s: close: %s", path, strerror(errno));
		goto cleanup;
	}
	f = NULL;
	xr_identity_format(raw, line, linelen);
	rc = 0;
cleanup:
	if (f)
		fclose(f);
	if (fd >= 0)
		close(fd);
	if (rc && created)
		unlink(path);
	EVP_PKEY_free(pkey);
	return rc;
}

void *xr_identity_load(const char *path, uint8_t raw[32], char *err, size_t errlen)
{
	EVP_PKEY *pkey = NULL;
	uint8_t pub[32];
	struct stat st;
	FILE *f = NULL;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	if (mode_check(path, &st, err, errlen)) {
		close(fd);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	pkey = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!pkey) {
		ERR_clear_error();
		snprintf(err, errlen, "%s: not a PEM private key (expected a file from xrelayctl keygen)",
			 path);
		return NULL;
	}
	if (raw_public(pkey, pub, path, err, errlen)) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	if (raw)
		memcpy(raw, pub, 32);
	return pkey;
}

int xr_identity_pubkey(const char *path, char *line, size_t linelen,
		       uint8_t raw[32], char *err, size_t errlen)
{
	uint8_t pub[32];
	EVP_PKEY *pkey = xr_identity_load(path, pub, err, errlen);

	if (!pkey)
		return -1;
	EVP_PKEY_free(pkey);
	if (line)
		xr_identity_format(pub, line, linelen);
	if (raw)
		memcpy(raw, pub, 32);
	return 0;
}
