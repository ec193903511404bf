// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Relay and agent config: one valid file with every field checked, one test
 * per kind of mistake asserting the exact "FILE:LINE: message", and the
 * value parsers on their own.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>
#include <CUnit/CUnit.h>

#include "config.h"
#include "identity.h"
#include "pump.h"
#include "xrelay_config.h"

/* tls.mover when the config says nothing: the Kconfig choice XR_SPLICE */
#ifdef CONFIG_XR_SPLICE_PIPE
#define MOVER_DEFAULT XR_MOVER_SPLICE
#else
#define MOVER_DEFAULT XR_MOVER_URING
#endif

/* real keys: `wg genkey | wg pubkey`, and raw Ed25519 public keys */
#define WG1 "68qyavwmMTXh00dMudx+/2JY1hHlZ/VvOX9MpX4Glwg="
#define WG2 "ozWazug3hO1dIPY9aL1lkZ/6HEgCW6HLlibDZTsQRj0="
#define WG3 "YoXu878oK7uipV0x1Xtm6s0c8vgzeTO4MnUWaQr0k0c="
#define K01 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="   /* 32 x 0x01 */
#define ID1 "xrelay-ed25519 Qqfv0MMw/MfJqzj+xu8xTESO93IaS7y64omSXcxPTmg="
#define ID2 "xrelay-ed25519 PrkJAIhBm5m2YjfVcpX125lBvZtqJKJliDGbSh9XrDU="

static struct xr_relay_cfg cfg;
static struct xr_agent_cfg acfg;

static const char full_relay[] =
	"# xrelay relay config\n"                                   /* 1 */
	"control:\n"
	"  listen: [\"0.0.0.0:7443\", \"[::]:7443\"]\n"
	"  key: /etc/xrelay/relay.key\n"
	"tls:\n"                                                    /* 5 */
	"  listen: [\"0.0.0.0:443\", \"[::]:443\"]\n"
	"  fallback: \"backend.internal:8443\"\n"
	"wireguard:\n"
	"  listen: \"0.0.0.0:51820\"\n"
	"admin:\n"                                                  /* 10 */
	"  socket: /run/xrelay/test.sock\n"
	"  metrics: 127.0.0.1:9470\n"
	"bpf:\n"
	"  pin_root: /sys/fs/bpf/xrelay-test\n"
	"  interfaces: [eth0, ens3]\n"                              /* 15 */
	"  mode: generic\n"
	"log:\n"
	"  level: debug\n"
	"tenants:\n"
	"  - name: lab\n"                                           /* 20 */
	"    agents:\n"
	"      - name: vm1\n"
	"        identity: \"" ID1 "\"\n"
	"    hostnames: [\"Dev.Example.com\", \"*.lab.example.com\"]\n"
	"    wireguard:\n"                                          /* 25 */
	"      - pubkey: \"" WG1 "\"\n"
	"        peers: [\"" WG2 "\", \"" WG3 "\"]\n"
	"    limits:\n"
	"      bandwidth: 100mbit\n"
	"      packets: 200kpps\n"                                  /* 30 */
	"      connections: 500/s\n"
	"    allow: [\"0.0.0.0/0\", \"::/0\", \"192.168.1.7\", \"10.0.0.0/8\"]\n"
	"  - name: other.team-2\n"
	"    agents:\n"
	"      - {name: vm2, identity: \"" ID2 "\"}\n"              /* 35 */
	"    hostnames: [other.example.org]\n"
	"    wireguard:\n"
	"      - pubkey: " K01 "\n";

static void key_is(const uint8_t key[32], const char *b64)
{
	uint8_t want[32];

	CU_ASSERT_EQUAL_FATAL(xr_parse_wg_key(b64, want), 0);
	CU_ASSERT_EQUAL(memcmp(key, want, 32), 0);
}

static void addr_is(const struct xr_sockaddr *a, const char *want)
{
	char buf[64];

	xr_sockaddr_str((const struct sockaddr *)&a->ss, buf, sizeof(buf));
	CU_ASSERT_STRING_EQUAL(buf, want);
}

static void test_relay_full(void)
{
	char err[XR_CFG_ERR_LEN] = "x";
	uint8_t id[32];
	const struct xr_cfg_tenant *t;
	const uint8_t mapped_any[16] = { [10] = 0xff, [11] = 0xff };
	const uint8_t mapped_host[16] = { [10] = 0xff, [11] = 0xff, 192, 168, 1, 7 };

	CU_ASSERT_EQUAL_FATAL(xr_relay_cfg_parse("relay.yaml", full_relay, strlen(full_relay),
						 &cfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(err, "");
	CU_ASSERT_STRING_EQUAL(cfg.path, "relay.yaml");
	CU_ASSERT_EQUAL(cfg.n_control_listen, 2);
	addr_is(&cfg.control_listen[0], "0.0.0.0:7443");
	addr_is(&cfg.control_listen[1], "[::]:7443");
	CU_ASSERT_EQUAL(cfg.control_listen[1].line, 3);
	CU_ASSERT_EQUAL(cfg.control_listen[0].len, sizeof(struct sockaddr_in));
	CU_ASSERT_EQUAL(cfg.control_listen[1].len, sizeof(struct sockaddr_in6));
	CU_ASSERT_STRING_EQUAL(cfg.control_key, "/etc/xrelay/relay.key");
	CU_ASSERT_EQUAL(cfg.n_tls_listen, 2);
	addr_is(&cfg.tls_listen[1], "[::]:443");
	CU_ASSERT_STRING_EQUAL(cfg.tls_fallback, "backend.internal:8443");
	CU_ASSERT_EQUAL(cfg.n_wg_listen, 1);
	addr_is(&cfg.wg_listen[0], "0.0.0.0:51820");
	CU_ASSERT_EQUAL(cfg.wg_listen[0].line, 9);
	CU_ASSERT_STRING_EQUAL(cfg.admin_socket, "/run/xrelay/test.sock");
	addr_is(&cfg.admin_metrics, "127.0.0.1:9470");
	CU_ASSERT_STRING_EQUAL(cfg.pin_root, "/sys/fs/bpf/xrelay-test");
	CU_ASSERT_EQUAL(cfg.n_xdp_ifaces, 2);
	CU_ASSERT_STRING_EQUAL(cfg.xdp_ifaces[0], "eth0");
	CU_ASSERT_STRING_EQUAL(cfg.xdp_ifaces[1], "ens3");
	CU_ASSERT_EQUAL(cfg.xdp_mode, 1);
	CU_ASSERT_EQUAL(cfg.log_level, 3);
	CU_ASSERT_EQUAL_FATAL(cfg.n_tenants, 2);

	t = &cfg.tenants[0];
	CU_ASSERT_STRING_EQUAL(t->name, "lab");
	CU_ASSERT_EQUAL(t->line, 20);
	CU_ASSERT_EQUAL_FATAL(t->n_agents, 1);
	CU_ASSERT_STRING_EQUAL(t->agents[0].name, "vm1");
	CU_ASSERT_EQUAL(t->agents[0].line, 22);
	CU_ASSERT_EQUAL_FATAL(xr_identity_parse(ID1, id), 0);
	CU_ASSERT_EQUAL(memcmp(t->agents[0].identity, id, 32), 0);
	CU_ASSERT_EQUAL_FATAL(t->n_hostnames, 2);
	CU_ASSERT_STRING_EQUAL(t->hostnames[0], "dev.example.com");
	CU_ASSERT_STRING_EQUAL(t->hostnames[1], "*.lab.example.com");
	CU_ASSERT_EQUAL_FATAL(t->n_wg, 1);
	key_is(t->wg[0].pubkey, WG1);
	CU_ASSERT_EQUAL(t->wg[0].line, 26);
	CU_ASSERT_EQUAL_FATAL(t->wg[0].n_peers, 2);
	key_is(t->wg[0].peers[0], WG2);
	key_is(t->wg[0].peers[1], WG3);
	CU_ASSERT_EQUAL(t->limits.bandwidth_bps, 100000000ULL);
	CU_ASSERT_EQUAL(t->limits.packets_pps, 200000ULL);
	CU_ASSERT_EQUAL(t->limits.connections_ps, 500ULL);
	CU_ASSERT_EQUAL_FATAL(t->n_allow, 4);
	CU_ASSERT_EQUAL(t->allow[0].family, 4);
	CU_ASSERT_EQUAL(t->allow[0].prefixlen, 96);
	CU_ASSERT_EQUAL(memcmp(t->allow[0].addr, mapped_any, 16), 0);
	CU_ASSERT_EQUAL(t->allow[1].family, 6);
	CU_ASSERT_EQUAL(t->allow[1].prefixlen, 0);
	CU_ASSERT_EQUAL(t->allow[2].prefixlen, 128);
	CU_ASSERT_EQUAL(memcmp(t->allow[2].addr, mapped_host, 16), 0);
	CU_ASSERT_EQUAL(t->allow[3].prefixlen, 104);
	CU_ASSERT_EQUAL(t->allow[3].line, 32);

	t = &cfg.tenants[1];
	CU_ASSERT_STRING_EQUAL(t->name, "other.team-2");
	CU_ASSERT_EQUAL_FATAL(t->n_agents, 1);
	CU_ASSERT_STRING_EQUAL(t->agents[0].name, "vm2");
	CU_ASSERT_EQUAL(t->n_hostnames, 1);
	CU_ASSERT_EQUAL_FATAL(t->n_wg, 1);
	CU_ASSERT_EQUAL(t->wg[0].n_peers, 0);
	CU_ASSERT_PTR_NULL(t->wg[0].peers);
	for (int i = 0; i < 32; i++)
		CU_ASSERT_EQUAL(t->wg[0].pubkey[i], 1);
	CU_ASSERT_EQUAL(t->limits.bandwidth_bps, 0);
	CU_ASSERT_EQUAL(t->n_allow, 0);
	CU_ASSERT_PTR_NULL(t->allow);

	xr_relay_cfg_free(&cfg);
	CU_ASSERT_EQUAL(cfg.n_tenants, 0);
	CU_ASSERT_PTR_NULL(cfg.tenants);
	xr_relay_cfg_free(&cfg);       /* idempotent */
}

static void test_relay_defaults(void)
{
	static const char *const empties[] = { "", "# nothing\n", "---\n", "control:\ntenants: []\n" };
	char err[XR_CFG_ERR_LEN];

	for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(xr_relay_cfg_parse("t.yaml", empties[i], strlen(empties[i]),
							 &cfg, err, sizeof(err)), 0);
		CU_ASSERT_STRING_EQUAL(cfg.admin_socket, "/run/xrelay/xrelayd.sock");
		CU_ASSERT_EQUAL(cfg.log_level, 2);
		CU_ASSERT_EQUAL(cfg.xdp_mode, 0);
		CU_ASSERT_EQUAL(cfg.admin_metrics.len, 0);
		CU_ASSERT_EQUAL(cfg.n_tenants, 0);
		CU_ASSERT_STRING_EQUAL(cfg.pin_root, "");
		CU_ASSERT_STRING_EQUAL(cfg.control_hostname, "");
		CU_ASSERT_EQUAL(cfg.tls_hello_timeout_ms, XR_TLS_HELLO_TIMEOUT_MS);
		CU_ASSERT_EQUAL(cfg.tls_hello_timeout_ms, 5000);
		CU_ASSERT_EQUAL(cfg.tls_mover, MOVER_DEFAULT);
		xr_relay_cfg_free(&cfg);
	}
}

/* Aliases are resolved; a shared mapping counts as written twice. */
static void test_relay_alias(void)
{
	static const char y[] =
		"tenants:\n"
		"  - name: a\n"
		"    limits: &std {bandwidth: 1gbit, packets: 1mpps}\n"
		"  - name: b\n"
		"    limits: *std\n";
	char err[XR_CFG_ERR_LEN];

	CU_ASSERT_EQUAL_FATAL(xr_relay_cfg_parse("t.yaml", y, strlen(y), &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.tenants[1].limits.bandwidth_bps, 1000000000ULL);
	CU_ASSERT_EQUAL(cfg.tenants[1].limits.packets_pps, 1000000ULL);
	xr_relay_cfg_free(&cfg);
}

static void relay_err(const char *yaml, const char *want)
{
	char err[XR_CFG_ERR_LEN] = "";
	int rc = xr_relay_cfg_parse("t.yaml", yaml, strlen(yaml), &cfg, err, sizeof(err));

	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_STRING_EQUAL(err, want);
	if (strcmp(err, want))
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err, want);
	CU_ASSERT_EQUAL(cfg.n_tenants, 0);     /* freed and zeroed on error */
	if (!rc)
		xr_relay_cfg_free(&cfg);
}

/* a tenant to build error cases on */
#define T0 "tenants:\n  - name: lab\n"

static void test_relay_syntax(void)
{
	relay_err("control:\n  listen: [\"0.0.0.0:1\"\n  key: x\n",
		  "t.yaml:3: YAML syntax error: did not find expected ',' or ']' "
		  "(while parsing a flow sequence at line 2)");
	relay_err("control: {}\n tls: {}\n",
		  "t.yaml:2: YAML syntax error: did not find expected key "
		  "(while parsing a block mapping at line 1)");
	relay_err("log:\n  level: info: debug\n",
		  "t.yaml:2: YAML syntax error: mapping values are not allowed in this context");
	relay_err("control:\n\tkey: x\n",
		  "t.yaml:2: YAML syntax error: found character that cannot start any token "
		  "(while scanning for the next token at line 2)");
	relay_err("control: *nope\n",
		  "t.yaml:1: YAML syntax error: found undefined alias");
	relay_err("log: {}\n---\nlog: {}\n", "t.yaml:2: more than one YAML document");
}

static void test_relay_unknown_key(void)
{
	relay_err("control: {}\nfoo: 1\n", "t.yaml:2: unknown key 'foo' in relay config");
	relay_err("control:\n  lisen: \"0.0.0.0:1\"\n", "t.yaml:2: unknown key 'lisen' in control");
	relay_err("admin:\n  sock: /x\n", "t.yaml:2: unknown key 'sock' in admin");
	relay_err(T0 "    limits:\n      bandwith: 1mbit\n",
		  "t.yaml:4: unknown key 'bandwith' in tenants.limits");
	relay_err(T0 "    agents:\n      - name: a\n        identiy: x\n",
		  "t.yaml:5: unknown key 'identiy' in tenants.agents");
	relay_err(T0 "    wireguard:\n      - pubkey: " K01 "\n        peer: []\n",
		  "t.yaml:5: unknown key 'peer' in tenants.wireguard");
	relay_err(T0 "    hostname: [a.example.com]\n", "t.yaml:3: unknown key 'hostname' in tenants");
	relay_err("log:\n  level: info\n  level: debug\n",
		  "t.yaml:3: duplicate key 'level' (first at line 2)");
}

static void test_relay_bad_address(void)
{
	relay_err("tls:\n  listen: [\"0.0.0.0:443\",\n           \"localhost:443\"]\n",
		  "t.yaml:3: invalid address 'localhost:443' for 'tls.listen' "
		  "(expected IP:port or [IPv6]:port)");
	relay_err("wireguard:\n  listen: \"::1:51820\"\n",
		  "t.yaml:2: invalid address '::1:51820' for 'wireguard.listen' "
		  "(expected IP:port or [IPv6]:port)");
	relay_err("admin:\n  metrics: 127.0.0.1\n",
		  "t.yaml:2: invalid address '127.0.0.1' for 'admin.metrics' "
		  "(expected IP:port or [IPv6]:port)");
	relay_err("wireguard:\n  listen: [\"0.0.0.0:1\", \"0.0.0.0:1\"]\n",
		  "t.yaml:2: duplicate address in 'wireguard.listen' (first at line 2)");
	relay_err("tls:\n  fallback: \"bad host:443\"\n",
		  "t.yaml:2: invalid address 'bad host:443' for 'tls.fallback' (expected host:port)");
}

static void test_relay_bad_port(void)
{
	relay_err("wireguard:\n  listen: \"0.0.0.0:70000\"\n",
		  "t.yaml:2: invalid port in '0.0.0.0:70000' for 'wireguard.listen' (expected 1..65535)");
	relay_err("control:\n  key: /k\n  listen: [\"[::]:0\"]\n",
		  "t.yaml:3: invalid port in '[::]:0' for 'control.listen' (expected 1..65535)");
	relay_err("tls:\n  fallback: \"backend:http\"\n",
		  "t.yaml:2: invalid port in 'backend:http' for 'tls.fallback' (expected 1..65535)");
}

static void test_relay_bad_cidr(void)
{
	relay_err(T0 "    allow: [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n",
		  "t.yaml:3: invalid CIDR '10.0.0.0/33' in 'allow' "
		  "(expected like 10.0.0.0/8 or 2001:db8::/32)");
	relay_err(T0 "    allow:\n      - 10.0.0/8\n",
		  "t.yaml:4: invalid CIDR '10.0.0/8' in 'allow' "
		  "(expected like 10.0.0.0/8 or 2001:db8::/32)");
	relay_err(T0 "    allow: []\n",
		  "t.yaml:3: empty 'allow' list (remove it to allow every source)");
}

static void test_relay_host_bits(void)
{
	relay_err(T0 "    allow: [\"10.0.0.1/8\"]\n",
		  "t.yaml:3: host bits set in 10.0.0.1/8 (did you mean 10.0.0.0/8?)");
	relay_err(T0 "    allow: [\"2001:db8::1/32\"]\n",
		  "t.yaml:3: host bits set in 2001:db8::1/32 (did you mean 2001:db8::/32?)");
}

static void test_relay_bad_bandwidth(void)
{
	relay_err(T0 "    limits:\n      bandwidth: 100mbits\n",
		  "t.yaml:4: invalid value '100mbits' for 'bandwidth' (expected a rate above 0 "
		  "and up to 1tbit, like 100mbit or 1.5gbit)");
	relay_err(T0 "    limits:\n      bandwidth: 0mbit\n",
		  "t.yaml:4: invalid value '0mbit' for 'bandwidth' (expected a rate above 0 "
		  "and up to 1tbit, like 100mbit or 1.5gbit)");
	relay_err(T0 "    limits:\n      bandwidth: -5mbit\n",
		  "t.yaml:4: invalid value '-5mbit' for 'bandwidth' (expected a rate above 0 "
		  "and up to 1tbit, like 100mbit or 1.5gbit)");
}

static void test_relay_bad_packets(void)
{
	relay_err(T0 "    limits:\n      packets: 200kbit\n",
		  "t.yaml:4: invalid value '200kbit' for 'packets' (expected a rate above 0 "
		  "and up to 1gpps, like 200kpps or 1mpps)");
	relay_err(T0 "    limits:\n      packets: 0pps\n",
		  "t.yaml:4: invalid value '0pps' for 'packets' (expected a rate above 0 "
		  "and up to 1gpps, like 200kpps or 1mpps)");
}

static void test_relay_bad_connections(void)
{
	relay_err(T0 "    limits:\n      connections: 500/min\n",
		  "t.yaml:4: invalid value '500/min' for 'connections' (expected a whole number "
		  "per second above 0, like 500/s)");
	relay_err(T0 "    limits:\n      connections: 0/s\n",
		  "t.yaml:4: invalid value '0/s' for 'connections' (expected a whole number "
		  "per second above 0, like 500/s)");
	relay_err(T0 "    limits:\n      connections: many\n",
		  "t.yaml:4: invalid value 'many' for 'connections' (expected a whole number "
		  "per second above 0, like 500/s)");
}

static void test_relay_dup_hostname(void)
{
	relay_err(T0 "    hostnames:\n      - a.example.com\n      - b.example.com\n"
		  "      - a.example.com\n",
		  "t.yaml:6: duplicate hostname 'a.example.com' (first at line 4)");
	relay_err(T0 "    hostnames: [a.example.com]\n"
		  "  - name: two\n    hostnames: [x.example.com, A.Example.COM]\n",
		  "t.yaml:5: duplicate hostname 'a.example.com' (first at line 3)");
	relay_err(T0 "    hostnames: [\"*.example.com\", \"a..example.com\"]\n",
		  "t.yaml:3: invalid hostname 'a..example.com' in 'hostnames'");
	relay_err(T0 "    hostnames: [\"a.*.example.com\"]\n",
		  "t.yaml:3: invalid hostname 'a.*.example.com' in 'hostnames'");
}

static void test_relay_dup_tenant(void)
{
	relay_err(T0 "  - name: other\n  - name: lab\n",
		  "t.yaml:4: duplicate tenant 'lab' (first at line 2)");
	relay_err(T0 "  - hostnames: [a.example.com]\n", "t.yaml:3: tenant has no 'name'");
	relay_err("tenants:\n  - name: \"bad name\"\n",
		  "t.yaml:2: invalid name 'bad name' (1 to 31 of A-Z a-z 0-9 _ . -)");
	relay_err("tenants:\n  - name: abcdefghijklmnopqrstuvwxyz0123456\n",
		  "t.yaml:2: invalid name 'abcdefghijklmnopqrstuvwxyz0123456' (1 to 31 of A-Z a-z 0-9 _ . -)");
}

static void test_relay_bad_identity(void)
{
	relay_err(T0 "    agents:\n      - name: vm1\n        identity: \"ssh-ed25519 AAAA\"\n",
		  "t.yaml:5: malformed identity (expected \"xrelay-ed25519 <base64 of 32 bytes>\", "
		  "the line printed by xrelayctl keygen)");
	relay_err(T0 "    agents:\n      - name: vm1\n",
		  "t.yaml:4: agent 'vm1' has no 'identity'");
	relay_err(T0 "    agents:\n      - {name: vm1, identity: \"" ID1 "\"}\n"
		  "      - {name: vm1, identity: \"" ID2 "\"}\n",
		  "t.yaml:5: duplicate agent 'vm1' (first at line 4)");
	relay_err(T0 "    agents:\n      - {name: vm1, identity: \"" ID1 "\"}\n"
		  "  - name: two\n    agents:\n      - {name: vm2, identity: \"" ID1 "\"}\n",
		  "t.yaml:7: duplicate agent identity (first at line 4)");
}

static void test_relay_bad_wg_key(void)
{
	relay_err(T0 "    wireguard:\n      - pubkey: \"68qyavwmMTXh00dMudx+/2JY1hHlZ/VvOX9MpX4Glw=\"\n",
		  "t.yaml:4: malformed WireGuard key '68qyavwmMTXh00dMudx+/2JY1hHlZ/VvOX9MpX4Glw=' "
		  "for 'pubkey' (expected 44 characters of base64, as printed by wg pubkey)");
	relay_err(T0 "    wireguard:\n      - pubkey: " K01 "\n        peers: [nope]\n",
		  "t.yaml:5: malformed WireGuard key 'nope' for 'peers' (expected 44 characters "
		  "of base64, as printed by wg pubkey)");
	relay_err(T0 "    wireguard:\n      - pubkey: " K01 "\n"
		  "  - name: two\n    wireguard:\n      - pubkey: " K01 "\n",
		  "t.yaml:7: duplicate WireGuard key '" K01 "' (first at line 4)");
	relay_err(T0 "    wireguard:\n      - peers: [" K01 "]\n",
		  "t.yaml:4: wireguard entry has no 'pubkey'");
}

static void test_relay_wrong_type(void)
{
	relay_err(T0 "    hostnames: a.example.com\n", "t.yaml:3: expected a list for 'hostnames'");
	relay_err("control: [a]\n", "t.yaml:1: expected a mapping for 'control'");
	relay_err("tenants:\n  - name: [x]\n", "t.yaml:2: expected a string for 'name'");
	relay_err("tenants:\n  lab: {}\n", "t.yaml:2: expected a list for 'tenants'");
	relay_err("tenants:\n  - lab\n", "t.yaml:2: expected a mapping in 'tenants'");
	relay_err("- a\n", "t.yaml:1: expected a mapping at the top level");
	relay_err("control:\n  key: \"\"\n", "t.yaml:2: empty value for 'control.key'");
	relay_err("bpf:\n  mode: turbo\n",
		  "t.yaml:2: invalid value 'turbo' for 'bpf.mode' (native or generic)");
	relay_err("log:\n  level: loud\n",
		  "t.yaml:2: invalid value 'loud' for 'log.level' (error, warn, info or debug)");
	relay_err("control:\n  listen: \"0.0.0.0:7443\"\n",
		  "t.yaml:2: 'control' has 'listen' but no 'key'");
	relay_err("bpf:\n  pin_root: fs/bpf\n", "t.yaml:2: 'bpf.pin_root' must be an absolute path");
}

/* control.hostname: the SNI that reaches the control service on tls.listen */
static void test_relay_control_hostname(void)
{
	static const char y[] =
		"control:\n"
		"  listen: \"127.0.0.1:7443\"\n"
		"  key: /k\n"
		"  hostname: Relay.Example.COM\n"
		"tenants:\n"
		"  - name: lab\n"
		"    hostnames: [dev.example.com]\n";
	char err[XR_CFG_ERR_LEN];

	CU_ASSERT_EQUAL_FATAL(xr_relay_cfg_parse("t.yaml", y, strlen(y), &cfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.control_hostname, "relay.example.com");
	CU_ASSERT_EQUAL(cfg.n_control_listen, 1);
	CU_ASSERT_EQUAL(cfg.n_tenants, 1);
	xr_relay_cfg_free(&cfg);

	/* the line is the value's, also when it is not the key's */
	relay_err("control:\n  key: /k\n  hostname:\n    relay..example.com\n",
		  "t.yaml:4: invalid hostname 'relay..example.com' in 'control.hostname'");
	relay_err("control:\n  hostname: relay_1.example.com\n",
		  "t.yaml:2: invalid hostname 'relay_1.example.com' in 'control.hostname'");
	relay_err("control:\n  hostname: 192.0.2.1\n",
		  "t.yaml:2: invalid hostname '192.0.2.1' in 'control.hostname'");
	relay_err("control:\n  hostname: \"relay.example.com:443\"\n",
		  "t.yaml:2: invalid hostname 'relay.example.com:443' in 'control.hostname'");
	relay_err("control:\n  hostname: -relay.example.com\n",
		  "t.yaml:2: invalid hostname '-relay.example.com' in 'control.hostname'");
	relay_err("control:\n  hostname: \"\"\n", "t.yaml:2: empty value for 'control.hostname'");
	relay_err("control:\n  hostname: [a.example.com]\n",
		  "t.yaml:2: expected a string for 'control.hostname'");
	/* the router tries it before the tenants: a tenant could never have it */
#define CL "  listen: \"127.0.0.1:7443\"\n  key: /k\n"
	relay_err(T0 "    hostnames: [relay.example.com]\ncontrol:\n" CL "  hostname: Relay.Example.com\n",
		  "t.yaml:7: duplicate hostname 'relay.example.com' (first at line 3)");
	relay_err("control:\n" CL "  hostname: relay.example.com\n" T0 "    hostnames: [RELAY.example.com]\n",
		  "t.yaml:7: duplicate hostname 'relay.example.com' (first at line 4)");
	/* the control service has one name: a wildcard could never match an SNI */
	relay_err("control:\n" CL "  hostname: \"*.example.com\"\n",
		  "t.yaml:4: invalid hostname '*.example.com' in 'control.hostname' (a plain name, no wildcard)");
	/* a name for a service that is not there */
	relay_err("control:\n  hostname: relay.example.com\n",
		  "t.yaml:2: 'control' has 'hostname' but no 'listen'");
#undef CL
}

static void test_relay_hello_timeout(void)
{
	static const struct { const char *s; uint32_t ms; } good[] = {
		{ "5s", 5000 }, { "500ms", 500 }, { "2m", 120000 }, { "100ms", 100 }, { "10m", 600000 },
		{ "0.1s", 100 }, { "1.5s", 1500 }, { "7", 7000 }, { "600s", 600000 },
	};
	static const char *const bad[] = {
		"99ms", "0", "0s", "0.09s", "601s", "600001ms", "11m", "1h", "-5s", "soon", "5 parsecs",
		"5ss", ".5s",
	};
	char y[128], want[256], err[XR_CFG_ERR_LEN];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(y, sizeof(y), "tls:\n  hello_timeout: \"%s\"\n", good[i].s);
		CU_ASSERT_EQUAL_FATAL(xr_relay_cfg_parse("t.yaml", y, strlen(y), &cfg, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(cfg.tls_hello_timeout_ms, good[i].ms);
		if (cfg.tls_hello_timeout_ms != good[i].ms)
			fprintf(stderr, "\n  '%s' -> %u\n", good[i].s, cfg.tls_hello_timeout_ms);
		xr_relay_cfg_free(&cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(y, sizeof(y), "tls:\n  listen: \"0.0.0.0:443\"\n  hello_timeout: \"%s\"\n", bad[i]);
		snprintf(want, sizeof(want), "t.yaml:3: invalid value '%s' for 'tls.hello_timeout' "
			 "(expected 100ms to 10m, like 5s)", bad[i]);
		relay_err(y, want);
	}
	relay_err("tls:\n  hello_timeout: \"\"\n", "t.yaml:2: empty value for 'tls.hello_timeout'");
	relay_err("tls:\n  hello_timeout: {s: 5}\n", "t.yaml:2: expected a string for 'tls.hello_timeout'");
	relay_err("tls:\n  hello_timeout: 5s\n  hello_timeout: 6s\n",
		  "t.yaml:3: duplicate key 'hello_timeout' (first at line 2)");
}

static void test_relay_mover(void)
{
	static const char *const y[] = { "tls:\n  mover: uring\n", "tls:\n  mover: splice\n",
					 "tls:\n  listen: \"0.0.0.0:443\"\n" };
	static const int want[] = { XR_MOVER_URING, XR_MOVER_SPLICE, MOVER_DEFAULT };
	char err[XR_CFG_ERR_LEN];

	CU_ASSERT_EQUAL(XR_MOVER_URING, 0);
	CU_ASSERT_EQUAL(XR_MOVER_SPLICE, 1);
	for (size_t i = 0; i < sizeof(y) / sizeof(y[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(xr_relay_cfg_parse("t.yaml", y[i], strlen(y[i]), &cfg, err,
							 sizeof(err)), 0);
		CU_ASSERT_EQUAL(cfg.tls_mover, want[i]);
		xr_relay_cfg_free(&cfg);
	}
	relay_err("tls:\n  mover: x\n", "t.yaml:2: invalid value 'x' for 'tls.mover' (uring or splice)");
	relay_err("tls:\n  mover: Splice\n",
		  "t.yaml:2: invalid value 'Splice' for 'tls.mover' (uring or splice)");
	relay_err("tls:\n  mover: sockmap\n",
		  "t.yaml:2: invalid value 'sockmap' for 'tls.mover' (uring or splice)");
	relay_err("tls:\n  mover: 1\n", "t.yaml:2: invalid value '1' for 'tls.mover' (uring or splice)");
	relay_err("tls:\n  mover: \"\"\n", "t.yaml:2: empty value for 'tls.mover'");
	relay_err("tls:\n  mover: [splice]\n", "t.yaml:2: expected a string for 'tls.mover'");
	relay_err("tls:\n  mover: splice\n  movers: uring\n", "t.yaml:3: unknown key 'movers' in tls");
}

/* ---- value parsers ---- */

static void test_parse_sockaddr(void)
{
	static const char *const bad[] = {
		"1.2.3.4", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536", "::1:443", "[::1]443",
		"host:80", "1.2.3:80", "[1.2.3.4]:80", "1.2.3.4:80x", "1.2.3.4:+80", ":80", "[]:80", "",
	};
	struct xr_sockaddr a;
	char buf[64];

	CU_ASSERT_EQUAL_FATAL(xr_parse_sockaddr("1.2.3.4:5", &a), 0);
	CU_ASSERT_EQUAL(a.ss.ss_family, AF_INET);
	CU_ASSERT_EQUAL(ntohs(((struct sockaddr_in *)&a.ss)->sin_port), 5);
	CU_ASSERT_STRING_EQUAL(xr_sockaddr_str((struct sockaddr *)&a.ss, buf, sizeof(buf)), "1.2.3.4:5");
	CU_ASSERT_EQUAL_FATAL(xr_parse_sockaddr("[2001:DB8::1]:65535", &a), 0);
	CU_ASSERT_EQUAL(a.len, sizeof(struct sockaddr_in6));
	CU_ASSERT_STRING_EQUAL(xr_sockaddr_str((struct sockaddr *)&a.ss, buf, sizeof(buf)),
			       "[2001:db8::1]:65535");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(xr_parse_sockaddr(bad[i], &a), -1);
		if (!xr_parse_sockaddr(bad[i], &a))
			fprintf(stderr, "\n  accepted '%s'\n", bad[i]);
	}
}

static void test_sockaddr_str(void)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX, .sun_path = "/run/x.sock" };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6, .sin6_port = htons(80) };
	char buf[64], small[8];

	CU_ASSERT_STRING_EQUAL(xr_sockaddr_str((struct sockaddr *)&un, buf, sizeof(buf)), "/run/x.sock");
	un.sun_path[0] = '\0';
	CU_ASSERT_STRING_EQUAL(xr_sockaddr_str((struct sockaddr *)&un, buf, sizeof(buf)), "@run/x.sock");
	inet_pton(AF_INET6, "::ffff:10.1.2.3", &s6.sin6_addr);
	CU_ASSERT_STRING_EQUAL(xr_sockaddr_str((struct sockaddr *)&s6, buf, sizeof(buf)),
			       "[::ffff:10.1.2.3]:80");
	CU_ASSERT_STRING_EQUAL(xr_sockaddr_str((struct sockaddr *)&s6, small, sizeof(small)), "[::ffff");
	CU_ASSERT_STRING_EQUAL(xr_sockaddr_str(NULL, buf, sizeof(buf)), "-");
}

static void test_parse_cidr(void)
{
	static const char *const bad[] = {
		"10.0.0.0/", "10.0.0.0/33", "::/129", "10.0.0.0/8/8", "", "/8", "10.0.0.0/-1",
		"10.0.0.0/1000", "10/8", "fe80::/ 10", "10.0.0.1/8", "::1/64",
	};
	struct xr_cidr c;
	const uint8_t ten[16] = { [10] = 0xff, [11] = 0xff, 10 };

	CU_ASSERT_EQUAL_FATAL(xr_parse_cidr("10.0.0.0/8", &c), 0);
	CU_ASSERT_EQUAL(c.family, 4);
	CU_ASSERT_EQUAL(c.prefixlen, 104);
	CU_ASSERT_EQUAL(memcmp(c.addr, ten, 16), 0);
	CU_ASSERT_EQUAL_FATAL(xr_parse_cidr("::/0", &c), 0);
	CU_ASSERT_EQUAL(c.family, 6);
	CU_ASSERT_EQUAL(c.prefixlen, 0);
	CU_ASSERT_EQUAL_FATAL(xr_parse_cidr("2001:db8::1", &c), 0);
	CU_ASSERT_EQUAL(c.prefixlen, 128);
	CU_ASSERT_EQUAL(c.addr[15], 1);
	CU_ASSERT_EQUAL_FATAL(xr_parse_cidr("0.0.0.0/0", &c), 0);
	CU_ASSERT_EQUAL(c.prefixlen, 96);
	CU_ASSERT_EQUAL_FATAL(xr_parse_cidr("1.2.3.4", &c), 0);
	CU_ASSERT_EQUAL(c.prefixlen, 128);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(xr_parse_cidr(bad[i], &c), -1);
		if (!xr_parse_cidr(bad[i], &c))
			fprintf(stderr, "\n  accepted '%s'\n", bad[i]);
	}
}

static void test_parse_bandwidth(void)
{
	static const struct { const char *s; uint64_t v; } good[] = {
		{ "100mbit", 100000000ULL }, { "1gbit", 1000000000ULL }, { "500kbit", 500000ULL },
		{ "10000bit", 10000ULL }, { "1.5gbit", 1500000000ULL }, { "10mbps", 80000000ULL },
		{ "1gbps", 8000000000ULL }, { "100kbps", 800000ULL }, { "1kibit", 1024ULL },
		{ "100 Mbit", 100000000ULL }, { "64000", 64000ULL }, { "1tbit", 1000000000000ULL },
		{ "0.001kbit", 1ULL },
	};
	static const char *const bad[] = {
		"0mbit", "-1mbit", "mbit", "1.mbit", ".5mbit", "1e6bit", "100mbits", "2tbit", "",
		"0.0001kbit", "1,5gbit", "99999999999999999999999bit", "100  mbit",
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 0;
		CU_ASSERT_EQUAL(xr_parse_bandwidth(good[i].s, &v), 0);
		CU_ASSERT_EQUAL(v, good[i].v);
		if (v != good[i].v)
			fprintf(stderr, "\n  '%s' -> %llu\n", good[i].s, (unsigned long long)v);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(xr_parse_bandwidth(bad[i], &v), -1);
		if (!xr_parse_bandwidth(bad[i], &v))
			fprintf(stderr, "\n  accepted '%s'\n", bad[i]);
	}
}

static void test_parse_pps_rate(void)
{
	uint64_t v;

	CU_ASSERT(!xr_parse_pps("200kpps", &v) && v == 200000);
	CU_ASSERT(!xr_parse_pps("1mpps", &v) && v == 1000000);
	CU_ASSERT(!xr_parse_pps("5000pps", &v) && v == 5000);
	CU_ASSERT(!xr_parse_pps("1.5kpps", &v) && v == 1500);
	CU_ASSERT_EQUAL(xr_parse_pps("0pps", &v), -1);
	CU_ASSERT_EQUAL(xr_parse_pps("1kbit", &v), -1);
	CU_ASSERT_EQUAL(xr_parse_pps("pps", &v), -1);
	CU_ASSERT_EQUAL(xr_parse_pps("2gpps", &v), -1);
	CU_ASSERT(!xr_parse_rate("500/s", &v) && v == 500);
	CU_ASSERT(!xr_parse_rate("10/s", &v) && v == 10);
	CU_ASSERT(!xr_parse_rate("7", &v) && v == 7);
	CU_ASSERT_EQUAL(xr_parse_rate("0/s", &v), -1);
	CU_ASSERT_EQUAL(xr_parse_rate("1.5/s", &v), -1);
	CU_ASSERT_EQUAL(xr_parse_rate("500/min", &v), -1);
	CU_ASSERT_EQUAL(xr_parse_rate("/s", &v), -1);
	CU_ASSERT(!xr_parse_duration_ms("5s", &v) && v == 5000);
	CU_ASSERT(!xr_parse_duration_ms("500ms", &v) && v == 500);
	CU_ASSERT(!xr_parse_duration_ms("1m", &v) && v == 60000);
	CU_ASSERT(!xr_parse_duration_ms("2", &v) && v == 2000);
	CU_ASSERT(!xr_parse_duration_ms("1.5s", &v) && v == 1500);
	CU_ASSERT_EQUAL(xr_parse_duration_ms("5 parsecs", &v), -1);
}

static void test_parse_wg_key(void)
{
	static const char *const bad[] = {
		"68qyavwmMTXh00dMudx+/2JY1hHlZ/VvOX9MpX4Glw=",    /* 43 */
		"68qyavwmMTXh00dMudx+/2JY1hHlZ/VvOX9MpX4Glwg",     /* no '=' */
		"68qyavwmMTXh00dMudx+/2JY1hHlZ/VvOX9MpX4Glw==",   /* 31 bytes */
		"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQF=",   /* not canonical */
		"68qyavwmMTXh00dMudx-_2JY1hHlZ_VvOX9MpX4Glwg=",   /* url-safe alphabet */
		" 68qyavwmMTXh00dMudx+/2JY1hHlZ/VvOX9MpX4Glwg=",
		"68qyavwmMTXh00dMudx+/2JY1hHlZ/VvOX9MpX4Glwg=\n",
		"",
	};
	uint8_t k[32];

	CU_ASSERT_EQUAL_FATAL(xr_parse_wg_key(K01, k), 0);
	for (int i = 0; i < 32; i++)
		CU_ASSERT_EQUAL(k[i], 1);
	CU_ASSERT_EQUAL(xr_parse_wg_key(WG1, k), 0);
	CU_ASSERT_EQUAL(k[0], 0xeb);   /* '6' '8' -> 111010 111100 */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CU_ASSERT_EQUAL(xr_parse_wg_key(bad[i], k), -1);
}

static void test_parse_hostname(void)
{
	static const char *const bad[] = {
		"*", "*.", "a..b", "-a.b", "a-.b", "a.b.", ".a.b", "a*.b", "foo.*.b", "1.2.3.4",
		"a_b.com", "**.b", "", "a b",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",     /* 64 */
	};
	char out[XR_CFG_HOST_LEN];

	CU_ASSERT(!xr_parse_hostname("Dev.Example.COM", out) && !strcmp(out, "dev.example.com"));
	CU_ASSERT(!xr_parse_hostname("*.Lab.example.com", out) && !strcmp(out, "*.lab.example.com"));
	CU_ASSERT(!xr_parse_hostname("localhost", out) && !strcmp(out, "localhost"));
	CU_ASSERT(!xr_parse_hostname("xn--bcher-kva.example", out));
	CU_ASSERT(!xr_parse_hostname("1password.com", out));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CU_ASSERT_EQUAL(xr_parse_hostname(bad[i], out), -1);
		if (!xr_parse_hostname(bad[i], out))
			fprintf(stderr, "\n  accepted '%s'\n", bad[i]);
	}
}

static void test_parse_hostport(void)
{
	char h[XR_CFG_HOST_LEN];
	uint16_t p;

	CU_ASSERT(!xr_parse_hostport("Relay.Example.com:7443", h, sizeof(h), &p) &&
		  !strcmp(h, "relay.example.com") && p == 7443);
	CU_ASSERT(!xr_parse_hostport("[2001:db8::1]:7443", h, sizeof(h), &p) && !strcmp(h, "2001:db8::1"));
	CU_ASSERT(!xr_parse_hostport("10.0.0.1:80", h, sizeof(h), &p) && !strcmp(h, "10.0.0.1") && p == 80);
	CU_ASSERT(!xr_parse_hostport("my_backend:80", h, sizeof(h), &p));
	CU_ASSERT_EQUAL(xr_parse_hostport("relay:0", h, sizeof(h), &p), -1);
	CU_ASSERT_EQUAL(xr_parse_hostport("relay", h, sizeof(h), &p), -1);
	CU_ASSERT_EQUAL(xr_parse_hostport("::1:80", h, sizeof(h), &p), -1);
	CU_ASSERT_EQUAL(xr_parse_hostport("bad!:80", h, sizeof(h), &p), -1);
	CU_ASSERT_EQUAL(xr_parse_hostport("10.0.0:80", h, sizeof(h), &p), -1);
	CU_ASSERT_EQUAL(xr_parse_hostport("relay.example.com:80", h, 5, &p), -1);
}

/* ---- agent config ---- */

static const char full_agent[] =
	"name: vm1\n"                                               /* 1 */
	"key: /etc/xrelay/agent.key\n"
	"heartbeat: 10s\n"
	"relays:\n"
	"  - address: \"Relay.Example.com:7443\"\n"                 /* 5 */
	"    identity: \"" ID1 "\"\n"
	"  - address: \"[2001:db8::1]:7443\"\n"
	"    identity: \"" ID2 "\"\n"
	"services:\n"
	"  - hostname: dev.example.com\n"                           /* 10 */
	"    target: \"127.0.0.1:8443\"\n"
	"    proxy_protocol: v2\n"
	"  - hostname: Notebook.example.com\n"
	"    target: \"localhost:8888\"\n"
	"    tls:\n"                                                /* 15 */
	"      cert: /etc/xrelay/nb.pem\n"
	"      key: /etc/xrelay/nb.key\n";

static void test_agent_full(void)
{
	char err[XR_CFG_ERR_LEN];
	uint8_t id[32];

	CU_ASSERT_EQUAL_FATAL(xr_agent_cfg_parse("agent.yaml", full_agent, strlen(full_agent),
						 &acfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(acfg.name, "vm1");
	CU_ASSERT_STRING_EQUAL(acfg.key, "/etc/xrelay/agent.key");
	CU_ASSERT_EQUAL(acfg.heartbeat_ms, 10000);
	CU_ASSERT_EQUAL_FATAL(acfg.n_relays, 2);
	CU_ASSERT_STRING_EQUAL(acfg.relays[0].address, "Relay.Example.com:7443");
	CU_ASSERT_STRING_EQUAL(acfg.relays[0].host, "relay.example.com");
	CU_ASSERT_EQUAL(acfg.relays[0].port, 7443);
	CU_ASSERT_EQUAL(acfg.relays[0].line, 5);
	CU_ASSERT_EQUAL_FATAL(xr_identity_parse(ID1, id), 0);
	CU_ASSERT_EQUAL(memcmp(acfg.relays[0].identity, id, 32), 0);
	CU_ASSERT_STRING_EQUAL(acfg.relays[1].host, "2001:db8::1");
	CU_ASSERT_EQUAL_FATAL(acfg.n_services, 2);
	CU_ASSERT_STRING_EQUAL(acfg.services[0].hostname, "dev.example.com");
	CU_ASSERT_STRING_EQUAL(acfg.services[0].target, "127.0.0.1:8443");
	CU_ASSERT_STRING_EQUAL(acfg.services[0].target_host, "127.0.0.1");
	CU_ASSERT_EQUAL(acfg.services[0].target_port, 8443);
	CU_ASSERT(acfg.services[0].proxy_protocol);
	CU_ASSERT_STRING_EQUAL(acfg.services[0].tls_cert, "");
	CU_ASSERT_STRING_EQUAL(acfg.services[1].hostname, "notebook.example.com");
	CU_ASSERT_STRING_EQUAL(acfg.services[1].target_host, "localhost");
	CU_ASSERT_EQUAL(acfg.services[1].target_port, 8888);
	CU_ASSERT(!acfg.services[1].proxy_protocol);
	CU_ASSERT_STRING_EQUAL(acfg.services[1].tls_cert, "/etc/xrelay/nb.pem");
	CU_ASSERT_STRING_EQUAL(acfg.services[1].tls_key, "/etc/xrelay/nb.key");
	CU_ASSERT_EQUAL(acfg.services[1].line, 13);
	xr_agent_cfg_free(&acfg);
	CU_ASSERT_PTR_NULL(acfg.relays);

	/* defaults */
	static const char min[] = "name: a\nkey: k\nrelays: [{address: \"r:1\", identity: \"" ID1 "\"}]\n";
	CU_ASSERT_EQUAL_FATAL(xr_agent_cfg_parse("a.yaml", min, strlen(min), &acfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(acfg.heartbeat_ms, XR_AGENT_HEARTBEAT_MS);
	CU_ASSERT_EQUAL(acfg.pool, XR_AGENT_POOL);
	CU_ASSERT_EQUAL(acfg.pool, 4);
	CU_ASSERT_EQUAL(acfg.n_services, 0);
	xr_agent_cfg_free(&acfg);
}

static void agent_err(const char *yaml, const char *want)
{
	char err[XR_CFG_ERR_LEN] = "";
	int rc = xr_agent_cfg_parse("a.yaml", yaml, strlen(yaml), &acfg, err, sizeof(err));

	CU_ASSERT_EQUAL(rc, -1);
	CU_ASSERT_STRING_EQUAL(err, want);
	if (strcmp(err, want))
		fprintf(stderr, "\n  got:  %s\n  want: %s\n", err, want);
	if (!rc)
		xr_agent_cfg_free(&acfg);
}

#define A0 "name: vm1\nkey: /k\nrelays:\n  - address: \"r.example.com:7443\"\n" \
	   "    identity: \"" ID1 "\"\n"

static void test_agent_errors(void)
{
	agent_err(A0 "relay: x\n", "a.yaml:6: unknown key 'relay' in agent config");
	agent_err("key: /k\n", "a.yaml:1: missing 'name'");
	agent_err("name: vm1\nkey: /k\nrelays: []\n", "a.yaml:3: no relays configured in 'relays'");
	agent_err("", "a.yaml:1: missing 'name'");
	agent_err(A0 "services:\n  - hostname: a.example.com\n    target: \"127.0.0.1:99999\"\n",
		  "a.yaml:8: invalid port in '127.0.0.1:99999' for 'target' (expected 1..65535)");
	agent_err(A0 "services:\n  - hostname: a.example.com\n    target: \"127.0.0.1:80\"\n"
		  "    proxy_protocol: v1\n",
		  "a.yaml:9: invalid value 'v1' for 'proxy_protocol' (v2 or none)");
	agent_err(A0 "services:\n  - hostname: a.example.com\n    target: \"127.0.0.1:80\"\n"
		  "    tls: {cert: /c}\n",
		  "a.yaml:9: 'tls' needs both 'cert' and 'key'");
	agent_err(A0 "services:\n  - {hostname: a.example.com, target: \"h:1\"}\n"
		  "  - {hostname: a.example.com, target: \"h:2\"}\n",
		  "a.yaml:8: duplicate hostname 'a.example.com' (first at line 7)");
	agent_err(A0 "services:\n  - {hostname: a.example.com}\n",
		  "a.yaml:7: service 'a.example.com' has no 'target'");
	agent_err("name: vm1\nkey: /k\nrelays:\n  - address: \"r:7443\"\n    identity: xrelay-ed25519\n",
		  "a.yaml:5: malformed identity (expected \"xrelay-ed25519 <base64 of 32 bytes>\", "
		  "the line printed by xrelayctl keygen)");
	agent_err(A0 "  - address: \"r.example.com:7443\"\n    identity: \"" ID2 "\"\n",
		  "a.yaml:6: duplicate relay 'r.example.com:7443' (first at line 4)");
	agent_err(A0 "heartbeat: 0s\n",
		  "a.yaml:6: invalid value '0s' for 'heartbeat' (expected 100ms to 1h, like 5s)");
}

/* bpf.mode: the names xrelayctl --mode accepts too */
static void test_bpf_mode_names(void)
{
	static const struct { const char *y; int mode; } ok[] = {
		{ "bpf: {mode: native}\n", 0 }, { "bpf: {mode: drv}\n", 0 },
		{ "bpf: {mode: generic}\n", 1 }, { "bpf: {mode: skb}\n", 1 },
	};
	char err[XR_CFG_ERR_LEN];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(xr_relay_cfg_parse("t.yaml", ok[i].y, strlen(ok[i].y), &cfg, err,
							 sizeof(err)), 0);
		CU_ASSERT_EQUAL(cfg.xdp_mode, ok[i].mode);
		xr_relay_cfg_free(&cfg);
	}
	relay_err("bpf: {mode: offload}\n",
		  "t.yaml:1: invalid value 'offload' for 'bpf.mode' (native or generic)");
}

/* health: thresholds (both configs) and services[].health probes */
static void test_health_keys(void)
{
	char err[XR_CFG_ERR_LEN];
	static const char ay[] = A0
		"health: {window: 10, max_failure_rate: 2.5%, down_after: 2, hold_down: 90s}\n"
		"services:\n"
		"  - hostname: a.example.com\n"
		"    target: \"127.0.0.1:80\"\n"
		"    health: {probe: http, path: /healthz, interval: 1s, timeout: 300ms}\n"
		"  - {hostname: b.example.com, target: \"127.0.0.1:81\"}\n"
		"  - {hostname: c.example.com, target: \"127.0.0.1:82\", health: {probe: none}}\n"
		"  - {hostname: d.example.com, target: \"127.0.0.1:83\", health: {interval: 1s}}\n";
	static const char ry[] = "health:\n  window: 5\n  max_failure_rate: 0%\n  down_after: 1\n"
		"  hold_down: 0s\n  interval: 500ms\n  wireguard_idle: 30s\n";

	CU_ASSERT_EQUAL_FATAL(xr_agent_cfg_parse("a.yaml", ay, strlen(ay), &acfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(acfg.health.p.window, 10);
	CU_ASSERT_EQUAL(acfg.health.p.max_fail_ppm, 25000);
	CU_ASSERT_EQUAL(acfg.health.p.down_after, 2);
	CU_ASSERT_EQUAL(acfg.health.p.hold_down_ms, 90000);
	CU_ASSERT_EQUAL(acfg.services[0].probe.kind, XR_PROBE_HTTP);
	CU_ASSERT_STRING_EQUAL(acfg.services[0].probe.path, "/healthz");
	CU_ASSERT_EQUAL(acfg.services[0].probe.interval_ms, 1000);
	CU_ASSERT_EQUAL(acfg.services[0].probe.timeout_ms, 300);
	CU_ASSERT_EQUAL(acfg.services[1].probe.kind, XR_PROBE_TCP);       /* defaults */
	CU_ASSERT_STRING_EQUAL(acfg.services[1].probe.path, "/");
	CU_ASSERT_EQUAL(acfg.services[1].probe.interval_ms, XR_PROBE_INTERVAL_MS);
	CU_ASSERT_EQUAL(acfg.services[1].probe.timeout_ms, XR_PROBE_TIMEOUT_MS);
	CU_ASSERT_EQUAL(acfg.services[2].probe.kind, XR_PROBE_NONE);
	CU_ASSERT_EQUAL(acfg.services[3].probe.timeout_ms, 500);          /* half a short interval */
	xr_agent_cfg_free(&acfg);

	/* cloudflared's defaults when absent */
	CU_ASSERT_EQUAL_FATAL(xr_relay_cfg_parse("t.yaml", "log: {}\n", 8, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.health.p.window, 30);
	CU_ASSERT_EQUAL(cfg.health.p.max_fail_ppm, 1000);
	CU_ASSERT_EQUAL(cfg.health.p.down_after, 3);
	CU_ASSERT_EQUAL(cfg.health.p.hold_down_ms, 1800000);
	CU_ASSERT_EQUAL(cfg.health.interval_ms, 5000);
	CU_ASSERT_EQUAL(cfg.health.wg_idle_ms, 60000);
	xr_relay_cfg_free(&cfg);
	CU_ASSERT_EQUAL_FATAL(xr_relay_cfg_parse("t.yaml", ry, strlen(ry), &cfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(cfg.health.p.window, 5);
	CU_ASSERT_EQUAL(cfg.health.p.max_fail_ppm, 0);
	CU_ASSERT_EQUAL(cfg.health.p.down_after, 1);
	CU_ASSERT_EQUAL(cfg.health.p.hold_down_ms, 0);
	CU_ASSERT_EQUAL(cfg.health.interval_ms, 500);
	CU_ASSERT_EQUAL(cfg.health.wg_idle_ms, 30000);
	xr_relay_cfg_free(&cfg);

	relay_err("health:\n  window: 0\n", "t.yaml:2: invalid value '0' for 'health.window' (1 to 1024)");
	relay_err("health:\n  window: 1025\n",
		  "t.yaml:2: invalid value '1025' for 'health.window' (1 to 1024)");
	relay_err("health:\n  max_failure_rate: 0.1\n",
		  "t.yaml:2: invalid value '0.1' for 'health.max_failure_rate' "
		  "(a percentage like 0.1%, 0% to 100%)");
	relay_err("health:\n  max_failure_rate: 101%\n",
		  "t.yaml:2: invalid value '101%' for 'health.max_failure_rate' "
		  "(a percentage like 0.1%, 0% to 100%)");
	relay_err("health:\n  max_failure_rate: 0.00001%\n",
		  "t.yaml:2: invalid value '0.00001%' for 'health.max_failure_rate' "
		  "(a percentage like 0.1%, 0% to 100%)");
	relay_err("health:\n  hold_down: forever\n",
		  "t.yaml:2: invalid value 'forever' for 'health.hold_down' (expected 0s to 7 days)");
	relay_err("health:\n  probe: tcp\n", "t.yaml:2: unknown key 'probe' in health");
	agent_err(A0 "health: {interval: 1s}\n", "a.yaml:6: unknown key 'interval' in health");
	agent_err(A0 "services:\n  - hostname: a.example.com\n    target: \"h:1\"\n"
		  "    health: {probe: icmp}\n",
		  "a.yaml:9: invalid value 'icmp' for 'health.probe' (tcp, tls, http or none)");
	agent_err(A0 "services:\n  - hostname: a.example.com\n    target: \"h:1\"\n"
		  "    health: {path: healthz}\n",
		  "a.yaml:9: invalid value 'healthz' for 'health.path' (an absolute request path "
		  "without spaces, like /healthz)");
	agent_err(A0 "services:\n  - hostname: a.example.com\n    target: \"h:1\"\n"
		  "    health: {interval: 1s, timeout: 1s}\n",
		  "a.yaml:9: 'health.timeout' must be shorter than 'health.interval'");
}

static void test_agent_pool(void)
{
	static const struct { const char *s; uint32_t v; } good[] = {
		{ "0", 0 }, { "64", 64 }, { "1", 1 }, { "8", 8 }, { "\"16\"", 16 },
	};
	static const char *const bad[] = { "65", "-1", "abc", "1.5", "0x10", "100", "1000", "+4", "4k" };
	char y[256], want[256], err[XR_CFG_ERR_LEN];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(y, sizeof(y), A0 "pool: %s\n", good[i].s);
		CU_ASSERT_EQUAL_FATAL(xr_agent_cfg_parse("a.yaml", y, strlen(y), &acfg, err, sizeof(err)), 0);
		CU_ASSERT_EQUAL(acfg.pool, good[i].v);
		xr_agent_cfg_free(&acfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(y, sizeof(y), A0 "pool: %s\n", bad[i]);
		snprintf(want, sizeof(want), "a.yaml:6: invalid value '%s' for 'pool' (0 to 64)", bad[i]);
		agent_err(y, want);
	}
	/* the value's line, before the missing name is noticed */
	agent_err("pool:\n  65\n", "a.yaml:2: invalid value '65' for 'pool' (0 to 64)");
	agent_err(A0 "pool: \"\"\n", "a.yaml:6: empty value for 'pool'");
	agent_err(A0 "pool: [4]\n", "a.yaml:6: expected a string for 'pool'");
	agent_err(A0 "pool: 4\npool: 5\n", "a.yaml:7: duplicate key 'pool' (first at line 6)");
}

/* relays[].sni: a plain name to send, not a name routed (so not a duplicate) */
static void test_agent_sni(void)
{
	static const char y[] = "name: vm1\nkey: /k\nrelays:\n"
		"  - address: \"192.0.2.1:443\"\n    identity: \"" ID1 "\"\n    sni: Relay.Example.com\n"
		"  - address: \"192.0.2.2:443\"\n    identity: \"" ID2 "\"\n    sni: relay.example.com\n"
		"services:\n  - {hostname: relay.example.com, target: \"127.0.0.1:80\"}\n";
	char err[XR_CFG_ERR_LEN];

	CU_ASSERT_EQUAL_FATAL(xr_agent_cfg_parse("a.yaml", y, strlen(y), &acfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(acfg.relays[0].sni, "relay.example.com");
	CU_ASSERT_STRING_EQUAL(acfg.relays[1].sni, "relay.example.com");
	xr_agent_cfg_free(&acfg);
	agent_err(A0 "    sni: \"*.example.com\"\n",
		  "a.yaml:6: invalid hostname '*.example.com' in 'sni' (a plain name, no wildcard)");
	agent_err(A0 "    sni: a..b\n", "a.yaml:6: invalid hostname 'a..b' in 'sni' (a plain name, no wildcard)");
}

/* a service that terminates TLS; ALPN lines follow from line 12 */
#define S0 A0 "services:\n  - hostname: a.example.com\n    target: \"127.0.0.1:80\"\n" \
	   "    tls:\n      cert: /c\n      key: /k\n"

static void test_agent_alpn(void)
{
	static const char y[] = S0 "      alpn: [h2, \"http/1.1\"]\n"
		"  - hostname: b.example.com\n    target: \"127.0.0.1:81\"\n"
		"    tls: {cert: /c, key: /k}\n"
		"  - hostname: c.example.com\n    target: \"127.0.0.1:82\"\n"
		"    tls:\n      alpn:\n        - acme-tls/1\n        - h2\n        - http/1.1\n"
		"        - \"spdy/3.1\"\n      cert: /c\n      key: /k\n"
		"  - hostname: d.example.com\n    target: \"127.0.0.1:83\"\n"
		"    tls: {cert: /c, key: /k, alpn: []}\n";
	char err[XR_CFG_ERR_LEN];
	const struct xr_agent_service *s;

	CU_ASSERT_EQUAL_FATAL(xr_agent_cfg_parse("a.yaml", y, strlen(y), &acfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL_FATAL(acfg.n_services, 4);
	s = &acfg.services[0];
	CU_ASSERT_EQUAL_FATAL(s->n_alpn, 2);
	CU_ASSERT_STRING_EQUAL(s->alpn[0], "h2");
	CU_ASSERT_STRING_EQUAL(s->alpn[1], "http/1.1");
	CU_ASSERT_STRING_EQUAL(s->tls_cert, "/c");
	CU_ASSERT_EQUAL(acfg.services[1].n_alpn, 0);      /* none: http/1.1 */
	s = &acfg.services[2];
	CU_ASSERT_EQUAL_FATAL(s->n_alpn, XR_CFG_MAX_ALPN);
	CU_ASSERT_STRING_EQUAL(s->alpn[0], "acme-tls/1");
	CU_ASSERT_STRING_EQUAL(s->alpn[1], "h2");
	CU_ASSERT_STRING_EQUAL(s->alpn[2], "http/1.1");
	CU_ASSERT_STRING_EQUAL(s->alpn[3], "spdy/3.1");
	CU_ASSERT_STRING_EQUAL(s->tls_key, "/k");
	CU_ASSERT_EQUAL(acfg.services[3].n_alpn, 0);
	xr_agent_cfg_free(&acfg);

	/* 15 bytes fit in alpn[16] */
	static const char y15[] = S0 "      alpn: [\"abcdefghijklmno\"]\n";
	CU_ASSERT_EQUAL_FATAL(xr_agent_cfg_parse("a.yaml", y15, strlen(y15), &acfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(acfg.services[0].alpn[0], "abcdefghijklmno");
	xr_agent_cfg_free(&acfg);

	agent_err(S0 "      alpn: [h2, http/1.1, h3, \"spdy/3.1\", acme-tls/1]\n",
		  "a.yaml:12: too many entries in 'tls.alpn' (max 4)");
	agent_err(S0 "      alpn:\n        - a\n        - b\n        - c\n        - d\n        - e\n",
		  "a.yaml:13: too many entries in 'tls.alpn' (max 4)");
	agent_err(S0 "      alpn:\n        - h2\n        - \"http 1.1\"\n",
		  "a.yaml:14: invalid ALPN name 'http 1.1' in 'tls.alpn'");
	agent_err(S0 "      alpn: [\"h2\\t\"]\n", "a.yaml:12: invalid ALPN name 'h2\t' in 'tls.alpn'");
	agent_err(S0 "      alpn: [\"h\xc3\xa9" "2\"]\n",
		  "a.yaml:12: invalid ALPN name 'h\xc3\xa9" "2' in 'tls.alpn'");
	agent_err(S0 "      alpn: [\"abcdefghijklmnop\"]\n",
		  "a.yaml:12: value of 'tls.alpn' is too long (max 15 bytes)");
	agent_err(S0 "      alpn: [h2, \"\"]\n", "a.yaml:12: empty value for 'tls.alpn'");
	agent_err(S0 "      alpn: [[h2]]\n", "a.yaml:12: expected a string for 'tls.alpn'");
	agent_err(S0 "      alpn: h2\n", "a.yaml:12: expected a list for 'tls.alpn'");
	agent_err(S0 "      alpn: {h2: 1}\n", "a.yaml:12: expected a list for 'tls.alpn'");
	agent_err(S0 "      alpm: [h2]\n", "a.yaml:12: unknown key 'alpm' in services.tls");
	agent_err(S0 "      alpn: [h2]\n      alpn: [h2]\n",
		  "a.yaml:13: duplicate key 'alpn' (first at line 12)");
	/* ALPN is offered by the agent's own TLS: it needs cert and key */
	agent_err(A0 "services:\n  - hostname: a.example.com\n    target: \"127.0.0.1:80\"\n"
		  "    tls:\n      alpn: [h2]\n",
		  "a.yaml:10: 'tls' needs both 'cert' and 'key'");
}

static void test_load_files(void)
{
	char dir[] = "/tmp/xr_cfg_XXXXXX", path[64], err[XR_CFG_ERR_LEN], want[128];
	FILE *f;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/relay.yaml", dir);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs(full_relay, f);
	fputs("bogus: 1\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(xr_relay_cfg_load(path, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:39: unknown key 'bogus' in relay config", path);
	CU_ASSERT_STRING_EQUAL(err, want);
	f = fopen(path, "w");
	fputs(full_relay, f);
	fclose(f);
	CU_ASSERT_EQUAL(xr_relay_cfg_load(path, &cfg, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(cfg.path, path);
	CU_ASSERT_EQUAL(cfg.n_tenants, 2);
	xr_relay_cfg_free(&cfg);
	unlink(path);

	snprintf(path, sizeof(path), "%s/agent.yaml", dir);
	f = fopen(path, "w");
	fputs(full_agent, f);
	fclose(f);
	CU_ASSERT_EQUAL(xr_agent_cfg_load(path, &acfg, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(acfg.n_services, 2);
	xr_agent_cfg_free(&acfg);
	unlink(path);

	CU_ASSERT_EQUAL(xr_relay_cfg_load(path, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	CU_ASSERT_STRING_EQUAL(err, want);
	CU_ASSERT_EQUAL(xr_agent_cfg_load(path, &acfg, err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, want);
	rmdir(dir);
}

int xr_register_config(void)
{
	static const struct { const char *name; CU_TestFunc fn; } tests[] = {
		{ "relay: full config", test_relay_full },
		{ "relay: defaults", test_relay_defaults },
		{ "relay: aliases", test_relay_alias },
		{ "relay: YAML syntax error", test_relay_syntax },
		{ "relay: unknown keys", test_relay_unknown_key },
		{ "relay: bad address", test_relay_bad_address },
		{ "relay: bad port", test_relay_bad_port },
		{ "relay: bad CIDR", test_relay_bad_cidr },
		{ "relay: host bits set", test_relay_host_bits },
		{ "relay: bad bandwidth", test_relay_bad_bandwidth },
		{ "relay: bad packets", test_relay_bad_packets },
		{ "relay: bad connections", test_relay_bad_connections },
		{ "relay: duplicate hostname", test_relay_dup_hostname },
		{ "relay: duplicate tenant", test_relay_dup_tenant },
		{ "relay: malformed identity", test_relay_bad_identity },
		{ "relay: malformed WireGuard key", test_relay_bad_wg_key },
		{ "relay: wrong types", test_relay_wrong_type },
		{ "relay: control.hostname", test_relay_control_hostname },
		{ "relay: tls.hello_timeout", test_relay_hello_timeout },
		{ "relay: tls.mover", test_relay_mover },
		{ "parse: sockaddr", test_parse_sockaddr },
		{ "parse: sockaddr_str", test_sockaddr_str },
		{ "parse: cidr", test_parse_cidr },
		{ "parse: bandwidth", test_parse_bandwidth },
		{ "parse: pps, rate, duration", test_parse_pps_rate },
		{ "parse: WireGuard key", test_parse_wg_key },
		{ "parse: hostname", test_parse_hostname },
		{ "parse: host:port", test_parse_hostport },
		{ "agent: full config", test_agent_full },
		{ "agent: errors", test_agent_errors },
		{ "agent: pool", test_agent_pool },
		{ "health thresholds and probes", test_health_keys },
		{ "bpf.mode names", test_bpf_mode_names },
		{ "agent: relays sni", test_agent_sni },
		{ "agent: services tls.alpn", test_agent_alpn },
		{ "load from files", test_load_files },
	};
	CU_pSuite s = CU_add_suite("config", NULL, NULL);

	if (!s)
		return -1;
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (!CU_add_test(s, tests[i].name, tests[i].fn))
			return -1;
	return 0;
}
