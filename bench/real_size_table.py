#!/usr/bin/env python3
"""The per-phase table of bench/compare-real-size.sh: ours.json (bench/real-size-run.sh) against peer.json
(bench/real_size_peer.py) in one folder, each phase grouped into one row, seconds of each side and the ratio ours / peer,
then the whole job, the unlearn run without the two trainings, the metrics phases' share of each, and both sides' MIA
efficacy and loss attack per model (ours from unlearned.report.json in the same folder).
  real_size_table.py FOLDER [LOAD_BEFORE LOAD_BETWEEN LOAD_AFTER]   (the load averages the driver read, printed as given)
"""
import json
import os
import re
import sys

BELOW = "below the logits (linear probe, relearn time, CKA)"
ROWS = ["load (start-up, data, model)", "train base", "train retrained", "unlearning steps", "forward base (70,000)",
        "forward retrained (70,000)", "forward unlearned (70,000)", "metrics: SVC attack", "metrics: loss attack",
        "metrics: bootstrap", "metrics: privacy score", "metrics: accuracies", BELOW, "other (reports, pictures, save, hashes)"]


def row(name):
    """The table's row of a phase of ours (the manifest's names) or of the peer."""
    if name.startswith("train base"):
        return "train base"
    if name.startswith("train retrained"):
        return "train retrained"
    if name in ("start-up and checks", "load data and weights", "open the device and build the model", "load"):
        return "load (start-up, data, model)"
    if name == "unlearning":
        return "unlearning steps"
    if name.startswith("forward base"):
        return "forward base (70,000)"
    if "retrained model" in name or name == "forward retrained":
        return "forward retrained (70,000)"
    if "unlearned model" in name or name == "forward unlearned":
        return "forward unlearned (70,000)"
    if name.startswith(("linear probe", "relearn ", "linear CKA", "below the logits")):
        return BELOW
    m = re.match(r"metrics \w+: (.*)", name)
    if m:
        return f"metrics: {m.group(1)}"
    return "other (reports, pictures, save, hashes)"


def cpu_line():
    info = {}
    for line in open("/proc/cpuinfo"):
        if ":" in line:
            key, value = (s.strip() for s in line.split(":", 1))
            info.setdefault(key, value)
    return f"cpu: {info.get('model name')} (family {info.get('cpu family')}, model {info.get('model')}), {os.cpu_count()} logical CPUs"


def seconds(data, keep):
    return sum(p["seconds"] for p in data["phases"] if keep(p["name"]))


def main():
    folder = sys.argv[1]
    ours = json.load(open(os.path.join(folder, "ours.json")))
    peer = json.load(open(os.path.join(folder, "peer.json")))
    table = {name: {} for name in ROWS}
    for side, data in (("ours", ours), ("peer", peer)):
        for p in data["phases"]:
            cell = table.setdefault(row(p["name"]), {})
            cell[side] = cell.get(side, 0.0) + p["seconds"]
    print(cpu_line())
    if len(sys.argv) > 4:
        print(f"load average (1, 5, 15 min): before ours {sys.argv[2]}, before the peer {sys.argv[3]}, after {sys.argv[4]}")
    print(f"width {ours['width']}, train limit {ours['train_limit'] or 'all'} x {ours['train_epochs']} epoch(s), "
          f"unlearn steps {ours['unlearn_steps']}, forget class {ours['forget_class']}; peer torch {peer['torch']}, "
          f"scikit-learn {peer['sklearn']}, {peer['threads']} threads")
    print("| phase | ours (s) | peer (s) | ours / peer |\n|---|---:|---:|---:|")

    def line(name, o, p):
        ratio = f"{o / p:.2f}" if o is not None and p else "-"
        show = lambda v: "-" if v is None else f"{v:.1f}"
        print(f"| {name} | {show(o)} | {show(p)} | {ratio} |")

    for name, cell in table.items():
        if cell:
            line(name, cell.get("ours"), cell.get("peer"))
    is_metrics = lambda n: n.startswith("metrics ")
    not_training = lambda n: not n.startswith("train ")
    line("all metrics", seconds(ours, is_metrics), seconds(peer, is_metrics))
    line("unlearn run (all but the two trainings)", seconds(ours, not_training), seconds(peer, not_training))
    line("whole job", ours["wall_seconds"], peer["wall_seconds"])
    for side, data in (("ours", ours), ("peer", peer)):
        m = seconds(data, is_metrics)
        print(f"metrics share, {side}: {100 * m / seconds(data, not_training):.1f}% of the unlearn run, "
              f"{100 * m / data['wall_seconds']:.1f}% of the whole job")
    below = seconds(ours, lambda n: row(n) == BELOW)
    if below > 0:   # issue 19's figures below the logits (no peer); the metrics above are the attacks, bootstrap and FQS
        m = seconds(ours, is_metrics) + below
        print(f"metrics share with the figures below the logits, ours: {100 * m / seconds(ours, not_training):.1f}% of the unlearn run")
    report = json.load(open(os.path.join(folder, "unlearned.report.json")))
    ours_metrics = {"base": report["base"], "unlearned": report["evaluation"], "retrained": report["retrained"]}
    models = peer.get("models", "the peer's own")
    print(f"metrics (%), ours / peer (the peer's models: {models}):")
    for role, theirs in peer["metrics"].items():
        mine = ours_metrics[role]["metrics"]
        print(f"  {role}: MIA efficacy {mine['MIA_efficacy']['value']:.2f} / {theirs['mia_efficacy']:.2f}, "
              f"loss attack {mine['loss_MIA']['value']:.2f} / {theirs['loss_attack']:.2f}, "
              f"test accuracy {theirs['test_accuracy']:.2f} (peer)")

if __name__ == "__main__":
    main()
