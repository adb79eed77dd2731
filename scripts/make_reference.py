#!/usr/bin/env python3
"""PyTorch as the referee: writes the fixture Tests/LeNetTests/Fixtures/reference.safetensors.

The same LeNet-5 in PyTorch, PyTorch's own initialisation (seed 0), and a batch of 8 real MNIST
test images, preprocessed as swift-lenet does (zero-padded to 32x32, normalised). The fixture
holds the input, labels, weights, logits, mean cross-entropy, every parameter gradient
(`grad.<name>`), and the losses of the first 10 SGD steps (momentum 0.9, lr 0.05) on that batch.
The Swift test LeNetTests/ReferenceTests must reproduce all of it.

Run: scripts/make_reference.py   (creates .build/venv-reference with torch==2.13.0+cpu on first use)
"""
import gzip
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".build" / "venv-reference"
REQUIREMENTS = ["torch==2.13.0+cpu", "numpy", "safetensors"]


def ensure_environment():
    """Re-runs this script inside a venv that has the pinned CPU-only torch."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *REQUIREMENTS], check=True)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


def main():
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from safetensors.numpy import save_file

    class LeNet5(nn.Module):
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

    mnist = ROOT / "Sources" / "Datasets" / "Resources" / "mnist"
    with gzip.open(mnist / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:8]
    with gzip.open(mnist / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)[:8].astype(np.int64)
    mean, std = 0.1000706, 0.2752962  # swift-lenet's statistics of the MNIST training images
    padded = np.pad(images.astype(np.float32) / 255, ((0, 0), (2, 2), (2, 2)))
    x = torch.from_numpy(((padded - mean) / std).astype(np.float32)).unsqueeze(1)
    y = torch.from_numpy(labels)

    torch.manual_seed(0)
    model = LeNet5()
    weights = {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}
    logits = model(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    grads = {"grad." + k: p.grad.numpy().copy() for k, p in model.named_parameters()}

    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for _ in range(10):
        optimizer.zero_grad()
        step_loss = F.cross_entropy(model(x), y)
        losses.append(step_loss.item())
        step_loss.backward()
        optimizer.step()

    tensors = {
        "input": x.numpy(),
        "labels": labels.astype(np.float32),
        "logits": logits.detach().numpy(),
        "loss": np.array([loss.item()], np.float32),
        "sgd_losses": np.array(losses, np.float32),
        **weights,
        **grads,
    }
    out = ROOT / "Tests" / "LeNetTests" / "Fixtures" / "reference.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()}, str(out),
              metadata={"generator": "scripts/make_reference.py", "torch": torch.__version__})
    print(f"wrote {out.relative_to(ROOT)}: loss {loss.item():.6f}, SGD losses {losses[0]:.4f} -> {losses[-1]:.4f}")


if __name__ == "__main__":
    ensure_environment()
    main()
