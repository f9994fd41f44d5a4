#!/usr/bin/env bash
# Every unlearning method on real data, offline: Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist).
# Trains a base model and the model retrained without the forget class with `train` (the base recipe, on a subset for
# time: the first LIMIT/10 images of each class of each split, EPOCHS epochs), runs `unlearn --method M` for every
# method from the base with each method's defaults (on the first UNLEARN_LIMIT/10 images of each class, a subset of
# those trained on), and prints the method x metric table (`report`; also table.md, table.csv, table.tex and the HTML page
# report.html). Steps whose outputs exist are skipped, so a
# stopped run continues.
#   scripts/fashion-mnist-methods.sh [OUT=fashion-mnist-methods] [FORGET=3] [LIMIT=10000] [EPOCHS=8] [WIDTH=16] [UNLEARN_LIMIT=LIMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-fashion-mnist-methods}; forget=${2:-3}; limit=${3:-10000}; epochs=${4:-8}; width=${5:-16}; unlearn_limit=${6:-$limit}
dotnet build src/IlgpuUnlearn.Cli -c Release -v q --nologo >/dev/null
app=$PWD/src/IlgpuUnlearn.Cli/bin/Release/net10.0/ilgpu-unlearn
mkdir -p "$out"
common=(--dataset fashion-mnist --device cpu)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) logical CPUs, $(date -u +%FT%TZ)" | tee -a "$out/times.txt"
timed() { local name=$1; shift; local t0=$SECONDS; "$@"; echo "$name $((SECONDS - t0)) s" | tee -a "$out/times.txt"; }

[ -f "$out/base.pth" ] || timed "train base" "$app" train "${common[@]}" --limit "$limit" --width "$width" --epochs "$epochs" --out "$out/base.pth"
[ -f "$out/retrained.pth" ] || timed "train retrained" "$app" train "${common[@]}" --limit "$limit" --width "$width" --epochs "$epochs" \
  --exclude-class "$forget" --out "$out/retrained.pth"
for m in advneggrad ft ga rl salun scrub; do
  [ -f "$out/$m.pth" ] || timed "unlearn $m" "$app" unlearn "${common[@]}" --limit "$unlearn_limit" --method "$m" --weights "$out/base.pth" \
    --retrained "$out/retrained.pth" --forget-class "$forget" --out "$out/$m.pth"
done
# The tables and the page are made again from the reports each time (--force: they are derived, cheap, and a rerun that
# added a method must replace them).
"$app" report "$out"/*.report.json "$out"/*.log.jsonl --markdown "$out/table.md" --csv "$out/table.csv" --latex "$out/table.tex" \
  --html "$out/report.html" --force
