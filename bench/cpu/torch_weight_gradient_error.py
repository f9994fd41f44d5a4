#!/usr/bin/env python3
"""PyTorch 1.13's fp32 error in the weight gradient of ResNet18's 3x3 stride-1 convolutions, against fp64.

The yardstick of CpuWinogradWeightGradientTests.ErrorOnResNet18sShapesIsPyTorchs: the same distribution as that test
(x = max(0, u + 0.5), dy = u, u uniform in [-1, 1): post-ReLU activations, one-signed), batch 4, every 3x3 stride-1
shape of the CIFAR ResNet18 (width 64); relative rms error ||dw32 - dw64|| / ||dw64|| of PyTorch's default (NCHW) and
channels-last paths on 2 threads. Run with a python that has torch (Debian's python3-torch: /usr/bin/python3):
    /usr/bin/python3 bench/cpu/torch_weight_gradient_error.py
"""
import torch


def main():
    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(5)
    print(f"torch {torch.__version__}")
    for c, hw in ((64, 32), (128, 16), (256, 8), (512, 4)):
        x = ((torch.rand(4, c, hw, hw, generator=g, dtype=torch.float64) * 2 - 1) + 0.5).clamp_min(0).float()
        dy = (torch.rand(4, c, hw, hw, generator=g, dtype=torch.float64) * 2 - 1).float()
        reference = torch.nn.grad.conv2d_weight(x.double(), (c, c, 3, 3), dy.double(), padding=1)
        errors = []
        for layout in (torch.contiguous_format, torch.channels_last):
            w = torch.zeros(c, c, 3, 3).contiguous(memory_format=layout).requires_grad_(True)
            y = torch.nn.functional.conv2d(x.contiguous(memory_format=layout), w, padding=1)
            y.backward(dy.contiguous(memory_format=layout))
            errors.append(((w.grad.double() - reference).norm() / reference.norm()).item())
        print(f"{c} -> {c} at {hw}x{hw}, batch 4: relative rms error of fp32 dw: NCHW {errors[0]:.2e}, channels-last {errors[1]:.2e}")


if __name__ == "__main__":
    main()
