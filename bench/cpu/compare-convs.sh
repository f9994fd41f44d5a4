#!/usr/bin/env bash
# Every ResNet18 convolution of the CPU path against PyTorch's, forward, backward-input and backward-weight, ours
# (`ilgpu-unlearn bench-kernels --device cpu`) and bench/cpu/torch_convs.py alternated ROUNDS times with the load average
# printed beside each, then the per-shape ratios of the best times (bench/cpu/compare.py). Tables are kept in OUT.
#   bench/cpu/compare-convs.sh [BATCH=64] [ROUNDS=2] [OUT=a new temporary folder]
set -euo pipefail
cd "$(dirname "$0")/../.."
batch=${1:-64}; rounds=${2:-2}; out=${3:-$(mktemp -d)}
mkdir -p "$out"
python=/usr/bin/python3; [ -x "$python" ] || python=python3
dotnet build src/IlgpuUnlearn.Cli -c Release -v q --nologo >/dev/null
app=src/IlgpuUnlearn.Cli/bin/Release/net10.0/ilgpu-unlearn
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) logical CPUs; batch $batch; tables in $out"
for r in $(seq 1 "$rounds"); do
  echo "round $r: ours, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  "$app" bench-kernels --device cpu --batch-size "$batch" --repeat 5 > "$out/ours-$r.txt"
  echo "round $r: torch, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  "$python" bench/cpu/torch_convs.py "$(nproc)" "$batch" > "$out/torch-$r.txt"
done
echo "load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
grep -h "CPU time\|FMA peak\|kernel plan" "$out"/ours-*.txt "$out"/torch-*.txt
"$python" bench/cpu/compare.py --ours "$out"/ours-*.txt --torch "$out"/torch-*.txt
