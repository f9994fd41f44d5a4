#!/usr/bin/env python3
"""The scikit-learn peer of the SVC membership attack timed by `ilgpu-unlearn bench-eval --metrics --svc-peer`: SalUn's
SVC_MIA (OPTML-Group/Unlearn-Sparse and Unlearn-Saliency, evaluation/SVC_MIA.py) on the same one-dimensional features.

Input (--features, written by bench-eval): JSON with "members", "non_members" and "targets", each a list of true-class
probabilities. As SalUn holds them (torch softmax of float32 logits, then .numpy()), they are rounded to float32 first.
SVC(C=3, gamma="auto", kernel="rbf") is fitted on members (label 1) then non-members (label 0), in that order, as
SVC_MIA concatenates them; the efficacy is the share of targets predicted 0. The timed part is fit + predict.
Output (--out): JSON with seconds, efficacy, support_vectors (scikit-learn's count, every sample), iterations (LIBSVM's),
the sklearn version, and decision (the decision function on each distinct target value, with those values, for the
bench to compare with its own).
Run with /usr/bin/python3 here (Debian python3-sklearn).
"""
import argparse
import json
import time

import numpy as np
import sklearn
from sklearn.svm import SVC


def svc_mia(members, non_members, targets):
    """SalUn's SVC_MIA on true-class probabilities (each a sequence, rounded to float32 as SalUn holds them): the fitted
    SVC, its prediction on each target (1: member) and the efficacy, the share of targets predicted 0 (0..1)."""
    members = np.asarray(members, dtype=np.float64).astype(np.float32)
    non_members = np.asarray(non_members, dtype=np.float64).astype(np.float32)
    targets = np.asarray(targets, dtype=np.float64).astype(np.float32).reshape(-1, 1)
    x = np.concatenate([members, non_members]).reshape(-1, 1)
    y = np.concatenate([np.ones(len(members)), np.zeros(len(non_members))])
    svc = SVC(C=3, gamma="auto", kernel="rbf").fit(x, y)
    predicted = svc.predict(targets)
    return float((predicted == 0).mean()), svc, predicted


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    with open(a.features) as f:
        data = json.load(f)
    targets = np.asarray(data["targets"], dtype=np.float64).astype(np.float32).reshape(-1, 1)
    start = time.perf_counter()
    efficacy, svc, _ = svc_mia(data["members"], data["non_members"], targets)
    seconds = time.perf_counter() - start
    distinct = np.unique(targets[:, 0])
    result = {
        "seconds": seconds,
        "efficacy": efficacy,
        "support_vectors": int(svc.support_.size),
        "iterations": int(np.sum(svc.n_iter_)) if hasattr(svc, "n_iter_") else None,
        "sklearn": sklearn.__version__,
        "distinct_targets": distinct.astype(np.float64).tolist(),
        "decision": svc.decision_function(distinct.reshape(-1, 1)).tolist(),
    }
    with open(a.out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
