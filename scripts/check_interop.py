#!/usr/bin/env python3
"""Checks that swift-lenet's files work outside swift-lenet (run by .ci/run).

  check_interop.py CHECKPOINT.safetensors MODEL.onnx MODEL.npz LOGITS.npy MNIST_DIR

- the checkpoint loads with the `safetensors` package, with PyTorch's names and shapes;
- the .npz export holds the same weights;
- `onnx.checker.check_model(full_check=True)` accepts the ONNX export;
- ONNX Runtime on the 10,000 raw test images predicts exactly what `lenet5 test` predicted,
  with logits within 5e-5 of `lenet5 test --save-logits`.
Needs numpy, safetensors, onnx, onnxruntime. Exits non-zero on any disagreement.
"""
import gzip
import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
from safetensors.numpy import load_file

SHAPES = {
    "conv1.weight": (6, 1, 5, 5), "conv1.bias": (6,), "conv2.weight": (16, 6, 5, 5), "conv2.bias": (16,),
    "conv3.weight": (120, 16, 5, 5), "conv3.bias": (120,), "fc1.weight": (84, 120), "fc1.bias": (84,),
    "fc2.weight": (10, 84), "fc2.bias": (10,),
}


def main(checkpoint, model_path, npz_path, logits_path, mnist):
    failures = []

    weights = load_file(checkpoint)
    shapes = {k: v.shape for k, v in weights.items()}
    if shapes != SHAPES:
        failures.append(f"checkpoint tensors {shapes} are not PyTorch's LeNet-5 {SHAPES}")
    print(f"safetensors: {len(weights)} tensors, {sum(v.size for v in weights.values()):,} parameters")

    arrays = np.load(npz_path)
    for name in SHAPES:
        if not np.array_equal(arrays[name], weights[name]):
            failures.append(f"npz {name} differs from the checkpoint")
    print(f"npz: {len(arrays.files)} arrays, normalization mean {arrays['normalization_mean'][0]:.6f}")

    model = onnx.load(model_path)
    onnx.checker.check_model(model, full_check=True)
    print(f"onnx: check_model(full_check=True) passed, opset {model.opset_import[0].version}, "
          f"{len(model.graph.node)} nodes: {' '.join(n.op_type for n in model.graph.node)}")

    with gzip.open(Path(mnist) / "t10k-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28).astype(np.float32)
    with gzip.open(Path(mnist) / "t10k-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    logits, probabilities = session.run(["logits", "probabilities"], {"pixels": images})
    ours = np.load(logits_path)
    difference = float(np.abs(logits - ours).max())
    same = int((logits.argmax(1) == ours.argmax(1)).sum())
    accuracy = float((logits.argmax(1) == labels).mean() * 100)
    print(f"onnxruntime {onnxruntime.__version__}: {same:,}/{len(labels):,} predictions identical to lenet5 test, "
          f"max |logit difference| {difference:.2e}, accuracy {accuracy:.2f}%")
    if same != len(labels):
        failures.append(f"{len(labels) - same} predictions differ between ONNX Runtime and lenet5 test")
    if difference > 5e-5:
        failures.append(f"logits differ by up to {difference:.2e} (> 5e-5)")
    if not np.allclose(probabilities.sum(1), 1, atol=1e-5):
        failures.append("ONNX probabilities do not sum to 1")

    for failure in failures:
        print("FAIL:", failure)
    print("interop: " + ("FAILED" if failures else "all checks passed"))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
