#!/usr/bin/env python3
"""Merges the per-class reports of a Slurm array run (forget-all.sbatch) into the model card's table.

    python3 scripts/slurm/merge-reports.py OUTDIR

Reads OUTDIR/NAME_K.card.json (K the class; each one report as `ilgpu-unlearn unlearn --json` writes it), or NAME_K_sS.card.json
for an array run with SEEDS (S the seed), prints the card's table in class (then seed) order and writes OUTDIR/all.json: the
reports as one array, as `unlearn --forget-class all --json` writes it. Says which classes (and, with seeds, which class and
seed pairs: every seed found for one class is expected for every class) are missing and exits 1 if any is. The figures over
seeds (mean and 95% t interval) are `ilgpu-unlearn report OUTDIR/*.report.json`'s. Standard library only.
"""
import glob
import json
import os
import re
import sys


def accuracy(percent):
    return "0.0" if percent == 0 else f"{percent:.2f}"


def order(key):
    """Class, then seed (no seed first)."""
    k, seed = key
    return (k, -1 if seed is None else seed)


def main(folder):
    reports = {}
    for path in glob.glob(os.path.join(folder, "*_*.card.json")):
        match = re.fullmatch(r".+_(\d+)(?:_s(\d+))?\.card\.json", os.path.basename(path))
        if match:
            seed = None if match.group(2) is None else int(match.group(2))
            with open(path, encoding="utf-8") as f:
                reports[(int(match.group(1)), seed)] = (json.load(f), os.path.basename(path)[:-len(".card.json")] + ".pth")
    if not reports:
        print(f"merge-reports: no NAME_K.card.json report in {folder}", file=sys.stderr)
        return 1
    key = min(reports, key=order)
    classes = len(reports[key][0]["class_names"])
    print("| Model | Forget Class | Forget class acc(loss) | Retain class acc(loss) |")
    print("|--------------------------------|--------------|-------------------------|-------------------------|")
    for k in sorted(reports, key=order):
        r, model = reports[k]
        name = r["class_names"][r["forget_class"]]
        name = name[:1].upper() + name[1:]
        print(f"| {model} | {name} | {accuracy(r['forget_accuracy'])} ({r['forget_loss']:.3f}) | "
              f"{accuracy(r['retain_accuracy'])} ({r['retain_loss']:.3f}) |")
    merged = os.path.join(folder, "all.json")
    with open(merged + ".tmp", "w", encoding="utf-8") as f:
        json.dump([reports[k][0] for k in sorted(reports, key=order)], f, indent=2)
        f.write("\n")
    os.replace(merged + ".tmp", merged)
    print(f"merged {len(reports)} reports into {merged}", file=sys.stderr)
    seeds = sorted({seed for (_, seed) in reports}, key=lambda s: -1 if s is None else s)
    missing = [(k, s) for k in range(classes) for s in seeds if (k, s) not in reports]
    if missing:
        what = ", ".join(str(k) if s is None else f"{k} seed {s}" for k, s in missing)
        print(f"merge-reports: no report for class(es) {what}: resubmit the array "
              f"(tasks with a report are skipped)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
