#!/usr/bin/env python3
"""The same LeNet-5 in PyTorch, and its side of scripts/benchmark.py.

  torch_lenet.py --batch-size 64 [--threads 2]
  torch_lenet.py --quick SEED [--threads 2]
  torch_lenet.py --best SEED [--threads 2]

The first prints one JSON object like `lenet5 bench --json`: the seconds of one training epoch
over the 60,000 MNIST training images (SGD, momentum 0.9, lr 0.05, shuffled, batches of
--batch-size), test-set inference throughput at batch 1000 and the mean latency of one image,
each the fastest of several passes (5 and 3), as `lenet5 bench` measures them.

The second trains `lenet5 train --preset quick`'s recipe (2 epochs of all 60,000 images, batch
64, SGD with momentum 0.9 and weight decay 0.0005, PyTorch's OneCycleLR peaking at 0.07 without
momentum cycling, label smoothing 0.1, PyTorch's default initialisation, the test set measured
after each epoch) and prints its final test accuracy as JSON; benchmark.py times the whole
process, as it times `lenet5 train`.

The third trains `lenet5 train --preset best`'s recipe: 30 epochs of all 60,000 images, each
batch distorted afresh by `--augment light`'s affine transform (a rotation within 10 degrees, a
scale within 10%, a shift within 2 pixels each way, drawn per image, resampled bilinearly on the
padded 32x32 image about its centre), PyTorch's OneCycleLR peaking at 0.05 without momentum
cycling, SGD with momentum 0.9 and weight decay 0.0005, label smoothing 0.1; it prints the last
epoch's test accuracy. The draws are torch's, not swift-lenet's: the same recipe, other dice.
"""
import argparse
import gzip
import json
import math
import sys
import time
from pathlib import Path

import reference_env

MNIST = reference_env.ROOT / "Sources" / "Datasets" / "Resources" / "mnist"


def lenet5():
    import torch.nn as nn
    import torch.nn.functional as F

    class LeNet5(nn.Module):
        """C1 conv 5x5 1->6, ReLU, max 2x2, C3 conv 5x5 6->16, ReLU, max 2x2, C5 conv 5x5 16->120,
        ReLU, F6 120->84, ReLU, F7 84->10: the names and shapes swift-lenet's checkpoints use."""

        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.conv3 = nn.Conv2d(16, 120, 5)
            self.fc1 = nn.Linear(120, 84)
            self.fc2 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = F.relu(self.conv3(x)).flatten(1)
            return self.fc2(F.relu(self.fc1(x)))

    return LeNet5()


def load(split, mean=0.1000706, std=0.2752962):
    """MNIST images zero-padded to 32x32 and normalised as swift-lenet does, and labels."""
    import numpy as np
    import torch

    prefix = "train" if split == "train" else "t10k"
    with gzip.open(MNIST / f"{prefix}-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(MNIST / f"{prefix}-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    padded = np.pad(images.astype(np.float32) / 255, ((0, 0), (2, 2), (2, 2)))
    return torch.from_numpy(((padded - mean) / std).astype(np.float32)).unsqueeze(1), torch.from_numpy(labels)


def bench(batch_size, threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(1)
    x, y = load("train")
    test_x, _ = load("test")
    model = lenet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(index):
        optimizer.zero_grad()
        F.cross_entropy(model(x[index]), y[index]).backward()
        optimizer.step()

    for index in torch.randperm(len(x))[: 20 * batch_size].split(batch_size):  # warm-up
        step(index)
    start = time.perf_counter()
    for index in torch.randperm(len(x)).split(batch_size):
        step(index)
    epoch = time.perf_counter() - start

    # The fastest of several passes, as `lenet5 bench` keeps: 5 over the test set, 3 over the
    # single images.
    model.eval()
    with torch.inference_mode():
        model(test_x[:1000])
        inference = math.inf
        for _ in range(5):
            start = time.perf_counter()
            for batch in test_x.split(1000):
                model(batch)
            inference = min(inference, time.perf_counter() - start)
        singles = 1000
        single = math.inf
        for _ in range(3):
            start = time.perf_counter()
            for i in range(singles):
                model(test_x[i : i + 1])
            single = min(single, (time.perf_counter() - start) / singles)
    return {
        "threads": threads, "batch_size": batch_size, "epoch_seconds": epoch,
        "inference_images_per_second": len(test_x) / inference, "single_image_seconds": single,
        "torch": torch.__version__,
    }


def quick(seed, threads, epochs=2, batch_size=64, peak=0.07):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x, y = load("train")
    test_x, test_y = load("test")
    model = lenet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=peak, momentum=0.9, weight_decay=5e-4)
    steps = epochs * math.ceil(len(x) / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=steps, cycle_momentum=False)

    def test_accuracy():
        model.eval()
        with torch.inference_mode():
            correct = sum(int((model(b).argmax(1) == t).sum()) for b, t in zip(test_x.split(1000), test_y.split(1000)))
        model.train()
        return 100 * correct / len(test_x)

    for _ in range(epochs):
        for index in torch.randperm(len(x)).split(batch_size):
            optimizer.zero_grad()
            F.cross_entropy(model(x[index]), y[index], label_smoothing=0.1).backward()
            optimizer.step()
            schedule.step()
        accuracy = test_accuracy()
    return {"seed": seed, "epochs": epochs, "test_accuracy": accuracy, "torch": torch.__version__}


def best(seed, threads, epochs=30, batch_size=64, peak=0.05):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    x, y = load("train", mean=0, std=1)  # padded intensities in [0, 1]: the distortions' input
    test_x, test_y = load("test")
    mean, std = 0.1000706, 0.2752962
    model = lenet5()
    optimizer = torch.optim.SGD(model.parameters(), lr=peak, momentum=0.9, weight_decay=5e-4)
    steps = epochs * math.ceil(len(x) / batch_size)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=steps, cycle_momentum=False)
    centre = (x.shape[-1] - 1) / 2

    def distort(images):
        # affine_grid maps each output position to its source, in coordinates running from -1 to
        # 1 between the corner pixels' centres (align_corners): the inverse transform, as
        # swift-lenet's Augmentation applies it.
        n = len(images)
        angle = (2 * torch.rand(n) - 1) * math.radians(10)
        scale = 1 + (2 * torch.rand(n) - 1) * 0.1
        shift = (2 * torch.rand(n, 2) - 1) * 2
        c, s = torch.cos(angle) / scale, torch.sin(angle) / scale
        inverse = torch.stack([torch.stack([c, s], 1), torch.stack([-s, c], 1)], 1)  # (n, 2, 2)
        offset = -(inverse @ shift.unsqueeze(2)) / centre
        grid = F.affine_grid(torch.cat([inverse, offset], 2), list(images.shape), align_corners=True)
        return (F.grid_sample(images, grid, align_corners=True) - mean) / std

    for _ in range(epochs):
        for index in torch.randperm(len(x)).split(batch_size):
            optimizer.zero_grad()
            F.cross_entropy(model(distort(x[index])), y[index], label_smoothing=0.1).backward()
            optimizer.step()
            schedule.step()
    model.eval()
    with torch.inference_mode():
        correct = sum(int((model(b).argmax(1) == t).sum()) for b, t in zip(test_x.split(1000), test_y.split(1000)))
    return {"seed": seed, "epochs": epochs, "test_accuracy": 100 * correct / len(test_x), "torch": torch.__version__}


if __name__ == "__main__":
    reference_env.ensure(__file__)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", type=int, metavar="SEED", help="train the quick preset's recipe with this seed")
    parser.add_argument("--best", type=int, metavar="SEED", help="train the best preset's recipe with this seed")
    args = parser.parse_args()
    if args.quick is not None:
        print(json.dumps(quick(args.quick, args.threads)))
    elif args.best is not None:
        print(json.dumps(best(args.best, args.threads)))
    else:
        print(json.dumps(bench(args.batch_size, args.threads)))
