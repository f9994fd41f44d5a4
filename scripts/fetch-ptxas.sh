#!/usr/bin/env bash
# Fetches NVIDIA's PTX assembler (ptxas) into .ptxas/bin/ of this repository (git-ignored) for the ptxas test
# (tests/IlgpuUnlearn.Tests/Kernels/PtxasTests.cs). ptxas is a standalone binary in Debian's nvidia-cuda-toolkit package
# (component non-free): the .deb (about 84 MB) is downloaded and unpacked, nothing is installed, no GPU or driver is needed.
# Debian bookworm's package is CUDA 11.8, whose ptxas accepts PTX ISA up to 7.8 and targets sm_50 .. sm_90.
#   scripts/fetch-ptxas.sh          once; then dotnet test finds .ptxas/bin/ptxas (or set ILGPU_UNLEARN_PTXAS=/path/to/ptxas)
# Needs root or sudo only when the non-free component is not yet among apt's sources (it adds it, then apt-get update).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.ptxas
if [ -x "$dir/bin/ptxas" ] && "$dir/bin/ptxas" --version >/dev/null 2>&1; then
  echo "ptxas already here: $dir/bin/ptxas ($("$dir/bin/ptxas" --version | tail -n 1))"
  exit 0
fi
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -E"
if ! apt-cache policy nvidia-cuda-toolkit 2>/dev/null | grep -q 'Candidate: [0-9]'; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-bookworm}")
  echo "fetch-ptxas: adding Debian's non-free component ($codename) to apt's sources"
  printf 'Types: deb\nURIs: http://deb.debian.org/debian\nSuites: %s\nComponents: non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$codename" | $sudo tee /etc/apt/sources.list.d/ilgpu-unlearn-nonfree.sources >/dev/null
  $sudo apt-get update -q >/dev/null
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 777 "$tmp"   # apt-get download runs as the _apt user where it can
(cd "$tmp" && apt-get download -q nvidia-cuda-toolkit >/dev/null)
dpkg -x "$tmp"/nvidia-cuda-toolkit_*.deb "$tmp/unpacked"
mkdir -p "$dir/bin"
cp "$tmp/unpacked/usr/bin/ptxas" "$dir/bin/ptxas.tmp"
mv "$dir/bin/ptxas.tmp" "$dir/bin/ptxas"
echo "fetch-ptxas: $dir/bin/ptxas ($("$dir/bin/ptxas" --version | tail -n 1))"
