#!/usr/bin/env bash
# ResNet18's stride-2 convolutions alone (bench/cpu/stride-two/), per direction, process CPU time; with a second build of the
# same program (BASE: its stride-two.dll, e.g. built in a worktree of the commit before a change), the two alternated ROUNDS
# times, so that their ratio survives the load of a shared machine.
#   bench/cpu/stride-two.sh [BATCH=64] [ROUNDS=3] [BASE=none] [REPEATS=5]
set -euo pipefail
cd "$(dirname "$0")/../.."
batch=${1:-64}; rounds=${2:-3}; base=${3:-}; repeats=${4:-5}
dotnet build bench/cpu/stride-two -c Release -v q --nologo >/dev/null
ours=bench/cpu/stride-two/bin/Release/net10.0/stride-two.dll
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) logical CPUs"
for r in $(seq 1 "$rounds"); do
  if [ -n "$base" ]; then echo "== base round $r"; dotnet "$base" "$batch" "$repeats"; fi
  echo "== ours round $r"; dotnet "$ours" "$batch" "$repeats"
done
