#!/usr/bin/env bash
# Where a CPU training step's time goes, op by op (bench/cpu/step-ops/): the step of `bench --device cpu` with every op call
# timed, wall clock and process CPU time (the latter is what other work on a shared machine does not lengthen), and a
# fingerprint of the parameters and running statistics after the steps (equal fingerprints: the same numerics bit for bit).
#   bench/cpu/step-ops.sh [BATCH=64] [STEPS=5]
set -euo pipefail
cd "$(dirname "$0")/../.."
dotnet build bench/cpu/step-ops -c Release -v q --nologo >/dev/null
dotnet bench/cpu/step-ops/bin/Release/net10.0/step-ops.dll "${1:-64}" "${2:-5}"
