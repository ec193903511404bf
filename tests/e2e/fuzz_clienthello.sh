#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs the ClientHello fuzzer for 20 s as part of the e2e suite (no root or
# namespaces needed); see tests/fuzz/run.sh.
exec bash "$(dirname "$(readlink -f "$0")")/../fuzz/run.sh" 20
