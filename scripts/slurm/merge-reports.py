#!/usr/bin/env python3
"""Merges the per-class reports of a Slurm array run (forget-all.sbatch) into the model card's table.

    python3 scripts/slurm/merge-reports.py OUTDIR

Reads OUTDIR/NAME_K.card.json (K the class; each one report as `ilgpu-unlearn unlearn --json` writes it), prints the card's table in
class order and writes OUTDIR/all.json: the reports as one array, as `unlearn --forget-class all --json` writes it.
Says which classes are missing and exits 1 if any is. Standard library only.
"""
import glob
import json
import os
import re
import sys


def accuracy(percent):
    return "0.0" if percent == 0 else f"{percent:.2f}"


def main(folder):
    reports = {}
    for path in glob.glob(os.path.join(folder, "*_*.card.json")):
        match = re.fullmatch(r".+_(\d+)\.card\.json", os.path.basename(path))
        if match:
            with open(path, encoding="utf-8") as f:
                reports[int(match.group(1))] = (json.load(f), os.path.basename(path)[:-len(".card.json")] + ".pth")
    if not reports:
        print(f"merge-reports: no NAME_K.card.json report in {folder}", file=sys.stderr)
        return 1
    classes = len(reports[min(reports)][0]["class_names"])
    print("| Model | Forget Class | Forget class acc(loss) | Retain class acc(loss) |")
    print("|--------------------------------|--------------|-------------------------|-------------------------|")
    for k in sorted(reports):
        r, model = reports[k]
        name = r["class_names"][r["forget_class"]]
        name = name[:1].upper() + name[1:]
        print(f"| {model} | {name} | {accuracy(r['forget_accuracy'])} ({r['forget_loss']:.3f}) | "
              f"{accuracy(r['retain_accuracy'])} ({r['retain_loss']:.3f}) |")
    merged = os.path.join(folder, "all.json")
    with open(merged + ".tmp", "w", encoding="utf-8") as f:
        json.dump([reports[k][0] for k in sorted(reports)], f, indent=2)
        f.write("\n")
    os.replace(merged + ".tmp", merged)
    print(f"merged {len(reports)} reports into {merged}", file=sys.stderr)
    missing = [k for k in range(classes) if k not in reports]
    if missing:
        print(f"merge-reports: no report for class(es) {', '.join(map(str, missing))}: resubmit the array "
              f"(classes with a report are skipped)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
