#!/usr/bin/env bash
# The CPU-size memory-bank experiments (configs/mdn_{baseline,v1,e1,e2}.toml: 2 × 64, T = 64,
# 1500 Muon steps) over several seeds, one single-threaded process per run, JOBS at a time;
# then each run's `spectral eval` and (memory runs) `spectral slots` JSON beside it, for
# `spectral report`.
#
#   BIN=target/release/spectral JOBS=12 SEEDS="0 1 2" bash bench/mdn_seeds.sh
#
# Environment: BIN, OUT (default runs/mdn_seeds), SEEDS ("0 1 2"), RUNS ("baseline v1 e1 e2"),
# JOBS (parallel runs, default the number of cores), SPACINGS (a spacing file; default: the
# first 200,000 zeros' spacings, computed here), ROLLOUTS (16), WINDOWS (16).
set -uo pipefail
BIN=${BIN:-target/release/spectral}
OUT=${OUT:-runs/mdn_seeds}
SEEDS=${SEEDS:-0 1 2}
RUNS=${RUNS:-baseline v1 e1 e2}
JOBS=${JOBS:-$(nproc)}
ROLLOUTS=${ROLLOUTS:-16}
WINDOWS=${WINDOWS:-16}
mkdir -p "$OUT"
SPACINGS=${SPACINGS:-$OUT/spacings_200k.f64}
if [ ! -f "$SPACINGS" ]; then
    "$BIN" zeros --start 1 --count 200000 --format f64 --out "$OUT/zeros.f64" || exit 1
    "$BIN" unfold --in "$OUT/zeros.f64" --out "$SPACINGS" || exit 1
    rm -f "$OUT/zeros.f64"
fi
export BIN OUT SPACINGS ROLLOUTS WINDOWS RAYON_NUM_THREADS=1
one_run() {
    local run=$1 seed=$2 dir="$OUT/$1_s$2"
    mkdir -p "$dir"
    "$BIN" train --config "configs/mdn_$run.toml" --spacings "$SPACINGS" --seed "$seed" \
        --out "$dir" > "$dir/train.log" 2>&1 || { echo "mdn_seeds: $dir failed" >&2; return; }
    "$BIN" eval --ckpt "$dir/best.safetensors" --spacings "$SPACINGS" --rollouts "$ROLLOUTS" \
        --windows "$WINDOWS" --json "$dir/eval.json" > "$dir/eval.log" 2>&1
    [ "$run" = baseline ] || "$BIN" slots --ckpt "$dir/best.safetensors" --spacings "$SPACINGS" \
        --rollouts "$ROLLOUTS" --windows "$WINDOWS" --json "$dir/slots.json" > "$dir/slots.log" 2>&1
    rm -f "$dir"/*.safetensors
    echo "mdn_seeds: $dir done"
}
export -f one_run
for seed in $SEEDS; do for run in $RUNS; do echo "$run $seed"; done; done |
    xargs -P "$JOBS" -L 1 bash -c 'one_run $0 $1'
