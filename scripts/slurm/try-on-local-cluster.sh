#!/bin/bash
# Proves the Slurm recipe on this machine: starts a one-node Slurm cluster (munged, slurmctld, slurmd; config, state
# and logs in a temporary folder, nothing installed system-wide is changed), trains a tiny grey base model on the
# shipped Fashion-MNIST subset, runs forget-all.sbatch as a 10-task job array (sbatch --array=0-9 --wait), merges the
# reports into the card's table, checks it has all ten rows, and stops the cluster (also on failure or Ctrl-C).
#
#   bash scripts/slurm/try-on-local-cluster.sh [WORK_FOLDER]
#
# Needs Debian's slurm-wlm (slurmctld, slurmd, sbatch) and munge, run as root (slurmd starts jobs as their user),
# and a built program: dotnet build src/IlgpuUnlearn.Cli -c Release. Takes a few minutes on 2 cores.
# Ports 6917/6918 (SLURM_TRY_PORT, SLURM_TRY_PORT + 1) must be free.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
dll=$repo/src/IlgpuUnlearn.Cli/bin/Release/net10.0/ilgpu-unlearn.dll
work=${1:-$(mktemp -d /tmp/ilgpu-unlearn-slurm.XXXXXX)}
port=${SLURM_TRY_PORT:-6917}
for tool in munged slurmctld slurmd sbatch scontrol dotnet python3; do
    command -v "$tool" >/dev/null || { echo "try-on-local-cluster: $tool is missing (apt-get install slurm-wlm munge)" >&2; exit 1; }
done
[[ -f $dll ]] || { echo "try-on-local-cluster: build first: dotnet build $repo/src/IlgpuUnlearn.Cli -c Release" >&2; exit 1; }
[[ $(id -u) == 0 ]] || { echo "try-on-local-cluster: run as root (slurmd must start jobs)" >&2; exit 1; }

cluster=$work/cluster
mkdir -p "$cluster/state" "$cluster/spool" "$cluster/munge"
chmod 700 "$cluster/munge"
host=$(hostname -s)
cpus=$(nproc)
export SLURM_CONF=$cluster/slurm.conf
cat > "$SLURM_CONF" <<CONF
ClusterName=ilgpu-unlearn-try
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$cluster/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$cluster/state
SlurmdSpoolDir=$cluster/spool
SlurmctldPidFile=$cluster/slurmctld.pid
SlurmdPidFile=$cluster/slurmd.pid
SlurmctldLogFile=$cluster/slurmctld.log
SlurmdLogFile=$cluster/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=try Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF

stop() {
    echo "stopping the cluster"
    scontrol shutdown >/dev/null 2>&1 || true
    for pidfile in "$cluster/slurmd.pid" "$cluster/slurmctld.pid" "$cluster/munge/munged.pid"; do
        if [[ -s $pidfile ]]; then
            pid=$(cat "$pidfile" 2>/dev/null) || continue
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; kill "$pid" 2>/dev/null || true; sleep 0.1; done
        fi
    done
}
trap stop EXIT

echo "starting munged, slurmctld and slurmd (config and logs in $cluster)"
dd if=/dev/urandom of="$cluster/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$cluster/munge/munge.key"
munged --force --key-file="$cluster/munge/munge.key" --socket="$cluster/munge/munge.socket" \
    --pid-file="$cluster/munge/munged.pid" --log-file="$cluster/munge/munged.log" --seed-file="$cluster/munge/munged.seed"
slurmctld -c -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 60); do
    state=$(sinfo -h -N -o %t 2>/dev/null || true)
    [[ $state == idle* ]] && break
    sleep 1
done
[[ $state == idle* ]] || { echo "the node did not come up (state '$state'); see $cluster/*.log" >&2; exit 1; }
sinfo

program="dotnet $dll"
data=$repo/data/fashion-mnist-demo
echo "training a tiny grey base model on the shipped Fashion-MNIST subset"
$program demo --width 2 --train-epochs 1 --out "$work/base" --device cpu > "$work/base.log" 2>&1 \
    || { cat "$work/base.log" >&2; exit 1; }
base=$work/base/fashion-mnist_resnet18_base.pth

echo "sbatch --array=0-9 --wait forget-all.sbatch (one class per task)"
cd "$work"
ILGPU_UNLEARN=$program MODEL_NAME=fashion-mnist_resnet18_AdvNegGrad sbatch --wait --array=0-9 --cpus-per-task=1 --export=ALL "$repo/scripts/slurm/forget-all.sbatch" \
    "$work/runs" --dataset fashion-mnist --data "$data" --weights "$base" --batch-size 300 --device cpu
echo "array done; per-task logs: $work/ilgpu-unlearn-*.out"

python3 "$repo/scripts/slurm/merge-reports.py" "$work/runs" | tee "$work/table.md"
rows=$(grep -c '^| fashion-mnist_resnet18_AdvNegGrad_[0-9]\.pth |' "$work/table.md")
[[ $rows == 10 ]] || { echo "expected 10 rows in the table, got $rows" >&2; exit 1; }
echo "ok: ten array tasks, ten reports, one table ($work/table.md, $work/runs/all.json)"
