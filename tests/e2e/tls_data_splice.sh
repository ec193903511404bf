#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
#
# tls_data_splice.sh - tls_data.sh with `tls.mover: splice`: both movers
# must pass the same data-path tests (docs/TLS.md, "Moving bytes").
export TLS_MOVER=splice
export XR_PREFIX=${XR_PREFIX:-xt4-$$}
exec bash "$(dirname "$(readlink -f "$0")")/tls_data.sh"
