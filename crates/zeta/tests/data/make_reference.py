#!/usr/bin/env python3
"""Regenerates the independent reference values the zeta tests compare against.

The Arb files copied from shared/data (zeta_zeros_reference.txt, zeta_counts_reference.txt)
are not made here. This script adds:
  theta_reference.txt   t θ(t) θ(t)mod2π  mpmath siegeltheta, 40 digits
  hardy_z_reference.txt t Z(t) Z'(t)      mpmath siegelz, 40 digits
  zeros_high_reference.txt n γ_n          Arb (python-flint acb.zeta_zeros), near index 3·10⁶

Run: pip install mpmath python-flint && python3 make_reference.py
"""
import flint
from mpmath import mp, siegeltheta, siegelz

mp.dps = 40
flint.ctx.prec = 120

THETA_T = [9.5, 10, 14.134725, 100, 1000, 123456.789, 10**6, 1642800.5]
Z_T = [9.7, 14.0, 17.8456, 20.5, 50.25, 100.0, 250.0, 600.0, 1000.0, 1500.0, 2500.0,
       4000.0, 7000.0, 10000.0, 31415.9265, 100000.0, 600269.5, 1000000.0, 1642800.3,
       1642800.9]

with open("theta_reference.txt", "w") as f:
    f.write("# t theta(t) theta(t)-2pi*round(theta/2pi): mpmath siegeltheta at 40 digits (make_reference.py)\n")
    for t in THETA_T:
        th = siegeltheta(t)
        reduced = th - 2 * mp.pi * mp.nint(th / (2 * mp.pi))
        f.write(f"{t!r} {mp.nstr(th, 25)} {mp.nstr(reduced, 25)}\n")

with open("hardy_z_reference.txt", "w") as f:
    f.write("# t Z(t) Z'(t): mpmath siegelz at 40 digits (make_reference.py)\n")
    for t in Z_T:
        f.write(f"{t!r} {mp.nstr(siegelz(t), 25)} {mp.nstr(siegelz(t, derivative=1), 25)}\n")

with open("zeros_high_reference.txt", "w") as f:
    f.write("# n gamma_n: Arb acb.zeta_zeros, python-flint, 25 significant digits (make_reference.py)\n")
    for start, count in [(2_999_990, 12), (3_141_592, 3)]:
        for i, z in enumerate(flint.acb.zeta_zeros(start, count)):
            f.write(f"{start + i} {z.imag.mid().str(25, radius=False)}\n")
