#!/usr/bin/env bash
# Prepares what the GPU machine needs (it has no .NET): a framework-dependent Release build and this machine's .NET
# runtime, both under .gpu/ (ignored by git; name it in the device call's `carry`).
#   scripts/gpu-prepare.sh            -> .gpu/app/ilgpu-unlearn.dll, .gpu/dotnet-runtime.tar.xz
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf .gpu/app
dotnet publish src/IlgpuUnlearn.Cli -c Release -o .gpu/app --nologo -v q
pack=../shared/tools/pack-dotnet-runtime.sh
[ -x "$pack" ] || pack=/work/shared/tools/pack-dotnet-runtime.sh
bash "$pack" .gpu
du -sh .gpu/app .gpu/dotnet-runtime.tar.xz
