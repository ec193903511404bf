/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A tiny streaming JSON writer (xrelayctl -j, xrelayd's admin socket).
 *
 *   struct xr_json j;
 *   xr_json_init(&j, stdout, pretty);
 *   xr_json_obj(&j);
 *     xr_json_kstr(&j, "name", "lab");
 *     xr_json_key(&j, "drops"); xr_json_obj(&j); ... xr_json_end(&j);
 *   xr_json_end(&j);
 *   if (xr_json_finish(&j)) -> write error
 *
 * Commas, colons and (when pretty) indentation are inserted by the writer;
 * the caller only says what comes next.  Strings are escaped per RFC 8259;
 * bytes that are not valid UTF-8 become U+FFFD, so the output is always
 * valid JSON whatever an interface or file name holds.  Misuse (a value
 * where a key is due, unbalanced ends, nesting deeper than XR_JSON_DEPTH)
 * is recorded and reported by xr_json_finish() as -EINVAL.
 */
#ifndef XR_JSON_H
#define XR_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define XR_JSON_DEPTH 32

struct xr_json {
	FILE *f;
	bool pretty;
	int depth;                        /* open containers */
	bool first[XR_JSON_DEPTH];        /* nothing written yet at that level */
	bool is_obj[XR_JSON_DEPTH];
	bool key_done;                    /* a key was written, its value is due */
	bool misuse;
};

void xr_json_init(struct xr_json *j, FILE *f, bool pretty);

/* Containers: open one as the next value, close the innermost. */
void xr_json_obj(struct xr_json *j);
void xr_json_arr(struct xr_json *j);
void xr_json_end(struct xr_json *j);

/* The key of the next member (inside an object). */
void xr_json_key(struct xr_json *j, const char *key);

/* Values. */
void xr_json_str(struct xr_json *j, const char *s);            /* NULL -> null */
void xr_json_strn(struct xr_json *j, const char *s, size_t n); /* stops at NUL */
void xr_json_u64(struct xr_json *j, uint64_t v);
void xr_json_i64(struct xr_json *j, int64_t v);
void xr_json_bool(struct xr_json *j, bool v);
void xr_json_null(struct xr_json *j);
/* A value that is already JSON text, written verbatim (check it first with
 * xr_json_valid() when it comes from elsewhere). */
void xr_json_raw(struct xr_json *j, const char *text, size_t n);

/* key + value in one call. */
void xr_json_kstr(struct xr_json *j, const char *key, const char *s);
void xr_json_ku64(struct xr_json *j, const char *key, uint64_t v);
void xr_json_ki64(struct xr_json *j, const char *key, int64_t v);
void xr_json_kbool(struct xr_json *j, const char *key, bool v);
void xr_json_knull(struct xr_json *j, const char *key);

/* After the last value: a final newline, flush.  0, -EINVAL on misuse (or
 * containers left open), -EIO when the stream had a write error. */
int xr_json_finish(struct xr_json *j);

/* Write `s` (up to n bytes or a NUL) as a quoted, escaped JSON string. */
void xr_json_write_string(FILE *f, const char *s, size_t n);

/* True when text[0..n) is exactly one valid JSON value (RFC 8259 syntax,
 * surrounding whitespace allowed, nesting up to 64). */
bool xr_json_valid(const char *text, size_t n);

#endif
