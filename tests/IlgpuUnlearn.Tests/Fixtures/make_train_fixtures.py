#!/usr/bin/env python3
"""Writes train_w4_s32.safetensors: what PyTorch's training with the base recipe gives on a tiny set, for TrainFidelityTests.

Run with a python that has torch (Debian's python3-torch: /usr/bin/python3):
    /usr/bin/python3 tests/IlgpuUnlearn.Tests/Fixtures/make_train_fixtures.py

The run is `ilgpu-unlearn train`'s loop (TrainingRun) with shuffling and augmentation off: a width-4 CIFAR ResNet18 on
7 images of 3x32x32 (pixels hash_bytes(3072, stream), labels below), init_hashed() parameters (the C# tests recompute
both), batches of 4 and 3 in file order, 2 epochs; each step: training-mode forward, mean NLL of log-softmax, backward,
torch.optim.SGD(lr 0.1, momentum 0.9, weight decay 5e-4, Nesterov); CosineAnnealingLR(T_max = 2) stepped after each
epoch, so epoch 1 runs at lr 0.1 and epoch 2 at 0.05. No clipping (the base recipe has none).

Conditioning. Training from random images at lr 0.1 with batches of 3 and 4 is chaotic: a ReLU input near zero flips
sign under rounding and the run lands elsewhere. Measured on the first candidate image sets: a float64 run started from
the initial parameters moved by half an ulp (x (1 +- 2^-24)) ends up to 0.16 of a tensor's change away from the
unmoved float64 run, ten thousand times what rounding alone explains, so any fp32 implementation, PyTorch's included, may
land there by luck. The image set is therefore chosen so that the run is well conditioned: the first candidate whose
float64 run stays within 1e-4 of itself under 24 random perturbations of 8 ulp (x (1 +- 2^-21)) of every initial
parameter, eight times the rounding error of a float32 step, so that the comparison measures rounding, not luck.

Two runs of the same thing: float32 (PyTorch's default path) and float64, the reference that both PyTorch's fp32 and
ours are judged against. (PyTorch 1.13's channels-last fp32 path, used as a second yardstick in make_unlearn_fixtures.py,
aborts with a heap error in backward at width 4, so it is not run here.)
Tensors: data.labels, data.streams; losses32 / losses64 (4 step losses); conditioning.spread (the
perturbation spread above); after32.<name> (float32), after64.<name> (float64:
rounding it to float32 would add up to 1e-5 of a small change, as much as the distance measured) for every float tensor of the state dict after the run; after32.<bn>.num_batches_tracked.
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import ResNet18, distance, hash_bytes, init_hashed, normalise, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WIDTH, SIZE, BATCH, EPOCHS = 4, 32, 4, 2
LABELS = [3, 7, 0, 9, 1, 5, 8]
PERTURBATION, TRIALS, SPREAD_LIMIT = 2.0 ** -21, 24, 1e-4


def images(streams):
    return np.stack([hash_bytes(3 * SIZE * SIZE, s).reshape(3, SIZE, SIZE) for s in streams])


def train(initial, pixels, dtype):
    model = ResNet18(WIDTH, 10)
    model.load_state_dict(initial)
    model = model.to(dtype)
    x_all = normalise(pixels).to(dtype)
    y_all = torch.tensor(LABELS, dtype=torch.int64)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS)
    losses = []
    for _ in range(EPOCHS):
        model.train()
        for start in range(0, len(LABELS), BATCH):
            x, y = x_all[start:start + BATCH], y_all[start:start + BATCH]
            opt.zero_grad()
            loss = F.nll_loss(F.log_softmax(model(x), dim=1), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
    return model.state_dict(), losses


def perturbation_spread(initial, pixels):
    """How far float64 runs from perturbed initial parameters land from the unperturbed one (stops past the limit)."""
    reference, _ = train(initial, pixels, torch.float64)
    g = torch.Generator().manual_seed(1)
    spread = 0.0
    for _ in range(TRIALS):
        moved = {k: v * (1 + PERTURBATION * torch.randn(v.shape, generator=g).sign())
                 if v.is_floating_point() and "running" not in k else v.clone() for k, v in initial.items()}
        spread = max(spread, distance(train(moved, pixels, torch.float64)[0], reference, initial)[0])
        if spread > SPREAD_LIMIT:
            break
    return spread


def main():
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}", file=sys.stderr)
    model = ResNet18(WIDTH, 10)
    init_hashed(model)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    for best in range(5000, 5400, 20):
        spread = perturbation_spread(initial, images([best + i for i in range(len(LABELS))]))
        print(f"image streams from {best}: float64 spread under {TRIALS} perturbations of 8 ulp {spread:.2e}", file=sys.stderr)
        if spread <= SPREAD_LIMIT:
            break
    else:
        sys.exit("no well-conditioned image set among the candidates")
    streams = [best + i for i in range(len(LABELS))]
    pixels = images(streams)
    after32, losses32 = train(initial, pixels, torch.float32)
    after64, losses64 = train(initial, pixels, torch.float64)

    worst, where = distance(after32, after64, initial)
    print(f"PyTorch fp32 vs fp64: worst difference relative to the tensor's largest change {worst:.2e} ({where})", file=sys.stderr)
    print("losses fp32 " + " ".join(f"{v:.6f}" for v in losses32), file=sys.stderr)
    print("losses fp64 " + " ".join(f"{v:.6f}" for v in losses64), file=sys.stderr)

    out = {
        "data.labels": torch.tensor(LABELS, dtype=torch.int64),
        "data.streams": torch.tensor(streams, dtype=torch.int64),
        "losses32": torch.tensor(losses32, dtype=torch.float32),
        "losses64": torch.tensor(losses64, dtype=torch.float64),
        "conditioning.spread": torch.tensor([spread], dtype=torch.float64),
    }
    for name, t in after32.items():
        if name.endswith("num_batches_tracked"):
            out[f"after32.{name}"] = t.clone()
            continue
        out[f"after32.{name}"] = t.clone()
        out[f"after64.{name}"] = after64[name].clone()
    write_safetensors(os.path.join(HERE, f"train_w{WIDTH}_s{SIZE}.safetensors"), out)


if __name__ == "__main__":
    main()
