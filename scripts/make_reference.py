#!/usr/bin/env python3
"""PyTorch as the referee: writes the fixture Tests/LeNetTests/Fixtures/reference.safetensors.

The same LeNet-5 in PyTorch, PyTorch's own initialisation (seed 0), and a batch of 8 real MNIST
test images, preprocessed as swift-lenet does (zero-padded to 32x32, normalised). The fixture
holds the input, labels, weights, logits, mean cross-entropy, every parameter gradient
(`grad.<name>`), the losses of the first 10 SGD steps (momentum 0.9, lr 0.05) on that batch, and
10 steps of the default optimiser (momentum 0.9, weight decay 5e-4, a cosine learning rate from
0.05 over the 10 steps) from the same weights: the loss before each step (`decay_losses`), the
rate (`decay_rates`), and every parameter and momentum buffer after each step
(`decay.<step>.<name>`, `decay.<step>.momentum.<name>`). Then 10 steps each of SGD with Nesterov
momentum, Adam (weight decay 5e-4 in the gradient) and AdamW (decoupled weight decay 0.01), with
cosine rates from 0.05, 0.001 and 0.001: the loss before each step (`<optimiser>_losses`), and
every parameter and optimiser buffer after the tenth (`<optimiser>.<name>`,
`<optimiser>.<buffer>.<name>`). Label smoothing 0.1: the loss and every gradient
(`smoothing_loss`, `smoothing.grad.<name>`) and the losses of 10 SGD steps (momentum 0.9, lr
0.05; `smoothing_losses`). And the rate of every step of two schedules from torch.optim.lr_scheduler
over 10 epochs of 7 steps: OneCycleLR peaking at 0.05 (`schedule.one_cycle`), and a linear warm-up
over 2 epochs into a cosine from 0.05 (`schedule.warmup_cosine`). The Swift test
LeNetTests/ReferenceTests must reproduce all of it.

Run: scripts/make_reference.py   (creates .build/venv-reference with torch==2.13.0+cpu on first use)
"""
import math

import reference_env
from torch_lenet import lenet5, load


def main():
    import numpy as np
    import torch
    import torch.nn.functional as F
    from safetensors.numpy import save_file

    test_x, test_y = load("test")
    x, y = test_x[:8], test_y[:8]
    labels = y.numpy()

    torch.manual_seed(0)
    model = lenet5()
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

    # The default optimiser: weight decay and a changing rate, from the same initial weights.
    torch.manual_seed(0)
    model = lenet5()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
    decay_losses, decay_rates, trajectory = [], [], {}
    for step in range(10):
        rate = 0.05 * 0.5 * (1 + math.cos(math.pi * step / 10))
        for group in optimizer.param_groups:
            group["lr"] = rate
        optimizer.zero_grad()
        step_loss = F.cross_entropy(model(x), y)
        decay_losses.append(step_loss.item())
        decay_rates.append(rate)
        step_loss.backward()
        optimizer.step()
        for name, p in model.named_parameters():
            trajectory[f"decay.{step + 1}.{name}"] = p.detach().numpy().copy()
            trajectory[f"decay.{step + 1}.momentum.{name}"] = optimizer.state[p]["momentum_buffer"].numpy().copy()

    # The other optimisers, 10 steps each from the same weights with a cosine rate: the loss
    # before every step, then every parameter and optimiser buffer after the tenth.
    optimizers = {
        "nesterov": (0.05, lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=5e-4, nesterov=True),
                     ["momentum_buffer"]),
        "adam": (1e-3, lambda ps: torch.optim.Adam(ps, lr=1e-3, weight_decay=5e-4, foreach=False),
                 ["exp_avg", "exp_avg_sq"]),
        "adamw": (1e-3, lambda ps: torch.optim.AdamW(ps, lr=1e-3, weight_decay=0.01, foreach=False),
                  ["exp_avg", "exp_avg_sq"]),
    }
    for key, (base, make, buffers) in optimizers.items():
        model = lenet5()
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
        optimizer = make(model.parameters())
        step_losses = []
        for step in range(10):
            for group in optimizer.param_groups:
                group["lr"] = base * 0.5 * (1 + math.cos(math.pi * step / 10))
            optimizer.zero_grad()
            step_loss = F.cross_entropy(model(x), y)
            step_losses.append(step_loss.item())
            step_loss.backward()
            optimizer.step()
        trajectory[f"{key}_losses"] = np.array(step_losses, np.float32)
        for name, p in model.named_parameters():
            trajectory[f"{key}.{name}"] = p.detach().numpy().copy()
            for buffer in buffers:
                trajectory[f"{key}.{buffer}.{name}"] = optimizer.state[p][buffer].numpy().copy()

    # Label smoothing: loss, gradients and 10 SGD steps from the same initial weights.
    model = lenet5()
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    smoothing_loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
    smoothing_loss.backward()
    for name, p in model.named_parameters():
        trajectory[f"smoothing.grad.{name}"] = p.grad.numpy().copy()
    trajectory["smoothing_loss"] = np.array([smoothing_loss.item()], np.float32)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    smoothing_losses = []
    for _ in range(10):
        optimizer.zero_grad()
        step_loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        smoothing_losses.append(step_loss.item())
        step_loss.backward()
        optimizer.step()
    trajectory["smoothing_losses"] = np.array(smoothing_losses, np.float32)

    # Per-step schedules: 10 epochs of 7 steps, the rate before each step.
    epochs, steps_per_epoch, warmup = 10, 7, 2 * 7
    total = epochs * steps_per_epoch
    schedules = {
        "one_cycle": lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.05, total_steps=total, cycle_momentum=False),
        "warmup_cosine": lambda o: torch.optim.lr_scheduler.SequentialLR(o, [
            torch.optim.lr_scheduler.LinearLR(o, start_factor=1 / warmup, end_factor=1, total_iters=warmup - 1),
            torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=total - warmup)], milestones=[warmup]),
    }
    for key, make in schedules.items():
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05)
        scheduler = make(optimizer)
        rates = []
        for _ in range(total):
            rates.append(optimizer.param_groups[0]["lr"])
            optimizer.step()
            scheduler.step()
        trajectory[f"schedule.{key}"] = np.array(rates, np.float32)

    tensors = {
        "input": x.numpy(),
        "labels": labels.astype(np.float32),
        "logits": logits.detach().numpy(),
        "loss": np.array([loss.item()], np.float32),
        "sgd_losses": np.array(losses, np.float32),
        "decay_losses": np.array(decay_losses, np.float32),
        "decay_rates": np.array(decay_rates, np.float32),
        **weights,
        **grads,
        **trajectory,
    }
    out = reference_env.ROOT / "Tests" / "LeNetTests" / "Fixtures" / "reference.safetensors"
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: np.ascontiguousarray(v, np.float32) for k, v in tensors.items()}, str(out),
              metadata={"generator": "scripts/make_reference.py", "torch": torch.__version__})
    print(f"wrote {out.relative_to(reference_env.ROOT)}: loss {loss.item():.6f}, SGD losses {losses[0]:.4f} -> {losses[-1]:.4f}")


if __name__ == "__main__":
    reference_env.ensure(__file__)
    main()
