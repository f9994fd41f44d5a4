"""Per-shape ratio of two convolution tables (CpuOpsBenchmark's and torch_convs.py's), taking the best time of each
shape and pass over every file given for each side, since the shared machine's timings drift.
Usage: python3 bench/cpu/compare.py --ours ours1.txt [ours2.txt ...] --torch torch1.txt [torch2.txt ...]"""
import re
import sys


# uses per training step of each shape (the rest are used once), as in torch_convs.py
USES = {"layer1 64->64 32x32": 4, "layer2 128->128 16x16": 3, "layer3 256->256 8x8": 3, "layer4 512->512 4x4": 3}


def read(paths):
    best = {}
    for path in paths:
        for line in open(path):
            m = re.match(r"^(\S.{27})\s+([\d.]+)\s+[\d.]+\s+([\d.]+)\s+[\d.]+\s+([\d.]+)\s+[\d.]+\s*$", line)
            if not m:
                continue
            name = m.group(1).strip()
            times = [float(m.group(i)) for i in (2, 3, 4)]
            best[name] = [min(a, b) for a, b in zip(best.get(name, times), times)]
    return best


def main():
    args = sys.argv[1:]
    ours = read(args[args.index("--ours") + 1:args.index("--torch")])
    torch = read(args[args.index("--torch") + 1:])
    print(f"{'shape':28s} {'fwd ours/torch ms':>20s} {'x':>5s} {'bwd-in ours/torch':>20s} {'x':>5s} {'bwd-w ours/torch':>20s} {'x':>5s}")
    total_ours = total_torch = 0.0
    for name, t in torch.items():
        o = ours.get(name)
        if o is None:
            continue
        n = USES.get(name, 1)
        total_ours += n * sum(o)
        total_torch += n * sum(t)
        cells = " ".join(f"{o[i]:9.2f}/{t[i]:<9.2f} {t[i] / o[i]:5.2f}" for i in range(3))
        print(f"{name:28s} {cells}")
    print(f"all convolutions of a step: ours {total_ours:.1f} ms, torch {total_torch:.1f} ms, speed ratio {total_torch / total_ours:.2f}x")


if __name__ == "__main__":
    main()
