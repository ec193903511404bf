// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Config loader: YAML text -> libyaml document (yaml_parser_load) -> one
 * walk that validates while it fills the structs of config.h.
 *
 * Conventions of the walk:
 *  - every mapping is read pair by pair, in file order, so the first error
 *    in the file is the one reported; every level rejects unknown and
 *    repeated keys;
 *  - an empty value (`control:`, `~`, `null`) of a section or list means
 *    "absent"; an empty value of a string is an error;
 *  - arrays are allocated once, at the exact length of their YAML sequence,
 *    so pointers into them stay valid: the duplicate detector (`struct
 *    seen`, a small hash set) keeps pointers to the stored names and keys;
 *  - aliases are resolved by libyaml to shared nodes; `budget` bounds the
 *    nodes visited so that an alias bomb cannot make us walk 2^n nodes.
 *
 * Units follow tc(8): "bit" is bits, "bps" is BYTES per second, SI
 * prefixes are decimal (k = 1000), "ki"/"mi"/"gi"/"ti" binary; a bare number
 * is bits per second.  So "100mbit" = 100e6 bit/s and "10mbps" = 80e6 bit/s.
 */
#include "config.h"
#include "wg.h"
#include "identity.h"
#include "log.h"
#include "xrelay_config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <yaml.h>

#define NODE_BUDGET   (1L << 20)       /* nodes visited, aliases expanded */
#define MAX_FILE_SIZE (64L << 20)
#define MAX_BPS       1000000000000ULL /* 1tbit: keeps bw_ns_per_kbyte >= 8 */
#define MAX_PPS       1000000000ULL    /* 1gpps: keeps pkt_ns_per_packet >= 1 */
#define MAX_CONN_PS   1000000000ULL

/* ---- duplicate detection ----------------------------------------------------- */

enum seen_kind { SEEN_TENANT, SEEN_HOST, SEEN_WGKEY, SEEN_PEER, SEEN_IDENTITY,
		 SEEN_AGENT, SEEN_RELAY, SEEN_SERVICE };

struct seen_ent {
	const void *key;        /* NULL = free slot; points into the config */
	uint32_t klen;
	uint16_t kind;
	int scope;              /* e.g. the tenant, for names unique per tenant */
	int line;
	uint64_t hash;
};

struct seen {
	struct seen_ent *v;
	size_t cap, n;          /* cap is a power of two */
};

static uint64_t seen_hash(int kind, int scope, const void *key, size_t len)
{
	const unsigned char *p = key;
	uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)kind ^ ((uint64_t)(unsigned)scope << 8);

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

static struct seen_ent *seen_slot(struct seen_ent *v, size_t cap, const struct seen_ent *e)
{
	for (size_t i = e->hash & (cap - 1);; i = (i + 1) & (cap - 1)) {
		struct seen_ent *s = &v[i];

		if (!s->key || (s->hash == e->hash && s->kind == e->kind && s->scope == e->scope &&
				s->klen == e->klen && !memcmp(s->key, e->key, e->klen)))
			return s;
	}
}

/* 0 if new (recorded), 1 if seen before (*first = its line), -1 if ENOMEM. */
static int seen_add(struct seen *st, int kind, int scope, const void *key, size_t klen,
		    int line, int *first)
{
	struct seen_ent e = { key, (uint32_t)klen, (uint16_t)kind, scope, line,
			      seen_hash(kind, scope, key, klen) };
	struct seen_ent *s;

	if ((st->n + 1) * 2 > st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		struct seen_ent *v = calloc(cap, sizeof(*v));

		if (!v)
			return -1;
		for (size_t i = 0; i < st->cap; i++)
			if (st->v[i].key)
				*seen_slot(v, cap, &st->v[i]) = st->v[i];
		free(st->v);
		st->v = v;
		st->cap = cap;
	}
	s = seen_slot(st->v, st->cap, &e);
	if (s->key) {
		*first = s->line;
		return 1;
	}
	*s = e;
	st->n++;
	return 0;
}

/* ---- walking the document ------------------------------------------------------ */

struct ctx {
	const char *file;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	long budget;
	int scope;              /* counter handing out seen_ent.scope values */
	struct seen seen;
};

static int cerr(struct ctx *c, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int cerr(struct ctx *c, int line, const char *fmt, ...)
{
	char msg[XR_CFG_ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (c->err && c->errlen)
		snprintf(c->err, c->errlen, "%s:%d: %s", c->file, line, msg);
	return -1;
}

static int nline(const yaml_node_t *n)
{
	return (int)n->start_mark.line + 1;
}

static yaml_node_t *get_node(struct ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static int spend(struct ctx *c, const yaml_node_t *n)
{
	if (--c->budget >= 0)
		return 0;
	return cerr(c, nline(n), "document too large (too many nodes once aliases are expanded)");
}

static int seen_check(struct ctx *c, int kind, int scope, const void *key, size_t klen,
		      int line, int *first)
{
	int rc = seen_add(&c->seen, kind, scope, key, klen, line, first);

	if (rc < 0)
		cerr(c, line, "out of memory");
	return rc;
}

/* An absent value: empty, "~" or "null", unquoted. */
static bool is_null(const yaml_node_t *n)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

/* The non-empty string value of `key`. */
static int get_str(struct ctx *c, const yaml_node_t *n, const char *key, const char **out)
{
	const char *v;

	if (n->type != YAML_SCALAR_NODE)
		return cerr(c, nline(n), "expected a string for '%s'", key);
	v = (const char *)n->data.scalar.value;
	if (strlen(v) != n->data.scalar.length)
		return cerr(c, nline(n), "NUL byte in the value of '%s'", key);
	if (!*v || is_null(n))
		return cerr(c, nline(n), "empty value for '%s'", key);
	*out = v;
	return 0;
}

static int get_strcpy(struct ctx *c, const yaml_node_t *n, const char *key, char *dst, size_t size)
{
	const char *s;
	size_t len;

	if (get_str(c, n, key, &s))
		return -1;
	len = strlen(s);
	if (len >= size)
		return cerr(c, nline(n), "value of '%s' is too long (max %zu bytes)", key, size - 1);
	memcpy(dst, s, len + 1);
	return 0;
}

/* 1: absent (skip), 0: a mapping, -1: error. */
static int want_map(struct ctx *c, const yaml_node_t *n, const char *what)
{
	if (is_null(n))
		return 1;
	if (n->type != YAML_MAPPING_NODE)
		return cerr(c, nline(n), "expected a mapping for '%s'", what);
	return 0;
}

/* 1: absent (skip), 0: a list, -1: error. */
static int want_seq(struct ctx *c, const yaml_node_t *n, const char *what)
{
	if (is_null(n))
		return 1;
	if (n->type != YAML_SEQUENCE_NODE)
		return cerr(c, nline(n), "expected a list for '%s'", what);
	return 0;
}

static int map_len(const yaml_node_t *n)
{
	return (int)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static int seq_len(const yaml_node_t *n)
{
	return (int)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static yaml_node_t *seq_item(struct ctx *c, const yaml_node_t *n, int i)
{
	yaml_node_t *it = get_node(c, n->data.sequence.items.start[i]);

	return spend(c, it) ? NULL : it;
}

/* Pair i of a mapping: its key (a string, not repeated) and value.  Callers
 * dispatch on the key and reject the unknown ones at once, so the repeat scan
 * only ever looks at a handful of known keys. */
static int map_pair(struct ctx *c, const yaml_node_t *map, int i, const char **key,
		    yaml_node_t **kn, yaml_node_t **vn)
{
	yaml_node_pair_t *p = map->data.mapping.pairs.start + i;

	*kn = get_node(c, p->key);
	*vn = get_node(c, p->value);
	if (spend(c, *kn))
		return -1;
	if ((*kn)->type != YAML_SCALAR_NODE ||
	    strlen((char *)(*kn)->data.scalar.value) != (*kn)->data.scalar.length)
		return cerr(c, nline(*kn), "expected a string as key");
	*key = (const char *)(*kn)->data.scalar.value;
	for (int j = 0; j < i; j++) {
		yaml_node_t *o = get_node(c, map->data.mapping.pairs.start[j].key);

		if (!strcmp((char *)o->data.scalar.value, *key))
			return cerr(c, nline(*kn), "duplicate key '%s' (first at line %d)", *key, nline(o));
	}
	return 0;
}

static int unknown(struct ctx *c, const yaml_node_t *kn, const char *key, const char *section)
{
	return cerr(c, nline(kn), "unknown key '%s' in %s", key, section);
}

/* ---- value parsers (exported ones are in config.h) ------------------------------ */

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int port_parse(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t len = strlen(s);

	if (!len || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit(s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* Split "host:port" / "[v6]:port": 0, -1 (shape), -2 (port). */
static int hostport_split(const char *s, char *host, size_t hostlen, uint16_t *port,
			  bool *bracketed)
{
	const char *h = s, *end, *colon;
	size_t len;

	if (*s == '[') {
		h = s + 1;
		end = strchr(h, ']');
		if (!end || end[1] != ':')
			return -1;
		colon = end + 1;
		*bracketed = true;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		end = colon;
		*bracketed = false;
		if (memchr(s, ':', (size_t)(colon - s)))
			return -1;      /* IPv6 without brackets */
	}
	len = (size_t)(end - h);
	if (!len || len >= hostlen)
		return -1;
	memcpy(host, h, len);
	host[len] = '\0';
	return port_parse(colon + 1, port) ? -2 : 0;
}

/* Numeric address: 0, -1 (address), -2 (port). */
static int sockaddr_parse(const char *s, struct xr_sockaddr *out)
{
	char host[INET6_ADDRSTRLEN];
	uint16_t port;
	bool br;
	int rc = hostport_split(s, host, sizeof(host), &port, &br);

	memset(out, 0, sizeof(*out));
	if (rc == -1)
		return -1;
	if (br) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->ss;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -1;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		out->len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&out->ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -1;
		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		out->len = sizeof(*a);
	}
	if (rc == -2) {
		memset(out, 0, sizeof(*out));
		return -2;
	}
	return 0;
}

int xr_parse_sockaddr(const char *s, struct xr_sockaddr *out)
{
	return sockaddr_parse(s, out) ? -1 : 0;
}

/* A DNS name, lower-cased into out: labels of [a-z0-9-] (and '_' when
 * `underscore`, for backend names), 1..63 long, no '-' at either end, at most
 * 253 in all, the last label not all digits (that would be a mistyped IPv4
 * address; SNI never carries addresses).  "*." first when `wildcard`. */
static int dns_name(const char *s, char *out, size_t outlen, bool wildcard, bool underscore)
{
	size_t len = strlen(s), label = 0;
	bool digits = true;
	const char *p = s;

	if (len > 253 || len >= outlen)
		return -1;
	if (wildcard && p[0] == '*' && p[1] == '.')
		p += 2;
	if (!*p)
		return -1;
	for (;; p++) {
		char ch = *p;

		if (ch == '.' || !ch) {
			if (!label || p[-1] == '-')
				return -1;
			if (!ch)
				break;
			label = 0;
			digits = true;
			continue;
		}
		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= 'a' && ch <= 'z') || is_digit(ch) || ch == '-' || (underscore && ch == '_')))
			return -1;
		if (ch == '-' && !label)
			return -1;
		if (!is_digit(ch))
			digits = false;
		if (++label > 63)
			return -1;
	}
	if (digits)
		return -1;
	for (size_t i = 0; i <= len; i++)
		out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
	return 0;
}

int xr_parse_hostname(const char *s, char out[XR_CFG_HOST_LEN])
{
	return dns_name(s, out, XR_CFG_HOST_LEN, true, false);
}

/* Host may be a name: 0, -1 (address), -2 (port). */
static int hostport_parse(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	char h[XR_CFG_HOST_LEN];
	unsigned char a[16];
	bool br;
	int rc = hostport_split(s, h, sizeof(h), port, &br);

	if (rc == -1)
		return -1;
	if (br ? inet_pton(AF_INET6, h, a) != 1 :
		 inet_pton(AF_INET, h, a) != 1 && dns_name(h, h, sizeof(h), false, true))
		return -1;
	if (rc)
		return rc;
	if (strlen(h) >= hostlen)
		return -1;
	strcpy(host, h);
	return 0;
}

int xr_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	return hostport_parse(s, host, hostlen, port) ? -1 : 0;
}

/* CIDR: 0, -1 (garbage), -2 (host bits set; *out holds the masked prefix). */
static int cidr_parse(const char *s, struct xr_cidr *out)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	unsigned plen = 0, max, off;
	struct in_addr a4;
	bool host_bits = false;

	memset(out, 0, sizeof(*out));
	if (!alen || alen >= sizeof(buf))
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		out->addr[10] = out->addr[11] = 0xff;
		memcpy(out->addr + 12, &a4, 4);
		out->family = 4;
		max = 32;
		off = 96;
	} else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
		out->family = 6;
		max = 128;
		off = 0;
	} else {
		return -1;
	}
	if (slash) {
		const char *p = slash + 1;

		if (!*p || strlen(p) > 3)
			return -1;
		for (; *p; p++) {
			if (!is_digit(*p))
				return -1;
			plen = plen * 10 + (unsigned)(*p - '0');
		}
		if (plen > max)
			return -1;
	} else {
		plen = max;
	}
	out->prefixlen = (uint8_t)(off + plen);
	for (unsigned bit = out->prefixlen; bit < 128; bit++) {
		uint8_t m = (uint8_t)(0x80 >> (bit % 8));

		if (out->addr[bit / 8] & m) {
			host_bits = true;
			out->addr[bit / 8] &= (uint8_t)~m;
		}
	}
	return host_bits ? -2 : 0;
}

int xr_parse_cidr(const char *s, struct xr_cidr *out)
{
	return cidr_parse(s, out) ? -1 : 0;
}

struct unit {
	const char *name;
	uint64_t mult;
};

/* "<digits>[.<digits>][ ]<unit>" -> value * mult, truncated to an integer.
 * -1 on garbage, an unknown unit, a fraction where !frac_ok, 0, or > max. */
static int parse_scaled(const char *s, const struct unit *units, bool frac_ok, uint64_t max,
			uint64_t *out)
{
	unsigned __int128 ip = 0, frac = 0, fdiv = 1, v;
	const char *p = s;
	const struct unit *u;

	if (!is_digit(*p))
		return -1;
	for (; is_digit(*p); p++) {
		ip = ip * 10 + (unsigned)(*p - '0');
		if (ip > UINT64_MAX)
			return -1;
	}
	if (*p == '.') {
		if (!frac_ok || !is_digit(*++p))
			return -1;
		for (; is_digit(*p); p++) {
			if (fdiv < 1000000000000000000ULL) {
				frac = frac * 10 + (unsigned)(*p - '0');
				fdiv *= 10;
			}
		}
	}
	if (*p == ' ')
		p++;
	for (u = units; u->name; u++)
		if (!strcasecmp(p, u->name))
			break;
	if (!u->name)
		return -1;
	v = ip * u->mult + frac * u->mult / fdiv;
	if (!v || v > max)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static const struct unit bw_units[] = {
	{ "", 1 }, { "bit", 1 },
	{ "kbit", 1000ULL }, { "mbit", 1000000ULL }, { "gbit", 1000000000ULL },
	{ "tbit", 1000000000000ULL },
	{ "kibit", 1ULL << 10 }, { "mibit", 1ULL << 20 }, { "gibit", 1ULL << 30 },
	{ "tibit", 1ULL << 40 },
	/* bytes per second, as in tc(8) */
	{ "bps", 8 },
	{ "kbps", 8000ULL }, { "mbps", 8000000ULL }, { "gbps", 8000000000ULL },
	{ "tbps", 8000000000000ULL },
	{ "kibps", 8ULL << 10 }, { "mibps", 8ULL << 20 }, { "gibps", 8ULL << 30 },
	{ "tibps", 8ULL << 40 },
	{ NULL, 0 }
};

static const struct unit pps_units[] = {
	{ "", 1 }, { "pps", 1 }, { "kpps", 1000ULL }, { "mpps", 1000000ULL },
	{ "gpps", 1000000000ULL }, { NULL, 0 }
};

static const struct unit rate_units[] = {
	{ "", 1 }, { "/s", 1 }, { "/sec", 1 }, { NULL, 0 }
};

static const struct unit dur_units[] = {
	{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "sec", 1000 }, { "m", 60000 },
	{ "min", 60000 }, { "h", 3600000 }, { NULL, 0 }
};

int xr_parse_bandwidth(const char *s, uint64_t *bps)
{
	return parse_scaled(s, bw_units, true, MAX_BPS, bps);
}

int xr_parse_pps(const char *s, uint64_t *pps)
{
	return parse_scaled(s, pps_units, true, MAX_PPS, pps);
}

int xr_parse_rate(const char *s, uint64_t *per_sec)
{
	return parse_scaled(s, rate_units, false, MAX_CONN_PS, per_sec);
}

int xr_parse_duration_ms(const char *s, uint64_t *ms)
{
	return parse_scaled(s, dur_units, true, 24ULL * 3600000, ms);
}

/* Strict canonical base64 of 32 bytes, as wg(8) prints keys: wg.c owns it. */
int xr_parse_wg_key(const char *s, uint8_t out[32])
{
	return xr_wg_key_from_base64(s, out);
}

const char *xr_sockaddr_str(const struct sockaddr *sa, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], ifn[IF_NAMESIZE];

	if (!len)
		return buf;
	if (!sa) {
		snprintf(buf, len, "-");
		return buf;
	}
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s4->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		if (!s6->sin6_scope_id)
			snprintf(buf, len, "[%s]:%u", a, ntohs(s6->sin6_port));
		else if (if_indextoname(s6->sin6_scope_id, ifn))
			snprintf(buf, len, "[%s%%%s]:%u", a, ifn, ntohs(s6->sin6_port));
		else
			snprintf(buf, len, "[%s%%%u]:%u", a, s6->sin6_scope_id, ntohs(s6->sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *su = (const struct sockaddr_un *)sa;

		if (su->sun_path[0])
			snprintf(buf, len, "%.*s", (int)sizeof(su->sun_path), su->sun_path);
		else    /* abstract, shown as ss(8) does */
			snprintf(buf, len, "@%.*s", (int)sizeof(su->sun_path) - 1, su->sun_path + 1);
		break;
	}
	case AF_UNSPEC:
		snprintf(buf, len, "-");
		break;
	default:
		snprintf(buf, len, "(family %u)", sa->sa_family);
	}
	return buf;
}

/* ---- pieces shared by both configs ------------------------------------------------ */

static int cfg_name(struct ctx *c, const yaml_node_t *v, const char *key, char out[XR_CFG_NAME_LEN])
{
	const char *s;
	size_t len;

	if (get_str(c, v, key, &s))
		return -1;
	len = strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");
	if (s[len] || len >= XR_CFG_NAME_LEN)
		return cerr(c, nline(v), "invalid %s '%s' (1 to %d of A-Z a-z 0-9 _ . -)", key, s,
			    XR_CFG_NAME_LEN - 1);
	memcpy(out, s, len + 1);
	return 0;
}

static int cfg_identity(struct ctx *c, const yaml_node_t *v, uint8_t out[XR_IDENTITY_LEN])
{
	const char *s;

	if (get_str(c, v, "identity", &s))
		return -1;
	if (xr_identity_parse(s, out))
		return cerr(c, nline(v), "malformed identity (expected \"%s<base64 of 32 bytes>\", "
			    "the line printed by xrelayctl keygen)", XR_IDENTITY_PREFIX);
	return 0;
}

/* A concrete host name (no wildcard), not entered in the duplicate set:
 * names this side calls itself or sends, not names it routes. */
static int cfg_plain_hostname(struct ctx *c, const yaml_node_t *v, const char *key,
			      char out[XR_CFG_HOST_LEN])
{
	const char *s;

	if (get_str(c, v, key, &s))
		return -1;
	if (xr_parse_hostname(s, out) || out[0] == '*')
		return cerr(c, nline(v), "invalid hostname '%s' in '%s' (a plain name, no wildcard)",
			    s, key);
	return 0;
}

static int cfg_hostname(struct ctx *c, const yaml_node_t *v, const char *key, char out[XR_CFG_HOST_LEN])
{
	const char *s;
	int first;

	if (get_str(c, v, key, &s))
		return -1;
	if (xr_parse_hostname(s, out))
		return cerr(c, nline(v), "invalid hostname '%s' in '%s'", s, key);
	switch (seen_check(c, SEEN_HOST, 0, out, strlen(out), nline(v), &first)) {
	case 0:
		return 0;
	case 1:
		return cerr(c, nline(v), "duplicate hostname '%s' (first at line %d)", out, first);
	default:
		return -1;
	}
}

static int cfg_sockaddr(struct ctx *c, const yaml_node_t *v, const char *key, struct xr_sockaddr *out)
{
	const char *s;

	if (get_str(c, v, key, &s))
		return -1;
	switch (sockaddr_parse(s, out)) {
	case 0:
		out->line = nline(v);
		return 0;
	case -2:
		return cerr(c, nline(v), "invalid port in '%s' for '%s' (expected 1..65535)", s, key);
	default:
		return cerr(c, nline(v), "invalid address '%s' for '%s' (expected IP:port or [IPv6]:port)",
			    s, key);
	}
}

static int cfg_hostport(struct ctx *c, const yaml_node_t *v, const char *key, char *str,
			char *host, uint16_t *port)
{
	if (get_strcpy(c, v, key, str, XR_CFG_HOST_LEN))
		return -1;
	switch (hostport_parse(str, host, XR_CFG_HOST_LEN, port)) {
	case 0:
		return 0;
	case -2:
		return cerr(c, nline(v), "invalid port in '%s' for '%s' (expected 1..65535)", str, key);
	default:
		return cerr(c, nline(v), "invalid address '%s' for '%s' (expected host:port)", str, key);
	}
}

static int cfg_path(struct ctx *c, const yaml_node_t *v, const char *key, char out[XR_CFG_PATH_LEN])
{
	return get_strcpy(c, v, key, out, XR_CFG_PATH_LEN);
}

/* A list of addresses, or a single one. */
static int cfg_listen(struct ctx *c, const yaml_node_t *v, const char *key,
		      struct xr_sockaddr out[XR_CFG_MAX_LISTEN], int *n)
{
	int len, rc;

	if (v->type == YAML_SCALAR_NODE && !is_null(v))
		return cfg_sockaddr(c, v, key, &out[(*n)++]);
	if ((rc = want_seq(c, v, key)))
		return rc < 0 ? -1 : 0;
	len = seq_len(v);
	for (int i = 0; i < len; i++) {
		yaml_node_t *it = seq_item(c, v, i);

		if (!it)
			return -1;
		if (*n == XR_CFG_MAX_LISTEN)
			return cerr(c, nline(it), "too many addresses in '%s' (max %d)", key,
				    XR_CFG_MAX_LISTEN);
		if (cfg_sockaddr(c, it, key, &out[*n]))
			return -1;
		for (int j = 0; j < *n; j++)
			if (out[j].len == out[*n].len && !memcmp(&out[j].ss, &out[*n].ss, out[j].len))
				return cerr(c, nline(it), "duplicate address in '%s' (first at line %d)",
					    key, out[j].line);
		(*n)++;
	}
	return 0;
}

static int load_doc(struct ctx *c, const char *yaml, size_t len, yaml_document_t *doc)
{
	yaml_parser_t p;
	yaml_document_t extra;
	int rc = -1;

	if (!yaml_parser_initialize(&p))
		return cerr(c, 1, "out of memory");
	yaml_parser_set_input_string(&p, (const unsigned char *)yaml, len);
	if (!yaml_parser_load(&p, doc))
		goto syntax;
	if (!yaml_parser_load(&p, &extra)) {
		yaml_document_delete(doc);
		goto syntax;
	}
	if (yaml_document_get_root_node(&extra)) {
		cerr(c, (int)extra.start_mark.line + 1, "more than one YAML document");
		yaml_document_delete(&extra);
		yaml_document_delete(doc);
		goto out;
	}
	yaml_document_delete(&extra);
	rc = 0;
	goto out;
syntax:
	if (p.error == YAML_MEMORY_ERROR) {
		cerr(c, 1, "out of memory");
	} else if (p.error == YAML_READER_ERROR) {
		/* the reader reports a byte offset, not a mark */
		int line = 1;

		for (size_t i = 0; i < p.problem_offset && i < len; i++)
			line += yaml[i] == '\n';
		cerr(c, line, "YAML syntax error: %s", p.problem ? p.problem : "unreadable input");
	} else if (p.context) {
		cerr(c, (int)p.problem_mark.line + 1, "YAML syntax error: %s (%s at line %d)",
		     p.problem ? p.problem : "?", p.context, (int)p.context_mark.line + 1);
	} else {
		cerr(c, (int)p.problem_mark.line + 1, "YAML syntax error: %s",
		     p.problem ? p.problem : "?");
	}
out:
	yaml_parser_delete(&p);
	return rc;
}

static int read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0, n = 0;
	char *b = NULL;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (n == cap) {
			char *nb;

			if (cap >= (size_t)MAX_FILE_SIZE) {
				snprintf(err, errlen, "%s: file too large", path);
				goto fail;
			}
			cap = cap ? cap * 2 : 16384;
			nb = realloc(b, cap);
			if (!nb) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			b = nb;
		}
		size_t r = fread(b + n, 1, cap - n, f);

		n += r;
		if (r == 0) {
			if (ferror(f)) {
				snprintf(err, errlen, "%s: %s", path, strerror(errno));
				goto fail;
			}
			break;
		}
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
fail:
	fclose(f);
	free(b);
	return -1;
}

/* ---- relay config ------------------------------------------------------------------- */

static int relay_control(struct ctx *c, const yaml_node_t *n, struct xr_relay_cfg *cfg)
{
	int rc = want_map(c, n, "control");

	if (rc)
		return rc < 0 ? -1 : 0;
	for (int i = 0; i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "listen"))
			rc = cfg_listen(c, v, "control.listen", cfg->control_listen, &cfg->n_control_listen);
		else if (!strcmp(key, "key"))
			rc = cfg_path(c, v, "control.key", cfg->control_key);
		else if (!strcmp(key, "hostname")) {
			/* a plain name, but in the duplicate set: no tenant may own it */
			rc = cfg_hostname(c, v, "control.hostname", cfg->control_hostname);
			if (!rc && cfg->control_hostname[0] == '*')
				rc = cerr(c, nline(v), "invalid hostname '%s' in 'control.hostname' "
					  "(a plain name, no wildcard)", cfg->control_hostname);
		}
		else
			rc = unknown(c, k, key, "control");
		if (rc)
			return -1;
	}
	/* the relay proves itself to agents with this key */
	if (cfg->n_control_listen && !cfg->control_key[0])
		return cerr(c, nline(n), "'control' has 'listen' but no 'key'");
	if (cfg->control_hostname[0] && !cfg->n_control_listen)
		return cerr(c, nline(n), "'control' has 'hostname' but no 'listen'");
	return 0;
}

static int relay_tls(struct ctx *c, const yaml_node_t *n, struct xr_relay_cfg *cfg)
{
	int rc = want_map(c, n, "tls");

	if (rc)
		return rc < 0 ? -1 : 0;
	for (int i = 0; i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key;
		char host[XR_CFG_HOST_LEN];
		uint16_t port;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "listen"))
			rc = cfg_listen(c, v, "tls.listen", cfg->tls_listen, &cfg->n_tls_listen);
		else if (!strcmp(key, "fallback"))
			rc = cfg_hostport(c, v, "tls.fallback", cfg->tls_fallback, host, &port);
		else if (!strcmp(key, "hello_timeout")) {
			const char *str;
			uint64_t ms;

			rc = get_str(c, v, "tls.hello_timeout", &str);
			if (!rc && (xr_parse_duration_ms(str, &ms) || ms < 100 || ms > 600000))
				rc = cerr(c, nline(v), "invalid value '%s' for 'tls.hello_timeout' "
					  "(expected 100ms to 10m, like 5s)", str);
			else if (!rc)
				cfg->tls_hello_timeout_ms = (uint32_t)ms;
		} else if (!strcmp(key, "mover")) {
			const char *str;

			rc = get_str(c, v, "tls.mover", &str);
			if (!rc && !strcmp(str, "uring"))
				cfg->tls_mover = 0;
			else if (!rc && !strcmp(str, "splice"))
				cfg->tls_mover = 1;
			else if (!rc)
				rc = cerr(c, nline(v), "invalid value '%s' for 'tls.mover' (uring or splice)",
					  str);
		} else
			rc = unknown(c, k, key, "tls");
		if (rc)
			return -1;
	}
	return 0;
}

static int relay_wireguard(struct ctx *c, const yaml_node_t *n, struct xr_relay_cfg *cfg)
{
	int rc = want_map(c, n, "wireguard");

	if (rc)
		return rc < 0 ? -1 : 0;
	for (int i = 0; i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "listen"))
			rc = cfg_listen(c, v, "wireguard.listen", cfg->wg_listen, &cfg->n_wg_listen);
		else
			rc = unknown(c, k, key, "wireguard");
		if (rc)
			return -1;
	}
	return 0;
}

static int relay_admin(struct ctx *c, const yaml_node_t *n, struct xr_relay_cfg *cfg)
{
	int rc = want_map(c, n, "admin");

	if (rc)
		return rc < 0 ? -1 : 0;
	for (int i = 0; i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "socket")) {
			rc = cfg_path(c, v, "admin.socket", cfg->admin_socket);
			if (!rc && strlen(cfg->admin_socket) >= sizeof(((struct sockaddr_un *)0)->sun_path))
				rc = cerr(c, nline(v), "'admin.socket' is too long for a unix socket (max %zu bytes)",
					  sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		} else if (!strcmp(key, "metrics")) {
			rc = cfg_sockaddr(c, v, "admin.metrics", &cfg->admin_metrics);
		} else {
			rc = unknown(c, k, key, "admin");
		}
		if (rc)
			return -1;
	}
	return 0;
}

static int relay_ifaces(struct ctx *c, const yaml_node_t *v, struct xr_relay_cfg *cfg)
{
	int rc = want_seq(c, v, "bpf.interfaces");

	if (rc)
		return rc < 0 ? -1 : 0;
	for (int i = 0; i < seq_len(v); i++) {
		yaml_node_t *it = seq_item(c, v, i);
		const char *s;

		if (!it || get_str(c, it, "bpf.interfaces", &s))
			return -1;
		if (cfg->n_xdp_ifaces == XR_CFG_MAX_LISTEN)
			return cerr(c, nline(it), "too many interfaces in 'bpf.interfaces' (max %d)",
				    XR_CFG_MAX_LISTEN);
		/* the kernel's dev_valid_name() */
		if (strlen(s) >= IF_NAMESIZE || !strcmp(s, ".") || !strcmp(s, "..") ||
		    strpbrk(s, "/: \t\n"))
			return cerr(c, nline(it), "invalid interface name '%s' in 'bpf.interfaces'", s);
		for (int j = 0; j < cfg->n_xdp_ifaces; j++)
			if (!strcmp(cfg->xdp_ifaces[j], s))
				return cerr(c, nline(it), "duplicate interface '%s' in 'bpf.interfaces'", s);
		strcpy(cfg->xdp_ifaces[cfg->n_xdp_ifaces++], s);
	}
	return 0;
}

static int relay_bpf(struct ctx *c, const yaml_node_t *n, struct xr_relay_cfg *cfg)
{
	int rc = want_map(c, n, "bpf");

	if (rc)
		return rc < 0 ? -1 : 0;
	for (int i = 0; i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key, *s;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "pin_root")) {
			rc = cfg_path(c, v, "bpf.pin_root", cfg->pin_root);
			if (!rc && cfg->pin_root[0] != '/')
				rc = cerr(c, nline(v), "'bpf.pin_root' must be an absolute path");
		} else if (!strcmp(key, "interfaces")) {
			rc = relay_ifaces(c, v, cfg);
		} else if (!strcmp(key, "mode")) {
			rc = get_str(c, v, "bpf.mode", &s);
			if (!rc && (!strcmp(s, "native") || !strcmp(s, "drv")))   /* as xrelayctl --mode */
				cfg->xdp_mode = 0;
			else if (!rc && (!strcmp(s, "generic") || !strcmp(s, "skb")))  /* xdp-tools' name */
				cfg->xdp_mode = 1;
			else if (!rc)
				rc = cerr(c, nline(v), "invalid value '%s' for 'bpf.mode' (native or generic)", s);
		} else {
			rc = unknown(c, k, key, "bpf");
		}
		if (rc)
			return -1;
	}
	return 0;
}

static int relay_log(struct ctx *c, const yaml_node_t *n, struct xr_relay_cfg *cfg)
{
	int rc = want_map(c, n, "log");

	if (rc)
		return rc < 0 ? -1 : 0;
	for (int i = 0; i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key, *s;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "level")) {
			rc = get_str(c, v, "log.level", &s);
			if (!rc && (cfg->log_level = xr_log_parse_level(s)) < 0)
				rc = cerr(c, nline(v), "invalid value '%s' for 'log.level' "
					  "(error, warn, info or debug)", s);
		} else {
			rc = unknown(c, k, key, "log");
		}
		if (rc)
			return -1;
	}
	return 0;
}

static int tenant_agents(struct ctx *c, const yaml_node_t *n, struct xr_cfg_tenant *t, int scope)
{
	int rc = want_seq(c, n, "agents"), first;

	if (rc)
		return rc < 0 ? -1 : 0;
	if (!(t->agents = calloc((size_t)seq_len(n) + 1, sizeof(*t->agents))))
		return cerr(c, nline(n), "out of memory");
	for (int i = 0; i < seq_len(n); i++) {
		yaml_node_t *it = seq_item(c, n, i), *name = NULL, *ident = NULL;
		struct xr_cfg_agent *a = &t->agents[t->n_agents];

		if (!it)
			return -1;
		if (it->type != YAML_MAPPING_NODE)
			return cerr(c, nline(it), "expected a mapping in 'agents'");
		a->line = nline(it);
		for (int j = 0; j < map_len(it); j++) {
			yaml_node_t *k, *v;
			const char *key;

			if (map_pair(c, it, j, &key, &k, &v))
				return -1;
			if (!strcmp(key, "name"))
				rc = cfg_name(c, name = v, "name", a->name);
			else if (!strcmp(key, "identity"))
				rc = cfg_identity(c, ident = v, a->identity);
			else
				rc = unknown(c, k, key, "tenants.agents");
			if (rc)
				return -1;
		}
		if (!name)
			return cerr(c, a->line, "agent has no 'name'");
		if (!ident)
			return cerr(c, a->line, "agent '%s' has no 'identity'", a->name);
		t->n_agents++;
		rc = seen_check(c, SEEN_AGENT, scope, a->name, strlen(a->name), nline(name), &first);
		if (rc > 0)
			return cerr(c, nline(name), "duplicate agent '%s' (first at line %d)", a->name, first);
		/* an identity is how the relay knows the tenant of a connecting agent */
		if (!rc)
			rc = seen_check(c, SEEN_IDENTITY, 0, a->identity, sizeof(a->identity),
					nline(ident), &first);
		if (rc > 0)
			return cerr(c, nline(ident), "duplicate agent identity (first at line %d)", first);
		if (rc)
			return -1;
	}
	return 0;
}

static int tenant_hostnames(struct ctx *c, const yaml_node_t *n, struct xr_cfg_tenant *t)
{
	int rc = want_seq(c, n, "hostnames");

	if (rc)
		return rc < 0 ? -1 : 0;
	if (!(t->hostnames = calloc((size_t)seq_len(n) + 1, sizeof(*t->hostnames))))
		return cerr(c, nline(n), "out of memory");
	for (int i = 0; i < seq_len(n); i++) {
		yaml_node_t *it = seq_item(c, n, i);

		if (!it || cfg_hostname(c, it, "hostnames", t->hostnames[t->n_hostnames]))
			return -1;
		t->n_hostnames++;
	}
	return 0;
}

static int wg_key(struct ctx *c, const yaml_node_t *v, const char *key, uint8_t out[32])
{
	const char *s;

	if (get_str(c, v, key, &s))
		return -1;
	if (xr_parse_wg_key(s, out))
		return cerr(c, nline(v), "malformed WireGuard key '%s' for '%s' (expected 44 characters "
			    "of base64, as printed by wg pubkey)", s, key);
	return 0;
}

static int wg_peers(struct ctx *c, const yaml_node_t *n, struct xr_cfg_wg *w)
{
	int rc = want_seq(c, n, "peers"), scope = ++c->scope, first;

	if (rc)
		return rc < 0 ? -1 : 0;
	if (!(w->peers = calloc((size_t)seq_len(n) + 1, sizeof(*w->peers))))
		return cerr(c, nline(n), "out of memory");
	for (int i = 0; i < seq_len(n); i++) {
		yaml_node_t *it = seq_item(c, n, i);

		if (!it || wg_key(c, it, "peers", w->peers[w->n_peers]))
			return -1;
		rc = seen_check(c, SEEN_PEER, scope, w->peers[w->n_peers], 32, nline(it), &first);
		if (rc > 0)
			return cerr(c, nline(it), "duplicate peer key '%s' (first at line %d)",
				    (char *)it->data.scalar.value, first);
		if (rc)
			return -1;
		w->n_peers++;
	}
	return 0;
}

static int tenant_wireguard(struct ctx *c, const yaml_node_t *n, struct xr_cfg_tenant *t)
{
	int rc = want_seq(c, n, "wireguard"), first;

	if (rc)
		return rc < 0 ? -1 : 0;
	if (!(t->wg = calloc((size_t)seq_len(n) + 1, sizeof(*t->wg))))
		return cerr(c, nline(n), "out of memory");
	for (int i = 0; i < seq_len(n); i++) {
		yaml_node_t *it = seq_item(c, n, i), *pub = NULL;
		struct xr_cfg_wg *w = &t->wg[t->n_wg];

		if (!it)
			return -1;
		if (it->type != YAML_MAPPING_NODE)
			return cerr(c, nline(it), "expected a mapping in 'wireguard'");
		w->line = nline(it);
		t->n_wg++;      /* owns w->peers from here on */
		for (int j = 0; j < map_len(it); j++) {
			yaml_node_t *k, *v;
			const char *key;

			if (map_pair(c, it, j, &key, &k, &v))
				return -1;
			if (!strcmp(key, "pubkey")) {
				rc = wg_key(c, pub = v, "pubkey", w->pubkey);
				if (!rc)
					rc = seen_check(c, SEEN_WGKEY, 0, w->pubkey, 32, nline(v), &first);
				if (rc > 0)
					return cerr(c, nline(v), "duplicate WireGuard key '%s' (first at line %d)",
						    (char *)v->data.scalar.value, first);
			} else if (!strcmp(key, "peers")) {
				rc = wg_peers(c, v, w);
			} else {
				rc = unknown(c, k, key, "tenants.wireguard");
			}
			if (rc)
				return -1;
		}
		if (!pub)
			return cerr(c, w->line, "wireguard entry has no 'pubkey'");
	}
	return 0;
}

static int tenant_limits(struct ctx *c, const yaml_node_t *n, struct xr_cfg_tenant *t)
{
	int rc = want_map(c, n, "limits");

	if (rc)
		return rc < 0 ? -1 : 0;
	for (int i = 0; i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key, *s;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "bandwidth")) {
			if (get_str(c, v, key, &s))
				return -1;
			if (xr_parse_bandwidth(s, &t->limits.bandwidth_bps))
				return cerr(c, nline(v), "invalid value '%s' for 'bandwidth' (expected a rate "
					    "above 0 and up to 1tbit, like 100mbit or 1.5gbit)", s);
		} else if (!strcmp(key, "packets")) {
			if (get_str(c, v, key, &s))
				return -1;
			if (xr_parse_pps(s, &t->limits.packets_pps))
				return cerr(c, nline(v), "invalid value '%s' for 'packets' (expected a rate "
					    "above 0 and up to 1gpps, like 200kpps or 1mpps)", s);
		} else if (!strcmp(key, "connections")) {
			if (get_str(c, v, key, &s))
				return -1;
			if (xr_parse_rate(s, &t->limits.connections_ps))
				return cerr(c, nline(v), "invalid value '%s' for 'connections' (expected a "
					    "whole number per second above 0, like 500/s)", s);
		} else {
			return unknown(c, k, key, "tenants.limits");
		}
	}
	return 0;
}

static int tenant_allow(struct ctx *c, const yaml_node_t *n, struct xr_cfg_tenant *t, int *total)
{
	int rc = want_seq(c, n, "allow");

	if (rc)
		return rc < 0 ? -1 : 0;
	/* no list means "everyone"; an empty one is more likely a mistake */
	if (!seq_len(n))
		return cerr(c, nline(n), "empty 'allow' list (remove it to allow every source)");
	if (!(t->allow = calloc((size_t)seq_len(n), sizeof(*t->allow))))
		return cerr(c, nline(n), "out of memory");
	for (int i = 0; i < seq_len(n); i++) {
		yaml_node_t *it = seq_item(c, n, i);
		struct xr_cidr *a = &t->allow[t->n_allow];
		char net[INET6_ADDRSTRLEN];
		const char *s;

		if (!it || get_str(c, it, "allow", &s))
			return -1;
		switch (cidr_parse(s, a)) {
		case 0:
			break;
		case -2:
			inet_ntop(a->family == 4 ? AF_INET : AF_INET6,
				  a->family == 4 ? a->addr + 12 : a->addr, net, sizeof(net));
			return cerr(c, nline(it), "host bits set in %s (did you mean %s/%u?)", s, net,
				    a->family == 4 ? a->prefixlen - 96u : a->prefixlen);
		default:
			return cerr(c, nline(it), "invalid CIDR '%s' in 'allow' (expected like 10.0.0.0/8 "
				    "or 2001:db8::/32)", s);
		}
		if (++*total > XR_MAX_ALLOW)
			return cerr(c, nline(it), "too many 'allow' entries in all tenants (max %d, "
				    "CONFIG_XR_MAX_ALLOW)", XR_MAX_ALLOW);
		a->line = nline(it);
		t->n_allow++;
	}
	return 0;
}

/* "0.1%" -> 1000 ppm; up to 4 decimals; 0..100 %. */
static int parse_percent_ppm(const char *s, uint32_t *ppm)
{
	uint64_t ip = 0, frac = 0;
	int fd = 0;
	const char *p = s;

	if (!is_digit(*p))
		return -1;
	for (; is_digit(*p); p++)
		if ((ip = ip * 10 + (uint64_t)(*p - '0')) > 100)
			return -1;
	if (*p == '.') {
		if (!is_digit(*++p))
			return -1;
		for (; is_digit(*p); p++, fd++)
			if (fd >= 4)
				return -1;
			else
				frac = frac * 10 + (uint64_t)(*p - '0');
	}
	if (strcmp(p, "%"))
		return -1;
	for (; fd < 4; fd++)
		frac *= 10;
	ip = ip * 10000 + frac;       /* in units of 0.0001 % = 1 ppm */
	if (ip > 1000000)
		return -1;
	*ppm = (uint32_t)ip;
	return 0;
}

/* A duration key within [min_ms, max_ms]. */
static int cfg_duration(struct ctx *c, const yaml_node_t *v, const char *key, uint64_t min_ms,
			uint64_t max_ms, const char *range, uint64_t *out)
{
	const char *s;
	uint64_t ms;

	if (get_str(c, v, key, &s))
		return -1;
	if (min_ms == 0 && s[0] == '0' && s[1] != '.' && !is_digit(s[1]) && strlen(s) < 8) {
		char one[16];   /* "0s", "0m": zero with a valid unit */

		snprintf(one, sizeof(one), "1%s", s + 1);
		if (!parse_scaled(one, dur_units, false, UINT64_MAX, &ms)) {
			*out = 0;
			return 0;
		}
	}
	if (parse_scaled(s, dur_units, true, max_ms, &ms) || ms < min_ms)
		return cerr(c, nline(v), "invalid value '%s' for '%s' (expected %s)", s, key, range);
	*out = ms;
	return 0;
}

static int cfg_uint(struct ctx *c, const yaml_node_t *v, const char *key, uint32_t min, uint32_t max,
		    uint32_t *out)
{
	const char *s;
	unsigned long long n;

	if (get_str(c, v, key, &s))
		return -1;
	if (!is_digit(*s) || strspn(s, "0123456789") != strlen(s) || strlen(s) > 9 ||
	    (n = strtoull(s, NULL, 10)) < min || n > max)
		return cerr(c, nline(v), "invalid value '%s' for '%s' (%u to %u)", s, key, min, max);
	*out = (uint32_t)n;
	return 0;
}

/* health: thresholds (both configs); interval and wireguard_idle (relay). */
static int cfg_health(struct ctx *c, const yaml_node_t *n, struct xr_cfg_health *h, bool relay)
{
	int rc = want_map(c, n, "health");

	if (rc)
		return rc < 0 ? -1 : 0;
	for (int i = 0; i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key, *s;
		uint64_t ms;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "window")) {
			rc = cfg_uint(c, v, "health.window", 1, XR_HEALTH_WINDOW_MAX, &h->p.window);
		} else if (!strcmp(key, "max_failure_rate")) {
			rc = get_str(c, v, "health.max_failure_rate", &s);
			if (!rc && parse_percent_ppm(s, &h->p.max_fail_ppm))
				rc = cerr(c, nline(v), "invalid value '%s' for 'health.max_failure_rate' "
					  "(a percentage like 0.1%%, 0%% to 100%%)", s);
		} else if (!strcmp(key, "down_after")) {
			rc = cfg_uint(c, v, "health.down_after", 1, 1000, &h->p.down_after);
		} else if (!strcmp(key, "hold_down")) {
			rc = cfg_duration(c, v, "health.hold_down", 0, 7 * 86400000ull, "0s to 7 days",
					  &h->p.hold_down_ms);
		} else if (relay && !strcmp(key, "interval")) {
			rc = cfg_duration(c, v, "health.interval", 100, 3600000, "100ms to 1h", &ms);
			h->interval_ms = (uint32_t)ms;
		} else if (relay && !strcmp(key, "wireguard_idle")) {
			rc = cfg_duration(c, v, "health.wireguard_idle", 1000, 86400000, "1s to 24h", &ms);
			h->wg_idle_ms = (uint32_t)ms;
		} else {
			rc = unknown(c, k, key, "health");
		}
		if (rc)
			return -1;
	}
	return 0;
}

static void health_defaults(struct xr_cfg_health *h)
{
	xr_health_defaults(&h->p);
	h->interval_ms = XR_HEALTH_INTERVAL_MS;
	h->wg_idle_ms = XR_HEALTH_WG_IDLE_MS;
}

/* services[].health: probe, path, interval, timeout */
static int service_probe(struct ctx *c, const yaml_node_t *n, struct xr_cfg_probe *p)
{
	int rc = want_map(c, n, "services.health");
	bool timeout_set = false;
	uint64_t ms;

	if (rc)
		return rc < 0 ? -1 : 0;
	for (int i = 0; i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key, *s;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "probe")) {
			static const char *const kinds[] = { "tcp", "tls", "http", "none" };

			rc = get_str(c, v, "health.probe", &s);
			p->kind = -1;
			for (int j = 0; !rc && j < 4; j++)
				if (!strcmp(s, kinds[j]))
					p->kind = j;
			if (!rc && p->kind < 0)
				rc = cerr(c, nline(v), "invalid value '%s' for 'health.probe' "
					  "(tcp, tls, http or none)", s);
		} else if (!strcmp(key, "path")) {
			rc = get_strcpy(c, v, "health.path", p->path, sizeof(p->path));
			if (!rc && (p->path[0] != '/' || strpbrk(p->path, " \t\r\n")))
				rc = cerr(c, nline(v), "invalid value '%s' for 'health.path' (an absolute "
					  "request path without spaces, like /healthz)", p->path);
		} else if (!strcmp(key, "interval")) {
			rc = cfg_duration(c, v, "health.interval", 100, 3600000, "100ms to 1h", &ms);
			p->interval_ms = (uint32_t)ms;
		} else if (!strcmp(key, "timeout")) {
			rc = cfg_duration(c, v, "health.timeout", 10, 600000, "10ms to 10m", &ms);
			p->timeout_ms = (uint32_t)ms;
			timeout_set = true;
		} else {
			rc = unknown(c, k, key, "services.health");
		}
		if (rc)
			return -1;
	}
	if (!timeout_set && p->timeout_ms >= p->interval_ms)
		p->timeout_ms = p->interval_ms / 2;
	if (p->timeout_ms >= p->interval_ms)
		return cerr(c, nline(n), "'health.timeout' must be shorter than 'health.interval'");
	return 0;
}

static int relay_tenant(struct ctx *c, const yaml_node_t *n, struct xr_cfg_tenant *t, int *n_allow)
{
	int scope = ++c->scope, first, rc;
	yaml_node_t *name = NULL;

	if (n->type != YAML_MAPPING_NODE)
		return cerr(c, nline(n), "expected a mapping in 'tenants'");
	t->line = nline(n);
	for (int i = 0; i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "name")) {
			rc = cfg_name(c, name = v, "name", t->name);
			if (!rc)
				rc = seen_check(c, SEEN_TENANT, 0, t->name, strlen(t->name), nline(v), &first);
			if (rc > 0)
				return cerr(c, nline(v), "duplicate tenant '%s' (first at line %d)", t->name, first);
		} else if (!strcmp(key, "agents")) {
			rc = tenant_agents(c, v, t, scope);
		} else if (!strcmp(key, "hostnames")) {
			rc = tenant_hostnames(c, v, t);
		} else if (!strcmp(key, "wireguard")) {
			rc = tenant_wireguard(c, v, t);
		} else if (!strcmp(key, "limits")) {
			rc = tenant_limits(c, v, t);
		} else if (!strcmp(key, "allow")) {
			rc = tenant_allow(c, v, t, n_allow);
		} else {
			rc = unknown(c, k, key, "tenants");
		}
		if (rc)
			return -1;
	}
	if (!name)
		return cerr(c, t->line, "tenant has no 'name'");
	return 0;
}

static int relay_tenants(struct ctx *c, const yaml_node_t *n, struct xr_relay_cfg *cfg)
{
	int rc = want_seq(c, n, "tenants"), n_allow = 0;

	if (rc)
		return rc < 0 ? -1 : 0;
	if (seq_len(n) > XR_MAX_TENANTS - 1)   /* tenant id 0 means "none" */
		return cerr(c, nline(n), "too many tenants (max %d, CONFIG_XR_MAX_TENANTS)", XR_MAX_TENANTS - 1);
	if (!(cfg->tenants = calloc((size_t)seq_len(n) + 1, sizeof(*cfg->tenants))))
		return cerr(c, nline(n), "out of memory");
	for (int i = 0; i < seq_len(n); i++) {
		yaml_node_t *it = seq_item(c, n, i);

		if (!it)
			return -1;
		cfg->n_tenants++;       /* owns what relay_tenant allocates, even on error */
		if (relay_tenant(c, it, &cfg->tenants[i], &n_allow))
			return -1;
	}
	return 0;
}

static int relay_root(struct ctx *c, const yaml_node_t *n, struct xr_relay_cfg *cfg)
{
	if (!n || is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return cerr(c, nline(n), "expected a mapping at the top level");
	for (int i = 0; i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key;
		int rc;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "control"))
			rc = relay_control(c, v, cfg);
		else if (!strcmp(key, "tls"))
			rc = relay_tls(c, v, cfg);
		else if (!strcmp(key, "wireguard"))
			rc = relay_wireguard(c, v, cfg);
		else if (!strcmp(key, "admin"))
			rc = relay_admin(c, v, cfg);
		else if (!strcmp(key, "bpf"))
			rc = relay_bpf(c, v, cfg);
		else if (!strcmp(key, "log"))
			rc = relay_log(c, v, cfg);
		else if (!strcmp(key, "tenants"))
			rc = relay_tenants(c, v, cfg);
		else if (!strcmp(key, "health"))
			rc = cfg_health(c, v, &cfg->health, true);
		else
			rc = unknown(c, k, key, "relay config");
		if (rc)
			return -1;
	}
	return 0;
}

/* mac1 names a public key, not a tenant: every key the relay matches
 * handshakes against must point at one tenant, and a key must not be both a
 * private host and a public peer.  A public peer may be shared by several
 * hosts of one tenant (the relay then fans its handshakes out). */
static int wg_keys_unambiguous(struct ctx *c, const struct xr_relay_cfg *cfg)
{
	char b64[45];

	for (int t = 0; t < cfg->n_tenants; t++) {
		const struct xr_cfg_tenant *T = &cfg->tenants[t];

		for (int h = 0; h < T->n_wg; h++) {
			for (int p = -1; p < T->wg[h].n_peers; p++) {
				const uint8_t *k = p < 0 ? T->wg[h].pubkey : T->wg[h].peers[p];

				for (int u = 0; u < cfg->n_tenants; u++) {
					const struct xr_cfg_tenant *U = &cfg->tenants[u];

					for (int g = 0; g < U->n_wg; g++) {
						bool host_clash = p >= 0 && !memcmp(k, U->wg[g].pubkey, 32);
						bool peer_clash = false;

						for (int q = 0; p >= 0 && u != t && q < U->wg[g].n_peers; q++)
							peer_clash |= !memcmp(k, U->wg[g].peers[q], 32);
						if (!host_clash && !peer_clash)
							continue;
						xr_wg_key_to_base64(k, b64);
						return cerr(c, T->wg[h].line,
							    "WireGuard key '%s' of tenant '%s' is also %s of tenant '%s' "
							    "(line %d): the relay could not tell them apart",
							    b64, T->name, host_clash ? "the host key" : "a peer key",
							    U->name, U->wg[g].line);
					}
				}
			}
		}
	}
	return 0;
}

int xr_relay_cfg_parse(const char *name, const char *yaml, size_t len,
		       struct xr_relay_cfg *cfg, char *err, size_t errlen)
{
	struct ctx c = { .file = name, .err = err, .errlen = errlen, .budget = NODE_BUDGET };
	yaml_document_t doc;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	strcpy(cfg->admin_socket, "/run/xrelay/xrelayd.sock");
	cfg->log_level = XR_LOG_INFO;
	cfg->xdp_mode = 0;
	cfg->tls_hello_timeout_ms = XR_TLS_HELLO_TIMEOUT_MS;
	health_defaults(&cfg->health);
#ifdef CONFIG_XR_SPLICE_PIPE
	cfg->tls_mover = 1;
#endif
	if (err && errlen)
		err[0] = '\0';
	if (load_doc(&c, yaml, len, &doc))
		return -1;
	c.doc = &doc;
	rc = relay_root(&c, yaml_document_get_root_node(&doc), cfg);
	if (!rc)
		rc = wg_keys_unambiguous(&c, cfg);
	yaml_document_delete(&doc);
	free(c.seen.v);
	if (rc)
		xr_relay_cfg_free(cfg);
	return rc;
}

int xr_relay_cfg_load(const char *path, struct xr_relay_cfg *cfg, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (read_file(path, &buf, &len, err, errlen))
		return -1;
	rc = xr_relay_cfg_parse(path, buf, len, cfg, err, errlen);
	free(buf);
	return rc;
}

void xr_relay_cfg_free(struct xr_relay_cfg *cfg)
{
	for (int i = 0; i < cfg->n_tenants; i++) {
		struct xr_cfg_tenant *t = &cfg->tenants[i];

		free(t->agents);
		free(t->hostnames);
		for (int j = 0; j < t->n_wg; j++)
			free(t->wg[j].peers);
		free(t->wg);
		free(t->allow);
	}
	free(cfg->tenants);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- agent config ---------------------------------------------------------------------- */

static int agent_relays(struct ctx *c, const yaml_node_t *n, struct xr_agent_cfg *cfg)
{
	int rc = want_seq(c, n, "relays"), first;

	if (rc)
		return rc < 0 ? -1 : 0;
	if (!(cfg->relays = calloc((size_t)seq_len(n) + 1, sizeof(*cfg->relays))))
		return cerr(c, nline(n), "out of memory");
	for (int i = 0; i < seq_len(n); i++) {
		yaml_node_t *it = seq_item(c, n, i), *addr = NULL, *ident = NULL;
		struct xr_agent_relay *r = &cfg->relays[cfg->n_relays];

		if (!it)
			return -1;
		if (it->type != YAML_MAPPING_NODE)
			return cerr(c, nline(it), "expected a mapping in 'relays'");
		r->line = nline(it);
		for (int j = 0; j < map_len(it); j++) {
			yaml_node_t *k, *v;
			const char *key;

			if (map_pair(c, it, j, &key, &k, &v))
				return -1;
			if (!strcmp(key, "address"))
				rc = cfg_hostport(c, addr = v, "address", r->address, r->host, &r->port);
			else if (!strcmp(key, "identity"))
				rc = cfg_identity(c, ident = v, r->identity);
			else if (!strcmp(key, "sni"))
				rc = cfg_plain_hostname(c, v, "sni", r->sni);
			else
				rc = unknown(c, k, key, "relays");
			if (rc)
				return -1;
		}
		if (!addr)
			return cerr(c, r->line, "relay has no 'address'");
		if (!ident)
			return cerr(c, r->line, "relay '%s' has no 'identity'", r->address);
		rc = seen_check(c, SEEN_RELAY, 0, r->address, strlen(r->address), nline(addr), &first);
		if (rc > 0)
			return cerr(c, nline(addr), "duplicate relay '%s' (first at line %d)", r->address, first);
		if (rc)
			return -1;
		cfg->n_relays++;
	}
	return 0;
}

/* tls.alpn: ["h2", "http/1.1"], in preference order. */
static int service_alpn(struct ctx *c, const yaml_node_t *n, struct xr_agent_service *s)
{
	int rc = want_seq(c, n, "tls.alpn");

	if (rc)
		return rc < 0 ? -1 : 0;
	if (seq_len(n) > XR_CFG_MAX_ALPN)
		return cerr(c, nline(n), "too many entries in 'tls.alpn' (max %d)", XR_CFG_MAX_ALPN);
	for (int i = 0; i < seq_len(n); i++) {
		yaml_node_t *it = seq_item(c, n, i);

		if (!it || get_strcpy(c, it, "tls.alpn", s->alpn[s->n_alpn], sizeof(s->alpn[0])))
			return -1;
		for (const char *p = s->alpn[s->n_alpn]; *p; p++)
			if (*p <= ' ' || *p > '~')
				return cerr(c, nline(it), "invalid ALPN name '%s' in 'tls.alpn'",
					    s->alpn[s->n_alpn]);
		s->n_alpn++;
	}
	return 0;
}

static int service_tls(struct ctx *c, const yaml_node_t *n, struct xr_agent_service *s)
{
	int rc = want_map(c, n, "tls");

	if (rc)
		return rc < 0 ? -1 : 0;
	for (int i = 0; i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "cert"))
			rc = cfg_path(c, v, "tls.cert", s->tls_cert);
		else if (!strcmp(key, "key"))
			rc = cfg_path(c, v, "tls.key", s->tls_key);
		else if (!strcmp(key, "alpn"))
			rc = service_alpn(c, v, s);
		else
			rc = unknown(c, k, key, "services.tls");
		if (rc)
			return -1;
	}
	if (!s->tls_cert[0] || !s->tls_key[0])
		return cerr(c, nline(n), "'tls' needs both 'cert' and 'key'");
	return 0;
}

static int agent_services(struct ctx *c, const yaml_node_t *n, struct xr_agent_cfg *cfg)
{
	int rc = want_seq(c, n, "services");

	if (rc)
		return rc < 0 ? -1 : 0;
	if (!(cfg->services = calloc((size_t)seq_len(n) + 1, sizeof(*cfg->services))))
		return cerr(c, nline(n), "out of memory");
	for (int i = 0; i < seq_len(n); i++) {
		yaml_node_t *it = seq_item(c, n, i), *host = NULL, *target = NULL;
		struct xr_agent_service *s = &cfg->services[cfg->n_services];

		if (!it)
			return -1;
		if (it->type != YAML_MAPPING_NODE)
			return cerr(c, nline(it), "expected a mapping in 'services'");
		s->line = nline(it);
		s->probe.interval_ms = XR_PROBE_INTERVAL_MS;
		s->probe.timeout_ms = XR_PROBE_TIMEOUT_MS;
		strcpy(s->probe.path, "/");
		for (int j = 0; j < map_len(it); j++) {
			yaml_node_t *k, *v;
			const char *key, *str;

			if (map_pair(c, it, j, &key, &k, &v))
				return -1;
			if (!strcmp(key, "hostname")) {
				rc = cfg_hostname(c, host = v, "hostname", s->hostname);
			} else if (!strcmp(key, "target")) {
				rc = cfg_hostport(c, target = v, "target", s->target, s->target_host,
						  &s->target_port);
			} else if (!strcmp(key, "proxy_protocol")) {
				rc = get_str(c, v, "proxy_protocol", &str);
				if (!rc && !strcmp(str, "v2"))
					s->proxy_protocol = true;
				else if (!rc && (!strcmp(str, "none") || !strcmp(str, "false") ||
						 !strcmp(str, "off")))
					s->proxy_protocol = false;
				else if (!rc)
					rc = cerr(c, nline(v), "invalid value '%s' for 'proxy_protocol' "
						  "(v2 or none)", str);
			} else if (!strcmp(key, "tls")) {
				rc = service_tls(c, v, s);
			} else if (!strcmp(key, "health")) {
				rc = service_probe(c, v, &s->probe);
			} else {
				rc = unknown(c, k, key, "services");
			}
			if (rc)
				return -1;
		}
		if (!host)
			return cerr(c, s->line, "service has no 'hostname'");
		if (!target)
			return cerr(c, s->line, "service '%s' has no 'target'", s->hostname);
		cfg->n_services++;
	}
	return 0;
}

static int agent_root(struct ctx *c, const yaml_node_t *n, struct xr_agent_cfg *cfg)
{
	yaml_node_t *relays = NULL;
	int line = n ? nline(n) : 1;

	if (n && !is_null(n) && n->type != YAML_MAPPING_NODE)
		return cerr(c, line, "expected a mapping at the top level");
	for (int i = 0; n && n->type == YAML_MAPPING_NODE && i < map_len(n); i++) {
		yaml_node_t *k, *v;
		const char *key, *s;
		uint64_t ms;
		int rc;

		if (map_pair(c, n, i, &key, &k, &v))
			return -1;
		if (!strcmp(key, "name")) {
			rc = cfg_name(c, v, "name", cfg->name);
		} else if (!strcmp(key, "key")) {
			rc = cfg_path(c, v, "key", cfg->key);
		} else if (!strcmp(key, "relays")) {
			rc = agent_relays(c, relays = v, cfg);
		} else if (!strcmp(key, "services")) {
			rc = agent_services(c, v, cfg);
		} else if (!strcmp(key, "health")) {
			rc = cfg_health(c, v, &cfg->health, false);
		} else if (!strcmp(key, "pool")) {
			rc = get_str(c, v, "pool", &s);
			if (!rc && (!isdigit((unsigned char)*s) || strlen(s) > 3 ||
				    (ms = strtoull(s, NULL, 10)) > XR_AGENT_POOL_MAX ||
				    strspn(s, "0123456789") != strlen(s)))
				rc = cerr(c, nline(v), "invalid value '%s' for 'pool' (0 to %d)", s,
					  XR_AGENT_POOL_MAX);
			else if (!rc)
				cfg->pool = (uint32_t)ms;
		} else if (!strcmp(key, "heartbeat")) {
			rc = get_str(c, v, "heartbeat", &s);
			if (!rc && (xr_parse_duration_ms(s, &ms) || ms < 100 || ms > 3600000))
				rc = cerr(c, nline(v), "invalid value '%s' for 'heartbeat' "
					  "(expected 100ms to 1h, like 5s)", s);
			else if (!rc)
				cfg->heartbeat_ms = (uint32_t)ms;
		} else {
			rc = unknown(c, k, key, "agent config");
		}
		if (rc)
			return -1;
	}
	if (!cfg->name[0])
		return cerr(c, line, "missing 'name'");
	if (!cfg->key[0])
		return cerr(c, line, "missing 'key'");
	if (!cfg->n_relays)
		return cerr(c, relays ? nline(relays) : line, "no relays configured in 'relays'");
	return 0;
}

int xr_agent_cfg_parse(const char *name, const char *yaml, size_t len,
		       struct xr_agent_cfg *cfg, char *err, size_t errlen)
{
	struct ctx c = { .file = name, .err = err, .errlen = errlen, .budget = NODE_BUDGET };
	yaml_document_t doc;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->path, sizeof(cfg->path), "%s", name);
	cfg->heartbeat_ms = XR_AGENT_HEARTBEAT_MS;
	cfg->pool = XR_AGENT_POOL;
	health_defaults(&cfg->health);
	if (err && errlen)
		err[0] = '\0';
	if (load_doc(&c, yaml, len, &doc))
		return -1;
	c.doc = &doc;
	rc = agent_root(&c, yaml_document_get_root_node(&doc), cfg);
	yaml_document_delete(&doc);
	free(c.seen.v);
	if (rc)
		xr_agent_cfg_free(cfg);
	return rc;
}

int xr_agent_cfg_load(const char *path, struct xr_agent_cfg *cfg, char *err, size_t errlen)
{
	char *buf;
	size_t len;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (read_file(path, &buf, &len, err, errlen))
		return -1;
	rc = xr_agent_cfg_parse(path, buf, len, cfg, err, errlen);
	free(buf);
	return rc;
}

void xr_agent_cfg_free(struct xr_agent_cfg *cfg)
{
	free(cfg->relays);
	free(cfg->services);
	memset(cfg, 0, sizeof(*cfg));
}
