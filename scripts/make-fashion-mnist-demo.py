#!/usr/bin/env python3
"""Writes data/fashion-mnist-demo/: the first TRAIN_PER_CLASS training and TEST_PER_CLASS test images of each
Fashion-MNIST class, in file order, as the four IDX files of the original (same names, gzipped with no time stamp, so
the output is byte for byte the same on every run). Standard library only.

    python3 scripts/make-fashion-mnist-demo.py [SOURCE_FOLDER]    # default: Debian's /usr/share/datasets/fashion-mnist
"""
import gzip
import os
import struct
import sys

TRAIN_PER_CLASS = 300
TEST_PER_CLASS = 100
HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.path.join(HERE, "..", "data", "fashion-mnist-demo")


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def subset(source, images_name, labels_name, per_class):
    images = read(os.path.join(source, images_name))
    labels = read(os.path.join(source, labels_name))
    magic, count, rows, cols = struct.unpack(">IIII", images[:16])
    assert magic == 0x803 and struct.unpack(">II", labels[:8]) == (0x801, count)
    size = rows * cols
    taken, chosen = [0] * 10, []
    for i in range(count):
        label = labels[8 + i]
        if taken[label] < per_class:
            taken[label] += 1
            chosen.append(i)
    pixels = b"".join(images[16 + i * size:16 + (i + 1) * size] for i in chosen)
    kept = bytes(labels[8 + i] for i in chosen)
    write(images_name, struct.pack(">IIII", 0x803, len(chosen), rows, cols) + pixels)
    write(labels_name, struct.pack(">II", 0x801, len(chosen)) + kept)
    return len(chosen)


def write(name, data):
    path = os.path.join(TARGET, name)
    with open(path + ".tmp", "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    print(f"wrote {os.path.relpath(path)}: {os.path.getsize(path):,} bytes")


if __name__ == "__main__":
    source = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
    os.makedirs(TARGET, exist_ok=True)
    train = subset(source, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", TRAIN_PER_CLASS)
    test = subset(source, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", TEST_PER_CLASS)
    print(f"{train} training and {test} test images")
