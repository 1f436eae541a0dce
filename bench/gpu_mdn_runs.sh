#!/usr/bin/env bash
# The memory-bank experiments (baseline, v1, E1, E2) at full size (6 × 256, 8 heads, T = 255,
# batch 128) on the spacings of the first 2M zeros, one after another on one GPU, for a fixed
# wall-time budget; each run's evaluation and slot ablation run on the GPU while the next run
# trains. (Four runs at once do not fit: burn's CUDA memory pool and autotuning grow each
# process past a quarter of an 80 GB H100 — measured, every run died allocating.)
#
#   BIN=target/cuda-bin/spectral BUDGET=330 bash bench/gpu_mdn_runs.sh
#
# The step count is the same for all four runs (equal steps is the comparison the notes make)
# and comes from the speed measured here: `spectral bench train` at the runs' batch and T gives
# r steps/s (the baseline model, no aux losses). The memory variants cost more per step: on an
# H100 with cuBLAS (450 steps, batch 128) the baseline took 52 s, v1 107 s, E1 176 s and E2
# 209 s (the memory's aux losses, E2's drift rollouts), 2.7x the baseline's time on average,
# validation included, so steps = BUDGET · r / (number of runs) / 2.7, rounded down to 50. The script prints r and the
# steps it chose; summary.json records them.
#
# Environment: BIN (default target/release/spectral), OUT (default runs/gpu_mdn), BUDGET
# (training seconds, 330), ZEROS (2000000), RUNS ("baseline v1 e1 e2"), EVAL_TIMEOUT (s, 240),
# ROLLOUTS (16), WINDOWS (64), MATMUL_GEMM and MSIGN_GEMM (the training's `--matmul-gemm` and
# `--msign-gemm`, burn; cublas-tf32 is PyTorch's TF32 precision on cuBLAS, cublas-bf16 muon.py's
# Newton–Schulz), KERNEL_FLAGS (the models' own GPU kernels, "--attention fused --layer-norm
# fused": the fastest SpacingMDN step on an H100, session 6; empty for burn's).
set -uo pipefail
BIN=${BIN:-target/release/spectral}
OUT=${OUT:-runs/gpu_mdn}
BUDGET=${BUDGET:-330}
ZEROS=${ZEROS:-2000000}
RUNS=${RUNS:-baseline v1 e1 e2}
EVAL_TIMEOUT=${EVAL_TIMEOUT:-240}
ROLLOUTS=${ROLLOUTS:-16}
WINDOWS=${WINDOWS:-64}
MATMUL_GEMM=${MATMUL_GEMM:-burn}
MSIGN_GEMM=${MSIGN_GEMM:-burn}
KERNEL_FLAGS=${KERNEL_FLAGS---attention fused --layer-norm fused}
export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}/usr/local/cuda-13.0/targets/x86_64-linux/lib
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader

SPACINGS="$OUT/spacings_2m.f64"
if [ ! -f "$SPACINGS" ]; then
    "$BIN" zeros --start 1 --count "$ZEROS" --format f64 --out "$OUT/zeros.f64" || exit 1
    "$BIN" unfold --in "$OUT/zeros.f64" --out "$SPACINGS" || exit 1
    rm -f "$OUT/zeros.f64"
fi

# shellcheck disable=SC2086 # KERNEL_FLAGS is a list of flags
"$BIN" bench train --matmul-gemm "$MATMUL_GEMM" --msign-gemm "$MSIGN_GEMM" $KERNEL_FLAGS --device cuda --batch-size 128 --seq-len 255 --steps 10 --warmup 4 \
    --json "$OUT/speed.json" || exit 1
N_RUNS=$(echo $RUNS | wc -w)
STEPS=$(python3 -c "
import json; r = json.load(open('$OUT/speed.json'))['result']['steps_per_s']
print(max(50, int($BUDGET * r / $N_RUNS / 2.7) // 50 * 50))")
echo "gpu_mdn_runs: $STEPS steps per run (budget $BUDGET s for $RUNS, one at a time)"

evaluate() {  # on the GPU beside the next run's training (on a CPU: 7+ min per run, measured)
    local run=$1 ckpt="$OUT/$1/best.safetensors"
    [ -f "$ckpt" ] || return
    timeout "$EVAL_TIMEOUT" "$BIN" eval --device cuda --ckpt "$ckpt" --spacings "$SPACINGS" \
        --rollouts "$ROLLOUTS" --windows "$WINDOWS" --json "$OUT/$run/eval.json" > "$OUT/$run/eval.log" 2>&1
    [ "$run" = baseline ] || timeout "$EVAL_TIMEOUT" "$BIN" slots --device cuda --ckpt "$ckpt" --spacings "$SPACINGS" \
        --rollouts "$ROLLOUTS" --windows "$WINDOWS" --json "$OUT/$run/slots.json" > "$OUT/$run/slots.log" 2>&1
}
for run in $RUNS; do
    mkdir -p "$OUT/$run"
    sed -e "s/^steps = .*/steps = $STEPS/" -e "s/^total_steps = .*/total_steps = $STEPS/" \
        "configs/gpu/mdn_$run.toml" > "$OUT/$run.toml"
    # shellcheck disable=SC2086 # KERNEL_FLAGS is a list of flags
    timeout $((BUDGET * 2)) "$BIN" train --matmul-gemm "$MATMUL_GEMM" --msign-gemm "$MSIGN_GEMM" $KERNEL_FLAGS --config "$OUT/$run.toml" --spacings "$SPACINGS" \
        --out "$OUT/$run" > "$OUT/$run/train.log" 2>&1
    echo "exit $?" >> "$OUT/$run/train.log"
    tail -2 "$OUT/$run/train.log"
    evaluate "$run" &
done
wait
python3 - "$OUT" "$STEPS" $RUNS <<'EOF'
import json, os, sys
out, steps, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
speed = json.load(open(f"{out}/speed.json"))
rows = {}
for run in runs:
    row = {}
    for name in ("eval", "slots"):
        path = f"{out}/{run}/{name}.json"
        if os.path.exists(path):
            row[name] = json.load(open(path))
    metrics = f"{out}/{run}/metrics.jsonl"
    if os.path.exists(metrics):
        lines = [json.loads(l) for l in open(metrics)]
        row["last_metrics"] = lines[-1]
        row["val"] = [l for l in lines if l.get("val_loss") is not None][-1:]
    rows[run] = row
json.dump({"steps": steps, "matmul_gemm": speed.get("matmul_gemm"), "speed": speed, "runs": rows}, open(f"{out}/summary.json", "w"), indent=1)
print(json.dumps({r: {k: v for k, v in rows[r].items() if k in ("val",)} for r in rows}, indent=1))
EOF
