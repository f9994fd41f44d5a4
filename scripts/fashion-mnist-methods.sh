#!/usr/bin/env bash
# Every unlearning method on real data, offline: Debian's Fashion-MNIST (apt-get install dataset-fashion-mnist).
# Trains a base model and the model retrained without the forget class with `train` (the base recipe, on a subset for
# time: the first LIMIT/10 images of each class of each split, EPOCHS epochs), runs `unlearn --method M` for every
# method of the registry (the names `unlearn --help` lists under "Methods") from the base with each method's defaults
# (on the first UNLEARN_LIMIT/10 images of each class, a subset of those trained on), and prints the method x metric
# table (`report`; also table.md, table.csv, table.tex and the HTML page report.html). Steps whose outputs exist are
# skipped, so a stopped run continues. OUT/times.txt gets the CPU, the date, the load average and each command's wall
# time; OUT/M.log each command's console output.
#   scripts/fashion-mnist-methods.sh [OUT=fashion-mnist-methods] [FORGET=3] [LIMIT=10000] [EPOCHS=8] [WIDTH=16] [UNLEARN_LIMIT=LIMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-fashion-mnist-methods}; forget=${2:-3}; limit=${3:-10000}; epochs=${4:-8}; width=${5:-16}; unlearn_limit=${6:-$limit}
dotnet build src/IlgpuUnlearn.Cli -c Release -v q --nologo >/dev/null
app=$PWD/src/IlgpuUnlearn.Cli/bin/Release/net10.0/ilgpu-unlearn
mkdir -p "$out"
common=(--dataset fashion-mnist --device cpu)
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), $(nproc) logical CPUs, $(date -u +%FT%TZ)" | tee -a "$out/times.txt"
load() { cut -d' ' -f1-3 /proc/loadavg; }
# timed NAME LOG COMMAND...: runs COMMAND with its output in the console and LOG, then appends its wall time, the load
# averages (1, 5, 15 min) before and after, and its exit status if not 0 to times.txt; returns that status.
timed() {
  local name=$1 log=$2; shift 2; local t0=$SECONDS l0 rc=0; l0=$(load)
  "$@" 2>&1 | tee "$log" || rc=$?
  echo "$name $((SECONDS - t0)) s (load average before $l0, after $(load))$([ $rc = 0 ] || echo ", FAILED: exit $rc")" |
    tee -a "$out/times.txt"
  return $rc
}
methods=$("$app" unlearn --help | awk '/^Methods \(--method/ {on = 1; next} on && /^[^ ]/ {on = 0}
  on && match($0, /^  [a-z0-9+]+:/) {print substr($0, 3, RLENGTH - 3)}')
[ -n "$methods" ] || { echo "fashion-mnist-methods.sh: no method names in 'ilgpu-unlearn unlearn --help'" >&2; exit 1; }

[ -f "$out/base.pth" ] || timed "train base" "$out/base.log" "$app" train "${common[@]}" --limit "$limit" --width "$width" --epochs "$epochs" --out "$out/base.pth"
[ -f "$out/retrained.pth" ] || timed "train retrained" "$out/retrained.log" "$app" train "${common[@]}" --limit "$limit" --width "$width" --epochs "$epochs" \
  --exclude-class "$forget" --out "$out/retrained.pth"
# A method that fails is recorded in times.txt and its log, and the others still run; the script then exits non-zero.
failed=()
for m in $methods; do
  [ -f "$out/$m.pth" ] || timed "unlearn $m" "$out/$m.log" "$app" unlearn "${common[@]}" --limit "$unlearn_limit" --method "$m" --weights "$out/base.pth" \
    --retrained "$out/retrained.pth" --forget-class "$forget" --out "$out/$m.pth" || failed+=("$m")
done
# The tables and the page are made again from the reports each time (--force: they are derived, cheap, and a rerun that
# added a method must replace them).
"$app" report "$out"/*.report.json "$out"/*.log.jsonl --markdown "$out/table.md" --csv "$out/table.csv" --latex "$out/table.tex" \
  --html "$out/report.html" --force
[ ${#failed[@]} = 0 ] || { echo "fashion-mnist-methods.sh: failed: ${failed[*]} (see $out/<method>.log)" >&2; exit 1; }
