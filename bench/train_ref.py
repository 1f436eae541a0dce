#!/usr/bin/env python3
"""PyTorch reference for `spectral bench train`: training steps per second, tokens per second
and peak GPU memory of the same two models, the same batches and the same training step.

    python3 bench/train_ref.py [--model mdn|gpt] [--device cuda|cpu] [--batch-size B]
                               [--seq-len T] [--steps 10] [--warmup 3]
                               [--precision f32|tf32|bf16] [--compile]
                               [--optimizer muon|adamw] [--attention sdpa|manual]
                               [--layers L --width C --heads H]   (tiny runs; defaults below)
                               [--json FILE]

Models (PyTorch [out, in] Linear layout; the math of crates/models, parameter for parameter):
  mdn  SpacingMDN with its memory bank (crates/models/src/spacing_mdn.rs, memory.rs, block.rs,
       attention.rs, mdn.rs): 6 pre-norm blocks, width 256, 8 heads, separate q/k/v/o Linears
       with biases, interleaved-pair RoPE (burn's RotaryEncoding: pair (x[2i], x[2i+1]) rotated
       by p * 10000^(-2i/D)) over the M + T positions, GELU (erf) MLP 4C, LayerNorm eps 1e-5;
       input_proj Linear 1 -> C; M = 8 slot tokens (slots + slot-ID embeddings) prepended;
       ln_f; the data positions go to the mixture head Linear C -> 3K (K = 8): log pi =
       log_softmax, mu, sigma = softplus + 1e-3; loss = mean mixture NLL of the next spacing.
       Defaults (T = 255): 4,749,848 parameters.
  gpt  char-GPT of GPT-2 small's shape (crates/models/src/gpt.rs with 12 layers, 768 wide,
       12 heads): byte vocabulary 256, learned positions (context = seq_len = 256), the same
       blocks without RoPE, ln_f, head tied to the token embedding; loss = cross-entropy.
       85,449,216 parameters.
Both counts are asserted against the Rust closed forms (`param_count` in those files).

Attention: `sdpa` (default) is torch's scaled_dot_product_attention with is_causal=True (what
nanoGPT uses; flash or memory-efficient kernels where the dtype allows); `manual` is the Rust
computation (scores, additive causal mask, softmax, matmul).

Training step (crates/train/src/trainer.rs): forward, backward, clip_grad_norm_(1.0), then the
optimizer: `muon` = Muon on the hidden matrices (blocks.*.attn.*.weight, blocks.*.mlp.*.weight:
optim_ref.Muon, Nesterov 0.95, NS5 with same-shape matrices batched, lr 0.02, scale
sqrt(max(1, out/in))) and AdamW (betas 0.9/0.95, eps 1e-8, lr 1e-3, weight decay 0.1 on
tensors of rank >= 2, 0 otherwise) on everything else; `adamw` = AdamW on everything, the
matrices at lr 0.02 (the Rust rule: a matrix keeps the main lr). Groups come from the Rust
rules (spectral::optim::groups::transformer_rules) applied to burn's names of the parameters.

Precision: f32 = true f32 matmuls (allow_tf32 off, PyTorch's default:
torch.set_float32_matmul_precision("highest")); tf32 = ("high") TF32 tensor
cores for f32 matmuls (what burn's CUDA matmul does with f32 inputs); bf16 = torch.autocast
bf16 forward with f32 master weights (TF32 on for what stays f32) and NS5 in bf16, as
muon.py. --compile wraps the model (forward + loss) in torch.compile; a failure is reported
in the JSON and the exit status.

Timing: `warmup` untimed steps; then the peak-memory counters are reset and `steps` steps run
between two device synchronizations. tokens/s = batch x seq_len x steps/s (targets, as the
Rust benchmark counts them). Peak memory: torch.cuda.max_memory_allocated and
max_memory_reserved over the timed steps (burn reports its pools' reservation, comparable to
the second).
"""
import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import optim_ref  # noqa: E402  (Muon and NS5: the same code as the optimizer benchmark)

LN_SQRT_2PI = 0.9189385332046727
SIGMA_FLOOR = 1e-3
INIT_STD = 0.02
GRAD_CLIP = 1.0
SHAKESPEARE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                           "shakespeare", "input.txt")

DEFAULTS = {  # model: (layers, width, heads, batch, seq_len)
    "mdn": (6, 256, 8, 512, 255),
    "gpt": (12, 768, 12, 64, 256),
}
MDN_COMPONENTS, MDN_SLOTS, GPT_VOCAB = 8, 8, 256
# The Rust counts at the defaults (crates/models: spacing_mdn.rs, and gpt.rs's formula at 12 x 768).
RUST_DEFAULT_COUNTS = {"mdn": 4_749_848, "gpt": 85_449_216}


# ---------------------------------------------------------------- closed-form counts (Rust)


def rust_mdn_param_count(c, layers, k=MDN_COMPONENTS, m=MDN_SLOTS):
    """SpacingMdnConfig::param_count with biases, RoPE, memory (slots + slot IDs, no readouts)."""
    linear = lambda d_in, d_out: d_in * d_out + d_out  # noqa: E731
    block = 4 * linear(c, c) + linear(c, 4 * c) + linear(4 * c, c) + 2 * 2 * c
    return linear(1, c) + 2 * m * c + layers * block + 2 * c + linear(c, 3 * k)


def rust_gpt_param_count(c, layers, block_size, v=GPT_VOCAB):
    """GptConfig::param_count with biases, learned positions, tied head."""
    linear = lambda d_in, d_out: d_in * d_out + d_out  # noqa: E731
    block = 4 * linear(c, c) + linear(c, 4 * c) + linear(4 * c, c) + 2 * 2 * c
    return v * c + block_size * c + layers * block + 2 * c


# ---------------------------------------------------------------- layers


def linear(d_in, d_out, std=INIT_STD, bias=True):
    """nn.Linear [out, in] with N(0, std^2) weights and zero bias (spectral_models::gpt2_init::linear)."""
    layer = nn.Linear(d_in, d_out, bias=bias)
    nn.init.normal_(layer.weight, 0.0, std)
    if bias:
        nn.init.zeros_(layer.bias)
    return layer


class Rope(nn.Module):
    """burn's RotaryEncoding over head width d for positions 0..max_len: channel pairs
    (x[2i], x[2i+1]) rotated by angle p * theta^(-2i/d). Tables are buffers, not parameters."""

    def __init__(self, max_len, d, theta=10000.0):
        super().__init__()
        freq = theta ** (-torch.arange(0, d, 2, dtype=torch.float32) / d)  # [d/2]
        angle = torch.arange(max_len, dtype=torch.float32)[:, None] * freq  # [max_len, d/2]
        self.register_buffer("cos", angle.cos(), persistent=False)
        self.register_buffer("sin", angle.sin(), persistent=False)

    def forward(self, x):  # [B, H, T, D]
        t = x.size(-2)
        cos, sin = self.cos[:t].to(x.dtype), self.sin[:t].to(x.dtype)  # [T, D/2]
        x0, x1 = x.unflatten(-1, (-1, 2)).unbind(-1)  # each [B, H, T, D/2]
        return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Attention(nn.Module):
    def __init__(self, c, n_head, residual_std, rope_positions, attention):
        super().__init__()
        self.q, self.k, self.v = linear(c, c), linear(c, c), linear(c, c)
        self.o = linear(c, c, residual_std)
        self.n_head, self.attention = n_head, attention
        self.rope = Rope(rope_positions, c // n_head) if rope_positions else None

    def forward(self, x):  # [B, T, C]
        b, t, c = x.shape
        heads = lambda y: y.view(b, t, self.n_head, c // self.n_head).transpose(1, 2)  # noqa: E731
        q, k, v = heads(self.q(x)), heads(self.k(x)), heads(self.v(x))  # [B, H, T, D]
        if self.rope is not None:
            q, k = self.rope(q), self.rope(k)
        if self.attention == "sdpa":
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # [B, H, T, T]
            mask = torch.full((t, t), float("-inf"), device=x.device).triu(1)
            y = torch.softmax(scores + mask, dim=-1) @ v
        return self.o(y.transpose(1, 2).reshape(b, t, c))


class Mlp(nn.Module):
    def __init__(self, c, residual_std):
        super().__init__()
        self.fc, self.proj = linear(c, 4 * c), linear(4 * c, c, residual_std)

    def forward(self, x):
        return self.proj(F.gelu(self.fc(x)))


class Block(nn.Module):
    def __init__(self, c, n_head, n_layer, rope_positions, attention):
        super().__init__()
        residual_std = INIT_STD / math.sqrt(2 * n_layer)
        self.ln1 = nn.LayerNorm(c, eps=1e-5)
        self.attn = Attention(c, n_head, residual_std, rope_positions, attention)
        self.ln2 = nn.LayerNorm(c, eps=1e-5)
        self.mlp = Mlp(c, residual_std)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


# ---------------------------------------------------------------- models


class Memory(nn.Module):
    """M slot tokens: slots [M, C] + slot-ID embeddings [M, C], N(0, 0.02^2)."""

    def __init__(self, m, c):
        super().__init__()
        self.slots = nn.Parameter(torch.randn(m, c) * INIT_STD)
        self.slot_id = nn.Embedding(m, c)
        nn.init.normal_(self.slot_id.weight, 0.0, INIT_STD)

    def prefix(self, batch):  # [B, M, C]
        tokens = self.slots + self.slot_id.weight
        return tokens.unsqueeze(0).expand(batch, -1, -1)


class MixtureHead(nn.Module):
    def __init__(self, c, k):
        super().__init__()
        self.linear = linear(c, 3 * k)

    def forward(self, h):  # [B, T, C] -> log pi, mu, sigma each [B, T, K]
        logits, mu, r = self.linear(h).chunk(3, dim=-1)
        return F.log_softmax(logits, dim=-1), mu, F.softplus(r) + SIGMA_FLOOR


def mixture_nll(log_pi, mu, sigma, y):
    """Mean NLL (nats) of y [B, T] under the mixtures (models::mdn::mixture_nll)."""
    z = (y.unsqueeze(-1) - mu) / sigma
    log_normal = -0.5 * z.square() - sigma.log() - LN_SQRT_2PI
    return -torch.logsumexp(log_pi + log_normal, dim=-1).mean()


class SpacingMdn(nn.Module):
    def __init__(self, layers, c, n_head, seq_len, attention, k=MDN_COMPONENTS, m=MDN_SLOTS):
        super().__init__()
        self.memory = Memory(m, c)
        self.input_proj = linear(1, c)
        self.blocks = nn.ModuleList(
            Block(c, n_head, layers, seq_len + m, attention) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c, eps=1e-5)
        self.mdn_head = MixtureHead(c, k)

    def forward(self, x, y):  # spacings x, next spacings y: [B, T] -> mean NLL
        b, t = x.shape
        h = torch.cat([self.memory.prefix(b), self.input_proj(x.unsqueeze(-1))], dim=1)
        for block in self.blocks:
            h = block(h)  # [B, M+T, C]
        h = self.ln_f(h)[:, -t:]  # the data positions [B, T, C]
        log_pi, mu, sigma = self.mdn_head(h)
        return mixture_nll(log_pi.float(), mu.float(), sigma.float(), y)


class Gpt(nn.Module):
    def __init__(self, layers, c, n_head, block_size, attention, v=GPT_VOCAB):
        super().__init__()
        self.tok_emb = nn.Embedding(v, c)
        self.pos_emb = nn.Embedding(block_size, c)
        nn.init.normal_(self.tok_emb.weight, 0.0, INIT_STD)
        nn.init.normal_(self.pos_emb.weight, 0.0, INIT_STD)
        self.blocks = nn.ModuleList(
            Block(c, n_head, layers, None, attention) for _ in range(layers))
        self.ln_f = nn.LayerNorm(c, eps=1e-5)

    def forward(self, idx, targets):  # byte ids [B, T] -> mean cross-entropy
        t = idx.size(1)
        h = self.tok_emb(idx) + self.pos_emb.weight[:t]
        for block in self.blocks:
            h = block(h)
        logits = F.linear(self.ln_f(h), self.tok_emb.weight)  # tied head, [B, T, V]
        return F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())


# ---------------------------------------------------------------- parameter groups


def burn_name(model, name):
    """The burn path of a PyTorch parameter: LayerNorm weight/bias are burn's gamma/beta."""
    module_path, _, leaf = name.rpartition(".")
    if isinstance(model.get_submodule(module_path), nn.LayerNorm):
        leaf = {"weight": "gamma", "bias": "beta"}[leaf]
    return f"{module_path}.{leaf}" if module_path else leaf


# spectral::optim::groups::transformer_rules, in order; the first match wins.
TRANSFORMER_RULES = [
    ("blocks.*.attn.*.weight", "matrix"), ("blocks.*.mlp.*.weight", "matrix"),
    ("memory.**", "memory"), ("**.bias", "bias"), ("**.gamma", "norm"), ("**.beta", "norm"),
    ("tok_emb.**", "embedding"), ("pos_emb.**", "embedding"), ("input_proj.**", "embedding"),
    ("lm_head.**", "head"), ("mdn_head.**", "head"),
]


def glob_matches(pattern, path):
    """Dotted glob (spectral::optim::pattern): `*` one segment, `**` any number of them."""
    def go(p, s):
        if not p:
            return not s
        if p[0] == "**":
            return any(go(p[1:], s[i:]) for i in range(len(s) + 1))
        return bool(s) and (p[0] == "*" or p[0] == s[0]) and go(p[1:], s[1:])
    return go(pattern.split("."), path.split("."))


def roles(model):
    """(burn name, role, parameter) of every parameter, by TRANSFORMER_RULES."""
    out = []
    for name, p in model.named_parameters():
        path = burn_name(model, name)
        role = next((r for pat, r in TRANSFORMER_RULES if glob_matches(pat, path)), None)
        assert role is not None, f"no rule for {path}"
        assert role != "matrix" or p.dim() == 2, path
        out.append((path, role, p))
    return out


class TrainOptimizer:
    """Muon (optim_ref.Muon) on the matrices and AdamW on the rest, or AdamW on everything."""

    def __init__(self, model, method, ns, adamw_lr=1e-3, matrix_lr=0.02, weight_decay=0.1):
        slots = roles(model)
        matrices = [(n, p) for n, r, p in slots if r == "matrix"] if method == "muon" else []
        taken = {id(p) for _, p in matrices}
        groups = {}
        for _, role, p in slots:
            if id(p) in taken:
                continue
            lr = matrix_lr if role == "matrix" else adamw_lr
            decay = weight_decay if p.dim() >= 2 else 0.0
            groups.setdefault((lr, decay), []).append(p)
        self.adamw = torch.optim.AdamW(
            [{"params": ps, "lr": lr, "weight_decay": wd} for (lr, wd), ps in groups.items()],
            betas=(0.9, 0.95), eps=1e-8)
        self.matrices = [p for _, p in matrices]
        self.muon = optim_ref.Muon([n for n, _ in matrices], [p.data for p in self.matrices],
                                   batched=True, ns=ns, lr=matrix_lr) if matrices else None
        self.summary = {r: sum(p.numel() for _, rr, p in slots if rr == r)
                        for r in sorted({r for _, r, _ in slots})}

    @torch.no_grad()
    def step(self):
        if self.muon is not None:
            self.muon.step([p.grad for p in self.matrices])
        self.adamw.step()

    def zero_grad(self):
        self.adamw.zero_grad(set_to_none=True)
        for p in self.matrices:
            p.grad = None


# ---------------------------------------------------------------- data


def batches(model_kind, batch, seq_len, device, seed=0):
    """Endless (x, y) training batches from a host pool, copied to the device per step as the
    Rust benchmark does: GUE-like spacings (mean 1) for mdn, Shakespeare bytes for gpt."""
    gen = torch.Generator().manual_seed(seed)
    if model_kind == "mdn":
        # Gamma(shape 3, rate 3): positive, mean 1, vanishing at 0 like GUE spacings; the
        # values only need the right scale, the timing does not depend on them.
        pool = torch.distributions.Gamma(3.0, 3.0).sample((batch * (seq_len + 1) * 4 + 10_000,))
    else:
        if os.path.exists(SHAKESPEARE):
            pool = torch.frombuffer(bytearray(open(SHAKESPEARE, "rb").read()), dtype=torch.uint8)
        else:
            pool = torch.randint(0, GPT_VOCAB, (1_000_000,), generator=gen, dtype=torch.uint8)
        pool = pool.long()
    n_starts = pool.numel() - seq_len - 1
    while True:
        starts = torch.randint(0, n_starts, (batch,), generator=gen)
        windows = pool[starts[:, None] + torch.arange(seq_len + 1)]  # [B, T+1]
        windows = windows.to(device, non_blocking=True)
        yield windows[:, :-1], windows[:, 1:]


# ---------------------------------------------------------------- timing


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_model(args):
    if args.model == "mdn":
        model = SpacingMdn(args.layers, args.width, args.heads, args.seq_len, args.attention)
        want = rust_mdn_param_count(args.width, args.layers)
    else:
        model = Gpt(args.layers, args.width, args.heads, args.seq_len, args.attention)
        want = rust_gpt_param_count(args.width, args.layers, args.seq_len)
    count = sum(p.numel() for p in model.parameters())
    print(f"train_ref: {args.model} {args.layers} x {args.width}, {args.heads} heads: "
          f"{count:,} parameters (Rust closed form {want:,})", file=sys.stderr)
    assert count == want, f"parameter count {count} != Rust's {want}"
    layers, width, heads, _, seq_len = DEFAULTS[args.model]
    if (args.layers, args.width, args.heads, args.seq_len) == (layers, width, heads, seq_len):
        assert count == RUST_DEFAULT_COUNTS[args.model], count
    return model, count


def run(args):
    device = torch.device(args.device)
    torch.manual_seed(0)
    # "highest" = allow_tf32 off (true f32), "high" = TF32 tensor cores for f32 matmuls.
    torch.set_float32_matmul_precision("highest" if args.precision == "f32" else "high")
    model, count = build_model(args)
    model.to(device)
    ns = (optim_ref.zeropower_via_newtonschulz5_bf16 if args.precision == "bf16"
          else optim_ref.zeropower_via_newtonschulz5)
    opt = TrainOptimizer(model, args.optimizer, ns)
    print(f"train_ref: parameters by role {opt.summary}", file=sys.stderr)
    forward = torch.compile(model) if args.compile else model
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) \
        if args.precision == "bf16" else contextlib.nullcontext
    params = list(model.parameters())
    data = batches(args.model, args.batch_size, args.seq_len, device)

    def step():
        x, y = next(data)
        with autocast():
            loss = forward(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP)
        opt.step()
        opt.zero_grad()
        return loss

    started = time.perf_counter()
    for _ in range(args.warmup):
        loss = step()
    sync(device)
    warmup_s = time.perf_counter() - started
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    sync(device)
    seconds = time.perf_counter() - t0
    mib = 1024.0 * 1024.0
    cuda = device.type == "cuda"
    return {
        "parameters": count,
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "steps": args.steps,
        "warmup": args.warmup,
        "warmup_s": warmup_s,
        "seconds": seconds,
        "steps_per_s": args.steps / seconds,
        "tokens_per_s": args.steps * args.batch_size * args.seq_len / seconds,
        "peak_memory_allocated_mib": torch.cuda.max_memory_allocated(device) / mib if cuda else None,
        "peak_memory_reserved_mib": torch.cuda.max_memory_reserved(device) / mib if cuda else None,
        "final_loss": loss.item(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="mdn", choices=["mdn", "gpt"])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--seq-len", type=int)
    parser.add_argument("--layers", type=int)
    parser.add_argument("--width", type=int)
    parser.add_argument("--heads", type=int)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--precision", default="f32", choices=["f32", "tf32", "bf16"])
    parser.add_argument("--compile", action="store_true", help="torch.compile the model")
    parser.add_argument("--optimizer", default="muon", choices=["muon", "adamw"])
    parser.add_argument("--attention", default="sdpa", choices=["sdpa", "manual"])
    parser.add_argument("--count-only", action="store_true",
                        help="build the model, check its parameter count, and stop")
    parser.add_argument("--json")
    args = parser.parse_args()
    layers, width, heads, batch, seq_len = DEFAULTS[args.model]
    args.layers = args.layers or layers
    args.width = args.width or width
    args.heads = args.heads or heads
    args.batch_size = args.batch_size or batch
    args.seq_len = args.seq_len or seq_len
    if args.count_only:
        build_model(args)
        return 0
    device = torch.device(args.device)
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else None
    label = f"{args.model} on {device}" + (f" ({gpu})" if gpu else "") + \
        f", {args.precision}{' compiled' if args.compile else ''}, {args.attention} attention"
    print(f"train_ref: {label}, batch {args.batch_size} x T {args.seq_len}, "
          f"{args.warmup} warmup + {args.steps} timed steps ...", file=sys.stderr, flush=True)
    result, error = None, None
    try:
        result = run(args)
    except Exception as e:  # torch.compile may fail on some set-ups: report it
        if not args.compile:
            raise
        error = f"{type(e).__name__}: {e}"
        print(f"train_ref: torch.compile failed: {error}", file=sys.stderr)
    if result:
        mem = result["peak_memory_allocated_mib"]
        mem = "n/a" if mem is None else f"{mem:.0f}"
        print(f"{'params':>12} {'steps/s':>10} {'tokens/s':>12} {'peak alloc MiB':>15}  run")
        print(f"{result['parameters']:>12} {result['steps_per_s']:>10.3f} "
              f"{result['tokens_per_s']:>12.0f} {mem:>15}  {label}")
    if args.json:
        report = {
            "model": args.model,
            "device": str(device),
            "gpu": gpu,
            "torch": torch.__version__,
            "precision": args.precision,
            "compile": args.compile,
            "optimizer": args.optimizer,
            "attention": args.attention,
            "threads": torch.get_num_threads(),
            "options": {"layers": args.layers, "width": args.width, "heads": args.heads},
            "result": result,
            "error": error,
        }
        folder = os.path.dirname(os.path.abspath(args.json))
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".partial") as f:
            json.dump(report, f, indent=2)
        os.replace(f.name, args.json)
        print(f"train_ref: wrote {args.json}", file=sys.stderr)
    return 0 if result else 1


if __name__ == "__main__":
    sys.exit(main())
