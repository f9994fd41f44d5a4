#!/usr/bin/env bash
# The whole GPU check in one device call (README "Running on a GPU"). On the GPU machine (python3 with torch, no .NET):
#   1. unpacks the .NET runtime that scripts/gpu-prepare.sh packed into .gpu/, then `devices --diagnose`: the driver library
#      ILGPU will use, cuInit, the driver version, each GPU with the PTX ILGPU emits for it, a pinned-memory round trip. If no
#      GPU passes, the check stops there with that output (the rest would only fail the same way);
#   2. every kernel launch of an unlearning epoch at batch 2500 planned for this GPU's limits without running (`plan`);
#   3. the whole network on CUDA against the PyTorch fixtures (width 8: logits, loss, every gradient, running statistics,
#      two AdvNegGrad steps; full width: logits, loss, every gradient's norm and values);
#   4. every op on CUDA against the CPU path on every ResNet18 layer shape at batch 256;
#   5. one AdvNegGrad epoch at batch 2500 on random CIFAR-sized data (45,000 retain + 5,000 forget images): the first
#      3 of its 18 steps (all alike: 2500 + 2500 images), timed after an untimed warm-up step; epoch time (scaled),
#      images/s, TFLOP/s, peak GPU memory; then one training step at batch 256;
#   6. only then PyTorch on the same GPU (bench/torch_peer.py): the same epoch, whole, with PyTorch's defaults, then TF32 off,
#      and the same training step;
#   7. if the time left allows, the whole ilgpu-unlearn epoch (all 18 steps).
# ILGPU's steps come first: the CUDA path has never run, PyTorch's figures are only the yardstick. Every step has its own
# timeout and the whole script a budget of work (GPU_CHECK_BUDGET_S, 300 s; a dry run's clock starts after its build), so that
# with a machine's start a second complete call still fits into a session's 15 minutes of device time. After every step the
# results so far are written to $OUT/<gpu>.json (copy it to bench/results/ and commit it); the whole log goes to
# $OUT/gpu-check.log. Exit status: 0 when every step ran and every check passed, 1 otherwise.
#
#   scripts/gpu-prepare.sh                 here, first (builds and packs .gpu/)
#   device call: command "bash scripts/gpu-check.sh", carry [".gpu"], timeout_s 420
#   scripts/gpu-check.sh --dry-run         here: the same script end to end on the CPU path (runs gpu-prepare.sh first, then
#                                          starts the budget's clock, and uses the packed runtime as the GPU machine will):
#                                          the diagnosis (which finds no GPU here: that is expected), the plan at batch 2500
#                                          for sm_90's limits, the rest executed at small sizes
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

mode=gpu
case "${1:-}" in
  --dry-run) mode=dry-run ;;
  "") ;;
  *) echo "usage: scripts/gpu-check.sh [--dry-run]" >&2; exit 2 ;;
esac

out=${OUT:-/tmp/gpu-check-out}
work=$(mktemp -d /tmp/gpu-check.XXXXXX)
mkdir -p "$out"
exec 3>&1 4>&2 > >(tee "$out/gpu-check.log") 2>&1
tee_pid=$!

# finish STATUS: lets tee write the last lines before the script ends (the device call keeps the tail of the output)
finish() {
  rm -rf "$work"
  exec 1>&3 2>&4
  wait "$tee_pid" 2>/dev/null
  exit "$1"
}

budget=${GPU_CHECK_BUDGET_S:-300}
export PYTHONUNBUFFERED=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 GPU_CHECK_MODE=$mode

if [ $mode = dry-run ]; then
  bash scripts/gpu-prepare.sh || finish 1
  device=cpu; torch_device=cpu; python=/usr/bin/python3
  plan_device=sm90   # the ILGPU path's host decisions at the real batch size, for an H100/H200's limits
  # ILGPU's CPU accelerator: tiny shapes, and only the kernel versions the program runs (the other versions, explicitly grouped
  # with barriers, are two thirds of the checks and far slower to emulate; the tests check each of them on it)
  ops_device=ilgpu-cpu; ops_shapes=(--batch-size 2 --width 4 --image-size 8 --skip-versions)
  epoch=(--batch-size 16 --retain 32 --forget 16); epoch_steps=1   # 1 of 2 steps, so that step 7 runs too
  step_batch=4; step_counts=(--steps 2 --warmup 1)
  ops_limit=150; torch_limit=90   # ILGPU's CPU accelerator emulates each GPU thread; PyTorch 1.13 on 2 shared cores
  dotnet_root=$work/dotnet
else
  device=cuda; torch_device=cuda; python=python3
  plan_device=cuda
  ops_device=cuda; ops_shapes=(--batch-size 256)
  epoch=(--batch-size 2500 --retain 45000 --forget 5000); epoch_steps=3
  step_batch=256; step_counts=(--steps 5 --warmup 2)
  ops_limit=90; torch_limit=60
  dotnet_root=/tmp/dotnet
fi
deadline=$((SECONDS + budget))   # after the build of a dry run: the budget is the work the GPU machine will do
app=(dotnet .gpu/app/ilgpu-unlearn.dll)
fixtures=tests/IlgpuUnlearn.Tests/Fixtures
status=0

# ---- helpers -----------------------------------------------------------------------------------------------------------

# record KEY STATUS RC SECONDS LIMIT PEAK_MIB: one line of steps.jsonl
record() {
  printf '{"step": "%s", "status": "%s", "rc": %s, "seconds": %s, "limit_s": %s, "gpu_memory_peak_mib": %s}\n' \
    "$1" "$2" "$3" "$4" "$5" "${6:-null}" >>"$work/steps.jsonl"
}

summary() { "$python" scripts/gpu_check_summary.py "$work" "$result" "$@"; }

# step KEY LIMIT_S COMMAND...: runs COMMAND under `timeout`, within what is left of the budget; samples the GPU's used
# memory meanwhile (nvidia-smi, GPU mode); records how it went; refreshes the result file.
step() {
  local key=$1 limit=$2; shift 2
  local left=$((deadline - SECONDS))
  echo
  if ((left < 20)); then
    echo "=== $key: skipped, the ${budget} s budget is spent"
    record "$key" skipped null 0 0; status=1; return 1
  fi
  ((limit > left)) && limit=$left
  echo "=== $key (limit ${limit} s): $*"
  local sampler="" start=$SECONDS rc peak=null
  if [ $mode = gpu ] && command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$work/memory-$key.txt" 2>/dev/null &
    sampler=$!
  fi
  timeout -k 10 "$limit" "$@"
  rc=$?
  if [ -n "$sampler" ]; then
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
    peak=$(sort -n "$work/memory-$key.txt" | tail -n 1); [[ $peak =~ ^[0-9]+$ ]] || peak=null
  fi
  local how=ok
  if ((rc == 124 || rc == 137)); then how=timed-out; echo "!!! $key: timed out after $limit s"
  elif ((rc != 0)); then how=failed; echo "!!! $key: exit status $rc"; fi
  ((rc != 0)) && status=1
  record "$key" "$how" "$rc" $((SECONDS - start)) "$limit" "$peak"
  summary --quiet
  return $rc
}

# ---- 1. runtime, GPU, diagnosis; 2. the plan ---------------------------------------------------------------------------

echo "=== gpu-check ($mode) in $repo, budget $budget s, results in $out; load average $(cut -d' ' -f1-3 /proc/loadavg)"
if [ ! -f .gpu/app/ilgpu-unlearn.dll ] || [ ! -f .gpu/dotnet-runtime.tar.xz ]; then
  echo "!!! .gpu/ is missing: run scripts/gpu-prepare.sh on the build machine and name .gpu in the device call's carry"
  finish 1
fi
mkdir -p "$dotnet_root"
timeout 120 tar -xJf .gpu/dotnet-runtime.tar.xz -C "$dotnet_root" || { echo "!!! could not unpack the .NET runtime"; finish 1; }
export DOTNET_ROOT=$dotnet_root PATH=$dotnet_root:$PATH
echo "dotnet: $(command -v dotnet), runtime $(dotnet --list-runtimes | tr '\n' ' ')"

gpu_name="dry run on the CPU path ($(nproc) cores)"
gpu_details=""
if [ $mode = gpu ]; then
  timeout 30 nvidia-smi || true
  gpu_details=$(timeout 30 nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader 2>/dev/null | head -n 1)
  gpu_name=$(echo "$gpu_details" | cut -d, -f1 | sed 's/^ *//; s/ *$//')
  [ -n "$gpu_name" ] || gpu_name="unknown GPU"
fi
slug=$(echo "$gpu_name" | tr 'A-Z' 'a-z' | sed 's/[^a-z0-9]\{1,\}/-/g; s/^-//; s/-$//')
[ $mode = dry-run ] && slug=dry-run-cpu
result=$out/$slug.json
"$python" - "$work/info.json" "$mode" "$gpu_name" "$gpu_details" "$(tr '\n' ';' <.gpu/build.txt 2>/dev/null)" \
  "$("$python" -c 'import torch; print(torch.__version__)' 2>/dev/null)" "$(dotnet --list-runtimes | tr '\n' ';')" <<'PY'
import json, platform, sys, time
path, mode, gpu, details, build, torch, dotnet = sys.argv[1:]
json.dump({"mode": mode, "gpu": gpu, "nvidia_smi": details, "build": build.strip(";").replace(";", "; "), "torch": torch, "dotnet": dotnet.strip(";"),
           "host": platform.node(), "cpus": __import__("os").cpu_count(), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
          open(path, "w"), indent=2)
PY
# `devices --diagnose`, its output also in $work/diagnose.txt for the result file. On the GPU its exit status says whether a GPU
# passed; in the dry run there is none, and what counts is that the diagnosis ran through and said so.
diagnose=(bash -c '"$@" devices --diagnose 2>&1 | tee "$0"; rc=${PIPESTATUS[0]}
  if [ "$GPU_CHECK_MODE" = dry-run ]; then grep -q "^usable CUDA GPUs: " "$0"; else exit "$rc"; fi' "$work/diagnose.txt" "${app[@]}")
if ! step diagnose 60 "${diagnose[@]}" && [ $mode = gpu ]; then
  echo
  echo "!!! no usable CUDA GPU (see the diagnosis above): the other steps would fail the same way, so the check stops here"
  summary
  finish 1
fi
# The real batch size in both modes: 2500 and 45,000 retain images, as the epoch below on the GPU.
step plan 60 "${app[@]}" plan --device "$plan_device" --batch-size 2500 --retain 45000

# ---- 3. the network against PyTorch's fixtures -------------------------------------------------------------------------

step selftest-fixtures 90 "${app[@]}" self-test --device "$device" --skip-ops --fixtures "$fixtures" \
  --json "$work/selftest-fixtures.json"

# ---- 4. every op against the CPU path ----------------------------------------------------------------------------------

step selftest-ops $ops_limit "${app[@]}" self-test --device "$ops_device" "${ops_shapes[@]}" --skip-fixtures --json "$work/selftest-ops.json"

# ---- 5. ilgpu-unlearn: the first steps of one AdvNegGrad epoch, one training step --------------------------------------

step epoch-ilgpu 100 "${app[@]}" bench-epoch --device "$device" "${epoch[@]}" --steps $epoch_steps --json "$work/epoch-ilgpu.json"
step step-ilgpu 45 "${app[@]}" bench --device "$device" --batch-size $step_batch "${step_counts[@]}" --json "$work/step-ilgpu.json"

# ---- 6. PyTorch: the same epoch (defaults, then TF32 off) and step -----------------------------------------------------

step epoch-torch $torch_limit "$python" bench/torch_peer.py epoch --device "$torch_device" "${epoch[@]}" --json "$work/epoch-torch.json"
step epoch-torch-no-tf32 $torch_limit "$python" bench/torch_peer.py epoch --device "$torch_device" --no-tf32 "${epoch[@]}" \
  --json "$work/epoch-torch-no-tf32.json"
step step-torch 45 "$python" bench/torch_peer.py step --device "$torch_device" --batch-size $step_batch "${step_counts[@]}" \
  --json "$work/step-torch.json"

# ---- 7. the whole ilgpu-unlearn epoch, if the time left allows -----------------------------------------------------------

read -r per_step steps_per_epoch timed < <("$python" -c '
import json, sys
try:
    d = json.load(open(sys.argv[1])); print(d["timed_seconds"] / d["steps"], d["steps_per_epoch"], d["steps"])
except Exception:
    print(0, 0, 0)' "$work/epoch-ilgpu.json")
need=$("$python" -c "import math; print(math.ceil(1.5 * $per_step * ($steps_per_epoch + 1) + 20))")
if ((timed > 0 && timed < steps_per_epoch)); then
  if ((need < deadline - SECONDS)); then
    step epoch-ilgpu-full $need "${app[@]}" bench-epoch --device "$device" "${epoch[@]}" --json "$work/epoch-ilgpu-full.json"
  else
    echo; echo "=== epoch-ilgpu-full: left out (needs about $need s, $((deadline - SECONDS)) s left); the epoch figures are from $timed of $steps_per_epoch steps"
  fi
fi

# ---- summary -----------------------------------------------------------------------------------------------------------

echo
echo "=== summary"
summary
for part in selftest-fixtures selftest-ops; do
  "$python" -c 'import json, sys; sys.exit(0 if json.load(open(sys.argv[1]))["passed"] else 1)' "$work/$part.json" 2>/dev/null || status=1
done
if [ $mode = gpu ]; then
  mkdir -p bench/results && cp "$result" bench/results/   # in this copy of the tree; the device call returns $OUT's copy
fi
echo "gpu-check: $([ $status = 0 ] && echo 'every step ran and every check passed' || echo 'SOMETHING FAILED OR WAS SKIPPED (see the lines with !!! or skipped above)'), $SECONDS s"
echo "commit the results: cp <files_at>/$slug.json bench/results/ && git add bench/results/$slug.json"
finish $status
