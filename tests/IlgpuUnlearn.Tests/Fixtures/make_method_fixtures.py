#!/usr/bin/env python3
"""Writes method_{ft,ga,rl,salun,scrub,delete,l1sparse,cfk,euk,badteacher,neggradplus}_w4_s16.safetensors: what PyTorch gives for each of unlearn's Comparator methods on a
tiny set, for MethodFidelityTests.

Run with a python that has torch (Debian's python3-torch: /usr/bin/python3):
    /usr/bin/python3 tests/IlgpuUnlearn.Tests/Fixtures/make_method_fixtures.py [ft ga rl salun scrub delete l1sparse cfk euk badteacher neggradplus]

Each run is the loop MethodRun (src/IlgpuUnlearn/Unlearning/Methods/MethodRun.cs) runs, written here in PyTorch from the
Comparator's threads (github.com/gnueaj/Machine-Unlearning-Comparator, backend/app/threads/unlearn_*_thread.py) with the
settings of MethodSettings.Defaults except: 2 epochs, batches of 4, no shuffling (so the data order is the file order here
and there). A width-4 CIFAR ResNet18 with init_hashed() parameters on 10 images of 3x16x16 (pixels hash_bytes(3072, stream),
labels LABELS), forget class 3: the forget set F is images 0, 3, 6 (one batch of 3), the retain set R the other 7 (batches
4 and 3). SGD momentum 0.9, weight decay 5e-4, no Nesterov; the schedule stepped after each epoch.
  ft     descent on R; lr 0.01, CosineAnnealingLR(T_max 2, eta_min 0.01); no clipping.
  ga     ascent (loss -NLL) on F; lr 1e-4, MultiStepLR([80, 120], 0.2); clip 100.
  rl     descent on R then F as one set (batches 4, 4, 2), class-3 images relabelled; lr 1e-3, MultiStepLR; no clipping.
  salun  mask from the mean |gradient| of F's NLL (first 5 batches: here the one), top 75% of all parameters (>= the
         int(0.75 P)-th largest); per epoch every batch of F wholly relabelled, then R, each step's gradient times the mask,
         clip 100, then one more training-mode forward of the batch (the Comparator's accuracy tracking); lr 1e-3, MultiStepLR.
  scrub  Fisher f = sum over R's batches (until >= 1000 samples: all 7) of g^2 / samples; per epoch F with loss
         -0.5 KD (gradient times 1 / (f + 1e-8)), then R with 0.5 KD + 1.0 NLL, KD = F.kl_div(log_softmax(s/2),
         softmax(t/2), 'batchmean') * 4 with t the initial model in eval mode; clip 1; lr 0.01, MultiStepLR.
  delete F only; loss F.kl_div(log_softmax(s), softmax(t with t[i, y_i] = -1e10), 'batchmean'), t the initial model in
         eval mode; lr 1e-4, SGD momentum 0.9 without weight decay, constant rate; no clipping (DELETE's method/delete.py).
  l1sparse  descent on R of NLL + alpha (1 - e / 2) ||theta||_1 (torch.linalg.norm(ord=1) of all parameters), alpha 0.05;
         lr 0.01, MultiStepLR([91, 136], 0.1); no clipping (Unlearn-Sparse's unlearn/FT.py).
  cfk    descent on R training layer4 and fc only (requires_grad = False elsewhere); lr 0.1, Nesterov, CosineAnnealingLR(200).
  euk    cfk from initial parameters whose layer4 conv weights and fc are redrawn (reinit.<name> in the file).
  badteacher  F then R as one set (batches 4, 4, 2), KL 'batchmean' (T 1) towards the initial model for R's images and an
         incompetent teacher for F's (bad.<name>); lr 1e-4, SGD momentum 0.9 without weight decay, constant; no clipping.
  neggradplus  per batch of R (4, 3) as many images of F (a stream: 0 3 6 0, then 3 6 0), retain forwarded first, loss
         0.99 NLL(B_r) - 0.01 NLL(B_f); lr 0.01, SGD without momentum or weight decay; no clipping.
SalUn's saliency and SCRUB's Fisher are measured with the model in eval mode (BatchNorm on its running statistics, which
stay as they are), as the Comparator does and MethodRun does (BatchNormMode.EvaluationWithGradients). For these two the
hashed running statistics are replaced by the statistics of the image set itself (calibrated(): one float64 training-mode
forward of all 10 images with momentum 1, rounded to float32; stored as init.<bn>.running_mean / running_var): init_hashed's
statistics do not match the activations, so in eval mode whole channels stay below zero at their ReLU and a quarter of the
parameters get no gradient at all, which leaves SalUn's threshold at 0 (a mask of every parameter) and the runs badly
conditioned. Random labels: MethodRun's, from the C# DeterministicRandom (xoshiro256** seeded by SplitMix64,
ported below) with seed 2048, stream (epoch, 31 + 8 * pass); for each image to relabel, c = NextInt(9), c + 1 if c >= 3.

Conditioning, as make_train_fixtures.py explains: a run is only a fair yardstick when it is well conditioned, so the image
set of each method is the first candidate whose float64 run changes the parameters by the same amount, within 1e-4 of a
tensor's largest change (SCRUB: 2e-3, see SPREAD_LIMIT), under 16 random perturbations of 8 ulp (x (1 +- 2^-21)) of every initial parameter (the change,
not the end point, is compared: these runs move the parameters so little that the 8-ulp move of the start alone is 2e-4
of a tensor's change); for SalUn also the saliency's gap at
the threshold (between the int(0.75 P)-th and the next largest) must be above 1e-4 relative, so that no rounding moves a
parameter in or out of the mask.

Tensors per file: data.labels, data.streams; conditioning.spread; salun, scrub: init.<bn>.running_mean / running_var; after32.<name> (float32), after64.<name> (float64) for
every float tensor of the state dict after the run; after32.<bn>.num_batches_tracked; losses32 / losses64 (each step's
NLL); salun: mask.count (parameters in the mask, float64 run).
"""
import copy
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_model_fixtures import ResNet18, distance, hash_bytes, init_hashed, normalise, write_safetensors  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
WIDTH, SIZE, BATCH, EPOCHS, CLASSES, FORGET, SEED = 4, 16, 4, 2, 10, 3, 2048
LABELS = [3, 7, 0, 3, 9, 1, 3, 5, 8, 2]
PERTURBATION, TRIALS, MASK_GAP = 2.0 ** -21, 16, 1e-4
SPREAD_LIMIT = {"ft": 1e-4, "ga": 1e-4, "rl": 1e-4, "salun": 1e-4, "scrub": 2e-3, "delete": 1e-4, "l1sparse": 1e-4, "cfk": 1e-4, "euk": 1e-4, "badteacher": 1e-4, "neggradplus": 1e-4}
# SCRUB: no candidate from 6000 to 6380 stays within 1e-4; nearly all spread 5e-4 to 1.6e-3 (measured: 6020 5.4e-4 after one
# trial, 6180 1.0e-3, 6220 8.8e-4, 6320 6.0e-4, 6380 2.6e-3 ...), against 0.1 to 0.2 where a ReLU flips (6000, 6280). The
# forget step multiplies the gradient by 1 / (f + 1e-8), so its direction is set by the parameters with the smallest
# gradients, whose relative error is the largest: a smooth sensitivity, proportional to the perturbation, which float32
# rounding (1/16 of these perturbations) shares. The limit 2e-3 keeps out the flips only.
MASK64 = (1 << 64) - 1
BAD_STATE = {}

# The Comparator's settings (MethodSettings.Defaults; the README's method table names their files).
LR = {"ft": 0.01, "ga": 1e-4, "rl": 1e-3, "salun": 1e-3, "scrub": 0.01, "delete": 1e-4, "l1sparse": 0.01, "cfk": 0.1, "euk": 0.1, "badteacher": 1e-4, "neggradplus": 0.01}
CLIP = {"ft": 0.0, "ga": 100.0, "rl": 0.0, "salun": 100.0, "scrub": 1.0, "delete": 0.0, "l1sparse": 0.0, "cfk": 0.0, "euk": 0.0, "badteacher": 0.0, "neggradplus": 0.0}
# The other methods' sources (their files in src/IlgpuUnlearn/Unlearning/Methods name them): DELETE's SGD has no weight decay
# and no schedule.
WEIGHT_DECAY = {"delete": 0.0, "badteacher": 0.0, "neggradplus": 0.0}
MOMENTUM = {"neggradplus": 0.0}
CONSTANT_LR = {"delete", "badteacher", "neggradplus"}
# NegGrad+ (SCRUB's train_negrad): per retain batch B_r (R drives the epoch), as many forget images from F read as an endless
# stream in file order, restarted each epoch (the C# pairing; SCRUB cycles whole forget batches), forward B_r then B_f, loss
# (1 - A) NLL(B_r) - A NLL(B_f), one backward; SGD without momentum or weight decay, lr 0.01 constant. A = 0.01 here (the
# test passes the same), not the default 1e-4, so that the forget term moves the parameters measurably.
NEGGRAD_ALPHA = 0.01
# l1-sparse: MultiStepLR([91, 136], 0.1); the penalty weight alpha (1 - e / EPOCHS), alpha 0.05 here (the test passes the
# same), not the default 1e-4, so that the penalty moves the parameters measurably in two epochs.
L1_ALPHA = 0.05
# CF-k and EU-k (the sibling card's SGD: Nesterov, CosineAnnealingLR(T_max 200)): only layer4 and fc train (--train-last 1),
# every other parameter has requires_grad = False. EU-k first replaces layer4's conv weights and fc's weight and bias with
# REINIT_STD-scaled normal values in float32 (kept in the file as reinit.<name>: the C# test starts from them, as the C#
# EU-k draws its own), its BatchNorm layers kept.
TRAIN_LAST = ("layer4.", "fc.")
NESTEROV = {"cfk", "euk"}
REINIT_STD = 0.3
# Bad Teacher (DELETE's method/bad_teacher.py): F and all of R (the test passes --retain-fraction 1; the subset draw has its
# own test) as one set, KL 'batchmean' at T = 1 towards the initial model (eval mode) for R's images and towards an
# incompetent teacher (PyTorch's default initialisation under manual_seed(5), eval mode; kept as bad.<name>) for F's.
BAD_TEACHER_SEED = 5
SALIENCY_THRESHOLD, SALIENCY_BATCHES = 0.75, 5
KD_T, SCRUB_ALPHA, SCRUB_GAMMA, MSTEPS, FISHER_SAMPLES = 2.0, 0.5, 1.0, 100, 1000
RELABEL_STREAM = 31
CALIBRATED = {"salun", "scrub"}   # measured in eval mode: running statistics of the image set (calibrated())


# ---- the C# DeterministicRandom (src/IlgpuUnlearn/Data/DeterministicRandom.cs), in exact 64-bit arithmetic -------------

def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def derive_seed(seed, stream, substream=0):
    x = (seed & MASK64) ^ ((stream * 0xD1B54A32D192ED03) & MASK64) ^ ((substream * 0x8CB92BA72F3D8DD7) & MASK64)
    return splitmix64(x)[1]


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK64


class DeterministicRandom:
    def __init__(self, seed):
        x = seed & MASK64
        self.s = []
        for _ in range(4):
            x, v = splitmix64(x)
            self.s.append(v)

    def next_u64(self):
        s0, s1, s2, s3 = self.s
        result = (rotl((s1 * 5) & MASK64, 7) * 9) & MASK64
        t = (s1 << 17) & MASK64
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def next_int(self, bound):
        limit = MASK64 - (MASK64 % bound)
        while True:
            r = self.next_u64()
            if r < limit:
                return r % bound


def other_class(rng):
    c = rng.next_int(CLASSES - 1)
    return c + 1 if c >= FORGET else c


# ---- the runs ------------------------------------------------------------------------------------------------------

def images(streams):
    return np.stack([hash_bytes(3 * SIZE * SIZE, s).reshape(3, SIZE, SIZE) for s in streams])


def batches(indices):
    return [indices[i:i + BATCH] for i in range(0, len(indices), BATCH)]


def nll(logits, y):
    return F.nll_loss(F.log_softmax(logits, dim=1), y)


def kd(student, teacher):
    return F.kl_div(F.log_softmax(student / KD_T, dim=1), F.softmax(teacher / KD_T, dim=1), reduction="batchmean") * KD_T ** 2


def calibrated(initial, pixels):
    """initial with each BatchNorm's running statistics set to those of the images (see the docstring)."""
    model = ResNet18(WIDTH, CLASSES)
    model.load_state_dict(initial)
    model = model.double().train()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = 1.0
    with torch.no_grad():
        model(normalise(pixels).double())
    state = model.state_dict()
    return {k: state[k].float() if "running" in k else v.clone() for k, v in initial.items()}


def gradients_of(model, x, y):
    """Eval-mode forward and backward of the mean NLL (the Comparator's model.eval() before measuring); the flat gradient
    (parameter order)."""
    model.eval()
    model.zero_grad()
    nll(model(x), y).backward()
    return torch.cat([p.grad.reshape(-1) for p in model.parameters()])


def run(method, initial, pixels, dtype, measure=None):
    model = ResNet18(WIDTH, CLASSES)
    model.load_state_dict(initial)
    model = model.to(dtype)
    x_all = normalise(pixels).to(dtype)
    y_all = torch.tensor(LABELS, dtype=torch.int64)
    retain = [i for i, l in enumerate(LABELS) if l != FORGET]
    forget = [i for i, l in enumerate(LABELS) if l == FORGET]
    params = list(model.parameters())
    if method in ("cfk", "euk"):
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith(TRAIN_LAST)
    opt = torch.optim.SGD(params, lr=LR[method], momentum=MOMENTUM.get(method, 0.9), weight_decay=WEIGHT_DECAY.get(method, 5e-4),
                          nesterov=method in NESTEROV)
    sched = (torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS, eta_min=0.01) if method == "ft"
             else torch.optim.lr_scheduler.LambdaLR(opt, lambda e: 1.0) if method in CONSTANT_LR
             else torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[91, 136], gamma=0.1) if method == "l1sparse"
             else torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=200) if method in ("cfk", "euk")
             else torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[80, 120], gamma=0.2))

    factor = None
    if method == "salun":
        total, count = None, 0
        for b in batches(forget)[:SALIENCY_BATCHES]:
            g = gradients_of(model, x_all[b], y_all[b]).abs()
            total = g if total is None else total + g
            count += 1
        saliency = total / count
        k = int(SALIENCY_THRESHOLD * saliency.numel())
        top = torch.topk(saliency, k + 1).values
        threshold = top[k - 1]
        factor = (saliency >= threshold).to(dtype)
        if measure is not None:
            measure["gap"] = ((top[k - 1] - top[k]) / top[k - 1]).item()
            measure["count"] = int(factor.sum().item())
    teacher = None
    if method in ("delete", "badteacher"):
        teacher = copy.deepcopy(model).eval()
    if method == "badteacher":
        torch.manual_seed(BAD_TEACHER_SEED)
        bad = ResNet18(WIDTH, CLASSES)
        BAD_STATE.update({k: v.clone() for k, v in bad.state_dict().items()})
        bad = bad.to(dtype).eval()
    if method == "scrub":
        teacher = copy.deepcopy(model).eval()
        fisher, samples = None, 0
        for b in batches(retain):
            if samples >= FISHER_SAMPLES:
                break
            g = gradients_of(model, x_all[b], y_all[b]) ** 2
            fisher = g if fisher is None else fisher + g
            samples += len(b)
        factor = 1.0 / (fisher / samples + 1e-8)

    def passes(epoch):
        """(indices, relabel: None / 'forget-class' / 'every', forget pass?) in MethodRun's order."""
        if method in ("ft", "l1sparse", "cfk", "euk"):
            return [(retain, None, False)]
        if method == "ga":
            return [(forget, None, True)]
        if method == "rl":
            return [(retain + forget, "forget-class", False)]
        if method == "salun":
            return [(forget, "every", True), (retain, None, False)]
        if method == "delete":
            return [(forget, None, True)]
        if method == "badteacher":
            return [(forget + retain, None, False)]
        return ([(forget, None, True)] if epoch < MSTEPS else []) + [(retain, None, False)]

    losses = []
    if method == "neggradplus":
        for epoch in range(EPOCHS):
            model.train()
            stream = 0  # each epoch's stream starts again (file order)
            for b in batches(retain):
                f = [forget[(stream + i) % len(forget)] for i in range(len(b))]
                stream += len(b)
                opt.zero_grad()
                ce = nll(model(x_all[b]), y_all[b])
                loss = (1 - NEGGRAD_ALPHA) * ce - NEGGRAD_ALPHA * nll(model(x_all[f]), y_all[f])
                loss.backward()
                opt.step()
                losses.append(ce.item())
            sched.step()
        return model.state_dict(), losses
    for epoch in range(EPOCHS):
        model.train()
        for p_index, (indices, relabel, is_forget) in enumerate(passes(epoch)):
            rng = DeterministicRandom(derive_seed(SEED, epoch, RELABEL_STREAM + 8 * p_index))
            for b in batches(indices):
                x = x_all[b]
                y = y_all[b].clone()
                for i in range(len(b)):
                    if relabel == "every" or (relabel == "forget-class" and y[i].item() == FORGET):
                        y[i] = other_class(rng)
                opt.zero_grad()
                out = model(x)
                ce = nll(out, y)
                if method == "ga":
                    loss = -ce
                elif method == "delete":
                    with torch.no_grad():
                        t = teacher(x)
                        t[torch.arange(len(b)), y] = -1e10
                    loss = F.kl_div(F.log_softmax(out, dim=1), F.softmax(t, dim=1), reduction="batchmean")
                elif method == "badteacher":
                    with torch.no_grad():
                        good, incompetent = teacher(x), bad(x)
                        forget_rows = (y == FORGET).unsqueeze(1)
                        t = torch.where(forget_rows, incompetent, good)
                    loss = F.kl_div(F.log_softmax(out, dim=1), F.softmax(t, dim=1), reduction="batchmean")
                elif method == "scrub":
                    with torch.no_grad():
                        t = teacher(x)
                    loss = -SCRUB_ALPHA * kd(out, t) if is_forget else SCRUB_ALPHA * kd(out, t) + SCRUB_GAMMA * ce
                elif method == "l1sparse":
                    loss = ce + L1_ALPHA * (1 - epoch / EPOCHS) * torch.linalg.norm(torch.cat([p.view(-1) for p in params]), ord=1)
                else:
                    loss = ce
                loss.backward()
                if factor is not None and (method == "salun" or is_forget):
                    offset = 0
                    for p in params:
                        n = p.numel()
                        p.grad.mul_(factor[offset:offset + n].view_as(p))
                        offset += n
                if CLIP[method] > 0:
                    torch.nn.utils.clip_grad_norm_(params, CLIP[method])
                opt.step()
                if method == "salun":
                    with torch.no_grad():
                        model(x)
                losses.append(ce.item())
        sched.step()
    return model.state_dict(), losses


def change_distance(after, moved, reference, initial):
    """distance() of the changes (after - moved) and (reference - initial): the perturbation itself is not counted, only
    what the run makes of it (with steps this small, the moved starting point alone is 1e-4 of a tensor's change)."""
    worst = 0.0
    for name, t in after.items():
        if name.endswith("num_batches_tracked") or "running" in name:
            continue
        change = (reference[name].double() - initial[name].double()).abs().max().item()
        if change == 0:  # frozen
            continue
        d = ((t.double() - moved[name].double()) - (reference[name].double() - initial[name].double())).abs().max().item() / change
        worst = max(worst, d)
    return worst


def conditioning(method, initial, pixels):
    """The float64 spread under perturbed initial parameters (stops past the limit); SalUn's mask gap."""
    measure = {}
    reference, _ = run(method, initial, pixels, torch.float64, measure)
    if method == "salun" and not measure["gap"] > MASK_GAP:   # (a NaN gap, 0 / 0, fails too)
        return float("inf"), measure
    g = torch.Generator().manual_seed(1)
    spread = 0.0
    for _ in range(TRIALS):
        moved = {k: v * (1 + PERTURBATION * torch.randn(v.shape, generator=g).sign())
                 if v.is_floating_point() and "running" not in k else v.clone() for k, v in initial.items()}
        spread = max(spread, change_distance(run(method, moved, pixels, torch.float64)[0], moved, reference, initial))
        if spread > SPREAD_LIMIT[method]:
            break
    return spread, measure


def main():
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}", file=sys.stderr)
    methods = sys.argv[1:] or ["ft", "ga", "rl", "salun", "scrub", "delete", "l1sparse", "cfk", "euk", "badteacher", "neggradplus"]
    model = ResNet18(WIDTH, CLASSES)
    init_hashed(model)
    hashed = {k: v.clone() for k, v in model.state_dict().items()}
    for method in methods:
        start = dict(hashed)
        reinit = {}
        if method == "euk":
            g = torch.Generator().manual_seed(7)
            for name, v in hashed.items():
                if name.startswith(TRAIN_LAST) and (v.dim() == 4 or name.startswith("fc.")):
                    reinit[name] = (REINIT_STD * torch.randn(v.shape, generator=g, dtype=torch.float64)).to(torch.float32)
            start.update(reinit)
        for best in range(6000, 6400, 20):
            pixels = images([best + i for i in range(len(LABELS))])
            initial = calibrated(start, pixels) if method in CALIBRATED else start
            spread, measure = conditioning(method, initial, pixels)
            print(f"{method}: image streams from {best}: float64 spread {spread:.2e} {measure}", file=sys.stderr)
            if spread <= SPREAD_LIMIT[method]:
                break
        else:
            sys.exit(f"{method}: no well-conditioned image set among the candidates")
        streams = [best + i for i in range(len(LABELS))]
        after32, losses32 = run(method, initial, pixels, torch.float32)
        after64, losses64 = run(method, initial, pixels, torch.float64)
        worst, where = distance(after32, after64, initial)
        print(f"{method}: PyTorch fp32 vs fp64: {worst:.2e} of the tensor's largest change ({where})", file=sys.stderr)
        out = {
            "data.labels": torch.tensor(LABELS, dtype=torch.int64),
            "data.streams": torch.tensor(streams, dtype=torch.int64),
            "losses32": torch.tensor(losses32, dtype=torch.float32),
            "losses64": torch.tensor(losses64, dtype=torch.float64),
            "conditioning.spread": torch.tensor([spread], dtype=torch.float64),
        }
        if method in CALIBRATED:
            for name, t in initial.items():
                if "running" in name:
                    out[f"init.{name}"] = t.clone()
        for name, t in reinit.items():
            out[f"reinit.{name}"] = t.clone()
        if method == "badteacher":
            for name, t in BAD_STATE.items():
                if not name.endswith("num_batches_tracked"):
                    out[f"bad.{name}"] = t.clone().to(torch.float32)
        if method == "salun":
            out["mask.count"] = torch.tensor([measure["count"]], dtype=torch.int64)
        for name, t in after32.items():
            out[f"after32.{name}"] = t.clone()
            if not name.endswith("num_batches_tracked"):
                out[f"after64.{name}"] = after64[name].clone()
        write_safetensors(os.path.join(HERE, f"method_{method}_w{WIDTH}_s{SIZE}.safetensors"), out)


if __name__ == "__main__":
    main()
