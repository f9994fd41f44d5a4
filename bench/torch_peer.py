#!/usr/bin/env python3
"""The PyTorch peer of `ilgpu-unlearn bench` and `ilgpu-unlearn bench-epoch`: the same network, the same step, the same
data sizes, timed the same way, so the two can be compared as a ratio measured in one run on one machine.

  step:  forward + backward + SGD (Nesterov, weight decay) of the full CIFAR ResNet18 at --batch-size, --steps timed
         after --warmup untimed steps.
  train: the `train` verb's step (the base recipe): step, with each batch augmented first as the recipe does it (random
         32x32 crop of the image zero-padded by 4, random horizontal flip, drawn per image per step) and the learning
         rate following CosineAnnealingLR; --batch-size defaults to the recipe's 128. The peer of `ilgpu-unlearn bench --augment`.
  eval:  evaluation-mode inference (BatchNorm running statistics, no gradients) of --batch-size images, --steps timed
         batches after --warmup untimed ones: the peer of `ilgpu-unlearn bench-eval`.
  epoch: one AdvNegGrad epoch exactly as docs/methods.md says (AdvNegGrad) (forget forward/backward, retain forward/backward,
         g = (1 - alpha) g_r - alpha g_f, global-norm clip 0.5, SGD lr 0.1 momentum 0.9 wd 5e-4 Nesterov) on random
         CIFAR-sized uint8 data (--retain images of 9 classes, --forget images of one), normalised on the device.

Prints one JSON object: images_per_second, seconds, tflops_per_second (3 x 2 x the forward multiply-adds of the convolutions
and fc, counted with hooks: the same count as ResNet18Flops), peak_memory_bytes (CUDA: max allocated, the data set on the GPU
included; CPU: peak RSS growth), device, and the TF32 settings in force.
CUDA: TF32 is left as PyTorch has it by default (cuDNN convolutions may use TF32, matmuls not) unless --no-tf32 turns it off for
both; cudnn.benchmark is on in both cases (the untimed warm-up step absorbs its autotuning).
Run with a python that has torch: /usr/bin/python3 here (Debian python3-torch), python3 on the GPU machine.
"""
import argparse
import json
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "IlgpuUnlearn.Tests", "Fixtures"))
from make_model_fixtures import ResNet18  # noqa: E402  (the same hand-built torchvision CIFAR ResNet18)

MEAN = torch.tensor([0.4914, 0.4822, 0.4465]).view(1, 3, 1, 1)
STD = torch.tensor([0.2023, 0.1994, 0.2010]).view(1, 3, 1, 1)


def rss_bytes():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def tf32_settings():
    """What decides whether fp32 convolutions and matmuls may use TF32 tensor cores, as this torch spells it."""
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):       # torch >= 2.9
        return {"cudnn.conv.fp32_precision": conv.fp32_precision,
                "cuda.matmul.fp32_precision": torch.backends.cuda.matmul.fp32_precision}
    return {"cudnn.allow_tf32": torch.backends.cudnn.allow_tf32, "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32}


def turn_tf32_off():
    conv = getattr(torch.backends.cudnn, "conv", None)
    if conv is not None and hasattr(conv, "fp32_precision"):
        conv.fp32_precision = "ieee"
        torch.backends.cuda.matmul.fp32_precision = "ieee"
    else:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False


def forward_macs_per_image(model, device):
    """Multiply-adds of one image's forward pass through every Conv2d and Linear (what ResNet18Flops counts)."""
    macs = []

    def count(module, inputs, output):
        per_output = module.weight[0].numel()            # Cin/groups x kH x kW, or in_features
        macs.append(output[0].numel() * per_output)

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, 3, 32, 32, device=device))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return sum(macs)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def normalise(pixels):
    return (pixels.float().div_(255.0) - MEAN.to(pixels.device)) / STD.to(pixels.device)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["step", "train", "eval", "epoch"])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--batch-size", type=int, help="default: 128 for train, 64 otherwise")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2, help="step: untimed steps first; epoch: 0 skips the untimed warm-up step")
    ap.add_argument("--epoch-steps", type=int, help="epoch: time only the first N steps (the CPU takes long for a whole epoch)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--retain", type=int, default=45000)
    ap.add_argument("--forget", type=int, default=5000)
    ap.add_argument("--no-tf32", action="store_true", help="CUDA: keep convolutions and matmuls in full fp32")
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args()
    if args.batch_size is None:
        args.batch_size = 128 if args.mode == "train" else 64

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        if args.no_tf32:
            turn_tf32_off()
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    base_rss = rss_bytes()
    model = ResNet18(64, 10).to(device).train()
    macs = forward_macs_per_image(model, device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    params = list(model.parameters())
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def timed(work):
        """Seconds of --steps calls of work after --warmup untimed ones, the device synchronised around them."""
        for _ in range(args.warmup):
            work()
        sync(device)
        start = time.perf_counter()
        for _ in range(args.steps):
            work()
        sync(device)
        return time.perf_counter() - start

    if args.mode in ("step", "train"):
        b = args.batch_size
        pixels = torch.randint(0, 256, (b, 3, 32, 32), dtype=torch.uint8, device=device)
        labels = torch.randint(0, 10, (b,), device=device)
        augment = args.mode == "train"
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=200) if augment else None
        rows = torch.arange(32, device=device)

        def crop_flip(x):
            """Random 32 crop of the 4-padded batch and random horizontal flip, per image, on the tensor (no PIL)."""
            padded = F.pad(x, (4, 4, 4, 4))
            dy = torch.randint(0, 9, (b,), device=device)
            dx = torch.randint(0, 9, (b,), device=device)
            flip = torch.rand(b, device=device) < 0.5
            ys = (dy[:, None] + rows[None, :])                                        # (b, 32)
            xs = torch.where(flip[:, None], dx[:, None] + 31 - rows[None, :], dx[:, None] + rows[None, :])
            n = torch.arange(b, device=device)[:, None, None, None]
            c = torch.arange(3, device=device)[None, :, None, None]
            return padded[n, c, ys[:, None, :, None], xs[:, None, None, :]]

        def step():
            opt.zero_grad(set_to_none=True)
            x = crop_flip(pixels) if augment else pixels
            loss = F.nll_loss(F.log_softmax(model(normalise(x)), dim=1), labels)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            return loss

        seconds = timed(step)
        images = b * args.steps
        steps = args.steps
    elif args.mode == "eval":
        b = args.batch_size
        model.eval()
        pixels = torch.randint(0, 256, (b, 3, 32, 32), dtype=torch.uint8, device=device)

        def infer():
            with torch.no_grad():
                return model(normalise(pixels)).argmax(dim=1).sum().item()   # read back, as the C# side downloads logits

        seconds = timed(infer)
        images = b * args.steps
        steps = args.steps
    else:
        b, alpha, clip = args.batch_size, 0.15, 0.5
        retain_pixels = torch.randint(0, 256, (args.retain, 3, 32, 32), dtype=torch.uint8, device=device)
        retain_labels = torch.randint(1, 10, (args.retain,), device=device)
        forget_pixels = torch.randint(0, 256, (args.forget, 3, 32, 32), dtype=torch.uint8, device=device)
        forget_labels = torch.zeros(args.forget, dtype=torch.int64, device=device)

        def step(r0, r1, f0):
            n = r1 - r0
            fi = torch.arange(f0, f0 + n, device=device) % args.forget
            loss_f = F.nll_loss(F.log_softmax(model(normalise(forget_pixels[fi])), dim=1), forget_labels[fi])
            grads_f = torch.autograd.grad(loss_f, params)
            loss_r = F.nll_loss(F.log_softmax(model(normalise(retain_pixels[r0:r1])), dim=1), retain_labels[r0:r1])
            grads_r = torch.autograd.grad(loss_r, params)
            for p, gf, gr in zip(params, grads_f, grads_r):
                p.grad = (1 - alpha) * gr - alpha * gf
            torch.nn.utils.clip_grad_norm_(params, clip)
            opt.step()
            return loss_f.item(), loss_r.item()   # the progress line's host round trip, as in the C# loop

        if args.warmup > 0:
            step(0, min(b, args.retain), 0)       # warm-up (cudnn autotuning), not timed
        sync(device)
        start = time.perf_counter()
        f0, steps = 0, 0
        for r0 in range(0, args.retain, b):
            if args.epoch_steps is not None and steps == args.epoch_steps:
                break
            r1 = min(r0 + b, args.retain)
            step(r0, r1, f0)
            f0 += r1 - r0
            steps += 1
        sync(device)
        seconds = time.perf_counter() - start
        images = 2 * min(args.retain, steps * b)

    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated()
        name = torch.cuda.get_device_name()
    else:
        peak = peak_rss_bytes() - base_rss
        name = f"cpu ({torch.get_num_threads()} threads)"
    result = {"peer": "pytorch", "torch": torch.__version__, "mode": args.mode, "device": name,
              "batch_size": args.batch_size, "steps": steps, "seconds": seconds, "images": images,
              "images_per_second": images / seconds,
              "tflops_per_second": (2.0 if args.mode == "eval" else 6.0) * macs * images / seconds / 1e12,
              "forward_macs_per_image": macs, "peak_memory_bytes": peak,
              "tf32": ("off" if args.no_tf32 else "pytorch default") if device.type == "cuda" else "n/a (cpu)",
              "tf32_settings": tf32_settings() if device.type == "cuda" else {},
              "cudnn_benchmark": device.type == "cuda"}
    if args.mode == "epoch":
        result["steps_per_epoch"] = -(-args.retain // args.batch_size)
        result["epoch_seconds"] = seconds / steps * result["steps_per_epoch"]
    text = json.dumps(result)
    print(text)
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            f.write(text + "\n")
        os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
