"""Writes crates/spectral/tests/fixtures/torch_state_dict.safetensors: a tiny PyTorch-style
state_dict (nn.Linear weights [out, in], an nn.Embedding [num, dim]) whose singular values are
known by construction (W = U diag(s) V^T with orthogonal U, V from a QR), for
`spectral spectrum` and the `spectral::analyze` tests.

It needs only numpy and safetensors (`pip install numpy safetensors`); the file is exactly what
`safetensors.torch.save_file(model.state_dict(), path)` writes for these shapes (f32, names as
PyTorch gives them). The intended singular values go in the metadata (`oracle`, JSON).

    python3 bench/torch_state_dict_fixture.py
"""

import json
import pathlib

import numpy as np
from safetensors.numpy import save_file

OUT = pathlib.Path(__file__).resolve().parent.parent / "crates/spectral/tests/fixtures/torch_state_dict.safetensors"


def with_singular_values(out_features, in_features, s, rng):
    """A [out, in] matrix with singular values s (len = min(out, in))."""
    u, _ = np.linalg.qr(rng.standard_normal((out_features, len(s))))
    v, _ = np.linalg.qr(rng.standard_normal((in_features, len(s))))
    return (u * np.asarray(s)) @ v.T


def main():
    rng = np.random.default_rng(20240611)
    layers = {
        # name: (out, in, singular values)
        "mlp.fc.weight": (12, 6, [5.0, 3.0, 2.0, 1.0, 0.5, 0.25]),
        "mlp.proj.weight": (6, 12, [4.0, 4.0, 1.0, 1.0, 1.0, 0.125]),
        "head.weight": (5, 6, [2.0, 1.5, 1.0, 0.5, 0.25]),
    }
    tensors = {"tok_emb.weight": rng.standard_normal((10, 6)).astype(np.float32)}
    oracle = {}
    for name, (out_f, in_f, s) in layers.items():
        tensors[name] = with_singular_values(out_f, in_f, s, rng).astype(np.float32)
        oracle[name] = {"d_in": in_f, "d_out": out_f, "singular_values": s}
    tensors["mlp.fc.bias"] = np.zeros(12, dtype=np.float32)
    tensors["ln.weight"] = np.ones(6, dtype=np.float32)
    emb = tensors["tok_emb.weight"].astype(np.float64)
    oracle["tok_emb.weight"] = {
        "d_in": 10,
        "d_out": 6,
        "singular_values": np.linalg.svd(emb, compute_uv=False).tolist(),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(OUT), metadata={"oracle": json.dumps(oracle)})
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
