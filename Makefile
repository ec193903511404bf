# xrelay - build, test, demo.  `make V=1` shows full commands.
#
# Chain: Kconfig -> .config -> build/include/generated/autoconf.h
#        vmlinux/vmlinux.h + bpf/*.bpf.c -> build/bpf/*.bpf.o -> build/include/*.skel.h
#        user/lib/*.c -> build/libxrelay.a ; user/<prog>/*.c + skeletons -> build/<prog>

.DELETE_ON_ERROR:
.SECONDARY:
.SUFFIXES:
SHELL := /bin/bash

BUILD     ?= build
PREFIX    ?= /usr/local
DESTDIR   ?=
CLANG     ?= clang
CC        ?= cc
BPFTOOL   ?= bpftool
PYTHON    := /usr/bin/python3
KCONFIG_CONFIG ?= .config
export KCONFIG_CONFIG

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

ARCH_DEF  := -D__TARGET_ARCH_x86
AUTOCONF  := $(BUILD)/include/generated/autoconf.h
INCLUDES  := -Iinclude -I$(BUILD)/include -Iuser/lib

CFLAGS    ?= -O2 -g
CFLAGS    += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
	     -Wno-missing-field-initializers -D_GNU_SOURCE $(INCLUDES) \
	     -fstack-protector-strong -D_FORTIFY_SOURCE=2 -MMD -MP
LDLIBS    := -lbpf -luring -lyaml -lssl -lcrypto -lelf -lz
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 $(ARCH_DEF) -Wall -Werror \
	      -Ivmlinux -Iinclude -I$(BUILD)/include -Ibpf

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/include/%.skel.h,$(BPF_SRCS))

LIB_SRCS  := $(wildcard user/lib/*.c)
LIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRCS))
LIB       := $(BUILD)/libxrelay.a

PROGS     := xrelayd xrelay-agent xrelayctl
PROG_BINS := $(addprefix $(BUILD)/,$(PROGS))

UNIT_SRCS := $(wildcard tests/unit/*.c)
BPFT_SRCS := $(wildcard tests/bpf/*.c)

.PHONY: all deps test test-unit test-bpf test-e2e demo install clean \
	defconfig olddefconfig menuconfig savedefconfig vmlinux bench bench-tls bench-failover bench-ops deb

all: $(PROG_BINS)

# ---- dependencies (Debian 12) --------------------------------------------
DEB_BUILD := make clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev \
	     liburing-dev libcunit1-dev libssl-dev libyaml-dev pkg-config \
	     python3 python3-kconfiglib libclang-rt-14-dev
DEB_RUN   := iproute2 ethtool iptables nftables openssl
DEB_TEST  := wireguard-tools wireguard-go nginx curl iperf3 socat tcpdump conntrack iputils-ping \
	     procps psmisc util-linux kmod \
	     groff-base man-db systemd dpkg-dev prometheus ansible ansible-lint openssh-server \
	     openssh-client
# the peers the benchmarks compare with (not needed by `make test`)
DEB_BENCH := haproxy openssh-server openssh-client autossh wrk libnginx-mod-stream
deps:
	@missing=$$(for p in $(DEB_BUILD) $(DEB_RUN) $(DEB_TEST) $(DEB_EXTRA); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "deps: all Debian packages present"; fi

# ---- Kconfig ---------------------------------------------------------------
KCONF = $(PYTHON) -m
$(KCONFIG_CONFIG): Kconfig configs/xrelay_defconfig
	$(call msg,KCONFIG,$@)
	$(Q)if [ -f $@ ]; then $(KCONF) olddefconfig Kconfig >/dev/null; \
	else $(KCONF) defconfig --kconfig Kconfig configs/xrelay_defconfig >/dev/null; fi
	$(Q)touch $@

$(AUTOCONF): $(KCONFIG_CONFIG) Kconfig
	$(call msg,GENCONF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(KCONF) genconfig --header-path $@ Kconfig

defconfig:
	$(KCONF) defconfig --kconfig Kconfig configs/xrelay_defconfig
olddefconfig:
	$(KCONF) olddefconfig Kconfig
menuconfig:
	$(KCONF) menuconfig Kconfig
savedefconfig:
	$(KCONF) savedefconfig --kconfig Kconfig --out configs/xrelay_defconfig

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h.tmp
	mv vmlinux/vmlinux.h.tmp vmlinux/vmlinux.h

# ---- BPF -------------------------------------------------------------------
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) $(wildcard include/*.h) vmlinux/vmlinux.h $(AUTOCONF)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@
	$(Q)llvm-strip -g $@ -o /dev/null 2>/dev/null || true

$(BUILD)/include/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# ---- userspace --------------------------------------------------------------
$(BUILD)/%.o: %.c $(AUTOCONF) $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

define PROG_RULE
$(BUILD)/$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard user/$(1)/*.c)) $(LIB)
	$$(call msg,LD,$$@)
	$$(Q)$$(CC) $$(CFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach p,$(PROGS),$(eval $(call PROG_RULE,$(p))))

# ---- tests -------------------------------------------------------------------
$(BUILD)/tests/unit_tests: $(patsubst %.c,$(BUILD)/%.o,$(UNIT_SRCS)) $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcunit

$(BUILD)/tests/bpf_tests: $(patsubst %.c,$(BUILD)/%.o,$(BPFT_SRCS)) $(LIB)
	$(call msg,LD,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS) -lcunit

test-build: all $(BUILD)/tests/unit_tests $(BUILD)/tests/bpf_tests

test: deps
	$(MAKE) test-build
	scripts/run-tests.sh

test-unit: $(BUILD)/tests/unit_tests
	$(BUILD)/tests/unit_tests
test-bpf: $(BUILD)/tests/bpf_tests
	$(BUILD)/tests/bpf_tests
test-e2e: all
	scripts/run-tests.sh e2e

demo: deps
	$(MAKE) all
	scripts/demo.sh

bench: all
	bench/run.sh

# TLS passthrough against ssh -R + nginx ssl_preread and wireguard-go + haproxy
bench-tls: all
	$(MAKE) deps DEB_EXTRA="$(DEB_BENCH)"
	bench/tls.sh

# recovery against autossh + ssh -R + nginx and haproxy over wireguard-go (issue 4)
bench-failover: all
	$(MAKE) deps DEB_EXTRA="$(DEB_BENCH)"
	bench/failover.sh

# metrics scrape and idle session-sweep cost, this build against f1dad3b (issue 5)
bench-ops: all
	bench/ops.sh

# ---- install -------------------------------------------------------------------
# Units and sysusers go under $(PREFIX)/lib, which systemd searches for /usr and
# /usr/local alike; their program paths are rewritten to $(PREFIX) when it is
# not /usr.  `make deb` uses PREFIX=/usr UNITDIR=/lib/systemd/system (Debian 12).
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
install: all
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BUILD)/xrelayd $(DESTDIR)$(PREFIX)/sbin/xrelayd
	install -m 0755 $(BUILD)/xrelay-agent $(DESTDIR)$(PREFIX)/bin/xrelay-agent
	install -m 0755 $(BUILD)/xrelayctl $(DESTDIR)$(PREFIX)/sbin/xrelayctl
	install -d $(DESTDIR)$(PREFIX)/share/doc/xrelay/examples
	install -m 0644 configs/relay.example.yaml configs/agent.example.yaml \
		$(DESTDIR)$(PREFIX)/share/doc/xrelay/examples/
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	for u in deploy/systemd/*.service; do \
		sed -e 's|/usr/sbin/xr|$(PREFIX)/sbin/xr|g' -e 's|/usr/bin/xr|$(PREFIX)/bin/xr|g' $$u \
			>$(DESTDIR)$(UNITDIR)/$${u##*/}.tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp && \
		mv $(DESTDIR)$(UNITDIR)/$${u##*/}.tmp $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; done
	install -m 0644 deploy/systemd/xrelay.sysusers.conf $(DESTDIR)$(SYSUSERSDIR)/xrelay.conf
	@if ls docs/man/*.[0-9] >/dev/null 2>&1; then for m in docs/man/*.[0-9]; do \
		s=$${m##*.}; install -d $(DESTDIR)$(PREFIX)/share/man/man$$s; \
		install -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$$s/; done; fi

# Debian package build/xrelay_<version>_<arch>.deb (dpkg-deb; see deploy/deb/)
deb: all
	deploy/deb/build.sh $(BUILD)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
