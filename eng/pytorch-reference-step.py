#!/usr/bin/env python3
# The same-run PyTorch reference of issue 19: times the training step the benchmark's own scenarios time, written here from the
# papers' definitions (hsakd-sskd.md sections 2.3 and 2.5), not from the official code, with Debian's python3-torch:
#   hsakd-wrn40_2-wrn16_2  HSAKD student step: WRN-40-2 (aux) teacher in eval mode under no_grad, WRN-16-2 (aux) student, every
#                          image at 4 rotations, CE on the unrotated rows + the aux KLs + the main KL at T = 3
#   hsakd-resnet32x4-resnet8x4  the same HSAKD step on the wide CIFAR ResNets (post-activation basic blocks, widths 32/64/128/256)
#   student-wrn16_2        plain WRN-16-2 step, CE only
#   teacher-forward-wrn40_2  the frozen teacher's forward of an HSAKD step alone: WRN-40-2 with aux over 4 x batch rows, eval, no_grad
#                          (batch norms not folded; the project's scenario folds them)
# --precision bfloat16 runs the forward passes under torch.autocast('cpu', bfloat16); --channels-last converts the networks and the
# input to torch.channels_last.
# Random 3x32x32 data with 100 classes, batch 64 original images, SGD (momentum 0.9, Nesterov, weight decay 5e-4, LR 0.05).
# Prints one line: RESULT {"images_per_second": median over the measured steps, ...}.
#   /usr/bin/python3 eng/pytorch-reference-step.py --scenario hsakd-wrn40_2-wrn16_2 --steps 10 --warmup 2 --threads 2
# eng/Benchmarks' pytorch-reference mode runs it interleaved with the project's scenario of the same name.
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CLASSES = 100
ROTATIONS = 4


class PreActBlock(nn.Module):
    """A WRN block: a = ReLU(BN(x)); out = conv2(ReLU(BN(conv1(a)))) + shortcut, the 1x1 shortcut taking a when the width changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.shortcut = None if cin == cout and stride == 1 else nn.Conv2d(cin, cout, 1, stride, bias=False)

    def forward(self, x):
        a = F.relu(self.bn1(x))
        skip = x if self.shortcut is None else self.shortcut(a)
        return self.conv2(F.relu(self.bn2(self.conv1(a)))) + skip


def stage(blocks, cin, cout, stride):
    return nn.Sequential(*[PreActBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1) for i in range(blocks)])


class WideResNet(nn.Module):
    """WRN-d-k with its three HSAKD branches (each replicating the remaining stages, the last one an extra stride-1 stage)."""

    def __init__(self, depth, k, aux):
        super().__init__()
        n = (depth - 4) // 6
        w = [16, 16 * k, 32 * k, 64 * k]
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.stages = nn.ModuleList([stage(n, w[0], w[1], 1), stage(n, w[1], w[2], 2), stage(n, w[2], w[3], 2)])
        self.bn = nn.BatchNorm2d(w[3])
        self.fc = nn.Linear(w[3], CLASSES)
        self.branches = nn.ModuleList()
        self.branch_norms = nn.ModuleList()
        self.branch_heads = nn.ModuleList()
        if aux:
            self.branches.append(nn.Sequential(stage(n, w[1], w[2], 2), stage(n, w[2], w[3], 2)))
            self.branches.append(stage(n, w[2], w[3], 2))
            self.branches.append(stage(n, w[3], w[3], 1))
            for _ in range(3):
                self.branch_norms.append(nn.BatchNorm2d(w[3]))
                self.branch_heads.append(nn.Linear(w[3], CLASSES * ROTATIONS))

    def forward(self, x, detach_taps=False):
        x = self.conv1(x)
        taps = []
        for s in self.stages:
            x = s(x)
            taps.append(x)
        logits = self.fc(F.adaptive_avg_pool2d(F.relu(self.bn(x)), 1).flatten(1))
        aux = []
        for tap, branch, norm, head in zip(taps, self.branches, self.branch_norms, self.branch_heads):
            h = branch(tap.detach() if detach_taps else tap)
            aux.append(head(F.adaptive_avg_pool2d(F.relu(norm(h)), 1).flatten(1)))
        return logits, aux


class BasicBlock(nn.Module):
    """A CIFAR ResNet block: ReLU(BN(conv2(ReLU(BN(conv1(x))))) + shortcut(x)), the shortcut a 1x1 conv + BN when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None if cin == cout and stride == 1 else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(out + (x if self.shortcut is None else self.shortcut(x)))


def basic_stage(blocks, cin, cout, stride):
    return nn.Sequential(*[BasicBlock(cin if i == 0 else cout, cout, stride if i == 0 else 1) for i in range(blocks)])


class CifarResNet(nn.Module):
    """ResNet-(6n+2) with widths w (He et al. 2016, section 4.2) and its three HSAKD branches: A1 = stages 2-3 again at stride 2,
    A2 = stage 3 again at stride 2, A3 = stage 3 again at stride 1, each then GAP and Linear(w3 -> classes x rotations)."""

    def __init__(self, depth, w, aux):
        super().__init__()
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, w[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(w[0])
        self.stages = nn.ModuleList([basic_stage(n, w[0], w[1], 1), basic_stage(n, w[1], w[2], 2), basic_stage(n, w[2], w[3], 2)])
        self.fc = nn.Linear(w[3], CLASSES)
        self.branches = nn.ModuleList()
        self.branch_heads = nn.ModuleList()
        if aux:
            self.branches.append(nn.Sequential(basic_stage(n, w[1], w[2], 2), basic_stage(n, w[2], w[3], 2)))
            self.branches.append(basic_stage(n, w[2], w[3], 2))
            self.branches.append(basic_stage(n, w[3], w[3], 1))
            for _ in range(3):
                self.branch_heads.append(nn.Linear(w[3], CLASSES * ROTATIONS))

    def forward(self, x, detach_taps=False):
        x = F.relu(self.bn1(self.conv1(x)))
        taps = []
        for s in self.stages:
            x = s(x)
            taps.append(x)
        logits = self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))
        aux = []
        for tap, branch, head in zip(taps, self.branches, self.branch_heads):
            h = branch(tap.detach() if detach_taps else tap)
            aux.append(head(F.adaptive_avg_pool2d(h, 1).flatten(1)))
        return logits, aux


WIDE_RESNET_WIDTHS = [32, 64, 128, 256]
SCENARIOS = {
    # scenario: (student factory or None, teacher factory or None, HSAKD loss)
    "hsakd-wrn40_2-wrn16_2": (lambda: WideResNet(16, 2, aux=True), lambda: WideResNet(40, 2, aux=True), True),
    "hsakd-resnet32x4-resnet8x4": (lambda: CifarResNet(8, WIDE_RESNET_WIDTHS, aux=True), lambda: CifarResNet(32, WIDE_RESNET_WIDTHS, aux=True), True),
    "student-wrn16_2": (lambda: WideResNet(16, 2, aux=False), None, False),
    "teacher-forward-wrn40_2": (None, lambda: WideResNet(40, 2, aux=True), False),
}


def rotated(x):
    """Rows 4i + j hold image i rotated by j quarter turns, so rows 0::4 are the originals."""
    views = torch.stack([torch.rot90(x, j, (2, 3)) for j in range(ROTATIONS)], dim=1)
    return views.flatten(0, 1)


def kl(student, teacher, t):
    return F.kl_div(F.log_softmax(student / t, 1), F.softmax(teacher / t, 1), reduction="batchmean") * t * t


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--scenario", required=True, choices=list(SCENARIOS))
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precision", choices=["float32", "bfloat16"], default="float32",
                   help="bfloat16: the forward passes under torch.autocast('cpu', bfloat16) (convolutions and matrix products in bfloat16, "
                        "fp32 weights, optimiser and losses), PyTorch's own mixed precision, to size issue 19 item 2")
    p.add_argument("--channels-last", action="store_true", help="networks and input in torch.channels_last")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    make_student, make_teacher, hsakd = SCENARIOS[a.scenario]
    layout = torch.channels_last if a.channels_last else torch.contiguous_format
    student = make_student().train().to(memory_format=layout) if make_student else None
    teacher = make_teacher().eval().to(memory_format=layout) if make_teacher else None
    optimizer = torch.optim.SGD(student.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4) if student else None
    rates = []
    for step in range(a.warmup + a.steps):
        # The teacher forward alone sees the rotated batch's row count directly.
        x = torch.randn(a.batch_size if student is not None else ROTATIONS * a.batch_size, 3, 32, 32)
        y = torch.randint(0, CLASSES, (a.batch_size,))
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bfloat16"):
            views = (rotated(x) if hsakd else x).contiguous(memory_format=layout)
            if teacher is not None:
                with torch.no_grad():
                    t_logits, t_aux = teacher(views, detach_taps=True)
            if student is not None:
                s_logits, s_aux = student(views)
        if student is None:
            t_logits, t_aux = t_logits.float(), [t.float() for t in t_aux]
        else:
            s_logits, s_aux = s_logits.float(), [s.float() for s in s_aux]
            if hsakd:
                t_logits, t_aux = t_logits.float(), [t.float() for t in t_aux]
                loss = F.cross_entropy(s_logits[0::ROTATIONS], y) + sum(kl(s, t, 3.0) for s, t in zip(s_aux, t_aux)) + kl(s_logits, t_logits, 3.0)
            else:
                loss = F.cross_entropy(s_logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        seconds = time.perf_counter() - start
        if step >= a.warmup:
            rates.append(a.batch_size / seconds)
    count = lambda m: sum(t.numel() for t in m.parameters()) if m is not None else 0
    print("RESULT " + json.dumps({"scenario": a.scenario, "images_per_second": statistics.median(rates), "steps": a.steps,
                                  "threads": a.threads, "precision": a.precision, "channels_last": a.channels_last, "torch": torch.__version__,
                                  "student_parameters": count(student), "teacher_parameters": count(teacher)}), flush=True)


if __name__ == "__main__":
    main()
