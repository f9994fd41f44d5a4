#!/usr/bin/env python3
"""Writes kl_divergence.json: SCRUB's distillation loss and its gradient by PyTorch autograd in float64, for KlDivergenceTests.

Run with a python that has torch (Debian's python3-torch: /usr/bin/python3):
    /usr/bin/python3 tests/IlgpuUnlearn.Tests/Fixtures/make_kl_fixtures.py

Each case draws student and teacher logits (N, C) uniform in +-range from a seeded generator, rounds them to float32 (the
values IOps.KlDivergence reads; written exactly, as float64 reprs of float32 numbers), then in float64 computes SCRUB's
DistillKL (Kurmanji et al. 2023, after Hinton et al. 2015):
    loss = F.kl_div(F.log_softmax(s / T, 1), F.softmax(t / T, 1), reduction='sum') * T * T / N
and d loss / d s by autograd. The same in float32 ("loss_fp32", "grad_fp32") shows how far PyTorch's own fp32 lands.
"""
import json
import os

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def distill_kl(s, t, temperature):
    p_s = F.log_softmax(s / temperature, dim=1)
    p_t = F.softmax(t / temperature, dim=1)
    return F.kl_div(p_s, p_t, reduction="sum") * (temperature ** 2) / s.shape[0]


def case(seed, n, classes, temperature, logit_range):
    g = torch.Generator().manual_seed(seed)
    s32 = ((torch.rand(n, classes, generator=g, dtype=torch.float64) * 2 - 1) * logit_range).float()
    t32 = ((torch.rand(n, classes, generator=g, dtype=torch.float64) * 2 - 1) * logit_range).float()
    out = {"n": n, "classes": classes, "temperature": temperature, "range": logit_range,
           "student": s32.flatten().double().tolist(), "teacher": t32.flatten().double().tolist()}
    for dtype, suffix in ((torch.float64, ""), (torch.float32, "_fp32")):
        s = s32.to(dtype).requires_grad_(True)
        loss = distill_kl(s, t32.to(dtype), temperature)
        loss.backward()
        out["loss" + suffix] = loss.item()
        out["grad" + suffix] = s.grad.flatten().double().tolist()
    return out


def main():
    cases = [
        case(1, 1, 10, 1.0, 4.0),
        case(2, 1, 10, 4.0, 4.0),
        case(3, 8, 10, 1.0, 4.0),
        case(4, 8, 10, 2.0, 4.0),
        case(5, 8, 10, 4.0, 4.0),
        case(6, 5, 10, 1.0, 80.0),   # extreme logits: most p_t are exp(-100) or less
        case(7, 5, 10, 2.0, 80.0),
        case(8, 5, 10, 4.0, 80.0),
        case(9, 3, 7, 2.0, 10.0),
        case(10, 64, 10, 4.0, 8.0),  # more samples than a warp
    ]
    path = os.path.join(HERE, "kl_divergence.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
