#!/usr/bin/env bash
# The whole GPU check in one call (see README "Running on a GPU"): prints the GPU, runs every kernel on CUDA against the
# CPU path on ResNet18's real shapes, checks the network against the PyTorch fixtures, times one AdvNegGrad epoch at
# batch 2500 and the same epoch in PyTorch (defaults, then TF32 off), and writes bench/results/<gpu>.json.
#
#   scripts/gpu-check.sh              on the GPU machine, after scripts/gpu-prepare.sh here (carry .gpu)
#   scripts/gpu-check.sh --dry-run    here, on the CPU path with small sizes, to prove the script itself
set -uo pipefail
cd "$(dirname "$0")/.."
dry=0; [ "${1:-}" = "--dry-run" ] && dry=1
out=${OUT:-/tmp/gpu-check-out}; mkdir -p "$out"
status=0
step() { echo; echo "=== $*"; }
run() { echo "+ $*"; "$@" || { echo "!!! failed ($?): $*"; status=1; }; }

if [ $dry = 1 ]; then
  device=cpu; torch_device=cpu; batch=64; retain=640; forget=64; selftest_batch=2; python=/usr/bin/python3
  app() { dotnet run --project src/IlgpuUnlearn.Cli -c Release --no-build -- "$@"; }
  dotnet build src/IlgpuUnlearn.Cli -c Release -v q --nologo >/dev/null
else
  device=cuda; torch_device=cuda; batch=2500; retain=45000; forget=5000; selftest_batch=256; python=python3
  mkdir -p /tmp/dotnet && tar -xJf .gpu/dotnet-runtime.tar.xz -C /tmp/dotnet
  export DOTNET_ROOT=/tmp/dotnet PATH=/tmp/dotnet:$PATH
  app() { dotnet .gpu/app/ilgpu-unlearn.dll "$@"; }
  step "GPU"; run nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv
fi

step "devices"; run app devices
step "every kernel against the CPU path (batch $selftest_batch, every ResNet18 layer shape)"
run app self-test --device $device --batch-size $selftest_batch --fixtures tests/IlgpuUnlearn.Tests/Fixtures
step "training step, batch 256"
run app bench --device $device --batch-size $([ $dry = 1 ] && echo 8 || echo 256) --steps 3 --warmup 1 --json "$out/step-ilgpu.json"
step "one AdvNegGrad epoch: ilgpu-unlearn"
run app bench-epoch --device $device --batch-size $batch --retain $retain --forget $forget --json "$out/epoch-ilgpu.json"
step "one AdvNegGrad epoch: PyTorch, defaults"
run $python bench/torch_peer.py epoch --device $torch_device --batch-size $batch --retain $retain --forget $forget --json "$out/epoch-torch.json"
if [ $dry = 0 ]; then
  step "one AdvNegGrad epoch: PyTorch, TF32 off"
  run $python bench/torch_peer.py epoch --device cuda --no-tf32 --batch-size $batch --retain $retain --forget $forget --json "$out/epoch-torch-fp32.json"
fi

step "summary"
$python - "$out" <<'PY'
import json, os, re, sys
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    return json.load(open(p)) if os.path.exists(p) else None
mine, torch, fp32, stepj = load("epoch-ilgpu.json"), load("epoch-torch.json"), load("epoch-torch-fp32.json"), load("step-ilgpu.json")
result = {"gpu": (torch or mine or {}).get("device"), "ilgpu_epoch": mine, "torch_epoch": torch, "torch_epoch_no_tf32": fp32, "ilgpu_step": stepj}
if mine and torch:
    result["epoch_time_ratio_vs_torch_defaults"] = mine["seconds"] / torch["seconds"]
    result["peak_memory_ratio_vs_torch"] = mine["peak_memory_bytes"] / max(torch["peak_memory_bytes"], 1)
    print(f"epoch: ilgpu {mine['seconds']:.1f} s, torch {torch['seconds']:.1f} s -> time ratio {result['epoch_time_ratio_vs_torch_defaults']:.2f}x")
    print(f"peak memory: ilgpu {mine['peak_memory_bytes']/2**30:.2f} GiB, torch {torch['peak_memory_bytes']/2**30:.2f} GiB")
if mine and fp32:
    result["epoch_time_ratio_vs_torch_no_tf32"] = mine["seconds"] / fp32["seconds"]
    print(f"epoch vs torch with TF32 off: {result['epoch_time_ratio_vs_torch_no_tf32']:.2f}x")
name = re.sub(r"[^A-Za-z0-9]+", "-", result["gpu"] or "unknown").strip("-").lower()
path = os.path.join(out, f"{name}.json")
json.dump(result, open(path, "w"), indent=2)
print(f"results: {path} (commit it under bench/results/)")
PY
exit $status
