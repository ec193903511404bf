/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Build options from Kconfig.  `make` generates build/include/generated/
 * autoconf.h from .config (created from the defaults on a fresh clone);
 * both the BPF objects and userspace include it through this header, so a
 * map size can never differ between the two sides.
 */
#ifndef XRELAY_CONFIG_H
#define XRELAY_CONFIG_H

#include <generated/autoconf.h>

#ifndef CONFIG_XR_MAX_SESSIONS
#error "generated/autoconf.h lacks CONFIG_XR_MAX_SESSIONS: run make olddefconfig"
#endif

#define XR_MAX_SESSIONS   CONFIG_XR_MAX_SESSIONS
#define XR_MAX_TENANTS    CONFIG_XR_MAX_TENANTS
#define XR_MAX_FLOWS      CONFIG_XR_MAX_FLOWS
#define XR_MAX_ALLOW      CONFIG_XR_MAX_ALLOW
#define XR_HS_RATE_PPS    CONFIG_XR_HS_RATE_PPS
#define XR_HS_BURST       CONFIG_XR_HS_BURST
#define XR_HS_SOURCES     CONFIG_XR_HS_SOURCES
#define XR_SESSION_SLACK_S CONFIG_XR_SESSION_SLACK_S
#define XR_PUMP_BUF_SIZE  (CONFIG_XR_PUMP_BUF_KB * 1024)
#define XR_PUMP_BUFS      CONFIG_XR_PUMP_BUFS
#define XR_HELLO_SLOTS    CONFIG_XR_HELLO_SLOTS

#ifdef CONFIG_XR_IPV6
#define XR_IPV6 1
#else
#define XR_IPV6 0
#endif

#ifdef CONFIG_XR_DEBUG_COUNTERS
#define XR_DEBUG_COUNTERS 1
#else
#define XR_DEBUG_COUNTERS 0
#endif

#endif
