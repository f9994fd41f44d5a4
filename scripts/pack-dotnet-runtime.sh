#!/usr/bin/env bash
# Packs the .NET runtime that a framework-dependent build needs (the `dotnet` host, its hostfxr and the Microsoft.NETCore.App
# shared framework; no SDK) from this machine's .NET installation into one archive, so the build runs on a machine without .NET
# (the GPU machine; scripts/gpu-prepare.sh calls this). The framework packed is the newest installed one of the major.minor
# version that APP.runtimeconfig.json asks for.
#   scripts/pack-dotnet-runtime.sh APP.runtimeconfig.json OUT_DIR
#     -> OUT_DIR/dotnet-runtime.tar.xz (about 30 MB) and OUT_DIR/dotnet-runtime.version; kept when already that version
# There: mkdir -p R && tar -xJf OUT_DIR/dotnet-runtime.tar.xz -C R && DOTNET_ROOT=R R/dotnet APP.dll ...
set -euo pipefail
config=${1:?usage: scripts/pack-dotnet-runtime.sh APP.runtimeconfig.json OUT_DIR}
out=${2:?usage: scripts/pack-dotnet-runtime.sh APP.runtimeconfig.json OUT_DIR}
[ -f "$config" ] || { echo "pack-dotnet-runtime: $config: no such file" >&2; exit 1; }

# What the app asks for: "name": "Microsoft.NETCore.App", "version": "10.0.0" in runtimeOptions.framework.
wanted=$(sed -n 's/.*"version": *"\([0-9]*\.[0-9]*\)\.[0-9].*/\1/p' "$config" | head -n 1)
[ -n "$wanted" ] || { echo "pack-dotnet-runtime: $config names no framework version" >&2; exit 1; }

command -v dotnet >/dev/null || { echo "pack-dotnet-runtime: no dotnet on PATH" >&2; exit 1; }
root=$(dirname "$(readlink -f "$(command -v dotnet)")")
framework=$(find "$root/shared/Microsoft.NETCore.App" -mindepth 1 -maxdepth 1 -type d -name "$wanted.*" -printf '%f\n' 2>/dev/null | sort -V | tail -n 1)
[ -n "$framework" ] || { echo "pack-dotnet-runtime: no Microsoft.NETCore.App $wanted.* under $root/shared" >&2; exit 1; }
fxr=$(find "$root/host/fxr" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n 1)
[ -n "$fxr" ] || { echo "pack-dotnet-runtime: no hostfxr under $root/host/fxr" >&2; exit 1; }

mkdir -p "$out"
archive=$out/dotnet-runtime.tar.xz
if [ -f "$archive" ] && [ "$(cat "$out/dotnet-runtime.version" 2>/dev/null)" = "$framework" ]; then
  echo "pack-dotnet-runtime: runtime $framework already in $archive"
  exit 0
fi
tar -C "$root" -cf - dotnet "host/fxr/$fxr" "shared/Microsoft.NETCore.App/$framework" | xz -T0 -6 >"$archive.part"
mv "$archive.part" "$archive"
echo "$framework" >"$out/dotnet-runtime.version"
echo "pack-dotnet-runtime: runtime $framework (hostfxr $fxr) from $root: $(du -h "$archive" | cut -f1) in $archive"
