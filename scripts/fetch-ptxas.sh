#!/usr/bin/env bash
# Fetches NVIDIA's PTX assembler (ptxas) and SASS disassembler (nvdisasm) into .ptxas/bin/ of this repository (git-ignored) for
# the assembly test (tests/IlgpuUnlearn.Tests/Kernels/PtxasTests.cs). Both are standalone binaries in Debian's
# nvidia-cuda-toolkit package (component non-free); the .deb (about 87 MB) is downloaded and unpacked, nothing is installed, no
# GPU or driver is needed. The package is Debian 13 (trixie)'s, CUDA 12.4.131, whose ptxas reads PTX ISA up to 8.4 (bookworm's
# 11.8 stops at 7.8; ILGPU emits 8.8 for today's drivers) and targets sm_50 .. sm_90a; its binaries need only glibc 2.34 or newer,
# so they run on bookworm too. apt-get runs with its own sources list and state under a temporary folder: this machine's apt
# sources are not changed, and neither root nor sudo is needed.
#   scripts/fetch-ptxas.sh          once; then dotnet test finds .ptxas/bin/ptxas (or set ILGPU_UNLEARN_PTXAS=/path/to/ptxas)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.ptxas
release=12.4
if [ -x "$dir/bin/ptxas" ] && [ -x "$dir/bin/nvdisasm" ] && "$dir/bin/ptxas" --version 2>/dev/null | grep -q "release $release,"; then
  echo "ptxas already here: $dir/bin/ptxas ($("$dir/bin/ptxas" --version | tail -n 1))"
  exit 0
fi
command -v apt-get >/dev/null && command -v dpkg >/dev/null || { echo "fetch-ptxas: needs apt-get and dpkg (Debian or Ubuntu)" >&2; exit 1; }
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || { echo "fetch-ptxas: $keyring is missing (apt-get install debian-archive-keyring)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
mkdir -p "$tmp/sources" "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: trixie\nComponents: non-free\nSigned-By: %s\n' "$keyring" \
  >"$tmp/sources/trixie-non-free.sources"
apt=(-o "Dir::Etc::SourceList=/dev/null" -o "Dir::Etc::SourceParts=$tmp/sources" -o "Dir::State::Lists=$tmp/lists"
     -o "Dir::Cache=$tmp/cache" -o "Dir::State::Status=/dev/null" -o "APT::Sandbox::User=$(id -un)")
apt-get "${apt[@]}" update -q >"$tmp/update.log" 2>&1 || { cat "$tmp/update.log" >&2; echo "fetch-ptxas: apt-get update of Debian trixie non-free failed" >&2; exit 1; }
version=$(apt-cache "${apt[@]}" policy nvidia-cuda-toolkit | sed -n 's/^ *Candidate: //p')
case "$version" in
  "$release".*) ;;
  *) echo "fetch-ptxas: Debian trixie's nvidia-cuda-toolkit is '${version:-missing}', not $release.x" >&2; exit 1 ;;
esac
(cd "$tmp/deb" && apt-get "${apt[@]}" download -q "nvidia-cuda-toolkit=$version" >/dev/null)
dpkg -x "$tmp"/deb/nvidia-cuda-toolkit_*.deb "$tmp/unpacked"
mkdir -p "$dir/bin"
for tool in ptxas nvdisasm; do
  cp "$tmp/unpacked/usr/bin/$tool" "$dir/bin/$tool.tmp"
  mv "$dir/bin/$tool.tmp" "$dir/bin/$tool"
done
echo "fetch-ptxas: $dir/bin/ptxas and nvdisasm from nvidia-cuda-toolkit $version ($("$dir/bin/ptxas" --version | tail -n 1))"
