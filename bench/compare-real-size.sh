#!/usr/bin/env bash
# The whole real-size job (bench/real-size-run.sh) and its PyTorch + scikit-learn peer (bench/real_size_peer.py) back to
# back on this machine with the same bounds, then a per-phase table: ours, peer, ratio (ours / peer), and the metrics
# phases' share of the unlearn run. Writes ours.json, peer.json and table.txt into OUT.
#   [WIDTH=64] [TRAIN_LIMIT=2560] [TRAIN_EPOCHS=1] [UNLEARN_STEPS=2] [FORGET=3] [OUT=dir] bench/compare-real-size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export WIDTH=${WIDTH:-64} TRAIN_LIMIT=${TRAIN_LIMIT:-2560} TRAIN_EPOCHS=${TRAIN_EPOCHS:-1} UNLEARN_STEPS=${UNLEARN_STEPS:-2} FORGET=${FORGET:-3}
export OUT=${OUT:-$(mktemp -d)}; mkdir -p "$OUT"
python=/usr/bin/python3; [ -x "$python" ] || python=python3
limit_arg=(); [ "$TRAIN_LIMIT" != 0 ] && limit_arg=(--train-limit "$TRAIN_LIMIT")
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
bench/real-size-run.sh
load_between=$(cut -d' ' -f1-3 /proc/loadavg)
"$python" bench/real_size_peer.py --width "$WIDTH" "${limit_arg[@]}" --train-epochs "$TRAIN_EPOCHS" --unlearn-steps "$UNLEARN_STEPS" \
  --forget-class "$FORGET" --threads "$(nproc)" --json "$OUT/peer.json"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
"$python" - "$OUT" "$load_before" "$load_between" "$load_after" <<'PY' | tee "$OUT/table.txt"
import json, os, re, sys
out = sys.argv[1]
ours = json.load(open(os.path.join(out, "ours.json"))); peer = json.load(open(os.path.join(out, "peer.json")))
cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))

def group(name):
    """The table's row of a phase of ours (manifest names) or of the peer."""
    if name.startswith("train base"): return "train base"
    if name.startswith("train retrained"): return "train retrained"
    if name in ("start-up and checks", "load data and weights", "open the device and build the model", "load"): return "load (start-up, data, model)"
    if name == "unlearning": return "unlearning steps"
    if name.startswith("forward base"): return "forward base (70,000)"
    if "retrained model" in name or name == "forward retrained": return "forward retrained (70,000)"
    if "unlearned model" in name or name == "forward unlearned": return "forward unlearned (70,000)"
    m = re.match(r"metrics (\w+): (.*)", name)
    if m: return f"metrics: {m.group(2)}"
    return "other (reports, pictures, save, hashes)"

rows = {}
for side, data in (("ours", ours), ("peer", peer)):
    for p in data["phases"]:
        r = rows.setdefault(group(p["name"]), {"ours": 0.0, "peer": 0.0, "seen": set()})
        r[side] += p["seconds"]; r["seen"].add(side)
print(f"cpu: {cpu}, {os.cpu_count()} logical CPUs; load average before ours {sys.argv[2]}, before the peer {sys.argv[3]}, after {sys.argv[4]}")
print(f"width {ours['width']}, train limit {ours['train_limit'] or 'all'} x {ours['train_epochs']} epoch(s), unlearn steps {ours['unlearn_steps']}, "
      f"forget class {ours['forget_class']}; peer torch {peer['torch']}, scikit-learn {peer['sklearn']}, {peer['threads']} threads")
print(f"| phase | ours (s) | peer (s) | ours / peer |\n|---|---:|---:|---:|")
def fmt(r, side): return f"{r[side]:.1f}" if side in r["seen"] else "-"
for name, r in rows.items():
    ratio = f"{r['ours'] / r['peer']:.2f}" if {"ours", "peer"} <= r["seen"] and r["peer"] > 0 else "-"
    print(f"| {name} | {fmt(r, 'ours')} | {fmt(r, 'peer')} | {ratio} |")
metrics = lambda d: sum(p["seconds"] for p in d["phases"] if p["name"].startswith("metrics "))
both = lambda d, pred: sum(p["seconds"] for p in d["phases"] if pred(p["name"]))
print(f"| whole job | {ours['wall_seconds']:.1f} | {peer['wall_seconds']:.1f} | {ours['wall_seconds'] / peer['wall_seconds']:.2f} |")
no_train = lambda n: not n.startswith("train ")
ot, pt = both(ours, no_train), both(peer, no_train)
print(f"| unlearn run (without the two trainings) | {ot:.1f} | {pt:.1f} | {ot / pt:.2f} |")
print(f"metrics share: ours {100 * metrics(ours) / ot:.1f}% of the unlearn run ({100 * metrics(ours) / ours['wall_seconds']:.1f}% of the whole job); "
      f"peer {100 * metrics(peer) / pt:.1f}% ({100 * metrics(peer) / peer['wall_seconds']:.1f}%)")
PY
