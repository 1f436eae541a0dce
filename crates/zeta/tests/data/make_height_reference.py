#!/usr/bin/env python3
"""Reference values at heights 10⁸..10¹³, where an f64 cannot hold the height to 1e-9.

Heights are written as exact decimals and read by the tests in double-double.
  height_theta_reference.txt   t  θ(t) mod 2π (to [−π, π])          mpmath siegeltheta, 40 digits
  height_phase_reference.txt   t n sin(t·ln n) cos(t·ln n)          mpmath, 40 digits
  height_z_reference.txt       t  Z(t)                              mpmath siegelz, 40 digits
  height_zeros_reference.txt   n  γ_n                               Arb (python-flint acb.zeta_zeros)
  height_counts_reference.txt  t  N(t) S(t) Z(t)                    N: Arb zeta_nzeros; S = N − θ/π − 1
                                                                    and Z from mpmath, 40 digits

Run: pip install mpmath python-flint && python3 make_height_reference.py  (about a minute)
"""
import flint
from mpmath import mp, mpf, siegeltheta, siegelz, log, sin, cos, nint, pi

mp.dps = 40
flint.ctx.prec = 160

THETA_T = ["100000000.123456789", "1000000000.5", "10000000000.987654321", "100000000000.25",
           "1000000000000.0625", "7000000000000.333", "10000000000000.75"]
PHASE_T = ["100000000.123456789", "267653395648.625948242142", "7000000000000.333"]
PHASE_N = [2, 3, 1000, 65_537, 1_000_003]
Z_T = ["100000000.123456789", "1000000000.5", "10000000000.987654321", "100000000000.25",
       "267653395648.7", "1000000000000.0625", "7000000000000.333"]
ZERO_N = [10**8, 10**9, 10**10, 10**11, 10**12]
COUNT_T = ["1000.5", "1000000.25", "1000000000.5", "100000000000.125"]


def reduced(x):
    return x - 2 * pi * nint(x / (2 * pi))


with open("height_theta_reference.txt", "w") as f:
    f.write("# t theta(t)-2pi*round(theta/2pi): mpmath siegeltheta at 40 digits (make_height_reference.py)\n")
    for t in THETA_T:
        f.write(f"{t} {mp.nstr(reduced(siegeltheta(mpf(t))), 25)}\n")

with open("height_phase_reference.txt", "w") as f:
    f.write("# t n sin(t ln n) cos(t ln n): mpmath at 40 digits (make_height_reference.py)\n")
    for t in PHASE_T:
        for n in PHASE_N:
            phase = mpf(t) * log(n)
            f.write(f"{t} {n} {mp.nstr(sin(phase), 25)} {mp.nstr(cos(phase), 25)}\n")

with open("height_z_reference.txt", "w") as f:
    f.write("# t Z(t): mpmath siegelz at 40 digits (make_height_reference.py)\n")
    for t in Z_T:
        f.write(f"{t} {mp.nstr(siegelz(mpf(t)), 25)}\n")

with open("height_zeros_reference.txt", "w") as f:
    f.write(f"# n gamma_n: Arb acb.zeta_zeros, python-flint {flint.__version__}, 30 significant digits (make_height_reference.py)\n")
    for n in ZERO_N:
        for i, z in enumerate(flint.acb.zeta_zeros(n, 2)):
            f.write(f"{n + i} {z.imag.mid().str(30, radius=False)}\n")

with open("height_counts_reference.txt", "w") as f:
    f.write(f"# t N(t) S(t) Z(t): N by Arb zeta_nzeros (python-flint {flint.__version__}), "
            "S = N - theta/pi - 1 and Z by mpmath at 40 digits (make_height_reference.py)\n")
    for t in COUNT_T:
        n = int(flint.arb(t).zeta_nzeros().unique_fmpz())
        s = n - siegeltheta(mpf(t)) / pi - 1
        f.write(f"{t} {n} {mp.nstr(s, 25)} {mp.nstr(siegelz(mpf(t)), 25)}\n")
