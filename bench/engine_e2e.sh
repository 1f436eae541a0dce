#!/usr/bin/env bash
# End to end: the CUDA engine (one graph per step, in the config's engine_precision: bf16 for the GPT,
# tf32 for the SpacingMDN) against burn's CUDA path (f32 tensors)
# on the same configs, seeds and data: configs/gpu/engine_{mdn,gpt}.toml, 2000 steps each. Each
# run is `spectral train --engine engine|burn` into runs/engine_e2e/<model>_<engine>/
# (checkpoints stay there); its config.toml, metrics.jsonl and log are copied to
# $OUT/<model>_<engine>/, with a summary line per run in $OUT/summary.jsonl.
#
#   BIN=target/release/spectral OUT=docs/results/gpu/DATE-engine-e2e \
#       bench/engine_e2e.sh mdn:engine gpt:engine mdn:burn gpt:burn
#
# A run `model:engine:f32` (or `:tf32`, `:bf16`) sets `--engine-precision` (directory
# <model>_engine_f32); $SEED (default: the config's) sets `--seed` of every run (directories
# <model>_<engine>_seed<SEED>).
#
# With no arguments it runs all four. burn runs take $BURN_FLAGS (default: cuBLAS products in
# TF32 and the fused f32 attention, LayerNorm and GELU kernels, burn's fastest f32 setting).
# The spacings of the first 2M zeros are made once (runs/spacings_2m.f64, as the MDN config
# names). $LIMIT (seconds, default none) bounds each run; a run cut short keeps its curve.
set -uo pipefail
BIN=${BIN:-target/release/spectral}
OUT=${OUT:-runs/engine_e2e}
STEPS=${STEPS:-}
SEED=${SEED:-}
LIMIT=${LIMIT:-0}
BURN_FLAGS=${BURN_FLAGS:---matmul-gemm cublas-tf32 --attention fused --layer-norm fused --gelu fused}
RUNS_DIR=runs/engine_e2e
mkdir -p "$OUT" "$RUNS_DIR"
RUNS=("$@")
[ ${#RUNS[@]} -eq 0 ] && RUNS=(mdn:engine gpt:engine mdn:burn gpt:burn)

SPACINGS=runs/spacings_2m.f64
for run in "${RUNS[@]}"; do
    if [[ $run == mdn:* && ! -s $SPACINGS ]]; then
        "$BIN" zeros --start 1 --count 2000000 --format f64 --out runs/zeros_2m.f64 || exit 1
        "$BIN" unfold --in runs/zeros_2m.f64 --out "$SPACINGS" || exit 1
    fi
done

status=0
for run in "${RUNS[@]}"; do
    IFS=: read -r model engine precision <<< "$run"
    name="${model}_${engine}${precision:+_$precision}${SEED:+_seed$SEED}"
    dir="$RUNS_DIR/$name"
    keep="$OUT/$name"
    mkdir -p "$keep"
    extra=()
    [ -n "$STEPS" ] && extra+=(--steps "$STEPS")
    [ -n "$SEED" ] && extra+=(--seed "$SEED")
    [ -n "$precision" ] && extra+=(--engine-precision "$precision")
    # shellcheck disable=SC2206
    [ "$engine" = burn ] && extra+=($BURN_FLAGS)
    start=$(date +%s.%N)
    timeout "$LIMIT" "$BIN" train --config "configs/gpu/engine_${model}.toml" --engine "$engine" \
        --out "$dir" "${extra[@]}" 2> "$keep/train.log" > "$keep/train.out"
    rc=$?
    end=$(date +%s.%N)
    cp "$dir/config.toml" "$dir/metrics.jsonl" "$keep/" 2> /dev/null
    tail -c 3000 "$keep/train.log" | tr '\r' '\n' | grep -v '^$' | tail -4
    cat "$keep/train.out"
    [ $rc -ne 0 ] && status=1
    python3 - "$dir" "$name" "$model" "$engine" "$rc" "$start" "$end" >> "$OUT/summary.jsonl" <<'PY'
import json, sys
d, name, model, engine, rc, start, end = sys.argv[1:]
try:
    lines = [json.loads(l) for l in open(f"{d}/metrics.jsonl")]
except OSError:
    lines = []
vals = [l for l in lines if l.get("val_loss") is not None]
print(json.dumps({
    "run": name, "model": model, "engine": engine, "exit": int(rc),
    "wall_s": round(float(end) - float(start), 1),
    "steps": lines[-1]["step"] if lines else None,
    "final_val_loss": vals[-1]["val_loss"] if vals else None,
    "best_val_loss": min(v["val_loss"] for v in vals) if vals else None,
    "final_train_loss": lines[-1]["train_loss"] if lines else None,
    "tokens_per_s_last": lines[-1]["tokens_per_s"] if lines else None,
}))
PY
done
exit $status
