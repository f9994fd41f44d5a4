#!/usr/bin/env python3
"""The SVC attack of MIA-efficacy (SalUn's SVC(C=3, gamma="auto") on the true-class probability) where there is nothing to
find: members and non-members drawn from one distribution. Prints the attack's balanced accuracy on its own fitting data
(balanced_accuracy_score(y, clf.predict(X))), which is above 50% only by sampling noise and the fit's optimism; the figures
behind the verdict's 55% threshold (README, "The verdict reads the distances both ways"; VerdictThresholds in Verdict.cs).
Outputs are softmax of 10 logits, N(0, 1.5) noise plus a true-class margin N(mean, sd): a mediocre model (4, 3) and a
confident one (16, 9), as torch computes them in float32. Five draws at 200 and 1,800 per side, two at 9,000 (minutes).
Run: /usr/bin/python3 bench/svc_attack_null.py (Debian python3-sklearn, python3-torch).
"""
import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from sklearn.svm import SVC

rng = np.random.default_rng(0)


def probabilities(n, mean, sd):
    z = rng.normal(0, 1.5, size=(n, 10))
    y = np.arange(n) % 10
    z[np.arange(n), y] += rng.normal(mean, sd, size=n)
    p = torch.softmax(torch.from_numpy(z.astype(np.float32)), -1)
    return p[np.arange(n), y].numpy()


for n in [200, 1800, 9000]:
    for name, (mean, sd) in [("mediocre", (4, 3)), ("confident", (16, 9))]:
        accuracies = []
        for _ in range(5 if n < 9000 else 2):
            x = np.concatenate([probabilities(n, mean, sd), probabilities(n, mean, sd)]).reshape(-1, 1)
            y = np.r_[np.ones(n), np.zeros(n)]
            accuracies.append(balanced_accuracy_score(y, SVC(C=3, gamma="auto").fit(x, y).predict(x)))
        print(f"{n} + {n} {name}: balanced accuracy on the fitting data, mean {np.mean(accuracies):.4f}, max {np.max(accuracies):.4f}", flush=True)
