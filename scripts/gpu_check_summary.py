#!/usr/bin/env python3
"""Gathers what scripts/gpu-check.sh measured into one JSON file and prints the summary with the ratios.

  gpu_check_summary.py WORK_DIR RESULT_JSON [--quiet]

WORK_DIR holds the steps' own JSON files (selftest-*.json from `ilgpu-unlearn self-test`, epoch-*.json and step-*.json from
`ilgpu-unlearn bench-epoch` / `bench` and bench/torch_peer.py), steps.jsonl (one line per step: rc, seconds, limit, peak GPU
memory seen by nvidia-smi) and info.json (GPU, driver, build). Missing files are steps that did not run or failed: their
fields are null. Run after every step, so the result file holds everything measured so far even if the call is cut short.
Ratios are ilgpu-unlearn / PyTorch: images/s above 1 means ilgpu-unlearn is faster, seconds and memory above 1 mean it takes more.
"""
import json
import os
import sys


def load(work, name):
    path = os.path.join(work, name)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def steps(work):
    result = {}
    try:
        with open(os.path.join(work, "steps.jsonl")) as f:
            for line in f:
                if line.strip():
                    s = json.loads(line)
                    result[s["step"]] = s
    except OSError:
        pass
    return result


def ratio(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def get(d, key):
    return d.get(key) if d else None


def use_of_tolerance(comparison):
    """error / tolerance of one self-test comparison (1 is the limit); NaN (a string in the JSON) counts as infinite."""
    error, tolerance = comparison["error"], comparison["tolerance"]
    if not isinstance(error, (int, float)):
        return float("inf")
    if tolerance == 0:
        return 0.0 if error == 0 else float("inf")
    return error / tolerance


def epoch_figures(d, step):
    """The figures of one epoch run, the same fields for both peers."""
    if not d:
        return None
    gpu_mib = get(step, "gpu_memory_peak_mib")
    return {
        "device": d.get("device"),
        "batch_size": d.get("batch_size"),
        "steps_timed": d.get("steps"),
        "steps_per_epoch": d.get("steps_per_epoch"),
        "epoch_seconds": d.get("seconds"),
        "images_per_second": d.get("images_per_second"),
        "tflops_per_second": d.get("tflops_per_second"),
        "peak_memory_bytes": d.get("peak_memory_bytes"),
        "gpu_memory_used_peak_mib": gpu_mib,
    }


def lines(work, name):
    """The lines of a text file in WORK_DIR, or None when it is not there."""
    try:
        with open(os.path.join(work, name)) as f:
            return [line.rstrip("\n") for line in f]
    except OSError:
        return None


def main():
    work, result_path = sys.argv[1], sys.argv[2]
    quiet = "--quiet" in sys.argv[3:]
    info = load(work, "info.json") or {}
    ran = steps(work)
    fixtures = load(work, "selftest-fixtures.json")
    ops = load(work, "selftest-ops.json")
    # The whole epoch when it ran, else the first steps of one (same per-step work: the figures are per image).
    ilgpu = load(work, "epoch-ilgpu-full.json") or load(work, "epoch-ilgpu.json")
    ilgpu_step_key = "epoch-ilgpu-full" if load(work, "epoch-ilgpu-full.json") else "epoch-ilgpu"
    torch_default, torch_fp32 = load(work, "epoch-torch.json"), load(work, "epoch-torch-no-tf32.json")
    step_ilgpu, step_torch = load(work, "step-ilgpu.json"), load(work, "step-torch.json")

    def epoch_ratios(peer):
        if not ilgpu or not peer:
            return None
        return {
            "images_per_second": ratio(ilgpu.get("images_per_second"), peer.get("images_per_second")),
            "epoch_seconds": ratio(ilgpu.get("seconds"), peer.get("seconds")),
            "peak_memory_bytes": ratio(ilgpu.get("peak_memory_bytes"), peer.get("peak_memory_bytes")),
        }

    fixture_checks = [{"check": c["check"], "passed": c["passed"],
                       "closest_to_tolerance": max(c["comparisons"], key=use_of_tolerance)["name"] if c["comparisons"] else None,
                       "use_of_tolerance": max(map(use_of_tolerance, c["comparisons"]), default=None)}
                      for c in (fixtures or {}).get("fixtures", [])]
    result = {
        "gpu": info.get("gpu"),
        "mode": info.get("mode"),
        "info": info,
        "diagnosis": lines(work, "diagnose.txt"),
        "correctness": {
            "network_vs_pytorch_passed": get(fixtures, "passed"),
            "network_vs_pytorch": fixture_checks,
            "ops_vs_cpu_path_passed": get(ops, "passed"),
            "ops_checks": get(get(ops, "ops"), "checks"),
            "ops_failed": get(get(ops, "ops"), "failed"),
            "ops_batch_size": get(ops, "batch_size"),
        },
        "epoch": {
            "ilgpu": epoch_figures(ilgpu, ran.get(ilgpu_step_key)),
            "torch_default": epoch_figures(torch_default, ran.get("epoch-torch")),
            "torch_no_tf32": epoch_figures(torch_fp32, ran.get("epoch-torch-no-tf32")),
            "ilgpu_over_torch_default": epoch_ratios(torch_default),
            "ilgpu_over_torch_no_tf32": epoch_ratios(torch_fp32),
        },
        "training_step": {
            "ilgpu": step_ilgpu,
            "torch_default": step_torch,
            "ilgpu_over_torch_images_per_second": ratio(get(step_ilgpu, "images_per_second"), get(step_torch, "images_per_second")),
        },
        "steps": ran,
        "raw": {"selftest_fixtures": fixtures, "selftest_ops": ops, "epoch_ilgpu": ilgpu,
                "epoch_ilgpu_first_steps": load(work, "epoch-ilgpu.json"), "epoch_torch": torch_default,
                "epoch_torch_no_tf32": torch_fp32},
    }
    os.makedirs(os.path.dirname(os.path.abspath(result_path)), exist_ok=True)
    with open(result_path + ".tmp", "w") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    os.replace(result_path + ".tmp", result_path)
    if quiet:
        return

    def num(v, fmt):
        """v formatted, or a dash as wide as the format's width."""
        if isinstance(v, (int, float)):
            return format(v, fmt)
        width = fmt.split(".")[0]
        return "-".rjust(int(width)) if width.isdigit() else "-"

    def gib(v):
        return num(v / 2**30, ".2f") + " GiB" if isinstance(v, (int, float)) else "-"

    def ok(v):
        return {True: "passed", False: "FAILED", None: "did not run"}[v]

    print(f"GPU: {result['gpu']}   ({info.get('mode')}; {info.get('build', '')})")
    usable = [line for line in result["diagnosis"] or [] if line.startswith("usable CUDA GPUs: ")]
    print(f"diagnosis: {usable[-1] if usable else 'did not run'}")
    print(f"network vs PyTorch fixtures: {ok(get(fixtures, 'passed'))}"
          + "".join(f"\n  {c['check']}: {ok(c['passed'])} (worst: {c['closest_to_tolerance']}, {num(c['use_of_tolerance'], '.3f')} of its tolerance)" for c in fixture_checks))
    ops_batch = f" (batch {ops.get('batch_size')})" if ops else ""
    print(f"every op vs the CPU path{ops_batch}: {ok(get(ops, 'passed'))}"
          + (f", {get(get(ops, 'ops'), 'checks')} checks, {get(get(ops, 'ops'), 'failed')} failed" if ops else ""))
    print()
    print(f"one AdvNegGrad epoch, batch {get(ilgpu or torch_default, 'batch_size') or '-'}:")
    print(f"  {'':24} {'epoch s':>9} {'images/s':>10} {'TFLOP/s':>8} {'peak alloc':>11} {'GPU used':>10}  steps timed")
    for label, d, key in (("ilgpu-unlearn", ilgpu, ilgpu_step_key), ("PyTorch, defaults", torch_default, "epoch-torch"),
                          ("PyTorch, TF32 off", torch_fp32, "epoch-torch-no-tf32")):
        s = ran.get(key) or {}
        used = s.get("gpu_memory_peak_mib")
        timed = f"{d.get('steps')} of {d.get('steps_per_epoch')}" if d and d.get("steps") else ("all" if d else f"(step {s.get('status', 'not run')})")
        print(f"  {label:24} {num(get(d, 'seconds'), '9.1f')} {num(get(d, 'images_per_second'), '10.0f')} "
              f"{num(get(d, 'tflops_per_second'), '8.2f')} {gib(get(d, 'peak_memory_bytes')):>11} "
              f"{(num(used, '.0f') + ' MiB') if used is not None else '-':>10}  {timed}")
    for label, r in (("vs PyTorch defaults", result["epoch"]["ilgpu_over_torch_default"]),
                     ("vs PyTorch TF32 off", result["epoch"]["ilgpu_over_torch_no_tf32"])):
        if r:
            print(f"  ilgpu-unlearn {label}: images/s x{num(r['images_per_second'], '.3f')}, epoch time x{num(r['epoch_seconds'], '.3f')}, "
                  f"peak memory x{num(r['peak_memory_bytes'], '.2f')}")
    if step_ilgpu or step_torch:
        print(f"training step, batch {get(step_ilgpu or step_torch, 'batch_size')}: ilgpu-unlearn "
              f"{num(get(step_ilgpu, 'images_per_second'), '.0f')} images/s, PyTorch {num(get(step_torch, 'images_per_second'), '.0f')} images/s"
              f" (x{num(result['training_step']['ilgpu_over_torch_images_per_second'], '.3f')})")
    failed = [f"{k} ({s.get('status')})" for k, s in ran.items() if s.get("status") != "ok"]
    print(f"steps: {len(ran)} run" + (f"; not ok: {', '.join(failed)}" if failed else ", all ok"))
    print(f"results: {result_path}")


if __name__ == "__main__":
    main()
