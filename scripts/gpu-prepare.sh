#!/usr/bin/env bash
# Prepares, on this machine, what the GPU machine needs to run scripts/gpu-check.sh: it has python3 with torch but no .NET.
#   .gpu/app/                    a framework-dependent Release build of the CLI (ilgpu-unlearn.dll, no native host)
#   .gpu/dotnet-runtime.tar.xz   this machine's .NET runtime (host + Microsoft.NETCore.App, no SDK; scripts/pack-dotnet-runtime.sh),
#                                about 30 MB
#   .gpu/build.txt               the commit and time it was built from (gpu-check.sh copies it into its results)
# .gpu/ must be ignored by git (.git/info/exclude) and named in the device call's `carry`: the call then carries the working
# tree (tracked and untracked-but-not-ignored files, the PyTorch fixtures included) plus .gpu, 64 MiB at most together.
# This script checks that the sum fits.
#
#   scripts/gpu-prepare.sh
set -euo pipefail
cd "$(dirname "$0")/.."
limit=$((64 * 1024 * 1024))

if ! git check-ignore -q .gpu/app; then
  echo "gpu-prepare: .gpu/ is not ignored by git; add '/.gpu/' to $(git rev-parse --git-common-dir)/info/exclude" >&2
  exit 1
fi

rm -rf .gpu/app
mkdir -p .gpu
dotnet publish src/IlgpuUnlearn.Cli -c Release -o .gpu/app --nologo -v q -p:UseAppHost=false
[ -f .gpu/app/ilgpu-unlearn.dll ] || { echo "gpu-prepare: publish left no .gpu/app/ilgpu-unlearn.dll" >&2; exit 1; }

bash scripts/pack-dotnet-runtime.sh .gpu/app/ilgpu-unlearn.runtimeconfig.json .gpu
framework=$(sed -n 's/.*"version": "\([0-9.]*\)".*/\1/p' .gpu/app/ilgpu-unlearn.runtimeconfig.json | head -n 1)
packed=$(cat .gpu/dotnet-runtime.version)
if [ "${framework%%.*}" != "${packed%%.*}" ]; then
  echo "gpu-prepare: the app needs .NET $framework but the packed runtime is $packed" >&2
  exit 1
fi

{
  echo "commit $(git rev-parse HEAD)$(git diff --quiet HEAD -- src kernels weights-converter || echo ' (with uncommitted changes)')"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname), .NET runtime $packed"
} >.gpu/build.txt

# What the device call carries: the working tree as git sees it (tracked + untracked-not-ignored) and .gpu.
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
gpu=$(du -sb .gpu | cut -f1)
mib() { awk -v b="$1" 'BEGIN {printf "%.1f MiB", b / 1048576}'; }
echo "app $(mib "$(du -sb .gpu/app | cut -f1)"), runtime $(mib "$(stat -c %s .gpu/dotnet-runtime.tar.xz)"), .gpu $(mib "$gpu"), working tree $(mib "$tree"): $(mib $((gpu + tree))) of the 64 MiB a device call carries"
if (( gpu + tree > limit )); then
  echo "gpu-prepare: too large for one device call" >&2
  exit 1
fi
echo "ready: device call with carry [\".gpu\"] and command: bash scripts/gpu-check.sh"
