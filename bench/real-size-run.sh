#!/usr/bin/env bash
# The whole job at the real size with ilgpu-unlearn, phase by phase (issue 17 item 6): `train` a base and a
# retrained-without-k model on Fashion-MNIST, then `unlearn --dataset fashion-mnist` with the card's settings (AdvNegGrad),
# the retrained reference and every metric on the WHOLE data set (70,000 images per model: base, unlearned, retrained),
# --no-cache so every model is forwarded. Writes $OUT/ours.json: the train runs' wall times and the unlearn manifest's
# phases (consecutive, adding up to its wall_seconds), and prints them.
#   [WIDTH=64] [TRAIN_LIMIT=2560] [TRAIN_EPOCHS=1] [UNLEARN_STEPS=2] [FORGET=3] [BELOW_LOGITS=probe,relearn,cka] [OUT=dir] bench/real-size-run.sh
# BELOW_LOGITS is unlearn's --below-logits (the figures below the logits have no peer; `none` leaves them out).
# The full-width job as the issue asks (what the defaults run): WIDTH=64 bench/real-size-run.sh
# Bounded on a CPU: TRAIN_LIMIT images per epoch for each base (`train --limit`), UNLEARN_STEPS steps of 2,500 + 2,500
# images (`unlearn --max-steps`); the evaluation is never bounded. TRAIN_LIMIT=0 trains on all 60,000.
set -euo pipefail
cd "$(dirname "$0")/.."
width=${WIDTH:-64}; limit=${TRAIN_LIMIT:-2560}; epochs=${TRAIN_EPOCHS:-1}; steps=${UNLEARN_STEPS:-2}; k=${FORGET:-3}
below=${BELOW_LOGITS:-probe,relearn,cka}
out=${OUT:-$(mktemp -d)}; mkdir -p "$out"
data=${DATA:-/usr/share/datasets/fashion-mnist}
python=/usr/bin/python3; [ -x "$python" ] || python=python3
dotnet build src/IlgpuUnlearn.Cli -c Release -v q --nologo >/dev/null
app=src/IlgpuUnlearn.Cli/bin/Release/net10.0/ilgpu-unlearn
limit_args=(); [ "$limit" != 0 ] && limit_args=(--limit "$limit")
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) logical CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "ours: width $width, train ${limit_args[*]:-all images} x $epochs epoch(s), unlearn --max-steps $steps, forget class $k, in $out"
rm -f "$out"/base.pth* "$out"/retrained.pth* "$out"/unlearned*
now() { date +%s.%N; }
t0=$(now)
"$app" train --dataset fashion-mnist --data "$data" --width "$width" --epochs "$epochs" "${limit_args[@]}" --device cpu --out "$out/base.pth"
t1=$(now)
"$app" train --dataset fashion-mnist --data "$data" --width "$width" --epochs "$epochs" "${limit_args[@]}" --device cpu \
  --exclude-class "$k" --out "$out/retrained.pth"
t2=$(now)
"$app" unlearn --dataset fashion-mnist --data "$data" --weights "$out/base.pth" --retrained "$out/retrained.pth" --forget-class "$k" \
  --device cpu --max-steps "$steps" --no-cache --below-logits "$below" --out "$out/unlearned.pth" --report-json "$out/unlearned.report.json"
"$python" - "$out" "$t0" "$t1" "$t2" "$width" "$limit" "$epochs" "$steps" "$k" <<'PY'
import json, os, sys
out, t0, t1, t2 = sys.argv[1], *map(float, sys.argv[2:5])
width, limit, epochs, steps, k = map(int, sys.argv[5:])
manifest = json.load(open(os.path.join(out, "unlearned.pth.manifest.json")))
phases = [{"name": "train base (whole process)", "seconds": t1 - t0}, {"name": "train retrained (whole process)", "seconds": t2 - t1}]
phases += manifest["phases"]
result = {"tool": "ilgpu-unlearn", "width": width, "train_limit": limit or None, "train_epochs": epochs, "unlearn_steps": steps,
          "forget_class": k, "unlearn_wall_seconds": manifest["wall_seconds"], "phases": phases,
          "wall_seconds": (t2 - t0) + manifest["wall_seconds"]}
with open(os.path.join(out, "ours.json.tmp"), "w") as f:
    json.dump(result, f, indent=1)
os.replace(os.path.join(out, "ours.json.tmp"), os.path.join(out, "ours.json"))
for p in phases:
    print(f"{p['seconds']:9.1f} s  {p['name']}")
print(f"{manifest['wall_seconds']:9.1f} s  unlearn run (manifest wall_seconds; the phases above from 'start-up' add up to it)")
PY
