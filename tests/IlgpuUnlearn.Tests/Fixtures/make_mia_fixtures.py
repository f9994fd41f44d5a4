#!/usr/bin/env python3
"""Reference values for the three membership-inference attacks, computed with scikit-learn 1.2 / numpy / scipy on fixed
per-sample outputs, for tests/IlgpuUnlearn.Tests/Evaluation/MembershipInferenceTests.cs.

Per-sample outputs (logits of 10 classes, float32, seeded numpy draws shaped like a CIFAR-10 model's: confident and mostly
right on training images, less so on test images) go to mia_outputs.safetensors:
  members.logits/labels      retain-class training images (the SVC attack's members)
  nonmembers.logits/labels   test images (the SVC attack's non-members; the first NS are the loss attack's non-members)
  forget.logits/labels       forget training images of the unlearned model (the SVC attack's targets, the loss attack's members)
  retrained.logits           the same forget images through a "retrained" model (the privacy score's reference)
  loss.folds_train/test      scikit-learn's StratifiedShuffleSplit(n_splits=10, random_state=0) folds over the loss set
mia_expected.json holds what scikit-learn / numpy compute from them:
  SalUn / Unlearn-Sparse SVC_MIA ("confidence" = softmax(z)[y], float32 from torch's softmax as their collect_prob holds
  it): SVC(C=3, gamma="auto", kernel="rbf") fitted on members (1)
  and non-members (0); efficacy = share of forget images predicted 0; plus the decision function on the forget images, and
  the attack's balanced accuracy on the data it was fitted on (balanced_accuracy_score(y, clf.predict(X)), *_fit_balanced_accuracy).
  NeurIPS 2023 starting kit simple_mia: LogisticRegression() on per-sample cross-entropy, members = forget (1), non-members =
  the first NS test images (0), cross_val_score(accuracy) over the folds above; plus coef/intercept fitted on all of them.
  Comparator privacy score: entropy of softmax(z/2) (scipy.stats.entropy) and log p_max - log(1 - p_max), 51 thresholds,
  both directions, 1 - the largest attack (unrounded), written in numpy independently of the C#; and fqs_comparator, the
  same with the Comparator's rounding (features to 2 decimals, attacks and score to 3).
Run: /usr/bin/python3 make_mia_fixtures.py (Debian python3-sklearn, python3-scipy, python3-torch for the writer).
"""
import json
import os
import sys

import numpy as np
import scipy.stats
import sklearn
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedShuffleSplit, cross_val_score
from sklearn.svm import SVC

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_model_fixtures import write_safetensors  # noqa: E402

rng = np.random.default_rng(12)
C = 10
FORGET = 3


def draw(n, labels, margin_mean, margin_sd, noise=1.5):
    z = rng.normal(0.0, noise, size=(n, C))
    margin = rng.normal(margin_mean, margin_sd, size=n)
    z[np.arange(n), labels] += margin
    return z.astype(np.float32)


def retain_labels(n):
    return rng.choice([k for k in range(C) if k != FORGET], size=n).astype(np.int64)


M, N, F = 240, 200, 150
members_y = retain_labels(M)
members = draw(M, members_y, 7.0, 3.0)
nonmembers_y = rng.integers(0, C, size=N).astype(np.int64)
nonmembers = draw(N, nonmembers_y, 4.0, 3.5)
forget_y = np.full(F, FORGET, dtype=np.int64)
forget = draw(F, forget_y, 3.0, 4.0)
retrained = draw(F, forget_y, 0.5, 2.5)


def softmax(z, t=1.0):
    a = z.astype(np.float64) / t
    a -= a.max(axis=1, keepdims=True)
    e = np.exp(a)
    return e / e.sum(axis=1, keepdims=True)


def true_prob(z, y):
    return softmax(z)[np.arange(len(y)), y]


def ce(z, y):
    return -np.log(true_prob(z, y))


def torch_true_prob(z, y):
    """softmax(z)[y] as SVC_MIA's collect_prob computes it: torch's float32 softmax, gathered, to numpy."""
    p = torch.softmax(torch.from_numpy(z), dim=-1)
    return torch.gather(p, 1, torch.from_numpy(y)[:, None])[:, 0].numpy()


# SVC attack (SalUn MIA-efficacy)
x_svc = np.concatenate([torch_true_prob(members, members_y), torch_true_prob(nonmembers, nonmembers_y)]).reshape(-1, 1)
y_svc = np.concatenate([np.ones(M), np.zeros(N)])
svc = SVC(C=3, gamma="auto", kernel="rbf").fit(x_svc, y_svc)
targets = torch_true_prob(forget, forget_y).reshape(-1, 1)
svc_pred = svc.predict(targets)
svc_efficacy = float((svc_pred == 0).mean())
svc_decision = svc.decision_function(targets)

# SalUn's class-wise split as main_forget.py runs it: the data code drops the forget class from the test set, the members
# are Subset(retain, range(len(test))), the first |test without k| retain images (here the members above, in order).
keep = nonmembers_y != FORGET
n_salun = int(keep.sum())
x_salun = np.concatenate([torch_true_prob(members[:n_salun], members_y[:n_salun]), torch_true_prob(nonmembers[keep], nonmembers_y[keep])]).reshape(-1, 1)
svc_salun = SVC(C=3, gamma="auto", kernel="rbf").fit(x_salun, np.concatenate([np.ones(n_salun), np.zeros(n_salun)]))
svc_salun_efficacy = float((svc_salun.predict(targets) == 0).mean())
svc_salun_decision = svc_salun.decision_function(targets)
# The whole test set as non-members (random-data forgetting's split): members are the first |test| retain images.
x_whole = np.concatenate([torch_true_prob(members[:N], members_y[:N]), torch_true_prob(nonmembers, nonmembers_y)]).reshape(-1, 1)
svc_whole = SVC(C=3, gamma="auto", kernel="rbf").fit(x_whole, np.concatenate([np.ones(N), np.zeros(N)]))
svc_whole_efficacy = float((svc_whole.predict(targets) == 0).mean())

# The same attack on a confident model's outputs: most true-class probabilities are exactly 1.0f (margins near 24), so
# points tie by the hundred; and on a constant model's (every feature equal: scikit-learn's decision is exactly 0, which
# its predict calls a member, for equal counts; with more members than non-members every image is a member too).
# (p0 and the CIFAR-10-size case below use the same float32 softmax.)
CM, CN, CF = 600, 500, 300
conf_members_y, conf_nonmembers_y = retain_labels(CM), rng.integers(0, C, size=CN).astype(np.int64)
conf_forget_y = np.full(CF, FORGET, dtype=np.int64)
conf_members = draw(CM, conf_members_y, 24.0, 6.0)
conf_nonmembers = draw(CN, conf_nonmembers_y, 16.0, 9.0)
conf_forget = draw(CF, conf_forget_y, 8.0, 8.0)
x_conf = np.concatenate([torch_true_prob(conf_members, conf_members_y), torch_true_prob(conf_nonmembers, conf_nonmembers_y)]).reshape(-1, 1)
svc_conf = SVC(C=3, gamma="auto", kernel="rbf").fit(x_conf, np.concatenate([np.ones(CM), np.zeros(CN)]))
conf_targets = torch_true_prob(conf_forget, conf_forget_y).reshape(-1, 1)
constant = {}
for m, n in [(100, 100), (100, 90)]:
    svc_c = SVC(C=3, gamma="auto", kernel="rbf").fit(np.full((m + n, 1), 0.75), np.concatenate([np.ones(m), np.zeros(n)]))
    constant[f"{m}_{n}"] = {"predict": float(svc_c.predict([[0.75]])[0]), "decision": float(svc_c.decision_function([[0.75]])[0])}

# CIFAR-10 size, confident (CifarSizeMetricsTests), SalUn's split: members 8,900 at exactly 1.0f and 100 wrong images at p0
# (true logit 0, one other 5, the rest 0); non-members (the 9,000 retain-class test images) 8,580 at 1.0f and 420 at p0.
# scikit-learn's predictions at the two values (the targets take only these two values).
p0 = float(torch.softmax(torch.tensor([[0.0, 5.0] + [0.0] * 8]), dim=-1)[0, 0])
x_big = np.concatenate([np.ones(8900), np.full(100, p0), np.ones(8580), np.full(420, p0)]).astype(np.float32).reshape(-1, 1)
svc_big = SVC(C=3, gamma="auto", kernel="rbf").fit(x_big, np.concatenate([np.ones(9000), np.zeros(9000)]))
cifar_size = {"p0": p0, "predict_at_one": float(svc_big.predict(np.array([[1.0]], dtype=np.float32))[0]),
              "predict_at_p0": float(svc_big.predict(np.array([[p0]], dtype=np.float32))[0])}

# Loss attack (NeurIPS 2023 starting kit simple_mia)
NS = F
x_loss = np.concatenate([ce(forget, forget_y), ce(nonmembers[:NS], nonmembers_y[:NS])]).reshape(-1, 1)
y_loss = np.concatenate([np.ones(NS), np.zeros(NS)]).astype(np.int64)
cv = StratifiedShuffleSplit(n_splits=10, random_state=0)
folds = list(cv.split(x_loss, y_loss))
scores = cross_val_score(LogisticRegression(), x_loss, y_loss, cv=folds, scoring="accuracy")
lr = LogisticRegression().fit(x_loss, y_loss)


# Comparator privacy score
def entropy_t2(z):
    return scipy.stats.entropy(softmax(z, 2.0).T)


def confidence(z):
    p = softmax(z)
    pm = p.max(axis=1)
    return np.log(pm) - np.log(1 - pm)


def best_attack(pos, neg, lo, hi, round_attacks=False):
    pos, neg = np.clip(pos, lo, hi), np.clip(neg, lo, hi)
    best = 0.0
    delta, eps = 1e-5, 1e-10
    for thr in np.linspace(lo, hi, 51):
        fpr = np.mean(neg >= thr)
        fnr = 1.0 - np.mean(pos >= thr)
        if fpr == 0 and fnr == 0:
            a = 1.0
        elif fpr >= 1 - delta or fnr >= 1 - delta:
            a = 0.0
        else:
            sfp, sfn = np.clip(fpr, eps, 1 - delta - eps), np.clip(fnr, eps, 1 - delta - eps)
            e = max(0.0, min(np.log(1 - delta - sfp) - np.log(sfn), np.log(1 - delta - sfn) - np.log(sfp)))
            a = 1 - 2 ** (-e)
        best = max(best, round(a, 3) if round_attacks else a)
    return best


ue, re_ = entropy_t2(forget), entropy_t2(retrained)
uc, rc = confidence(forget), confidence(retrained)
attacks = [best_attack(ue, re_, 0, 2.5), best_attack(re_, ue, 0, 2.5), best_attack(uc, rc, -2.5, 10), best_attack(rc, uc, -2.5, 10)]
fqs = 1 - max(attacks)
# As the Comparator's attack code rounds: each feature to 2 decimals (Python's round), each attack to 3, the score to 3.
r2 = lambda v: np.array([round(float(x), 2) for x in v])
ue_r, re_r, uc_r, rc_r = r2(ue), r2(re_), r2(uc), r2(rc)
attacks_rounded = [best_attack(ue_r, re_r, 0, 2.5, True), best_attack(re_r, ue_r, 0, 2.5, True),
                   best_attack(uc_r, rc_r, -2.5, 10, True), best_attack(rc_r, uc_r, -2.5, 10, True)]
fqs_comparator = round(1 - max(attacks_rounded), 3)

write_safetensors(os.path.join(HERE, "mia_outputs.safetensors"), {
    "members.logits": members, "members.labels": members_y,
    "nonmembers.logits": nonmembers, "nonmembers.labels": nonmembers_y,
    "forget.logits": forget, "forget.labels": forget_y,
    "retrained.logits": retrained,
    "confident_members.logits": conf_members, "confident_members.labels": conf_members_y,
    "confident_nonmembers.logits": conf_nonmembers, "confident_nonmembers.labels": conf_nonmembers_y,
    "confident_forget.logits": conf_forget, "confident_forget.labels": conf_forget_y,
    "loss.folds_train": np.stack([tr for tr, _ in folds]).astype(np.int64),
    "loss.folds_test": np.stack([te for _, te in folds]).astype(np.int64),
})


def fit_balanced_accuracy(clf, x, y):
    """How well the fitted attack separates its own members and non-members: balanced accuracy on its fitting data."""
    return float(balanced_accuracy_score(y, clf.predict(x)))


y_conf = np.concatenate([np.ones(CM), np.zeros(CN)])
y_big = np.concatenate([np.ones(9000), np.zeros(9000)])
fit_accuracies = {
    "svc_fit_balanced_accuracy": fit_balanced_accuracy(svc, x_svc, y_svc),
    "svc_salun_split_fit_balanced_accuracy": fit_balanced_accuracy(svc_salun, x_salun, np.concatenate([np.ones(n_salun), np.zeros(n_salun)])),
    "svc_whole_test_split_fit_balanced_accuracy": fit_balanced_accuracy(svc_whole, x_whole, np.concatenate([np.ones(N), np.zeros(N)])),
    "confident_svc_fit_balanced_accuracy": fit_balanced_accuracy(svc_conf, x_conf, y_conf),
    "cifar_size_confident_svc_fit_balanced_accuracy": fit_balanced_accuracy(svc_big, x_big, y_big),
}
# Fitting points whose scikit-learn decision value lies within 5e-3 of 0 (the tests' tolerance on decision values: both
# solvers stop at a KKT gap of 1e-3), as [members, non-members]: only these may be predicted differently by our solver.


def ambiguous(clf, x, y):
    near = np.abs(clf.decision_function(x)) < 5e-3
    return [int((near & (y == 1)).sum()), int((near & (y == 0)).sum())]


fit_ambiguous = {
    "svc_fit_ambiguous": ambiguous(svc, x_svc, y_svc),
    "svc_salun_split_fit_ambiguous": ambiguous(svc_salun, x_salun, np.concatenate([np.ones(n_salun), np.zeros(n_salun)])),
    "svc_whole_test_split_fit_ambiguous": ambiguous(svc_whole, x_whole, np.concatenate([np.ones(N), np.zeros(N)])),
    "confident_svc_fit_ambiguous": ambiguous(svc_conf, x_conf, y_conf),
}
for (m, n) in [(100, 100), (100, 90)]:
    # Every point at 0.75: every image is called a member, so balanced accuracy 0.5 exactly.
    svc_c = SVC(C=3, gamma="auto", kernel="rbf").fit(np.full((m + n, 1), 0.75), np.concatenate([np.ones(m), np.zeros(n)]))
    constant[f"{m}_{n}"]["fit_balanced_accuracy"] = fit_balanced_accuracy(svc_c, np.full((m + n, 1), 0.75), np.concatenate([np.ones(m), np.zeros(n)]))

expected = {
    "sklearn": sklearn.__version__,
    "svc_efficacy": svc_efficacy,
    "svc_decision": svc_decision.tolist(),
    "svc_support_vectors": int(svc.support_.size),
    "svc_salun_split_n": n_salun,
    "svc_salun_split_efficacy": svc_salun_efficacy,
    "svc_salun_split_decision": svc_salun_decision.tolist(),
    "svc_whole_test_split_efficacy": svc_whole_efficacy,
    "confident_svc_efficacy": float((svc_conf.predict(conf_targets) == 0).mean()),
    "confident_svc_decision": svc_conf.decision_function(conf_targets).tolist(),
    "confident_svc_support_vectors": int(svc_conf.support_.size),
    "confident_at_one": int((x_conf == 1.0).sum()),
    "constant_svc": constant,
    "cifar_size_confident_svc": cifar_size,
    "loss_ns": NS,
    "loss_fold_accuracies": scores.tolist(),
    "loss_accuracy": float(scores.mean()),
    "lr_coef": float(lr.coef_[0, 0]),
    "lr_intercept": float(lr.intercept_[0]),
    "entropy_unlearned": ue.tolist(),
    "confidence_unlearned": uc.tolist(),
    "fqs_attacks": attacks,
    "fqs": fqs,
    "fqs_comparator": fqs_comparator,
    "fqs_attacks_comparator": attacks_rounded,
    **fit_accuracies,
    **fit_ambiguous,
}
with open(os.path.join(HERE, "mia_expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
    f.write("\n")
print(f"SVC efficacy {svc_efficacy:.4f} ({svc.support_.size} SVs; fit balanced accuracies {fit_accuracies}, ambiguous fitting points {fit_ambiguous}), loss attack {scores.mean():.4f}, FQS {fqs:.4f}, attacks {attacks}")
