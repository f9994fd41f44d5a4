#!/usr/bin/env python3
"""Writes the PyTorch reference values the model tests compare with.

Run with a python that has torch (Debian's python3-torch: /usr/bin/python3):
    /usr/bin/python3 tests/IlgpuUnlearn.Tests/Fixtures/make_model_fixtures.py

Files (safetensors, written here without the safetensors package):
  resnet18_w8_s16.safetensors   width-8 CIFAR ResNet18 on 16x16 inputs, batch 3 (and resnet18_w2_s8, width 2 on 8x8,
                                batch 2, for ILGPU's CPU accelerator): the initial state dict ("init.*"),
                                a training-mode forward/backward ("train.*"), an eval-mode forward ("eval.*"),
                                and two AdvNegGrad steps ("step1.*", "step2.*", "after.*").
  resnet18_c1_w2_s28.safetensors  the same (width 2) for a grey-image network as native Fashion-MNIST ResNets are: conv1 reads
                                one channel, 28x28 inputs (stages 28, 14, 7, 4), batch 3, Fashion-MNIST's normalisation
                                (stored as "input.mean", "input.std").
  resnet18_w64_s32.safetensors  full-width network on two 32x32 images, parameters from the integer hash below
                                (too large to commit, so both sides compute them): logits, loss, running statistics,
                                small gradients whole and every gradient's L2 norm plus a strided sample.

Parameters and images of both come from hash_uniform(), exact integer arithmetic that the C# tests repeat.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN = (0.4914, 0.4822, 0.4465)   # CIFAR-10, the base model's training
STD = (0.2023, 0.1994, 0.2010)
GREY_MEAN = (0.2860,)             # Fashion-MNIST's training images (the C# preset fashion-mnist)
GREY_STD = (0.3530,)


# ---- the network: torchvision ResNet18 with the CIFAR stem, torchvision state-dict names ----------------------------
# One hand-built definition serves every fixture script (torchvision is not needed): the converter tests' one.
sys.path.insert(0, os.path.join(HERE, "..", "..", "IlgpuUnlearn.Weights.Tests", "fixtures"))
from cifar_resnet18 import CifarResNet18 as ResNet18  # noqa: E402


# ---- deterministic values both languages compute exactly ------------------------------------------------------------

def hash_uniform(count, stream):
    """count floats in [-1, 1): a 32-bit integer hash of (stream, index), exact in numpy and C#."""
    i = np.arange(count, dtype=np.uint64)
    h = (i * np.uint64(2654435761) + np.uint64(stream) * np.uint64(40503) + np.uint64(12345)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x7FEB352D)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(15)
    h = (h * np.uint64(0x846CA68B)) & np.uint64(0xFFFFFFFF)
    h ^= h >> np.uint64(16)
    # 24 high bits -> [0, 1) exactly representable in float32, then [-1, 1)
    return ((h >> np.uint64(8)).astype(np.float64) / float(1 << 24) * 2.0 - 1.0).astype(np.float32)


def hash_bytes(count, stream):
    """count bytes 0..255 from the same hash (images)."""
    u = hash_uniform(count, stream).astype(np.float64)
    return np.floor((u + 1.0) * 128.0).clip(0, 255).astype(np.uint8)


def init_hashed(model):
    """Every state-dict tensor j (state-dict order) from stream j, scaled like a trained network's."""
    sd = model.state_dict()
    with torch.no_grad():
        for j, (name, t) in enumerate(sd.items()):
            if name.endswith("num_batches_tracked"):
                t.fill_(j)
                continue
            u = torch.from_numpy(hash_uniform(t.numel(), j)).reshape(t.shape)
            if t.dim() == 4:                        # conv: uniform with the variance of He init
                fan_in = t.shape[1] * t.shape[2] * t.shape[3]
                t.copy_(u * math.sqrt(6.0 / fan_in))
            elif name == "fc.weight":
                t.copy_(u / math.sqrt(t.shape[1]))
            elif name.endswith("running_var"):
                t.copy_(1.0 + 0.5 * u.abs())
            elif name.endswith(".weight"):          # BatchNorm gamma
                t.copy_(1.0 + 0.25 * u)
            else:                                   # BatchNorm beta, running_mean, fc.bias
                t.copy_(0.1 * u)


def min_relu_input(model, pixels, mean, std):
    """Smallest |value| entering any ReLU, in float64: values within fp32 rounding of 0 would flip a ReLU mask between two
    fp32 implementations and make their gradients differ for a reason that is not an error."""
    m = ResNet18(model.fc.in_features // 8, model.fc.out_features, model.conv1.in_channels)
    m.load_state_dict(model.state_dict())
    m = m.double().train()
    smallest = [float("inf")]
    def hook(mod, inputs):
        smallest[0] = min(smallest[0], inputs[0].detach().abs().min().item())
    for mod in m.modules():
        if isinstance(mod, nn.ReLU):
            mod.register_forward_pre_hook(hook)
    with torch.no_grad():
        m(normalise(pixels, mean, std).double())
    return smallest[0]


def well_conditioned_pixels(model, shape, first_stream, threshold, mean=MEAN, std=STD):
    """Images from the first stream whose ReLU inputs all stay at least `threshold` from zero (see min_relu_input)."""
    for stream in range(first_stream, first_stream + 200):
        pixels = hash_bytes(int(np.prod(shape)), stream).reshape(shape)
        if min_relu_input(model, pixels, mean, std) > threshold:
            return stream, pixels
    raise RuntimeError("no well-conditioned input found")


def normalise(pixels, mean=MEAN, std=STD):
    """uint8 (N,C,H,W) -> float32 as ToTensor + Normalize: x / 255, then (x - mean) / std, in float32."""
    x = torch.from_numpy(pixels).float().div(255.0)
    mean = torch.tensor(mean).view(1, -1, 1, 1)
    std = torch.tensor(std).view(1, -1, 1, 1)
    return (x - mean) / std


# ---- safetensors, by hand ---------------------------------------------------------------------------------------------

def distance(after, reference, initial):
    """Worst tensor of max |after - reference| over the tensor's largest change max |reference - initial| (parameters)."""
    worst, where = 0.0, ""
    for name, t in after.items():
        if name.endswith("num_batches_tracked") or "running" in name:
            continue
        change = (reference[name].double() - initial[name].double()).abs().max().item()
        if change == 0:  # a frozen tensor (CF-k, EU-k): compared exactly by the tests, not by distance
            continue
        d = (t.double() - reference[name].double()).abs().max().item() / change
        if d > worst:
            worst, where = d, name
    return worst, where


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        a = t.detach().cpu().contiguous().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        dtype = {np.dtype(np.float32): "F32", np.dtype(np.float64): "F64", np.dtype(np.int64): "I64", np.dtype(np.uint8): "U8"}[a.dtype]
        raw = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)
    print(f"wrote {path}: {len(tensors)} tensors, {os.path.getsize(path):,} bytes")


# ---- one AdvNegGrad step exactly as docs/methods.md says (AdvNegGrad) ----------------------------------------------------------------

def adv_neg_grad_step(model, opt, forget_x, forget_y, retain_x, retain_y, alpha=0.15, clip=0.5):
    params = [p for p in model.parameters()]
    model.train()
    opt.zero_grad()
    loss_f = F.nll_loss(F.log_softmax(model(forget_x), dim=1), forget_y)
    grads_f = torch.autograd.grad(loss_f, params)
    loss_r = F.nll_loss(F.log_softmax(model(retain_x), dim=1), retain_y)
    grads_r = torch.autograd.grad(loss_r, params)
    for p, gf, gr in zip(params, grads_f, grads_r):
        p.grad = (1 - alpha) * gr - alpha * gf
    norm = torch.sqrt(sum((p.grad.double() ** 2).sum() for p in params)).item()
    scale = min(1.0, clip / (norm + 1e-6))
    for p in params:
        p.grad.mul_(scale)
    opt.step()
    return loss_f.item(), loss_r.item(), norm


def narrow_fixture(width, size, labels, channels=3, mean=MEAN, std=STD, file_name=None):
    torch.manual_seed(0)
    n, classes = len(labels), 10
    model = ResNet18(width, classes, channels)
    init_hashed(model)
    out = {f"init.{k}": v.clone() for k, v in model.state_dict().items()}

    stream, pixels = well_conditioned_pixels(model, (n, channels, size, size), 1000, 2e-5 if width < 64 else 4e-6, mean, std)
    labels = torch.tensor(labels, dtype=torch.int64)
    x = normalise(pixels, mean, std)
    if (mean, std) != (MEAN, STD):
        out["input.mean"] = torch.tensor(mean, dtype=torch.float32)
        out["input.std"] = torch.tensor(std, dtype=torch.float32)
    out["input.stream"] = torch.tensor([stream], dtype=torch.int64)
    out["input.pixels"] = torch.from_numpy(pixels)
    out["input.x"] = x
    out["input.labels"] = labels

    model.eval()
    with torch.no_grad():
        out["eval.logits"] = model(x)
    model.train()
    logits = model(x)
    loss = F.nll_loss(F.log_softmax(logits, dim=1), labels)
    loss.backward()
    out["train.logits"] = logits.detach()
    out["train.loss"] = loss.detach().reshape(1)
    for name, p in model.named_parameters():
        out[f"train.grad.{name}"] = p.grad.clone()
    for name, b in model.named_buffers():
        out[f"train.after.{name}"] = b.clone()

    # Two AdvNegGrad steps from the initial state, with a forget batch of 2 and a retain batch of 2.
    model.load_state_dict({k[len("init."):]: v for k, v in out.items() if k.startswith("init.")})
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    for step in (1, 2):
        fp = hash_bytes(2 * channels * size * size, 2000 + step).reshape(2, channels, size, size)
        rp = hash_bytes(2 * channels * size * size, 3000 + step).reshape(2, channels, size, size)
        fy = torch.tensor([5, 5], dtype=torch.int64)
        ry = torch.tensor([1, 8 - step], dtype=torch.int64)
        lf, lr, norm = adv_neg_grad_step(model, opt, normalise(fp, mean, std), fy, normalise(rp, mean, std), ry)
        out[f"step{step}.forget_pixels"] = torch.from_numpy(fp)
        out[f"step{step}.retain_pixels"] = torch.from_numpy(rp)
        out[f"step{step}.forget_labels"] = fy
        out[f"step{step}.retain_labels"] = ry
        out[f"step{step}.losses"] = torch.tensor([lf, lr, norm], dtype=torch.float32)
    for k, v in model.state_dict().items():
        out[f"after.{k}"] = v.clone()
    write_safetensors(os.path.join(HERE, file_name or f"resnet18_w{width}_s{size}.safetensors"), out)


def full_width_fixture():
    width, size, n = 64, 32, 2
    model = ResNet18(width, 10)
    init_hashed(model)
    stream, pixels = well_conditioned_pixels(model, (n, 3, size, size), 1000, 2e-5 if width < 64 else 4e-6)
    labels = torch.tensor([3, 8], dtype=torch.int64)
    x = normalise(pixels)
    out = {"input.labels": labels, "input.stream": torch.tensor([stream], dtype=torch.int64)}
    model.eval()
    with torch.no_grad():
        out["eval.logits"] = model(x)
    model.train()
    logits = model(x)
    loss = F.nll_loss(F.log_softmax(logits, dim=1), labels)
    loss.backward()
    out["train.logits"] = logits.detach()
    out["train.loss"] = loss.detach().reshape(1)
    for name, b in model.named_buffers():
        if not name.endswith("num_batches_tracked"):
            out[f"train.after.{name}"] = b.clone()
    for name, p in model.named_parameters():
        g = p.grad.detach().reshape(-1)
        out[f"train.gradnorm.{name}"] = g.double().norm().float().reshape(1)
        if g.numel() <= 5120:
            out[f"train.grad.{name}"] = p.grad.clone()
        else:
            out[f"train.gradsample.{name}"] = g[::997].clone()   # every 997th value
    write_safetensors(os.path.join(HERE, "resnet18_w64_s32.safetensors"), out)


if __name__ == "__main__":
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}", file=sys.stderr)
    narrow_fixture(8, 16, [3, 0, 7])
    narrow_fixture(2, 8, [3, 0])     # small enough for ILGPU's CPU accelerator, which emulates every GPU thread
    narrow_fixture(2, 28, [9, 0, 4], channels=1, mean=GREY_MEAN, std=GREY_STD, file_name="resnet18_c1_w2_s28.safetensors")
    full_width_fixture()
