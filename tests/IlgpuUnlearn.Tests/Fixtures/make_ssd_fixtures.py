#!/usr/bin/env python3
"""Writes ssd_w4_s16.safetensors: Selective Synaptic Dampening (SSD) and its label-free variant (LFSSD) in PyTorch, float32
and float64, on a tiny set, for SynapticDampeningTests.

Run with a python that has torch (Debian's python3-torch: /usr/bin/python3):
    /usr/bin/python3 tests/IlgpuUnlearn.Tests/Fixtures/make_ssd_fixtures.py

What SynapticDampening (src/IlgpuUnlearn/Unlearning/Methods/SynapticDampening.cs) computes, written here from the sources
(github.com/if-loops/selective-synaptic-dampening: src/ssd.py ParameterPerturber.calc_importance and modify_weight,
src/forget_full_class_strategies.py ssd_tuning, src/forget_full_class_main.py's loaders; the README's LFSSD change, from
"Loss-Free Machine Unlearning", arXiv 2402.19308):
  model.eval(); importance of a loader = (sum over its batches of the gradient of the batch's loss, squared (SSD) or absolute
  (LFSSD), per parameter) / number of batches; SSD's loss is the mean cross-entropy, LFSSD's the mean squared L2 norm of the
  logits, torch.norm(out, p="fro", dim=1).pow(2).mean(). Forget importance over the forget set; full importance over the
  retain set (class by class, each class in file order, as build_retain_forget_sets makes it) then the forget set, one
  unshuffled loader, so a batch may hold both. Then every parameter with imp_f > alpha imp_D is multiplied by
  min(1, lambda imp_D / imp_f) (the exponent and lower bound 1, as ssd_tuning sets them); buffers are not touched.

A width-4 CIFAR ResNet18 with init_hashed() parameters and the running statistics of the image set (make_method_fixtures.py's
calibrated(), stored as init.<bn>.running_mean / running_var: the hashed ones leave whole channels dead in eval mode), 10 images of 3x16x16 (pixels
hash_bytes(768, stream) for the streams STREAMS), labels LABELS, forget class 3 (images 0, 3, 6); batches of 4 (the sources'
64 would be one batch here), so the full loader's batches are [2, 5, 9, 7], [1, 8, 4, 0], [3, 6]: the second holds retain and
forget images. alpha 10 and lambda 1 (forget_full_class_main.py's selection_weighting and dampening_constant for ResNets).

Tensors, per variant v in (ssd, lfssd), flat in parameter (state-dict) order: v.after32 / v.after64 (the parameters after
dampening, float32 and float64 runs), v.selected32 / v.selected64 (uint8: 1 where dampened), v.ratio64 (imp_f / (alpha imp_D)
of the float64 run, the selection's margin: a parameter is selected where it is above 1); data.labels, data.streams;
settings (alpha, lambda, batch); init.<bn>.running_mean / running_var.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import ResNet18, hash_bytes, init_hashed, normalise, write_safetensors  # noqa: E402
from make_method_fixtures import calibrated  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WIDTH, SIZE, BATCH, CLASSES, FORGET = 4, 16, 4, 10, 3
ALPHA, LAMBDA = 10.0, 1.0
LABELS = [3, 7, 0, 3, 9, 1, 3, 5, 8, 2]
STREAMS = list(range(7000, 7010))


def importance(model, x, y, order, label_free):
    model.eval()
    imp = [torch.zeros_like(p) for p in model.parameters()]
    batches = [order[i:i + BATCH] for i in range(0, len(order), BATCH)]
    for b in batches:
        model.zero_grad()
        out = model(x[b])
        loss = torch.norm(out, p="fro", dim=1).pow(2).mean() if label_free else F.cross_entropy(out, y[b])
        loss.backward()
        for i, p in enumerate(model.parameters()):
            imp[i] += p.grad.data.clone().abs() if label_free else p.grad.data.clone().pow(2)
    return [t / float(len(batches)) for t in imp]


def run(initial, x, y, dtype, label_free):
    model = ResNet18(WIDTH, CLASSES)
    model.load_state_dict(initial)
    model = model.to(dtype)
    x = x.to(dtype)
    forget = [i for i, l in enumerate(LABELS) if l == FORGET]
    retain = [i for c in range(CLASSES) if c != FORGET for i, l in enumerate(LABELS) if l == c]
    forget_imp = importance(model, x, y, forget, label_free)
    full_imp = importance(model, x, y, retain + forget, label_free)
    selected, ratios = [], []
    with torch.no_grad():
        for p, oimp, fimp in zip(model.parameters(), full_imp, forget_imp):
            locations = torch.where(fimp > oimp.mul(ALPHA))
            weight = oimp.mul(LAMBDA).div(fimp)
            update = weight[locations]
            update[update > 1] = 1
            p[locations] = p[locations].mul(update)
            mask = torch.zeros_like(p, dtype=torch.uint8)
            mask[locations] = 1
            selected.append(mask.reshape(-1))
            ratios.append((fimp.double() / (ALPHA * oimp.double())).reshape(-1))
        after = torch.cat([p.detach().reshape(-1) for p in model.parameters()])
    for k, v in model.state_dict().items():
        if "running" in k or "num_batches_tracked" in k:
            assert torch.equal(v.to(initial[k].dtype), initial[k]), f"{k} moved"
    return after, torch.cat(selected), torch.cat(ratios)


def main():
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}", file=sys.stderr)
    model = ResNet18(WIDTH, CLASSES)
    init_hashed(model)
    pixels = np.stack([hash_bytes(3 * SIZE * SIZE, s).reshape(3, SIZE, SIZE) for s in STREAMS])
    initial = calibrated({k: v.clone() for k, v in model.state_dict().items()}, pixels)
    x = normalise(pixels)
    y = torch.tensor(LABELS, dtype=torch.int64)
    initial_flat = torch.cat([p.detach().reshape(-1) for p in model.parameters()]).double()
    out = {
        "data.labels": y,
        "data.streams": torch.tensor(STREAMS, dtype=torch.int64),
        "settings": torch.tensor([ALPHA, LAMBDA, BATCH], dtype=torch.float64),
    }
    out.update({f"init.{k}": v for k, v in initial.items() if "running" in k})
    for variant, label_free in (("ssd", False), ("lfssd", True)):
        after32, sel32, _ = run(initial, x, y, torch.float32, label_free)
        after64, sel64, ratio64 = run(initial, x, y, torch.float64, label_free)
        flips = int((sel32 != sel64).sum().item())
        both = (sel32 == 1) & (sel64 == 1)
        change = (after64 - initial_flat).abs().max().item()
        worst = (after32.double() - after64).abs().max().item() / change
        finite = ratio64[torch.isfinite(ratio64) & (ratio64 > 0)]
        margin = finite.log().abs().min().item()
        undefined = ratio64.numel() - finite.numel()
        print(f"{variant}: {int(sel64.sum())} of {sel64.numel()} parameters dampened (float64), float32 differs on {flips}; "
              f"PyTorch fp32 vs fp64 after dampening: {worst:.2e} of the largest change {change:.3e}; "
              f"smallest |log ratio| {margin:.2e} ({undefined} ratios 0 or undefined); both selected {int(both.sum())}", file=sys.stderr)
        out[f"{variant}.after32"] = after32
        out[f"{variant}.after64"] = after64
        out[f"{variant}.selected32"] = sel32
        out[f"{variant}.selected64"] = sel64
        out[f"{variant}.ratio64"] = ratio64
    write_safetensors(os.path.join(HERE, f"ssd_w{WIDTH}_s{SIZE}.safetensors"), out)


if __name__ == "__main__":
    main()
