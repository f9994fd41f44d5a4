#!/usr/bin/env bash
# The run reports the HTML/LaTeX report tests render (Fixtures/report/): a tiny real run on the synthetic shapes, 50 images
# a class of each split, width 2, so every figure is in them (probe, relearn, CKA, verdicts, attack score histograms) and
# each file stays small. Base and retrained model 3 epochs (their training logs are kept for the training curves), then
# ft, ga and rl for one epoch each against them, forget class 3. Takes about a minute on 2 cores.
#   bash tests/IlgpuUnlearn.Tests/Fixtures/make_report_fixtures.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
dotnet build src/IlgpuUnlearn.Cli -c Release -v q --nologo >/dev/null
app=$PWD/src/IlgpuUnlearn.Cli/bin/Release/net10.0/ilgpu-unlearn
out=tests/IlgpuUnlearn.Tests/Fixtures/report
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
common=(--dataset synthetic --limit 500 --device cpu)
cd "$work"
"$app" train "${common[@]}" --width 2 --epochs 3 --batch-size 25 --out base.pth >/dev/null
"$app" train "${common[@]}" --width 2 --epochs 3 --batch-size 25 --exclude-class 3 --out retrained.pth >/dev/null
for m in ft ga rl; do
  "$app" unlearn "${common[@]}" --method "$m" --weights base.pth --retrained retrained.pth --forget-class 3 --epochs 1 \
    --bootstrap 50 --out "$m.pth" >/dev/null
done
cd - >/dev/null
cp "$work"/{ft,ga,rl}.report.json "$work"/{base,retrained}.log.jsonl "$out"/
ls -l "$out"
