"""Times the ResNet18 (CIFAR stem, width 64, 32x32 inputs) convolutions in PyTorch on the CPU, batch 64, 2 threads:
forward, backward-input and backward-weight separately (aten::convolution_backward with one output each), best of
several runs, and prints GFLOP/s in the same format as IlgpuUnlearn.Cpu.CpuOpsBenchmark for a side-by-side ratio.
Usage: /usr/bin/python3 bench/cpu/torch_convs.py [threads] [batch]"""
import sys
import time

import torch

THREADS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
BATCH = int(sys.argv[2]) if len(sys.argv) > 2 else 64
torch.set_num_threads(THREADS)

# (name, Cin, H, Cout, K, stride, pad, uses per training step)
SHAPES = [
    ("conv1 3->64 32x32", 3, 32, 64, 3, 1, 1, 1),
    ("layer1 64->64 32x32", 64, 32, 64, 3, 1, 1, 4),
    ("layer2 64->128 s2", 64, 32, 128, 3, 2, 1, 1),
    ("layer2 128->128 16x16", 128, 16, 128, 3, 1, 1, 3),
    ("layer2 ds 1x1 64->128 s2", 64, 32, 128, 1, 2, 0, 1),
    ("layer3 128->256 s2", 128, 16, 256, 3, 2, 1, 1),
    ("layer3 256->256 8x8", 256, 8, 256, 3, 1, 1, 3),
    ("layer3 ds 1x1 128->256 s2", 128, 16, 256, 1, 2, 0, 1),
    ("layer4 256->512 s2", 256, 8, 512, 3, 2, 1, 1),
    ("layer4 512->512 4x4", 512, 4, 512, 3, 1, 1, 3),
    ("layer4 ds 1x1 256->512 s2", 256, 8, 512, 1, 2, 0, 1),
]


CPU_SECONDS = []  # the least process CPU time of each best_seconds call


def best_seconds(fn, repeats=5):
    fn()
    best = float("inf")
    best_cpu = float("inf")
    for _ in range(repeats):
        cpu = time.process_time()
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    CPU_SECONDS.append(best_cpu)
    return best


def main():
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {BATCH}")
    print(f"{'shape':28s} {'fwd ms':>8s} {'GF/s':>6s} {'bwd-in ms':>10s} {'GF/s':>6s} {'bwd-w ms':>9s} {'GF/s':>6s}")
    total = 0.0
    total_cpu = 0.0
    total_flops = 0.0
    torch.manual_seed(0)
    for name, cin, h, cout, k, stride, pad, uses in SHAPES:
        x = torch.randn(BATCH, cin, h, h)
        w = torch.randn(cout, cin, k, k)
        y = torch.nn.functional.conv2d(x, w, stride=stride, padding=pad)
        dy = torch.randn_like(y)
        flops = 2.0 * y.numel() * cin * k * k

        def forward():
            torch.nn.functional.conv2d(x, w, stride=stride, padding=pad)

        def backward(mask):
            torch.ops.aten.convolution_backward(dy, x, w, None, [stride, stride], [pad, pad], [1, 1], False, [0, 0], 1, mask)

        with torch.no_grad():
            tf = best_seconds(forward)
            ti = best_seconds(lambda: backward([True, False, False]))
            tw = best_seconds(lambda: backward([False, True, False]))
        total += uses * (tf + ti + tw)
        total_cpu += uses * sum(CPU_SECONDS[-3:])
        total_flops += uses * 3 * flops
        print(f"{name:28s} {tf*1e3:8.2f} {flops/tf/1e9:6.1f} {ti*1e3:10.2f} {flops/ti/1e9:6.1f} {tw*1e3:9.2f} {flops/tw/1e9:6.1f}")
    print(f"all convolutions of one training step (forward + both backward, each shape times its uses): {total*1e3:.1f} ms")
    # process CPU time (OpenMP workers spinning at barriers included), as CpuOpsBenchmark prints it for ours
    print(f"the same in CPU time: {total_cpu*1e3:.1f} ms, {total_flops/total_cpu/1e9:.1f} GFLOP/s per CPU-second")


if __name__ == "__main__":
    main()
