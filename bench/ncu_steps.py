#!/usr/bin/env python3
"""Per-kernel GPU time of one training step from an ncu CSV log, grouped by kernel name.

    ncu --clock-control none --metrics gpu__time_duration.sum --csv --print-units base \\
        --launch-count 9000 --log-file steps.csv \\
        spectral ... bench train ... --steps 2 --warmup 1      # (or bench/train_ref.py)
    python3 bench/ncu_steps.py steps.csv [PARTS [ROWS]]

Takes the last 1/PARTS of the kernels (3 by default: with 1 warm-up and 2 timed steps, about
the last step), sums gpu__time_duration per kernel name (template arguments cut), and prints
the ROWS (30) largest. ncu serializes the kernels, so the sum is the step's GPU work, not its
wall time: the difference to a timed run's step is the time the GPU waited for the host.
"""
import collections
import csv
import re
import sys


def main():
    path = sys.argv[1]
    parts = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rows = int(sys.argv[3]) if len(sys.argv) > 3 else 30
    lines = [r for r in csv.reader(open(path)) if len(r) > 10]
    head = lines[0]
    name, value = head.index("Kernel Name"), head.index("Metric Value")
    kernels = [(r[name], float(r[value].replace(",", "")) * 1e-6) for r in lines[1:]]
    last = kernels[-len(kernels) // parts:]
    total = collections.defaultdict(lambda: [0.0, 0])
    for kernel, ms in last:
        kernel = re.sub(r"\(.*", "", kernel)[:100]
        total[kernel][0] += ms
        total[kernel][1] += 1
    print(f"== {path.split('/')[-1]}: {len(kernels)} kernels; last 1/{parts}: {len(last)} kernels, "
          f"{sum(ms for _, ms in last):.2f} ms")
    for kernel, (ms, count) in sorted(total.items(), key=lambda kv: -kv[1][0])[:rows]:
        print(f"  {ms:8.2f} ms {count:5d}  {kernel}")


if __name__ == "__main__":
    main()
