#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# ansible_fleet.sh - deploy a relay fleet with deploy/ansible/site.yml, for
# real: ansible-playbook connects over SSH to two relay hosts and one private
# host (network namespaces, each with its own sshd; scripts/lib/ansible_fleet.sh),
# installs the programs built in build/ (xrelay_install_method: prebuilt),
# generates every key on its host, starts the daemons with start-stop-daemon
# (xrelay_service_manager: direct: there is no systemd as PID 1 here), and
# then:
#   - both relays run, XDP is attached, each has a session from the agent
#   - TLS through EACH relay reaches nginx on the private host (SNI, curl)
#   - a second run changes nothing (changed=0 on every host)
#   - --check --diff with a new hostname shows the change and changes nothing
#   - applying it reloads the relays (same PID, reloads + 1), the new name
#     routes through both relays
#   - a config xrelayd --check rejects never replaces relay.yaml: the run
#     fails, the file and the daemon stay as they were, names still route
#   - ansible-lint passes on deploy/ansible
# One "ok - NAME" / "not ok - NAME" line per assertion.  XR_KEEP=1 keeps
# the fleet; XR_VERBOSE=1 prints the playbook output.
set -u
XR_PREFIX=${XR_PREFIX:-xt-ans-$$}
. "$(dirname "$(readlink -f "$0")")/../../scripts/lib/ansible_fleet.sh"

T0=$SECONDS
if ! tls_have_bins; then
	xr_notok "binaries built ($XRELAYD, $XRELAYCTL, $XR_AGENT)"
	exit 1
fi
for t in ansible-playbook ansible-lint; do
	command -v "$t" >/dev/null || { xr_notok "$t installed (apt-get install ansible ansible-lint)"; exit 1; }
done

ans_topo_up
# the programs as they are now: a rebuild during the run does not change them
mkdir -p "$XR_STATE/dist"
cp "$XRELAYD" "$XRELAYCTL" "$XR_AGENT" "$XR_STATE/dist/"

# PKI and the backend: nginx on the private host, both names in one cert
tls_leaf app app.lab.test app2.lab.test
tls_www
nginx_start priv "$NS_PRIV" 8443 \
	"$(nginx_tls_server priv 8443 app 'app.lab.test app2.lab.test' default_server)"

ans_inventory
ans_agent_services app.lab.test

# ---- 1. the first run ---------------------------------------------------------------
L1=$XR_STATE/run1.log
t=$SECONDS
ans_playbook "$L1"; rc=$?
xr_log "first run: $((SECONDS - t)) s"
if [ $rc != 0 ]; then
	sed 's/^/#   /' "$L1" | tail -n 60 >&2
	xr_notok "site.yml deploys the fleet (exit $rc)"
	exit 1
fi
xr_check "site.yml deploys the fleet (exit 0, failed=0)" recap_all "$L1" failed 0

running() { [ -n "$(daemon_pid "$1" "$2")" ] && [ "$(cat "/proc/$(daemon_pid "$1" "$2")/comm")" = "$2" ]; }
for h in relay1 relay2; do
	xr_check "$h: xrelayd runs (pidfile)" running "$h" xrelayd
	xr_check "$h: xrelayctl status reports xrelayd reachable" \
		test "$(status_get "$h" "s['xrelayd']['ok']")" = True
	xr_check "$h: XDP attached to eth0" \
		test "$(status_get "$h" "[i['ifname'] for i in s['interfaces'] if not i['defunct']]")" = "['eth0']"
	xr_check "$h: relay key 0600 owned by $ANS_RUSER, generated on the host" \
		test "$(stat -c '%a %U' "$(ans_host_dir "$h")/etc/relay.key" 2>/dev/null)" = "600 $ANS_RUSER"
	xr_check "$h: xrelayd.service installed with this host's paths and user" \
		grep -qx "ExecStart=$(ans_host_dir "$h")/usr/sbin/xrelayd -c $(ans_host_dir "$h")/etc/relay.yaml" \
		"$(ans_host_dir "$h")/systemd/xrelayd.service"
done
xr_check "priv: xrelay-agent runs (pidfile)" running priv xrelay-agent
xr_check "priv: xrelay-agent runs as the unprivileged user $ANS_AUSER" \
	test "$(ps -o user= -p "$(daemon_pid priv xrelay-agent)" 2>/dev/null)" = "$ANS_AUSER"
xr_check "priv: agent key 0600, owned by $ANS_AUSER" \
	test "$(stat -c '%a %U' "$(ans_host_dir priv)/etc/agent.key" 2>/dev/null)" = "600 $ANS_AUSER"
xr_check "priv: config dir 0750 root:$ANS_RUSER (the agent enters it as a member)" \
	test "$(stat -c '%a %U:%G' "$(ans_host_dir priv)/etc" 2>/dev/null)" = "750 root:$ANS_RUSER"

# identities went where they belong, and only identities
agent_id=$("$XR_STATE/dist/xrelayctl" pubkey "$(ans_host_dir priv)/etc/agent.key")
r1_id=$("$XR_STATE/dist/xrelayctl" pubkey "$(ans_host_dir relay1)/etc/relay.key")
r2_id=$("$XR_STATE/dist/xrelayctl" pubkey "$(ans_host_dir relay2)/etc/relay.key")
xr_check "relays have distinct identities" test -n "$r1_id" -a "$r1_id" != "$r2_id"
for h in relay1 relay2; do
	xr_check "$h: relay.yaml names the agent's identity" \
		grep -qF "\"$agent_id\"" "$(ans_host_dir "$h")/etc/relay.yaml"
done
# relays_of_agent : "ADDRESS=IDENTITY;..." from agent.yaml
relays_of_agent() {
	"$XR_PY" -c 'import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
print(";".join("%s=%s" % (r["address"], r["identity"]) for r in c["relays"]))' "$(ans_host_dir priv)/etc/agent.yaml"
}
xr_check "agent.yaml lists every relay, each with its identity" \
	test "$(relays_of_agent)" = "$R1_4:7443=$r1_id;$R2_4:7443=$r2_id"
xr_check "no private key left its host (keys only under each host's etc)" \
	test "$(find "$XR_STATE/h" -name '*.key' | sort | tr '\n' ' ')" = \
	"$(ans_host_dir priv)/etc/agent.key $(ans_host_dir relay1)/etc/relay.key $(ans_host_dir relay2)/etc/relay.key "

agent_on() { test "$(status_get "$1" "[a['agent'] for a in s['xrelayd']['agents'] if 'app.lab.test' in a['hostnames']]")" = "['priv']"; }
for h in relay1 relay2; do
	wait_for 15 agent_on "$h"
	xr_check "$h: xrelayctl status -j lists the agent's session (app.lab.test)" agent_on "$h"
done
if command -v systemd-analyze >/dev/null; then
	units=("$(ans_host_dir relay1)/systemd/xrelayd.service" "$(ans_host_dir priv)/systemd/xrelay-agent.service")
	if out=$(systemd-analyze verify --man=no "${units[@]}" 2>&1) && [ -z "$out" ]; then
		xr_ok "the installed units pass systemd-analyze verify"
	else
		printf '%s\n' "$out" | sed 's/^/#   /' >&2
		xr_notok "the installed units pass systemd-analyze verify"
	fi
fi

route_check "TLS through relay1 reaches nginx on the private host" "$R1_4" app.lab.test
route_check "TLS through relay2 reaches nginx on the private host" "$R2_4" app.lab.test
got=$(TLS_RELAY_IP=$R2_4 tls_curl "$NS_CLI" app.lab.test /256k.bin 2>/dev/null | sha256sum | cut -d' ' -f1)
xr_check "256 KiB through relay2 arrive intact" test "$got" = "$K256_SHA"

# ---- 2. again: nothing changes -----------------------------------------------------------
r1_pid=$(daemon_pid relay1 xrelayd) r2_pid=$(daemon_pid relay2 xrelayd)
r1_reloads=$(status_get relay1 "s['xrelayd']['reloads']")
r2_reloads=$(status_get relay2 "s['xrelayd']['reloads']")
L2=$XR_STATE/run2.log
t=$SECONDS
ans_playbook "$L2"; rc=$?
xr_log "second run: $((SECONDS - t)) s"
xr_check "second run succeeds" test $rc = 0
xr_check "second run changes nothing (changed=0 on every host)" recap_all "$L2" changed 0
[ "${XR_VERBOSE:-0}" = 1 ] || grep -E '^(changed|RUNNING HANDLER)' "$L2" | sed 's/^/#   /' >&2

# ---- 3. a new hostname: --check --diff shows it, changes nothing -------------------------------
ans_agent_services app.lab.test app2.lab.test
cp "$(ans_host_dir relay1)/etc/relay.yaml" "$XR_STATE/relay1.before"
L3=$XR_STATE/run3-check.log
ans_playbook "$L3" --check --diff; rc=$?
xr_check "--check --diff succeeds" test $rc = 0
xr_check "--check --diff shows the new name in relay.yaml" \
	grep -qE '^\+ +hostnames: .*app2\.lab\.test' "$L3"
xr_check "--check reports the change (relay1 changed>0)" test "$(recap_get "$L3" relay1 changed)" -gt 0
xr_check "--check changed no file" cmp -s "$XR_STATE/relay1.before" "$(ans_host_dir relay1)/etc/relay.yaml"
xr_check "--check restarted nothing" test "$(daemon_pid relay1 xrelayd)" = "$r1_pid"

# ---- 4. apply it: a reload, not a restart ------------------------------------------------------
L4=$XR_STATE/run4.log
t=$SECONDS
ans_playbook "$L4"; rc=$?
xr_log "run with the new name: $((SECONDS - t)) s"
xr_check "run with the new name succeeds" test $rc = 0
xr_check "the relays reloaded (handler Reload xrelayd ran)" grep -q 'RUNNING HANDLER \[xrelay_relay : Reload xrelayd\]' "$L4"
no_restart() { ! grep -q 'RUNNING HANDLER \[xrelay_relay : Restart xrelayd' "$L4"; }
xr_check "no restart handler ran for xrelayd" no_restart
xr_check "relay1: same xrelayd PID ($r1_pid)" test "$(daemon_pid relay1 xrelayd)" = "$r1_pid"
xr_check "relay2: same xrelayd PID ($r2_pid)" test "$(daemon_pid relay2 xrelayd)" = "$r2_pid"
xr_check "relay1: one reload more" test "$(status_get relay1 "s['xrelayd']['reloads']")" = $((r1_reloads + 1))
xr_check "relay2: one reload more" test "$(status_get relay2 "s['xrelayd']['reloads']")" = $((r2_reloads + 1))
xr_check "relay.yaml on relay1 owns app2.lab.test" grep -q 'app2.lab.test' "$(ans_host_dir relay1)/etc/relay.yaml"
route_check "the new name routes through relay1" "$R1_4" app2.lab.test
route_check "the new name routes through relay2" "$R2_4" app2.lab.test
route_check "the old name still routes through relay1" "$R1_4" app.lab.test

# ---- 5. an invalid config is refused before it is put in place ------------------------------
L5=$XR_STATE/run5-invalid.log
cp "$(ans_host_dir relay1)/etc/relay.yaml" "$XR_STATE/relay1.good"
r1_reloads=$(status_get relay1 "s['xrelayd']['reloads']")
ans_playbook "$L5" -e '{"xrelay_tenants": [{"name": "lab", "agents": ["priv"], "limits": {"connections": "bogus"}}]}'
rc=$?
xr_check "a tenant limit xrelayd rejects fails the run (exit $rc)" test $rc != 0
xr_check "the failure is the validation (xrelayd --check names the line)" \
	grep -q "invalid value 'bogus' for 'connections'" "$L5"
xr_check "relay.yaml on relay1 is unchanged" cmp -s "$XR_STATE/relay1.good" "$(ans_host_dir relay1)/etc/relay.yaml"
xr_check "xrelayd on relay1 neither restarted nor reloaded" \
	test "$(daemon_pid relay1 xrelayd):$(status_get relay1 "s['xrelayd']['reloads']")" = "$r1_pid:$r1_reloads"
route_check "app2.lab.test still routes through relay1" "$R1_4" app2.lab.test

# ---- 6. ansible-lint ---------------------------------------------------------------------------
lint() {
	(cd "$ANS_DIR" && HOME=$XR_STATE/ansible-home XDG_CACHE_HOME=$XR_STATE/lint-cache \
		ANSIBLE_HOME=$XR_STATE/ansible-home ANSIBLE_LOCAL_TEMP=$XR_STATE/ansible-tmp \
		timeout -k 5 120 ansible-lint --offline --nocolor) >"$XR_STATE/lint.log" 2>&1
}
if lint; then
	xr_ok "ansible-lint passes on deploy/ansible"
else
	sed 's/^/#   /' "$XR_STATE/lint.log" | tail -n 30 >&2
	xr_notok "ansible-lint passes on deploy/ansible"
fi

xr_log "ansible_fleet: $((SECONDS - T0)) s"
xr_result
