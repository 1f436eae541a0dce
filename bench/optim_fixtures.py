#!/usr/bin/env python3
"""Writes the optimizer fixtures of crates/spectral/tests/fixtures/optim/: three steps of every
matrix method, computed by PyTorch on the CPU in float32, which `crates/spectral/tests/
optim_fixtures.rs` replays with `SpectralOptimizer` and compares.

    python3 bench/optim_fixtures.py        # needs torch (2.11.0 made the checked-in files)

References:
  muon_original, muon_match_rms_adamw   torch.optim.Muon with adjust_lr_fn "original" (Keller
                 Jordan's sqrt(max(1, out/in))) and "match_rms_adamw" (Moonlight's
                 0.2 sqrt(max(out, in))), on a tall and a wide matrix. Its Newton-Schulz
                 iteration is replaced by the same function in float32 (torch casts it to bf16).
  adamw          torch.optim.AdamW: matrices with weight decay, biases in a group without.
  teon, spectra, spectra_teon, manifold_muon   direct transcriptions into PyTorch of the
                 methods as DESIGN.md and crates/spectral/src/optim describe them; the shared
                 numerical kernels (NS5, Polar Express, subspace iteration, retraction) are the
                 ones of bench/optim_ref.py.

Layout: PyTorch computes on [out, in] weights; the fixture stores every matrix in burn's
[d_in, d_out] layout (the transpose), row-major. Gradients are fixed draws (not a loss): the
optimizer only sees them. Each fixture holds the optimizer config as `spectral`'s own
OptimizerConfig (JSON of the TOML table), the state to load before the first step (Spectra's
warm-start V, burn layout), and per parameter its initial value, the three gradients and the
value after each step.
"""
import json
import math
import os
import pathlib
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from optim_ref import (  # noqa: E402
    NS5,
    polar_express,
    retract,
    topk_svd,
    zeropower_via_newtonschulz5,
)

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "crates/spectral/tests/fixtures/optim"
STEPS = 3
MATRIX_RULE = {"pattern": "layers.*.weight", "role": "matrix"}
BIAS_RULE = {"pattern": "layers.*.bias", "role": "bias"}


# ---------------------------------------------------------------- fixture writing


def burn(t):
    """A PyTorch tensor as burn's layout: matrices transposed to [d_in, d_out]."""
    t = t.detach().to(torch.float32)
    return t.T.contiguous() if t.ndim == 2 else t.contiguous()


def floats(t):
    """Row-major values with 9 significant digits (enough to round-trip an f32 exactly)."""
    return "[" + ",".join(f"{v:.9g}" for v in t.flatten().tolist()) + "]"


def write(name, reference, optimizer, params, state=None):
    """params: [(path, initial, grads, afters)], PyTorch tensors in PyTorch's layout."""
    lines = ["{", f'  "reference": {json.dumps(reference)},', f'  "optimizer": {json.dumps(optimizer)},']
    lines.append('  "state": {')
    entries = []
    for key, t in (state or {}).items():  # already in burn's layout
        t = t.contiguous()
        entries.append(f'    {json.dumps(key)}: {{"shape": {list(t.shape)}, "values": {floats(t)}}}')
    lines.append(",\n".join(entries))
    lines.append("  },")
    lines.append('  "params": [')
    entries = []
    for path, initial, grads, afters in params:
        shape = list(burn(initial).shape)
        grads = ",\n        ".join(floats(burn(g)) for g in grads)
        afters = ",\n        ".join(floats(burn(a)) for a in afters)
        entries.append(
            f'    {{"path": "{path}", "shape": {shape},\n      "initial": {floats(burn(initial))},\n'
            f'      "grads": [\n        {grads}],\n      "after": [\n        {afters}]}}'
        )
    lines.append(",\n".join(entries))
    lines.append("  ]")
    lines.append("}")
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text("\n".join(lines) + "\n")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size} bytes)")


def problem(shapes, seed, spike=0.0):
    """Weights N(0, 1/in) and three gradient draws N(0, 1) of each [out, in] shape; `spike`
    adds a rank-2 part whose singular values are about `spike` times the noise's largest,
    sqrt(out) + sqrt(in) (the spike directions Spectra is for)."""
    gen = torch.Generator().manual_seed(seed)
    weights, grads = [], []
    for out_dim, in_dim in shapes:
        weights.append(torch.randn(out_dim, in_dim, generator=gen) / math.sqrt(in_dim))
        draws = []
        for _ in range(STEPS):
            g = torch.randn(out_dim, in_dim, generator=gen)
            if spike:
                u = torch.randn(out_dim, 2, generator=gen)
                v = torch.randn(in_dim, 2, generator=gen)
                edge = math.sqrt(out_dim) + math.sqrt(in_dim)
                g = g + spike * edge * (u @ v.T) / math.sqrt(out_dim * in_dim)
            draws.append(g)
        grads.append(draws)
    return weights, grads


def run(weights, grads, step):
    """Steps clones of `weights` with `step(t, weights, grads_t)` (in place); returns the params
    as `write` takes them."""
    current = [w.clone() for w in weights]
    afters = [[] for _ in weights]
    for t in range(STEPS):
        step(t, current, [g[t] for g in grads])
        for i, w in enumerate(current):
            afters[i].append(w.clone())
    return [(f"layers.{i}.weight", w, g, a) for i, (w, g, a) in enumerate(zip(weights, grads, afters))]


class Momentum:
    """spectral's heavy-ball momentum: B <- mu B + G; the direction is G + mu B (Nesterov)."""

    def __init__(self, mu, nesterov=True):
        self.mu, self.nesterov, self.buffers = mu, nesterov, {}

    def direction(self, i, g):
        buf = self.buffers.get(i)
        buf = g.clone() if buf is None else buf * self.mu + g
        self.buffers[i] = buf
        return g + self.mu * buf if self.nesterov else buf


# ---------------------------------------------------------------- torch.optim.Muon, AdamW


def zeropower_f32(grad, ns_coefficients, ns_steps, eps):
    """torch.optim._muon._zeropower_via_newtonschulz without its bf16 cast (torch 2.11's body).
    It divides by max(||X||_F, eps) where spectral divides by ||X||_F + eps: a 1e-7/||X||_F
    relative difference."""
    a, b, c = ns_coefficients
    x = grad.float()
    if grad.size(0) > grad.size(1):
        x = x.T
    x = x / x.norm().clamp(min=eps)
    for _ in range(ns_steps):
        gram = x @ x.T
        gram_update = torch.addmm(gram, gram, gram, beta=b, alpha=c)
        x = torch.addmm(x, gram_update, x, beta=a)
    if grad.size(0) > grad.size(1):
        x = x.T
    return x


def muon_fixture(adjust_lr_fn, scaling):
    torch.optim._muon._zeropower_via_newtonschulz = zeropower_f32
    lr, mu, wd = 0.02, 0.95, 0.1
    # [out, in]: tall (out/in = 5/3, so "original" scales by sqrt(5/3)) and wide.
    weights, grads = problem([(20, 12), (12, 20)], seed=1)
    params = [torch.nn.Parameter(w.clone()) for w in weights]
    opt = torch.optim.Muon(params, lr=lr, weight_decay=wd, momentum=mu, nesterov=True,
                           ns_coefficients=NS5, ns_steps=5, adjust_lr_fn=adjust_lr_fn)

    def step(t, current, g):
        for p, gi in zip(params, g):
            p.grad = gi.clone()
        opt.step()
        for w, p in zip(current, params):
            w.copy_(p.detach())

    optimizer = {
        "method": "muon", "lr": lr, "rules": [MATRIX_RULE],
        "muon": {"momentum": mu, "nesterov": True, "weight_decay": wd, "scaling": scaling,
                 "msign": {"kind": "newton_schulz5", "steps": 5}},
    }
    reference = f"torch.optim.Muon(adjust_lr_fn={adjust_lr_fn!r}), torch {torch.__version__}, CPU, float32 Newton-Schulz"
    write(f"muon_{adjust_lr_fn}", reference, optimizer, run(weights, grads, step))


def adamw_fixture():
    lr, bias_lr, betas, eps, wd = 1e-2, 3e-3, (0.9, 0.95), 1e-8, 0.1
    weights, grads = problem([(20, 12), (12, 20)], seed=2)
    gen = torch.Generator().manual_seed(22)
    biases = [0.1 * torch.randn(w.size(0), generator=gen) for w in weights]
    bias_grads = [[torch.randn(w.size(0), generator=gen) for _ in range(STEPS)] for w in weights]
    wp = [torch.nn.Parameter(w.clone()) for w in weights]
    bp = [torch.nn.Parameter(b.clone()) for b in biases]
    opt = torch.optim.AdamW(
        [{"params": wp, "lr": lr, "weight_decay": wd}, {"params": bp, "lr": bias_lr, "weight_decay": 0.0}],
        betas=betas, eps=eps, foreach=False)
    afters = {id(p): [] for p in wp + bp}
    for t in range(STEPS):
        for p, g in zip(wp + bp, [g[t] for g in grads + bias_grads]):
            p.grad = g.clone()
        opt.step()
        for p in wp + bp:
            afters[id(p)].append(p.detach().clone())
    params = []
    for i in range(len(weights)):
        params.append((f"layers.{i}.weight", weights[i], grads[i], afters[id(wp[i])]))
        params.append((f"layers.{i}.bias", biases[i], bias_grads[i], afters[id(bp[i])]))
    optimizer = {
        "method": "adamw", "lr": lr, "rules": [MATRIX_RULE, BIAS_RULE],
        "adamw": {"lr": bias_lr, "beta1": betas[0], "beta2": betas[1], "eps": eps, "weight_decay": wd},
    }
    write("adamw", f"torch.optim.AdamW, torch {torch.__version__}, CPU, float32", optimizer, params)


# ---------------------------------------------------------------- transcriptions


def teon_fixture():
    """TEON (K = 2): the Nesterov momenta of layers 0 and 1 side by side, [out, 2 in] (mode-1),
    one NS5, split back, each block scaled by sqrt(K) sqrt(max(1, out/in)); layer 2 is the odd
    one out and steps as Muon."""
    lr, mu, wd, k = 0.02, 0.95, 0.1, 2
    weights, grads = problem([(16, 12)] * 3, seed=3)
    momentum = Momentum(mu)
    groups = [[0, 1], [2]]

    def step(t, current, g):
        for group in groups:
            z = torch.cat([momentum.direction(i, g[i]) for i in group], dim=1)  # [out, K in]
            o = zeropower_via_newtonschulz5(z)
            for i, part in zip(group, o.chunk(len(group), dim=1)):
                out_dim, in_dim = current[i].shape
                scale = math.sqrt(len(group)) * math.sqrt(max(1.0, out_dim / in_dim))
                current[i].mul_(1 - lr * wd).sub_(lr * scale * part)

    optimizer = {
        "method": "teon", "lr": lr, "rules": [MATRIX_RULE],
        "muon": {"momentum": mu, "nesterov": True, "weight_decay": wd, "scaling": "keller_jordan",
                 "msign": {"kind": "newton_schulz5", "steps": 5}},
        "teon": {"k": k, "targets": ["layers.*.weight"]},
    }
    write("teon", "PyTorch transcription of TEON (float32)", optimizer, run(weights, grads, step))


def spectra_rank(m, n, ratio):
    """k = max(1, round(ratio min(m, n))), round half away from zero (spectra_rank)."""
    r = min(m, n)
    return min(max(1, int(math.floor(ratio * r + 0.5))), r)


def spectra_shape(z, k, n_iter, v):
    """Spike shaping of z [m, n] (burn's layout, as spectral caches the right subspace of it):
    top-k by two-sided subspace iteration warm-started from v [n, k] (orthonormalized first),
    Rayleigh-Ritz; the top-k singular values replaced by the tail's RMS singular value."""
    r = min(z.shape)
    u, s, v = topk_svd(z, v, n_iter)
    tail = z - (u * s) @ v.T
    sigma_tail = (tail.square().sum() / max(r - k, 1)).sqrt()
    return tail + (u * sigma_tail) @ v.T, v


def spectra_fixture(stacked):
    """Spectra: (O, V) = spectra_shape(D, V_cache), W <- W (1 - lr wd) - lr rms_target O / RMS(O).
    SpectraTeon: the same on the TEON stack (layers 0, 1), the cache owned by the stack."""
    lr, mu, wd, ratio, n_iter, rms_target = 1e-2, 0.95, 0.1, 0.25, 1, 0.2
    shapes = [(16, 12)] * 3 if stacked else [(20, 12), (12, 20)]
    weights, grads = problem(shapes, seed=4 if stacked else 5, spike=3.0)
    groups = [[0, 1], [2]] if stacked else [[0], [1]]
    momentum = Momentum(mu)
    gen = torch.Generator().manual_seed(44)
    cache, state = {}, {}
    for gi, group in enumerate(groups):
        out_dim, in_dim = weights[group[0]].shape
        m = len(group) * in_dim  # burn's stack [K d_in, d_out]
        k = spectra_rank(m, out_dim, ratio)
        v0 = torch.randn(out_dim, k, generator=gen)  # [n, k] = [d_out, k], burn's right side
        cache[gi] = v0
        key = "+".join(f"layers.{i}.weight" for i in group)
        state[f"v_cache/{key}"] = v0

    def step(t, current, g):
        for gi, group in enumerate(groups):
            z = torch.cat([momentum.direction(i, g[i]).T for i in group], dim=0)  # [K d_in, d_out]
            k = cache[gi].shape[1]
            o, cache[gi] = spectra_shape(z, k, n_iter, cache[gi])
            o = o / (o.square().mean().sqrt() + 1e-12)
            for i, part in zip(group, o.chunk(len(group), dim=0)):
                current[i].mul_(1 - lr * wd).sub_(lr * rms_target * part.T)

    method = "spectra_teon" if stacked else "spectra"
    optimizer = {
        "method": method, "lr": lr, "rules": [MATRIX_RULE],
        "spectra": {"rank_ratio": ratio, "n_iter": n_iter, "momentum": mu, "nesterov": True,
                    "weight_decay": wd, "rms_target": rms_target},
    }
    if stacked:
        optimizer["teon"] = {"k": 2, "targets": ["layers.*.weight"]}
    reference = f"PyTorch transcription of {method} (float32; subspace iteration warm-started from the state's V)"
    write(method, reference, optimizer, run(weights, grads, step), state)


def manifold_muon_fixture():
    """Manifold Muon on burn's tall orientation of each weight: G normalized, dual ascent on
    Lambda (warm-started across steps), then W <- retract(W - lr A)."""
    lr, mu, dual_lr, max_dual, tol, pe_steps = 0.05, 0.95, 0.1, 20, 1e-3, 8
    shapes = [(20, 12), (12, 20)]
    gen = torch.Generator().manual_seed(6)
    weights = []
    for o, i in shapes:  # on the Stiefel manifold: orthonormal columns of the tall orientation
        q = torch.linalg.qr(torch.randn(max(o, i), min(o, i), generator=gen)).Q
        weights.append(q if o >= i else q.T)
    _, grads = problem(shapes, seed=7)
    momentum = Momentum(mu)
    lambdas = {}

    def step(t, current, g):
        for i, w in enumerate(current):
            d = momentum.direction(i, g[i])
            wb, db = w.T, d.T  # burn's [d_in, d_out]
            wide = wb.size(0) < wb.size(1)
            W, G = (wb.T, db.T) if wide else (wb, db)  # tall [m, n]
            n = W.size(1)
            G = G / (G.square().sum().sqrt() + 1e-30)
            lam = lambdas.get(i)
            if lam is None:
                wtg = W.T @ G
                lam = -0.25 * (wtg + wtg.T)
            a = polar_express(G + 2.0 * (W @ lam), pe_steps)
            residuals = []
            for j in range(max_dual):
                wta = W.T @ a
                h = wta + wta.T
                residual = h.square().sum().sqrt().item() / n
                residuals.append(residual)
                if residual < tol:
                    break
                lam = lam - dual_lr * (1.0 - j / max_dual) * h
                a = polar_express(G + 2.0 * (W @ lam), pe_steps)
            lambdas[i] = lam
            # A stopping decision near the tolerance could go the other way in f32 elsewhere.
            margin = min(abs(r - tol) / tol for r in residuals)
            print(f"  manifold_muon step {t} layer {i}: {len(residuals)} residuals, last "
                  f"{residuals[-1]:.3e}, closest to the tolerance {margin:.1%} away")
            new = retract(W - lr * a)
            wb_new = new.T if wide else new
            w.copy_(wb_new.T)

    optimizer = {
        "method": "manifold_muon", "lr": lr, "rules": [MATRIX_RULE],
        "manifold_muon": {"momentum": mu, "nesterov": True, "dual_lr": dual_lr,
                          "max_dual_steps": max_dual, "tolerance": tol,
                          "msign": {"kind": "polar_express", "steps": pe_steps}},
    }
    write("manifold_muon", "PyTorch transcription of Manifold Muon (float32)", optimizer,
          run(weights, grads, step))


def main():
    torch.set_default_dtype(torch.float32)
    muon_fixture("original", "keller_jordan")
    muon_fixture("match_rms_adamw", "moonlight")
    adamw_fixture()
    teon_fixture()
    spectra_fixture(stacked=False)
    spectra_fixture(stacked=True)
    manifold_muon_fixture()


if __name__ == "__main__":
    main()
