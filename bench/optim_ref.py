#!/usr/bin/env python3
"""PyTorch reference for `spectral bench optim`: the time of one optimizer step over the hidden
matrices of GPT-2 small, for the same six methods, shapes, settings, warm-up and timing rule.

    python3 bench/optim_ref.py [--device cuda|cpu] [--layers 12] [--width 768] [--steps 10]
                               [--warmup 3] [--methods muon,teon,...] [--json FILE]
                               [--matmul-precision highest|high] [--compile]
                               [--precision f32|bf16]

Shapes: 12 blocks of Q, K, V, O [768, 768], MLP fc [3072, 768] and proj [768, 3072]. This is
PyTorch's [out, in] layout, the transposes of the Rust benchmark's burn [d_in, d_out] weights;
every rule below is written for PyTorch's layout and is the same rule as the Rust one (msign
and the TEON stack commute with the transpose). Weights N(0, 0.02^2), gradients N(0, 0.01^2),
the same gradients cloned into every step, as in the Rust benchmark (same law, not the same
draws). Everything is float32: the Newton-Schulz iteration runs in f32 (muon.py and
torch.optim.Muon use bf16; the Rust one does not).

Methods (settings = the Rust defaults, `spectral_experiments::optim_bench::bench_config`):
  adamw          torch.optim.AdamW(foreach=True), lr 1e-3, betas (0.9, 0.95), eps 1e-8, wd 0.1
  muon           Nesterov momentum 0.95; NS5 (Keller Jordan's quintic, 5 steps) with the
                 same-shape matrices stacked and iterated as one batch (as the Rust msign_all);
                 update scaled by sqrt(max(1, out/in)), lr 0.02
  muon_looped    the same, one matrix at a time (as muon.py's optimizer loop does)
  teon           Q, K, V of layers (0,1), (2,3), ... stacked along the input dim ([768, 1536]),
                 NS5 jointly (batched by shape like muon), split, scaled by sqrt(2)*s; O, MLP alone
  spectra        top-k (k = round(0.015*768) = 12) spike shaping: warm-started two-sided subspace
                 iteration (1 pass, torch.linalg.qr on both sides, Rayleigh-Ritz by a k x k SVD),
                 sigma_tail = ||Z - U S V^T||_F / sqrt(r - k), O = Z_tail + sigma_tail U V^T,
                 RMS-normalized, times 0.2; lr 1e-3; cold start by a randomized SVD (warm-up)
  spectra_teon   spectra on the TEON stacks, the V cache owned by the stack
  manifold_muon  dual ascent on Lambda (Polar Express 8 steps per msign, at most 20 iterations,
                 tolerance 1e-3 on ||H||_F/n, alpha 0.1 decaying), retraction by Polar Express
                 then cubic Newton-Schulz to f32 precision, exactly as
                 crates/spectral/src/optim/manifold_muon.rs (host reads of the residuals included)
  muon_torch_bf16  torch.optim.Muon as shipped (bf16 Newton-Schulz, one matrix at a time), for
                 context only; not what the Rust code computes
With --compile: muon_compiled / muon_looped_compiled, the NS5 function under torch.compile.
With --precision bf16: the NS5 iteration of muon, muon_looped, teon (and the compiled ones)
runs in bfloat16, as Keller Jordan's muon.py does (the update is added to the f32 weights);
every other method is unchanged.

Timing: `warmup` untimed steps, then `steps` steps each between two device synchronizations;
median and min in milliseconds.
"""
import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time

import torch

NS5 = (3.4445, -4.7750, 2.0315)
NS_EPS = 1e-7
POLAR_EXPRESS = [
    (8.28721201814563, -23.595886519098837, 17.300387312530933),
    (4.107059111542203, -2.9478499167379106, 0.5448431082926601),
    (3.9486908534822946, -2.908902115962949, 0.5518191394370137),
    (3.3184196573706015, -2.488488024314874, 0.51004894012372),
    (2.300652019954817, -1.6689039845747493, 0.4188073119525673),
    (1.891301407787398, -1.2679958271945868, 0.37680408948524835),
    (1.8750014808534479, -1.2500016453999487, 0.3750001645474248),
    (1.875, -1.25, 0.375),
]
PE_SAFETY = 1.01
ALL_METHODS = ["adamw", "muon", "muon_looped", "teon", "spectra", "spectra_teon", "manifold_muon"]


# ---------------------------------------------------------------- matrix sign functions


def zeropower_via_newtonschulz5(G, steps=5, dtype=torch.float32):
    """Keller Jordan's muon.py NS5, in float32 by default (muon.py casts to bf16: `dtype`).
    Works on [m, n] or [batch, m, n]; iterates on the wide orientation so X X^T is the
    smaller Gram matrix; returns `dtype`.
    Its singular values come out in ~[0.68, 1.13], not at 1: the quintic maximises the slope
    at zero, so small singular values reach order one in 5 steps."""
    a, b, c = NS5
    X = G.to(dtype)
    tall = G.size(-2) > G.size(-1)
    if tall:
        X = X.mT
    X = X / (X.norm(dim=(-2, -1), keepdim=True) + NS_EPS)
    for _ in range(steps):
        A = X @ X.mT
        B = b * A + c * A @ A
        X = a * X + B @ X
    if tall:
        X = X.mT
    return X


def zeropower_via_newtonschulz5_bf16(G, steps=5):
    """NS5 in bfloat16, exactly muon.py's precision."""
    return zeropower_via_newtonschulz5(G, steps, torch.bfloat16)


def polar_express_coefficients(steps):
    last = len(POLAR_EXPRESS) - 1
    out = []
    for t in range(steps):
        a, b, c = POLAR_EXPRESS[min(t, last)]
        if t < last:
            a, b, c = a / PE_SAFETY, b / PE_SAFETY**3, c / PE_SAFETY**5
        out.append((a, b, c))
    return out


def polar_express(G, steps):
    """Polar Express (Amsel et al. 2025) with the safety factor, as linalg::newton_schulz."""
    X = G
    tall = G.size(-2) > G.size(-1)
    if tall:
        X = X.mT
    X = X / (PE_SAFETY * X.norm(dim=(-2, -1), keepdim=True) + NS_EPS)
    for a, b, c in polar_express_coefficients(steps):
        A = X @ X.mT
        B = b * A + c * A @ A
        X = a * X + B @ X
    if tall:
        X = X.mT
    return X


def msign_all(matrices, ns):
    """ns of every matrix, the same-shape ones stacked into one batch (Rust's msign_all)."""
    out = [None] * len(matrices)
    by_shape = {}
    for i, m in enumerate(matrices):
        by_shape.setdefault(tuple(m.shape), []).append(i)
    for members in by_shape.values():
        if len(members) == 1:
            out[members[0]] = ns(matrices[members[0]])
            continue
        shaped = ns(torch.stack([matrices[i] for i in members]))
        for i, s in zip(members, shaped.unbind(0)):
            out[i] = s
    return out


# ---------------------------------------------------------------- the model's matrices


def make_problem(layers, width, device, seed=0):
    """Paths, weights [out, in] and gradients, in the Rust benchmark's order."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    names, weights, grads = [], [], []
    for i in range(layers):
        shapes = [("attn.q", width, width), ("attn.k", width, width), ("attn.v", width, width),
                  ("attn.o", width, width), ("mlp.fc", 4 * width, width), ("mlp.proj", width, 4 * width)]
        for name, out_dim, in_dim in shapes:
            names.append(f"blocks.{i}.{name}.weight")
            weights.append((torch.randn(out_dim, in_dim, generator=gen) * 0.02).to(device))
            grads.append((torch.randn(out_dim, in_dim, generator=gen) * 0.01).to(device))
    return names, weights, grads


def teon_groups(names, k=2):
    """Stacks of K adjacent layers' Q (then K, then V), in layer order; every other matrix alone."""
    groups, taken = [], set()
    for target in ["attn.q", "attn.k", "attn.v"]:
        members = [i for i, n in enumerate(names) if n.endswith(f".{target}.weight")]
        members.sort(key=lambda i: int(names[i].split(".")[1]))
        for start in range(0, len(members), k):
            groups.append(members[start:start + k])
            taken.update(members[start:start + k])
    groups += [[i] for i in range(len(names)) if i not in taken]
    return groups


def keller_jordan_scale(w):
    """sqrt(max(1, out/in)) for a PyTorch [out, in] weight."""
    return math.sqrt(max(1.0, w.size(0) / w.size(1)))


class Momentum:
    """B <- mu B + G, D = G + mu B (Nesterov): the Rust momentum_direction."""

    def __init__(self, mu=0.95):
        self.mu, self.buffers = mu, {}

    def direction(self, i, g):
        buf = self.buffers.get(i)
        buf = g.clone() if buf is None else buf.mul_(self.mu).add_(g)
        self.buffers[i] = buf
        return g.add(buf, alpha=self.mu)


# ---------------------------------------------------------------- methods


class Muon:
    def __init__(self, names, weights, batched=True, ns=zeropower_via_newtonschulz5, lr=0.02):
        self.weights, self.batched, self.ns, self.lr = weights, batched, ns, lr
        self.momentum = Momentum()

    def step(self, grads):
        dirs = [self.momentum.direction(i, g) for i, g in enumerate(grads)]
        if self.batched:
            updates = msign_all(dirs, self.ns)
        else:
            updates = [self.ns(d) for d in dirs]
        for w, u in zip(self.weights, updates):
            w.add_(u, alpha=-self.lr * keller_jordan_scale(w))


class Teon:
    def __init__(self, names, weights, lr=0.02, ns=zeropower_via_newtonschulz5):
        self.weights, self.lr, self.ns = weights, lr, ns
        self.groups = teon_groups(names)
        self.momentum = Momentum()

    def step(self, grads):
        stacks = []
        for group in self.groups:
            parts = [self.momentum.direction(i, grads[i]) for i in group]
            stacks.append(torch.cat(parts, dim=1))  # [out, K*in]: mode-1
        shaped = msign_all(stacks, self.ns)
        for group, o in zip(self.groups, shaped):
            k = len(group)
            for i, part in zip(group, o.chunk(k, dim=1)):
                w = self.weights[i]
                w.add_(part, alpha=-self.lr * math.sqrt(k) * keller_jordan_scale(w))


def orth(x):
    return torch.linalg.qr(x, mode="reduced").Q


def topk_svd(a, v0, n_iter):
    """Two-sided subspace iteration from v0 [n, k], then Rayleigh-Ritz (linalg::topk_svd)."""
    v = orth(v0)
    for _ in range(max(n_iter, 1)):
        u = orth(a @ v)
        w = a.mT @ u
        v = orth(w)
    b = w.mT @ v  # [k, k] = U^T A V
    p, s, qh = torch.linalg.svd(b)
    return u @ p, s, v @ qh.mT


def spectra_shape(z, rank_ratio, n_iter, v_cache, gen):
    m, n = z.shape
    r = min(m, n)
    k = min(max(1, int(math.floor(rank_ratio * r + 0.5))), r)
    if v_cache is not None and tuple(v_cache.shape) == (n, k):
        u, s, v = topk_svd(z, v_cache, n_iter)
    else:  # cold start: randomized SVD, oversampling 8, n_iter power iterations
        omega = torch.randn(n, min(k + 8, r), generator=gen).to(z.device)
        u, s, v = topk_svd(z, omega, n_iter + 1)
        u, s, v = u[:, :k], s[:k], v[:, :k]
    tail = z - (u * s) @ v.mT
    sigma_tail = (tail.square().sum() / max(r - k, 1)).sqrt()
    return tail + (u * sigma_tail) @ v.mT, v


class Spectra:
    def __init__(self, names, weights, stacked=False, lr=1e-3, rank_ratio=0.015, n_iter=1,
                 rms_target=0.2):
        self.weights, self.lr = weights, lr
        self.rank_ratio, self.n_iter, self.rms_target = rank_ratio, n_iter, rms_target
        self.groups = teon_groups(names) if stacked else [[i] for i in range(len(names))]
        self.momentum = Momentum()
        self.cache = {}
        self.gen = torch.Generator(device="cpu").manual_seed(0x5BEC7A)

    def step(self, grads):
        for gi, group in enumerate(self.groups):
            parts = [self.momentum.direction(i, grads[i]) for i in group]
            z = parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)
            o, v = spectra_shape(z, self.rank_ratio, self.n_iter, self.cache.get(gi), self.gen)
            self.cache[gi] = v
            o = o / (o.square().mean().sqrt() + 1e-12)
            for i, part in zip(group, o.chunk(len(group), dim=1)):
                self.weights[i].add_(part, alpha=-self.lr * self.rms_target)


def retract(x):
    """Nearest semi-orthogonal matrix (optim::manifold_muon::retract), any orientation."""
    if x.size(0) < x.size(1):
        return retract(x.mT).mT
    n = x.size(1)
    eye = torch.eye(n, device=x.device)

    def deviation(y):
        return (y.mT @ y - eye).abs().max().item()

    error = deviation(x)
    if error > 0.25:
        x = polar_express(x, 10)
        error = deviation(x)
    for _ in range(8):
        if error < 2e-7 * math.sqrt(n):
            break
        nxt = 1.5 * x - 0.5 * (x @ (x.mT @ x))
        e = deviation(nxt)
        if e >= error:
            break
        x, error = nxt, e
    return x


class ManifoldMuon:
    def __init__(self, names, weights, lr=0.02, dual_lr=0.1, max_dual_steps=20, tol=1e-3):
        self.weights, self.lr = weights, lr
        self.dual_lr, self.max_dual_steps, self.tol = dual_lr, max_dual_steps, tol
        self.momentum = Momentum()
        self.lambdas = {}
        self.dual_steps = []

    def step(self, grads):
        for i, g in enumerate(grads):
            d = self.momentum.direction(i, g)
            w = self.weights[i]
            wide = w.size(0) < w.size(1)
            W, G = (w.mT, d.mT) if wide else (w, d)  # tall [m, n]
            n = W.size(1)
            G = G / (G.square().sum().sqrt() + 1e-30)
            lam = self.lambdas.get(i)
            if lam is None:
                wtg = W.mT @ G
                lam = -0.25 * (wtg + wtg.mT)
            a = polar_express(G + 2.0 * (W @ lam), 8)
            steps = 0
            for j in range(self.max_dual_steps):
                wta = W.mT @ a
                h = wta + wta.mT
                residual = h.square().sum().sqrt().item() / n
                if residual < self.tol:
                    break
                lam = lam - self.dual_lr * (1.0 - j / self.max_dual_steps) * h
                a = polar_express(G + 2.0 * (W @ lam), 8)
                steps = j + 1
            self.lambdas[i] = lam
            self.dual_steps.append(steps)
            new = retract(W - self.lr * a)
            w.copy_(new.mT if wide else new)


class AdamW:
    def __init__(self, names, weights, lr=1e-3):
        self.params = [torch.nn.Parameter(w) for w in weights]
        self.opt = torch.optim.AdamW(self.params, lr=lr, betas=(0.9, 0.95), eps=1e-8,
                                     weight_decay=0.1, foreach=True)

    def step(self, grads):
        for p, g in zip(self.params, grads):
            p.grad = g
        self.opt.step()


class TorchMuonBf16:
    def __init__(self, names, weights, lr=0.02):
        self.params = [torch.nn.Parameter(w) for w in weights]
        self.opt = torch.optim.Muon(self.params, lr=lr, weight_decay=0.0, momentum=0.95,
                                    nesterov=True)

    def step(self, grads):
        for p, g in zip(self.params, grads):
            p.grad = g
        self.opt.step()


def build(method, names, weights, compiled_ns=None, ns=zeropower_via_newtonschulz5):
    if method == "adamw":
        return AdamW(names, weights)
    if method == "muon":
        return Muon(names, weights, batched=True, ns=ns)
    if method == "muon_looped":
        return Muon(names, weights, batched=False, ns=ns)
    if method == "muon_compiled":
        return Muon(names, weights, batched=True, ns=compiled_ns)
    if method == "muon_looped_compiled":
        return Muon(names, weights, batched=False, ns=compiled_ns)
    if method == "teon":
        return Teon(names, weights, ns=ns)
    if method == "spectra":
        return Spectra(names, weights)
    if method == "spectra_teon":
        return Spectra(names, weights, stacked=True)
    if method == "manifold_muon":
        return ManifoldMuon(names, weights)
    if method == "muon_torch_bf16":
        return TorchMuonBf16(names, weights)
    raise SystemExit(f"unknown method {method!r}; expected one of {', '.join(ALL_METHODS)}")


# ---------------------------------------------------------------- timing


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_method(method, args, device):
    names, weights, grads = make_problem(args.layers, args.width, device)
    start = [w.clone() for w in weights]
    # A fresh compiled function per method: one graph per shape, no dynamic-shape recompiles.
    ns = zeropower_via_newtonschulz5_bf16 if args.precision == "bf16" else zeropower_via_newtonschulz5
    compiled_ns = None
    if "compiled" in method:
        compiled_ns = torch.compile(ns, dynamic=False)
    opt = build(method, names, weights, compiled_ns, ns)
    times = []
    with torch.no_grad():
        for step in range(args.warmup + args.steps):
            step_grads = [g.clone() for g in grads]  # fresh gradients, as the Rust bench
            sync(device)
            t0 = time.perf_counter()
            opt.step(step_grads)
            sync(device)
            if step >= args.warmup:
                times.append((time.perf_counter() - t0) * 1e3)
        moved = sum((w - s).square().sum().item() for w, s in zip(weights, start))
        norm = sum(s.square().sum().item() for s in start)
    result = {
        "method": method,
        "median_ms": statistics.median(times),
        "min_ms": min(times),
        "times_ms": times,
        "warmup": args.warmup,
        "matrices": len(weights),
        "parameters": sum(w.numel() for w in weights),
        "weight_change": math.sqrt(moved / norm),
    }
    if isinstance(opt, ManifoldMuon):
        result["mean_dual_steps"] = statistics.fmean(opt.dual_steps)
    return result


def check_ns5_batched_equals_looped(device, tolerance):
    """The batched NS5 is the same function as the one-at-a-time one (to f32 rounding, or to
    TF32's ~1e-3 when TF32 matmuls are on)."""
    gen = torch.Generator(device="cpu").manual_seed(1)
    xs = [torch.randn(24, 40, generator=gen).to(device) for _ in range(3)]
    batched = msign_all(xs, zeropower_via_newtonschulz5)
    for x, b in zip(xs, batched):
        err = (zeropower_via_newtonschulz5(x) - b).abs().max().item()
        assert err < tolerance, err


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--methods", default=",".join(ALL_METHODS + ["muon_torch_bf16"]))
    parser.add_argument("--json")
    parser.add_argument("--matmul-precision", default="highest", choices=["highest", "high"],
                        help="torch.set_float32_matmul_precision: highest = true f32 (PyTorch's "
                             "default), high = TF32 tensor cores for f32 matmuls")
    parser.add_argument("--compile", action="store_true",
                        help="also time Muon with the NS5 function under torch.compile")
    parser.add_argument("--precision", default="f32", choices=["f32", "bf16"],
                        help="dtype of the NS5 iteration (muon, teon): f32, or bf16 as muon.py")
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.set_float32_matmul_precision(args.matmul_precision)
    check_ns5_batched_equals_looped(device, 1e-4 if args.matmul_precision == "highest" else 1e-2)
    methods = [m for m in args.methods.split(",") if m]
    if "muon_torch_bf16" in methods and not hasattr(torch.optim, "Muon"):
        print("optim_ref: torch.optim.Muon not in this PyTorch; skipping muon_torch_bf16",
              file=sys.stderr)
        methods.remove("muon_torch_bf16")
    if args.compile:
        methods += ["muon_compiled", "muon_looped_compiled"]
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    label = f"{device}" + (f" ({gpu})" if gpu else "")
    results = []
    for method in methods:
        print(f"optim_ref: {method} on {label}, {args.warmup} warmup + {args.steps} timed steps ...",
              file=sys.stderr, flush=True)
        try:
            r = time_method(method, args, device)
        except Exception as error:  # torch.compile may fail on some set-ups
            if "compiled" not in method:
                raise
            print(f"optim_ref: {method} failed: {error}", file=sys.stderr)
            continue
        print(f"optim_ref: {method} median {r['median_ms']:.2f} ms/step", file=sys.stderr, flush=True)
        results.append(r)
    device_name = f"torch-{device}-{args.matmul_precision}-ns5-{args.precision}"
    print(f"{'method':<22} {'median ms':>12} {'min ms':>12} {'parameters':>12}  device")
    for r in results:
        print(f"{r['method']:<22} {r['median_ms']:>12.3f} {r['min_ms']:>12.3f} "
              f"{r['parameters']:>12}  {device_name}")
    if args.json:
        report = {
            "device": str(device),
            "gpu": gpu,
            "torch": torch.__version__,
            "matmul_precision": args.matmul_precision,
            "precision": args.precision,
            "threads": torch.get_num_threads(),
            "options": {"layers": args.layers, "width": args.width, "steps": args.steps,
                        "warmup": args.warmup},
            "results": results,
        }
        folder = os.path.dirname(os.path.abspath(args.json))
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".partial") as f:
            json.dump(report, f, indent=2)
        os.replace(f.name, args.json)
        print(f"optim_ref: wrote {args.json}", file=sys.stderr)


if __name__ == "__main__":
    main()
