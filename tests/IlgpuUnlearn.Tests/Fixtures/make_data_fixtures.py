#!/usr/bin/python3
"""Makes the data-file fixtures with Python's own pickle, numpy, gzip and tarfile (/usr/bin/python3). Run from anywhere:

    /usr/bin/python3 tests/IlgpuUnlearn.Tests/Fixtures/make_data_fixtures.py

Outputs in Fixtures/data/ (all small):
  cifar_batch_p0..p5          a CIFAR-10 python batch of 3 images re-pickled by Python 3 at protocols 0-5: 'data' a numpy
                              uint8 (3, 3072) array, 'labels' a numpy int64 array, 'filenames' a numpy unicode array
  cifar_batch_expected.json   its labels, filenames and the sum of each image's bytes
  labels_two_members.gz       an IDX labels file gzipped as two members (gzip.compress of each half, concatenated)
  labels_zero_padded.gz       the same as one member followed by 512 zero bytes (as tape and block writers pad)
  labels_cut.gz               one member cut 6 bytes before its end
  labels_expected.json        the labels Python's gzip reads from the first two
  plain_tar.tar.gz            a plain (uncompressed) tar of a CIFAR-10 python folder, named .tar.gz
"""
import gzip
import io
import json
import os
import pickle
import struct
import tarfile

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def path(name):
    return os.path.join(OUT, name)


def make_cifar_batches():
    rng = np.random.RandomState(7)
    batch = {
        "batch_label": "testing batch 1 of 1",
        "labels": np.array([3, 0, 9], dtype=np.int64),
        "data": rng.randint(0, 256, size=(3, 3072)).astype(np.uint8),
        "filenames": np.array(["cat_1.png", "airplane_2.png", "truck_3.png"]),
    }
    for protocol in range(0, 6):
        with open(path(f"cifar_batch_p{protocol}"), "wb") as f:
            pickle.dump(batch, f, protocol=protocol)
    with open(path("cifar_batch_expected.json"), "w") as f:
        json.dump({"labels": batch["labels"].tolist(), "filenames": batch["filenames"].tolist(),
                   "image_sums": batch["data"].astype(np.int64).sum(axis=1).tolist(),
                   "first_bytes": batch["data"][:, :4].tolist()}, f)
    return batch


def make_gzip_files():
    labels = bytes([i * 7 % 10 for i in range(25)])
    idx = struct.pack(">ii", 0x801, len(labels)) + labels
    half = len(idx) // 2
    with open(path("labels_two_members.gz"), "wb") as f:
        f.write(gzip.compress(idx[:half], mtime=0) + gzip.compress(idx[half:], mtime=0))
    one = gzip.compress(idx, mtime=0)
    with open(path("labels_zero_padded.gz"), "wb") as f:
        f.write(one + bytes(512))
    with open(path("labels_cut.gz"), "wb") as f:
        f.write(one[:-6])
    for name in ("labels_two_members.gz", "labels_zero_padded.gz"):
        with gzip.open(path(name)) as g:
            assert g.read() == idx
    with open(path("labels_expected.json"), "w") as f:
        json.dump(list(labels), f)


def make_plain_tar(batch):
    with tarfile.open(path("plain_tar.tar.gz"), "w", format=tarfile.USTAR_FORMAT) as tar:
        data = pickle.dumps(batch, protocol=2)
        info = tarfile.TarInfo("cifar-10-batches-py/test_batch")
        info.size = len(data)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    make_plain_tar(make_cifar_batches())
    make_gzip_files()
    print("fixtures written to", OUT)
