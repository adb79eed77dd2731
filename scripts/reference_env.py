"""The Python environment of the PyTorch reference scripts: a venv in .build/venv-reference with
the pinned CPU-only torch (plain `torch` would pull gigabytes of CUDA wheels)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".build" / "venv-reference"
REQUIREMENTS = ["torch==2.13.0+cpu", "numpy", "safetensors"]


def ensure(script):
    """Re-runs `script` inside the venv, creating it on first use."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {VENV.relative_to(ROOT)} with {' '.join(REQUIREMENTS)} (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS], check=True)
    os.execv(str(python), [str(python), script, *sys.argv[1:]])
