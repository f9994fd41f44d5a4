#!/usr/bin/env python3
"""The PyTorch + scikit-learn peer of bench/real-size-run.sh: the same whole job as `ilgpu-unlearn train` (base and
retrained-without-k) followed by `ilgpu-unlearn unlearn --dataset fashion-mnist` with every metric, phase by phase, so the
two can be compared as ratios measured back to back on one machine.

Phases (seconds of each go into the JSON, named as the driver's table names them):
  load:            the imports (torch, scikit-learn), then the four gzip IDX files of Fashion-MNIST decompressed into uint8 tensors (70,000 28x28 images).
  train base:      --train-limit images (the first limit/10 of each class, as `train --limit`), --train-epochs epochs of the
                   base recipe's step (batch 128, random 28 crop of the 4-padded image + horizontal flip, SGD lr 0.1
                   momentum 0.9 wd 5e-4 Nesterov, cosine annealing), then the per-epoch forward of the limited test set.
  train retrained: the same without the forget class (`train --exclude-class k`).
  unlearning:      --unlearn-steps AdvNegGrad steps of the card (batch 2500 retain + 2500 forget images, crop-flip, alpha 0.15,
                   clip 0.5, SGD lr 0.1 Nesterov): adv_neg_grad_step of the fixtures, the step the C# tests are checked against.
  forward <model>: evaluation-mode forward of all 70,000 images (batch 500, as `unlearn --eval-batch-size`), keeping
                   the per-sample loss and true-class probability, for each of base, unlearned and retrained.
  SVC attack:      SalUn's SVC_MIA (bench/svc_peer.py's svc_mia: sklearn SVC C=3 gamma auto) on the split that
                   `--mia-split salun` (our default) uses: members the first |test without k| retain-class training images in
                   file order, non-members the retain-class test images, targets the forget-class training images.
  loss attack:     simple_mia of the NeurIPS 2023 unlearning kit as LossAttack.cs computes it: forget-class training losses
                   against as many test losses (all 10,000 test images, subsampled), LogisticRegression, 10 stratified shuffle
                   splits (10% held out), plus --attack-resamples refits on bootstrap resamples as ours does (200 by default).
  bootstrap:       --bootstrap resamples of the accuracy figures (per class, within each class, on both splits) and of the SVC
                   efficacy over resampled targets (predictions kept), as ours resamples them.
Run with /usr/bin/python3 (Debian's torch 1.13 and scikit-learn 1.2 here).
"""
import time

START = time.perf_counter()   # the load phase counts the imports too, as ours counts its runtime's start-up

import argparse  # noqa: E402
import gzip
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from sklearn import linear_model, model_selection  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "IlgpuUnlearn.Tests", "Fixtures"))
sys.path.insert(0, HERE)
from make_model_fixtures import ResNet18, adv_neg_grad_step  # noqa: E402  (the project's hand-built CIFAR-stem ResNet18)
from svc_peer import svc_mia  # noqa: E402

MEAN, STD = 0.2860, 0.3530   # the fashion-mnist normalisation preset (InputNormalization.FashionMnist)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims))
    return torch.from_numpy(np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape).copy())


def load(folder):
    train_x = read_idx(os.path.join(folder, "train-images-idx3-ubyte.gz")).unsqueeze(1)
    train_y = read_idx(os.path.join(folder, "train-labels-idx1-ubyte.gz")).long()
    test_x = read_idx(os.path.join(folder, "t10k-images-idx3-ubyte.gz")).unsqueeze(1)
    test_y = read_idx(os.path.join(folder, "t10k-labels-idx1-ubyte.gz")).long()
    return train_x, train_y, test_x, test_y


def limited(y, limit, exclude=None):
    """Indices of the first limit/10 images of each class in file order (all with limit None), without class exclude."""
    keep = []
    for c in range(10):
        if c == exclude:
            continue
        idx = (y == c).nonzero().flatten()
        keep.append(idx if limit is None else idx[: limit // 10])
    return torch.cat(keep).sort().values


def normalise(pixels):
    return (pixels.float() / 255 - MEAN) / STD


def crop_flip(x, generator):
    """Random crop of the 4-padded image back to its size and a random horizontal flip, drawn per image."""
    n, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    dy = torch.randint(0, 9, (n,), generator=generator)
    dx = torch.randint(0, 9, (n,), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(x)
    for i in range(n):
        img = padded[i, :, dy[i]: dy[i] + h, dx[i]: dx[i] + w]
        out[i] = img.flip(-1) if flip[i] else img
    return out


def train(model, x, y, test_x, test_y, epochs, generator, batch=128):
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
    steps = 0
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(y), generator=generator)
        for s in range(0, len(y), batch):
            i = order[s: s + batch]
            opt.zero_grad()
            loss = F.cross_entropy(model(crop_flip(normalise(x[i]), generator)), y[i])
            loss.backward()
            opt.step()
            loss.item()
            steps += 1
        sched.step()
        forward(model, test_x, test_y)   # the per-epoch test evaluation `train` logs
    return steps


def forward(model, x, y, batch=500):
    """Per-sample cross-entropy loss, true-class probability (float64) and correctness (arg max) in evaluation mode."""
    model.eval()
    losses, probs, correct = [], [], []
    with torch.no_grad():
        for s in range(0, len(y), batch):
            logp = F.log_softmax(model(normalise(x[s: s + batch])), dim=1)
            t = logp.gather(1, y[s: s + batch].unsqueeze(1)).squeeze(1)
            losses.append(-t)
            probs.append(t.exp())
            correct.append(logp.argmax(1) == y[s: s + batch])
    return torch.cat(losses).double().numpy(), torch.cat(probs).double().numpy(), torch.cat(correct).double().numpy()


def simple_mia(losses, members, seed):
    cv = model_selection.StratifiedShuffleSplit(n_splits=10, random_state=seed)
    return model_selection.cross_val_score(linear_model.LogisticRegression(), losses.reshape(-1, 1), members, cv=cv,
                                           scoring="accuracy").mean()


def loss_attack(forget_losses, test_losses, resamples, rng):
    ns = min(len(forget_losses), len(test_losses))
    x = np.concatenate([rng.choice(forget_losses, ns, replace=False), rng.choice(test_losses, ns, replace=False)])
    y = np.concatenate([np.ones(ns), np.zeros(ns)])
    value = simple_mia(x, y, 0)
    for _ in range(resamples):
        draw = np.concatenate([rng.integers(0, ns, ns), ns + rng.integers(0, ns, ns)])
        simple_mia(x[draw], y, 0)
    return 100 * value


def bootstrap(train_correct, train_y, test_correct, test_y, svc_forgotten, k, resamples, rng):
    """Percentile intervals of forget, retain and test accuracy and SVC efficacy over per-class resamples."""
    train_by_class = [np.flatnonzero(train_y == c) for c in range(10)]
    test_by_class = [np.flatnonzero(test_y == c) for c in range(10)]
    figures = []
    for _ in range(resamples):
        tr = [rng.choice(idx, len(idx)) for idx in train_by_class]
        te = [rng.choice(idx, len(idx)) for idx in test_by_class]
        forget_acc = train_correct[tr[k]].mean()
        retain_acc = np.concatenate([train_correct[tr[c]] for c in range(10) if c != k]).mean()
        test_acc = np.concatenate([test_correct[t] for t in te]).mean()
        svc = svc_forgotten[rng.integers(0, len(svc_forgotten), len(svc_forgotten))].mean()
        figures.append((forget_acc, retain_acc, test_acc, svc))
    return np.percentile(np.array(figures), [2.5, 97.5], axis=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--forget-class", type=int, default=3)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--train-limit", type=int, default=2560, help="images the base sees per epoch (`train --limit`)")
    ap.add_argument("--train-epochs", type=int, default=1)
    ap.add_argument("--unlearn-steps", type=int, default=2)
    ap.add_argument("--unlearn-batch", type=int, default=2500)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--attack-resamples", type=int, default=200)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--models-from", help="forward FOLDER's base.pth, retrained.pth and unlearned.pth (ours) in place of the "
                    "peer's own models, at the same cost, so that both sides' metrics are of the same models")
    ap.add_argument("--json", required=True)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    k = a.forget_class
    phases = []
    clock = START

    def close(name, **extra):
        nonlocal clock
        now = time.perf_counter()
        phases.append(dict(name=name, seconds=now - clock, **extra))
        print(f"peer: {name}: {now - clock:.1f} s", file=sys.stderr, flush=True)
        clock = now

    train_x, train_y, test_x, test_y = load(a.data)
    close("load")
    lim_test = limited(test_y, a.train_limit)
    models = {}
    for role, exclude in (("base", None), ("retrained", k)):
        idx = limited(train_y, a.train_limit, exclude)
        model = ResNet18(a.width, 10, 1)
        steps = train(model, train_x[idx], train_y[idx], test_x[lim_test], test_y[lim_test], a.train_epochs, g)
        models[role] = model
        close(f"train {role}", steps=steps, images=len(idx) * a.train_epochs)

    unlearned = ResNet18(a.width, 10, 1)
    unlearned.load_state_dict(models["base"].state_dict())
    opt = torch.optim.SGD(unlearned.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
    retain = (train_y != k).nonzero().flatten()
    forget = (train_y == k).nonzero().flatten()
    retain = retain[torch.randperm(len(retain), generator=g)]
    forget = forget[torch.randperm(len(forget), generator=g)]
    b = a.unlearn_batch
    for s in range(a.unlearn_steps):
        ri, fi = retain[s * b: (s + 1) * b], forget[torch.arange(s * b, (s + 1) * b) % len(forget)]
        adv_neg_grad_step(unlearned, opt, crop_flip(normalise(train_x[fi]), g), train_y[fi],
                          crop_flip(normalise(train_x[ri]), g), train_y[ri])
    close("unlearning", steps=a.unlearn_steps, images=2 * b * a.unlearn_steps)

    models = {"base": models["base"], "retrained": models["retrained"], "unlearned": unlearned}
    if a.models_from:
        for role, model in models.items():
            model.load_state_dict(torch.load(os.path.join(a.models_from, f"{role}.pth")))
    outputs = {}
    for role in ("base", "retrained", "unlearned"):
        outputs[role] = (forward(models[role], train_x, train_y), forward(models[role], test_x, test_y))
        close(f"forward {role}", images=len(train_y) + len(test_y))

    tr_y, te_y = train_y.numpy(), test_y.numpy()
    retain_train = np.flatnonzero(tr_y != k)
    test_retain = np.flatnonzero(te_y != k)
    forget_train = np.flatnonzero(tr_y == k)
    metrics = {}
    for role in ("base", "unlearned", "retrained"):
        (train_loss, train_p, train_ok), (test_loss, test_p, test_ok) = outputs[role]
        members = train_p[retain_train[: len(test_retain)]]
        efficacy, _, predicted = svc_mia(members, test_p[test_retain], train_p[forget_train])
        close(f"metrics {role}: SVC attack")
        lossmia = loss_attack(train_loss[forget_train], test_loss, a.attack_resamples, rng)
        close(f"metrics {role}: loss attack")
        bootstrap(train_ok, tr_y, test_ok, te_y, (predicted == 0).astype(np.float64), k, a.bootstrap, rng)
        close(f"metrics {role}: bootstrap")
        metrics[role] = {"forget_accuracy": 100 * train_ok[forget_train].mean(), "retain_accuracy": 100 * train_ok[retain_train].mean(),
                         "test_accuracy": 100 * test_ok.mean(), "mia_efficacy": 100 * efficacy, "loss_attack": lossmia}

    result = {"peer": "pytorch + scikit-learn", "torch": torch.__version__, "sklearn": sklearn.__version__,
              "python": platform.python_version(), "threads": torch.get_num_threads(), "width": a.width,
              "train_limit": a.train_limit, "train_epochs": a.train_epochs, "unlearn_steps": a.unlearn_steps,
              "bootstrap": a.bootstrap, "attack_resamples": a.attack_resamples, "forget_class": k,
              "models": f"ours, from {a.models_from}" if a.models_from else "the peer's own",
              "phases": phases, "wall_seconds": sum(p["seconds"] for p in phases), "metrics": metrics}
    with open(a.json + ".tmp", "w") as f:
        json.dump(result, f, indent=1)
    os.replace(a.json + ".tmp", a.json)


if __name__ == "__main__":
    main()
