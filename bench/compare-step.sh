#!/usr/bin/env bash
# Training-step throughput of ilgpu-unlearn against the PyTorch peer, alternating the two ROUNDS times on this machine
# and keeping each side's best, so that load from elsewhere hurts both alike. Prints images/s, peak memory, and ratios.
# MODE=train times the `train` verb's step (crop-flip augmentation per batch; bench --augment against torch_peer.py train,
# batch 128 by default, the base recipe's); MODE=eval times evaluation-mode inference (bench-eval against torch_peer.py eval).
#   [MODE=step|train|eval] bench/compare-step.sh [DEVICE=cpu] [BATCH=64, 128 for train] [STEPS=5] [ROUNDS=3]
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${MODE:-step}
default_batch=64; [ "$mode" = train ] && default_batch=128
device=${1:-cpu}; batch=${2:-$default_batch}; steps=${3:-5}; rounds=${4:-3}
python=/usr/bin/python3; [ -x "$python" ] || python=python3
out=$(mktemp -d)
dotnet build src/IlgpuUnlearn.Cli -c Release -v q --nologo >/dev/null
app=src/IlgpuUnlearn.Cli/bin/Release/net10.0/ilgpu-unlearn
extra=()
case "$mode" in step) verb=bench; warmup=2 ;; train) verb=bench; warmup=2; extra=(--augment) ;; eval) verb=bench-eval; warmup=1 ;;
  *) echo "MODE must be step, train or eval" >&2; exit 2 ;; esac
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//') (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') model $(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')), $(nproc) logical CPUs; mode $mode; $(date -u +%FT%TZ); load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq 1 "$rounds"); do
  "$app" "$verb" --device "$device" --batch-size "$batch" --steps "$steps" --warmup "$warmup" "${extra[@]}" --json "$out/ours-$r.json" >/dev/null
  "$python" bench/torch_peer.py "$mode" --device "$device" --batch-size "$batch" --steps "$steps" --warmup "$warmup" --threads "$(nproc)" --json "$out/torch-$r.json" >/dev/null
  o=$(grep -o '"images_per_second":[0-9.]*' "$out/ours-$r.json" | cut -d: -f2); t=$(grep -o '"images_per_second": [0-9.]*' "$out/torch-$r.json" | cut -d' ' -f2)
  # bench-eval's JSON carries no GFLOP/s or peak: grep finds nothing there, which must not end the script (set -e).
  g=$(grep -o '"gflops_per_second":[0-9.]*' "$out/ours-$r.json" | cut -d: -f2 || true); p=$(grep -o '"fma_peak_gflops_per_second":[0-9.]*' "$out/ours-$r.json" | cut -d: -f2 || true)
  echo "round $r: ours $o images/s, torch $t images/s, ratio $("$python" -c "print(f'{$o / $t:.2f}')")${g:+; ours $g GFLOP/s of an FMA peak of $p}" \
    "(load average $(cut -d' ' -f1-3 /proc/loadavg))"
done
"$python" - "$out" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
ours = [json.load(open(p)) for p in glob.glob(os.path.join(out, "ours-*.json"))]
torch = [json.load(open(p)) for p in glob.glob(os.path.join(out, "torch-*.json"))]
bo = max(ours, key=lambda r: r["images_per_second"]); bt = max(torch, key=lambda r: r["images_per_second"])
print(f"best: ilgpu-unlearn {bo['images_per_second']:.1f} images/s on {bo['device']}; PyTorch {bt['torch']} {bt['images_per_second']:.1f} images/s")
print(f"throughput ratio (ours / PyTorch): {bo['images_per_second'] / bt['images_per_second']:.2f}x")
if "peak_memory_bytes" not in bo:
    sys.exit(0)
po = min(r["peak_memory_bytes"] for r in ours); pt = min(r["peak_memory_bytes"] for r in torch)
print(f"peak memory: ours {po / 2**20:.0f} MiB, PyTorch {pt / 2**20:.0f} MiB (ratio {po / pt:.2f})")
PY
