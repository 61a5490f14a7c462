#!/usr/bin/env python3
# Writes real torchvision checkpoints (random weights: nothing is downloaded) with their eval-mode logits, for the test that loads
# them into the zoo (test/Microsoft.ML.Distillation.Tests/Persistence/Pretrained/TorchvisionCheckpointTests.cs):
#   FOLDER/NAME.pth      torchvision's NAME(num_classes=10).state_dict(), batch norms given non-trivial statistics
#   FOLDER/NAME-io.pth   {'input': [2, 3, 64, 64], 'logits': [2, 10]}
# Needs Debian's python3-torchvision (apt-get install python3-torchvision).
#   /usr/bin/python3 eng/make-torchvision-checkpoints.py FOLDER resnet18 resnet34 resnet50 mobilenet_v2
import sys

import torch
import torchvision.models as models


def main(folder, names):
    for name in names:
        torch.manual_seed(3)
        net = getattr(models, name)(weights=None, num_classes=10)
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
                elif isinstance(m, torch.nn.Linear):  # mobilenet_v2's N(0, 0.01) head gives logits under 0.1: too small to compare
                    m.weight.uniform_(-0.1, 0.1)
            net.train()
            net(torch.randn(8, 3, 64, 64))  # running statistics away from 0 / 1
        net.eval()
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            logits = net(x)
        torch.save(net.state_dict(), f"{folder}/{name}.pth")
        torch.save({"input": x, "logits": logits}, f"{folder}/{name}-io.pth")
        print(f"{name}: logits[0] = {logits[0, :3].tolist()}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
