#!/usr/bin/env bash
# Where the CPU path's time goes: `perf record -e cpu-clock` (a software event: VMs often have no hardware counters) over
# an ilgpu-unlearn command, JIT symbols named through the runtime's perf map, self time per symbol, the top 30, with the
# CPU, the commit and the load averages in the header (the format of bench/results/*-cpu-profile-*.txt).
#   bench/cpu/profile-step.sh OUT.txt bench --device cpu --batch-size 64 --steps 4 --warmup 1
set -eu
cd "$(dirname "$0")/../.."
out=$1; shift
command -v perf >/dev/null || { echo "profile-step.sh: perf not found (Debian: apt-get install linux-perf)" >&2; exit 2; }
app=src/IlgpuUnlearn.Cli/bin/Release/net10.0/ilgpu-unlearn
[ -x "$app" ] || { echo "profile-step.sh: $app not built (dotnet build src/IlgpuUnlearn.Cli -c Release)" >&2; exit 2; }
data=$(mktemp)
{
  echo "# perf record -e cpu-clock -F 1000, ilgpu-unlearn $*"
  echo "# CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//') (family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ') model $(grep -m1 '^model[[:space:]]*:' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')), $(nproc) logical CPUs, $(date -u +%FT%TZ), commit $(git rev-parse --short HEAD), load average at the start $(cut -d' ' -f1-3 /proc/loadavg)"
  DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 perf record -q -e cpu-clock -F 1000 -o "$data" -- "$app" "$@" 2>&1 | tr '\r' '\n' | grep -v '^step ' | grep -v '^$'
  echo "# load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 (JIT symbols); self time per symbol (share of this process's CPU time), top 30"
  perf report -i "$data" --no-children --sort sym --stdio 2>/dev/null | grep -E "^ +[0-9]" | head -30 || true
} > "$out.tmp"
mv "$out.tmp" "$out"
rm -f "$data"
