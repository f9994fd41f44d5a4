#!/usr/bin/env python3
"""Writes eval_gradient_w8_s16.safetensors and eval_gradient_w2_s8.safetensors: every parameter's gradient with the network
in evaluation mode (model.eval(), then loss.backward()), for EvalModeGradientTests.

Run with a python that has torch (Debian's python3-torch: /usr/bin/python3):
    /usr/bin/python3 tests/IlgpuUnlearn.Tests/Fixtures/make_eval_gradient_fixtures.py

This is what SalUn's saliency, SCRUB's Fisher information and SSD's importances compute in their sources: each BatchNorm
uses its running statistics, y = gamma (x - mu_run) / sqrt(var_run + eps) + beta, updates nothing, and the backward pass
differentiates that affine map (dx = dy gamma / sqrt(var_run + eps), dgamma = sum dy xhat, dbeta = sum dy).

A CIFAR ResNet18 (make_model_fixtures.py's definition) with init_hashed() parameters and running statistics (running_var
1 + 0.5 |u|, running_mean 0.1 u: not the identity, so a wrong normalisation shows); width 8 on 3x16x16 images, batch 3 (the
CPU path), and width 2 on 3x8x8, batch 2 (small enough for ILGPU's CPU accelerator). The images are the first hashed ones
whose ReLU inputs all stay at least 2e-5 from zero in float64 evaluation mode (closer ones could flip a ReLU mask between two
correct float32 implementations). The loss is the mean cross-entropy of the labels.

Tensors: init.<name> (the state dict), input.pixels (uint8), input.x (float32, normalised), input.labels;
logits32 / logits64, loss32 / loss64; grad32.<name> (PyTorch float32) and grad64.<name> (the same run in float64, from the same
float32 parameters and input) for every parameter; after.<name> for every buffer (evaluation leaves them as they were).
"""
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import ResNet18, hash_bytes, init_hashed, normalise, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
RELU_MARGIN = 2e-5


def min_relu_input_eval(model, x):
    """Smallest |value| entering any ReLU in a float64 evaluation-mode forward."""
    smallest = [float("inf")]

    def hook(mod, inputs):
        smallest[0] = min(smallest[0], inputs[0].detach().abs().min().item())
    handles = [m.register_forward_pre_hook(hook) for m in model.modules() if isinstance(m, nn.ReLU)]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return smallest[0]


def eval_gradients(model, x, y):
    model.eval()
    model.zero_grad()
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    return logits.detach(), loss.detach().reshape(1), {k: p.grad.clone() for k, p in model.named_parameters()}


def fixture(width, size, labels, file_name):
    model = ResNet18(width, 10)
    init_hashed(model)
    initial = {k: v.clone() for k, v in model.state_dict().items()}
    model64 = ResNet18(width, 10)
    model64.load_state_dict(initial)
    model64 = model64.double().eval()
    n = len(labels)
    for stream in range(1000, 1200):
        pixels = hash_bytes(n * 3 * size * size, stream).reshape(n, 3, size, size)
        x = normalise(pixels)
        margin = min_relu_input_eval(model64, x.double())
        if margin > RELU_MARGIN:
            break
    else:
        sys.exit("no well-conditioned input found")
    y = torch.tensor(labels, dtype=torch.int64)

    logits32, loss32, grads32 = eval_gradients(model, x, y)
    logits64, loss64, grads64 = eval_gradients(model64, x.double(), y)
    for k, v in model.state_dict().items():
        assert torch.equal(v, initial[k]), f"{k} changed in evaluation mode"

    worst, where = 0.0, ""
    for k in grads32:
        d = (grads32[k].double() - grads64[k]).abs().max().item() / grads64[k].abs().max().item()
        if d > worst:
            worst, where = d, k
    print(f"{file_name}: images from stream {stream} (smallest ReLU input {margin:.1e}); PyTorch fp32 vs fp64 gradients: "
          f"{worst:.2e} of the tensor's largest value ({where})", file=sys.stderr)

    out = {f"init.{k}": v for k, v in initial.items()}
    out["input.pixels"] = torch.from_numpy(pixels)
    out["input.x"] = x
    out["input.labels"] = y
    out["logits32"], out["logits64"] = logits32, logits64
    out["loss32"], out["loss64"] = loss32, loss64
    for k in grads32:
        out[f"grad32.{k}"] = grads32[k]
        out[f"grad64.{k}"] = grads64[k]
    for k, b in model.named_buffers():
        out[f"after.{k}"] = b.clone()
    write_safetensors(os.path.join(HERE, file_name), out)


if __name__ == "__main__":
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}", file=sys.stderr)
    fixture(8, 16, [3, 0, 7], "eval_gradient_w8_s16.safetensors")
    fixture(2, 8, [3, 0], "eval_gradient_w2_s8.safetensors")
