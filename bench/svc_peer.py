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


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--features", required=True)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    with open(a.features) as f:
        data = json.load(f)
    members = np.asarray(data["members"], dtype=np.float64).astype(np.float32)
    non_members = np.asarray(data["non_members"], dtype=np.float64).astype(np.float32)
    targets = np.asarray(data["targets"], dtype=np.float64).astype(np.float32).reshape(-1, 1)
    x = np.concatenate([members, non_members]).reshape(-1, 1)
    y = np.concatenate([np.ones(len(members)), np.zeros(len(non_members))])
    start = time.perf_counter()
    svc = SVC(C=3, gamma="auto", kernel="rbf").fit(x, y)
    predicted = svc.predict(targets)
    seconds = time.perf_counter() - start
    distinct = np.unique(targets[:, 0])
    result = {
        "seconds": seconds,
        "efficacy": float((predicted == 0).mean()),
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
