#!/usr/bin/env python3
# An independent PyTorch CRD on the fidelity protocol (issue 14, item 6): does CRD lose to the student trained alone on
# Fashion-MNIST with an 8-epoch schedule in PyTorch too, or only in this library? Written here from the paper's definition
# (distillers.md section 3; Tian, Krishnan, Isola, ICLR 2020), not from the official code, with Debian's python3-torch.
#
# Protocol as the library's fidelity sample: the first --train-rows/--test-rows of Fashion-MNIST, 1x28x28 normalised with the
# training set's mean and std, random crop with 4 pixels of zero padding and horizontal flips, SGD (momentum 0.9, Nesterov,
# weight decay 5e-4, LR 0.05, x0.1 at 62.5/75/87.5 % of the epochs), batch 64. The teacher is a plain WRN-16-2 trained with CE
# (not the library's HSAKD-joint teacher file: the question is CRD against the baseline within this one run, on one teacher).
# Students: resnet8 (CIFAR ResNet, 77,754 parameters with 10 classes and one input channel, as the library's), baseline (CE) and
# CRD (CE + 0.8 L_CRD, K negatives of other classes, tau 0.07, 128-wide heads, momentum-0.5 banks, Z fixed on the first batch).
#   /usr/bin/python3 eng/crd-reference.py --seeds 1,2,3 --negatives 16384
# Prints one RESULT line per run and a summary (mean +- sample std per method).
import argparse
import gzip
import importlib.util
import json
import math
import os
import statistics
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F



def _load(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(os.path.dirname(__file__), file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


reference_step = _load("reference_step", "pytorch-reference-step.py")  # WideResNet (pre-activation blocks)
fixture = _load("pretrained_fixture", "make-pretrained-fixture.py")   # Block, the CIFAR ResNet basic block

CLASSES = 10


def read_idx(path):
    with gzip.open(path) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder, split, rows):
    x = torch.tensor(read_idx(os.path.join(folder, f"{split}-images-idx3-ubyte.gz"))[:rows].copy()).float().unsqueeze(1)
    y = torch.tensor(read_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte.gz"))[:rows].copy()).long()
    return x, y


def augment(x, generator):
    """Random crop of the zero-padded (raw 0) image back to its size, then a horizontal flip with probability 0.5."""
    n, _, h, w = x.shape
    padded = F.pad(x, (4, 4, 4, 4))
    offsets = torch.randint(0, 9, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    out = torch.stack([padded[i, :, offsets[i, 0]:offsets[i, 0] + h, offsets[i, 1]:offsets[i, 1] + w] for i in range(n)])
    out[flips] = out[flips].flip(3)
    return out


class ResNet8(nn.Module):
    """CIFAR ResNet of depth 8: a 3x3 stem of 16, one basic block per stage (16, 32, 64; strides 1, 2, 2), average pool, linear."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.stages = nn.Sequential(fixture.Block(16, 16, 1), fixture.Block(16, 32, 2), fixture.Block(32, 64, 2))
        self.fc = nn.Linear(64, CLASSES)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        feature = F.adaptive_avg_pool2d(self.stages(F.relu(self.bn1(self.conv1(x)))), 1).flatten(1)
        return feature, self.fc(feature)


class Wrn16x2(nn.Module):
    """The reference step's WRN-16-2 (no branches) on the grey channel repeated three times, returning (pooled feature, logits)."""

    def __init__(self):
        super().__init__()
        reference_step.CLASSES = CLASSES
        self.net = reference_step.WideResNet(16, 2, aux=False)

    def forward(self, x):
        net = self.net
        h = net.conv1(x.expand(-1, 3, -1, -1))
        for s in net.stages:
            h = s(h)
        feature = F.adaptive_avg_pool2d(F.relu(net.bn(h)), 1).flatten(1)
        return feature, net.fc(feature)


class Crd(nn.Module):
    """L_CRD: both anchors' NCE losses against the other side's memory bank, positives at the sample's own row."""

    def __init__(self, s_dim, t_dim, labels, negatives, width=128, tau=0.07, momentum=0.5):
        super().__init__()
        self.s_head, self.t_head = nn.Linear(s_dim, width), nn.Linear(t_dim, width)
        n = labels.shape[0]
        bound = 1.0 / math.sqrt(width / 3.0)
        self.register_buffer("s_bank", torch.rand(n, width) * 2 * bound - bound)
        self.register_buffer("t_bank", torch.rand(n, width) * 2 * bound - bound)
        self.z = [None, None]
        self.n, self.k, self.tau, self.momentum = n, negatives, tau, momentum
        self.others = [torch.nonzero(labels != c).flatten() for c in range(CLASSES)]

    def sample(self, rows, y, generator):
        negatives = torch.empty(len(rows), self.k, dtype=torch.long)
        for i, c in enumerate(y.tolist()):
            pool = self.others[c]
            negatives[i] = pool[torch.randint(0, len(pool), (self.k,), generator=generator)]
        return torch.cat([rows.unsqueeze(1), negatives], 1)

    def nce(self, scores, side):
        if self.z[side] is None:
            self.z[side] = (scores.mean() * self.n).item()
        p = scores / self.z[side]
        r = self.k / self.n
        eps = 1e-7
        pos, neg = p[:, 0], p[:, 1:]
        return -(torch.log(pos / (pos + r + eps)).sum() + torch.log(r / (neg + r + eps)).sum()) / p.shape[0]

    def forward(self, f_s, f_t, rows, y, generator):
        idx = self.sample(rows, y, generator)
        e_s = F.normalize(self.s_head(f_s), dim=1)
        e_t = F.normalize(self.t_head(f_t), dim=1)
        # anchor . bank rows, taken through the whole bank and picked (the same values as gathering the K + 1 rows); the banks are
        # copied because the backward pass needs them as they were before this step's update below
        s_scores = torch.exp(torch.gather(e_s @ self.t_bank.clone().t(), 1, idx) / self.tau)
        t_scores = torch.exp(torch.gather(e_t @ self.s_bank.clone().t(), 1, idx) / self.tau)
        loss = self.nce(s_scores, 0) + self.nce(t_scores, 1)
        with torch.no_grad():
            for bank, e in ((self.s_bank, e_s), (self.t_bank, e_t)):
                mixed = bank[rows] * self.momentum + e.detach() * (1 - self.momentum)
                bank[rows] = F.normalize(mixed, dim=1)
        return loss


def train(net, x, y, epochs, seed, mean, std, batch=64, teacher=None, crd=None, beta=0.8, log=None):
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    params = list(net.parameters()) + (list(crd.parameters()) if crd is not None else [])
    optimizer = torch.optim.SGD(params, lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    milestones = sorted({int(epochs * f) for f in (0.625, 0.75, 0.875)} - {0})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, 0.1)
    for epoch in range(epochs):
        net.train()
        order = torch.randperm(len(y), generator=generator)
        seen = correct = 0
        ce_sum = crd_sum = 0.0
        for start in range(0, len(y), batch):
            rows = order[start:start + batch]
            xb = (augment(x[rows], generator) - mean) / std
            yb = y[rows]
            f_s, logits = net(xb)
            ce = F.cross_entropy(logits, yb)
            loss = ce
            if crd is not None:
                with torch.no_grad():
                    f_t, _ = teacher(xb)
                term = crd(f_s, f_t, rows, yb, generator)
                loss = ce + beta * term
                crd_sum += term.item() * len(rows)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            ce_sum += ce.item() * len(rows)
            seen += len(rows)
            correct += (logits.argmax(1) == yb).sum().item()
        scheduler.step()
        if log:
            log(f"    epoch {epoch + 1}: train acc {correct / seen:.4f}, CE {ce_sum / seen:.4f}" + (f", CRD {crd_sum / seen:.3f}" if crd else ""))
    return net


@torch.no_grad()
def accuracy(net, x, y, mean, std):
    net.eval()
    correct = 0
    for start in range(0, len(y), 500):
        _, logits = net((x[start:start + 500] - mean) / std)
        correct += (logits.argmax(1) == y[start:start + 500]).sum().item()
    return correct / len(y)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--train-rows", type=int, default=10000)
    p.add_argument("--test-rows", type=int, default=10000)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--teacher-epochs", type=int, default=8)
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--negatives", type=int, default=16384)
    p.add_argument("--methods", default="baseline,crd")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--teacher-cache", default="", help="load the teacher's weights from this file when it exists, else train and save them there")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    x, y = load(a.data, "train", a.train_rows)
    xt, yt = load(a.data, "t10k", a.test_rows)
    mean, std = x.mean(), x.std()
    say = lambda s: print(s, flush=True)
    say(f"torch {torch.__version__}, {a.threads} threads; Fashion-MNIST {len(y)} train, {len(yt)} test; command: "
        f"/usr/bin/python3 eng/crd-reference.py --train-rows {a.train_rows} --test-rows {a.test_rows} --epochs {a.epochs} "
        f"--teacher-epochs {a.teacher_epochs} --seeds {a.seeds} --negatives {a.negatives} --methods {a.methods} --threads {a.threads}"
        + (f" --teacher-cache {a.teacher_cache}" if a.teacher_cache else ""))
    started = time.perf_counter()
    if a.teacher_cache and os.path.exists(a.teacher_cache):
        teacher = Wrn16x2()
        teacher.load_state_dict(torch.load(a.teacher_cache))
        teacher.eval()
        say(f"teacher loaded from {a.teacher_cache}")
    else:
        teacher = train(Wrn16x2(), x, y, a.teacher_epochs, 1, mean, std, log=say).eval()
        if a.teacher_cache:
            torch.save(teacher.state_dict(), a.teacher_cache)
    say(f"teacher wrn16_2 (plain CE), seed 1: test accuracy {accuracy(teacher, xt, yt, mean, std):.4f}, {time.perf_counter() - started:.0f} s")
    results = {}
    for seed in [int(s) for s in a.seeds.split(",")]:
        for method in a.methods.split(","):
            started = time.perf_counter()
            torch.manual_seed(seed)
            student = ResNet8()
            crd = Crd(64, 128, y, a.negatives) if method == "crd" else None
            say(f"{method} resnet8, seed {seed} ({sum(t.numel() for t in student.parameters())} parameters):")
            train(student, x, y, a.epochs, seed, mean, std, teacher=teacher, crd=crd, log=say)
            acc = accuracy(student, xt, yt, mean, std)
            results.setdefault(method, []).append(acc)
            print("RESULT " + json.dumps({"method": method, "seed": seed, "accuracy": acc, "seconds": round(time.perf_counter() - started)}), flush=True)
    for method, accs in results.items():
        spread = statistics.stdev(accs) * 100 if len(accs) > 1 else float("nan")
        say(f"{method}: {statistics.mean(accs) * 100:.2f} +- {spread:.2f} % ({', '.join(f'{v * 100:.2f}' for v in accs)})")


if __name__ == "__main__":
    main()
