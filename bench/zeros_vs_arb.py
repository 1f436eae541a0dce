#!/usr/bin/env python3
"""Zeros per second: `spectral zeros` against Arb's acb.zeta_zeros (python-flint), same machine,
same run.

    pip install python-flint numpy
    cargo build --release -p spectral-cli
    python3 bench/zeros_vs_arb.py [--count 2000000] [--arb-count 1000]

1. `spectral zeros --start 1 --count COUNT` (the first COUNT zeros, verified), wall time.
2. Arb on ARB_COUNT consecutive zeros at the bottom and at the top of that range (Arb's cost
   per zero grows with height; computing all COUNT would take hours), wall time, and
   `spectral` on the same two windows for a like-for-like ratio.
3. The largest difference between the two programs' zeros on those windows.

With --heights, instead: a window of --height-count zeros from each of the indices
10⁸, 10⁹, 10¹⁰, 10¹¹ and 10¹² (or --height-indices), by `spectral zeros --format txt` and by
Arb at 128 bits, each timed, and the largest difference read from the decimals (an f64 cannot
hold γ to 1e-9 above index ~10⁷, so neither side is rounded to f64):

    python3 bench/zeros_vs_arb.py --heights [--height-count 100]

With --windows START:COUNT …, instead: `spectral zeros` alone (Arb would take hours) on each
window, verified, timed, with its evaluations of Z (the speed bar at height: 1000000000:1000000):

    python3 bench/zeros_vs_arb.py --windows 1000000000:1000000 [--device cuda]
"""
import argparse
import decimal
import os
import subprocess
import sys
import tempfile
import time

import flint
import numpy as np


def spectral_zeros(binary, start, count, out):
    began = time.perf_counter()
    subprocess.run(
        [binary, "zeros", "--start", str(start), "--count", str(count), "--format", "npy", "--out", out],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - began
    return seconds, np.load(out)


def arb_zeros(start, count):
    flint.ctx.prec = 64
    began = time.perf_counter()
    values = flint.acb.zeta_zeros(start, count)
    seconds = time.perf_counter() - began
    return seconds, np.array([float(z.imag.mid()) for z in values])


def spectral_zeros_txt(binary, start, count, out):
    began = time.perf_counter()
    subprocess.run(
        [binary, "zeros", "--start", str(start), "--count", str(count), "--format", "txt", "--out", out],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    seconds = time.perf_counter() - began
    with open(out) as f:
        return seconds, [decimal.Decimal(line.split()[1]) for line in f]


def arb_zeros_decimal(start, count):
    flint.ctx.prec = 128
    began = time.perf_counter()
    values = flint.acb.zeta_zeros(start, count)
    seconds = time.perf_counter() - began
    return seconds, [decimal.Decimal(z.imag.mid().str(30, radius=False)) for z in values]


def heights(args):
    decimal.getcontext().prec = 40
    print(f"{'first index':>14} {'count':>6} {'spectral s':>11} {'zeros/s':>9} {'Arb s':>8} "
          f"{'zeros/s':>9} {'ratio':>7} {'max |spectral - Arb|':>21}")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "z.txt")
        for start in args.height_indices:
            ours_s, ours = spectral_zeros_txt(args.binary, start, args.height_count, out)
            arb_s, arb = arb_zeros_decimal(start, args.height_count)
            worst = max(abs(a - b) for a, b in zip(ours, arb))
            n = args.height_count
            print(f"{start:>14} {n:>6} {ours_s:>11.3f} {n / ours_s:>9.0f} {arb_s:>8.3f} "
                  f"{n / arb_s:>9.0f} {arb_s / ours_s:>6.1f}x {float(worst):>21.2e}")
    return 0


def windows(args):
    print(f"{'first index':>14} {'count':>8} {'device':>7} {'seconds':>9} {'zeros/s':>9}  evaluations")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "z.f64")
        for window in args.windows:
            start, count = (int(x) for x in window.split(":"))
            began = time.perf_counter()
            run = subprocess.run(
                [args.binary, "zeros", "--start", str(start), "--count", str(count), "--format", "f64",
                 "--out", out, "--device", args.device],
                check=True, capture_output=True, text=True,
            )
            seconds = time.perf_counter() - began
            assert "no zero missed" in run.stdout, run.stdout
            evaluations = next(l for l in run.stdout.splitlines() if l.startswith("evaluations"))
            print(f"{start:>14} {count:>8} {args.device:>7} {seconds:>9.2f} {count / seconds:>9.0f}  "
                  f"{evaluations.split(': ', 1)[1]}")
    return 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=2_000_000)
    parser.add_argument("--arb-count", type=int, default=1000)
    parser.add_argument("--heights", action="store_true", help="compare windows at indices 10^8..10^12 instead")
    parser.add_argument("--height-count", type=int, default=100)
    parser.add_argument("--height-indices", type=int, nargs="+", default=[10**k for k in range(8, 13)])
    parser.add_argument("--windows", nargs="+", metavar="START:COUNT", help="time spectral alone on these windows")
    parser.add_argument("--device", default="cpu", help="--device of spectral zeros for --windows")
    parser.add_argument("--binary", default=os.path.join(os.path.dirname(__file__), "..", "target", "release", "spectral"))
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores; python-flint {flint.__version__}")
    if args.heights:
        return heights(args)
    if args.windows:
        return windows(args)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "z.npy")
        seconds, _ = spectral_zeros(args.binary, 1, args.count, out)
        rows.append(("spectral", 1, args.count, seconds))
        worst = 0.0
        for start in [1, args.count - args.arb_count + 1]:
            ours_s, ours = spectral_zeros(args.binary, start, args.arb_count, out)
            arb_s, arb = arb_zeros(start, args.arb_count)
            worst = max(worst, float(np.max(np.abs(ours - arb))))
            rows.append(("spectral", start, args.arb_count, ours_s))
            rows.append(("arb", start, args.arb_count, arb_s))
    print(f"{'program':10} {'first':>9} {'count':>9} {'seconds':>9} {'zeros/s':>11}")
    for name, start, count, seconds in rows:
        print(f"{name:10} {start:>9} {count:>9} {seconds:>9.3f} {count / seconds:>11.0f}")
    full_rate = rows[0][2] / rows[0][3]
    for i in (1, 3):
        ours, arb = rows[i], rows[i + 1]
        print(
            f"at zero {ours[1]}: Arb {arb[2] / arb[3]:.0f} zeros/s; spectral over the full range "
            f"{full_rate:.0f} zeros/s = {full_rate / (arb[2] / arb[3]):.0f}x Arb; "
            f"same window {ours[2] / ours[3]:.0f} zeros/s = {arb[3] / ours[3]:.0f}x"
        )
    print(f"max |spectral - Arb| on the compared windows: {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
