#!/usr/bin/env python3
"""Arb's zeros around failures of Rosser's rule, for crates/zeta/tests/rosser.rs.

Rosser's rule first fails in the Gram blocks starting at g_13999525, g_30783329 and
g_30930927 (Brent 1979; van de Lune, te Riele & Winter 1986); in the million Gram intervals
from g_99999997 it fails at g_100316552 and g_100788444 (found by this crate). This writes
  rosser_reference.txt   n gamma_n   Arb (python-flint acb.zeta_zeros), 25 significant digits
for the 25 zeros centred on each of those indices, the first and last five zeros of the
window 13,999,000 .. 13,999,999, and the first and last three of 100,000,000 .. 100,999,999.

Run: pip install python-flint && python3 make_rosser_reference.py   (about 10 s)
"""
import flint

flint.ctx.prec = 120

RANGES = [(13_999_000, 5), (13_999_995, 5), (100_000_000, 3), (100_999_997, 3)] + [
    (gram - 12, 25)
    for gram in (13_999_525, 30_783_329, 30_930_927, 100_316_552, 100_788_444)
]

with open("rosser_reference.txt", "w") as f:
    f.write("# n gamma_n: Arb acb.zeta_zeros, python-flint "
            f"{flint.__version__}, 25 significant digits (make_rosser_reference.py)\n")
    for start, count in sorted(RANGES):
        for i, z in enumerate(flint.acb.zeta_zeros(start, count)):
            f.write(f"{start + i} {z.imag.mid().str(25, radius=False)}\n")
