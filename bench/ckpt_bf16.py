#!/usr/bin/env python3
"""Shrinks a `spectral train` checkpoint to bring it back from a GPU machine: keeps the model's
parameters (`model/...`), drops the optimizer state (tensors and metadata), stores f32 tensors as bf16 (other dtypes
as they are) and keeps the metadata (step, best validation loss, config). About a quarter of
the original size. An archive: `spectral` reads f32 checkpoints only (numpy reads this one, and
torch through `safetensors`).

    python3 bench/ckpt_bf16.py RUN/best.safetensors RUN/best_model_bf16.safetensors
    python3 bench/ckpt_bf16.py --f32 RUN/best_model_bf16.safetensors /tmp/best_f32.safetensors

`--f32` widens a shrunk checkpoint back to f32 (the bf16-rounded values), model only, which
`spectral eval`, `slots` and `diagnose` load.

Reads and writes the safetensors layout directly (8-byte header length, JSON header, data), so
it needs only numpy and torch (for the bf16 rounding), no `safetensors` package."""
import json
import os
import struct
import sys

import numpy as np
import torch


def main(src, dst, widen=False):
    raw = open(src, "rb").read()
    if len(raw) < 8:
        raise ValueError(f"{src}: not a safetensors file ({len(raw)} bytes)")
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    data = raw[8 + n :]
    if not any(name.startswith("model/") for name in header):
        raise ValueError(f"{src}: no model/ tensors (not a spectral checkpoint)")
    out_header, chunks, offset = {}, [], 0
    if "__metadata__" in header:
        out_header["__metadata__"] = {k: v for k, v in header.pop("__metadata__").items()
                                      if not k.startswith("optim/")}
    for name in sorted(header):
        if not name.startswith("model/"):
            continue
        entry = header[name]
        start, end = entry["data_offsets"]
        blob, dtype = data[start:end], entry["dtype"]
        if dtype == "F32" and not widen:
            t = torch.from_numpy(np.frombuffer(blob, dtype="<f4").copy())
            blob, dtype = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes(), "BF16"
        elif dtype == "BF16" and widen:
            t = torch.from_numpy(np.frombuffer(blob, dtype="<i2").copy()).view(torch.bfloat16)
            blob, dtype = t.to(torch.float32).numpy().astype("<f4").tobytes(), "F32"
        out_header[name] = {"dtype": dtype, "shape": entry["shape"],
                            "data_offsets": [offset, offset + len(blob)]}
        chunks.append(blob)
        offset += len(blob)
    text = json.dumps(out_header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    partial = dst + ".partial"  # renamed when complete: no half-written checkpoint
    with open(partial, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))
    os.replace(partial, dst)
    print(f"ckpt_bf16: {src} ({len(raw) / 2**20:.1f} MiB) -> {dst} ({(8 + len(text) + offset) / 2**20:.1f} MiB)")


if __name__ == "__main__":
    args = sys.argv[1:]
    widen = args[:1] == ["--f32"]
    args = args[1:] if widen else args
    if len(args) != 2:
        sys.exit(__doc__)
    try:
        main(args[0], args[1], widen)
    except (OSError, ValueError, KeyError, struct.error) as error:
        sys.exit(f"ckpt_bf16: error: {error}")
