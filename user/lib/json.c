// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Streaming JSON writer and a syntax check.  See json.h.
 */
#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

void xr_json_init(struct xr_json *j, FILE *f, bool pretty)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->pretty = pretty;
	j->first[0] = true;
}

static void newline_indent(struct xr_json *j)
{
	if (!j->pretty)
		return;
	fputc('\n', j->f);
	for (int i = 0; i < j->depth; i++)
		fputs("  ", j->f);
}

/* Everything that precedes a value: the comma and indentation inside an
 * array; inside an object the key already wrote them. */
static void before_value(struct xr_json *j)
{
	if (j->depth == 0) {
		if (!j->first[0])
			j->misuse = true;   /* a second top-level value */
		j->first[0] = false;
		return;
	}
	if (j->is_obj[j->depth]) {
		if (!j->key_done)
			j->misuse = true;   /* value without a key */
		j->key_done = false;
		return;
	}
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
	newline_indent(j);
}

static void open_container(struct xr_json *j, char c, bool obj)
{
	before_value(j);
	fputc(c, j->f);
	if (j->depth + 1 >= XR_JSON_DEPTH) {
		j->misuse = true;
		return;
	}
	j->depth++;
	j->first[j->depth] = true;
	j->is_obj[j->depth] = obj;
}

void xr_json_obj(struct xr_json *j) { open_container(j, '{', true); }
void xr_json_arr(struct xr_json *j) { open_container(j, '[', false); }

void xr_json_end(struct xr_json *j)
{
	bool empty;
	char c;

	if (j->depth == 0 || j->key_done) {
		j->misuse = true;
		return;
	}
	empty = j->first[j->depth];
	c = j->is_obj[j->depth] ? '}' : ']';
	j->depth--;
	if (!empty)
		newline_indent(j);
	fputc(c, j->f);
}

void xr_json_key(struct xr_json *j, const char *key)
{
	if (j->depth == 0 || !j->is_obj[j->depth] || j->key_done) {
		j->misuse = true;
		return;
	}
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
	newline_indent(j);
	xr_json_write_string(j->f, key, SIZE_MAX);
	fputs(j->pretty ? ": " : ":", j->f);
	j->key_done = true;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if invalid:
 * no overlong forms, no surrogates, nothing above U+10FFFF. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void xr_json_write_string(FILE *f, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len = strnlen(str, n);

	fputc('"', f);
	for (size_t i = 0; i < len;) {
		unsigned char c = s[i];
		size_t l;

		switch (c) {
		case '"':  fputs("\\\"", f); i++; continue;
		case '\\': fputs("\\\\", f); i++; continue;
		case '\b': fputs("\\b", f); i++; continue;
		case '\f': fputs("\\f", f); i++; continue;
		case '\n': fputs("\\n", f); i++; continue;
		case '\r': fputs("\\r", f); i++; continue;
		case '\t': fputs("\\t", f); i++; continue;
		default:
			break;
		}
		if (c < 0x20 || c == 0x7f) {
			fprintf(f, "\\u%04x", c);
			i++;
			continue;
		}
		l = utf8_len(s + i, len - i);
		if (!l) {
			fputs("\\ufffd", f);   /* not UTF-8: keep the output valid */
			i++;
			continue;
		}
		fwrite(s + i, 1, l, f);
		i += l;
	}
	fputc('"', f);
}

void xr_json_strn(struct xr_json *j, const char *s, size_t n)
{
	before_value(j);
	xr_json_write_string(j->f, s, n);
}

void xr_json_str(struct xr_json *j, const char *s)
{
	if (!s) {
		xr_json_null(j);
		return;
	}
	xr_json_strn(j, s, SIZE_MAX);
}

void xr_json_u64(struct xr_json *j, uint64_t v)
{
	before_value(j);
	fprintf(j->f, "%" PRIu64, v);
}

void xr_json_i64(struct xr_json *j, int64_t v)
{
	before_value(j);
	fprintf(j->f, "%" PRId64, v);
}

void xr_json_bool(struct xr_json *j, bool v)
{
	before_value(j);
	fputs(v ? "true" : "false", j->f);
}

void xr_json_null(struct xr_json *j)
{
	before_value(j);
	fputs("null", j->f);
}

void xr_json_raw(struct xr_json *j, const char *text, size_t n)
{
	/* trim surrounding whitespace so that the output stays tidy */
	while (n && (*text == ' ' || *text == '\n' || *text == '\r' || *text == '\t')) {
		text++;
		n--;
	}
	while (n && (text[n - 1] == ' ' || text[n - 1] == '\n' || text[n - 1] == '\r' ||
		     text[n - 1] == '\t'))
		n--;
	before_value(j);
	fwrite(text, 1, n, j->f);
}

void xr_json_kstr(struct xr_json *j, const char *key, const char *s)
{
	xr_json_key(j, key);
	xr_json_str(j, s);
}

void xr_json_ku64(struct xr_json *j, const char *key, uint64_t v)
{
	xr_json_key(j, key);
	xr_json_u64(j, v);
}

void xr_json_ki64(struct xr_json *j, const char *key, int64_t v)
{
	xr_json_key(j, key);
	xr_json_i64(j, v);
}

void xr_json_kbool(struct xr_json *j, const char *key, bool v)
{
	xr_json_key(j, key);
	xr_json_bool(j, v);
}

void xr_json_knull(struct xr_json *j, const char *key)
{
	xr_json_key(j, key);
	xr_json_null(j);
}

int xr_json_finish(struct xr_json *j)
{
	if (j->depth != 0 || j->key_done)
		j->misuse = true;
	fputc('\n', j->f);
	if (fflush(j->f) || ferror(j->f))
		return -EIO;
	return j->misuse ? -EINVAL : 0;
}

/* ---- syntax check ---------------------------------------------------------- */

struct scan {
	const char *p, *end;
	int depth;
};

static void skip_ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static bool lit(struct scan *s, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(s->end - s->p) < n || memcmp(s->p, w, n))
		return false;
	s->p += n;
	return true;
}

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool scan_string(struct scan *s)
{
	if (s->p >= s->end || *s->p != '"')
		return false;
	s->p++;
	while (s->p < s->end) {
		unsigned char c = (unsigned char)*s->p;
		size_t l;

		if (c == '"') {
			s->p++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (++s->p >= s->end)
				return false;
			c = (unsigned char)*s->p;
			if (c == 'u') {
				if (s->end - s->p < 5)
					return false;
				for (int i = 1; i <= 4; i++)
					if (!is_hex(s->p[i]))
						return false;
				s->p += 5;
				continue;
			}
			if (!strchr("\"\\/bfnrt", c) || !c)
				return false;
			s->p++;
			continue;
		}
		l = utf8_len((const unsigned char *)s->p, s->end - s->p);
		if (!l)
			return false;
		s->p += l;
	}
	return false;
}

static bool scan_number(struct scan *s)
{
	const char *st;

	if (s->p < s->end && *s->p == '-')
		s->p++;
	if (s->p >= s->end)
		return false;
	if (*s->p == '0') {
		s->p++;
	} else if (is_digit(*s->p)) {
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
	} else {
		return false;
	}
	if (s->p < s->end && *s->p == '.') {
		st = ++s->p;
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
		if (s->p == st)
			return false;
	}
	if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
		s->p++;
		if (s->p < s->end && (*s->p == '+' || *s->p == '-'))
			s->p++;
		st = s->p;
		while (s->p < s->end && is_digit(*s->p))
			s->p++;
		if (s->p == st)
			return false;
	}
	return true;
}

static bool scan_value(struct scan *s);

static bool scan_container(struct scan *s, bool obj)
{
	char close = obj ? '}' : ']';

	if (++s->depth > 64)
		return false;
	s->p++;
	skip_ws(s);
	if (s->p < s->end && *s->p == close) {
		s->p++;
		s->depth--;
		return true;
	}
	for (;;) {
		if (obj) {
			skip_ws(s);
			if (!scan_string(s))
				return false;
			skip_ws(s);
			if (s->p >= s->end || *s->p != ':')
				return false;
			s->p++;
		}
		if (!scan_value(s))
			return false;
		skip_ws(s);
		if (s->p >= s->end)
			return false;
		if (*s->p == ',') {
			s->p++;
			continue;
		}
		if (*s->p != close)
			return false;
		s->p++;
		s->depth--;
		return true;
	}
}

static bool scan_value(struct scan *s)
{
	skip_ws(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '{': return scan_container(s, true);
	case '[': return scan_container(s, false);
	case '"': return scan_string(s);
	case 't': return lit(s, "true");
	case 'f': return lit(s, "false");
	case 'n': return lit(s, "null");
	default:  return scan_number(s);
	}
}

bool xr_json_valid(const char *text, size_t n)
{
	struct scan s = { .p = text, .end = text + n };

	if (!scan_value(&s))
		return false;
	skip_ws(&s);
	return s.p == s.end;
}
