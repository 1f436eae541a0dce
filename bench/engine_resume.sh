#!/usr/bin/env bash
# Checkpoints of the CUDA engine and of burn resume on each other: the char-GPT of
# configs/gpu/engine_gpt.toml trains 60 steps on the engine, resumes on burn's CUDA path to 90,
# then on the engine again to 120, in one run directory. Prints the training loss around each
# hand-over (a resumed run continues the curve; a broken state would jump) and copies
# metrics.jsonl and the logs to $OUT.
#
#   BIN=target/release/spectral OUT=docs/results/gpu/DATE-engine-resume bench/engine_resume.sh
set -uo pipefail
BIN=${BIN:-target/release/spectral}
OUT=${OUT:-runs/engine_resume_out}
BURN_FLAGS=${BURN_FLAGS:---matmul-gemm cublas-tf32 --attention fused --layer-norm fused --gelu fused}
DIR=runs/engine_resume
CONFIG=configs/gpu/engine_gpt.toml
rm -rf "$DIR"
mkdir -p "$OUT"
status=0
leg() {
    local engine=$1 steps=$2 resume=$3 extra=()
    # shellcheck disable=SC2206
    [ "$engine" = burn ] && extra=($BURN_FLAGS)
    "$BIN" train --config "$CONFIG" --engine "$engine" --steps "$steps" --out "$DIR" $resume \
        "${extra[@]}" 2> "$OUT/leg_${steps}_${engine}.log" || status=1
    tail -c 600 "$OUT/leg_${steps}_${engine}.log" | tr '\r' '\n' | grep -v '^$' | tail -2
}
leg engine 60 ""
leg burn 90 --resume
leg engine 120 --resume
cp "$DIR/metrics.jsonl" "$DIR/config.toml" "$OUT/" 2> /dev/null
python3 - "$OUT/metrics.jsonl" <<'PY'
import json, sys
rows = {r["step"]: r for r in map(json.loads, open(sys.argv[1]))}
for s in (50, 60, 70, 80, 90, 100, 110, 120):
    r = rows.get(s)
    if r:
        print(f"step {s:4d}  train {r['train_loss']:.4f}  val {r.get('val_loss') or float('nan'):.4f}  grad_norm {r['grad_norm']:.3f}")
PY
exit $status
