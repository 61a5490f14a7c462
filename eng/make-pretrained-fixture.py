#!/usr/bin/env python3
# Writes the PyTorch fixture of the pretrained-weights tests (test/Microsoft.ML.Distillation.Tests/Persistence/Pretrained):
# a CIFAR ResNet-8 for 10 classes in torchvision's module naming (conv1, bn1, layer1.0.conv1, ..., downsample.0/1, fc), with
# random weights and non-trivial BatchNorm statistics, saved by real PyTorch three ways, plus a fixed input and the eval-mode
# logits PyTorch computed for it:
#   resnet8-checkpoint.pth   {'net': state_dict with 'module.' prefixes (nn.DataParallel), 'epoch': 3, 'acc': 0.5}, as HSAKD saves
#   resnet8.safetensors      the plain state dict (written here by hand: Debian 12 has no python3-safetensors)
#   resnet8-io.pth           {'input': [4, 3, 32, 32], 'logits': [4, 10]}
#   torchvision-layouts.json the state-dict names and shapes of torchvision's ImageNet resnet18, resnet34, resnet50 and mobilenet_v2 (1000
#                            classes; python3-torchvision 0.14.1), which the zoo's networks must match name for name
# Run with Debian's python3-torch and python3-torchvision (apt install python3-torchvision; 1.13.1 and 0.14.1 made the committed files):
#   /usr/bin/python3 eng/make-pretrained-fixture.py test/Microsoft.ML.Distillation.Tests/TestData/pretrained
import json
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class ResNet8(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = nn.Sequential(Block(16, 16, 1))
        self.layer2 = nn.Sequential(Block(16, 32, 2))
        self.layer3 = nn.Sequential(Block(32, 64, 2))
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def write_safetensors(path, state):
    kinds = {torch.float32: "F32", torch.int64: "I64"}
    header, blobs, offset = {}, [], 0
    for name, tensor in state.items():
        data = tensor.contiguous().numpy().tobytes()
        header[name] = {"dtype": kinds[tensor.dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def write_layouts(path):
    import torchvision.models as models
    layouts = {}
    for name in ["resnet18", "resnet34", "resnet50", "mobilenet_v2"]:
        state = getattr(models, name)(weights=None).state_dict()
        layouts[name] = [[key, list(tensor.shape)] for key, tensor in state.items()]
    with open(path, "w") as f:
        json.dump(layouts, f, indent=0)


def main(folder):
    torch.manual_seed(17)
    net = ResNet8()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            elif isinstance(m, nn.Linear):  # logits of order 1, so a 1e-5 comparison means something
                m.weight.uniform_(-1, 1)
    net.train()
    with torch.no_grad():
        for _ in range(3):  # BatchNorm running statistics away from 0/1
            net(torch.randn(16, 3, 32, 32) * 2 + 0.3)
    net.eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        logits = net(x)
    state = net.state_dict()
    torch.save({"net": {"module." + k: v for k, v in state.items()}, "epoch": 3, "acc": 0.5}, f"{folder}/resnet8-checkpoint.pth")
    write_safetensors(f"{folder}/resnet8.safetensors", state)
    torch.save({"input": x, "logits": logits}, f"{folder}/resnet8-io.pth")
    write_layouts(f"{folder}/torchvision-layouts.json")
    print(f"torch {torch.__version__}: {len(state)} tensors; logits[0] = {logits[0].tolist()}")


if __name__ == "__main__":
    main(sys.argv[1])
