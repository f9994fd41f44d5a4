#!/usr/bin/env bash
# The whole real-size job (bench/real-size-run.sh) and its PyTorch + scikit-learn peer (bench/real_size_peer.py) back to
# back on this machine with the same bounds, then the per-phase table (bench/real_size_table.py): ours, peer, ratio
# (ours / peer), the metrics phases' share, and both sides' metrics. The peer trains and unlearns its own models (timed)
# but forwards ours (--models-from, the same cost), so that the two sides' MIA efficacy are of the same models.
# Writes ours.json, peer.json and table.txt into OUT.
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
  --forget-class "$FORGET" --threads "$(nproc)" --models-from "$OUT" --json "$OUT/peer.json"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
"$python" bench/real_size_table.py "$OUT" "$load_before" "$load_between" "$load_after" | tee "$OUT/table.txt"
