#!/usr/bin/env python3
"""Side-by-side benchmark: swift-lenet against PyTorch on the same model, machine and data.

  scripts/benchmark.py [--repetitions 3] [--threads 2]

Builds `lenet5` in release mode, makes the PyTorch venv on first use (torch==2.13.0+cpu), then
runs the two alternately (A B A B ...) for batch sizes 32, 64 and 256, and prints medians: the
training epoch (60,000 images, SGD with momentum), inference throughput (10,000 test images;
PyTorch at batch 1000), single-image latency and peak resident memory, each with the ratio.
Then the time to 99%: `lenet5 train --preset quick` and the same recipe in PyTorch
(torch_lenet.py --quick), seeds 1-3 alternately, the wall time of each whole process (start,
data loading, 2 epochs with a test after each, the final test) and its test accuracy. Then
swift-lenet alone: 1 against 2 threads, and epoch time against the number of images.
Exits non-zero if either side fails.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = ROOT / "scripts"


def measured(command):
    """Runs a benchmark process; returns its JSON result with its peak resident memory (wait4)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    output = process.stdout.read()
    error = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"benchmark failed ({process.returncode}): {' '.join(map(str, command))}\n{error.decode()}")
    result = json.loads(output.decode().strip().splitlines()[-1])
    result["peak_rss_bytes"] = usage.ru_maxrss * 1024
    return result


def timed(command):
    """Runs a whole process; returns its wall seconds and standard output. Exits if it fails."""
    start = time.perf_counter()
    process = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if process.returncode != 0:
        sys.exit(f"run failed ({process.returncode}): {' '.join(map(str, command))}\n{process.stderr}")
    return seconds, process.stdout


def time_to_99(lenet5_binary, torch, threads, seeds=(1, 2, 3)):
    """The quick recipe on both sides, seed by seed alternately: [(seconds, accuracy)] each."""
    ours, theirs = [], []
    with tempfile.TemporaryDirectory() as folder:
        for seed in seeds:
            seconds, output = timed([lenet5_binary, "train", "--preset", "quick", "--seed", str(seed), "--threads", str(threads),
                                     "--output", str(Path(folder) / f"quick-{seed}")])
            final = re.search(r"final test accuracy .* = ([0-9.]+)%", output)
            if not final:
                sys.exit(f"no final test accuracy in:\n{output}")
            ours.append((seconds, float(final.group(1))))
            seconds, output = timed(torch + ["--quick", str(seed)])
            theirs.append((seconds, json.loads(output.strip().splitlines()[-1])["test_accuracy"]))
            print(f"  time to 99%, seed {seed}: swift-lenet {ours[-1][0]:.1f} s ({ours[-1][1]:.2f}%), "
                  f"PyTorch {theirs[-1][0]:.1f} s ({theirs[-1][1]:.2f}%)", file=sys.stderr)
    return ours, theirs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    subprocess.run(["swift", "build", "-c", "release", "--product", "lenet5"], cwd=ROOT, check=True)
    bin_path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
    lenet5 = [str(Path(bin_path) / "lenet5"), "bench", "--json", "--threads", str(args.threads)]
    torch = [sys.executable, str(SCRIPTS / "torch_lenet.py"), "--threads", str(args.threads)]
    subprocess.run(torch + ["--help"], check=True, capture_output=True)  # makes the venv once

    batches = [32, 64, 256]
    ours = {b: [] for b in batches}
    theirs = {b: [] for b in batches}
    for repetition in range(args.repetitions):
        for b in batches:
            ours[b].append(measured(lenet5 + ["--batch-size", str(b)]))
            theirs[b].append(measured(torch + ["--batch-size", str(b)]))
            print(f"  repetition {repetition + 1}/{args.repetitions}, batch {b}: "
                  f"swift-lenet {ours[b][-1]['epoch_seconds']:.2f} s, PyTorch {theirs[b][-1]['epoch_seconds']:.2f} s",
                  file=sys.stderr)

    def median(results, key):
        return statistics.median(r[key] for r in results)

    version = theirs[batches[0]][0]["torch"]
    print(f"\nswift-lenet vs PyTorch {version} (CPU), {args.threads} threads, medians of {args.repetitions} alternating runs")
    print(f"{'':34}{'swift-lenet':>14}{'PyTorch':>14}{'ours/PyTorch':>14}{'speed-up':>10}")

    def row(name, ours_value, torch_value, unit, lower_is_better=True):
        ratio = ours_value / torch_value
        speedup = 1 / ratio if lower_is_better else ratio
        print(f"{name:34}{ours_value:>11.3g} {unit:<2}{torch_value:>11.3g} {unit:<2}{ratio:>14.3f}{speedup:>9.2f}x")

    for b in batches:
        row(f"training epoch, batch {b}", median(ours[b], "epoch_seconds"),
                                    median(theirs[b], "epoch_seconds"), "s")
    all_ours = [r for b in batches for r in ours[b]]
    all_theirs = [r for b in batches for r in theirs[b]]
    row("inference (PyTorch batch 1000)", median(all_ours, "inference_images_per_second"),
                                median(all_theirs, "inference_images_per_second"), "/s", lower_is_better=False)
    row("latency, one image", 1e6 * median(all_ours, "single_image_seconds"),
                              1e6 * median(all_theirs, "single_image_seconds"), "us")
    row("peak RSS", median(all_ours, "peak_rss_bytes") / 2**20,
                             median(all_theirs, "peak_rss_bytes") / 2**20, "MB")
    quick_ours, quick_theirs = time_to_99(lenet5[0], torch, args.threads)
    row("time to 99%: quick recipe, seeds 1-3", statistics.median(s for s, _ in quick_ours),
        statistics.median(s for s, _ in quick_theirs), "s")
    print(f"  its test accuracies: swift-lenet {', '.join(f'{a:.2f}' for _, a in quick_ours)}%; "
          f"PyTorch {', '.join(f'{a:.2f}' for _, a in quick_theirs)}% (whole processes, data loading included)")

    print(f"\nswift-lenet's kernels: {all_ours[0]['instruction_set']} ({all_ours[0]['vector_bits']}-bit vectors; "
          f"LENET5_MARCH={os.environ.get('LENET5_MARCH', 'x86-64-v3')}), on a CPU with {all_ours[0]['machine_instruction_set']}")
    print(f"  ceiling: FP32 peak {median(all_ours, 'peak_gflops'):.0f} GFLOPS, gemm in cache {median(all_ours, 'ceiling_gflops'):.0f} "
          f"({args.threads} threads; 1 thread: {median(all_ours, 'peak_gflops_1'):.0f} and {median(all_ours, 'ceiling_gflops_1'):.0f})")
    print(f"  training epoch at batch 64: {median(ours[64], 'training_gflops'):.0f} GFLOPS, "
          f"{median(ours[64], 'training_percent_of_ceiling'):.0f}% of the gemm ceiling counted dense "
          f"(the median of each run against its own ceiling); on the work done "
          f"({100 * median(ours[64], 'training_work_share'):.0f}% of that), {median(ours[64], 'training_work_gflops'):.0f} GFLOPS, "
          f"{median(ours[64], 'training_work_percent_of_ceiling'):.0f}%")
    print(f"  batched inference: {median(all_ours, 'inference_gflops'):.0f} GFLOPS, "
          f"{median(all_ours, 'inference_percent_of_ceiling'):.0f}% of it (likewise)")
    print(f"  one image: {1e6 * median(all_ours, 'single_image_seconds'):.1f} us, "
          f"{median(all_ours, 'single_image_seconds') / median(all_ours, 'single_image_bound_seconds'):.1f}x its arithmetic "
          f"at the 1-thread ceiling ({1e6 * median(all_ours, 'single_image_bound_seconds'):.1f} us)")

    print("\nswift-lenet scaling (batch 64):")
    one = measured(lenet5[:-2] + ["--threads", "1", "--batch-size", "64"])["epoch_seconds"]
    two = median(ours[64], "epoch_seconds")
    print(f"  1 thread {one:.2f} s, {args.threads} threads {two:.2f} s: {one / two:.2f}x")
    for images in [15_000, 30_000, 60_000, 120_000]:
        seconds = measured(lenet5 + ["--batch-size", "64", "--images", str(images)])["epoch_seconds"]
        print(f"  {images:>7,} images: {seconds:6.2f} s, {seconds / images * 1e6:.1f} us/image")


if __name__ == "__main__":
    main()
