#!/usr/bin/env python3
"""Writes lr_schedules.json: the learning rate PyTorch's own schedulers give each epoch, for LearningRateScheduleTests.

Run with a python that has torch (Debian's python3-torch: /usr/bin/python3):
    /usr/bin/python3 tests/IlgpuUnlearn.Tests/Fixtures/make_lr_schedule_fixtures.py

Each case steps a real torch.optim.SGD + scheduler once per epoch (optimizer.step() then scheduler.step(), as a training
loop does) and records param_groups[0]["lr"] in effect during every epoch, as Python floats (float64, shortest repr).
"""
import json
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def rates(base_lr, make_scheduler, epochs):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base_lr, momentum=0.9)
    sched = make_scheduler(opt)
    out = []
    for _ in range(epochs):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def main():
    S = torch.optim.lr_scheduler
    cases = [
        # The base model's recipe (Comparator backend, settings.py / train.py): cosine, T_max = 200 epochs; run past T_max.
        {"schedule": "cosine:200", "base_lr": 0.1, "rates": rates(0.1, lambda o: S.CosineAnnealingLR(o, T_max=200), 210)},
        # FT's recipe: 10 epochs, lr 0.01, T_max = epochs; and a floor.
        {"schedule": "cosine:10", "base_lr": 0.01, "rates": rates(0.01, lambda o: S.CosineAnnealingLR(o, T_max=10), 12)},
        {"schedule": "cosine:7:0.001", "base_lr": 0.05, "rates": rates(0.05, lambda o: S.CosineAnnealingLR(o, T_max=7, eta_min=0.001), 16)},
        # GA, RL, SalUn, SCRUB: MultiStepLR milestones [80, 120], gamma 0.2.
        {"schedule": "multistep:80,120:0.2", "base_lr": 0.1, "rates": rates(0.1, lambda o: S.MultiStepLR(o, milestones=[80, 120], gamma=0.2), 150)},
        {"schedule": "multistep:2,3,5:0.5", "base_lr": 1e-3, "rates": rates(1e-3, lambda o: S.MultiStepLR(o, milestones=[2, 3, 5], gamma=0.5), 8)},
        {"schedule": "constant", "base_lr": 0.1, "rates": rates(0.1, lambda o: S.LambdaLR(o, lambda e: 1.0), 5)},
    ]
    path = os.path.join(HERE, "lr_schedules.json")
    with open(path + ".tmp", "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, indent=1)
        f.write("\n")
    os.replace(path + ".tmp", path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
