#!/usr/bin/env bash
# The first half of the test command (README's, and what .ci/run runs): installs what the tests need on this machine
# when it is missing; `dotnet test` follows it:
#   bash scripts/test-setup.sh && dotnet test IlgpuUnlearn.sln -c Release                          every test
#   bash scripts/test-setup.sh && dotnet test IlgpuUnlearn.sln -c Release --filter "Category!=Slow" the fast ones only
# What it installs (Debian; root, or sudo for apt-get), each only when missing:
#   python3-torch          the converter's round-trip test loads what the converter writes with PyTorch (TorchWriterTests)
#   dataset-fashion-mnist  the tests on the real Fashion-MNIST files (reader, the normalisation preset's statistics)
#   librsvg2-bin           rsvg-convert, which renders every picture the tool draws to check what is drawn (PictureRenderTests)
#   texlive-latex-base, texlive-latex-recommended  pdflatex and booktabs, which typeset `report --latex`'s table (MethodTableTests)
#   chromium               headless Chromium, which loads `report --html`'s page to check it for script errors and sections (ReportHtmlTests)
#   gcc, libc6-dev         the driver tests build a stand-in CUDA driver (libcuda.so.1) from C
#   debian-archive-keyring what scripts/fetch-ptxas.sh verifies Debian's non-free package with
#   ptxas                  NVIDIA's PTX assembler, unpacked (not installed) into .ptxas/ by scripts/fetch-ptxas.sh (PtxasTests)
# It does not install .NET: it needs the .NET 10 SDK on PATH (https://dotnet.microsoft.com/download) and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dotnet >/dev/null 2>&1; then
  echo "scripts/test-setup.sh: dotnet not found: install the .NET 10 SDK (https://dotnet.microsoft.com/download), then run this again" >&2
  exit 1
fi
missing=()
/usr/bin/python3 -c 'import torch' 2>/dev/null || missing+=(python3-torch)
[ -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] || missing+=(dataset-fashion-mnist)
command -v rsvg-convert >/dev/null 2>&1 || missing+=(librsvg2-bin)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
kpsewhich booktabs.sty >/dev/null 2>&1 || missing+=(texlive-latex-base texlive-latex-recommended)
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
if [ ${#missing[@]} -gt 0 ]; then
  echo "scripts/test-setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -E"
  $sudo apt-get update -q
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
bash scripts/fetch-ptxas.sh
