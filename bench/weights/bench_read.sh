#!/usr/bin/env bash
# Benchmark: reading a full-width (64) CIFAR ResNet18 .pth (about 45 MB of random float32 values) with
# torch.load versus the C# reader (weights-converter bench-read: in-process, after a warm-up), best of N each.
# Usage: bench/weights/bench_read.sh [REPEATS]   (needs /usr/bin/python3 or python3 with torch, and dotnet)
set -euo pipefail
cd "$(dirname "$0")/../.."
REPEATS="${1:-10}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

PYTHON=""
for candidate in /usr/bin/python3 python3; do
  if "$candidate" -c 'import torch' 2>/dev/null; then PYTHON="$candidate"; break; fi
done
[ -n "$PYTHON" ] || { echo "bench_read.sh: no python3 with torch found" >&2; exit 1; }

dotnet build weights-converter/IlgpuUnlearn.Weights.Cli -c Release -v quiet -nologo >/dev/null

FILE="$WORK/resnet18_cifar10_random.pth"
"$PYTHON" - "$FILE" <<'PY'
import sys
sys.path.insert(0, "tests/IlgpuUnlearn.Weights.Tests/fixtures")
import torch
from cifar_resnet18 import random_model
torch.save(random_model(64, seed=0).state_dict(), sys.argv[1])
PY
SIZE=$(stat -c %s "$FILE")

# Alternate the two readers for ROUNDS rounds (the machine may be shared and noisy); keep the best of each.
ROUNDS="${ROUNDS:-3}"
TORCH_BEST=""; CSHARP_BEST=""
for round in $(seq "$ROUNDS"); do
  TORCH_MS="$("$PYTHON" - "$FILE" "$REPEATS" <<'PY'
import sys, time
import torch
path, repeats = sys.argv[1], int(sys.argv[2])
torch.load(path)  # warm-up (page cache, imports)
best = float("inf")
for _ in range(repeats):
    start = time.perf_counter()
    torch.load(path)
    best = min(best, time.perf_counter() - start)
print(f"{best * 1000:.2f}")
PY
)"
  CSHARP_LINE="$(dotnet weights-converter/IlgpuUnlearn.Weights.Cli/bin/Release/net10.0/weights-converter.dll bench-read "$FILE" "$REPEATS")"
  CSHARP_MS="$(echo "$CSHARP_LINE" | sed -E 's/.*: ([0-9.]+) ms$/\1/')"
  echo "round $round: torch.load $TORCH_MS ms, C# $CSHARP_MS ms"
  TORCH_BEST="$(python3 -c "print(min(float(x) for x in '$TORCH_BEST $TORCH_MS'.split()))")"
  CSHARP_BEST="$(python3 -c "print(min(float(x) for x in '$CSHARP_BEST $CSHARP_MS'.split()))")"
done
echo "file: $SIZE bytes ($CSHARP_LINE)"
echo "torch.load best: $TORCH_BEST ms"
echo "C# WeightsFile.Load best: $CSHARP_BEST ms"
python3 -c "print(f'ratio C#/torch: {$CSHARP_BEST / $TORCH_BEST:.3f} (target <= 1)')"
# For information: ResNet18Mapping.Load, which also converts every tensor to a new float[] the model owns.
dotnet weights-converter/IlgpuUnlearn.Weights.Cli/bin/Release/net10.0/weights-converter.dll bench-map "$FILE" "$REPEATS"
