#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Runs the libFuzzer targets (ClientHello parser 20 s, control-protocol
# decoder 15 s) with ASan+UBSan as part of the e2e suite (no root or
# namespaces needed); see tests/fuzz/run.sh.
exec bash "$(dirname "$(readlink -f "$0")")/../fuzz/run.sh"
