#!/usr/bin/env python3
"""Reference values for the evaluation below the logits (tests/IlgpuUnlearn.Tests/Evaluation/Probes/):

probe_sklearn.json   the linear probe's fit. Seeded features shaped like pooled ResNet features (non-negative, 5 classes
                     of 400 training and 200 test rows, 24 dimensions, one dimension constant), standardised with
                     StandardScaler (mean, population std; a constant column gets scale 1), then scikit-learn's
                     LogisticRegression(penalty="l2", C=1.0, solver="lbfgs", multi_class="multinomial") run to the end of
                     its tolerance (max_iter=10000, tol=1e-10; L-BFGS-B then stops on its relative-decrease test,
                     factr*eps = 2.2e-9): the scaler, coef_, intercept_, the objective sum(log loss) + ||coef||^2 / (2C),
                     predictions and per-class accuracy on the test rows.
cka_w4_s16.safetensors  linear CKA per stage as the Unlearning Comparator reports it (backend/app/utils/evaluation.py
                     calculate_cka_similarity with pytorch-cka 1.0.1's compute_cka). Three width-4 ResNet18s on 16x16
                     images ("base", "unlearned" = base plus a small hashed change, "retrained" = other hashed values;
                     state dicts under "<model>.<name>"), 600 training and 120 test images of 10 classes, forget class 3.
                     The Comparator's four splits: of the training images the first len//10 (in index order) of the
                     forget class and of the other classes, of the test images the first len//2 of each; minibatches of
                     BATCH images in order. Hooks on conv1 (the conv's output, before bn1), layer1.0 ... layer4.1 (block
                     outputs) and fc (logits), flattened per image; per minibatch the Gram matrices K = X X^T and
                     pytorch-cka's unbiased HSIC (Song et al. 2012; its hsic.py) of (K_x, K_y), (K_x, K_x), (K_y, K_y)
                     summed over minibatches; CKA = hsic_xy / sqrt(hsic_xx hsic_yy) clamped to [0, 1]. Computed here in
                     float64 (model and inputs) with numpy, written from the formula, not with the package
                     (not installed here): "cka.base" and "cka.retrained" are (4 splits, 10 stages), model 1 = base or
                     retrained, model 2 = unlearned ("cka.base_retrained": base against retrained), splits in the Comparator's order train-forget, train-other,
                     test-forget, test-other. "pooled.unlearned" holds the unlearned model's 8w-d pooled features of the
                     test images (the probe's input).
Run: /usr/bin/python3 tests/IlgpuUnlearn.Tests/Fixtures/make_probe_fixtures.py (Debian python3-sklearn, python3-torch).
"""
import json
import os
import sys

import numpy as np
import sklearn
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_model_fixtures import ResNet18, hash_bytes, hash_uniform, init_hashed, write_safetensors, MEAN, STD  # noqa: E402


# ---- the linear probe against scikit-learn ---------------------------------------------------------------------------

def probe_fixture():
    rng = np.random.default_rng(19)
    classes, dims, n_train, n_test = 5, 24, 400, 200
    centres = rng.uniform(0.0, 1.5, size=(classes, dims))

    def draw(n):
        y = rng.integers(0, classes, size=n)
        x = np.maximum(centres[y] + rng.normal(0.0, 0.8, size=(n, dims)), 0.0)   # after ReLU and pooling: >= 0
        x[:, 7] = 0.25                                                            # a dead unit: constant
        return x.astype(np.float32), y

    x_train, y_train = draw(n_train)
    x_test, y_test = draw(n_test)
    scaler = StandardScaler().fit(x_train.astype(np.float64))
    z_train = scaler.transform(x_train.astype(np.float64))
    z_test = scaler.transform(x_test.astype(np.float64))
    c = 1.0
    model = LogisticRegression(penalty="l2", C=c, solver="lbfgs", multi_class="multinomial", max_iter=10000, tol=1e-10)
    model.fit(z_train, y_train)

    logits = z_train @ model.coef_.T + model.intercept_
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    objective = -log_p[np.arange(n_train), y_train].sum() + (model.coef_ ** 2).sum() / (2 * c)
    predicted = model.predict(z_test)
    per_class = [float((predicted[y_test == k] == k).mean() * 100) for k in range(classes)]
    out = {
        "sklearn": sklearn.__version__, "classes": classes, "dims": dims, "C": c,
        "x_train": x_train.ravel().tolist(), "y_train": y_train.tolist(),
        "x_test": x_test.ravel().tolist(), "y_test": y_test.tolist(),
        "scaler_mean": scaler.mean_.tolist(), "scaler_scale": scaler.scale_.tolist(),
        "coef": model.coef_.ravel().tolist(), "intercept": model.intercept_.tolist(),
        "n_iter": int(model.n_iter_[0]), "objective": float(objective),
        "test_predicted": predicted.tolist(), "test_class_accuracy": per_class,
    }
    path = os.path.join(HERE, "probe_sklearn.json")
    with open(path + ".tmp", "w") as f:
        json.dump(out, f)
    os.replace(path + ".tmp", path)
    print(f"wrote {path}: {model.n_iter_[0]} L-BFGS iterations, objective {objective:.10f}, "
          f"test accuracy per class {np.round(per_class, 2).tolist()}")


# ---- linear CKA per stage as the Comparator computes it --------------------------------------------------------------

STAGES = ["conv1", "layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0", "layer3.1", "layer4.0", "layer4.1", "fc"]
WIDTH, SIZE, FORGET, BATCH = 4, 16, 3, 16


def unbiased_hsic(k, l):
    """pytorch-cka 1.0.1 hsic.py for one pair: HSIC_1 of Song et al. on Gram matrices with zeroed diagonals."""
    n = k.shape[0]
    k = k.copy()
    l = l.copy()
    np.fill_diagonal(k, 0.0)
    np.fill_diagonal(l, 0.0)
    trace = (k * l).sum()
    term2 = k.sum() * l.sum() / ((n - 1) * (n - 2))
    term3 = 2.0 / (n - 2) * (k.sum(axis=0) @ l.sum(axis=0))
    return (trace + term2 - term3) / (n * (n - 3))


def stage_features(model, x):
    """{stage: (n, features)} float64 from forward hooks, as pytorch-cka's hooks flatten module outputs."""
    found = {}
    modules = dict(model.named_modules())
    handles = [modules[name].register_forward_hook(
        lambda mod, inp, out, name=name: found.__setitem__(name, out.detach().flatten(1).numpy().copy()))
        for name in STAGES]
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return found


def comparator_splits(train_labels, test_labels):
    def pick(labels, divisor):
        forget = np.flatnonzero(labels == FORGET)
        other = np.flatnonzero(labels != FORGET)
        return forget[: len(forget) // divisor], other[: len(other) // divisor]
    tf, to = pick(train_labels, 10)
    sf, so = pick(test_labels, 2)
    return [("train", tf), ("train", to), ("test", sf), ("test", so)]


def cka_fixture():
    models = {}
    for role, stream_shift in (("base", 0), ("retrained", 500)):
        m = ResNet18(WIDTH, 10, 3)
        init_hashed(m)
        if stream_shift:
            with torch.no_grad():
                for j, (name, t) in enumerate(m.state_dict().items()):
                    if t.dtype.is_floating_point and "running" not in name:
                        u = torch.from_numpy(hash_uniform(t.numel(), j + stream_shift)).reshape(t.shape)
                        t.mul_(0.6).add_(0.4 * u * t.abs().mean())
        models[role] = m
    unlearned = ResNet18(WIDTH, 10, 3)
    unlearned.load_state_dict(models["base"].state_dict())
    with torch.no_grad():
        for j, (name, t) in enumerate(unlearned.state_dict().items()):
            if t.dtype.is_floating_point and "running" not in name:
                u = torch.from_numpy(hash_uniform(t.numel(), j + 900)).reshape(t.shape)
                t.add_(0.15 * u * t.abs().mean())
    models["unlearned"] = unlearned

    n_train, n_test = 600, 120
    train_pixels = hash_bytes(n_train * 3 * SIZE * SIZE, 7001).reshape(n_train, 3, SIZE, SIZE)
    test_pixels = hash_bytes(n_test * 3 * SIZE * SIZE, 7002).reshape(n_test, 3, SIZE, SIZE)
    train_labels = (hash_bytes(n_train, 7003).astype(np.int64) % 10)
    test_labels = (hash_bytes(n_test, 7004).astype(np.int64) % 10)

    def normalise64(pixels):
        x = torch.from_numpy(pixels).double() / 255.0
        return (x - torch.tensor(MEAN, dtype=torch.float64).view(1, -1, 1, 1)) / torch.tensor(STD, dtype=torch.float64).view(1, -1, 1, 1)

    doubles = {}
    for role, m in models.items():
        d = ResNet18(WIDTH, 10, 3)
        d.load_state_dict(m.state_dict())
        doubles[role] = d.double().eval()

    splits = comparator_splits(train_labels, test_labels)
    results = {}
    for key, reference, other in (("base", "base", "unlearned"), ("retrained", "retrained", "unlearned"),
                                  ("base_retrained", "base", "retrained")):
        table = np.zeros((4, len(STAGES)))
        for s, (split, indices) in enumerate(splits):
            pixels = train_pixels if split == "train" else test_pixels
            xy = np.zeros(len(STAGES))
            xx = np.zeros(len(STAGES))
            yy = np.zeros(len(STAGES))
            for start in range(0, len(indices), BATCH):
                batch = indices[start:start + BATCH]
                assert len(batch) > 3, "pytorch-cka refuses minibatches of 3 or fewer images"
                x = normalise64(pixels[batch])
                f1 = stage_features(doubles[reference], x)
                f2 = stage_features(doubles[other], x)
                for j, name in enumerate(STAGES):
                    k = f1[name] @ f1[name].T
                    l = f2[name] @ f2[name].T
                    xy[j] += unbiased_hsic(k, l)
                    xx[j] += unbiased_hsic(k, k)
                    yy[j] += unbiased_hsic(l, l)
            denominator = np.sqrt(np.maximum(xx * yy, 0.0))
            denominator = np.where(denominator == 0, 1e-6, denominator)
            table[s] = np.clip(xy / denominator, 0.0, 1.0)
        results[key] = table
        print(f"CKA {reference} vs {other} (rows: train-forget, train-other, test-forget, test-other):")
        print(np.array2string(table, precision=4, max_line_width=200))

    with torch.no_grad():
        pooled = []
        h = doubles["unlearned"].avgpool.register_forward_hook(lambda mod, inp, out: pooled.append(out.flatten(1)))
        doubles["unlearned"](normalise64(test_pixels))
        h.remove()

    tensors = {}
    for role, m in models.items():
        for name, t in m.state_dict().items():
            tensors[f"{role}.{name}"] = t
    tensors["train.pixels"] = train_pixels
    tensors["train.labels"] = train_labels
    tensors["test.pixels"] = test_pixels
    tensors["test.labels"] = test_labels
    tensors["cka.base"] = torch.from_numpy(results["base"])
    tensors["cka.retrained"] = torch.from_numpy(results["retrained"])
    tensors["cka.base_retrained"] = torch.from_numpy(results["base_retrained"])
    tensors["cka.batch"] = np.array([BATCH, FORGET], dtype=np.int64)
    tensors["pooled.unlearned"] = pooled[0].float()
    write_safetensors(os.path.join(HERE, "cka_w4_s16.safetensors"), tensors)


if __name__ == "__main__":
    torch.set_num_threads(1)
    probe_fixture()
    cka_fixture()
