"""Val-loss vs compression ratio, plain vs whitened SVD, for the README's experiment.

Trains nothing: give it checkpoints made by
    spectral train --config configs/compress_gpt.toml
    spectral train --config configs/compress_mdn.toml
then
    python3 bench/compress_sweep.py [--bin target/release/spectral]
prints a markdown table (and writes runs/compress/sweep.json) of `spectral compress --params F`
with and without `--whiten --calib 64`, F in FRACTIONS.
"""

import argparse
import json
import pathlib
import subprocess

FRACTIONS = [0.75, 0.5, 0.3, 0.2, 0.1]
MODELS = {
    "char-GPT": "runs/compress_gpt/best.safetensors",
    "SpacingMDN": "runs/compress_mdn/best.safetensors",
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/release/spectral")
    parser.add_argument("--out", default="runs/compress")
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for model, ckpt in MODELS.items():
        for fraction in FRACTIONS:
            for whiten in (False, True):
                tag = f"{model}_{fraction}_{'w' if whiten else 'p'}"
                report = out / f"{tag}.json"
                cmd = [args.bin, "compress", "--ckpt", ckpt, "--params", str(fraction),
                       "--out", str(out / f"{tag}.safetensors"), "--json", str(report)]
                if whiten:
                    cmd += ["--whiten", "--calib", "64"]
                subprocess.run(cmd, check=True, capture_output=True)
                r = json.loads(report.read_text())
                rows.append({
                    "model": model, "fraction": fraction, "whiten": whiten,
                    "matrix_ratio": r["matrix_params_before"] / r["matrix_params_after"],
                    "model_ratio": r["model_params_before"] / r["model_params_after"],
                    "val_before": r["val_loss_before"], "val_after": r["val_loss_after"],
                })
    (out / "sweep.json").write_text(json.dumps(rows, indent=1))
    print("| model | block params kept | ratio (blocks / whole model) | val loss before | plain SVD | whitened SVD |")
    print("|---|---|---|---|---|---|")
    for model in MODELS:
        for fraction in FRACTIONS:
            p, w = (next(r for r in rows if r["model"] == model and r["fraction"] == fraction
                         and r["whiten"] == wh) for wh in (False, True))
            print(f"| {model} | {fraction:.0%} | {p['matrix_ratio']:.2f}x / {p['model_ratio']:.2f}x "
                  f"| {p['val_before']:.4f} | {p['val_after']:.4f} ({p['val_after'] - p['val_before']:+.4f}) "
                  f"| {w['val_after']:.4f} ({w['val_after'] - w['val_before']:+.4f}) |")


if __name__ == "__main__":
    main()
