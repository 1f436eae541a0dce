#!/usr/bin/env python3
"""Does bf16 autocast cost the SpacingMDN validation loss? PyTorch trains train_ref.py's
SpacingMDN (with its memory bank) on real spacings with the recipe of
configs/gpu/engine_mdn.toml, once per precision, and logs the validation loss every
`--eval-interval` steps, evaluated both in the training precision and in f32.

    python3 bench/mdn_precision_ref.py --spacings runs/spacings_2m.f64 \
        [--precision tf32,bf16] [--steps 2000] [--seed 1337] [--json FILE]

The recipe (crates/train, as `spectral train --config configs/gpu/engine_mdn.toml` runs it):
batch 512 x T 255; the last 10 % of the spacings for validation; training windows drawn
uniformly from the starts whose targets stay in the training range (fresh draws each step,
torch's generator, not the Rust one); validation on the first 256 consecutive windows of the
validation range; Muon (lr 0.02) on the hidden matrices and AdamW (lr 3e-3, weight decay 0) on
the rest; gradient clip 1.0; linear warmup 100 steps then cosine to 0.1 of the lr at the last
step. Same initialisation rule, not the same initial weights as the Rust runs.

Precision: tf32 = f32 tensors, TF32 tensor cores for matmuls (what burn's CUDA path used in the
engine end-to-end runs), NS5 in f32; bf16 = torch.autocast bf16 forward with f32 master
weights, NS5 in bf16 (muon.py), as train_ref.py. `val_f32` evaluates the same weights without
autocast, so a gap in `val` that `val_f32` lacks is the bf16 forward's, not the weights'.

The spacings file is `spectral unfold`'s f64 format: a 32-byte header, then little-endian f64.
"""
import argparse
import contextlib
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import optim_ref  # noqa: E402
from train_ref import GRAD_CLIP, SpacingMdn, TrainOptimizer  # noqa: E402

HEADER_BYTES = 32


def load_spacings(path):
    values = np.fromfile(path, dtype="<f8", offset=HEADER_BYTES).astype(np.float32)
    assert values.size > 0 and np.isfinite(values).all() and (values > 0).all(), path
    return torch.from_numpy(values)


def lr_factor(step, warmup, total, floor):
    """spectral::optim::Schedule::factor for 0-based `step`."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def train(args, precision, values, device):
    torch.manual_seed(args.seed)
    torch.set_float32_matmul_precision("high")  # TF32 for what stays f32, in both modes
    n = values.numel()
    n_train = min(round((1.0 - args.val_fraction) * n), n)
    t = args.seq_len
    ar = torch.arange(t + 1)
    n_val_windows = min((n - n_train - 1) // t, args.eval_windows)
    val = values[n_train + t * torch.arange(n_val_windows)[:, None] + ar].to(device)
    values_dev = values.to(device)
    gen = torch.Generator(device=device).manual_seed(args.seed)

    model = SpacingMdn(args.layers, args.width, args.heads, t, "sdpa").to(device)
    ns = (optim_ref.zeropower_via_newtonschulz5_bf16 if precision == "bf16"
          else optim_ref.zeropower_via_newtonschulz5)
    opt = TrainOptimizer(model, "muon", ns, adamw_lr=args.adamw_lr, matrix_lr=args.lr,
                         weight_decay=0.0)
    base_lrs = [g["lr"] for g in opt.adamw.param_groups]
    autocast = ((lambda: torch.autocast(device.type, dtype=torch.bfloat16))
                if precision == "bf16" else contextlib.nullcontext)
    params = list(model.parameters())

    @torch.no_grad()
    def evaluate(ctx):
        model.eval()
        with ctx():
            loss = model(val[:, :-1], val[:, 1:]).item()
        model.train()
        return loss

    curve = []
    started = time.perf_counter()
    for step in range(args.steps):
        f = lr_factor(step, args.warmup, args.steps, args.min_factor)
        for g, lr in zip(opt.adamw.param_groups, base_lrs):
            g["lr"] = lr * f
        opt.muon.lr = args.lr * f
        starts = torch.randint(0, n_train - t, (args.batch_size,), generator=gen, device=device)
        w = values_dev[starts[:, None] + ar.to(device)]
        with autocast():
            loss = model(w[:, :-1], w[:, 1:])
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
        opt.step()
        opt.zero_grad()
        if (step + 1) % args.eval_interval == 0 or step + 1 == args.steps:
            row = {"step": step + 1, "train_loss": loss.item(), "grad_norm": grad_norm.item(),
                   "val": evaluate(autocast), "val_f32": evaluate(contextlib.nullcontext),
                   "seconds": round(time.perf_counter() - started, 1)}
            curve.append(row)
            print(json.dumps({"precision": precision, **row}), flush=True)
    return curve


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spacings", required=True)
    parser.add_argument("--precision", default="tf32,bf16")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--min-factor", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--seq-len", type=int, default=255)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--adamw-lr", type=float, default=3e-3)
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--eval-windows", type=int, default=256)
    parser.add_argument("--eval-interval", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--json")
    args = parser.parse_args()
    device = torch.device(args.device)
    values = load_spacings(args.spacings)
    out = {"args": vars(args), "torch": torch.__version__, "runs": {}}
    for precision in args.precision.split(","):
        assert precision in ("tf32", "bf16"), precision
        out["runs"][precision] = train(args, precision, values, device)
        if args.json:
            with open(args.json + ".tmp", "w") as f:
                json.dump(out, f, indent=1)
            os.replace(args.json + ".tmp", args.json)


if __name__ == "__main__":
    main()
