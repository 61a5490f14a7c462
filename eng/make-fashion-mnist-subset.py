#!/usr/bin/env python3
"""Writes the embedded Fashion-MNIST subset used by the sample and the tests.

Source: the Debian package dataset-fashion-mnist (apt-get install dataset-fashion-mnist), MIT licence,
copyright 2017 Zalando SE. The subset keeps the first N rows of each split, in the original IDX format,
gzip-compressed with a fixed timestamp so the output is byte-for-byte reproducible.

usage: python3 eng/make-fashion-mnist-subset.py [train_count] [test_count]
"""
import gzip, os, struct, sys

SRC = "/usr/share/datasets/fashion-mnist"
DST = os.path.join(os.path.dirname(__file__), "..", "src", "Samples", "Data", "fashion-mnist")

def subset(name, count):
    with gzip.open(os.path.join(SRC, name), "rb") as f:
        data = f.read()
    magic, n = struct.unpack(">II", data[:8])
    dims = magic & 0xFF
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    row = 1
    for d in shape[1:]:
        row *= d
    header = 4 + 4 * dims
    out = struct.pack(">I", magic) + struct.pack(">I", count) + data[8:header] + data[header:header + count * row]
    os.makedirs(DST, exist_ok=True)
    with open(os.path.join(DST, name), "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as g:
            g.write(out)

train = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
test = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
subset("train-images-idx3-ubyte.gz", train)
subset("train-labels-idx1-ubyte.gz", train)
subset("t10k-images-idx3-ubyte.gz", test)
subset("t10k-labels-idx1-ubyte.gz", test)
print(f"wrote {train} train and {test} test rows to {os.path.normpath(DST)}")
